"""Alert history in QuestDB ``alert_events``: listing, timelines, and writing lifecycle events.

Every query is built from fixed text, placeholder counts and validated enums; user values travel
as PG-wire bound parameters only.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from lifeline.api.filters import AlertFilter
from lifeline.api.state import AlertStatus
from lifeline.connectors.questdb import QuestDB, write_alert_event
from lifeline.models import AlertEvent, AlertEventType, AlertKind, Lifeline, Tier, datetime_to_ms
from lifeline.schema import ALERT_EVENTS

__all__ = ["AlertStore", "parse_sensor_ids"]

_COLUMNS = ", ".join(ALERT_EVENTS.column_names)
_STATUS_EVENTS: dict[AlertStatus, tuple[str, ...]] = {
    AlertStatus.OPEN: ("opened", "escalated", "de-escalated", "updated"),
    AlertStatus.ACKNOWLEDGED: ("acknowledged",),
    AlertStatus.CLEARED: ("cleared",),
    AlertStatus.RESOLVED: ("resolved",),
}


def parse_sensor_ids(text: str | None) -> tuple[str, ...]:
    """Read back comma-separated or JSON-array sensor ids."""
    if not text:
        return ()
    if text.startswith("["):
        return tuple(str(x) for x in json.loads(text))
    return tuple(part for part in text.split(",") if part)


def _ms(value: datetime | None) -> int:
    if value is None:
        return 0
    return datetime_to_ms(value if value.tzinfo is not None else value.replace(tzinfo=UTC))


def row_to_event(row: dict[str, Any]) -> AlertEvent:
    """A QuestDB ``alert_events`` row → :class:`AlertEvent`."""
    return AlertEvent(
        alert_id=row["alert_id"], event=AlertEventType(row["event"]), tier=Tier(int(row["tier"])),
        lifeline=Lifeline(row["lifeline"]), kind=AlertKind(row["kind"]), asset_id=row["asset_id"] or "",
        owner=row["owner"] or "", district=row["district"] or "", sensor_ids=parse_sensor_ids(row["sensor_ids"]),
        started_at=_ms(row["started_at"]), ts=_ms(row["ts"]), value=float(row["value"] or 0.0),
        score=float(row["score"] or 0.0), evidence=row["evidence"] or "", actor=row["actor"] or "",
        comment=row["comment"] or "", location=row.get("location") or "",
    )  # fmt: skip


def _in(column: str, values: list[str], where: list[str], params: list[Any]) -> None:
    where.append(f"{column} IN ({', '.join(['%s'] * len(values))})")
    params.extend(values)


class AlertStore:
    """Reads and writes ``alert_events``."""

    def __init__(self, db: QuestDB) -> None:
        self.db = db
        self._table = db.table(ALERT_EVENTS.name)

    def write(self, event: AlertEvent) -> None:
        """Store one lifecycle event (idempotent: the table de-duplicates on ts, alert_id, event)."""
        with self.db.sender() as sender:
            write_alert_event(sender, self._table, event)
            sender.flush()

    def timeline(self, alert_id: str) -> list[AlertEvent]:
        """Every stored event of one alert, oldest first."""
        sql = f"SELECT {_COLUMNS} FROM {self._table} WHERE alert_id = %s ORDER BY ts"  # noqa: S608 (fixed names)
        return [row_to_event(r) for r in self.db.query(sql, [alert_id]).dicts()]

    def history(
        self, filt: AlertFilter, *, start: datetime | None, end: datetime | None, limit: int, offset: int
    ) -> tuple[list[AlertEvent], bool]:
        """Latest event of each alert with events in ``[start, end)``, newest first; and whether more exist."""
        where: list[str] = []
        params: list[Any] = []
        if start is not None:
            where.append("ts >= %s")
            params.append(start)
        if end is not None:
            where.append("ts < %s")
            params.append(end)
        if filt.lifelines:
            _in("lifeline", sorted(x.value for x in filt.lifelines), where, params)
        if filt.kinds:
            _in("kind", sorted(x.value for x in filt.kinds), where, params)
        if filt.districts:
            _in("district", sorted(filt.districts), where, params)
        if filt.owners:
            _in("owner", sorted(filt.owners), where, params)
        inner = f"SELECT {_COLUMNS} FROM {self._table}"  # noqa: S608 (fixed names)
        if where:
            inner += " WHERE " + " AND ".join(where)
        inner += " LATEST ON ts PARTITION BY alert_id"
        outer: list[str] = []
        if filt.max_tier is not None:
            outer.append("tier <= %s")
            params.append(int(filt.max_tier))
        if filt.statuses:
            events = sorted({e for s in filt.statuses for e in _STATUS_EVENTS[s]})
            _in("event", events, outer, params)
        sql = f"SELECT * FROM ({inner})"  # noqa: S608 (built from fixed fragments)
        if outer:
            sql += " WHERE " + " AND ".join(outer)
        sql += " ORDER BY ts DESC LIMIT %s, %s"
        params.extend([int(offset), int(offset) + int(limit) + 1])
        rows = [row_to_event(r) for r in self.db.query(sql, params).dicts()]
        return rows[:limit], len(rows) > limit
