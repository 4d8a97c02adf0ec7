"""Least-squares fits of sensors' hourly means against the median of their same-kind peers (no I/O, no state).

Each row of a window (sensors × hours) is fitted with the median of the *other* rows, each minus its mean
(:func:`loo_medians`), as a regressor, so what the peers share (demand, weather, the daily cycle, a common
trend) goes to its gain ``b``; then

* :func:`trend_against_peers`: ``y = a + b · p + c · hour`` — a drift is a trend ``c`` the peers do not explain;
* :func:`step_against_peers`: ``y = a + b · p + d · [hour ≥ h0]``, the best ``h0`` at least ``edge`` hours from
  either end — an offset is a step ``d`` the peers do not explain.

Both report the estimate, how many standard errors it stands from 0 (a score, not a calibrated test: hourly
means are not independent) and the residual sum of squares, so the two fits can be compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["PeerFit", "loo_medians", "step_against_peers", "trend_against_peers"]

_FIT_TERMS = 3  # intercept, peers' median, and the trend or the step
_TINY = 1e-300


@dataclass(frozen=True, slots=True)
class PeerFit:
    """One row's fit: ``size`` (the trend per hour, or the step), ``t`` (standard errors from 0), ``change`` (over
    the window: the trend times the hours, or the step), ``rss`` (residual sum of squares), ``peers``, and for a
    step ``at`` (the index of the first hour after it; -1 for a trend)."""

    size: float
    t: float
    change: float
    rss: float
    peers: int
    at: int = -1


def loo_medians(rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Column by column, the median of every other row (leave one out), for each row of ``rows`` (≥ 2 rows).

    >>> loo_medians(np.array([[1.0], [2.0], [4.0], [8.0]])).ravel().tolist()
    [4.0, 4.0, 2.0, 2.0]
    """
    count = rows.shape[0] - 1
    order = np.argsort(rows, axis=0, kind="stable")
    ordered = np.take_along_axis(rows, order, axis=0)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(rows.shape[0])[:, None], axis=0)

    def pick(position: int) -> npt.NDArray[np.float64]:  # the position-th of the others, in order
        index = position + (position >= rank)
        return np.take_along_axis(ordered, index, axis=0)

    if count % 2:
        return pick(count // 2)
    return 0.5 * (pick(count // 2 - 1) + pick(count // 2))


def _t(estimate: float, se: float) -> float:
    return abs(estimate) / se if se > 0.0 else (math.inf if estimate else 0.0)


def _centred_peers(window: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The rows minus their means, and each row's peers' median minus its mean."""
    centred = window - window.mean(axis=1, keepdims=True)
    peers = loo_medians(centred)
    return centred, peers - peers.mean(axis=1, keepdims=True)


def _hours(window: npt.NDArray[np.float64], hour: npt.NDArray[np.float64] | None) -> npt.NDArray[np.float64]:
    return np.arange(window.shape[1], dtype=np.float64) if hour is None else np.asarray(hour, dtype=np.float64)


def trend_against_peers(
    window: npt.NDArray[np.float64], min_peers: int, hour: npt.NDArray[np.float64] | None = None
) -> list[PeerFit | None]:
    """Fit every row of ``window`` (sensors × hours, no NaN; ``hour``: each column's hour, default 0, 1, …) as
    ``a + b · peers' median + c · hour``; ``PeerFit.change`` is the trend over the hours the columns span.

    A row gets ``None`` when fewer than ``min_peers`` other rows exist (or too few hours for the fit).

    >>> hours = np.arange(16.0)
    >>> daily = np.sin(hours / 3.0)
    >>> window = np.vstack([daily, 2 * daily + 1, 0.5 * daily, daily + 0.05 * hours])
    >>> window += np.random.default_rng(1).normal(0, 0.002, window.shape)
    >>> [f.t > 12 for f in trend_against_peers(window, 2) if f is not None]
    [False, False, False, True]
    >>> shared = np.vstack([daily, daily + 1, daily - 2, daily + 3]) + 0.05 * hours  # a trend all share
    >>> shared += np.random.default_rng(2).normal(0, 0.002, shared.shape)
    >>> [f.t > 12 for f in trend_against_peers(shared, 2) if f is not None]
    [False, False, False, False]
    """
    sensors, hours = window.shape
    if sensors < min_peers + 1 or hours <= _FIT_TERMS:
        return [None] * sensors
    # in orthogonal terms: the line, and the peers' median without its line (``shape``)
    at = _hours(window, hour)
    x = at - at.mean()
    sxx = float(x @ x)
    span = float(at[-1] - at[0])
    centred, peers = _centred_peers(window)
    peer_slope = peers @ x / sxx
    shape = peers - peer_slope[:, None] * x
    shape_ss = np.maximum((shape * shape).sum(axis=1), _TINY)
    gain = (centred * shape).sum(axis=1) / shape_ss
    slope = centred @ x / sxx
    residual = centred - gain[:, None] * shape - slope[:, None] * x
    rss = (residual * residual).sum(axis=1)
    var = rss / (hours - _FIT_TERMS)
    trend = slope - gain * peer_slope  # c of the fit on the median itself
    se = np.sqrt(var / sxx + peer_slope * peer_slope * var / shape_ss)
    return [
        PeerFit(float(trend[k]), _t(float(trend[k]), float(se[k])), abs(float(trend[k])) * span,
                float(rss[k]), sensors - 1)
        for k in range(sensors)
    ]  # fmt: skip


def step_against_peers(
    window: npt.NDArray[np.float64], min_peers: int, edge: int, hour: npt.NDArray[np.float64] | None = None
) -> list[PeerFit | None]:
    """Fit every row of ``window`` (sensors × hours, no NaN; ``hour``: each column's hour, default 0, 1, …) as
    ``a + b · peers' median + d · [hour ≥ h0]`` for every column's ``h0`` at least ``edge`` hours from the first
    column and from the end of the last, and keep the ``h0`` that fits best (``PeerFit.size`` = ``d``,
    ``PeerFit.at`` = ``h0`` less the first column's hour).

    A row gets ``None`` when fewer than ``min_peers`` other rows exist or no ``h0`` fits in the window.

    >>> hours = np.arange(16.0)
    >>> daily = np.sin(hours / 3.0)
    >>> window = np.vstack([daily, 2 * daily + 1, 0.5 * daily, daily + 0.2 * (hours >= 9)])
    >>> window += np.random.default_rng(1).normal(0, 0.002, window.shape)
    >>> fits = step_against_peers(window, 2, 4)
    >>> [f.t > 15 for f in fits if f is not None], fits[3].at, round(fits[3].size, 2)
    ([False, False, False, True], 9, 0.2)
    >>> shared = np.vstack([daily, daily + 1, daily - 2, daily + 3]) + 0.2 * (hours >= 9)  # a step all share
    >>> shared += np.random.default_rng(2).normal(0, 0.002, shared.shape)
    >>> [f.t > 15 for f in step_against_peers(shared, 2, 4) if f is not None]
    [False, False, False, False]
    """
    sensors, hours = window.shape
    at = _hours(window, hour) - _hours(window, hour)[0]
    starts = at[(at >= edge) & (at <= at[-1] + 1 - edge)]
    if sensors < min_peers + 1 or hours <= _FIT_TERMS or starts.size == 0:
        return [None] * sensors
    centred, peers = _centred_peers(window)
    steps = (at[None, :] >= starts[:, None]).astype(np.float64)  # starts × hours
    steps -= steps.mean(axis=1, keepdims=True)
    pp = (peers * peers).sum(axis=1)[:, None]  # sensors × 1
    ss = (steps * steps).sum(axis=1)[None, :]  # 1 × starts
    ps = peers @ steps.T  # sensors × starts
    py = (peers * centred).sum(axis=1)[:, None]
    sy = centred @ steps.T
    det = np.maximum(pp * ss - ps * ps, _TINY)
    gain = (ss * py - ps * sy) / det
    step = (pp * sy - ps * py) / det
    rss = np.maximum((centred * centred).sum(axis=1)[:, None] - gain * py - step * sy, 0.0)
    se = np.sqrt(rss / (hours - _FIT_TERMS) * pp / det)
    best = np.argmin(rss, axis=1)
    out: list[PeerFit | None] = []
    for k in range(sensors):
        j = int(best[k])
        size = float(step[k, j])
        out.append(PeerFit(size, _t(size, float(se[k, j])), abs(size), float(rss[k, j]), sensors - 1, int(starts[j])))
    return out
