"""NAB scoring rules on hand-made cases whose expected values are computed by hand in the comments."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifeline.detectors.nab_scoring import (
    REWARD_LOW_FN,
    REWARD_LOW_FP,
    STANDARD,
    FileScoring,
    load_windows,
    optimise_threshold,
    probation_rows,
    scaled_sigmoid,
)

# One file of 1000 rows (timestamps = row numbers), probation floor(0.15*1000) = 150 rows,
# one window on rows 200..299 (L = 100).
N = 1000


def _file() -> FileScoring:
    return FileScoring.build(np.arange(N), [(200, 299)])


def _det(*rows: int) -> np.ndarray:
    d = np.zeros(N, dtype=bool)
    d[list(rows)] = True
    return d


def test_scaled_sigmoid_by_hand() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(2 / (1 + math.exp(-5)) - 1)  # 0.98661
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(1.0) == pytest.approx(2 / (1 + math.exp(5)) - 1)  # -0.98661
    assert scaled_sigmoid(1e6) == -1.0


def test_probation_rows() -> None:
    assert probation_rows(1000) == 150
    assert probation_rows(10_000) == 750  # capped


def test_detection_at_window_start_earns_about_a_tp() -> None:
    # y = -(299 - 200 + 1) / 100 = -1 → 0.98661
    assert _file().score(_det(200), STANDARD) == pytest.approx(0.98661, abs=1e-5)


def test_detection_at_window_end_earns_about_zero() -> None:
    # y = -(299 - 299 + 1) / 100 = -0.01 → 2 / (1 + e^-0.05) - 1 = 0.02499
    assert _file().score(_det(299), STANDARD) == pytest.approx(0.02499, abs=1e-5)


def test_only_first_detection_in_window_counts() -> None:
    assert _file().score(_det(250, 260, 270), STANDARD) == pytest.approx(_file().score(_det(250), STANDARD))
    # y = -(299 - 250 + 1) / 100 = -0.5 → 2 / (1 + e^-2.5) - 1 = 0.84828
    assert _file().score(_det(250), STANDARD) == pytest.approx(0.84828, abs=1e-5)


def test_false_positive_far_after_window_costs_a_fp_plus_the_miss() -> None:
    # row 999: y = (999 - 299) / 100 = 7 → sigma ≈ -1; the window is missed: -1 - 0.11
    assert _file().score(_det(999), STANDARD) == pytest.approx(-1.11, abs=1e-6)
    assert _file().score(_det(999), REWARD_LOW_FP) == pytest.approx(-1.22, abs=1e-6)
    assert _file().score(_det(999), REWARD_LOW_FN) == pytest.approx(-2.11, abs=1e-6)


def test_false_positive_just_after_window_is_nearly_free() -> None:
    # row 300: y = 1/100 → 2 / (1 + e^0.05) - 1 = -0.02499, times A_FP 0.11; plus the hit at 200
    expected = 0.98661 - 0.11 * 0.02499
    assert _file().score(_det(200, 300), STANDARD) == pytest.approx(expected, abs=1e-5)


def test_false_positive_before_any_window_costs_full_a_fp() -> None:
    assert _file().score(_det(160, 200), STANDARD) == pytest.approx(0.98661 - 0.11, abs=1e-5)


def test_detections_in_probation_are_ignored() -> None:
    assert _file().score(_det(10, 149), STANDARD) == pytest.approx(-1.0)


def test_window_located_by_timestamp_with_out_of_order_rows() -> None:
    ts = np.arange(N)
    ts[500], ts[501] = 501, 500  # a swapped pair outside the window keeps the span
    ts[250] = 1500  # a row inside the span whose timestamp is outside: still inside the span
    f = FileScoring.build(ts, [(200, 299)])
    assert f.windows == [(200, 299)]
    assert f.score(_det(200), STANDARD) == pytest.approx(0.98661, abs=1e-5)


def test_null_and_perfect_detectors_normalise_to_0_and_100() -> None:
    f = _file()
    g = FileScoring.build(np.arange(N), [(400, 449), (700, 799)])
    zeros = np.zeros(N)
    perfect_f, perfect_g = zeros.copy(), zeros.copy()
    perfect_f[200] = 1.0
    perfect_g[[400, 700]] = 1.0
    for profile in (STANDARD, REWARD_LOW_FP, REWARD_LOW_FN):
        null = optimise_threshold({"a": (f, zeros), "b": (g, zeros)}, profile)
        assert null.score == 0.0
        assert null.raw == pytest.approx(-3 * profile.a_fn)
        best = optimise_threshold({"a": (f, perfect_f), "b": (g, perfect_g)}, profile)
        assert best.score == pytest.approx(100.0)
        assert best.threshold == 1.0


def test_threshold_is_chosen_where_it_pays() -> None:
    # scores: 0.9 at the window start, 0.5 on 20 rows before the window (20 FPs at -0.11 each)
    s = np.zeros(N)
    s[200] = 0.9
    s[160:180] = 0.5
    res = optimise_threshold({"a": (_file(), s)}, STANDARD)
    assert res.threshold == 0.9
    assert res.score == pytest.approx(100.0)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_optimised_threshold_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    files = {}
    for k in range(3):
        n = int(rng.integers(200, 600))
        ts = np.arange(n)
        a = int(rng.integers(100, n - 60))
        f = FileScoring.build(ts, [(a, a + int(rng.integers(5, 50)))])
        files[str(k)] = (f, np.round(rng.random(n) ** 8, 2))
    res = optimise_threshold(files, STANDARD)
    null = sum(f.null_score(STANDARD) for f, _ in files.values())
    perfect = sum(f.perfect_score(STANDARD) for f, _ in files.values())
    candidates = np.unique(np.concatenate([s for _, s in files.values()]))
    brute = max(sum(f.score(s >= t, STANDARD) for f, s in files.values()) for t in candidates)
    brute_norm = max(0.0, 100 * (brute - null) / (perfect - null))
    assert res.score == pytest.approx(brute_norm, abs=1e-9)
    assert sum(res.per_file_raw.values()) == pytest.approx(res.raw)


def test_load_windows_parses_nab_format(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text('{"a/b.csv": [["1970-01-01 00:00:01.000000", "1970-01-01 00:00:02.000000"]], "c.csv": []}')
    assert load_windows(path) == {"a/b.csv": [(1000, 2000)], "c.csv": []}
