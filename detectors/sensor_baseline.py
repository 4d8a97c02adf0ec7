"""The per-sensor learned baseline: one seasonal, robust model of a sensor's window statistics.

One :class:`SensorBaseline` per sensor, fed one closed window at a time (river style: scoring is
separate from learning and from thresholding)::

    verdict = baseline.score_window(stats)   # None while warming up; changes nothing
    baseline.learn_window(stats)             # then learn (no look-ahead)

What it models, for the window feature ``mean``:

1. **Seasonal slot** — a robust expected level per slot of local time, hour of day × (weekday,
   weekend), 48 slots in float32, and the sensor's pooled spread around its slots. A slot learns with
   an exponentially weighted, Huber-clipped update; a window whose slot z exceeds ``gate_z`` (an
   anomaly) moves its slot with only ``gate_weight`` of the usual weight, so a leak, a step or a drift
   does not become "normal" within a day (it is absorbed over weeks, if it lasts). Each slot also learns
   its own day-to-day spread (EW over ``slot_spread_days`` days of its windows, deviations counted up to
   ``gate_z`` of it, the body of a lasting anomaly at ``gate_weight``); the slot z divides by the larger
   of the pooled and the slot's spread, so an hour in which a pump or a tank switches at a different time
   each day is judged against how much it varies, a calm hour against the narrow pooled spread (on 30
   leak-free days of Net3, 40 → 13 onsets per 100 sensor-days). The slot view scores
   once its slot holds ``min_slot_days`` days of windows, counts in proportion to how much of the
   level's spread the slots explain (``seasonal_gain_*``: none for a series without a daily pattern),
   and counts a change once it has lasted ``slot_persist_windows`` windows (the smallest of the last
   slot scores), so one odd window in a noisy slot is no alarm.
2. **Short-term views** (the former ``CompositeScorer`` of ``lifeline detect``, for series without a
   seasonal pattern): an EW Gaussian z of the level, range novelty (a value beyond everything learned,
   in units of the learned range) and a short-versus-long likelihood of those raw scores.

   Range novelty is bounded by the **record probability** of a young range: among ``n`` windows of a
   series where nothing changed, a new extreme turns up with probability about ``2/n``, and the excess
   of such a record beyond the range falls off about as ``exp(-4 ln(n) · excess / range)`` (the range of
   ``n`` Gaussian windows is about ``2σ√(2 ln n)``, the tail beyond its ends decays on ``σ/√(2 ln n)``).
   The view scores no more than that probability: with the default target, a range learned over one
   day of 10-min windows flags an excess of about a quarter of itself, after four days about 15 %, and a
   range of some 10,000 windows about 3 %, as the unbounded view did. Without the bound a young range
   flagged almost every new record, and a stationary sensor sets one about every ``n/2`` windows (358
   anomaly alerts over days 2–4 of the ``gas-rupture`` scenario, 12 with it).

   The decay constant (``novelty_record_decay``, 4) grows in proportion to ``n`` beyond
   ``novelty_record_mature`` (350) windows, so the bound fades on a mature range, whose real records are
   rarely noise. Chosen on the tune half of NAB (even files) under a limit on the simulator's false
   anomalies: 350 windows gives 57.7 on the tune half (no bound: 58.0; the fixed bound: 49.3) and 20
   anomaly alerts on ``gas-rupture`` seed 7 (no bound: 358; fixed bound: 12); 250 scored 59.5 but 34.

3. **Shift view** (since the fifth session of 2026-12-07): a small change that lasts adds up where no single
   window is anomalous, on a series the slots do not judge (no daily pattern, or its slots not yet learned).
   Two one-sided CUSUMs of the level's z (clipped at ``clip_z``, less its usual bias, learned over about 130
   windows: a level that trails a steady warming is no shift) with reference value ``shift_k`` (0.5):
   ``S ← max(0, S + u - k)``. Two things keep a sum of windows honest on real series:

   - ``u`` is that z divided by ``sqrt(R)``, ``R`` (≥ 1) the variance of its EW mean over 32 windows against
     what independent z's give: windows that wander together (a daily cycle not yet learned, load, weather)
     need a larger or longer shift;
   - the tail of a CUSUM, ``P(S ≥ h) ≤ exp(-θ h)`` (Lundberg's bound), uses the θ that solves
     ``E[exp(θ (u - k))] = 1`` on the sensor's own increments (EW moments at θ = 0.25, 0.5, 1; 1 for Gaussian
     ones, smaller for a side with a heavy tail: bursts of a count, spikes).

   The view has its own threshold, the target's ideal one (the calibration, fed by the other views, would learn
   a slow shift as its own tail; a 1-s series' calibrated threshold can reach its cap of 1.0, which flags nothing),
   and enters ``score`` only while its condition holds (on the calibrated threshold's scale; its rising sums
   before that would rank normal windows up). Its sums are capped ``2 k`` above that threshold and a
   condition holds until the tail is one e-fold below it (a sum that dips for a window does not split one
   shift into several); they start again once a shift has stood for a day of windows, the level moved by the
   windows' recent offset (it learns over ``1 / value_alpha`` windows and would hold the sums up for days).
   Its moments learn at ``gate_weight`` while its sums stand at half the threshold or more.
   ``benchmarks/bench_rig.py`` (synthetic 8-channel rig logs at 1 s): per-row F1 0.00 → 0.85.

The raw score is the largest of the weighted views (each a ``score_from_z``-style number in [0, 1]).
``BaselineScore.score`` marks **onsets**: it is that score with repeats damped below a decaying recent
peak (the onset of an anomaly scores in full, its continuation half), and a window above the peak
counts as an onset only when the window before it scored below ``rearm_ratio`` (0.8) of it — otherwise
it continues a rise (the slot view's persistence, a level stepping further) and is damped too. The
short-versus-long likelihood of raw scores counts ``likelihood_weight`` (0.6) of itself, so it ranks
under the onsets of the views it follows (in full it reached 1.0 one window after most onsets and
lingered for ``short_window`` windows). ``score`` is the number to rank or to optimise a threshold on
(NAB's tune half, even files, NAB's threshold, standard / low-FP / low-FN: 57.7 / 44.0 / 64.3 before
both rules, 65.2 / 51.9 / 71.9 with them; re-arm 0.8 with the likelihood in full 59.2, left out 60.3,
at 0.55 / 0.65 / 0.75 / 0.9: 63.3 / 64.4 / 63.9 / 64.2 standard; with it at 0.6, re-arm 0.7 / 0.9 / off:
63.8 / 64.2 / 61.4).
``is_anomaly`` is the *condition*: the raw score (no damping, no likelihood) at or above the
calibrated threshold, so it stays on while the anomaly lasts and ends with it; neither rule changes it.

**Calibration.** A target of ``false_alarms_per_day`` per sensor-day is turned into a per-window tail
probability ``p = false_alarms_per_day × window_s / 86400``. For an ideally calibrated score that is
the score ``-log10(p) / 10``. The model tracks, online, the 99 % and 99.9 % quantiles of its own
raw scores (Robbins–Monro, fed by every window except those beyond the first ``calib_max_run``
of a run of flagged windows, so a lasting anomaly does not raise its own threshold): 2 and 3 decades of tail
probability. The score per decade between them is extended to the target's decades (see
:attr:`SensorBaseline.threshold`). Heavy-tailed or badly modelled sensors thus get a higher
threshold, well modelled ones the ideal one. No constant is chosen per data set.

>>> from lifeline.detectors.config import AnomalyRules
>>> from lifeline.detectors.results import WindowStats
>>> import math, random
>>> rng = random.Random(7)
>>> model = new_baseline(config=AnomalyRules(utc_offset_h=0.0), window_s=3600)
>>> def window(hour: int, mean: float) -> WindowStats:
...     return WindowStats("p1", hour * 3_600_000, 3600, 60, mean, mean, mean, 0.0, 0.0, mean)
>>> daily = lambda h: 50.0 + 5.0 * math.sin(2 * math.pi * (h % 24) / 24)
>>> for h in range(24 * 28):                       # four weeks of a daily pattern
...     w = window(h, daily(h) + rng.gauss(0, 0.2))
...     _ = model.score_window(w)                  # score first ...
...     model.learn_window(w)                      # ... then learn
>>> normal = model.score_window(window(24 * 28 + 2, daily(2)))
>>> normal.is_anomaly, normal.slot
(False, 'weekday 02:00-03:00')
>>> for h in (3, 4, 5):                             # 2.5 lower for three hours, inside the daily range
...     low = model.score_window(window(24 * 28 + h, daily(h) - 2.5))
...     model.learn_window(window(24 * 28 + h, daily(h) - 2.5))
>>> low.is_anomaly, low.z < -5, low.expected_lo > low.observed, low.slot
(True, True, True, 'weekday 05:00-06:00')
"""

from __future__ import annotations

import functools
import math
from collections.abc import MutableSequence, Sequence
from statistics import NormalDist
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from lifeline.detectors.anomaly_base import SCORE_DECADES, score_from_log_p, score_from_z
from lifeline.detectors.calendar import WEEKENDS, RestDays, day_of_ts
from lifeline.detectors.config import AnomalyRules
from lifeline.detectors.results import WindowStats

__all__ = [
    "FEATURE", "Assessment", "AssetBaseline", "BaselineScore", "SensorBaseline", "calibrated_threshold",
    "learn_quantiles", "new_baseline", "slot_label", "slot_of", "warmup_windows",
]  # fmt: skip

#: the window statistic the baseline models
FEATURE = "mean"
_MS_PER_H = 3_600_000
_DAY_TYPES = ("weekday", "weekend")
_LN10 = math.log(10.0)
_NORMAL = NormalDist()
# slot table columns: expected level, windows learned
_CENTRE, _COUNT = 0, 1
_MAD_TO_SIGMA = math.sqrt(math.pi / 2.0)

# indices of the float64 scalar vector (one array pickles smaller than a dozen attributes)
(_N, _VALUE_MEAN, _VALUE_VAR, _LO, _HI, _RECENT_SUM, _LONG_MEAN, _LONG_VAR, _LONG_N, _PEAK, _PEAK_AGE,
 _CALIB_Q2, _CALIB_Q3, _CALIB_N, _RESIDUAL, _RUN, _RESIDUAL_N, _SLOT_PREV1, _SLOT_PREV2,
 _SHIFT_UP, _SHIFT_DOWN, _Z_SMOOTH, _Z_SMOOTH_SQUARE, _Z_SQUARE) = range(24)  # fmt: skip
_MGF_UP, _MGF_DOWN = 24, 27  # three each, one per θ of ``_SHIFT_THETAS``
_SHIFT_AGE = 30  # windows in a row that the shift view's sums have stood at half its threshold or above
_OFFSET_SMOOTH = 31  # EW mean over ``_SHIFT_HORIZON`` windows of the window mean's offset from the learned level
_Z_MEAN = 32  # the usual bias of the level's z (EW, as slow as the level)
_SCALARS = 33
_LN2 = math.log(2.0)
#: the exponents θ at which the shift view tracks E[exp(θ (u - k))] of its increments, per side (each twice the one
#: before: one ``exp`` per side, then squares)
_SHIFT_THETAS = (0.25, 0.5, 1.0)
#: windows over which the shift view measures how much its z's wander together (EW weight 2 / (m + 1))
_SHIFT_HORIZON = 32
_SMOOTH_ALPHA = 2.0 / (_SHIFT_HORIZON + 1)
_SMOOTH_WHITE = _SMOOTH_ALPHA / (2.0 - _SMOOTH_ALPHA)  # E[y²] / E[z²] of that EW mean for independent z's
_BIAS_ALPHA = _SMOOTH_ALPHA / 8.0
#: the shift view's hold: a tail one e-fold above its threshold (in score units) keeps a condition on
_SHIFT_RELEASE = 1.0 / (SCORE_DECADES * _LN10)
_DEFAULT_RULES = AnomalyRules()
_ROBUST_AFTER = 20


class BaselineScore(NamedTuple):
    """What one scored window yields (``score`` for ranking, ``is_anomaly`` after the threshold)."""

    #: in [0, 1], 1 = most anomalous (repeats of an ongoing anomaly damped)
    score: float
    #: signed robust z of the window feature against its slot's expectation (the level's when the slot is cold)
    z: float
    expected_lo: float
    expected_hi: float
    observed: float
    feature: str
    #: human label of the slot, e.g. ``weekday 02:00-03:00``
    slot: str
    #: the raw score (max of the views) at or above the calibrated threshold
    is_anomaly: bool
    #: the view that gave the raw score: ``slot``, ``level`` or ``novelty`` (range novelty); ``shift`` when the shift
    #: view alone flags the window
    view: str = "slot"
    #: the learned range of window means (what range novelty compares with)
    range_lo: float = math.nan
    range_hi: float = math.nan
    #: with ``view == "shift"``: how far the window means have stood off their expected level of late (EW mean over
    #: the last 32 windows, in the feature's unit)
    shift: float = math.nan


def slot_of(window_start_ms: int, utc_offset_h: float, slot_hours: int, rest_days: RestDays = WEEKENDS) -> int:
    """The slot index of a window: local hour // ``slot_hours``, plus one day's slots on a rest day (Sat/Sun,
    and the holidays of ``rest_days``).

    >>> slot_of(0, 0.0, 1), slot_of(0, 8.0, 1)   # 1970-01-01 was a Thursday
    (0, 8)
    >>> slot_of(2 * 86_400_000, 0.0, 1)           # Saturday 00:00
    24
    >>> slot_of(0, 0.0, 1, RestDays.parse(["1970-01-01"], []))   # a Thursday holiday
    24
    """
    local_ms = window_start_ms + round(utc_offset_h * _MS_PER_H)
    hour = (local_ms // _MS_PER_H) % 24
    per_day = 24 // slot_hours
    return int(hour // slot_hours + (per_day if rest_days.is_rest(local_ms // (24 * _MS_PER_H)) else 0))


def warmup_windows(rules: AnomalyRules, window_s: float) -> int:
    """Windows a baseline learns before it scores: ``warmup_windows``, and those spanning ``warmup_hours``
    up to ``warmup_max_windows`` (so a day of 1-s rows does not silence a shorter recording).

    >>> from lifeline.detectors.config import AnomalyRules
    >>> rules = AnomalyRules()
    >>> warmup_windows(rules, 3600), warmup_windows(rules, 300), warmup_windows(rules, 60), warmup_windows(rules, 1)
    (100, 288, 750, 750)
    """
    span = math.ceil(rules.warmup_hours * 3600.0 / window_s)
    return max(rules.warmup_windows, min(span, rules.warmup_max_windows))


@functools.lru_cache(maxsize=256)
def slot_label(slot: int, slot_hours: int) -> str:
    """Words for a slot: ``weekday 02:00-03:00``.

    >>> slot_label(26, 1)
    'weekend 02:00-03:00'
    """
    per_day = 24 // slot_hours
    start = (slot % per_day) * slot_hours
    return f"{_DAY_TYPES[slot // per_day]} {start:02d}:00-{start + slot_hours:02d}:00"


def calibrated_threshold(
    ideal: float, quantiles: Sequence[float] | npt.NDArray[np.float64], rules: AnomalyRules
) -> float:
    """The ideal threshold ``ideal`` corrected by the tracked 99 % / 99.9 % ``quantiles`` of past scores
    (see :attr:`SensorBaseline.threshold`).

    >>> calibrated_threshold(0.5, np.array([0.2, 0.3]), AnomalyRules())   # ideal tail: unchanged
    0.5
    >>> calibrated_threshold(0.5, np.array([0.3, 0.5]), AnomalyRules())   # a heavier tail: higher
    0.9
    """
    q2, q3 = float(quantiles[0]), float(quantiles[1])
    slope = min(max(q3 - q2, 0.1 * rules.calib_min_ratio), 0.1 * rules.calib_max_ratio)
    decades = ideal * 10.0
    return round(min(1.0, max(q3 + (decades - 3.0) * slope, ideal * rules.calib_min_ratio)), 12)


def learn_quantiles(
    quantiles: MutableSequence[float] | npt.NDArray[np.float64], score: float, rules: AnomalyRules, at: int = 0
) -> None:
    """One Robbins–Monro step of the online 99 % and 99.9 % quantiles ``quantiles[at]``, ``quantiles[at + 1]``
    (in place)."""
    step = rules.calib_step
    quantiles[at] += step * (0.99 - (1.0 if score <= quantiles[at] else 0.0))
    quantiles[at + 1] += step * (0.999 - (1.0 if score <= quantiles[at + 1] else 0.0))


def _ideal_score(tail_p: float) -> float:
    """The score an ideally calibrated model gives to a window of tail probability ``tail_p``."""
    return score_from_log_p(math.log(max(tail_p, 1e-300)))


class _Views(NamedTuple):
    """What :meth:`SensorBaseline._views` finds for one window before it is learned."""

    raw: float  # the largest weighted view
    z: float  # signed z against the expectation used
    centre: float  # the expected level used (the slot's, else the level's)
    spread: float
    slot: int
    view: str  # which view gave ``raw``
    neighbour: int  # the adjacent slot the window's midpoint leans towards
    share: float  # that slot's share (0..0.5)
    slot_centre: float  # the slot's expected level (blended with the neighbour once both are learned)
    slot_count: float  # windows the slot has learned
    judged_z: float  # the z the verdict reports: ``z``, or the other day type's on the first day of a day type
    judged_slot: int  # the slot that z is against
    calibrated_raw: float  # the largest of the views the calibration learns from (all but the shift view)
    shift_z: float  # ``z`` clipped at ``clip_z``: what the shift view adds up
    shift_up: float  # the shift view's CUSUMs with this window added (stored when it is learned)
    shift_down: float
    shift_tail: float  # the shift view's tail score before its weight (against the ideal threshold)
    theta_up: float  # its tail exponents (see ``SensorBaseline._adjustment``)
    theta_down: float
    anomalous: bool  # the condition: a view at or above its threshold


class Assessment(NamedTuple):
    """A window scored but not yet learned (:meth:`SensorBaseline.assess`); learn it with
    :meth:`SensorBaseline.learn_assessed` before anything else changes the baseline."""

    x: float  # the window mean
    views: _Views
    threshold: float  # the calibrated threshold before the window
    verdict: BaselineScore | None  # ``None`` while warming up


class SensorBaseline:
    """Seasonal slots + short-term views of one sensor's window means; a small picklable state.

    Build it with :func:`new_baseline`. State: a float32 slot table (slots × 2: level, count; the counts
    pickled as uint16), a float32 ring of the last ``short_window`` raw scores and 33 float64 scalars (a
    list in memory: the per-window arithmetic runs on plain floats; pickled as one float64 vector); about
    0.9 KiB pickled (775 B before the shift view's 14 scalars).
    """

    __slots__ = (
        "_other_min", "_protect_windows", "_rules", "_shift_floor", "_shift_needed", "_slot_min", "_slot_now",
        "_spread_alpha", "_threshold", "_warmup", "_window_s", "recent", "scalars", "slots", "spreads",
    )  # fmt: skip

    def __init__(self, rules: AnomalyRules, window_s: int, false_alarms_per_day: float) -> None:
        """Use :func:`new_baseline`; ``false_alarms_per_day`` is the target of this sensor's kind."""
        self._rules = rules
        self._window_s = max(1, int(window_s))
        tail_p = min(0.5, false_alarms_per_day * self._window_s / 86_400.0)
        self._threshold = _ideal_score(tail_p)
        self._derive()
        self._slot_now = 0.0
        per_day = 24 // rules.slot_hours
        self.slots: npt.NDArray[np.float32] = np.zeros((2 * per_day, 2), dtype=np.float32)
        self.spreads: npt.NDArray[np.float32] = np.zeros(2 * per_day, dtype=np.float32)  # 0: not learned yet
        self.recent: npt.NDArray[np.float32] = np.zeros(max(1, rules.short_window), dtype=np.float32)
        self.scalars: list[float] = [0.0] * _SCALARS
        self.scalars[_LO], self.scalars[_HI] = math.inf, -math.inf
        self.scalars[_CALIB_Q2] = _ideal_score(1e-2)
        self.scalars[_CALIB_Q3] = _ideal_score(1e-3)
        self._start_shift_moments()

    # -- pickling: raw bytes travel smaller than arrays --------------------------------------------

    def __getstate__(self) -> tuple[Any, ...]:
        rules = None if self._rules == _DEFAULT_RULES else self._rules  # the defaults are not repeated per sensor
        # a slot's count is a whole number up to 60,000: two bytes, not a float32's four
        centres = np.ascontiguousarray(self.slots[:, _CENTRE]).tobytes()
        counts = self.slots[:, _COUNT].astype(np.uint16).tobytes()
        return (rules, self._window_s, self._threshold, centres, counts, self.recent.tobytes(),
                np.array(self.scalars, dtype=np.float64).tobytes(), self.spreads.tobytes())  # fmt: skip

    def __setstate__(self, data: tuple[Any, ...]) -> None:
        if len(data) == 6:  # before the counts were packed: (…, slot table as float32 pairs, …)
            rules, self._window_s, self._threshold, slots, recent, scalars = data
            self.slots = np.frombuffer(slots, dtype=np.float32).reshape(-1, 2).copy()
        else:
            rules, self._window_s, self._threshold, centres, counts, recent, scalars = data[:7]
            self.slots = np.column_stack(
                (np.frombuffer(centres, dtype=np.float32), np.frombuffer(counts, dtype=np.uint16).astype(np.float32))
            )
        # before the slots had spreads of their own: none learned yet (the pooled spread alone, until they are)
        if len(data) > 7:
            self.spreads = np.frombuffer(data[7], dtype=np.float32).copy()
        else:
            self.spreads = np.zeros(self.slots.shape[0], dtype=np.float32)
        self._rules = _DEFAULT_RULES if rules is None else rules
        self._derive()
        self._slot_now = 0.0
        self.recent = np.frombuffer(recent, dtype=np.float32).copy()
        self.scalars = np.frombuffer(scalars, dtype=np.float64).tolist()
        if len(self.scalars) < _SCALARS:  # a state from before the shift view: nothing added up, Gaussian moments
            self.scalars += [0.0] * (_SCALARS - len(self.scalars))
            self._start_shift_moments()

    def _start_shift_moments(self) -> None:
        """The shift view's moments as for Gaussian increments (``exp(θ²/2 - θ k)``) until it has learned its own."""
        k = self._rules.shift_k
        for side in (_MGF_UP, _MGF_DOWN):
            for i, theta in enumerate(_SHIFT_THETAS):
                self.scalars[side + i] = math.exp(0.5 * theta * theta - theta * k)

    def _derive(self) -> None:
        """Window counts that follow from the rules and the window length (not pickled)."""
        r = self._rules
        self._warmup = warmup_windows(r, self._window_s)
        per_pass = r.slot_hours * 3600.0 / self._window_s  # windows of one slot in one day
        self._slot_min = max(r.min_slot_windows, math.ceil(r.min_slot_days * per_pass))
        self._other_min = max(r.min_slot_windows, math.ceil(per_pass))  # one day: enough to excuse, not to accuse
        # a window as long as a slot or longer still comes once a day to its slot: at most 1/days, never a weight
        # above 1 (which made the spread swing wider each day until float32 overflowed, on day-long windows)
        self._spread_alpha = 1.0 / (r.slot_spread_days * max(per_pass, 1.0)) if r.slot_spread_days > 0 else 0.0
        self._protect_windows = math.ceil(86_400 / self._window_s)  # a day of windows: then a change is the new normal
        # the least evidence (θ S) any of the shift view's decisions needs: half its threshold (learning, a shift's
        # age) or its hold; θ ≤ 1, so below it no decision needs the exponents
        least = min(0.5 * self._threshold, (self._threshold - _SHIFT_RELEASE) / max(r.shift_weight, 1e-12))
        self._shift_floor = max(0.0, least * SCORE_DECADES * _LN10 + _LN2) if least > 0.0 else 0.0
        self._shift_needed = self._threshold * SCORE_DECADES * _LN10 + _LN2  # the evidence θ S at its threshold

    # -- public ------------------------------------------------------------------------------------

    @property
    def windows_learned(self) -> int:
        """How many windows this baseline has learned."""
        return int(self.scalars[_N])

    @property
    def threshold(self) -> float:
        """The calibrated threshold on the raw score: the tail of past scores extrapolated to the target.

        The online 99 % and 99.9 % quantiles of past scores are 2 and 3 decades of tail probability; the
        score per decade between them is extended to the target's ``-log10(p)`` decades. An ideally
        calibrated score has 0.1 per decade and gives the ideal threshold; the slope is bounded by
        ``calib_min_ratio`` / ``calib_max_ratio`` times 0.1.
        """
        s = self.scalars
        return calibrated_threshold(self._threshold, (s[_CALIB_Q2], s[_CALIB_Q3]), self._rules)

    @property
    def shift_exponents(self) -> tuple[float, float]:
        """The shift view's tail exponents θ (up, down): ``P(S ≥ h) ≤ exp(-θ h)`` for its CUSUMs ``S``."""
        return self._adjustment(_MGF_UP), self._adjustment(_MGF_DOWN)

    def score_window(self, stats: WindowStats, rest_days: RestDays = WEEKENDS) -> BaselineScore | None:
        """Score one closed window against what was learned before it; ``None`` while warming up.
        ``rest_days``: which days take the rest-day slots (weekends by default; the rules' holidays)."""
        x = stats.mean
        if not math.isfinite(x) or self.scalars[_N] < self._warmup:
            return None
        threshold = self.threshold
        views = self._views(x, stats.window_start, rest_days, threshold)
        likelihood = self._likelihood(views.raw)
        score = self._damped(likelihood if likelihood > views.raw else views.raw)
        return self._verdict(x, views, score, threshold)

    def learn_window(self, stats: WindowStats, rest_days: RestDays = WEEKENDS, *, held: bool = False) -> None:
        """Learn one window (call after :meth:`score_window`); also accepts rows rebuilt from ``sensor_stats``.
        ``held``: the window is anomalous for its owner (an asset's combined score) even if not on its own."""
        self.score_and_learn(stats, verdict=False, rest_days=rest_days, held=held)

    def score_and_learn(
        self, stats: WindowStats, *, verdict: bool = True, rest_days: RestDays = WEEKENDS, held: bool = False,
        anomalous_only: bool = False,
    ) -> BaselineScore | None:  # fmt: skip
        """:meth:`score_window` then :meth:`learn_window`, the views computed once (the same results);
        ``verdict=False`` only learns; ``anomalous_only``: the verdict only for an anomalous window (``None`` for
        the others, which spares building a verdict nobody reads)."""
        x = stats.mean
        if not math.isfinite(x):
            return None
        threshold = self.threshold
        views = self._views(x, stats.window_start, rest_days, threshold)
        raw = views.raw
        result = None
        warm = self.scalars[_N] >= self._warmup
        if warm:
            likelihood = self._likelihood(raw)
            score = self._damped(likelihood if likelihood > raw else raw, advance=True)
            if verdict and (not anomalous_only or views.anomalous):
                result = self._verdict(x, views, score, threshold)
        self._learn(x, views, threshold, warm, held)
        return result

    def assess(self, stats: WindowStats, rest_days: RestDays = WEEKENDS) -> Assessment | None:
        """Score a window without learning it (``None`` for a mean that is not finite, which is never learned):
        :meth:`score_window`'s verdict with what :meth:`learn_assessed` needs, so an owner that decides on
        several baselines at once (:class:`AssetBaseline`) computes each one's views once."""
        x = stats.mean
        if not math.isfinite(x):
            return None
        threshold = self.threshold
        views = self._views(x, stats.window_start, rest_days, threshold)
        verdict = None
        if self.scalars[_N] >= self._warmup:
            likelihood = self._likelihood(views.raw)
            score = self._damped(likelihood if likelihood > views.raw else views.raw)
            verdict = self._verdict(x, views, score, threshold)
        return Assessment(x, views, threshold, verdict)

    def learn_assessed(self, assessed: Assessment, *, held: bool = False) -> None:
        """Learn the window of :meth:`assess` (the baseline unchanged since): as :meth:`learn_window` would."""
        warm = assessed.verdict is not None
        if warm:
            raw = assessed.views.raw
            likelihood = self._likelihood(raw)
            self._damped(likelihood if likelihood > raw else raw, advance=True)
        self._learn(assessed.x, assessed.views, assessed.threshold, warm, held)

    # -- internals ---------------------------------------------------------------------------------

    def _verdict(self, x: float, views: _Views, score: float, threshold: float) -> BaselineScore:
        """The verdict on a window from its views, its damped score and the threshold, before it is learned."""
        tail_p = min(0.5, math.pow(10.0, -10.0 * threshold))
        half_width = _NORMAL.inv_cdf(1.0 - max(1e-12, tail_p) / 2.0) * views.spread
        return BaselineScore(
            score=score,
            z=views.judged_z,
            expected_lo=views.centre - half_width,
            expected_hi=views.centre + half_width,
            observed=x,
            feature=FEATURE,
            slot=slot_label(views.judged_slot, self._rules.slot_hours),
            is_anomaly=views.anomalous,
            view=views.view,
            range_lo=self.scalars[_LO],
            range_hi=self.scalars[_HI],
            shift=self._recent_offset(x) if views.view == "shift" else math.nan,
        )

    def _recent_offset(self, x: float) -> float:
        """The EW mean of the window means' offsets from the learned level, this window included."""
        recent = self.scalars[_OFFSET_SMOOTH]
        return recent + _SMOOTH_ALPHA * (x - self.scalars[_VALUE_MEAN] - recent)

    def _learn(self, x: float, views: _Views, threshold: float, warm: bool, held: bool = False) -> None:
        """Learn a finite window mean ``x`` whose views and threshold were computed on the current state (the
        damping peak already advanced when ``warm``). In the body of a lasting anomaly (past its first
        ``calib_max_run`` windows, for at most a day of windows) the level learns with ``gate_weight`` and the range
        stays, as the slots do: a leak or a drift does not become the new normal within a day."""
        s = self.scalars
        r = self._rules
        raw = views.raw
        if warm:
            s[_RUN] = s[_RUN] + 1 if (views.anomalous or held) else 0
            if s[_RUN] <= r.calib_max_run:  # calibration learns from all but the body of a lasting anomaly
                learn_quantiles(s, views.calibrated_raw, r, at=_CALIB_Q2)
                s[_CALIB_N] += 1
        # short-term score history
        n = int(s[_N])
        recent = self.recent
        k = recent.shape[0]
        s[_RECENT_SUM] += raw - recent.item(n % k)
        recent[n % k] = raw
        short = max(0.0, s[_RECENT_SUM]) / k
        s[_LONG_N] += 1
        a = max(r.long_alpha, 1.0 / s[_LONG_N])
        dl = short - s[_LONG_MEAN]
        s[_LONG_MEAN] += a * dl
        s[_LONG_VAR] = (1.0 - a) * (s[_LONG_VAR] + a * dl * dl)
        if r.shift_weight > 0.0:
            self._learn_shift(x, views, warm)
        body = warm and r.calib_max_run < s[_RUN] <= self._protect_windows
        self._learn_level(x, n, r.gate_weight if body else 1.0)
        self._learn_slot(x, views)
        s[_SLOT_PREV2], s[_SLOT_PREV1] = s[_SLOT_PREV1], self._slot_now
        # protect the range: while warming up or for a normal window take x, else move 10 % towards it (none in
        # the body of a lasting anomaly)
        step = 0.0 if body else 1.0 if (raw < 0.5 or not warm or n < 2) else 0.1
        if x < s[_LO]:
            s[_LO] = x if n < 2 else s[_LO] + step * (x - s[_LO])
        if x > s[_HI]:
            s[_HI] = x if n < 2 else s[_HI] + step * (x - s[_HI])
        s[_N] = n + 1

    def _learn_shift(self, x: float, views: _Views, warm: bool) -> None:
        """Keep the shift view's CUSUMs (from the end of the warm-up; capped ``2 shift_k`` above what its threshold
        needs, so a window of a lasting shift that happens to fall near the expected level does not end it) and
        learn how its z's (clipped at ``gate_z``) wander together, their bias and their moments: at ``gate_weight``
        while the sums stand at half the threshold or more (a shift that is adding up would teach that the windows
        follow each other)."""
        s = self.scalars
        r = self._rules
        ideal = self._threshold
        z = min(max(views.shift_z, -r.gate_z), r.gate_z)
        s[_Z_SMOOTH] += _SMOOTH_ALPHA * (z - s[_Z_SMOOTH])
        s[_OFFSET_SMOOTH] = self._recent_offset(x)
        adding_up = views.shift_tail >= 0.5 * ideal
        if warm:
            margin = 2.0 * r.shift_k
            s[_SHIFT_UP] = min(views.shift_up, self._shift_needed / views.theta_up + margin)
            s[_SHIFT_DOWN] = min(views.shift_down, self._shift_needed / views.theta_down + margin)
            s[_SHIFT_AGE] = s[_SHIFT_AGE] + 1 if adding_up else 0
            if s[_SHIFT_AGE] > self._protect_windows:
                self._new_normal()
        n = s[_N]
        if n < _ROBUST_AFTER:
            return
        young = 1.0 / (n - _ROBUST_AFTER + 1)
        gate = r.gate_weight if adding_up else 1.0
        a = max(r.value_alpha, young) * gate
        s[_Z_SMOOTH_SQUARE] += a * (s[_Z_SMOOTH] * s[_Z_SMOOTH] - s[_Z_SMOOTH_SQUARE])
        s[_Z_SQUARE] += a * (z * z - s[_Z_SQUARE])
        # shift_z is the clipped z less this bias, which learns over about 130 windows (4 horizons): a z that keeps
        # growing as the level trails a steady warming is no shift
        s[_Z_MEAN] += max(_BIAS_ALPHA, young) * gate * views.shift_z
        u = views.shift_z * self._shift_scale()
        k = r.shift_k
        # E[exp(θ (u - k))] per side at θ = 0.25, 0.5, 1: one exp per side, then squares
        up, down = math.exp(0.25 * (u - k)), math.exp(0.25 * (-u - k))
        s[_MGF_UP] += a * (up - s[_MGF_UP])
        s[_MGF_DOWN] += a * (down - s[_MGF_DOWN])
        up, down = up * up, down * down
        s[_MGF_UP + 1] += a * (up - s[_MGF_UP + 1])
        s[_MGF_DOWN + 1] += a * (down - s[_MGF_DOWN + 1])
        up, down = up * up, down * down
        s[_MGF_UP + 2] += a * (up - s[_MGF_UP + 2])
        s[_MGF_DOWN + 2] += a * (down - s[_MGF_DOWN + 2])

    def _new_normal(self) -> None:
        """A shift that has stood for a day of windows is the new normal: the level moves by the windows' recent
        offset from it, and the sums start again. Without it the level, which learns over about
        ``1 / value_alpha`` windows, would hold the sums up for days after a change that stays."""
        s = self.scalars
        s[_VALUE_MEAN] += s[_OFFSET_SMOOTH]
        s[_SHIFT_UP] = s[_SHIFT_DOWN] = s[_SHIFT_AGE] = s[_Z_SMOOTH] = s[_OFFSET_SMOOTH] = 0.0

    def _adjustment(self, side: int) -> float:
        """The exponent θ of one side's CUSUM tail, ``P(S ≥ h) ≤ exp(-θ h)`` (Lundberg's bound for a sum of
        independent increments with E[exp(θ (u - k))] = 1): the positive root of the learned log-moments at
        ``_SHIFT_THETAS``, found on their chords (the log-moment is convex and 0 at θ = 0, so a chord's root lies
        at or below the curve's: a conservative θ). 1.0 at most (Gaussian increments with k = 0.5); a heavy tail
        or a skew towards this side gives a smaller θ, so the view needs a larger sum."""
        s = self.scalars
        prev_theta, prev_log = 0.0, 0.0
        for i, theta in enumerate(_SHIFT_THETAS):
            log_m = math.log(max(s[side + i], 1e-300))
            if log_m > 0.0:
                if prev_theta == 0.0:
                    return 0.05 * theta  # the increments drift up: hardly any evidence in a sum
                return prev_theta + (theta - prev_theta) * -prev_log / (log_m - prev_log)
            prev_theta, prev_log = theta, log_m
        return prev_theta

    def _level_std(self) -> float:
        s = self.scalars
        floor = max(self._rules.min_abs_std, self._rules.min_rel_std * abs(s[_VALUE_MEAN]))
        return max(math.sqrt(s[_VALUE_VAR]), floor)

    def _views(self, x: float, window_start: int, rest_days: RestDays, threshold: float) -> _Views:
        """The views of a window mean ``x``: the raw score (max of the weighted views), signed z, expected
        level and spread, the slot and where it stands in it, the view that gave the raw score."""
        r = self._rules
        s = self.scalars
        level_std = self._level_std()
        level_z = (x - s[_VALUE_MEAN]) / level_std if s[_N] > 0 else 0.0
        slot, neighbour, share = self._place(window_start, rest_days)
        slot_centre, count = self._expected(slot, neighbour, share)
        self._slot_now = 0.0
        trust = 0.0
        judged_slot = slot
        if count >= self._slot_min:
            centre, spread = slot_centre, self._slot_spread(slot, slot_centre, level_std)
            z = judged_z = (x - centre) / spread
            trust = self._seasonal_trust(level_std, spread)
            slot_score = score_from_z(z) * trust
            other = self._other_day_type(slot, neighbour, window_start, rest_days)
            if other is not None and slot_score > 0.0:  # the first day of a day type: the one before may still hold
                other_centre, other_count = self._expected(other[0], other[1], share)
                if other_count >= self._other_min:
                    other_spread = self._slot_spread(other[0], other_centre, level_std)
                    other_z = (x - other_centre) / other_spread
                    other_score = score_from_z(other_z) * self._seasonal_trust(level_std, other_spread)
                    if (other_score, abs(other_z)) < (slot_score, abs(z)):  # the nearer slot when both saturate
                        centre, spread, judged_z, judged_slot = other_centre, other_spread, other_z, other[0]
                        slot_score = other_score
            slot_score = self._persistent(slot_score)
        else:
            centre, spread, z, slot_score = s[_VALUE_MEAN], level_std, level_z, 0.0
            judged_z = z
        w_level, w_novelty, w_slot = r.weights
        # the first largest of slot, level, novelty (as ``max`` picks it)
        raw, view = w_slot * slot_score, "slot"
        level_score = w_level * score_from_z(level_z)
        if level_score > raw:
            raw, view = level_score, "level"
        novelty_score = w_novelty * self._novelty(x)
        if novelty_score > raw:
            raw, view = novelty_score, "novelty"
        calibrated_raw = raw
        # a sensor whose own score tail cannot be brought to the target (the threshold capped at 1.0) flags nothing
        # on these views until its tail comes down; its scores are still reported
        anomalous = raw >= threshold and threshold < 1.0
        # the shift view adds up the level's z, less its usual bias (a level that trails a steady warming), where
        # the slots do not judge the window (a series without a daily pattern, or before its slots are learned)
        shift_z = min(max(level_z, -r.clip_z), r.clip_z) - s[_Z_MEAN]
        shift_up = shift_down = shift_tail = 0.0
        theta_up = theta_down = 1.0
        if r.shift_weight > 0.0 and s[_N] >= self._warmup and trust <= 0.0:
            shift_up, shift_down = self._shift_sums(shift_z)
            if max(shift_up, shift_down) >= self._shift_floor:  # else the tail decides nothing (θ ≤ 1)
                theta_up, theta_down = self._adjustment(_MGF_UP), self._adjustment(_MGF_DOWN)
                evidence = max(theta_up * shift_up, theta_down * shift_down)
                shift_tail = score_from_log_p(_LN2 - evidence)
                # the view has a threshold of its own, the target's ideal one: the calibration, fed by the other
                # views, would learn a slow shift as its own tail (one e-fold less while the window before was
                # anomalous: a lasting shift whose sum dips for a window stays one condition)
                shifted = r.shift_weight * shift_tail
                if shifted >= self._threshold - (_SHIFT_RELEASE if s[_RUN] > 0 else 0.0):
                    anomalous = True
                    view = view if raw >= threshold else "shift"
                    # while its condition holds, the score shows it too, on the calibrated threshold's scale
                    raw = max(raw, min(1.0, shifted * threshold / self._threshold))
        return _Views(
            raw, z, centre, spread, slot, view, neighbour, share, slot_centre, count, judged_z, judged_slot,
            calibrated_raw, shift_z, shift_up, shift_down, shift_tail, theta_up, theta_down, anomalous,
        )  # fmt: skip

    def _shift_sums(self, shift_z: float) -> tuple[float, float]:
        """The two one-sided CUSUMs (up, down) with a window of z ``shift_z`` (clipped, less its bias) added: the z is
        divided by ``sqrt(R)`` (:meth:`_shift_scale`), so a sensor whose windows wander together needs a larger or
        longer shift; ``k`` is subtracted on each side."""
        s = self.scalars
        k = self._rules.shift_k
        u = shift_z * self._shift_scale()
        return max(0.0, s[_SHIFT_UP] + u - k), max(0.0, s[_SHIFT_DOWN] - u - k)

    def _shift_scale(self) -> float:
        """``1 / sqrt(R)``, ``R`` (at least 1) the variance of the z's EW mean over ``_SHIFT_HORIZON`` windows against
        what independent z's would give: a sum over that many windows of a sensor whose windows wander together
        (a daily cycle not yet learned, weather, load) varies ``R`` times as much as one of independent windows."""
        s = self.scalars
        if s[_Z_SQUARE] <= 0.0:
            return 1.0
        ratio = s[_Z_SMOOTH_SQUARE] / (s[_Z_SQUARE] * _SMOOTH_WHITE)
        return 1.0 / math.sqrt(ratio) if ratio > 1.0 else 1.0

    def _slot_spread(self, slot: int, centre: float, level_std: float) -> float:
        """The spread a slot's z divides by: the sensor's pooled residual spread (steadier than one slot's few
        windows), widened where the slot's own day-to-day spread is larger, and floored."""
        r = self._rules
        floor = max(r.min_abs_std, r.min_rel_std * abs(centre), r.slot_floor_of_level * level_std)
        return max(self.scalars[_RESIDUAL], floor, self.spreads.item(slot))

    def _other_day_type(
        self, slot: int, neighbour: int, window_start: int, rest_days: RestDays
    ) -> tuple[int, int] | None:
        """On the first day of a day type (local time: a Monday, a Saturday, a holiday's first day, the first
        working day after it), the same slot and neighbour of the other day type; else ``None`` (or when
        ``transition_days`` is off).

        A tank or a reservoir integrates the demand of the day before, so early on a Monday the network may
        still stand as on a weekend, and early on a Saturday as on a weekday."""
        r = self._rules
        if not r.transition_days:
            return None
        if not rest_days.starts_a_day_type(day_of_ts(window_start + self._window_s * 500, r.utc_offset_h)):
            return None
        per_day = 24 // r.slot_hours
        shift = per_day if slot < per_day else -per_day
        return slot + shift, neighbour + shift

    def _persistent(self, slot_score: float) -> float:
        """The slot view counts what has lasted ``slot_persist_windows`` windows (this one included): the
        smallest of the last few slot scores. Slow, subtle changes (leaks, drift) last; one odd window in a
        noisy slot does not."""
        self._slot_now = slot_score
        k = self._rules.slot_persist_windows
        s = self.scalars
        if k >= 3:
            return min(slot_score, s[_SLOT_PREV1], s[_SLOT_PREV2])
        return min(slot_score, s[_SLOT_PREV1]) if k == 2 else slot_score

    def _seasonal_trust(self, level_std: float, spread: float) -> float:
        """How far the slot view is trusted (0..1): by how much the slots explain the level's spread.

        A series without a daily pattern (spread around the slots ≈ the level's own) gains nothing from
        slots whose few windows per slot make its z noisier; a seasonal one (``level_std / spread`` at or
        above ``seasonal_gain_full``) is scored by its slots in full.
        """
        r = self._rules
        gain = level_std / spread
        span = r.seasonal_gain_full - r.seasonal_gain_none
        return min(1.0, max(0.0, (gain - r.seasonal_gain_none) / span)) if span > 0 else 1.0

    def _novelty(self, x: float) -> float:
        """Range novelty: the excess beyond the learned range in units of ``novelty_scale`` × the range, bounded
        by the record probability of a range learned from ``n`` windows (see the module doc)."""
        s = self.scalars
        n = s[_N]
        if n < 20:
            return 0.0
        lo, hi = s[_LO], s[_HI]
        excess = max(x - hi, lo - x, 0.0)
        if excess <= 0.0:
            return 0.0
        span = hi - lo
        floor = max(1e-6, 1e-3 * max(abs(hi), abs(lo)))
        span = span if span > floor else floor
        novelty = 1.0 - math.exp(-excess / (self._rules.novelty_scale * span))
        decay = self._rules.novelty_record_decay * max(1.0, n / max(1, self._rules.novelty_record_mature))
        if decay <= 0.0:
            return novelty
        return min(novelty, score_from_log_p(math.log(2.0 / n) - decay * math.log(n) * excess / span))

    def _likelihood(self, raw: float) -> float:
        """Short-term mean of raw scores (this one included) against its long-term distribution, × its weight."""
        s = self.scalars
        k = self.recent.shape[0]
        weight = self._rules.likelihood_weight
        if s[_LONG_N] <= k or weight <= 0.0:
            return 0.0
        n = int(s[_N])
        short = max(0.0, s[_RECENT_SUM] - self.recent.item(n % k) + raw) / k
        sd = max(math.sqrt(s[_LONG_VAR]), 0.01)
        return weight * score_from_z(max(0.0, short - s[_LONG_MEAN]) / sd)

    def _damped(self, score: float, advance: bool = False) -> float:
        """Damp a score below the recent peak (held ``suppress / 2`` windows, then decaying to 0), and one above
        it that continues a rise: the previous window's raw score was already ``rearm_ratio`` of it (a continuation
        still raises the peak)."""
        r = self._rules
        s = self.scalars
        half = 0.5 * r.suppress
        age = s[_PEAK_AGE]
        level = s[_PEAK] * min(1.0, max(0.0, 2.0 - age / half)) if half > 0 else 0.0
        above = score > level
        onset = above
        if above and r.rearm_ratio > 0.0 and s[_N] > 0:
            k = self.recent.shape[0]
            previous = self.recent.item((int(s[_N]) - 1) % k)  # the last learned window's raw score
            onset = previous < r.rearm_ratio * score
        if advance:
            s[_PEAK_AGE] = age + 1
            if above:
                s[_PEAK], s[_PEAK_AGE] = score, 0
        return min(1.0, max(0.0, score if onset else score * r.damp))

    def _learn_level(self, x: float, n: int, weight: float = 1.0) -> None:
        """EW mean/variance of the level with Huber-clipped innovations (``weight``: a share of the usual rate)."""
        s = self.scalars
        r = self._rules
        if n == 0:
            s[_VALUE_MEAN] = x
            return
        a = max(r.value_alpha, 1.0 / (n + 1)) * weight
        d = x - s[_VALUE_MEAN]
        if n > 8:
            lim = r.clip_z * self._level_std()
            d = min(max(d, -lim), lim)
        s[_VALUE_MEAN] += a * d
        s[_VALUE_VAR] = (1.0 - a) * (s[_VALUE_VAR] + a * d * d)

    def _place(self, window_start: int, rest_days: RestDays) -> tuple[int, int, float]:
        """The window's slot, the adjacent slot its midpoint leans towards, and that one's share (0..0.5).

        The expected level is piecewise linear between slot midpoints, so a slope within the hour
        (a pressure ramp in the morning) is not mistaken for noise.
        """
        r = self._rules
        slot_ms = r.slot_hours * _MS_PER_H
        mid = window_start + self._window_s * 500
        slot = slot_of(mid, r.utc_offset_h, r.slot_hours, rest_days)
        local = mid + round(r.utc_offset_h * _MS_PER_H)
        frac = (local % slot_ms) / slot_ms - 0.5
        per_day = 24 // r.slot_hours
        base = slot - slot % per_day
        neighbour = base + (slot - base + (1 if frac >= 0 else -1)) % per_day
        return slot, neighbour, abs(frac)

    def _expected(self, slot: int, neighbour: int, share: float) -> tuple[float, float]:
        """Expected level at a window (blended with the adjacent slot once that one is learned) and the slot's count."""
        slots = self.slots
        centre, count = slots.item(slot, _CENTRE), slots.item(slot, _COUNT)
        if count >= self._slot_min and slots.item(neighbour, _COUNT) >= self._slot_min:
            centre += share * (slots.item(neighbour, _CENTRE) - centre)
        return centre, count

    def _learn_slot(self, x: float, views: _Views) -> None:
        """Robust EW update of the window's slot (and its share of the adjacent one); an anomalous window
        (|z| > gate_z) moves them ``gate_weight`` as much, until a lasting anomaly has been flagged for a day of
        windows: a change that stays then becomes the new normal over the following days."""
        r = self._rules
        slot, neighbour, share, centre, count, z = (
            views.slot, views.neighbour, views.share, views.slot_centre, views.slot_count, views.z,
        )  # fmt: skip
        row = self.slots[slot]
        if count == 0:
            row[_CENTRE], row[_COUNT] = x, 1
            return
        if self._spread_alpha > 0.0:
            self._learn_spread(slot, abs(x - centre), count)
        a = max(r.slot_alpha, 1.0 / (count + 1))
        d = x - centre
        blended = self.slots.item(neighbour, _COUNT) >= self._slot_min and count >= self._slot_min
        # robust updates only once the pooled spread rests on some windows (a spread of 0 would freeze them)
        robust = count >= self._slot_min and self.scalars[_RESIDUAL_N] >= _ROBUST_AFTER
        gated = robust and abs(z) > r.gate_z and self.scalars[_RUN] <= self._protect_windows
        if robust:
            if gated:
                a *= r.gate_weight
            lim = r.gate_z * max(self.scalars[_RESIDUAL], r.min_abs_std)
            d = min(max(d, -lim), lim)
        if blended:  # a linear basis: each slot moves by its share of the innovation
            row[_CENTRE] += a * (1.0 - share) * d
            self.slots[neighbour, _CENTRE] += a * share * d
        else:
            row[_CENTRE] += a * d
        row[_COUNT] = min(count + 1, 60_000)
        if count >= self._slot_min:  # pooled residual spread (EW mean absolute residual → σ)
            s = self.scalars
            s[_RESIDUAL_N] += 1
            b = max(r.residual_alpha, 1.0 / s[_RESIDUAL_N])
            b *= r.gate_weight if gated else 1.0
            s[_RESIDUAL] += b * (abs(d) * _MAD_TO_SIGMA - s[_RESIDUAL])

    def _learn_spread(self, slot: int, deviation: float, count: float) -> None:
        """EW update of a slot's own spread (mean absolute deviation from its expected level → σ) over about
        ``slot_spread_days`` days of its windows. A deviation counts up to ``gate_z`` of the spread so far, and
        the body of a lasting anomaly (beyond the first ``calib_max_run`` flagged windows, up to a day of windows)
        with ``gate_weight``: the spread learns how much the hour varies from day to day, not the size of an
        incident."""
        r = self._rules
        spread = self.spreads.item(slot)
        weight = max(self._spread_alpha, 1.0 / (count + 1))
        if r.calib_max_run < self.scalars[_RUN] <= self._protect_windows:
            weight *= r.gate_weight
        if spread > 0.0:
            deviation = min(deviation, r.gate_z * spread)
        self.spreads[slot] = spread + weight * (deviation * _MAD_TO_SIGMA - spread)


def new_baseline(*, config: AnomalyRules, window_s: int = 600, kind: str | None = None) -> SensorBaseline:
    """A fresh baseline for a sensor whose windows last ``window_s`` seconds; ``kind`` picks the
    per-kind false-alarm target (``AnomalyRules.false_alarms_per_day_by_kind``), else the default.

    >>> b = new_baseline(config=AnomalyRules(false_alarms_per_day=0.1), window_s=600)
    >>> round(b.threshold, 3)   # p = 0.1 × 600 / 86400 ≈ 6.9e-4 → -log10(p) / 10
    0.316
    """
    target = config.false_alarms_per_day_by_kind.get(kind or "", config.false_alarms_per_day)
    return SensorBaseline(config, window_s, target)


class AssetBaseline:
    """Several series of one asset scored as one (``lifeline detect --value-column a,b,c``).

    One :class:`SensorBaseline` per column; the combined statistic is the sum of the columns' squared z
    (χ² with one degree of freedom per column when the columns are independent, Wilson–Hilferty normal
    approximation), so small moves of several columns add up where no single one is anomalous. Its
    score has its own calibrated threshold (the same online quantiles as a single sensor). The asset is
    anomalous when the combined score crosses that threshold or any column is anomalous on its own;
    ``score`` is the larger of the combined and the column scores.

    >>> rules = AnomalyRules(warmup_windows=5, warmup_hours=0.0)
    >>> asset = AssetBaseline([new_baseline(config=rules, window_s=60) for _ in range(3)], rules, 60)
    >>> def rows(t: int, a: float) -> list[WindowStats]:
    ...     return [WindowStats(str(c), t * 60_000, 60, 1, a + c, a + c, a + c, 0.0, 0.0, a + c) for c in range(3)]
    >>> asset.score_windows(rows(0, 1.0)) is None
    True
    """

    __slots__ = ("_ideal", "_rules", "columns", "quantiles", "run")

    def __init__(self, columns: list[SensorBaseline], rules: AnomalyRules, window_s: int) -> None:
        """``columns``: one fresh baseline per column (same rules and window length)."""
        self.columns = columns
        self._rules = rules
        tail_p = min(0.5, rules.false_alarms_per_day * max(1, window_s) / 86_400.0)
        self._ideal = _ideal_score(tail_p)
        self.quantiles: npt.NDArray[np.float64] = np.array([_ideal_score(1e-2), _ideal_score(1e-3)])
        self.run = 0

    @property
    def threshold(self) -> float:
        """The calibrated threshold of the combined score."""
        return calibrated_threshold(self._ideal, self.quantiles, self._rules)

    def _combined(self, verdicts: list[BaselineScore]) -> float:
        k = len(verdicts)
        chi2 = sum(min(v.z * v.z, 1e6) for v in verdicts)
        c = 2.0 / (9.0 * k)
        z = ((chi2 / k) ** (1.0 / 3.0) - (1.0 - c)) / math.sqrt(c)
        if z <= 0.0:
            return 0.0
        return score_from_log_p(math.log(max(0.5 * math.erfc(z / math.sqrt(2.0)), 1e-300)))

    def score_windows(self, stats: list[WindowStats], rest_days: RestDays = WEEKENDS) -> BaselineScore | None:
        """Score one row (one window per column, in column order); ``None`` while any column warms up."""
        verdicts = [model.score_window(w, rest_days) for model, w in zip(self.columns, stats, strict=True)]
        judged = self._row_verdict(verdicts)
        return None if judged is None else judged[0]

    def score_and_learn_windows(self, stats: list[WindowStats], rest_days: RestDays = WEEKENDS) -> BaselineScore | None:
        """:meth:`score_windows`, then learn the row, each column's views computed once.

        While the asset is anomalous the columns that moved (|z| beyond ``gate_z``) do not learn the anomaly as
        their new normal; the others keep learning (a temperature warming up through a valve closure is not held
        back)."""
        assessed = [model.assess(w, rest_days) for model, w in zip(self.columns, stats, strict=True)]
        verdicts = [a.verdict if a is not None else None for a in assessed]
        judged = self._row_verdict(verdicts)
        result = None
        if judged is not None:
            result, combined, threshold = judged
            self.run = self.run + 1 if combined >= threshold else 0
            if self.run <= self._rules.calib_max_run:
                learn_quantiles(self.quantiles, combined, self._rules)
        gate = self._rules.gate_z
        for model, a in zip(self.columns, assessed, strict=True):
            if a is not None:
                v = a.verdict
                model.learn_assessed(a, held=self.run > 0 and v is not None and abs(v.z) >= gate)
        return result

    def _row_verdict(self, verdicts: list[BaselineScore | None]) -> tuple[BaselineScore, float, float] | None:
        """The asset's verdict on a row from its columns', with the combined score and its threshold (``None``
        while any column warms up)."""
        ready = [v for v in verdicts if v is not None]
        if len(ready) < len(verdicts):
            return None
        combined = self._combined(ready)
        threshold = self.threshold
        top = max(ready, key=lambda v: abs(v.z))
        anomalous = combined >= threshold or any(v.is_anomaly for v in ready)
        score = max(combined, *(v.score for v in ready))
        verdict = top._replace(score=score, is_anomaly=anomalous, feature=f"{top.feature} of column {ready.index(top)}")
        return verdict, combined, threshold
