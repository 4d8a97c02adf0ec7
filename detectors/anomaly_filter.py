"""The threshold step: turn anomaly scores into tiers, separately from scoring (like river's ``anomaly/filter.py``).

Tier 1 (一级) is the most severe. :class:`TierFilter` holds three cut points, most severe first;
a score at or above a cut gets that tier. :class:`ProtectedModel` wraps a per-sensor model and
skips learning a reading that the filter flags (``protect=True``), so flagged anomalies never
become "normal" for the model.

>>> f = TierFilter(cuts=(0.9, 0.7, 0.5))
>>> [f.classify(s) for s in (0.95, 0.8, 0.6, 0.2)]
[<Tier.T1: 1>, <Tier.T2: 2>, <Tier.T3: 3>, None]
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from river import base

from lifeline.detectors.anomaly_base import FloatArray, IntArray, SensorModel
from lifeline.models import Tier

__all__ = ["ProtectedModel", "TierFilter"]


class TierFilter(base.Base):
    """Score → tier by three cut points ``(t1, t2, t3)``, most severe first (``t1 >= t2 >= t3``).

    The defaults mean: tier 3 from a tail probability of about 1e-6 (score 0.6), tier 2 from
    about 1e-8, tier 1 from about 1e-9.5 (see :func:`score_from_z`).
    """

    def __init__(self, cuts: tuple[float, float, float] = (0.95, 0.8, 0.6)) -> None:
        if not (cuts[0] >= cuts[1] >= cuts[2]) or not all(0.0 <= c <= 1.0 for c in cuts):
            raise ValueError(f"cuts must satisfy 1 >= t1 >= t2 >= t3 >= 0, got {cuts}")
        self.cuts = cuts

    def classify(self, score: float) -> Tier | None:
        """The tier of one score, or ``None`` below the lowest cut (and for nan)."""
        if not math.isfinite(score):
            return None
        for tier, cut in zip((Tier.T1, Tier.T2, Tier.T3), self.cuts, strict=True):
            if score >= cut:
                return tier
        return None

    def classify_batch(self, scores: FloatArray) -> npt.NDArray[np.int64]:
        """Tiers of many scores as integers (1..3, 0 = no tier)."""
        s = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-1.0)
        out = np.zeros(s.size, dtype=np.int64)
        for tier, cut in zip((3, 2, 1), reversed(self.cuts), strict=True):
            out[s >= cut] = tier
        return out


class ProtectedModel(SensorModel):
    """Wrap a per-sensor model: score every reading, but do not learn the ones the filter flags.

    >>> from lifeline.detectors.anomaly import GaussianZ
    >>> m = ProtectedModel(GaussianZ(grace_period=3), TierFilter())
    >>> for x in [1.0, 1.1, 0.9, 1.0, 1.05]:
    ...     m.learn_one(x)
    >>> m.learn_one(1000.0)  # flagged: not learned
    >>> m.model.n
    5
    """

    def __init__(self, model: SensorModel, tiers: TierFilter) -> None:
        self.model = model
        self.tiers = tiers

    def score_one(self, x: float, ts_ms: int = 0) -> float:
        """The wrapped model's score."""
        return self.model.score_one(x, ts_ms)

    def learn_one(self, x: float, ts_ms: int = 0) -> None:
        """Learn ``x`` unless its score earns a tier."""
        if self.tiers.classify(self.model.score_one(x, ts_ms)) is None:
            self.model.learn_one(x, ts_ms)

    def score_batch(self, ts_ms: IntArray, values: FloatArray) -> FloatArray:
        """Score then (if not flagged) learn each reading in order."""
        out = np.empty(len(values), dtype=np.float64)
        for i, (t, x) in enumerate(zip(np.asarray(ts_ms).tolist(), np.asarray(values).tolist(), strict=True)):
            s = self.model.score_one(x, int(t))
            out[i] = s
            if self.tiers.classify(s) is None:
                self.model.learn_one(x, int(t))
        return out
