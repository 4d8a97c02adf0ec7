"""Range novelty on a young learned baseline: a new record of a stationary series is no anomaly (it turns up
about every n/2 windows among n), an excursion far beyond the learned range still is, and its evidence names
the learned range."""

from __future__ import annotations

import numpy as np

from lifeline.detectors.baseline_findings import evidence_text
from lifeline.detectors.config import AnomalyRules
from lifeline.detectors.results import WindowStats
from lifeline.detectors.sensor_baseline import new_baseline

WINDOW_S = 600
PER_DAY = 86_400 // WINDOW_S
RULES = AnomalyRules(utc_offset_h=0.0)


def _window(i: int, mean: float) -> WindowStats:
    return WindowStats("s", i * WINDOW_S * 1000, WINDOW_S, 2, mean, mean, mean, 0.0, 0.0, mean)


def test_records_of_stationary_sensors_in_their_first_days_are_not_anomalies() -> None:
    """30 sensors of Gaussian noise for four days: the baseline scores from day 2 on (after its 24-h warm-up), when
    each sensor still sets a new record about 2·ln(4) ≈ 2.8 times (expected records among windows n₀..n: 2·ln(n/n₀)).
    The target is 0.01 false alarms per sensor-day: about 1 in 90 sensor-days."""
    rng = np.random.default_rng(2026)
    flagged = 0
    for _ in range(30):
        model = new_baseline(config=RULES, window_s=WINDOW_S)
        for i in range(4 * PER_DAY):
            w = _window(i, 5.0 + rng.normal(0.0, 0.1))
            verdict = model.score_window(w)
            model.learn_window(w)
            flagged += bool(verdict is not None and verdict.is_anomaly)
    assert flagged <= 2


def test_an_excursion_far_beyond_a_young_range_is_still_an_anomaly_and_reads_as_range_novelty() -> None:
    rng = np.random.default_rng(7)
    model = new_baseline(config=RULES, window_s=WINDOW_S)
    values = 5.0 + rng.normal(0.0, 0.1, 2 * PER_DAY)
    for i, v in enumerate(values):
        model.score_window(_window(i, float(v)))
        model.learn_window(_window(i, float(v)))
    lo, hi = float(values.min()), float(values.max())
    drop = lo - 0.5 * (hi - lo)  # half the learned range below it (a burst, a rupture)
    verdict = model.score_window(_window(2 * PER_DAY, drop))
    assert verdict is not None and verdict.is_anomaly and verdict.view == "novelty"
    text = evidence_text(verdict, "MPa")
    assert text.startswith(f"window mean {drop:.4g} MPa below the learned range {lo:.4g}..{hi:.4g} MPa (range novelty")


def _verdict_after(days: int, excess_of_range: float, rules: AnomalyRules) -> bool:
    rng = np.random.default_rng(11)
    model = new_baseline(config=rules, window_s=WINDOW_S)
    values = 5.0 + rng.normal(0.0, 0.1, days * PER_DAY)
    for i, v in enumerate(values):
        model.score_window(_window(i, float(v)))
        model.learn_window(_window(i, float(v)))
    lo, hi = float(values.min()), float(values.max())
    verdict = model.score_window(_window(days * PER_DAY, hi + excess_of_range * (hi - lo)))
    return verdict is not None and verdict.is_anomaly


def test_the_bound_fades_on_a_mature_range() -> None:
    """After 12 days (1,728 windows, beyond ``novelty_record_mature``) a record 6 % of the range beyond it counts,
    as it did before the bound; a bound that never loosens (4 ln n at every n) would still ask for ~10 %."""
    assert _verdict_after(12, 0.06, RULES)
    never_loosens = AnomalyRules(utc_offset_h=0.0, novelty_record_mature=10**9)
    assert not _verdict_after(12, 0.06, never_loosens)
    assert _verdict_after(12, 0.06, AnomalyRules(utc_offset_h=0.0, novelty_record_decay=0.0))
