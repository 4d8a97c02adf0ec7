"""Audits of the notifier's delivery log (``notifications``) against the alert history (``alert_events``):

* **first-notice latency** per tier — for each alert, the first notice sent about it (to anyone), and the
  time from the alert event it announced (``ts``) to its send time (``sent_at``);
* **missed acknowledgements** — tier-1/2 alerts opened in the period that were not acknowledged within
  the target (``late`` when acknowledged after it, ``missing`` when never), with whether anyone was told.

The computations (:func:`first_notice_latencies`, :func:`latency_summary`, :func:`missed_acks`) take plain
rows and are tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from lifeline.connectors.questdb import QuestDB
from lifeline.models import datetime_to_ms
from lifeline.schema import ALERT_EVENTS, NOTIFICATIONS

__all__ = [
    "FirstNotice",
    "MissedAck",
    "NotificationStore",
    "TierLatency",
    "first_notice_latencies",
    "latency_summary",
    "missed_acks",
]


@dataclass(frozen=True, slots=True)
class FirstNotice:
    """The first notice sent about one alert."""

    alert_id: str
    tier: int
    event_ms: int
    sent_ms: int

    @property
    def latency_s(self) -> float:
        """Seconds from the alert event to the notice."""
        return (self.sent_ms - self.event_ms) / 1000


@dataclass(frozen=True, slots=True)
class TierLatency:
    """First-notice latency figures of one tier."""

    tier: int
    alerts: int
    p50_s: float
    p90_s: float
    max_s: float
    mean_s: float


@dataclass(frozen=True, slots=True)
class MissedAck:
    """A tier-1/2 alert not acknowledged within the target."""

    alert_id: str
    tier: int
    owner: str
    asset_id: str
    kind: str
    opened_ms: int
    acknowledged_ms: int | None
    notified: bool

    @property
    def status(self) -> str:
        """``late`` (acknowledged after the target) or ``missing`` (never acknowledged)."""
        return "missing" if self.acknowledged_ms is None else "late"


def _ms(value: Any) -> int:
    assert isinstance(value, datetime)
    return datetime_to_ms(value if value.tzinfo else value.replace(tzinfo=UTC))


def first_notice_latencies(rows: list[dict[str, Any]]) -> list[FirstNotice]:
    """Rows of sent notices (``alert_id, tier, ts, sent_at``) → the earliest per alert."""
    first: dict[str, FirstNotice] = {}
    for row in rows:
        if row.get("sent_at") is None:
            continue  # logged before send times were recorded
        notice = FirstNotice(str(row["alert_id"]), int(row["tier"]), _ms(row["ts"]), _ms(row["sent_at"]))
        known = first.get(notice.alert_id)
        if known is None or notice.sent_ms < known.sent_ms:
            first[notice.alert_id] = notice
    return sorted(first.values(), key=lambda n: n.sent_ms)


def latency_summary(notices: list[FirstNotice]) -> list[TierLatency]:
    """p50, p90, max and mean first-notice latency per tier (tiers without alerts are left out)."""
    out: list[TierLatency] = []
    for tier in (1, 2, 3):
        values = np.array([n.latency_s for n in notices if n.tier == tier], dtype=float)
        if values.size:
            p50, p90 = (float(np.percentile(values, q)) for q in (50, 90))
            out.append(TierLatency(tier, int(values.size), p50, p90, float(values.max()), float(values.mean())))
    return out


def missed_acks(events: list[dict[str, Any]], notified: set[str], *, within_s: float) -> list[MissedAck]:
    """Alert event rows (``alert_id, event, tier, owner, asset_id, kind, ts``) → tier-1/2 alerts opened and
    not acknowledged within ``within_s`` seconds, oldest first."""
    opened: dict[str, dict[str, Any]] = {}
    acked: dict[str, int] = {}
    for row in sorted(events, key=lambda r: _ms(r["ts"])):
        alert_id = str(row["alert_id"])
        if row["event"] == "opened" and int(row["tier"]) <= 2 and alert_id not in opened:
            opened[alert_id] = row
        elif row["event"] == "acknowledged" and alert_id not in acked:
            acked[alert_id] = _ms(row["ts"])
    out: list[MissedAck] = []
    for alert_id, row in opened.items():
        opened_ms = _ms(row["ts"])
        ack = acked.get(alert_id)
        if ack is None or ack - opened_ms > within_s * 1000:
            out.append(MissedAck(alert_id, int(row["tier"]), str(row["owner"]), str(row["asset_id"]),
                                 str(row["kind"]), opened_ms, ack, alert_id in notified))  # fmt: skip
    return sorted(out, key=lambda m: m.opened_ms)


class NotificationStore:
    """Reads ``notifications`` and ``alert_events`` for the audits."""

    def __init__(self, db: QuestDB) -> None:
        self.db = db

    def _range(self, start: datetime | None, end: datetime | None) -> tuple[str, list[Any]]:
        where, params = [], []
        if start is not None:
            where.append("ts >= %s")
            params.append(start)
        if end is not None:
            where.append("ts < %s")
            params.append(end)
        return (" AND " + " AND ".join(where)) if where else "", params

    def owned_alerts(self, owner: str, start: datetime | None, end: datetime | None) -> set[str]:
        """Alert ids of ``owner`` with events in the range."""
        cond, params = self._range(start, end)
        table = self.db.table(ALERT_EVENTS.name)
        sql = f"SELECT DISTINCT alert_id FROM {table} WHERE owner = %s{cond}"  # noqa: S608 (fixed names)
        return {str(r[0]) for r in self.db.query(sql, [owner, *params]).rows}

    def sent_rows(self, start: datetime | None, end: datetime | None) -> list[dict[str, Any]]:
        """Sent notices about alert events in the range."""
        cond, params = self._range(start, end)
        table = self.db.table(NOTIFICATIONS.name)
        sql = f"SELECT alert_id, tier, ts, sent_at FROM {table} WHERE status = 'sent'{cond}"  # noqa: S608
        return self.db.query(sql, params).dicts()

    def event_rows(self, start: datetime | None, end: datetime | None) -> list[dict[str, Any]]:
        """Opened and acknowledged events in the range."""
        cond, params = self._range(start, end)
        table = self.db.table(ALERT_EVENTS.name)
        sql = (f"SELECT alert_id, event, tier, owner, asset_id, kind, ts FROM {table} "  # noqa: S608 (fixed names)
               f"WHERE event IN ('opened', 'acknowledged'){cond}")  # fmt: skip
        return self.db.query(sql, params).dicts()
