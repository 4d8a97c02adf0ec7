"""Readings in QuestDB: latest value per sensor and down-sampled series (``SAMPLE BY``).

The ``SAMPLE BY`` interval is the only SQL text that depends on the request; it is rebuilt from a
validated integer and a unit letter, never copied from the request.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from lifeline.api.exceptions import UserInputError
from lifeline.connectors.questdb import QuestDB

__all__ = ["INTERVAL_LADDER", "ReadingStore", "choose_interval", "parse_interval"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL = re.compile(r"^([1-9][0-9]{0,4})([smhd])$")
INTERVAL_LADDER = ("1s", "5s", "10s", "30s", "1m", "5m", "10m", "15m", "30m", "1h", "3h", "6h", "12h", "1d", "7d")


def parse_interval(text: str) -> tuple[str, int]:
    """``"5m"`` → ``("5m", 300)``; :class:`UserInputError` for anything else."""
    match = _INTERVAL.match(text.strip())
    if match is None:
        raise UserInputError(f"interval {text!r} is not <number><s|m|h|d>, e.g. 30s, 5m, 1h")
    number, unit = int(match.group(1)), match.group(2)
    return f"{number}{unit}", number * _UNITS[unit]


def choose_interval(span: timedelta, max_points: int) -> tuple[str, int]:
    """The finest interval of :data:`INTERVAL_LADDER` that keeps ``span`` within ``max_points`` buckets."""
    seconds = max(span.total_seconds(), 1.0)
    for text in INTERVAL_LADDER:
        _, width = parse_interval(text)
        if seconds / width <= max_points:
            return text, width
    return parse_interval(INTERVAL_LADDER[-1])


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class ReadingStore:
    """Queries over the ``readings`` table."""

    def __init__(self, db: QuestDB) -> None:
        self.db = db
        self._table = db.table("readings")

    def latest(self, sensor_ids: list[str]) -> dict[str, tuple[float, datetime]]:
        """Latest ``(value, ts)`` of each sensor that has readings."""
        result: dict[str, tuple[float, datetime]] = {}
        for i in range(0, len(sensor_ids), 500):
            chunk = sensor_ids[i : i + 500]
            marks = ", ".join(["%s"] * len(chunk))
            sql = (
                f"SELECT sensor_id, value, ts FROM {self._table} WHERE sensor_id IN ({marks}) "  # noqa: S608 (fixed)
                "LATEST ON ts PARTITION BY sensor_id"
            )
            for sid, value, ts in self.db.query(sql, chunk).rows:
                result[str(sid)] = (float(value), _aware(ts))
        return result

    def series(self, sensor_id: str, start: datetime, end: datetime, interval: str) -> list[dict[str, Any]]:
        """Buckets ``{ts, mean, min, max, count}`` of one sensor in ``[start, end)``; interval pre-validated."""
        interval, _ = parse_interval(interval)
        head = f"SELECT ts, avg(value) mean, min(value) min, max(value) max, count() count FROM {self._table}"  # noqa: S608
        sql = f"{head} WHERE sensor_id = %s AND ts >= %s AND ts < %s SAMPLE BY {interval} ALIGN TO CALENDAR"
        rows = self.db.query(sql, [sensor_id, start, end]).dicts()
        for row in rows:
            row["ts"] = _aware(row["ts"])
        return rows
