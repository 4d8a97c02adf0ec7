"""A scenario's history: the hours before its start as a deployed detector saw them, without changing the scenario."""

from __future__ import annotations

import numpy as np
import pytest

from lifeline.simulators.engine import ReadingChunk
from lifeline.simulators.scenarios import build, scenario_definition

HOUR_MS = 3_600_000


def _readings(chunks: list[ReadingChunk]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.concatenate([c.sensor_index for c in chunks]),
        np.concatenate([c.ts_ms for c in chunks]),
        np.concatenate([c.value for c in chunks]),
    )


def test_the_history_covers_whole_hours_before_the_start_and_leaves_the_scenario_unchanged() -> None:
    scenario = build("smoke", seed=5)
    before = _readings(list(scenario.chunks()))
    history = list(scenario.history(6))
    after = _readings(list(scenario.chunks()))
    sensors, ts, _ = _readings(history)
    assert [c.window_start_ms for c in history] == [scenario.start_ms - h * HOUR_MS for h in range(6, 0, -1)]
    assert ts.min() >= scenario.start_ms - 6 * HOUR_MS and ts.max() < scenario.start_ms
    assert np.all(np.diff(ts) >= 0)  # event-time order, oldest first
    assert set(sensors.tolist()) == set(before[0].tolist())  # every sensor reports in it
    for x, y in zip(before, after, strict=True):
        np.testing.assert_array_equal(x, y)


def test_the_history_has_the_conditions_begun_before_the_start_none_of_its_faults_and_joins_the_start() -> None:
    scenario = build("smoke", seed=5)
    sensors, _, values = _readings(list(scenario.history(24)))
    first = next(scenario.chunks())
    stuck = next(r for r in scenario.ground_truth if r.label == "fault" and r.detail.startswith("stuck"))
    stuck_number = scenario.sensor_ids.index(stuck.sensor_ids[0])
    assert stuck.start_ms > scenario.start_ms and np.unique(values[sensors == stuck_number][-12:]).size > 1
    leak = next(r for r in scenario.ground_truth if r.kind == "gas_leak" and r.label == "incident")
    well = scenario.sensor_ids.index(leak.sensor_ids[0])
    assert leak.start_ms == scenario.start_ms  # its plume began spreading before the start (the row is clipped) ...
    assert values[sensors == well][-1] > 10.0 > values[sensors == well][:-12].max()  # ... and shows in the last hour
    incident = {
        scenario.sensor_ids.index(s) for r in scenario.ground_truth if r.label == "incident" for s in r.sensor_ids
    }
    for number in sorted(set(np.unique(first.sensor_index).tolist()) - incident):  # the hour before meets the start
        spec = scenario.sensors[number]
        last_hour = values[sensors == number][-max(1, HOUR_MS // round(spec.interval_s * 1000)) :]
        start = first.value[first.sensor_index == number]
        spread = max(float(np.ptp(values[sensors == number])), 1e-9)
        assert abs(float(np.mean(start)) - float(np.mean(last_hour))) <= 0.5 * spread, spec.sensor_id


def test_the_noise_of_the_history_is_its_own() -> None:
    scenario = build("smoke", seed=5)
    early = next(iter(scenario.history(1)))
    first = next(scenario.chunks())
    assert not np.array_equal(early.value, first.value)


@pytest.mark.parametrize("name", ["swmm-dry", "water-net1", "water-ky4"])
def test_a_hydraulic_models_run_has_no_history(name: str) -> None:
    assert scenario_definition(name).has_history is False


def test_asking_a_hydraulic_scenario_for_its_history_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="has no history: its hydraulic model runs from its start"):
        build("swmm-dry", seed=1).history(1)
