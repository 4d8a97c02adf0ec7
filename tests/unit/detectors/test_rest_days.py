"""Rest days: weekends, public holidays and the weekend days worked in their place (detectors/calendar.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lifeline.detectors.calendar import WEEKENDS, CalendarError, RestDays, day_of_ts, local_day
from lifeline.detectors.config import AnomalyRules, LeakConfig, RulesConfig, rules_from_table
from lifeline.detectors.hydraulic import DmaLeakDetector
from lifeline.detectors.results import WindowStats
from lifeline.detectors.sensor_baseline import new_baseline
from lifeline.exceptions import SettingsError

HOUR_MS = 3_600_000
# National Day 2026 (a Thursday) to Wednesday 7 October, with Sunday 11 October worked in their place
GOLDEN_WEEK = [f"2026-10-0{d}" for d in range(1, 8)]
WORKED = ["2026-10-11"]


def test_weekends_holidays_and_worked_days_by_hand() -> None:
    days = RestDays.parse(GOLDEN_WEEK, WORKED)
    rest = [days.is_rest(local_day(f"2026-10-{d:02d}")) for d in range(1, 13)]
    #       Thu   Fri   Sat   Sun   Mon   Tue   Wed   Thu    Fri    Sat   Sun    Mon
    assert rest == [True, True, True, True, True, True, True, False, False, True, False, False]
    starts = [d for d in range(1, 13) if days.starts_a_day_type(local_day(f"2026-10-{d:02d}"))]
    assert starts == [1, 8, 10, 11]  # the holiday's first day, the first working day, a Saturday, the worked Sunday
    assert [WEEKENDS.is_rest(local_day(f"2026-10-0{d}")) for d in (2, 3, 4, 5)] == [False, True, True, False]


def test_every_bad_date_is_named_at_once_and_a_date_cannot_be_both() -> None:
    with pytest.raises(CalendarError) as caught:
        RestDays.parse(["2026-10-01", "2026-13-01", "1 Oct"], ["2026-02-30"])
    message = str(caught.value)
    assert message.startswith("3 bad dates")
    assert "'2026-13-01'" in message and "'1 Oct'" in message and "workdays: '2026-02-30'" in message
    with pytest.raises(CalendarError, match="both a holiday and a workday: 2026-10-01"):
        RestDays.parse(["2026-10-01"], ["2026-10-01"])


def test_the_rules_table_takes_the_dates_and_refuses_bad_ones_as_a_settings_error() -> None:
    rules = rules_from_table({"holidays": GOLDEN_WEEK, "workdays": WORKED}, "test")
    assert rules.rest_days.is_rest(local_day("2026-10-05"))
    assert not rules.rest_days.is_rest(local_day("2026-10-11"))
    assert RulesConfig().rest_days is WEEKENDS
    with pytest.raises(SettingsError, match="2026-10-32"):
        rules_from_table({"holidays": ["2026-10-32"]}, "test")


def test_the_dma_leak_detector_takes_a_weekday_holiday_for_a_rest_day() -> None:
    monday = local_day("2026-10-05") * 86_400_000 - 8 * HOUR_MS + 12 * HOUR_MS  # noon in China
    assert day_of_ts(monday, 8.0) == local_day("2026-10-05")
    plain = DmaLeakDetector(group_id="g", meter_id="m", logger_ids=[], config=LeakConfig())
    holiday = DmaLeakDetector(group_id="g", meter_id="m", logger_ids=[], config=LeakConfig(holidays=tuple(GOLDEN_WEEK)))
    assert not plain._weekend(monday)
    assert holiday._weekend(monday)


def _window(hour: int, mean: float) -> WindowStats:
    return WindowStats("p1", hour * HOUR_MS, 3600, 60, mean, mean, mean, 0.0, 0.0, mean)


def _demand(day: int, hour: int, days: RestDays) -> float:
    """A daily pattern, 3 lower on rest days."""
    return 50.0 + 5.0 * math.sin(2 * math.pi * hour / 24) - (3.0 if days.is_rest(day) else 0.0)


def _flagged_days(days_seen: RestDays, days_told: RestDays, first: int, count: int) -> list[int]:
    """Train 6 weeks before ``first`` on demand that follows ``days_seen``; then the days flagged from ``first``
    on when the baseline is told ``days_told``."""
    rng = np.random.default_rng(5)
    model = new_baseline(config=AnomalyRules(utc_offset_h=0.0), window_s=3600)
    flagged: set[int] = set()
    for day in range(first - 42, first + count):
        for hour in range(24):
            w = _window(24 * day + hour, _demand(day, hour, days_seen) + rng.normal(0.0, 0.2))
            verdict = model.score_and_learn(w, rest_days=days_told)
            if day >= first and verdict is not None and verdict.is_anomaly:
                flagged.add(day - first)
    return sorted(flagged)


def test_a_holiday_week_that_the_baseline_is_told_of_raises_nothing() -> None:
    golden = RestDays.parse(GOLDEN_WEEK, WORKED)
    first = local_day("2026-09-28")  # a Monday; the holidays are days 3..9, the worked Sunday day 13
    assert _flagged_days(golden, golden, first, 16) == []
    # not told: the weekday holidays stand 3 below their weekday slots (Monday 5 October excepted: the first
    # day of a day type may match the other type's slots, see test_sensor_baseline.py)
    untold = _flagged_days(golden, WEEKENDS, first, 16)
    assert {3, 4, 8, 9} <= set(untold)
    assert 7 not in untold
    # and the worked Sunday, after a Saturday at rest, stands 3 above its weekend slots
    assert 13 in untold
