"""The learned baseline's shift view: a small change that lasts adds up; noise that wanders or spikes does not."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

from lifeline.detectors.config import AnomalyRules
from lifeline.detectors.results import WindowStats
from lifeline.detectors.sensor_baseline import new_baseline

RULES = AnomalyRules(utc_offset_h=0.0)
OFF = dataclasses.replace(RULES, shift_weight=0.0)


def _flags(values: np.ndarray, window_s: int, rules: AnomalyRules = RULES) -> np.ndarray:
    model = new_baseline(config=rules, window_s=window_s)
    flags = np.zeros(values.size, dtype=bool)
    for i, x in enumerate(values.tolist()):
        w = WindowStats("p1", i * window_s * 1000, window_s, 1, x, x, x, 0.0, 0.0, x)
        verdict = model.score_and_learn(w)
        flags[i] = verdict is not None and verdict.is_anomaly
    return flags


def _ar1(n: int, rho: float, rng: np.random.Generator) -> np.ndarray:
    noise = rng.normal(0.0, np.sqrt(1.0 - rho * rho), n)
    out = np.empty(n)
    x = 0.0
    for i in range(n):
        x = rho * x + noise[i]
        out[i] = x
    return out


@pytest.mark.parametrize(("window_s", "seed"), [(1, 1), (1, 2), (300, 1), (300, 2)])
def test_a_lasting_shift_of_one_and_a_half_sigma_is_flagged_where_no_single_window_is(window_s: int, seed: int) -> None:
    # a test rig's 1-s rows, or 5-min windows: 2,000 normal windows, then the level 1.5 noise sigmas higher for 240
    # (20 hours of 5-min windows: not yet the new normal)
    rng = np.random.default_rng(seed)
    values = 10.0 + rng.normal(0.0, 1.0, 2_600)
    values[2_000:2_240] += 1.5
    with_view, without = _flags(values, window_s), _flags(values, window_s, OFF)
    first = int(np.argmax(with_view[2_000:2_240]))
    assert with_view[2_000:2_240].sum() >= 190 and first <= 40, (with_view[2_000:2_240].sum(), first)
    assert with_view[:2_000].sum() + with_view[2_250:].sum() <= 5  # the sums fall back within a few windows
    assert without[2_000:2_240].sum() <= 12  # what the views that judge one window at a time see of it


@pytest.mark.parametrize("seed", [1, 2])
def test_a_shift_that_stays_is_flagged_for_a_day_then_is_the_new_normal(seed: int) -> None:
    # 5-min windows: the level 1.5 noise sigmas higher from window 2,000 on, for three days
    rng = np.random.default_rng(seed)
    values = 10.0 + rng.normal(0.0, 1.0, 2_000 + 3 * 288)
    values[2_000:] += 1.5
    flags = _flags(values, 300)
    assert flags[2_040 : 2_000 + 288].mean() >= 0.8  # its first day, once the sum has added up
    assert flags[2_000 + 288 + 40 :].sum() <= 5  # then the level and the slots moved to it: nothing more


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_windows_that_wander_together_add_no_false_alarms(seed: int) -> None:
    # AR(1) noise, ρ = 0.9: a sum of such windows wanders far more than one of independent windows
    rng = np.random.default_rng(seed)
    values = 10.0 + _ar1(12_000, 0.9, rng)
    assert _flags(values, 300).sum() <= _flags(values, 300, OFF).sum() + 3


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_skewed_spiky_noise_adds_no_false_alarms(seed: int) -> None:
    # counts with bursts (a log-normal level): the upward side's moments give a smaller exponent
    rng = np.random.default_rng(seed)
    values = np.exp(rng.normal(0.0, 0.8, 12_000)) * 100.0
    assert _flags(values, 300).sum() <= _flags(values, 300, OFF).sum() + 3


def test_the_exponent_is_one_for_gaussian_increments_and_smaller_for_a_heavy_upper_tail() -> None:
    rng = np.random.default_rng(4)
    gaussian = new_baseline(config=RULES, window_s=300)
    spiky = new_baseline(config=RULES, window_s=300)
    for i, (a, b) in enumerate(zip(rng.normal(0.0, 1.0, 6_000), np.exp(rng.normal(0.0, 1.0, 6_000)), strict=True)):
        gaussian.learn_window(WindowStats("g", i * 300_000, 300, 1, a, a, a, 0.0, 0.0, a))
        spiky.learn_window(WindowStats("s", i * 300_000, 300, 1, b, b, b, 0.0, 0.0, b))
    up, down = gaussian.shift_exponents
    assert 0.8 <= up <= 1.0 and 0.8 <= down <= 1.0
    up, down = spiky.shift_exponents
    assert up < 0.7 and down >= 0.8, (up, down)


def test_a_snapshot_from_before_the_shift_view_loads_with_nothing_added_up() -> None:
    rng = np.random.default_rng(5)
    model = new_baseline(config=RULES, window_s=300)
    for i, x in enumerate((10.0 + rng.normal(0.0, 1.0, 500)).tolist()):
        model.learn_window(WindowStats("p1", i * 300_000, 300, 1, x, x, x, 0.0, 0.0, x))
    state = list(model.__getstate__())
    state[6] = np.frombuffer(state[6], dtype=np.float64)[:19].tobytes()  # the 19 scalars of before
    restored = pickle.loads(pickle.dumps(model))
    restored.__setstate__(tuple(state))
    assert restored.shift_exponents == (1.0, 1.0)  # Gaussian moments until it learns its own
    w = WindowStats("p1", 500 * 300_000, 300, 1, 10.0, 10.0, 10.0, 0.0, 0.0, 10.0)
    assert restored.score_and_learn(w) is not None


def test_shift_k_must_be_positive_while_the_view_is_on() -> None:
    with pytest.raises(ValueError, match="shift_k"):
        AnomalyRules(shift_k=0.0)
    AnomalyRules(shift_k=0.0, shift_weight=0.0)  # off: any k


def test_while_the_shift_holds_its_score_shows_it() -> None:
    # a detector ranked by its score (a threshold chosen on it) sees the shift too, not only its tier
    rng = np.random.default_rng(3)
    values = 10.0 + rng.normal(0.0, 1.0, 2_600)
    values[2_000:2_240] += 1.5
    model = new_baseline(config=RULES, window_s=1)
    scores, views = np.zeros(values.size), [""] * values.size
    for i, x in enumerate(values.tolist()):
        verdict = model.score_and_learn(WindowStats("p1", i * 1000, 1, 1, x, x, x, 0.0, 0.0, x))
        if verdict is not None:
            scores[i], views[i] = verdict.score, verdict.view if verdict.is_anomaly else ""
    held = [i for i in range(2_000, 2_240) if views[i] == "shift"]
    assert len(held) >= 150
    assert np.median(scores[held]) > 3 * np.median(scores[1_000:2_000])
    assert np.median(scores[held]) > np.quantile(scores[1_000:2_000], 0.99)
