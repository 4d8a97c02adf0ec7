"""Work orders: the closed loop from an alert to a team on site and back.

An operator dispatches a work order for an alert to a team with a deadline. It then moves, one step at
a time, through ``dispatched → accepted → on_site → handled → verified`` (verified closes it), each step
with its actor and comment. An order not yet ``handled`` when its deadline passes gets one ``overdue``
event (the console shows it red). While an alert has an open order it cannot be resolved, unless an
admin resolves it with ``override=true``.

Every step is a :class:`WorkOrderEvent` written like alert events: to Kafka (``LIFELINE_WORK_ORDERS_TOPIC``,
key = order id, JSON) and to QuestDB (``work_order_events``, DEDUP on ``ts, order_id, event``). Order ids
are deterministic: ``sha1("alert_id|team|dispatched_at")``, 16 hex digits. Each API replica rebuilds its
:class:`WorkOrderBook` from the topic at start and follows it live (:class:`WorkOrderFeed`), so every
replica and every websocket client sees every step; duplicates (at-least-once) are skipped by
``(order_id, event, ts)``.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec
from confluent_kafka import OFFSET_BEGINNING, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]
from questdb import Sender, TimestampNanos

from lifeline.api.auth import Permission, Principal
from lifeline.api.exceptions import ConflictError, ForbiddenError, UserInputError
from lifeline.connectors.kafka import ensure_topics, make_consumer
from lifeline.connectors.questdb import QuestDB
from lifeline.settings import Settings

__all__ = [
    "NEXT_STATE",
    "OrderEventType",
    "OrderState",
    "WorkOrder",
    "WorkOrderBook",
    "WorkOrderEvent",
    "WorkOrderFeed",
    "WorkOrderService",
    "decode_order_event",
    "new_order",
    "order_id_for",
    "write_order_event",
]

log = logging.getLogger(__name__)

#: how often the API looks for orders past their deadline
OVERDUE_CHECK_S = 2.0


class OrderState(enum.StrEnum):
    """Where a work order stands; ``verified`` closes it."""

    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    ON_SITE = "on_site"
    HANDLED = "handled"
    VERIFIED = "verified"


class OrderEventType(enum.StrEnum):
    """What happened to a work order: a step to a state, or the deadline passing."""

    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    ON_SITE = "on_site"
    HANDLED = "handled"
    VERIFIED = "verified"
    OVERDUE = "overdue"


#: the one state each state may move to
NEXT_STATE: dict[OrderState, OrderState] = {
    OrderState.DISPATCHED: OrderState.ACCEPTED,
    OrderState.ACCEPTED: OrderState.ON_SITE,
    OrderState.ON_SITE: OrderState.HANDLED,
    OrderState.HANDLED: OrderState.VERIFIED,
}
_WORKING = frozenset({OrderState.DISPATCHED, OrderState.ACCEPTED, OrderState.ON_SITE})


class WorkOrderEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One step of a work order (the Kafka message and the ``work_order_events`` row). Times: epoch ms."""

    order_id: str
    alert_id: str
    event: OrderEventType
    state: OrderState
    team: str
    owner: str
    deadline: int
    actor: str = ""
    comment: str = ""
    ts: int

    @property
    def dedup_key(self) -> tuple[str, str, int]:
        """``(order_id, event, ts)``: the same step delivered twice has the same key."""
        return (self.order_id, self.event.value, self.ts)


_decoder = msgspec.json.Decoder(WorkOrderEvent)


def decode_order_event(payload: bytes) -> WorkOrderEvent:
    """Decode one message of the work-orders topic (``msgspec.DecodeError`` when malformed)."""
    return _decoder.decode(payload)


def order_id_for(alert_id: str, team: str, dispatched_at: int) -> str:
    """The deterministic id of the order dispatched for ``alert_id`` to ``team`` at ``dispatched_at`` (ms)."""
    return hashlib.sha1(f"{alert_id}|{team}|{dispatched_at}".encode()).hexdigest()[:16]  # an id, not a secret


def write_order_event(sender: Sender, table: str, event: WorkOrderEvent) -> None:
    """Add one ``work_order_events`` row for ``event`` to ``sender`` (``table``: the real table name)."""
    sender.row(
        table,
        symbols={"order_id": event.order_id, "alert_id": event.alert_id, "event": event.event.value,
                 "state": event.state.value, "team": event.team, "owner": event.owner},
        columns={"deadline": TimestampNanos(event.deadline * 1_000_000), "actor": event.actor,
                 "comment": event.comment},
        at=TimestampNanos(event.ts * 1_000_000),
    )  # fmt: skip


@dataclass
class WorkOrder:
    """A work order as it stands, with every step so far (oldest first)."""

    order_id: str
    alert_id: str
    team: str
    owner: str
    deadline: int
    state: OrderState
    overdue: bool = False
    history: list[WorkOrderEvent] = field(default_factory=list)

    @property
    def open(self) -> bool:
        """True until the order is verified."""
        return self.state is not OrderState.VERIFIED

    def due(self, now_ms: int) -> bool:
        """True when the deadline has passed with the team not done and no ``overdue`` event yet."""
        return self.state in _WORKING and not self.overdue and now_ms > self.deadline

    def step(self, target: OrderState, actor: str, comment: str, now_ms: int) -> WorkOrderEvent:
        """The event moving this order to ``target``; :class:`ConflictError` unless it is the next state."""
        expected = NEXT_STATE.get(self.state)
        if expected is not target:
            allowed = f"the next state is {expected.value!r}" if expected else "it is closed (verified)"
            raise ConflictError(f"work order {self.order_id} is {self.state.value}; {allowed}")
        return WorkOrderEvent(order_id=self.order_id, alert_id=self.alert_id, event=OrderEventType(target.value),
                              state=target, team=self.team, owner=self.owner, deadline=self.deadline, actor=actor,
                              comment=comment, ts=max(now_ms, self.history[-1].ts + 1))  # fmt: skip


def new_order(
    alert_id: str, owner: str, team: str, deadline_ms: int, actor: str, comment: str, now_ms: int
) -> WorkOrderEvent:
    """The ``dispatched`` event of a new order; :class:`UserInputError` for an empty team or a past deadline."""
    if not team.strip():
        raise UserInputError("team must not be empty")
    if deadline_ms <= now_ms:
        raise UserInputError("the deadline must be in the future")
    return WorkOrderEvent(order_id=order_id_for(alert_id, team, now_ms), alert_id=alert_id,
                          event=OrderEventType.DISPATCHED, state=OrderState.DISPATCHED, team=team.strip(),
                          owner=owner, deadline=deadline_ms, actor=actor, comment=comment, ts=now_ms)  # fmt: skip


class WorkOrderBook:
    """Every work order this API has seen, fed in topic order; notifies listeners of each new step."""

    def __init__(self) -> None:
        self.orders: dict[str, WorkOrder] = {}
        self._seen: set[tuple[str, str, int]] = set()
        self.listeners: set[Callable[[WorkOrder, WorkOrderEvent], None]] = set()
        self.ready = asyncio.Event()

    def apply(self, event: WorkOrderEvent) -> WorkOrder | None:
        """Apply one step (skipping a duplicate); return the order, or None when skipped."""
        if event.dedup_key in self._seen:
            return None
        self._seen.add(event.dedup_key)
        order = self.orders.get(event.order_id)
        if order is None:
            order = WorkOrder(order_id=event.order_id, alert_id=event.alert_id, team=event.team, owner=event.owner,
                              deadline=event.deadline, state=event.state)  # fmt: skip
            self.orders[event.order_id] = order
        if event.event is OrderEventType.OVERDUE:
            order.overdue = True
        else:
            order.state = event.state
        order.history.append(event)
        for listener in list(self.listeners):
            listener(order, event)
        return order

    def visible(self, principal: Principal, alert_id: str | None = None) -> list[WorkOrder]:
        """Orders the principal may see (owner tokens: their own), newest dispatch first."""
        orders = [o for o in self.orders.values() if principal.can_see_owner(o.owner)
                  and (alert_id is None or o.alert_id == alert_id)]  # fmt: skip
        return sorted(orders, key=lambda o: -o.history[0].ts)

    def open_for(self, alert_id: str) -> list[WorkOrder]:
        """The alert's orders that are not verified yet."""
        return [o for o in self.orders.values() if o.alert_id == alert_id and o.open]

    def check_resolvable(self, alert_id: str, principal: Principal, override: bool) -> None:
        """Refuse to resolve an alert with an open order (409), unless an admin overrides (403 for others)."""
        if override and not principal.has(Permission.ADMIN):
            raise ForbiddenError("only an admin may resolve an alert over an open work order (override=true)")
        still_open = self.open_for(alert_id)
        if still_open and not override:
            ids = ", ".join(f"{o.order_id} ({o.state.value})" for o in still_open)
            raise ConflictError(f"alert {alert_id!r} has open work orders: {ids}; verify them first "
                                "(or an admin resolves with override=true)")  # fmt: skip


class WorkOrderFeed:
    """Reads the work-orders topic from the beginning in a thread and applies it to the book on the loop."""

    def __init__(self, settings: Settings, topic: str, book: WorkOrderBook, loop: asyncio.AbstractEventLoop) -> None:
        self.settings, self.topic, self.book, self.loop = settings, topic, book, loop
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lifeline-api-work-orders", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> None:
        """Start the consumer thread."""
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the consumer thread."""
        self._stop.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        try:
            self._consume()
        except BaseException as exc:
            self.error = exc
            log.exception("work order feed stopped")

    def _consume(self) -> None:
        consumer = make_consumer(self.settings, f"lifeline-api-wo-{uuid.uuid4().hex[:8]}",
                                 **{"fetch.wait.max.ms": 10, "enable.partition.eof": True})  # fmt: skip
        try:
            parts = sorted(consumer.list_topics(self.topic, timeout=10).topics[self.topic].partitions)
            pending = {p for p in parts if consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1]}
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in parts])
            if not pending:
                self.loop.call_soon_threadsafe(self.book.ready.set)
            caught_up = not pending
            while not self._stop.is_set():
                msg = consumer.poll(0.2)
                if msg is None:
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF and not caught_up:
                        caught_up = True
                        self.loop.call_soon_threadsafe(self.book.ready.set)
                    continue
                try:
                    event = decode_order_event(msg.value() or b"")
                except msgspec.DecodeError:
                    log.warning("work order feed: malformed message at offset %s skipped", msg.offset())
                    continue
                self.loop.call_soon_threadsafe(self.book.apply, event)
        finally:
            consumer.close()


class WorkOrderService:
    """Writes work order steps (Kafka, then QuestDB), applies them to the book, and raises ``overdue``."""

    def __init__(self, *, settings: Settings, topic: str, producer: Producer, db: QuestDB) -> None:
        self.settings, self.topic, self.producer, self.db = settings, topic, producer, db
        self.book = WorkOrderBook()
        self.table = db.table("work_order_events")
        self.feed: WorkOrderFeed | None = None
        self._ticker: asyncio.Task[None] | None = None

    def ensure_topic(self) -> None:
        """Create the work-orders topic (one partition: one order of events) if missing. Blocking."""
        ensure_topics(self.settings, [NewTopic(self.topic, num_partitions=1, replication_factor=1)])

    def start(self, loop: asyncio.AbstractEventLoop, check_every_s: float = OVERDUE_CHECK_S) -> None:
        """Follow the topic and start the overdue check (call on the loop, after :meth:`ensure_topic`)."""
        self.feed = WorkOrderFeed(self.settings, self.topic, self.book, loop)
        self.feed.start()
        self._ticker = loop.create_task(self._check_overdue(check_every_s))

    def stop(self) -> None:
        """Stop the overdue check and the feed."""
        if self._ticker is not None:
            self._ticker.cancel()
        if self.feed is not None:
            self.feed.stop()

    def write(self, event: WorkOrderEvent) -> None:
        """Store one step: Kafka (flushed) then QuestDB. Blocking: run it in a thread."""
        self.producer.produce(self.topic, key=event.order_id.encode(), value=msgspec.json.encode(event))
        if self.producer.flush(15) > 0:
            raise ConflictError("could not write the work order event to Kafka in time; retry")  # pragma: no cover
        with self.db.sender() as sender:
            write_order_event(sender, self.table, event)
            sender.flush()

    async def record(self, event: WorkOrderEvent) -> WorkOrder:
        """Write ``event`` and apply it to the book (the feed's later copy is skipped as a duplicate)."""
        await asyncio.to_thread(self.write, event)
        self.book.apply(event)
        return self.book.orders[event.order_id]

    async def _check_overdue(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            now = time.time_ns() // 1_000_000
            for order in [o for o in self.book.orders.values() if o.due(now)]:
                # ts = deadline + 1 ms: every replica writes the same event, so the dedup keys collide
                event = WorkOrderEvent(order_id=order.order_id, alert_id=order.alert_id, event=OrderEventType.OVERDUE,
                                       state=order.state, team=order.team, owner=order.owner, deadline=order.deadline,
                                       actor="lifeline", comment="deadline passed", ts=order.deadline + 1)  # fmt: skip
                try:
                    await self.record(event)
                except Exception:
                    log.exception("could not record overdue work order %s", order.order_id)
