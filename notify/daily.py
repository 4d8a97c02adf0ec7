"""The daily per-owner digest, free of I/O: what happened to an owner's alerts in the last day, due at a
local time of day (``[daily_digest] at = "08:00"`` in the rules' ``timezone``, Asia/Shanghai by default).

Each digest covers ``[due - 1 day, due)`` in local time and lists: alerts **new** (opened), **escalated**,
**resolved** (resolved or cleared) in that day; alerts still **open** at the due time; the **top assets**
by alerts; and **sensor faults to fix** (open ``sensor_fault`` alerts). An owner with a quiet day still
gets one ("no new alerts"), so silence never means a broken notifier.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from lifeline.models import AlertEvent, AlertEventType, AlertKind

__all__ = ["DailyBook", "OwnerDigest", "next_due_ms"]

_CLOSED = (AlertEventType.CLEARED, AlertEventType.RESOLVED)
TOP_ASSETS = 5


def next_due_ms(now_ms: int, at_minute: int, zone: str) -> int:
    """The first local ``at_minute`` (minutes after midnight in ``zone``) strictly after ``now_ms``."""
    tz = ZoneInfo(zone)
    local = datetime.fromtimestamp(now_ms / 1000, tz)
    candidate = local.replace(hour=at_minute // 60, minute=at_minute % 60, second=0, microsecond=0)
    while round(candidate.timestamp() * 1000) <= now_ms:
        candidate = (candidate + timedelta(days=1)).replace(tzinfo=tz)
    return round(candidate.timestamp() * 1000)


def _day_before_ms(due_ms: int, zone: str) -> int:
    tz = ZoneInfo(zone)
    due = datetime.fromtimestamp(due_ms / 1000, tz)
    return round((due - timedelta(days=1)).replace(tzinfo=tz).timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class OwnerDigest:
    """One owner's day. Alert lists hold each alert's latest event in (or, for ``open``, before) the day."""

    owner: str
    day: str
    start_ms: int
    due_ms: int
    new: tuple[AlertEvent, ...]
    escalated: tuple[AlertEvent, ...]
    resolved: tuple[AlertEvent, ...]
    open: tuple[AlertEvent, ...]
    top_assets: tuple[tuple[str, int], ...]
    faults_to_fix: tuple[AlertEvent, ...]

    @property
    def digest_id(self) -> str:
        """Stable id of this digest (the delivery log's ``alert_id`` for it)."""
        return f"daily-digest:{self.owner}:{self.day}"


class DailyBook:
    """Keeps what the digests need: each alert's latest event, and the events of the current day."""

    def __init__(self, owners: list[str], zone: str) -> None:
        self.owners = owners
        self.zone = zone
        self.latest: dict[str, AlertEvent] = {}
        self.events: list[AlertEvent] = []

    def observe(self, event: AlertEvent) -> None:
        """Remember one lifecycle event (of any owner the digest serves)."""
        if event.owner not in self.owners:
            return
        known = self.latest.get(event.alert_id)
        if known is None or event.ts >= known.ts:
            self.latest[event.alert_id] = event
        self.events.append(event)

    def digests(self, due_ms: int) -> list[OwnerDigest]:
        """Every owner's digest for the day ending at ``due_ms``; forgets what later days do not need."""
        start_ms = _day_before_ms(due_ms, self.zone)
        day = datetime.fromtimestamp(start_ms / 1000, ZoneInfo(self.zone)).strftime("%Y-%m-%d")
        in_day = [e for e in self.events if start_ms <= e.ts < due_ms]
        out = [self._digest(owner, day, start_ms, due_ms, in_day) for owner in self.owners]
        self.events = [e for e in self.events if e.ts >= due_ms]
        self.latest = {a: e for a, e in self.latest.items() if e.event not in _CLOSED or e.ts >= due_ms}
        return out

    def _digest(self, owner: str, day: str, start_ms: int, due_ms: int, in_day: list[AlertEvent]) -> OwnerDigest:
        mine = [e for e in in_day if e.owner == owner]

        def of(*kinds: AlertEventType) -> tuple[AlertEvent, ...]:
            picked: dict[str, AlertEvent] = {}
            for e in sorted(mine, key=lambda e: e.ts):
                if e.event in kinds:
                    picked[e.alert_id] = e
            return tuple(sorted(picked.values(), key=lambda e: (int(e.tier), e.ts)))

        still_open = tuple(sorted(
            (e for e in self._as_of(owner, due_ms) if e.event not in _CLOSED), key=lambda e: (int(e.tier), e.ts)
        ))  # fmt: skip
        assets = Counter(e.asset_id for e in {e.alert_id: e for e in mine}.values())
        top = tuple(sorted(assets.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_ASSETS])
        faults = tuple(e for e in still_open if e.kind is AlertKind.SENSOR_FAULT)
        return OwnerDigest(owner, day, start_ms, due_ms, of(AlertEventType.OPENED), of(AlertEventType.ESCALATED),
                           of(*_CLOSED), still_open, top, faults)  # fmt: skip

    def _as_of(self, owner: str, due_ms: int) -> list[AlertEvent]:
        """Each of the owner's alerts as of its latest event before ``due_ms``."""
        latest: dict[str, AlertEvent] = {}
        for e in self.latest.values():
            if e.owner == owner and e.ts < due_ms:
                latest[e.alert_id] = e
        for e in sorted(self.events, key=lambda e: e.ts):
            if e.owner == owner and e.ts < due_ms:
                latest[e.alert_id] = e
        return list(latest.values())
