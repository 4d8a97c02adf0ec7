"""Shared fixtures. Integration tests get real Kafka and QuestDB servers, started once per session.

The servers are started by the project's own launcher on free loopback ports with a temporary
state folder, so a developer's own running servers (default ports) are never touched, and two test
sessions on one machine do not collide. Jars come from the normal cache (fetched on first use).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lifeline.connectors.services.process import free_ports
from lifeline.settings import Settings


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Real Kafka + QuestDB for this test session; yields Settings pointing at them.

    Set ``LIFELINE_TEST_REUSE_SERVICES=1`` to use the servers described by the environment instead
    (for example ones started with ``lifeline services up``); they must already be running.
    """
    from lifeline.connectors.bootstrap import apply_schema
    from lifeline.connectors.services import manager

    if os.environ.get("LIFELINE_TEST_REUSE_SERVICES") == "1":
        settings = Settings()
        apply_schema(settings)
        yield settings
        return
    kafka, controller, http, pg, ilp, min_http = free_ports(6)
    state: Path = tmp_path_factory.mktemp("lifeline-state")
    settings = Settings(
        state_dir=state,
        kafka_port=kafka,
        kafka_controller_port=controller,
        questdb_http_port=http,
        questdb_pg_port=pg,
        questdb_ilp_port=ilp,
        questdb_min_http_port=min_http,
        kafka_heap="512m",
        questdb_heap="768m",
    )
    manager.up(settings, report=lambda _line: None)
    try:
        apply_schema(settings)
        yield settings
    finally:
        manager.down(settings, report=lambda _line: None)


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic, group and table names inside one test."""
    return uuid.uuid4().hex[:10]
