"""The quality benchmark names every missed sensor fault with what a person needs to see why."""

from __future__ import annotations

from benchmarks.bench_detector_quality import evaluate, replay
from lifeline.detectors import Detectors
from lifeline.simulators.scenarios import build


def test_each_missed_fault_is_listed_with_its_sensor_kind_and_interval() -> None:
    scenario = build("smoke", seed=7)
    events, _seconds, _readings = replay(scenario, Detectors(scenario.registry))
    figures = evaluate(scenario, events)
    found = figures["fault_found"]
    missed = figures["missed_faults"]
    assert isinstance(found, dict) and isinstance(missed, list)
    assert len(missed) == sum(len(v) - sum(v) for v in found.values())
    faults = {row.id: row for row in scenario.ground_truth if row.label == "fault"}
    for line in missed:
        row = faults[line.split(" ")[0]]  # a ground-truth fault, by its id
        spec = scenario.registry[row.sensor_ids[0]]
        assert line.startswith(f"{row.id} {spec.sensor_id} ({spec.kind.value}, every {spec.interval_s:g} s)")
        assert line.endswith(row.detail)
