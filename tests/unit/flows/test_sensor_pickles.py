"""SensorPickles: segments of sensor states reused between snapshots, newest entry wins, dead space bounded."""

from __future__ import annotations

import pickle
import random

from lifeline.flows.sensor_pickles import SensorPickles


def _restore(segments: list[tuple[bytes, bytes]]) -> dict[int, object]:
    return SensorPickles.read(segments)[1]


def test_a_touched_sensor_is_written_again_and_its_newest_state_wins() -> None:
    pickles = SensorPickles(level=1)
    sensors: dict[int, object] = {n: {"n": n, "v": 0} for n in range(50)}
    first = pickles.write(sensors)
    assert len(first) == 1
    pickles.touch(7)
    sensors[7] = {"n": 7, "v": 1}
    second = pickles.write(sensors)
    assert len(second) == 2  # the first segment is reused as it is, sensor 7 in a new one
    assert second[0][1] is first[0][1]
    assert _restore(second) == sensors
    assert pickles.write(sensors)[-1][1] is second[-1][1]  # nothing touched: nothing written


def test_dead_entries_stay_bounded_under_any_mix_of_touches() -> None:
    rng = random.Random(3)
    pickles = SensorPickles(level=0, segment_sensors=32)
    sensors: dict[int, object] = {n: ("state", n, 0, "x" * 40) for n in range(400)}
    live_size = len(pickle.dumps(list(sensors.values())))
    for epoch in range(1, 300):
        for n in rng.sample(range(400), rng.choice((3, 20, 150))):
            pickles.touch(n)
            sensors[n] = ("state", n, epoch, "x" * 40)
        segments = pickles.write(sensors)
        assert _restore(segments) == sensors
        stored = sum(len(blob) for _numbers, blob in segments)
        assert stored <= 4.4 * live_size  # dead entries hold at most 3/4 (plus the framing of small segments)


def test_a_steady_trickle_of_touches_never_rewrites_the_whole_partition() -> None:
    """A live stream touches a few sensors per epoch: each snapshot writes those and at most one segment's worth
    of compacted entries, never every sensor again."""
    rng = random.Random(5)
    pickles = SensorPickles(level=0, segment_sensors=64)
    sensors: dict[int, object] = {n: (n, 0) for n in range(2000)}
    previous = pickles.write(sensors)  # kept alive, so the ids of its blobs are not reused
    most = 0
    for epoch in range(1, 3000):
        touched = rng.sample(range(2000), 3)
        for n in touched:
            pickles.touch(n)
            sensors[n] = (n, epoch)
        segments = pickles.write(sensors)
        kept = {id(blob) for _numbers, blob in previous}
        written = sum(len(numbers) // 4 for numbers, blob in segments if id(blob) not in kept)  # int32 numbers
        most = max(most, written)
        previous = segments
    assert most <= 3 + 2 * 64
    assert _restore(segments) == sensors


def test_a_new_level_rewrites_every_sensor_and_a_restored_state_goes_on() -> None:
    sensors: dict[int, object] = {n: [n] * 30 for n in range(100)}
    pickles = SensorPickles(level=0)
    raw = pickles.write(sensors)
    assert raw[0][1][:1] == pickle.PROTO
    pickles.level = 6
    packed = pickles.write(sensors)
    assert len(packed) == 1 and packed[0][1][:1] != pickle.PROTO
    assert len(packed[0][1]) < len(raw[0][1]) / 3

    restored, states = SensorPickles.read(packed, level=6)
    assert states == sensors
    restored.touch(5)
    states[5] = ["changed"]
    assert restored.stored() == 99
    assert _restore(restored.write(states)) == states
