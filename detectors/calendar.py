"""Which local days are rest days: weekends, public holidays (法定节假日) and the weekend days worked in their
place (调休上班日), for the detectors that learn a weekday and a rest-day pattern.

China moves working days around its public holidays every year: the Spring Festival and National Day weeks
are rest days from Monday to Sunday, and one or two Saturdays or Sundays next to them are working days. A
city's water demand on those days follows the rest-day pattern (a weekday holiday) or the working-day
pattern (a worked Sunday). The State Council publishes the dates each year; ``[rules] holidays`` and
``[rules] workdays`` take them as ``YYYY-MM-DD`` local dates (docs/domain.md#rest-days-and-holidays).

>>> days = RestDays.parse(["2026-10-01", "2026-10-02"], ["2026-10-10"])
>>> [days.is_rest(local_day("2026-09-30")), days.is_rest(local_day("2026-10-01"))]  # a Wednesday, National Day
[False, True]
>>> [days.is_rest(local_day("2026-10-10")), days.is_rest(local_day("2026-10-11"))]  # a worked Saturday, a Sunday
[False, True]
>>> try:
...     RestDays.parse(["2026-02-30", "tomorrow"], [])
... except CalendarError as exc:
...     print(exc)
2 bad dates (YYYY-MM-DD local dates expected): holidays: '2026-02-30', 'tomorrow'
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from lifeline.exceptions import LifelineError

__all__ = ["WEEKENDS", "CalendarError", "RestDays", "day_of_ts", "local_day"]

_EPOCH = date(1970, 1, 1)
_MS_PER_DAY = 86_400_000


class CalendarError(LifelineError, ValueError):
    """Dates of ``[rules] holidays`` / ``workdays`` that are not ``YYYY-MM-DD`` (every bad one at once)."""


def local_day(iso: str) -> int:
    """Days from 1970-01-01 to the local date ``iso`` (``YYYY-MM-DD``).

    >>> local_day("1970-01-02")
    1
    """
    return (date.fromisoformat(iso) - _EPOCH).days


def day_of_ts(ts_ms: int, utc_offset_h: float) -> int:
    """The local day (days from 1970-01-01) of the event time ``ts_ms`` (UTC milliseconds).

    >>> day_of_ts(16 * 3_600_000, 8.0)   # 1970-01-01 16:00 UTC is 00:00 on 1970-01-02 in China
    1
    """
    return int((ts_ms + round(utc_offset_h * 3_600_000)) // _MS_PER_DAY)


@dataclass(frozen=True, slots=True)
class RestDays:
    """Saturdays and Sundays are rest days, and so is every day of ``holidays``; no day of ``workdays`` is."""

    holidays: frozenset[int] = frozenset()
    workdays: frozenset[int] = frozenset()

    @staticmethod
    def parse(holidays: Sequence[str], workdays: Sequence[str]) -> RestDays:
        """The calendar of these ``YYYY-MM-DD`` dates (cached: the same lists give the same object)."""
        return _parse(tuple(holidays), tuple(workdays))

    def is_rest(self, day: int) -> bool:
        """Whether the local day ``day`` (days from 1970-01-01) is a rest day."""
        if day in self.holidays:
            return True
        if day in self.workdays:
            return False
        return (day + 3) % 7 >= 5  # 1970-01-01 was a Thursday: Monday = 0

    def starts_a_day_type(self, day: int) -> bool:
        """Whether ``day`` is of the other day type than the day before (a Monday, a Saturday, a holiday's
        first day, the first working day after one)."""
        return self.is_rest(day) != self.is_rest(day - 1)


#: the calendar with no holidays: Saturday and Sunday
WEEKENDS = RestDays()


@functools.lru_cache(maxsize=16)
def _parse(holidays: tuple[str, ...], workdays: tuple[str, ...]) -> RestDays:
    problems: list[str] = []
    count = 0
    parsed: list[frozenset[int]] = []
    for name, dates in (("holidays", holidays), ("workdays", workdays)):
        days: set[int] = set()
        bad: list[str] = []
        for iso in dates:
            try:
                days.add(local_day(iso))
            except (TypeError, ValueError):
                bad.append(repr(iso))
        if bad:
            problems.append(f"{name}: {', '.join(bad)}")
            count += len(bad)
        parsed.append(frozenset(days))
    if problems:
        what = "bad date" if count == 1 else "bad dates"
        raise CalendarError(f"{count} {what} (YYYY-MM-DD local dates expected): {'; '.join(problems)}")
    both = parsed[0] & parsed[1]
    if both:
        listed = ", ".join(str(date.fromordinal(_EPOCH.toordinal() + d)) for d in sorted(both))
        raise CalendarError(f"dates both a holiday and a workday: {listed}")
    if not parsed[0] and not parsed[1]:
        return WEEKENDS
    return RestDays(parsed[0], parsed[1])
