"""A partition's snapshot re-pickles only the sensors touched since the previous one, and restores exactly."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

from lifeline.detectors.state import SensorState
from lifeline.flows.batch import RawBatch
from lifeline.flows.dataflow import make_detectors
from lifeline.flows.stages import PartitionStage, PartitionState
from lifeline.flows.testing import split_into_batches
from lifeline.flows.validate import SensorIndex, ValidationLimits
from lifeline.settings import Settings
from lifeline.simulators.output import scenario_blocks
from lifeline.simulators.scenarios import build


@pytest.fixture(scope="module")
def scenario() -> Any:
    return build("storm-day", seed=7, duration_s=2 * 3600.0)


@pytest.fixture(scope="module")
def batches(scenario: Any) -> list[RawBatch]:
    messages = [
        (key, payload, t)
        for block in scenario_blocks(scenario)
        for key, payload, t in zip(block.keys, block.payloads, block.times_ms.tolist(), strict=True)
    ]
    return split_into_batches(messages, 1, [700, 90, 2500])[0]


def _stage(scenario: Any) -> PartitionStage:
    return PartitionStage(
        make_detectors(Settings(), scenario.registry), SensorIndex(scenario.registry), "t", limits=ValidationLimits()
    )


def _fresh_pickles(state: PartitionState) -> dict[int, bytes]:
    return {n: pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL) for n, s in state.sensors.items()}


def _outputs(stage: PartitionStage, state: PartitionState, batch: RawBatch) -> str:
    out = stage.process(state, batch)
    return repr((out.stats, out.findings, out.watermark))  # exact floats; NaN equals NaN


def test_restarting_from_the_snapshot_after_every_batch_changes_nothing(scenario: Any, batches: Any) -> None:
    """Every batch (sweeps and window closes of quiet sensors included) is followed by a snapshot and a restore:
    a cached pickle that missed a change would restore an old sensor state and change what follows."""
    stage = _stage(scenario)
    straight = stage.new_state()
    expected = [_outputs(stage, straight, b) for b in batches]

    resumed_stage = _stage(scenario)
    state = resumed_stage.new_state()
    got = []
    for batch in batches:
        got.append(_outputs(resumed_stage, state, batch))
        state = pickle.loads(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
    assert got == expected
    assert _fresh_pickles(state) == _fresh_pickles(straight)
    assert len(straight.sensors) > 1000


def test_a_snapshot_pickles_only_the_sensors_touched_since_the_last(
    scenario: Any, batches: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage = _stage(scenario)
    state = stage.new_state()
    for batch in batches[:-1]:
        stage.process(state, batch)
    pickle.dumps(state)

    pickled: list[str] = []
    real = SensorState.__getstate__

    def counting(self: SensorState) -> tuple[Any, ...]:
        pickled.append(self.sensor_id)
        return real(self)

    monkeypatch.setattr(SensorState, "__getstate__", counting)
    pickle.dumps(state)
    assert pickled == []  # nothing changed: nothing re-pickled

    last = batches[-1]
    stage.process(state, last)
    pickle.dumps(state)
    in_batch = set()
    for payload in last.payloads:
        try:
            in_batch.add(json.loads(payload)["sensor_id"])
        except (ValueError, KeyError, TypeError):  # the scenario's deliberately bad messages
            continue
    known = in_batch & set(scenario.registry)
    assert len(known) > 100
    assert set(pickled) >= known  # every sensor of the batch is pickled afresh
    assert len(pickled) < len(state.sensors) / 2  # and far from every sensor of the partition


def test_a_snapshot_of_the_earlier_layout_still_loads(scenario: Any, batches: Any) -> None:
    """Snapshots written before the per-sensor pickles held the sensor states themselves."""
    stage = _stage(scenario)
    state = stage.new_state()
    for batch in batches[:3]:
        stage.process(state, batch)
    earlier = {**state.__dict__}
    del earlier["_pickles"]
    restored = PartitionState.__new__(PartitionState)
    restored.__setstate__(pickle.loads(pickle.dumps(earlier, protocol=pickle.HIGHEST_PROTOCOL)))
    assert _fresh_pickles(restored) == _fresh_pickles(state)
    assert restored.watermark == state.watermark
    # and it goes on: the next snapshot pickles every sensor afresh
    assert _fresh_pickles(pickle.loads(pickle.dumps(restored))) == _fresh_pickles(state)


def test_a_sweep_that_changes_a_quiet_sensor_in_nothing_leaves_its_entry_as_it_was(scenario: Any, batches: Any) -> None:
    """Gas wells report every 15 minutes; a 5-minute sweep that finds a well quiet but neither closes its window
    nor finds it silent must not make the next snapshot pickle it again."""
    stage = _stage(scenario)
    state = stage.new_state()
    at = 0
    while state.last_sweep < 0 or at < len(batches) // 2:
        stage.process(state, batches[at])
        at += 1
    pickle.dumps(state)
    sweep_before = state.last_sweep
    named: set[str] = set()
    readers: set[str] = set()
    names = stage.index.sensor_ids
    while state.last_sweep == sweep_before:
        out = stage.process(state, batches[at])
        at += 1
        readers |= {names[n] for n in out.accepted.sensor.tolist()}
        named |= {w.sensor_id for w in out.stats} | {f.sensor_id for f in out.findings}
    touched = {names[n] for n in state.sensors if n not in state._pickles}
    assert len(state.sensors) - len(readers) > 500  # the sweep visited many sensors without a reading
    assert touched == readers | named  # those that read, or whose sweep had an outcome; no other
