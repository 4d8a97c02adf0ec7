"""Compressed detector-state snapshots (``LIFELINE_SNAPSHOT_COMPRESSION``): smaller, and they restore the same state."""

from __future__ import annotations

import pickle
import zlib
from functools import partial
from typing import Any

import pytest

from lifeline.exceptions import SettingsError
from lifeline.flows.batch import RawBatch
from lifeline.flows.dataflow import dump_snapshot, load_snapshot, make_detectors
from lifeline.flows.local_detect import LocalDetectSource
from lifeline.flows.stages import PartitionStage, PartitionState
from lifeline.flows.testing import BatchTestingSource, split_into_batches
from lifeline.flows.validate import SensorIndex, ValidationLimits
from lifeline.settings import Settings
from lifeline.simulators.output import scenario_blocks
from lifeline.simulators.scenarios import build


@pytest.fixture(scope="module")
def scenario() -> Any:
    return build("storm-day", seed=7, duration_s=3 * 3600.0)


@pytest.fixture(scope="module")
def partitions(scenario: Any) -> list[list[RawBatch]]:
    messages = [
        (key, payload, t)
        for block in scenario_blocks(scenario)
        for key, payload, t in zip(block.keys, block.payloads, block.times_ms.tolist(), strict=True)
    ]
    return split_into_batches(messages, 1, [500])


def _stage(scenario: Any) -> PartitionStage:
    return PartitionStage(
        make_detectors(Settings(), scenario.registry), SensorIndex(scenario.registry), "t", limits=ValidationLimits()
    )


def _detect(stage: PartitionStage) -> Any:
    """The flow's per-partition step; what it yields is each batch's window statistics and findings, as text
    (repr: exact floats, and NaN equals NaN)."""

    def step(state: PartitionState | None, batch: RawBatch) -> tuple[PartitionState, str]:
        state = stage.new_state() if state is None else state
        out = stage.process(state, batch)
        return state, repr((out.stats, out.findings, out.watermark))

    return step


def _sensor_pickles(state: PartitionState) -> dict[int, bytes]:
    return {n: pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL) for n, s in state.sensors.items()}


def test_a_compressed_snapshot_restores_the_same_state_and_is_smaller(scenario: Any, partitions: Any) -> None:
    stage = _stage(scenario)
    state = stage.new_state()
    for batch in partitions[0]:
        stage.process(state, batch)
    plain = dump_snapshot(state)
    packed = dump_snapshot(state, level=1)
    assert len(packed) < 0.5 * len(plain)
    for snapshot in (plain, packed):
        restored = load_snapshot(snapshot)
        assert _sensor_pickles(restored) == _sensor_pickles(state)
        assert (restored.last_ts == state.last_ts).all() and (restored.processed_ts == state.processed_ts).all()
        assert restored.watermark == state.watermark
    # a snapshot pickled whole and zlib-compressed by the outer dump (as before the state compressed itself) loads
    assert _sensor_pickles(load_snapshot(zlib.compress(plain, 1))) == _sensor_pickles(state)


@pytest.mark.parametrize("level", [0, 1, 6])
def test_a_partition_resumed_from_its_compressed_snapshot_goes_on_as_if_never_stopped(
    scenario: Any, partitions: Any, level: int
) -> None:
    batches = partitions[0]
    half = len(batches) // 2
    dump = partial(dump_snapshot, level=level)

    def source(stage: PartitionStage) -> LocalDetectSource[Any, int]:
        return LocalDetectSource(BatchTestingSource([batches]), _detect(stage), load=load_snapshot, dump=dump)

    straight = source(_stage(scenario)).build_part("readings", "0", None)
    outputs = [straight.next_batch()[0] for _ in batches]

    first = source(_stage(scenario)).build_part("readings", "0", None)
    before = [first.next_batch()[0] for _ in range(half)]
    snapshot = first.snapshot()
    if level > 0:  # the partition state compresses its own parts
        assert len(snapshot[1]) < 0.5 * len(dump_snapshot(first._state, 0))
    resumed = source(_stage(scenario)).build_part("readings", "0", snapshot)
    after = [resumed.next_batch()[0] for _ in range(len(batches) - half)]
    assert before + after == outputs  # the same windows and findings after the restart
    assert _sensor_pickles(resumed._state) == _sensor_pickles(straight._state)


def test_the_setting_is_a_zlib_level() -> None:
    assert Settings().snapshot_compression == 1  # on: snapshots stay under 1 KiB per sensor (README, Recovery)
    assert Settings(snapshot_compression=0).snapshot_compression == 0
    assert Settings(snapshot_compression=1).snapshot_compression == 1
    with pytest.raises(SettingsError, match="LIFELINE_SNAPSHOT_COMPRESSION"):
        Settings(snapshot_compression=10)
