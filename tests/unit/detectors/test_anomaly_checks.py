"""Generic checks run over every anomaly model class (like river's ``check_estimator``) and property tests."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifeline.detectors.anomaly import DailyProfile, GaussianZ, RobustZ
from lifeline.detectors.anomaly_base import SensorModel
from lifeline.detectors.anomaly_composite import CompositeScorer
from lifeline.detectors.anomaly_filter import ProtectedModel, TierFilter

FACTORIES: dict[str, Callable[[], SensorModel]] = {
    "GaussianZ": GaussianZ,
    "RobustZ": RobustZ,
    "DailyProfile": DailyProfile,
    "CompositeScorer": CompositeScorer,
    "ProtectedModel": lambda: ProtectedModel(GaussianZ(), TierFilter()),
}
SMALL = ("GaussianZ", "RobustZ", "DailyProfile", "CompositeScorer")
HOUR = 3_600_000


def _stream(n: int = 600, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = (np.arange(n, dtype=np.int64) * 300_000) + 1_700_000_000_000
    x = 20.0 + 5.0 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0.0, 0.5, n)  # daily cycle
    x[n // 2] += 40.0
    return ts, x


@pytest.fixture(params=sorted(FACTORIES))
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_pickle_round_trip_continues_identically(name: str) -> None:
    ts, x = _stream()
    model = FACTORIES[name]()
    model.score_batch(ts[:300], x[:300])
    copy = pickle.loads(pickle.dumps(model))
    assert np.array_equal(model.score_batch(ts[300:], x[300:]), copy.score_batch(ts[300:], x[300:]))


def test_clone_has_same_params_and_scores(name: str) -> None:
    ts, x = _stream()
    model = FACTORIES[name]()
    model.score_batch(ts[:100], x[:100])  # a clone must start fresh, not from learned state
    fresh = FACTORIES[name]()
    clone = model.clone()
    assert clone._get_params() == model._get_params()
    assert np.array_equal(clone.score_batch(ts, x), fresh.score_batch(ts, x))


def test_sane_defaults(name: str) -> None:
    ts, x = _stream()
    model = FACTORIES[name]()
    assert model.score_one(1.0, 0) == 0.0  # nothing learned → no opinion
    s = model.score_batch(ts, x)
    assert s.dtype == np.float64 and s.shape == x.shape
    assert int(np.argmax(s)) == x.size // 2  # the one injected spike is the top score
    assert np.median(s) < 0.2


def test_score_one_does_not_change_state(name: str) -> None:
    ts, x = _stream()
    model = FACTORIES[name]()
    model.score_batch(ts[:300], x[:300])
    before = pickle.dumps(model)
    model.score_one(123.0, int(ts[300]))
    assert pickle.dumps(model) == before


@pytest.mark.parametrize("small", SMALL)
def test_state_is_small(small: str) -> None:
    ts, x = _stream(3000)
    model = FACTORIES[small]()
    model.score_batch(ts, x)
    assert len(pickle.dumps(model)) <= 4096


values = st.floats(allow_nan=True, allow_infinity=True, width=64)
timestamps = st.integers(min_value=-(2**40), max_value=2**42)


@settings(max_examples=40, deadline=None)
@given(data=st.lists(st.tuples(timestamps, values), min_size=1, max_size=120))
def test_any_input_scores_finite_in_unit_interval(data: list[tuple[int, float]]) -> None:
    ts = np.array([t for t, _ in data], dtype=np.int64)
    x = np.array([v for _, v in data], dtype=np.float64)
    for factory in FACTORIES.values():
        model = factory()
        for chunk in (slice(0, len(x) // 2), slice(len(x) // 2, None)):
            s = model.score_batch(ts[chunk], x[chunk])
            assert np.isfinite(s).all() and (s >= 0.0).all() and (s <= 1.0).all()
        single = model.score_one(float(x[-1]), int(ts[-1]))
        assert 0.0 <= single <= 1.0


@settings(max_examples=20, deadline=None)
@given(
    level=st.floats(min_value=-1e12, max_value=1e12),
    n=st.integers(min_value=1, max_value=200),
    ts=timestamps,
)
def test_constant_series_with_duplicate_timestamps_scores_zero(level: float, n: int, ts: int) -> None:
    x = np.full(n, level)
    t = np.full(n, ts, dtype=np.int64)  # every timestamp duplicated
    for factory in FACTORIES.values():
        assert factory().score_batch(t, x).max() == 0.0
