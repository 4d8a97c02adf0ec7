"""The generic per-sensor anomaly score of ``lifeline detect``: several cheap views, one calibrated score.

:class:`CompositeScorer` combines, per reading:

1. a Gaussian z of the value (:class:`GaussianZ`, slow memory) — level anomalies;
2. a Gaussian z of the first difference (fast memory) — jumps and spikes;
3. range novelty — a value beyond everything learned so far, measured in units of the learned range;
4. a short-versus-long comparison of those raw scores (in the spirit of Numenta's anomaly
   likelihood): the mean raw score of the last ``short_window`` readings against the EW mean and
   spread of that same short mean over a long history. A series that is always noisy gets a high
   raw score all the time and therefore a low likelihood; a quiet series that starts to move
   gets a high one.

The final score is ``max(likelihood, raw_weight * raw)``. Because anomalies are reported on
their *first* reading, repeated high scores right after a high score are damped: a reading must
exceed the recent peak (held for ``suppress / 2`` readings, then decaying linearly to 0 by
``suppress``) to score in full; otherwise its score is multiplied by ``damp``. The first
``grace_period`` readings score 0.

Every component learns with Huber-clipped innovations, so an anomaly does not teach the model
that it is normal — but a lasting level shift is absorbed within roughly ``1/value_alpha`` readings.

>>> import numpy as np
>>> x = np.sin(np.arange(600) / 10.0)
>>> x[500] = 4.0
>>> s = CompositeScorer(grace_period=100).score_batch(np.arange(600), x)
>>> int(np.argmax(s)), bool(s[:100].max() == 0.0), bool(s[400:500].max() < 0.3)
(500, True, True)
"""

from __future__ import annotations

import copy
import math

import numpy as np

from lifeline.detectors.anomaly import BIG, GaussianZ
from lifeline.detectors.anomaly_base import FloatArray, IntArray, SensorModel, score_from_z

__all__ = ["DETECT_CUTS", "CompositeScorer"]

#: Tier cuts for this score used by ``lifeline detect``: tier 3 from the NAB-optimal threshold (≈ 0.84).
DETECT_CUTS = (0.99, 0.9, 0.84)


class CompositeScorer(SensorModel):
    """Value z + difference z + range novelty → raw score → short/long likelihood → damped repeats.

    Parameters
    ----------
    value_alpha, diff_alpha
        EW weights of the value and first-difference Gaussian models.
    short_window
        Readings averaged for the short-term raw score.
    long_alpha
        EW weight of the long-term distribution of the short-term mean.
    raw_weight
        Weight of the instantaneous raw score in the final ``max``.
    novelty_scale
        Range novelty: an excess of ``novelty_scale`` × learned range scores ≈ 0.63.
    suppress, damp
        Length (readings) of the decaying peak after a high score, and the factor applied below it.
    grace_period
        Readings learned before any score is reported (NAB: its probationary period).
    weights
        Multipliers of the value-z, difference-z and novelty components in the raw ``max``.
        The defaults were chosen on NAB (see ``benchmarks/bench_nab.py``): range novelty is the
        strongest single view; z-scores saturate on strongly periodic series and are down-weighted.
    """

    def __init__(
        self,
        value_alpha: float = 0.002,
        diff_alpha: float = 0.01,
        short_window: int = 10,
        long_alpha: float = 0.01,
        raw_weight: float = 1.0,
        novelty_scale: float = 0.05,
        suppress: int = 300,
        damp: float = 0.5,
        grace_period: int = 100,
        weights: tuple[float, float, float] = (0.3, 0.0, 1.0),
    ) -> None:
        self.value_alpha = value_alpha
        self.diff_alpha = diff_alpha
        self.short_window = short_window
        self.long_alpha = long_alpha
        self.raw_weight = raw_weight
        self.novelty_scale = novelty_scale
        self.suppress = suppress
        self.damp = damp
        self.grace_period = grace_period
        self.weights = weights
        self.value = GaussianZ(alpha=value_alpha, grace_period=0)
        self.diff = GaussianZ(alpha=diff_alpha, grace_period=0)
        self.n = 0
        self.prev = 0.0
        self.lo = math.inf
        self.hi = -math.inf
        self.recent = [0.0] * max(1, short_window)
        self.recent_sum = 0.0
        self.long_mean = 0.0
        self.long_var = 0.0
        self.long_n = 0
        self.peak = 0.0
        self.peak_age = 0

    def _novelty(self, x: float) -> float:
        if self.n < 20:
            return 0.0
        span = self.hi - self.lo
        floor = max(1e-6, 1e-3 * max(abs(self.hi), abs(self.lo)))
        span = span if span > floor else floor
        excess = max(x - self.hi, self.lo - x, 0.0)
        return 1.0 - math.exp(-excess / (self.novelty_scale * span))

    def score_learn_one(self, x: float, ts_ms: int = 0) -> float:
        """Score ``x`` then learn it (the fused path of :meth:`score_batch`)."""
        if not math.isfinite(x):
            return 0.0
        x = -BIG if x < -BIG else (BIG if x > BIG else x)
        d = x - self.prev if self.n else 0.0
        wv, wd, wn = self.weights
        raw = max(wv * score_from_z(self.value.z_one(x)), wd * score_from_z(self.diff.z_one(d)), wn * self._novelty(x))
        # short-term mean of raw scores vs its long-term distribution
        slot = self.n % len(self.recent)
        self.recent_sum += raw - self.recent[slot]
        self.recent[slot] = raw
        short = max(0.0, self.recent_sum) / len(self.recent)
        if self.long_n > len(self.recent):
            sd = max(math.sqrt(self.long_var), 0.01)
            likelihood = score_from_z(max(0.0, short - self.long_mean) / sd)
        else:
            likelihood = 0.0
        score = max(likelihood, self.raw_weight * raw)
        # damp repeats below a linearly decaying recent peak
        # (the level holds for the first half of ``suppress`` readings, then decays linearly to 0)
        half = 0.5 * self.suppress
        level = self.peak * min(1.0, max(0.0, 2.0 - self.peak_age / half)) if half > 0 else 0.0
        self.peak_age += 1
        if score > level:
            self.peak, self.peak_age = score, 0
        else:
            score *= self.damp
        # learn
        self.long_n += 1
        a = max(self.long_alpha, 1.0 / self.long_n)
        dl = short - self.long_mean
        self.long_mean += a * dl
        self.long_var = (1.0 - a) * (self.long_var + a * dl * dl)
        self.value.learn_one(x)
        if self.n:
            self.diff.learn_one(d)
        # protect the range: in the grace period or for a normal reading take x, else move 10 % towards it
        k = 1.0 if (raw < 0.5 or self.n < self.grace_period or self.n < 2) else 0.1
        if x < self.lo:
            self.lo = x if self.n < 2 else self.lo + k * (x - self.lo)
        if x > self.hi:
            self.hi = x if self.n < 2 else self.hi + k * (x - self.hi)
        self.prev = x
        self.n += 1
        if self.n <= self.grace_period:
            return 0.0
        return min(1.0, max(0.0, score))

    def score_one(self, x: float, ts_ms: int = 0) -> float:
        """Score of ``x`` without changing the model (runs the fused step on a copy)."""
        return copy.deepcopy(self).score_learn_one(x, ts_ms)

    def learn_one(self, x: float, ts_ms: int = 0) -> None:
        """Learn ``x`` (and advance the short-term and damping state as scoring it would)."""
        self.score_learn_one(x, ts_ms)

    def score_batch(self, ts_ms: IntArray, values: FloatArray) -> FloatArray:
        """Score then learn each reading in order."""
        step = self.score_learn_one
        return np.array([step(x) for x in np.asarray(values, dtype=np.float64).tolist()], dtype=np.float64)
