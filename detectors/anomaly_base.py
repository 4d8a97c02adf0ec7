"""Shared base and helpers of the online anomaly models (river style: ``learn_one`` / ``score_one``).

Every per-sensor model follows one contract:

* ``score_one(x, ts_ms)`` returns a finite float in ``[0, 1]`` and never changes state;
* ``learn_one(x, ts_ms)`` updates state; it protects itself from anomalies (it learns with a
  weight that shrinks as the point's own score grows);
* ``score_batch(ts_ms, values)`` scores *then* learns each reading, in array order, and returns
  the scores as a float64 array — the path the dataflow and ``lifeline detect`` use.

Non-finite values are scored 0 and not learned (they are a data-quality matter for the fault
checks, not an anomaly of the process). Timestamps may go backwards; models never divide by a
time difference.

>>> round(score_from_z(0.0), 3), round(score_from_z(3.0), 3), score_from_z(float("inf"))
(0.0, 0.257, 1.0)
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from river import base

__all__ = ["SCORE_DECADES", "FloatArray", "IntArray", "SensorModel", "score_from_log_p", "score_from_z"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: A score of 1.0 means a two-sided Gaussian tail probability of 10^-SCORE_DECADES (z ≈ 6.5).
SCORE_DECADES = 10.0
_LN10 = math.log(10.0)
_SQRT_HALF = math.sqrt(0.5)


def score_from_log_p(log_p: float) -> float:
    """Map a natural-log tail probability to ``[0, 1]``: ``-log10(p) / SCORE_DECADES``, clipped."""
    s = -log_p / (_LN10 * SCORE_DECADES)
    if not s > 0.0:  # also catches nan
        return 0.0
    return 1.0 if s > 1.0 else s


def score_from_z(z: float) -> float:
    """Score of a z-value: ``-log10`` of its two-sided Gaussian tail probability, scaled to ``[0, 1]``.

    Uses ``erfc`` while it is accurate and the asymptotic tail beyond, so large z never yields
    ``log(0)``. ``score_from_z(3)`` ≈ 0.257 (p ≈ 0.0027); 0.5 at p = 1e-5 (z ≈ 4.42).
    """
    a = abs(z)
    if not a < 1e150:  # inf or nan
        return 0.0 if math.isnan(a) else 1.0
    if a < 30.0:
        p = math.erfc(a * _SQRT_HALF)
        return score_from_log_p(math.log(p)) if p > 0.0 else 1.0
    # log of the two-sided tail for large a: -a²/2 - log(a) - log(sqrt(pi/2))
    return score_from_log_p(-0.5 * a * a - math.log(a) - 0.2257913526447274)


class SensorModel(base.Base):
    """Base class of the per-sensor scalar models. Subclasses implement :meth:`score_one` and :meth:`learn_one`."""

    def score_one(self, x: float, ts_ms: int = 0) -> float:
        """Anomaly score of ``x`` at ``ts_ms`` in ``[0, 1]`` given what was learned so far (no update)."""
        raise NotImplementedError

    def learn_one(self, x: float, ts_ms: int = 0) -> None:
        """Update the model with one reading (down-weighted if the reading itself looks anomalous)."""
        raise NotImplementedError

    def score_batch(self, ts_ms: IntArray, values: FloatArray) -> FloatArray:
        """Score then learn each reading in order; return the scores (float64, each in [0, 1])."""
        out = np.empty(len(values), dtype=np.float64)
        for i, (t, x) in enumerate(zip(np.asarray(ts_ms).tolist(), np.asarray(values).tolist(), strict=True)):
            out[i] = self.score_one(x, int(t))
            self.learn_one(x, int(t))
        return out
