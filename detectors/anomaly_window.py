"""The heavier per-asset model: river ``HalfSpaceTrees`` on window features, never on raw readings.

HalfSpaceTrees costs 13–22 µs per call and about 1 MiB per model (docs/architecture.md#performance-notes),
so there is one :class:`WindowHST` per asset, fed one feature vector per closed window
(:class:`~lifeline.detectors.results.WindowStats` of the asset's sensors), i.e. a few calls per minute.

Features are scaled to [0, 1] online (running min/max per feature) as HalfSpaceTrees expects.
Learning is protected: a window whose score is at or above ``protect_above`` is not learned.

>>> from lifeline.detectors.results import WindowStats
>>> model = WindowHST(window_size=50, seed=1)
>>> normal = [WindowStats("p1", 60_000 * i, 60, 60, 1.0 + 0.01 * (i % 5), 0.9, 1.1, 0.05, 0.0, 1.0)
...           for i in range(300)]
>>> for w in normal:
...     model.learn_one(window_features([w]))
>>> odd = WindowStats("p1", 0, 60, 60, 9.0, 8.0, 10.0, 2.0, 50.0, 9.0)
>>> model.score_one(window_features([odd])) > model.score_one(window_features([normal[0]]))
True
"""

from __future__ import annotations

import math

from river import anomaly, base

from lifeline.detectors.results import WindowStats

__all__ = ["WindowHST", "window_features"]


def window_features(windows: list[WindowStats]) -> dict[str, float]:
    """Feature vector of one asset for one window period: mean, spread, range and slope per sensor.

    Non-finite statistics become 0 so the tree never sees nan.
    """
    out: dict[str, float] = {}
    for w in windows:
        for name, v in (
            ("mean", w.mean),
            ("std", w.std),
            ("range", w.max - w.min),
            ("slope", w.slope_per_h),
        ):
            out[f"{w.sensor_id}.{name}"] = v if math.isfinite(v) else 0.0
    return out


class WindowHST(base.Base):
    """Per-asset HalfSpaceTrees over online min–max scaled window features.

    Parameters are river's ``HalfSpaceTrees`` ones (``n_trees``, ``height``, ``window_size``,
    ``seed``) plus ``protect_above``: windows scoring at least this are not learned.
    """

    def __init__(
        self, n_trees: int = 10, height: int = 8, window_size: int = 250, seed: int = 42, protect_above: float = 0.9
    ) -> None:
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.seed = seed
        self.protect_above = protect_above
        self.hst = anomaly.HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=seed)
        self.lo: dict[str, float] = {}
        self.hi: dict[str, float] = {}

    def _scale(self, x: dict[str, float]) -> dict[str, float]:
        out: dict[str, float] = {}
        for k, v in x.items():
            v = v if math.isfinite(v) else 0.0
            lo, hi = self.lo.get(k, v), self.hi.get(k, v)
            if hi <= lo:  # a constant feature so far: anything else is at an edge
                out[k] = 0.5 if v == lo else (1.0 if v > hi else 0.0)
            else:
                out[k] = min(1.0, max(0.0, (v - lo) / (hi - lo)))
        return out

    def score_one(self, x: dict[str, float]) -> float:
        """Anomaly score of a feature vector in ``[0, 1]`` (0 until the first reference window is full)."""
        s = float(self.hst.score_one(self._scale(x)))
        return min(1.0, max(0.0, s)) if math.isfinite(s) else 0.0

    def learn_one(self, x: dict[str, float]) -> None:
        """Learn a feature vector unless it scores at or above ``protect_above``."""
        if self.score_one(x) >= self.protect_above:
            return
        for k, v in x.items():
            if math.isfinite(v):
                self.lo[k] = min(self.lo.get(k, v), v)
                self.hi[k] = max(self.hi.get(k, v), v)
        self.hst.learn_one(self._scale(x))
