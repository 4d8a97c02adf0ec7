"""The stage-output counter of benchmarks/scale_inputs.py counts what the simulator sent."""

from __future__ import annotations

from benchmarks.scale_inputs import count_outputs, report
from lifeline.simulators.output import scenario_blocks
from lifeline.simulators.scenarios import build


def test_counts_match_what_the_simulator_sent() -> None:
    scenario = build("smoke", seed=7, duration_s=3600)
    sent = sum(len(block.keys) for block in scenario_blocks(scenario))
    counts = count_outputs("smoke", seed=7, duration_s=3600)
    assert counts.messages == sent
    assert counts.sensors == len(scenario.registry)
    assert counts.hours == 1.0
    assert counts.per_sensor_hour(counts.messages) == sent / len(scenario.registry)
    assert sum(counts.group_calls.values()) >= 4  # at least the end batch of each of the 4 partitions
    assert "smoke:3600" in report(counts)
