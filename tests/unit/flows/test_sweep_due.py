"""The sweep visits only the sensors whose detectors have something due, and that changes no output."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from lifeline.flows.batch import RawBatch
from lifeline.flows.dataflow import make_detectors
from lifeline.flows.stages import PartitionStage
from lifeline.flows.testing import split_into_batches
from lifeline.flows.validate import SensorIndex, ValidationLimits
from lifeline.settings import Settings
from lifeline.simulators.output import scenario_blocks
from lifeline.simulators.scenarios import build


@pytest.fixture(scope="module")
def scenario() -> Any:
    # a day with dropouts: silence findings are due between a sensor's readings, not at its window ends
    return build("quiet-day-with-faults", seed=7, duration_s=6 * 3600.0)


@pytest.fixture(scope="module")
def batches(scenario: Any) -> list[RawBatch]:
    messages = [
        (key, payload, t)
        for block in scenario_blocks(scenario)
        for key, payload, t in zip(block.keys, block.payloads, block.times_ms.tolist(), strict=True)
    ]
    return split_into_batches(messages, 1, [700, 90, 2500])[0]


class _Counting:
    """The detectors, counting the sweep's visits."""

    def __init__(self, detectors: Any, *, tell_due: bool) -> None:
        self._detectors = detectors
        self.visits = 0
        # None: the stage visits every quiet sensor at every sweep, as it did before due times
        self.sweep_due_ms = detectors.sweep_due_ms if tell_due else None

    def advance_sensor(self, state: Any, watermark_ms: int) -> Any:
        self.visits += 1
        return self._detectors.advance_sensor(state, watermark_ms)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._detectors, name)


def _run(scenario: Any, batches: list[RawBatch], *, tell_due: bool) -> tuple[list[str], int]:
    detectors = _Counting(make_detectors(Settings(), scenario.registry), tell_due=tell_due)
    stage = PartitionStage(detectors, SensorIndex(scenario.registry), "t", limits=ValidationLimits())  # type: ignore[arg-type]
    state = stage.new_state()
    outputs = []
    for batch in batches:
        out = stage.process(state, batch)
        outputs.append(repr((out.stats, out.findings, out.watermark)))
    outputs.append(repr(sorted((n, pickle.dumps(s)) for n, s in state.sensors.items())))
    return outputs, detectors.visits


def test_skipping_sensors_with_nothing_due_changes_no_window_finding_or_state(scenario: Any, batches: Any) -> None:
    every, _ = _run(scenario, batches, tell_due=False)
    due_only, _ = _run(scenario, batches, tell_due=True)
    assert any("fault.silence" in out for out in every)  # the scenario exercises silence between readings
    assert due_only == every


def test_the_sweep_skips_most_visits_of_slow_sensors(scenario: Any, batches: Any) -> None:
    _, every = _run(scenario, batches, tell_due=False)
    _, due_only = _run(scenario, batches, tell_due=True)
    assert due_only < 0.7 * every, (due_only, every)
