"""A restart after the sensor registry changed: sensor numbers follow the registry file's order, so a sensor
added, removed or moved in the file renumbers the others. A restored partition state moves every sensor's
state to its new number: each sensor goes on exactly as if nothing had changed, and a new sensor starts
afresh (before: readings of the new numbers were rejected as ``internal``, and one sensor's readings ran
through another's state, raising false pressure drops)."""

from __future__ import annotations

import numpy as np

from lifeline.codec import encode
from lifeline.flows.batch import RawBatch
from lifeline.flows.dataflow import dump_snapshot, load_snapshot, make_detectors
from lifeline.flows.stages import PartitionOutput, PartitionStage, PartitionState, registry_key
from lifeline.flows.validate import SensorIndex, ValidationLimits
from lifeline.models import Reading, SensorKind, SensorSpec
from lifeline.registry import Registry
from lifeline.settings import Settings

T0 = 1_700_000_000_000
STEP_MS = 300_000
LEVELS = {"P1": 0.30, "P2": 0.45, "P3": 0.60, "X": 0.20, "N0": 2.0}


def _spec(sensor_id: str) -> SensorSpec:
    kind = SensorKind.CH4_LEL if sensor_id == "N0" else SensorKind.WATER_PRESSURE
    return SensorSpec(sensor_id, kind, "A-" + sensor_id, "o", "d", 31.8, 117.2, group_id="G", interval_s=300.0)


def _stage(sensor_ids: list[str]) -> PartitionStage:
    registry = Registry([_spec(s) for s in sensor_ids])
    return PartitionStage(make_detectors(Settings(), registry), SensorIndex(registry), "t", limits=ValidationLimits())


def _batch(sensor_ids: list[str], first: int, steps: int, offset: int) -> RawBatch:
    noise = {s: np.random.default_rng([first, ord(s[0]), ord(s[-1])]).normal(0.0, 0.002, steps) for s in sensor_ids}
    readings = [
        Reading(s, T0 + i * STEP_MS, LEVELS[s] + float(noise[s][i - first]))
        for i in range(first, first + steps)
        for s in sensor_ids
    ]
    return RawBatch(0, [encode(r) for r in readings], list(range(offset, offset + len(readings))),
                    [r.ts for r in readings])  # fmt: skip


def _of(out: PartitionOutput, sensors: set[str]) -> tuple[list[object], list[object]]:
    stats = sorted((w.sensor_id, w.window_start, w.count, w.mean) for w in out.stats if w.sensor_id in sensors)
    findings = sorted((f.sensor_id, f.ts, f.rule) for f in out.findings if f.sensor_id in sensors)
    return stats, findings


def test_sensors_added_removed_and_moved_in_the_registry_keep_their_own_states() -> None:
    before = ["P1", "X", "P2"]
    after = ["N0", "P2", "P1", "P3"]  # one sensor added first, one removed, two swapped, one added last
    first = _stage(before)
    state = first.new_state()
    first.process(state, _batch(before, 0, 300, 0))
    snapshot = dump_snapshot(state)

    unchanged = load_snapshot(snapshot)
    expected = first.process(unchanged, _batch(before, 300, 30, 10_000))

    restored: PartitionState = load_snapshot(snapshot)
    second = _stage(after)
    got = second.process(restored, _batch(after, 300, 30, 10_000))

    assert got.rejects == []
    assert _of(got, {"P1", "P2"}) == _of(expected, {"P1", "P2"})
    assert _of(got, {"P1", "P2"})[0]  # windows were compared
    numbers = SensorIndex(second.index.registry).number
    assert {n: s.sensor_id for n, s in restored.sensors.items()} == {numbers[s]: s for s in after}
    assert len(restored.last_ts) == len(after)
    assert restored.last_ts[numbers["P1"]] == T0 + 329 * STEP_MS


def test_a_snapshot_from_before_the_registry_key_is_renumbered_only_when_the_registry_changed() -> None:
    sensors = ["P1", "P2"]
    stage = _stage(sensors)
    state = stage.new_state()
    stage.process(state, _batch(sensors, 0, 50, 0))
    state.registry_key = ""  # as written before the key existed
    data = dump_snapshot(state)
    same: PartitionState = load_snapshot(data)
    assert stage.process(same, _batch(sensors, 50, 5, 1_000)).rejects == []
    assert same.registry_key == registry_key(stage.index)  # adopted without renumbering
    assert {n: s.sensor_id for n, s in same.sensors.items()} == {0: "P1", 1: "P2"}
    moved: PartitionState = load_snapshot(data)
    _stage(["P2", "P1"]).process(moved, _batch(sensors, 50, 5, 1_000))
    assert {n: s.sensor_id for n, s in moved.sensors.items()} == {0: "P2", 1: "P1"}
