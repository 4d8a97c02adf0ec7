"""``lifeline notify``: consume ``lifeline.alerts``, route by owner and tier, deliver, escalate, log.

Exactly-once per ``(alert, event, contact)``: before sending, a notice's key is checked against the
*sent-set*, loaded at start from the QuestDB ``notifications`` table (rows with status ``sent``) and
kept up to date in memory. Log rows carry the alert event's time as their timestamp, so the table's
``DEDUP UPSERT KEYS(ts, alert_id, event, contact)`` keeps one row per notice (a later success
replaces an earlier failure). The notifier reads the alerts topic from the beginning on every start,
so its escalation state (who acknowledged what) is rebuilt, and the sent-set stops repeats.

Weak spot, by design: a crash after a delivery but before its log row is written can repeat that one
delivery on restart (at-least-once); receivers can de-duplicate by ``X-Lifeline-Delivery``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import msgspec
from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from prometheus_client import CollectorRegistry, Histogram
from questdb import TimestampMicros, TimestampNanos

from lifeline.clock import Clock
from lifeline.codec import decode_alert_event
from lifeline.connectors.kafka import make_consumer
from lifeline.connectors.questdb import QuestDB
from lifeline.exceptions import MessageError
from lifeline.models import AlertEvent
from lifeline.notify.channels import Channel, EmailChannel, WebhookChannel
from lifeline.notify.core import Message, Notice, NoticeKey, NotifierCore, OverdueOrder
from lifeline.notify.exceptions import DeliveryError
from lifeline.notify.robots import RobotChannel
from lifeline.notify.routes import ChannelKind, Rules
from lifeline.notify.settings import NotifySettings
from lifeline.notify.sms import SmsChannel
from lifeline.schema import NOTIFICATIONS
from lifeline.settings import Settings

__all__ = [
    "DeliveryLog",
    "DeliveryRecord",
    "FirstNoticeMetric",
    "Notifier",
    "QuestDBDeliveryLog",
    "overdue_order",
    "run_notifier",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """The outcome of one notice: ``sent`` or ``failed``, after ``attempts`` tries, the last ending at
    ``sent_at_ms`` (the notifier's clock)."""

    notice: Notice
    channel: ChannelKind
    status: str
    attempts: int
    detail: str
    digest: bool = False
    sent_at_ms: int = 0

    @property
    def latency_s(self) -> float:
        """Seconds from the alert event to this delivery."""
        return (self.sent_at_ms - self.notice.event.ts) / 1000


class FirstNoticeMetric:
    """``lifeline_notify_first_notice_seconds{tier}``: time from an alert event to the first notice sent
    about that alert (to anyone), observed once per alert."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.histogram = Histogram(
            "lifeline_notify_first_notice_seconds", "time from alert event to the first notice sent, per tier",
            ["tier"], registry=self.registry, buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 86400),
        )  # fmt: skip
        #: alert id -> event time (ms) of the first notice, forgotten after the core's retention
        self.noticed: dict[str, int] = {}

    def observe(self, records: list[DeliveryRecord]) -> None:
        """Observe the first sent record of every alert not noticed before."""
        for r in sorted(records, key=lambda r: r.sent_at_ms):
            alert_id = r.notice.event.alert_id
            if r.status == "sent" and alert_id not in self.noticed and r.notice.label != "daily-digest":
                self.noticed[alert_id] = r.notice.event.ts
                self.histogram.labels(tier=str(int(r.notice.event.tier))).observe(max(r.latency_s, 0.0))

    def forget(self, cutoff_ms: int) -> None:
        """Forget alerts whose first notice was about an event older than ``cutoff_ms``."""
        self.noticed = {alert_id: ts for alert_id, ts in self.noticed.items() if ts >= cutoff_ms}


class DeliveryLog(Protocol):
    """Where delivery outcomes are kept and the sent-set comes from."""

    def load_sent(self) -> set[NoticeKey]:
        """Keys of every notice already delivered."""
        ...

    def record(self, records: list[DeliveryRecord]) -> None:
        """Store outcomes."""
        ...


class QuestDBDeliveryLog:
    """The ``notifications`` table as delivery log."""

    def __init__(self, db: QuestDB) -> None:
        self.db = db
        self._table = db.table(NOTIFICATIONS.name)

    def load_sent(self) -> set[NoticeKey]:
        """Keys of rows with status ``sent`` (waits until every committed row is visible)."""
        self.db.wait_for_wal(NOTIFICATIONS.name)
        sql = f"SELECT alert_id, event, ts, contact FROM {self._table} WHERE status = %s"  # noqa: S608 (fixed name)
        rows = self.db.query(sql, ["sent"]).rows
        return {(str(a), str(e), _ms(ts), str(c)) for a, e, ts, c in rows}

    def record(self, records: list[DeliveryRecord]) -> None:
        """Write one row per record (idempotent by the table's dedup keys)."""
        if not records:
            return
        with self.db.sender() as sender:
            for r in records:
                n = r.notice
                sender.row(
                    self._table,
                    symbols={"alert_id": n.event.alert_id, "event": n.label, "contact": n.contact,
                             "channel": r.channel.value, "status": r.status},
                    columns={"tier": int(n.event.tier), "level": n.level, "attempts": r.attempts,
                             "detail": r.detail[:1000], "sent_at": TimestampMicros(r.sent_at_ms * 1000)},
                    at=TimestampNanos(n.event.ts * 1_000_000),
                )  # fmt: skip
            sender.flush()


def _ms(ts: object) -> int:
    from datetime import UTC, datetime

    from lifeline.models import datetime_to_ms

    assert isinstance(ts, datetime)
    return datetime_to_ms(ts if ts.tzinfo else ts.replace(tzinfo=UTC))


class Notifier:
    """Turns events into deliveries: core decisions, sent-set filter, retries with back-off, log."""

    def __init__(
        self, core: NotifierCore, *, channels: dict[ChannelKind, Channel], delivery_log: DeliveryLog,
        max_attempts: int = 4, backoff_s: float = 1.0, sleep: Callable[[float], None] = time.sleep, workers: int = 4,
    ) -> None:  # fmt: skip
        self.core = core
        self.rules: Rules = core.rules
        self.channels = channels
        self.delivery_log = delivery_log
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.sleep = sleep
        self.sent: set[NoticeKey] = set()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lifeline-notify")
        self.first_notice = FirstNoticeMetric()
        self._next_prune_ms = core.next_prune_ms

    def _cutoff_ms(self) -> int:
        return self.core.clock.now_ms() - self.core.retention_ms

    def load(self) -> None:
        """Load the sent-set from the delivery log, within the retention (alerts already noticed are not
        observed again)."""
        cutoff = self._cutoff_ms()
        self.sent = {key for key in self.delivery_log.load_sent() if key[2] >= cutoff}
        for alert_id, _, ts, _ in self.sent:
            self.first_notice.noticed.setdefault(alert_id, ts)

    def prune(self) -> None:
        """Forget sent keys and noticed alerts older than the core's retention (the core ignores such events)."""
        cutoff = self._cutoff_ms()
        self.sent = {key for key in self.sent if key[2] >= cutoff}
        self.first_notice.forget(cutoff)

    def close(self) -> None:
        """Stop the delivery workers."""
        self._pool.shutdown(wait=True)

    def process(self, events: Iterable[AlertEvent], overdue: Iterable[OverdueOrder] = ()) -> list[DeliveryRecord]:
        """Handle alert events and overdue work orders, then check deadlines and digests; deliver what is due."""
        messages: list[Message] = []
        for event in events:
            messages.extend(self.core.handle(event))
        for order in overdue:
            messages.extend(self.core.handle_overdue(order))
        messages.extend(self.core.tick())
        if self.core.clock.now_ms() >= self._next_prune_ms:
            self.prune()
            self._next_prune_ms = self.core.next_prune_ms
        return self.deliver(messages)

    def deliver(self, messages: list[Message]) -> list[DeliveryRecord]:
        """Send each not-yet-sent notice once (in parallel), log the outcomes, update the sent-set."""
        pending: set[NoticeKey] = set()
        work: list[Message] = []
        for message in messages:
            fresh = tuple(n for n in message.notices if n.key not in self.sent and n.key not in pending)
            if not fresh:
                continue
            pending.update(n.key for n in fresh)
            work.append(Message(message.contact, fresh, message.digest, message.daily))
        if not work:
            return []
        results = list(self._pool.map(self._send, work))
        records = [r for batch in results for r in batch]
        self.delivery_log.record(records)
        self.first_notice.observe(records)
        self.sent.update(r.notice.key for r in records if r.status == "sent")
        return records

    def _send(self, message: Message) -> list[DeliveryRecord]:
        contact = self.rules.contacts[message.contact]
        channel = self.channels[contact.channel]
        attempts, status, detail = 0, "failed", ""
        while attempts < self.max_attempts:
            attempts += 1
            try:
                detail = channel.send(contact, message)
                status = "sent"
                break
            except DeliveryError as exc:
                detail = str(exc)
                log.warning("delivery to %s failed (attempt %d): %s", contact.name, attempts, exc)
                if not exc.retry:
                    break
                if attempts < self.max_attempts:
                    self.sleep(self.backoff_s * 2 ** (attempts - 1))
        ended = self.core.clock.now_ms()
        return [DeliveryRecord(n, contact.channel, status, attempts, detail, message.digest, ended)
                for n in message.notices]  # fmt: skip


def default_channels(rules: Rules, timeout_s: float) -> dict[ChannelKind, Channel]:
    """The real channel for every kind of contact in ``rules``."""
    robots = RobotChannel(console_url=rules.console_url, zone=rules.timezone, timeout_s=timeout_s)
    email = EmailChannel(rules.smtp, console_url=rules.console_url, zone=rules.timezone)
    channels: dict[ChannelKind, Channel] = {
        ChannelKind.WEBHOOK: WebhookChannel(timeout_s), ChannelKind.EMAIL: email,
        ChannelKind.DINGTALK: robots, ChannelKind.WECOM: robots, ChannelKind.FEISHU: robots,
    }  # fmt: skip
    if rules.sms is not None:
        channels[ChannelKind.SMS] = SmsChannel(rules.sms, console_url=rules.console_url, zone=rules.timezone,
                                               timeout_s=timeout_s)  # fmt: skip
    return channels


def build_notifier(
    settings: Settings, notify: NotifySettings, rules: Rules, clock: Clock, *,
    channels: dict[ChannelKind, Channel] | None = None, delivery_log: DeliveryLog | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Notifier:  # fmt: skip
    """A notifier with real channels and the QuestDB delivery log unless others are given."""
    core = NotifierCore(
        rules, clock, max_age_ms=round(notify.max_event_age_s * 1000),
        retention_ms=round(notify.retention_days * 86_400_000),
    )  # fmt: skip
    if channels is None:
        channels = default_channels(rules, notify.http_timeout_s)
    return Notifier(
        core, channels=channels, delivery_log=delivery_log or QuestDBDeliveryLog(QuestDB(settings)),
        max_attempts=notify.max_attempts, backoff_s=notify.backoff_s, sleep=sleep, workers=notify.workers,
    )  # fmt: skip


class _OrderStep(msgspec.Struct, frozen=True):
    """The fields of a work-order step (``lifeline.work_orders``) the notifier needs; others are ignored."""

    order_id: str
    alert_id: str
    event: str
    team: str
    deadline: int
    ts: int


_order_step = msgspec.json.Decoder(_OrderStep)


def overdue_order(payload: bytes) -> OverdueOrder | None:
    """The overdue order a work-order message announces, or ``None`` for any other step or a malformed one."""
    try:
        step = _order_step.decode(payload)
    except msgspec.DecodeError:
        return None
    if step.event != "overdue":
        return None
    return OverdueOrder(step.order_id, step.alert_id, step.team, step.deadline, step.ts)


def run_notifier(
    settings: Settings, notify: NotifySettings, notifier: Notifier, stop: threading.Event, *,
    topic: str | None = None, idle: Callable[[], None] | None = None,
) -> None:  # fmt: skip
    """Consume the alerts topic from the beginning until ``stop`` is set, delivering as events arrive.

    ``idle`` (tests) is called after each loop pass.
    """
    topic = topic or notify.alerts_topic or settings.alerts_topic
    orders_topic = settings.work_orders_topic
    notifier.load()
    consumer = make_consumer(settings, f"lifeline-notify-{time.time_ns()}", **{"fetch.wait.max.ms": 50})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        if meta.error is not None:
            raise MessageError("unknown_topic", f"alerts topic {topic!r}: {meta.error}")
        assigned = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(meta.partitions)]
        orders = consumer.list_topics(orders_topic, timeout=10).topics.get(orders_topic)
        if orders is not None and orders.error is None:  # the API creates it; without it no order is overdue
            assigned += [TopicPartition(orders_topic, p, OFFSET_BEGINNING) for p in sorted(orders.partitions)]
        consumer.assign(assigned)
        while not stop.is_set():
            first = consumer.poll(notify.tick_s)
            events: list[AlertEvent] = []
            overdue: list[OverdueOrder] = []
            if first is not None:
                for msg in [first, *consumer.consume(999, 0)]:
                    if msg.error() is not None:
                        continue
                    if msg.topic() == orders_topic:
                        order = overdue_order(msg.value() or b"")
                        if order is not None:
                            overdue.append(order)
                        continue
                    try:
                        events.append(decode_alert_event(msg.value() or b""))
                    except MessageError as exc:
                        log.warning("skipping malformed alert message: %s", exc)
            notifier.process(events, overdue)
            if idle is not None:
                idle()
    finally:
        consumer.close()
