"""The Kafka broker SIGKILLed mid-replay and restarted (private servers): the same outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.reliability import kafka_outage

pytestmark = [pytest.mark.fault, pytest.mark.slow, pytest.mark.timeout(1800)]


def test_kafka_broker_killed_and_restarted_changes_no_output(tmp_path: Path) -> None:
    outcome = kafka_outage.run(size="ci", workdir=tmp_path)
    assert outcome.passed, "\n".join(outcome.problems)
    assert outcome.figures["outages"] == 1
    assert int(outcome.figures["alert_events"]) > 0
