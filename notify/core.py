"""The notifier's decisions, free of I/O: who is told what and when, given events and a clock.

* ``opened`` / ``escalated``: the route's level-0 contacts, at once (tier 1 and 2) or in the next digest
  (tier 3). If the route escalates (tier 1 by default, after 5 min), a deadline is set from the event time.
* No ``acknowledged`` (nor ``resolved`` / ``cleared`` / a de-escalation out of the route) before the
  deadline: the next level is told (label ``escalation-<level>``), and the deadline moves on; and so on
  until the last level.
* ``cleared``, ``resolved``, ``de-escalated``: a closing notice to every contact already told.
* ``acknowledged``: stops escalation; nobody is notified.
* A work order past its deadline (``overdue`` on the work-orders topic): the alert's route escalates,
  i.e. the contacts of its next level (the first level when it has one level) and everyone already told
  get a ``work-order-overdue`` notice, at once whatever the tier. An acknowledged alert escalates too:
  acknowledging it says somebody looks at it, the overdue order says the repair is late.
* Daily digest (``[daily_digest]``): at the local time each day, every listed owner's contacts get the
  day's :class:`~lifeline.notify.daily.OwnerDigest` (label ``daily-digest``, keyed by owner and day).
* Quiet hours: a tier-3 notice for a contact inside its ``quiet_hours`` (local time in the rules'
  ``timezone``) joins that contact's digest, and digests wait until the contact's quiet hours end.

Every notice has a key ``(alert_id, label, event_ts, contact)``; the engine sends a key at most once.
Events older than ``max_age_ms`` when first seen (a catch-up after downtime) update state but are not
notified.

Memory stays bounded over months of running: events older than ``retention_ms`` (7 days by default, never
less than ``max_age_ms``) are ignored, and :meth:`NotifierCore.prune` (run by :meth:`~NotifierCore.tick`
once an hour) forgets alerts cleared or resolved more than ``retention_ms`` ago and the repeat-filter keys
of events that old. A ``resolved`` that comes later than that for a cleared alert tells nobody.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from msgspec.structs import replace

from lifeline.clock import Clock
from lifeline.models import AlertEvent, AlertEventType, AlertKind, Lifeline, Tier
from lifeline.notify.daily import DailyBook, OwnerDigest, next_due_ms
from lifeline.notify.routes import Route, Rules

__all__ = ["Message", "Notice", "NotifierCore", "OverdueOrder"]

NoticeKey = tuple[str, str, int, str]

#: how often :meth:`NotifierCore.tick` forgets what is older than the retention
PRUNE_EVERY_MS = 3_600_000
_CLOSED = (AlertEventType.CLEARED, AlertEventType.RESOLVED)


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing to tell one contact about one alert event."""

    event: AlertEvent
    label: str
    contact: str
    level: int

    @property
    def key(self) -> NoticeKey:
        """``(alert_id, label, event ts ms, contact)``: sent at most once."""
        return (self.event.alert_id, self.label, self.event.ts, self.contact)


@dataclass(frozen=True, slots=True)
class Message:
    """What one delivery carries to one contact: one notice, or a digest of several."""

    contact: str
    notices: tuple[Notice, ...]
    digest: bool = False
    daily: OwnerDigest | None = None
    #: a free-standing notice (title, markdown), e.g. "the weekly health report is ready"
    text: tuple[str, str] | None = None


def _daily_notice(digest: OwnerDigest, contact: str) -> Notice:
    """The delivery-log entry of a daily digest: a carrier event whose ``alert_id`` is the digest's id and
    whose ``ts`` is the due time, so the digest is sent once per (owner, day, contact) like any notice."""
    carrier = AlertEvent(
        alert_id=digest.digest_id, event=AlertEventType.OPENED, tier=Tier.T3, lifeline=Lifeline.GAS,
        kind=AlertKind.ANOMALY, asset_id="", owner=digest.owner, district="", sensor_ids=(),
        started_at=digest.start_ms, ts=digest.due_ms, value=0.0, score=0.0, evidence=f"daily digest {digest.day}",
    )  # fmt: skip
    return Notice(carrier, "daily-digest", contact, 0)


@dataclass(frozen=True, slots=True)
class OverdueOrder:
    """A work order whose team missed its deadline (the ``overdue`` step of the work-orders topic)."""

    order_id: str
    alert_id: str
    team: str
    deadline_ms: int
    ts: int


@dataclass
class _Escalation:
    route: Route
    trigger: AlertEvent
    level: int
    deadline_ms: int
    wait_ms: int


@dataclass
class _Alert:
    latest: AlertEvent
    told: set[str] = field(default_factory=set)


class NotifierCore:
    """Routing, escalation and digest decisions. Feed events with :meth:`handle`, time with :meth:`tick`."""

    def __init__(
        self, rules: Rules, clock: Clock, *, max_age_ms: int = 3_600_000, retention_ms: int = 7 * 86_400_000
    ) -> None:
        self.rules = rules
        self.clock = clock
        self.max_age_ms = max_age_ms
        self.retention_ms = max(retention_ms, max_age_ms)
        self.next_prune_ms = clock.now_ms() + PRUNE_EVERY_MS
        self.alerts: dict[str, _Alert] = {}
        self.escalations: dict[str, _Escalation] = {}
        self.digest_queue: dict[str, list[Notice]] = {}
        self.seen: set[tuple[str, str, int]] = set()
        #: overdue orders whose alert has not been seen yet, by alert id
        self.waiting_orders: dict[str, list[OverdueOrder]] = {}
        self.next_digest_ms = clock.now_ms() + round(rules.digest_interval_s * 1000)
        daily = rules.daily_digest
        self.daily = None if daily is None else DailyBook(list(daily.owners), rules.timezone)
        self.next_daily_ms = 0 if daily is None else next_due_ms(clock.now_ms(), daily.at_minute, rules.timezone)

    def _fresh(self, event: AlertEvent) -> bool:
        return self.clock.now_ms() - event.ts <= self.max_age_ms

    def _tell(
        self, route: Route, event: AlertEvent, label: str, level: int, contacts: tuple[str, ...]
    ) -> list[Message]:
        alert = self.alerts[event.alert_id]
        alert.told.update(contacts)
        notices = [Notice(event, label, c, level) for c in contacts]
        now = self.clock.now_ms()
        out: list[Message] = []
        for n in notices:
            if route.digests(event.tier) or (event.tier == 3 and self._quiet(n.contact, now)):
                self.digest_queue.setdefault(n.contact, []).append(n)
            else:
                out.append(Message(n.contact, (n,)))
        return out

    def _quiet(self, contact: str, now_ms: int) -> bool:
        known = self.rules.contacts.get(contact)
        return known is not None and known.quiet_at(now_ms, self.rules.timezone)

    def handle(self, event: AlertEvent) -> list[Message]:
        """Apply one lifecycle event; return the messages to send now. A repeated event changes nothing."""
        out = self._handle(event)
        for order in self.waiting_orders.pop(event.alert_id, []):
            out.extend(self.handle_overdue(order))
        return out

    def _handle(self, event: AlertEvent) -> list[Message]:
        if event.dedup_key in self.seen or self.clock.now_ms() - event.ts > self.retention_ms:
            return []
        self.seen.add(event.dedup_key)
        if self.daily is not None:
            self.daily.observe(event)
        alert = self.alerts.get(event.alert_id)
        if alert is None:
            alert = self.alerts[event.alert_id] = _Alert(event)
        else:
            alert.latest = event
        kind = event.event
        route = self.rules.route_for(event)
        if kind in (AlertEventType.OPENED, AlertEventType.ESCALATED):
            self.escalations.pop(event.alert_id, None)
            if route is None:
                return []
            wait = self.rules.escalation_wait_s(route, event.tier)
            if wait is not None and len(route.levels) > 1:
                wait_ms = round(wait * 1000)
                self.escalations[event.alert_id] = _Escalation(route, event, 0, event.ts + wait_ms, wait_ms)
            if not self._fresh(event):
                return []
            return self._tell(route, event, kind.value, 0, route.levels[0])
        if kind is AlertEventType.UPDATED:  # a sensor joined at the same tier: nobody is told, a chain goes on
            return []
        if kind is AlertEventType.ACKNOWLEDGED:
            self.escalations.pop(event.alert_id, None)
            return []
        # cleared, resolved, de-escalated: stop escalating unless still covered; tell who was told
        pending = self.escalations.get(event.alert_id)
        if pending is not None and (kind is not AlertEventType.DE_ESCALATED or not pending.route.matches(event)):
            del self.escalations[event.alert_id]
        if not alert.told or not self._fresh(event):
            return []
        closing = (route or pending.route) if pending is not None else route
        contacts = tuple(sorted(alert.told))
        if closing is None:
            return [Message(c, (Notice(event, kind.value, c, 0),)) for c in contacts]
        return self._tell(closing, event, kind.value, 0, contacts)

    def handle_overdue(self, order: OverdueOrder) -> list[Message]:
        """Escalate the alert of an overdue work order (see the module docstring); repeats change nothing."""
        alert = self.alerts.get(order.alert_id)
        if alert is None:  # its alert's events come on another topic: wait for them
            self.waiting_orders.setdefault(order.alert_id, []).append(order)
            return []
        if (f"order:{order.order_id}", "overdue", order.ts) in self.seen:
            return []
        if self.clock.now_ms() - order.ts > self.retention_ms:
            return []
        self.seen.add((f"order:{order.order_id}", "overdue", order.ts))
        route = self.rules.route_for(alert.latest)
        if route is None or self.clock.now_ms() - order.ts > self.max_age_ms:
            return []
        level = min(1, len(route.levels) - 1)
        contacts = tuple(sorted(set(route.levels[level]) | alert.told))
        alert.told.update(contacts)
        minutes = max(0, (order.ts - order.deadline_ms) // 60_000)
        carrier = replace(
            alert.latest, ts=order.ts,
            evidence=f"work order {order.order_id} (team {order.team}) not handled by its deadline (+{minutes} min); "
            f"{alert.latest.evidence}",
        )  # fmt: skip
        return [Message(c, (Notice(carrier, "work-order-overdue", c, level),)) for c in contacts]

    def tick(self) -> list[Message]:
        """Escalations whose deadline passed, and the digest when its time has come."""
        now = self.clock.now_ms()
        out: list[Message] = []
        for alert_id in list(self.escalations):
            esc = self.escalations[alert_id]
            while esc.deadline_ms <= now and esc.level + 1 < len(esc.route.levels):
                esc.level += 1
                level_contacts = esc.route.levels[esc.level]
                label = f"escalation-{esc.level}"
                if now - esc.deadline_ms <= self.max_age_ms:
                    self.alerts[alert_id].told.update(level_contacts)
                    out.extend(Message(c, (Notice(esc.trigger, label, c, esc.level),)) for c in level_contacts)
                esc.deadline_ms += esc.wait_ms
            if esc.level + 1 >= len(esc.route.levels):
                del self.escalations[alert_id]
        if now >= self.next_digest_ms:
            out.extend(self.flush_digests())
            interval = round(self.rules.digest_interval_s * 1000)
            while self.next_digest_ms <= now:
                self.next_digest_ms += interval
        out.extend(self._daily_due(now))
        if now >= self.next_prune_ms:
            self.prune(now - self.retention_ms)
            self.next_prune_ms = now + PRUNE_EVERY_MS
        return out

    def prune(self, cutoff_ms: int) -> int:
        """Forget alerts closed (cleared or resolved) before ``cutoff_ms`` with nothing pending, repeat-filter
        keys and waiting overdue orders older than it; return how many alerts were forgotten."""
        stale = [
            alert_id
            for alert_id, alert in self.alerts.items()
            if alert.latest.event in _CLOSED and alert.latest.ts < cutoff_ms and alert_id not in self.escalations
        ]
        for alert_id in stale:
            del self.alerts[alert_id]
        self.seen = {key for key in self.seen if key[2] >= cutoff_ms}
        for alert_id in list(self.waiting_orders):
            kept = [order for order in self.waiting_orders[alert_id] if order.ts >= cutoff_ms]
            if kept:
                self.waiting_orders[alert_id] = kept
            else:
                del self.waiting_orders[alert_id]
        return len(stale)

    def _daily_due(self, now: int) -> list[Message]:
        config = self.rules.daily_digest
        if self.daily is None or config is None or now < self.next_daily_ms:
            return []
        digests = self.daily.digests(self.next_daily_ms)
        self.next_daily_ms = next_due_ms(now, config.at_minute, self.rules.timezone)
        return [
            Message(c, (_daily_notice(d, c),), digest=True, daily=d) for d in digests for c in config.owners[d.owner]
        ]

    def flush_digests(self) -> list[Message]:
        """Every queued digest, one message per contact, emptied; contacts in quiet hours keep theirs."""
        now = self.clock.now_ms()
        out: list[Message] = []
        for contact in sorted(self.digest_queue):
            notices = self.digest_queue[contact]
            if notices and not self._quiet(contact, now):
                out.append(Message(contact, tuple(notices), digest=True))
                del self.digest_queue[contact]
        return out
