"""The learned baseline's score marks the onset of an anomaly: a window that continues a rise scores damped, and
the short-term likelihood that lingers after an excursion counts only ``likelihood_weight`` (0.6) of itself."""

from __future__ import annotations

import numpy as np

from lifeline.detectors.config import AnomalyRules
from lifeline.detectors.results import WindowStats
from lifeline.detectors.sensor_baseline import BaselineScore, new_baseline

WINDOW_S = 600
DAYS = 4
PER_DAY = 86_400 // WINDOW_S
RULES = AnomalyRules(utc_offset_h=0.0)


def _window(i: int, mean: float) -> WindowStats:
    return WindowStats("s", i * WINDOW_S * 1000, WINDOW_S, 2, mean, mean, mean, 0.0, 0.0, mean)


def _excursion(rules: AnomalyRules, excess_of_range: list[float], normal_after: int = 0) -> list[BaselineScore]:
    """Four days of noise around 5.0, then windows beyond the learned range (fractions of it), then normal ones."""
    rng = np.random.default_rng(5)
    model = new_baseline(config=rules, window_s=WINDOW_S)
    values = 5.0 + rng.normal(0.0, 0.1, DAYS * PER_DAY)
    for i, v in enumerate(values):
        model.score_and_learn(_window(i, float(v)))
    lo, hi = float(values.min()), float(values.max())
    means = [hi + e * (hi - lo) for e in excess_of_range] + [5.0] * normal_after
    out = []
    for i, mean in enumerate(means, start=DAYS * PER_DAY):
        verdict = model.score_and_learn(_window(i, mean))
        assert verdict is not None
        out.append(verdict)
    return out


def test_the_window_that_continues_a_rise_scores_below_its_onset() -> None:
    """20 % of the range beyond it, then 30 %: both are anomalous (the condition), but only the first is an onset;
    the second, whose raw score is a little higher, continues it (without the re-arm rule it scored in full)."""
    first, second = _excursion(RULES, [0.2, 0.3])
    assert first.is_anomaly and second.is_anomaly
    assert second.score < first.score
    rearm_off = AnomalyRules(utc_offset_h=0.0, rearm_ratio=0.0)
    first_off, second_off = _excursion(rearm_off, [0.2, 0.3])
    assert first_off.score == first.score
    assert second_off.score > first_off.score


def test_a_jump_straight_from_normal_scores_in_full() -> None:
    (jump,) = _excursion(RULES, [0.3])
    (rise_end,) = _excursion(RULES, [0.2, 0.3])[1:]
    assert jump.is_anomaly
    assert jump.score >= 2 * rise_end.score - 1e-9  # the same window: in full here, damped (× 0.5) after a rise


def test_the_likelihood_after_an_excursion_counts_at_most_its_weight() -> None:
    """The short-versus-long likelihood of raw scores lingers for ``short_window`` windows after a four-window
    excursion; at ``likelihood_weight`` 0.6 (was 1) it scores at most 0.6, damped to 0.3 below the excursion's
    peak (it scored 0.5 there, and 1.0 in full inside the excursion); at 0 it is left out."""
    after = _excursion(RULES, [0.2, 0.3, 0.4, 0.5], normal_after=5)[4:]
    # the shift view's sum of the excursion (capped a little above its threshold, held a little below it) holds
    # the condition for at most the first four windows after it; the likelihood never raises it
    longer = _excursion(RULES, [0.2, 0.3, 0.4, 0.5], normal_after=12)[4:]
    assert not any(v.is_anomaly for v in longer[4:])
    assert all(v.view == "shift" for v in longer if v.is_anomaly)
    assert max(v.score for v in after) <= 0.5 * 0.6 + 1e-9
    assert after[0].score > 0.1  # it is still there
    # left out, nothing lingers once the shift view's hold is over (while it holds, its score shows it)
    without = _excursion(AnomalyRules(utc_offset_h=0.0, likelihood_weight=0.0), [0.2, 0.3, 0.4, 0.5], normal_after=12)
    assert all(v.score < 0.05 for v in without[8:])
    assert all(v.view == "shift" for v in without[4:8] if v.score >= 0.05)
