"""Start real Kafka + QuestDB for a benchmark on free loopback ports (the project launcher)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lifeline.connectors.bootstrap import apply_schema
from lifeline.connectors.services import manager
from lifeline.connectors.services.process import free_ports
from lifeline.settings import Settings

__all__ = ["free_ports", "real_servers"]  # free_ports: for benchmarks that start servers themselves


@contextlib.contextmanager
def real_servers(**overrides: Any) -> Iterator[Settings]:
    """Kafka and QuestDB started for the duration of the block; yields Settings pointing at them."""
    kafka, controller, http, pg, ilp, min_http = free_ports(6)
    with tempfile.TemporaryDirectory(prefix="lifeline-bench-") as state:
        settings = Settings(
            state_dir=Path(state), kafka_port=kafka, kafka_controller_port=controller, questdb_http_port=http,
            questdb_pg_port=pg, questdb_ilp_port=ilp, questdb_min_http_port=min_http, metrics_port=0, **overrides,
        )  # fmt: skip
        manager.up(settings, report=lambda line: print(f"  {line}"))
        try:
            apply_schema(settings)
            yield settings
        finally:
            manager.down(settings, report=lambda _line: None)
