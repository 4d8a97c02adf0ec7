"""SIGKILL the flow at random moments during a replay with default settings: the same outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.reliability import kills
from lifeline.settings import Settings

pytestmark = [pytest.mark.fault, pytest.mark.slow, pytest.mark.timeout(1800)]


def test_random_sigkills_change_no_table_and_no_alert(services: Settings, tmp_path: Path) -> None:
    outcome = kills.run(size="ci", workdir=tmp_path, services=services)
    assert outcome.passed, "\n".join(outcome.problems)
    assert outcome.figures["kills"] == kills.PLANS["ci"].kills
    assert int(outcome.figures["readings"]) >= 150_000
    assert int(outcome.figures["alert_events"]) > 0
    assert int(outcome.figures["dlq_messages"]) > 0
