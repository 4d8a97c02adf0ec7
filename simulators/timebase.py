"""Time parsing and local-time helpers. Hefei is UTC+8 all year; daily cycles follow local time.

>>> parse_duration("1h30m")
5400.0
>>> parse_start("2024-07-15T00:00:00Z")
1721001600000
"""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from lifeline.models import datetime_to_ms
from lifeline.simulators.exceptions import BadDurationError, BadStartError

__all__ = [
    "DEFAULT_START",
    "HOUR_MS",
    "LOCAL_UTC_OFFSET_H",
    "MINUTE_MS",
    "local_hour",
    "parse_duration",
    "parse_start",
]

#: Default scenario start: a fixed epoch so that output is deterministic.
DEFAULT_START = "2024-07-15T00:00:00Z"
LOCAL_UTC_OFFSET_H = 8.0
MINUTE_MS = 60_000
HOUR_MS = 3_600_000

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|min|s|m|h|d)")


def parse_duration(text: str) -> float:
    """Parse ``"6h"``, ``"90m"``, ``"1h30m"``, ``"2d"`` or plain seconds into seconds (> 0)."""
    cleaned = text.strip().lower().replace(" ", "")
    if not cleaned:
        raise BadDurationError(text, "it is empty")
    try:
        seconds = float(cleaned)
    except ValueError:
        pos, seconds = 0, 0.0
        for match in _PART.finditer(cleaned):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos != len(cleaned):
            raise BadDurationError(text) from None
    if not np.isfinite(seconds) or seconds <= 0:
        raise BadDurationError(text, "it must be a positive length of time")
    return seconds


def parse_start(text: str) -> int:
    """Parse an aware ISO-8601 time (``Z`` or an offset) into epoch milliseconds; naive times are refused."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise BadStartError(text, str(exc)) from None
    if moment.tzinfo is None:
        raise BadStartError(text, "it has no time zone, and we never guess one")
    return datetime_to_ms(moment)


def local_hour(ts_ms: NDArray[np.int64] | NDArray[np.float64]) -> NDArray[np.float64]:
    """Hour of the local (UTC+8) day, 0 ≤ h < 24, for epoch-millisecond times."""
    hours: NDArray[np.float64] = (np.asarray(ts_ms, dtype=np.float64) / HOUR_MS + LOCAL_UTC_OFFSET_H) % 24.0
    return hours
