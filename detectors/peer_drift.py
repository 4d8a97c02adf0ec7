"""Drift against group peers: a sensor whose hourly means trend on a straight line that its same-kind peers
of the group do not share (docs/domain.md#sensor-faults).

A drifting sensor's level moves slowly with no physical cause, while the same quantity at its neighbours (the
other manholes of a catchment, the other pressure loggers of a DMA, the other wells' temperature or cover
tilt along a gas main) does not. The sensor's own 24-hour check (:func:`~lifeline.detectors.faults.check_drift`)
needs a full day on a line; against its peers a drift shows within ``peer_drift_hours``.

* **Sensor side** (:func:`note_hourly_mean`, once per closed hour): a sensor of a watched kind
  (``faults.peer_drift_kinds``) with at least ``faults.peer_drift_min_peers`` same-kind peers in its group sends
  its hourly mean to the group as a *note* (rule :data:`HOURLY_MEAN_RULE`, no tier, never an alert).
* **Group side** (:func:`take_note`): the group keeps each sensor's last hourly means in
  :attr:`GroupState.hourly_means` (pickled with it). The first note of hour ``h`` of a kind evaluates every
  sensor of that kind at hour ``h - LAG_HOURS``: every note of that hour and earlier was decided before the
  first note of hour ``h``, so the result does not depend on arrival order. For each sensor with a full
  window of ``peer_drift_hours`` means and at least ``peer_drift_min_peers`` peers with one too, the model

  ``y(t) = a + b · p(t) + c · t``, with ``p`` the median of the peers' means (each minus its window mean),

  is fitted by least squares; what the peers share (demand, weather, the daily cycle, a common trend) goes to
  ``b``, a drift of the sensor to ``c``. A drift is found when ``c`` is ``peer_drift_t`` standard errors from 0
  and its change over the window is at least ``peer_drift_min_fraction_of_range`` of the sensor's range. It is
  restated every hour while ``c`` keeps its sign and stays 2 standard errors from 0, and ends when it does not.

  A limit: over a few hours a trend and a part of the daily cycle look alike, so a trend the peers share
  while their daily cycles differ in size leaves a ``c`` of ``(1 - b)`` times that trend at a sensor whose
  cycle is larger or smaller than the peers' median (gain ``b``). The simulator's drifts sit on dry days
  and flat-trending peers; real networks may have such shared trends (groundwater, a season's warming).

The finding is a ``sensor_fault`` (tier 3, rule :data:`PEER_DRIFT_RULE`) for the device maintainer. Unlike the
sensor's own drift check it does **not** block the sensor's incidents: it rests on a short window and on
peers, and a wrongly blocked sensor would hide an incident.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from lifeline.models import AlertKind, SensorKind, SensorSpec, Tier

from .config import FaultRules
from .results import Finding
from .rulebase import SensorProfile
from .state import Contribution, GroupState

__all__ = [
    "HOURLY_MEAN_FAMILY",
    "HOURLY_MEAN_RULE",
    "LAG_HOURS",
    "PEER_DRIFT_FAMILY",
    "PEER_DRIFT_HOLD_MS",
    "PEER_DRIFT_NOTE",
    "PEER_DRIFT_RULE",
    "DriftFit",
    "fit_against_peers",
    "loo_medians",
    "note_hourly_mean",
    "take_note",
]

#: the rule of an hourly-mean note (informational: remembered by the group, never an alert)
HOURLY_MEAN_RULE = "note.hourly_mean:peer_drift"
HOURLY_MEAN_FAMILY = HOURLY_MEAN_RULE.partition(":")[0]
#: the rule of a drift found against the peers (a sensor fault that does not block)
PEER_DRIFT_RULE = "fault.peer_drift:trend_against_peers"
PEER_DRIFT_FAMILY = PEER_DRIFT_RULE.partition(":")[0]
#: the profile flag of a sensor that notes its hourly means to its group
PEER_DRIFT_NOTE = "peer_drift_note"
#: a kind is evaluated at hour ``h - LAG_HOURS`` by the first note of hour ``h`` (all notes of that hour are in)
LAG_HOURS = 2
#: a found drift is restated every hour; its contribution lasts this long without a restatement
PEER_DRIFT_HOLD_MS = 3 * 3_600_000
#: a found drift is restated while its trend keeps its sign and stays this many standard errors from 0
_HOLD_T = 2.0
_MS_PER_H = 3_600_000
_FIT_TERMS = 3  # intercept, peers' median, time


def note_hourly_mean(prof: SensorProfile[Any], mean: float, hour_ms: int, ts: int, out: list[Finding]) -> None:
    """The note of the hourly mean ``mean`` of the hour starting at ``hour_ms``, decided at ``ts``.

    Only a note decided within the hour after the one it describes is sent (the group reads the hour from its
    time); a later one (the sensor was silent) counts as a missing hour."""
    if not math.isfinite(mean) or not hour_ms + _MS_PER_H <= ts < hour_ms + 2 * _MS_PER_H:
        return
    spec = prof.spec
    out.append(
        Finding(
            spec.sensor_id, spec.asset_id, prof.group_key, AlertKind.SENSOR_FAULT, None, ts, mean, 0.0,
            "hourly mean", HOURLY_MEAN_RULE,
        )
    )  # fmt: skip


def _hour_of_note(f: Finding) -> int:
    return f.ts - f.ts % _MS_PER_H - _MS_PER_H


class DriftFit:
    """The fit of one sensor's window against its peers: the trend ``slope`` per hour, its ``t`` (standard
    errors from 0), the ``change`` over the window and the number of ``peers``."""

    __slots__ = ("change", "peers", "slope", "t")

    def __init__(self, slope: float, t: float, change: float, peers: int) -> None:
        """Hold the figures of one fit."""
        self.slope, self.t, self.change, self.peers = slope, t, change, peers


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


def fit_against_peers(window: npt.NDArray[np.float64], min_peers: int) -> list[DriftFit | None]:
    """Fit every row of ``window`` (sensors × hours, no NaN) as ``a + b · p + c · hour`` by least squares,
    ``p`` the median of the other rows (each minus its mean), and return the trend ``c`` (``DriftFit.slope``).

    ``b`` is the sensor's gain on what the peers share (the daily cycle, a common trend), ``c`` the trend the
    peers do not explain. A row gets ``None`` when fewer than ``min_peers`` other rows exist.

    >>> hours = np.arange(16.0)
    >>> daily = np.sin(hours / 3.0)
    >>> window = np.vstack([daily, 2 * daily + 1, 0.5 * daily, daily + 0.05 * hours])
    >>> window += np.random.default_rng(1).normal(0, 0.002, window.shape)
    >>> [round(f.t) > 12 for f in fit_against_peers(window, 2) if f is not None]
    [False, False, False, True]
    >>> shared = np.vstack([daily, daily + 1, daily - 2, daily + 3]) + 0.05 * hours  # a trend all share
    >>> shared += np.random.default_rng(2).normal(0, 0.002, shared.shape)
    >>> [round(f.t) > 12 for f in fit_against_peers(shared, 2) if f is not None]
    [False, False, False, False]
    """
    sensors, hours = window.shape
    if sensors < min_peers + 1 or hours <= _FIT_TERMS:
        return [None] * sensors
    # the fit in orthogonal terms: the intercept, the line, and the peers' median without its line (``shape``)
    x = np.arange(hours, dtype=np.float64) - (hours - 1) / 2.0
    sxx = float(x @ x)
    centred = window - window.mean(axis=1, keepdims=True)
    peers = loo_medians(centred)  # sensors × hours
    peer_slope = peers @ x / sxx
    shape = peers - peers.mean(axis=1, keepdims=True) - peer_slope[:, None] * x
    shape_ss = np.maximum((shape * shape).sum(axis=1), 1e-300)
    gain = (centred * shape).sum(axis=1) / shape_ss
    slope = centred @ x / sxx
    residual = centred - gain[:, None] * shape - slope[:, None] * x
    var = (residual * residual).sum(axis=1) / (hours - _FIT_TERMS)
    trend = slope - gain * peer_slope  # c of the fit on the median itself
    se = np.sqrt(var / sxx + peer_slope * peer_slope * var / shape_ss)
    out: list[DriftFit | None] = []
    for k in range(sensors):
        c, s = float(trend[k]), float(se[k])
        t = abs(c) / s if s > 0.0 else (math.inf if c else 0.0)
        out.append(DriftFit(c, t, abs(c) * (hours - 1), sensors - 1))
    return out


def take_note(
    gs: GroupState, f: Finding, cfg: FaultRules, spec_of: Callable[[str], SensorSpec | None],
) -> list[Finding]:  # fmt: skip
    """Remember the hourly-mean note ``f`` in the group's state; at the first note of an hour of its kind,
    evaluate that kind (see the module doc) and return the drift findings: found, restated or ended."""
    spec = spec_of(f.sensor_id)
    if spec is None:
        return []
    hour = _hour_of_note(f)
    keep_from = hour - (cfg.peer_drift_hours + LAG_HOURS) * _MS_PER_H
    means = gs.hourly_means
    means[f.sensor_id] = (*(n for n in means.get(f.sensor_id, ()) if keep_from <= n[0] < hour), (hour, f.value))
    kind = spec.kind.value
    if gs.drift_evaluated.get(kind, -1) >= hour:
        return []
    gs.drift_evaluated[kind] = hour
    return _evaluate(gs, spec.kind, hour - LAG_HOURS * _MS_PER_H, f.ts, cfg, spec_of)


def _evaluate(
    gs: GroupState, kind: SensorKind, last_hour: int, ts: int, cfg: FaultRules,
    spec_of: Callable[[str], SensorSpec | None],
) -> list[Finding]:  # fmt: skip
    hours = cfg.peer_drift_hours
    first_hour = last_hour - (hours - 1) * _MS_PER_H
    specs: list[SensorSpec] = []
    rows: list[list[float]] = []
    for sensor_id in sorted(gs.hourly_means):
        spec = spec_of(sensor_id)
        if spec is None or spec.kind is not kind:
            continue
        row = _window(gs.hourly_means[sensor_id], first_hour, hours)
        if row is not None:
            specs.append(spec)
            rows.append(row)
    active = _active(gs.contributions)
    out: list[Finding] = []
    fits = fit_against_peers(np.array(rows), cfg.peer_drift_min_peers) if rows else []
    for spec, row, fit in zip(specs, rows, fits, strict=True):
        if fit is None:
            continue
        if spec.sensor_id in active:  # restated while the trend keeps its sign and stays clear of 0, else ended
            holds = fit.t >= _HOLD_T and fit.slope * active[spec.sensor_id] > 0.0
            out.append(_finding(spec, gs.group_id, ts, row, fit, Tier.T3 if holds else None))
        elif fit.t >= cfg.peer_drift_t and fit.change >= cfg.peer_drift_min_fraction_of_range * (
            spec.valid_max - spec.valid_min
        ):
            out.append(_finding(spec, gs.group_id, ts, row, fit, Tier.T3))
    return out


def _window(notes: tuple[tuple[int, float], ...], first_hour: int, hours: int) -> list[float] | None:
    """The sensor's means of ``hours`` hours from ``first_hour`` on, or ``None`` when one is missing (``notes``:
    ascending, one per hour)."""
    last_hour = first_hour + (hours - 1) * _MS_PER_H
    row = [mean for hour, mean in notes if first_hour <= hour <= last_hour]
    return row if len(row) == hours else None


def _active(contributions: Mapping[tuple[str, str, str], Contribution]) -> dict[str, float]:
    """Sensor → the change of its drift found against peers, for each that is on."""
    return {
        c.sensor_id: c.change or 0.0 for c in contributions.values() if c.rule.partition(":")[0] == PEER_DRIFT_FAMILY
    }


def _finding(spec: SensorSpec, group_id: str, ts: int, row: list[float], fit: DriftFit, tier: Tier | None) -> Finding:
    unit = spec.unit
    hours = len(row)
    if tier is None:
        evidence = f"drift against peers ended: trend {fit.slope:+.4g} {unit}/h is {fit.t:.1f} standard errors from 0"
    else:
        evidence = (
            f"drift against peers: over {hours} h the hourly means moved {fit.slope * (hours - 1):+.4g} {unit} "
            f"({fit.slope:+.4g} {unit}/h, {fit.t:.1f} standard errors from 0) beyond what the median of "
            f"{fit.peers} {spec.kind.value} peers of the group explains; the sensor's readings still count"
        )
    return Finding(
        spec.sensor_id, spec.asset_id, group_id, AlertKind.SENSOR_FAULT, tier, ts, float(row[-1]),
        0.5 if tier is not None else 0.0, evidence, PEER_DRIFT_RULE, change=fit.slope * (hours - 1),
    )  # fmt: skip
