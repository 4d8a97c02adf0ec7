"""Fuzzed poison payloads mixed with valid readings through real Kafka, the flow and QuestDB: the flow
exits 0, every bad payload is in the DLQ and the rejects table once with its reason, every valid reading
is stored."""

from __future__ import annotations

from pathlib import Path

from benchmarks.reliability import fuzz
from lifeline.settings import Settings


def test_no_poison_payload_stops_the_flow_or_goes_missing(services: Settings, tmp_path: Path) -> None:
    outcome = fuzz.run(size="ci", workdir=tmp_path, services=services)
    assert outcome.passed, outcome.problems
    counts = {name: int(value) for name, value in outcome.figures.items() if isinstance(value, int)}
    assert counts["payloads"] == fuzz.PAYLOADS["ci"]
    assert counts["dlq"] == counts["rejects_rows"] == counts["bad"] > 0.3 * fuzz.PAYLOADS["ci"]
    assert counts["readings_stored"] == counts["readings_expected"] > 0
