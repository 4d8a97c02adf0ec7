"""Screening many sensors' arrays at once (:meth:`Detectors.screen_runs`) changes nothing but speed.

Two detector sets see the same batches: one processes each sensor's array on its own, the other
screens all arrays of a batch together first. After every batch their results and every sensor's
state must be identical to the last bit, through spikes, steps, repeats, saturation, window changes
and silence, and the joint path must really have been taken (and really have turned arrays away).
"""

from __future__ import annotations

import pickle
from collections import Counter

import numpy as np

from lifeline.detectors import Detectors
from lifeline.detectors.quiet import BULK_MIN
from lifeline.models import SensorKind, SensorSpec
from lifeline.registry import Registry

T0 = 1_700_000_000_000

SENSORS = [  # (id, kind, interval ms, typical level, noise)
    ("ACC-1", SensorKind.ACCELERATION, 20, 0.0, 0.005),
    ("ACC-2", SensorKind.ACCELERATION, 20, 0.0, 0.002),
    ("ACC-3", SensorKind.ACCELERATION, 10, 0.0, 0.01),
    ("STR-1", SensorKind.STRAIN, 100, 120.0, 0.5),
    ("WP-1", SensorKind.WATER_PRESSURE, 1000, 0.35, 0.002),
    ("TMP-1", SensorKind.WELL_TEMPERATURE, 500, 18.0, 0.05),
]
REGISTRY = Registry([
    SensorSpec(sid, kind, f"A-{sid}", "owner", "d", 31.8, 117.2, group_id="G", interval_s=ms / 1000)
    for sid, kind, ms, _level, _noise in SENSORS
])  # fmt: skip


def _array(rng: np.random.Generator, sensor: int, n: int) -> np.ndarray:
    """Noise around the sensor's level with, now and then, something the screens must catch."""
    _sid, kind, _ms, level, noise = SENSORS[sensor]
    values = level + rng.normal(0.0, noise, n).round(4)
    spec = REGISTRY[SENSORS[sensor][0]]
    feature = rng.integers(0, 50)  # mostly nothing: open conditions keep a sensor off the joint path
    i = int(rng.integers(0, n))
    if feature == 0:  # a spike: one sample far away, straight back
        values[i] += 40 * noise + 0.01
    elif feature == 1:  # a step that stays
        values[i:] += 30 * noise + 0.01
    elif feature == 2:  # a run of repeats, long or short
        values[i : i + int(rng.integers(2, 14))] = values[i]
    elif feature == 3:  # at the range limit
        values[i] = spec.valid_max
    elif feature == 4 and kind is SensorKind.ACCELERATION:  # above the kind's own threshold
        values[i] = 0.6
    return np.clip(values, spec.valid_min, spec.valid_max)


def test_joint_screening_gives_the_same_results_and_states_as_one_sensor_at_a_time() -> None:
    paths: Counter[str] = Counter()
    for seed in range(4):
        _replay_both_ways(np.random.default_rng(seed), paths)
    assert paths["joint"] > 400, paths
    assert paths["screened, not quiet"] > 15, paths  # the joint screens themselves turned arrays away


def _replay_both_ways(rng: np.random.Generator, paths: Counter[str]) -> None:
    alone, joint = Detectors(REGISTRY), Detectors(REGISTRY)
    states_alone = [alone.new_sensor_state(s[0]) for s in SENSORS]
    states_joint = [joint.new_sensor_state(s[0]) for s in SENSORS]
    clock = T0  # event time: every batch covers the same span for every sensor present
    next_ts = [T0] * len(SENSORS)
    for _batch in range(200):
        clock += int(rng.choice([0] * 12 + [60_000, 900_000]))  # now and then a pause: silence, windows
        span_ms = int(rng.choice([2_000, 8_000, 8_000]))
        ts_parts, value_parts, starts, stops, present = [], [], [], [], []
        for s in range(len(SENSORS)):
            if rng.random() < 0.1:  # a sensor missing from a batch
                continue
            step = SENSORS[s][2]
            begin = max(next_ts[s], clock)
            ts = np.arange(begin, clock + span_ms, step, dtype=np.int64)
            if ts.size == 0:
                continue
            next_ts[s] = int(ts[-1]) + step
            present.append(s)
            starts.append(sum(len(p) for p in ts_parts))
            ts_parts.append(ts)
            value_parts.append(_array(rng, s, ts.size))
            stops.append(starts[-1] + ts.size)
        clock += span_ms
        ts_all, values_all = np.concatenate(ts_parts), np.concatenate(value_parts)
        screened = joint.screen_runs([states_joint[s] for s in present], ts_all, values_all, starts, stops)
        paths["screened, not quiet"] += screened.screened - screened.found_quiet
        for i, s in enumerate(present):
            span = slice(starts[i], stops[i])
            expected = alone.process_sensor(states_alone[s], ts_all[span], values_all[span])
            quiet = screened.get(i)
            long_enough = stops[i] - starts[i] >= BULK_MIN
            paths["joint" if quiet is not None else ("turned away" if long_enough else "short")] += 1
            got = joint.process_sensor(states_joint[s], ts_all[span], values_all[span], quiet)
            assert pickle.dumps(got) == pickle.dumps(expected)
            assert pickle.dumps(states_joint[s]) == pickle.dumps(states_alone[s]), SENSORS[s][0]
        for s in range(len(SENSORS)):  # the watermark moves: windows close and silence is judged alike
            a = alone.advance_sensor(states_alone[s], clock - 1_000)
            b = joint.advance_sensor(states_joint[s], clock - 1_000)
            assert pickle.dumps(a) == pickle.dumps(b)
