"""Per-sensor anomaly models: hand-computed expectations and behaviour on flat, stuck and spiky input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lifeline.detectors.anomaly import DailyProfile, GaussianZ, RobustZ, z_to_score_array
from lifeline.detectors.anomaly_base import score_from_z
from lifeline.detectors.anomaly_composite import CompositeScorer
from lifeline.detectors.anomaly_filter import ProtectedModel, TierFilter
from lifeline.models import Tier


def test_score_from_z_by_hand() -> None:
    # two-sided tail at z=3 is 0.0026998 → -log10 = 2.5687 → /10
    assert score_from_z(3.0) == pytest.approx(0.25687, abs=1e-4)
    assert score_from_z(-3.0) == score_from_z(3.0)
    # p = 1e-10 is a score of exactly 1: z = 6.4753
    assert score_from_z(6.4753) == pytest.approx(1.0, abs=1e-4)
    assert score_from_z(0.0) == 0.0
    assert score_from_z(math.nan) == 0.0
    assert score_from_z(1e200) == 1.0


def test_vectorised_score_matches_scalar() -> None:
    z = np.array([0.0, 0.5, 1.0, 2.5, 3.0, 4.42, 6.0, 50.0, -3.0, np.nan, np.inf])
    expected = np.array([score_from_z(float(v)) for v in z])
    assert np.allclose(z_to_score_array(z), expected, atol=1e-4)


def test_gaussian_z_by_hand() -> None:
    m = GaussianZ(alpha=0.5, grace_period=0)
    m.learn_one(0.0)
    m.learn_one(2.0)  # a = 1/2: mean 1, var = 0.5 * (0 + 0.5 * 4) = 1
    assert m.mean == pytest.approx(1.0)
    assert m.var == pytest.approx(1.0)
    assert m.score_one(4.0) == pytest.approx(0.25687, abs=1e-4)  # z = 3


def test_gaussian_batch_equals_one_by_one() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(10.0, 2.0, 500)
    x[300] = 60.0
    ts = np.arange(500, dtype=np.int64)
    a, b = GaussianZ(grace_period=20), GaussianZ(grace_period=20)
    batch = np.concatenate([a.score_batch(ts[:123], x[:123]), a.score_batch(ts[123:], x[123:])])
    single = []
    for t, v in zip(ts.tolist(), x.tolist(), strict=True):
        single.append(b.score_one(v, t))
        b.learn_one(v, t)
    assert np.allclose(batch, single, atol=1e-4)
    assert int(np.argmax(batch)) == 300
    assert (batch[:20] == 0.0).all()


def test_gaussian_spike_is_not_learned_but_level_shift_is() -> None:
    m = GaussianZ(alpha=0.05, grace_period=10)
    rng = np.random.default_rng(0)
    base = rng.normal(0.0, 1.0, 200)
    m.score_batch(np.arange(200), base)
    mean_before = m.mean
    m.learn_one(1000.0)
    # clipped to 4 sd: the mean moves by at most alpha * 4 * sd ≈ 0.2, not 50
    assert abs(m.mean - mean_before) < 0.5
    shifted = m.score_batch(np.arange(2000), np.full(2000, 20.0) + rng.normal(0.0, 1.0, 2000))
    assert shifted[0] > 0.9
    assert shifted[-1] < 0.2  # absorbed after a while


def test_flat_series_with_tiny_step_does_not_saturate() -> None:
    for model in (GaussianZ(), RobustZ(), CompositeScorer(grace_period=50)):
        x = np.full(400, 7.5)
        x[300:] += 1e-9
        s = model.score_batch(np.arange(400), x)
        assert s.max() < 0.1, type(model).__name__


def test_stuck_at_zero_then_real_jump_scores_high() -> None:
    x = np.zeros(300)
    x[250] = 5.0
    s = GaussianZ(grace_period=10).score_batch(np.arange(300), x)
    assert s[250] == 1.0
    assert s[:250].max() == 0.0


def test_robust_z_by_hand() -> None:
    m = RobustZ(window=5, grace_period=5)
    for v in (1.0, 2.0, 3.0, 4.0, 5.0):
        m.learn_one(v)
    # median 3, MAD 1 → scale 1.4826; 3 + 3 * 1.4826 is z = 3
    assert m.score_one(3.0 + 3 * 1.4826) == pytest.approx(0.25687, abs=1e-4)


def test_daily_profile_separates_day_and_night() -> None:
    hour = 3_600_000
    m = DailyProfile(utc_offset_h=8.0, min_count=3)
    for day in range(6):
        for h in range(24):
            local = (h + 8) % 24
            m.learn_one(50.0 + (local >= 8) * 50.0 + (day % 2), day * 24 * hour + h * hour)
    noon_local = 6 * 24 * hour + 4 * hour  # 04:00 UTC = 12:00 UTC+8
    night_local = 6 * 24 * hour + 18 * hour  # 18:00 UTC = 02:00 UTC+8
    assert m.score_one(100.5, noon_local) < 0.1
    assert m.score_one(100.5, night_local) > 0.9


def test_composite_detects_a_new_level_once() -> None:
    rng = np.random.default_rng(7)
    x = np.sin(np.arange(2000) / 20.0) + rng.normal(0, 0.05, 2000)
    x[1500:1510] += 6.0
    s = CompositeScorer(grace_period=300).score_batch(np.arange(2000), x)
    assert (s[:300] == 0.0).all()
    assert int(np.argmax(s)) == 1500
    assert s[1500] >= 0.9
    # repeated readings at the same new level are damped below the first one
    assert s[1501:1510].max() < s[1500]


def test_tier_filter_cuts_and_order() -> None:
    f = TierFilter(cuts=(0.9, 0.7, 0.5))
    assert f.classify(0.9) is Tier.T1
    assert f.classify(0.89) is Tier.T2
    assert f.classify(0.5) is Tier.T3
    assert f.classify(0.49) is None
    assert f.classify(math.nan) is None
    assert f.classify_batch(np.array([0.95, 0.75, 0.55, 0.1, np.nan])).tolist() == [1, 2, 3, 0, 0]
    with pytest.raises(ValueError):
        TierFilter(cuts=(0.5, 0.7, 0.9))


def test_protected_model_skips_flagged_readings() -> None:
    m = ProtectedModel(GaussianZ(grace_period=5), TierFilter())
    m.score_batch(np.arange(50), np.random.default_rng(1).normal(0, 1, 50))
    n = m.model.n
    m.score_batch(np.arange(3), np.array([500.0, 0.1, -0.2]))
    assert m.model.n == n + 2
