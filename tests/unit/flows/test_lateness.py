"""Allowed lateness: readings that arrive out of order are held back and handed to the detectors in
event-time order; a reading behind what its sensor already released is ``late``; the verdicts and
the order do not depend on how the stream was cut into batches."""

from __future__ import annotations

import random

import numpy as np

from lifeline.detectors.results import SensorResult
from lifeline.flows.batch import RawBatch
from lifeline.flows.stages import PartitionStage
from lifeline.flows.validate import SensorIndex, ValidationLimits
from lifeline.models import RejectReason, SensorKind, SensorSpec
from lifeline.registry import Registry

T = 1_720_000_000_000
S = 1000  # ms
REGISTRY = Registry([
    SensorSpec("P", SensorKind.WATER_PRESSURE, "DMA-1", "water", "d1", 31.8, 117.2, interval_s=10.0),
    SensorSpec("Q", SensorKind.WATER_PRESSURE, "DMA-1", "water", "d1", 31.8, 117.2, interval_s=10.0),
])  # fmt: skip


class SpyDetectors:
    """Records what each sensor is fed; fails the test on any reading not newer than the last."""

    def __init__(self) -> None:
        self.fed: dict[str, list[int]] = {}

    def new_sensor_state(self, sensor_id: str) -> str:
        self.fed.setdefault(sensor_id, [])
        return sensor_id

    def process_sensor(self, state: str, ts: np.ndarray, values: np.ndarray) -> SensorResult:
        seen = self.fed[state]
        for t in ts.tolist():
            assert not seen or t > seen[-1], f"{state}: {t} fed after {seen[-1]}"
            seen.append(t)
        return SensorResult([], [])

    def advance_sensor(self, state: str, watermark_ms: int) -> SensorResult:
        return SensorResult([], [])

    def screen_runs(self, *_args: object) -> None:
        return None  # no joint screening: every sensor takes its own path


def reading(sensor: str, offset_s: float) -> bytes:
    return b'{"sensor_id":"%s","ts":%d,"value":0.3}' % (sensor.encode(), T + round(offset_s * S))


def run(batches: list[list[bytes]], lateness_s: float) -> tuple[dict[str, list[float]], list[tuple[int, str]]]:
    """Feed ``batches`` to one partition, then end its input; return what each sensor was fed (seconds
    after T) and the rejects as (offset, reason)."""
    spy = SpyDetectors()
    stage = PartitionStage(spy, SensorIndex(REGISTRY), "t", limits=ValidationLimits(future_tolerance_ms=10**12),
                           allowed_lateness_ms=round(lateness_s * S))  # fmt: skip
    state = stage.new_state()
    rejects: list[tuple[int, str]] = []
    offset = 0
    for batch in batches:
        offsets = list(range(offset, offset + len(batch)))
        offset += len(batch)
        out = stage.process(state, RawBatch(0, batch, offsets, [T + 10**9] * len(batch)))
        rejects += [(r.offset, r.reason.value) for r in out.rejects]
    stage.process(state, RawBatch(0, [], [], [], idle=True, end=True))
    fed = {sensor: [(t - T) / S for t in times] for sensor, times in spy.fed.items()}
    return fed, sorted(rejects)


def test_without_allowed_lateness_an_out_of_order_reading_is_late() -> None:
    fed, rejects = run([[reading("P", 0), reading("P", 20), reading("P", 10), reading("P", 40)]], lateness_s=0)
    assert fed == {"P": [0, 20, 40]}
    assert rejects == [(2, RejectReason.LATE.value)]


def test_with_allowed_lateness_out_of_order_readings_are_reordered_not_rejected() -> None:
    batches = [[reading("P", 0), reading("P", 20), reading("P", 10), reading("P", 40)], [reading("P", 200)]]
    fed, rejects = run(batches, lateness_s=60)
    assert rejects == []
    assert fed == {"P": [0, 10, 20, 40, 200]}


def test_held_readings_wait_for_the_partition_watermark() -> None:
    spy = SpyDetectors()
    stage = PartitionStage(spy, SensorIndex(REGISTRY), "t", limits=ValidationLimits(future_tolerance_ms=10**12),
                           allowed_lateness_ms=60 * S)  # fmt: skip
    state = stage.new_state()
    stage.process(state, RawBatch(0, [reading("P", 0), reading("P", 30)], [0, 1], [T + 10**9] * 2))
    assert spy.fed.get("P", []) == []  # newest 30 s, watermark -30 s: all held
    out = stage.process(state, RawBatch(0, [reading("Q", 75)], [2], [T + 10**9]))  # another sensor moves the watermark
    assert state.watermark == T + 15 * S
    assert out.watermark == T + 15 * S - 1  # stage 2 reads it 1 ms earlier: more readings may carry that stamp
    assert [(t - T) // S for t in spy.fed["P"]] == [0]  # 0 s released, 30 s still held
    out = stage.process(state, RawBatch(0, [], [], [], idle=True, end=True))
    assert [(t - T) // S for t in spy.fed["P"]] == [0, 30] and out.watermark == T + 75 * S


def test_behind_a_released_reading_is_late_and_an_accepted_time_is_a_duplicate() -> None:
    batches = [
        [reading("P", 0), reading("P", 100)],  # watermark 40 s: 0 s released, 100 s held
        [reading("P", 30), reading("P", -10), reading("P", 0), reading("P", 100), reading("P", 30)],
    ]
    fed, rejects = run(batches, lateness_s=60)
    assert fed == {"P": [0, 30, 100]}  # 30 s is behind the newest but nothing newer was released yet
    assert rejects == [
        (3, RejectReason.LATE.value),  # -10 s: behind 0 s, already released
        (4, RejectReason.DUPLICATE.value),  # 0 s: released already
        (5, RejectReason.DUPLICATE.value),  # 100 s: held already
        (6, RejectReason.DUPLICATE.value),  # 30 s: accepted earlier in this batch
    ]


def test_verdicts_and_order_do_not_depend_on_batching() -> None:
    rng = random.Random(5)
    stream: list[bytes] = []
    for step in range(400):  # two sensors every 10 s, each message displaced by up to ±45 s
        for sensor in ("P", "Q"):
            stream.append(reading(sensor, step * 10 + rng.uniform(-45, 45)))
    stream = [m for _, m in sorted(enumerate(stream), key=lambda p: (p[0] // 2 + rng.randint(0, 6), p[0]))]
    reference = run([stream], lateness_s=30)
    late = [r for r in reference[1] if r[1] == RejectReason.LATE.value]
    strict = run([stream], lateness_s=0)
    assert 0 < len(late) < len([r for r in strict[1] if r[1] == RejectReason.LATE.value])
    for seed in range(4):
        cut = random.Random(seed)
        batches: list[list[bytes]] = []
        at = 0
        while at < len(stream):
            size = cut.randint(1, 60)
            batches.append(stream[at : at + size])
            at += size
        assert run(batches, lateness_s=30) == reference
