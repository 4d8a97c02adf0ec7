"""The demo's result summary (``flows.demo.score_alerts``) reports each injected sensor fault as flagged or not,
with its delay, on the ``smoke`` scenario the demo runs (seed 7), replayed through the detectors in process.

The end-to-end demo on real servers (tests/integration/test_demo.py) makes the same assertions on what the
dataflow wrote to Kafka; these check them without servers, and that they fail when a fault goes unflagged."""

from __future__ import annotations

import io

from rich.console import Console

from benchmarks.bench_detector_quality import replay
from lifeline.detectors import Detectors
from lifeline.flows.demo import score_alerts
from lifeline.models import AlertEvent, AlertKind
from lifeline.simulators.scenarios import Scenario, build


def _smoke() -> tuple[Scenario, list[AlertEvent]]:
    scenario = build("smoke", seed=7)
    events, _seconds, _readings = replay(scenario, Detectors(scenario.registry))
    return scenario, events


def _summary(scenario: Scenario, events: list[AlertEvent]) -> tuple[str, dict[str, float | None], int, int]:
    table, result = score_alerts(scenario.ground_truth, events, [])
    out = io.StringIO()
    Console(file=out, width=200).print(table)
    delays = {kind: delay for _, kind, delay in result.fault_delays}
    return out.getvalue(), delays, result.faults_flagged, result.faults_high_tier


def test_both_injected_faults_of_the_demo_are_flagged_as_tier_3_with_their_delays() -> None:
    scenario, events = _smoke()
    text, delays, flagged, high = _summary(scenario, events)
    # the same assertions as the end-to-end demo test
    assert sorted(delays) == ["spike", "stuck"]
    assert delays["stuck"] is not None and 0 < delays["stuck"] <= 3600
    assert delays["spike"] is not None and 0 < delays["spike"] <= 600
    assert flagged == 2 and high == 0
    assert "not flagged" not in text and "fault T3 after" in text


def test_a_fault_without_its_alert_is_reported_not_flagged() -> None:
    scenario, events = _smoke()
    spike = next(row for row in scenario.ground_truth if row.label == "fault" and row.detail.startswith("spike"))
    without = [
        e for e in events if not (e.kind is AlertKind.SENSOR_FAULT and set(e.sensor_ids) & set(spike.sensor_ids))
    ]
    assert len(without) < len(events)
    text, delays, flagged, _high = _summary(scenario, without)
    assert delays["spike"] is None and delays["stuck"] is not None
    assert flagged == 1
    assert "not flagged" in text
