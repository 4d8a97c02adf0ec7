"""Sensor faults against group peers: a sensor whose hourly means trend (drift) or step (offset) in a way that its
same-kind peers of the group do not share (docs/domain.md#sensor-faults).

A drifting or re-zeroed sensor's level moves with no physical cause, while the same quantity at its neighbours
(the other manholes of a catchment, the other strain gauges of a bridge, the other wells' temperature or
cover tilt along a gas main) does not. The sensor's own checks (:mod:`lifeline.detectors.faults`) need a day
on a line or a clean jump between readings; against its peers a drift or a step shows within ``peer_hours``.

* **Sensor side** (:func:`note_hourly_mean`, once per closed hour): a sensor of a watched kind
  (``faults.peer_kinds``) with at least ``faults.peer_min_peers`` same-kind peers in its group sends its hourly
  mean to the group as a *note* (rule :data:`HOURLY_MEAN_RULE`, no tier, never an alert).
* **Group side** (:func:`take_note`): the group keeps each sensor's last hourly means in
  :attr:`GroupState.hourly_means` (pickled with it). The first note of hour ``h`` of a kind evaluates every
  sensor of that kind at hour ``h - LAG_HOURS``: a note of hour ``k`` is decided within hour ``k + 1`` and
  the group takes findings in event-time order, so every note of that hour and earlier is in, and the result
  does not depend on arrival order. The window is ``peer_hours`` long, or, while the group has kept fewer
  hours of the kind (the first hours after a deployment or a lost state), as long as what it has kept, from
  ``peer_min_hours`` on. Each sensor with a window of means (at most ``MAX_MISSING_HOURS`` missing; the fit
  takes the hours every such sensor has, the newest among them), among at least ``peer_min_peers`` peers, is
  fitted against the median of its peers (:mod:`lifeline.detectors.peer_fits`):

  - a **drift** when a line fits better than a step anywhere in the window, and the trend the peers do not
    explain is ``peer_drift_t`` standard errors from 0 and moves at least ``peer_drift_min_fraction_of_range``
    of the sensor's range over the window;
  - an **offset** when a step fits better than a line, lies at least ``OFFSET_EDGE_HOURS`` from either end of
    the window, is ``peer_offset_t`` standard errors from 0 and at least ``peer_offset_min_fraction_of_range``
    of the range, unless the sensor's own offset check raised one since the window began.

  A fault found is restated every hour while its trend or step keeps its sign and stays 2 standard errors from
  0, and ends when it does not (an offset, once its step has left the window). Nothing new is raised on a
  window that an incident finding of a sensor of the kind touched (:attr:`GroupState.incident_seen`): a storm
  fills each manhole by its own amount, which no gain on the median explains.

  A limit: over a few hours a trend or a step and part of the daily cycle look alike, so a trend or a step the
  peers share while their daily cycles differ in size leaves one at a sensor whose cycle is larger or smaller
  than the peers' median (gain ``b``). The simulator's faults sit on flat-trending peers; real networks may have such
  shared trends (groundwater, a season's warming).

The findings are ``sensor_fault`` (tier 3, rules :data:`PEER_DRIFT_RULE` and :data:`PEER_OFFSET_RULE`) for the
device maintainer. Unlike the sensor's own drift check they do **not** block the sensor's incidents: they rest
on a short window and on peers, and a wrongly blocked sensor would hide an incident.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from lifeline.models import AlertKind, SensorKind, SensorSpec, Tier

from .config import FaultRules
from .peer_fits import PeerFit, step_against_peers, trend_against_peers
from .results import Finding, WindowStats
from .rulebase import SensorProfile
from .state import Contribution, GroupState, HourlyMeans

__all__ = [
    "HOURLY_MEAN_FAMILY",
    "HOURLY_MEAN_RULE",
    "LAG_HOURS",
    "MAX_MISSING_HOURS",
    "OFFSET_EDGE_HOURS",
    "PEER_DRIFT_RULE",
    "PEER_FAULT_FAMILY",
    "PEER_FAULT_HOLD_MS",
    "PEER_NOTE",
    "PEER_OFFSET_RULE",
    "note_hourly_mean",
    "take_note",
    "warm_notes",
]

#: the rule of an hourly-mean note (informational: remembered by the group, never an alert)
HOURLY_MEAN_RULE = "note.hourly_mean:peers"
HOURLY_MEAN_FAMILY = HOURLY_MEAN_RULE.partition(":")[0]
#: the rules of a drift and of an offset found against the peers (sensor faults that do not block)
PEER_DRIFT_RULE = "fault.peers:drift"
PEER_OFFSET_RULE = "fault.peers:offset"
PEER_FAULT_FAMILY = PEER_DRIFT_RULE.partition(":")[0]
#: the profile flag of a sensor that notes its hourly means to its group
PEER_NOTE = "peer_note"
#: a kind is evaluated at hour ``h - LAG_HOURS`` by the first note of hour ``h`` (all notes of that hour are in)
LAG_HOURS = 1
#: an offset's step lies at least this many hours from either end of the window (a step needs hours on both sides)
OFFSET_EDGE_HOURS = 4
#: a window may miss this many hours (a sensor's silence, a restart): its sensors are fitted on the hours all have
MAX_MISSING_HOURS = 2
#: a found fault is restated every hour; its contribution lasts this long without a restatement
PEER_FAULT_HOLD_MS = 3 * 3_600_000
#: a found fault is restated while its trend or step keeps its sign and stays this many standard errors from 0
_HOLD_T = 2.0
_MS_PER_H = 3_600_000


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


def warm_notes(rows: Sequence[WindowStats], window_ms: int, keep_hours: int) -> HourlyMeans | None:
    """The hourly means the sensor would have noted for its last ``keep_hours`` whole hours of stored windows
    (``rows`` oldest first; an hour counts once its window ending on the hour is among them), for a warm start;
    ``None`` when there is no whole hour."""
    sums: dict[int, list[float]] = {}
    whole: set[int] = set()
    for w in rows:
        if w.window_s * 1000 != window_ms or w.count <= 0 or not math.isfinite(w.mean):
            continue
        hour = w.window_start - w.window_start % _MS_PER_H
        total = sums.setdefault(hour, [0.0, 0.0])
        total[0] += w.mean * w.count
        total[1] += w.count
        if (w.window_start + window_ms) % _MS_PER_H == 0 and window_ms <= _MS_PER_H:
            whole.add(hour)
    hours = sorted(whole)[-keep_hours:]
    if not hours:
        return None
    means = HourlyMeans.first(hours[0], sums[hours[0]][0] / sums[hours[0]][1])
    for h in hours[1:]:
        means.add(h, sums[h][0] / sums[h][1], keep=keep_hours)
    return means


def _hour_of_note(f: Finding) -> int:
    return f.ts - f.ts % _MS_PER_H - _MS_PER_H


def take_note(
    gs: GroupState, f: Finding, cfg: FaultRules, spec_of: Callable[[str], SensorSpec | None],
) -> list[Finding]:  # fmt: skip
    """Remember the hourly-mean note ``f`` in the group's state; at the first note of an hour of its kind,
    evaluate that kind (see the module doc) and return its faults found, restated or ended."""
    spec = spec_of(f.sensor_id)
    if spec is None:
        return []
    hour = _hour_of_note(f)
    kept = gs.hourly_means.get(f.sensor_id)
    if kept is None:
        gs.hourly_means[f.sensor_id] = HourlyMeans.first(hour, f.value)
    else:
        kept.add(hour, f.value, keep=cfg.peer_hours + LAG_HOURS)
    kind = spec.kind.value
    if gs.drift_evaluated.get(kind, -1) >= hour:
        return []
    gs.drift_evaluated[kind] = hour
    return _evaluate(gs, spec.kind, hour - LAG_HOURS * _MS_PER_H, f.ts, cfg, spec_of)


def _evaluate(
    gs: GroupState, kind: SensorKind, last_hour: int, ts: int, cfg: FaultRules,
    spec_of: Callable[[str], SensorSpec | None],
) -> list[Finding]:  # fmt: skip
    kept = [
        (spec, gs.hourly_means[sensor_id])
        for sensor_id in sorted(gs.hourly_means)
        if (spec := spec_of(sensor_id)) is not None and spec.kind is kind
    ]
    hours = _window_hours([means for _, means in kept], last_hour, cfg)
    if hours < cfg.peer_min_hours:
        return []
    first_hour = last_hour - (hours - 1) * _MS_PER_H
    specs: list[SensorSpec] = []
    rows: list[npt.NDArray[np.float64]] = []
    for spec, means in kept:
        row = means.window(first_hour, hours)
        if np.count_nonzero(np.isnan(row)) <= MAX_MISSING_HOURS:
            specs.append(spec)
            rows.append(row)
    if not rows:
        return []
    full = np.array(rows)
    present: npt.NDArray[np.bool_] = np.asarray(~np.isnan(full).any(axis=0))  # the hours every sensor kept has
    if np.count_nonzero(present) < hours - MAX_MISSING_HOURS or not present[-1]:
        return []
    window, hour = full[:, present], np.flatnonzero(present).astype(np.float64)
    trends = trend_against_peers(window, cfg.peer_min_peers, hour)
    steps = step_against_peers(window, cfg.peer_min_peers, 1, hour)  # the best step anywhere, to compare
    active = _active(gs.contributions)
    # an incident of this kind in the window (a storm filling the manholes, each by its own amount) moves the
    # sensors unlike their median: nothing new is raised on it
    touched = gs.incident_seen.get(kind.value, first_hour - 1) >= first_hour
    out: list[Finding] = []
    for spec, row, trend, step in zip(specs, window, trends, steps, strict=True):
        if trend is None or step is None:
            continue
        span = spec.valid_max - spec.valid_min
        found = active.get(spec.sensor_id)
        if found is not None:  # restated while its trend or step keeps its sign and stays clear of 0, else ended
            rule, sign = found
            fit = trend if rule == PEER_DRIFT_RULE else step
            holds = fit.t >= _HOLD_T and fit.size * sign > 0.0
            out.append(_finding(spec, gs.group_id, ts, row, hours, fit, rule, Tier.T3 if holds else None))
        elif touched:
            continue
        elif trend.rss <= step.rss:  # a line fits better than any step
            if trend.t >= cfg.peer_drift_t and trend.change >= cfg.peer_drift_min_fraction_of_range * span:
                out.append(_finding(spec, gs.group_id, ts, row, hours, trend, PEER_DRIFT_RULE, Tier.T3))
        elif (
            gs.own_offsets.get(spec.sensor_id, -1) < first_hour  # the sensor's own check did not raise it already
            and step.t >= cfg.peer_offset_t
            and step.change >= cfg.peer_offset_min_fraction_of_range * span
            and OFFSET_EDGE_HOURS <= step.at <= hours - OFFSET_EDGE_HOURS
        ):
            out.append(_finding(spec, gs.group_id, ts, row, hours, step, PEER_OFFSET_RULE, Tier.T3))
    return out


def _window_hours(kept: Sequence[HourlyMeans], last_hour: int, cfg: FaultRules) -> int:
    """The window's length in hours: ``peer_hours``, or the hours the group has kept of the kind (``kept``, its
    sensors' means) up to ``last_hour`` while that is fewer (the first hours after a deployment or a lost state)."""
    oldest = min((means.last_hour - (len(means.means) - 1) * _MS_PER_H for means in kept), default=last_hour)
    return min(cfg.peer_hours, (last_hour - oldest) // _MS_PER_H + 1)


def _active(contributions: Mapping[tuple[str, str, str], Contribution]) -> dict[str, tuple[str, float]]:
    """Sensor → (rule, sign of its trend or step) of each fault found against peers that is on."""
    return {
        c.sensor_id: (c.rule, math.copysign(1.0, c.change or 0.0))
        for c in contributions.values()
        if c.rule.partition(":")[0] == PEER_FAULT_FAMILY
    }


def _finding(
    spec: SensorSpec, group_id: str, ts: int, row: npt.NDArray[np.float64], hours: int, fit: PeerFit, rule: str,
    tier: Tier | None,
) -> Finding:  # fmt: skip
    unit, peers = spec.unit, f"the median of {fit.peers} {spec.kind.value} peers of the group"
    what = "drift" if rule == PEER_DRIFT_RULE else "offset"
    if tier is None:
        evidence = f"{what} against peers ended: now {fit.t:.1f} standard errors from 0"
    elif rule == PEER_DRIFT_RULE:
        evidence = (
            f"drift against peers: over {hours} h the hourly means moved {fit.size * (hours - 1):+.4g} {unit} "
            f"({fit.size:+.4g} {unit}/h, {fit.t:.1f} standard errors from 0) beyond what {peers} explains; "
            "the sensor's readings still count"
        )
    else:
        evidence = (
            f"offset against peers: the hourly means stepped {fit.size:+.4g} {unit} {hours - fit.at:.0f} h before the "
            f"end of the {hours}-h window ({fit.t:.1f} standard errors from 0) beyond what {peers} explains; "
            "the sensor's readings still count"
        )
    change = fit.size * (hours - 1) if rule == PEER_DRIFT_RULE else fit.size
    return Finding(
        spec.sensor_id, spec.asset_id, group_id, AlertKind.SENSOR_FAULT, tier, ts, float(row[-1]),
        0.5 if tier is not None else 0.0, evidence, rule, change=change,
    )  # fmt: skip
