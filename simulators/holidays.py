"""China's official public holidays and the weekend days worked in their place (调休上班日), as local dates.

The State Council publishes them each year (国务院办公厅关于部分节假日安排的通知). The hydraulic scenarios'
demand follows them (a holiday takes the rest-day pattern, a worked weekend day the working-day one), and a
deployment gives the same dates to the detectors as ``[rules] holidays`` and ``[rules] workdays``
(docs/domain.md#rest-days-and-holidays). Only the years listed here are known; other years have weekends only.

>>> "2024-10-01" in HOLIDAYS and "2024-09-29" in WORKDAYS   # National Day 2024, a Sunday worked
True
>>> is_rest_day("2024-10-04"), is_rest_day("2024-10-12"), is_rest_day("2024-10-13")  # Fri holiday, Sat worked, Sun
(True, False, True)
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

__all__ = ["HOLIDAYS", "WORKDAYS", "is_rest_day", "rest_day_mask"]


def _span(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [str(start + timedelta(days=d)) for d in range((end - start).days + 1)]


#: 2024 and 2025: New Year, Spring Festival, Qingming, Labour Day, Dragon Boat, Mid-Autumn, National Day
HOLIDAYS: tuple[str, ...] = tuple(
    ["2024-01-01", *_span("2024-02-10", "2024-02-17"), *_span("2024-04-04", "2024-04-06"),
     *_span("2024-05-01", "2024-05-05"), *_span("2024-06-08", "2024-06-10"), *_span("2024-09-15", "2024-09-17"),
     *_span("2024-10-01", "2024-10-07"),
     "2025-01-01", *_span("2025-01-28", "2025-02-04"), *_span("2025-04-04", "2025-04-06"),
     *_span("2025-05-01", "2025-05-05"), *_span("2025-05-31", "2025-06-02"), *_span("2025-10-01", "2025-10-08")]
)  # fmt: skip
#: the Saturdays and Sundays worked in their place
WORKDAYS: tuple[str, ...] = (
    "2024-02-04", "2024-02-18", "2024-04-07", "2024-04-28", "2024-05-11", "2024-09-14", "2024-09-29", "2024-10-12",
    "2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11",
)  # fmt: skip

_EPOCH = date(1970, 1, 1)
_HOLIDAY_DAYS = frozenset((date.fromisoformat(d) - _EPOCH).days for d in HOLIDAYS)
_WORK_DAYS = frozenset((date.fromisoformat(d) - _EPOCH).days for d in WORKDAYS)


def is_rest_day(iso: str) -> bool:
    """Whether the local date ``iso`` (``YYYY-MM-DD``) is a rest day: a holiday, or a weekend day not worked."""
    return bool(rest_day_mask(np.array([(date.fromisoformat(iso) - _EPOCH).days]))[0])


def rest_day_mask(local_days: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """For each local day (days from 1970-01-01, a Thursday), whether it is a rest day."""
    weekend = (local_days + 3) % 7 >= 5
    holiday = np.isin(local_days, list(_HOLIDAY_DAYS))
    worked = np.isin(local_days, list(_WORK_DAYS))
    return np.asarray((weekend | holiday) & ~worked)
