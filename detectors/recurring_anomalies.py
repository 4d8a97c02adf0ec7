"""Anomalies that recur at the same time of day: the sensor's schedule, not news.

A pump on a timer, a tank that refills at the same hour, a factory's shift: a logger whose level at that hour
differs from the hour's learned slot on some days only (the schedule moves by a few minutes, or runs on some days)
is flagged by the per-sensor baseline at the same local time day after day, and a window the baseline flags is
not learned, so the slot never takes it in. On Net3 (`bench_water`, 30 days, seed 1, a tuning seed) one logger
stood 0.006 MPa above its 16:00 slot at 16:33 local on five weekdays in a row, and opened five `anomaly` alerts.

The group remembers when each anomaly condition began (per sensor for the per-sensor baseline, per group for the
group model, whose lead sensor changes from day to day). An anomaly that begins within ``recurring_tol_s`` of the
time it began on at least ``recurring_min_days`` of the last ``recurring_days`` days of the same day type (a
weekday against weekdays, a rest day against rest days: a schedule follows the week) is taken as the schedule:
its condition opens no alert while it lasts. The first occurrences still alert; a real change that recurs daily
has by then been reported.
"""

from __future__ import annotations

from .calendar import RestDays, day_of_ts
from .config import AnomalyRules

__all__ = ["forget_onsets", "recurring", "remember_onset"]

_DAY_MS = 86_400_000
#: the furthest back a day of the same type is looked for (a holiday week between two working weeks)
_LOOKBACK_DAYS = 14


def recurring(onsets: list[int], ts: int, cfg: AnomalyRules, rest: RestDays, utc_offset_h: float) -> bool:
    """Whether an anomaly beginning at ``ts`` began within ``cfg.recurring_tol_s`` of the same time of day on at
    least ``cfg.recurring_min_days`` of the last ``cfg.recurring_days`` days of ``ts``'s day type (``onsets``: the
    earlier beginnings of that condition).

    >>> from lifeline.detectors.config import AnomalyRules
    >>> cfg, rest = AnomalyRules(), RestDays.parse((), ())
    >>> monday_0833 = 1_721_608_380_000  # 2024-07-22 00:33 UTC, 08:33 in China
    >>> week = [monday_0833 + d * _DAY_MS for d in (-4, -3, -6)]  # Thu, Fri and the Tuesday before: weekdays
    >>> recurring(week, monday_0833, cfg, rest, 8.0), recurring(week[:1], monday_0833, cfg, rest, 8.0)
    (True, False)
    >>> recurring([monday_0833 - 2 * _DAY_MS, monday_0833 - _DAY_MS], monday_0833, cfg, rest, 8.0)  # the weekend
    False
    """
    if cfg.recurring_days <= 0 or not onsets:
        return False
    day = day_of_ts(ts, utc_offset_h)
    rest_day = rest.is_rest(day)
    tol = cfg.recurring_tol_s * 1000
    looked = matched = 0
    for back in range(1, _LOOKBACK_DAYS + 1):
        if looked >= cfg.recurring_days:
            break
        if rest.is_rest(day - back) != rest_day:
            continue
        looked += 1
        then = ts - back * _DAY_MS
        matched += any(abs(onset - then) <= tol for onset in onsets)
    return matched >= cfg.recurring_min_days


def remember_onset(onsets: list[int], ts: int) -> None:
    """Add the beginning of a condition, and forget those no later one can still look back to."""
    onsets.append(ts)
    forget_onsets(onsets, ts)


def forget_onsets(onsets: list[int], now: int) -> None:
    """Drop the beginnings older than the furthest day a recurrence looks back to."""
    horizon = now - (_LOOKBACK_DAYS + 1) * _DAY_MS
    if onsets and onsets[0] < horizon:
        onsets[:] = [onset for onset in onsets if onset >= horizon]
