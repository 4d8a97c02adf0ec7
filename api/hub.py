"""The websocket hub: active-alert state, a bounded replay log, and fan-out to subscribers.

Data path: a Kafka consumer thread (:class:`KafkaFeed`) reads ``lifeline.alerts`` from the
beginning, decodes each message and hands batches to the event loop, where :meth:`AlertHub.ingest`
updates the alert's state, appends an *envelope* to the replay log and pushes it to every matching
subscriber. The envelope is serialised once per event and shared by all clients::

    {"id": 42, "kafka_ts": 1700000000123, "status": "open", "event": {<AlertEvent>}}

``id`` is the hub's sequence number; the hub rebuilds state from the start of the topic, so ids are
the same after a restart (and on every replica) for as long as the topic keeps its history.
``kafka_ts`` is the Kafka message timestamp (the producer's time): use it for ``since``.

At-least-once input: the topic may carry an event twice (the flow re-sends its last epoch after a
crash). The hub remembers the keys ``(alert_id, event, ts)`` of the last ``LIFELINE_API_DEDUP_WINDOW``
distinct events (:class:`~lifeline.api.dedup.RecentKeys`, bounded) and skips a repeat: it gets no id,
changes no state and reaches no client (counted in ``lifeline_api_alert_events_duplicate``).

Memory: the hub keeps the active alerts plus a replay window of recent events, at most
``LIFELINE_API_REPLAY_SIZE`` events and none older than ``LIFELINE_API_REPLAY_MAX_AGE_S`` (Kafka time,
against the newest event). A closed (cleared/resolved) alert is forgotten with its last event when
that leaves the window; its history is in QuestDB (``/alerts``, ``/alerts/{id}``). A resume
(``last_event_id`` / ``since``) from before the window answers with a snapshot of the active alerts and
``"gap": true, "oldest_id": n, "oldest_kafka_ts": ms``: what happened before ``oldest_id`` is in
``GET /alerts?start=...``.

Slow clients (backpressure policy):

* **drop oldest** — each client has a bounded queue (``LIFELINE_API_WS_QUEUE_SIZE`` events). When it is
  full the oldest queued event is dropped, the client's next frame says how many were dropped
  (``"dropped": n``), and the client can fetch them by reconnecting with ``last_event_id``.
* **disconnect** — a client that has dropped more than ``LIFELINE_API_WS_MAX_DROPPED`` events in total,
  or whose single send takes longer than ``LIFELINE_API_WS_SEND_TIMEOUT_S``, is closed with code 4008
  (``slow consumer``).

Neither touches the Kafka consumer or other clients: ingest never awaits a client.

Frames are coalesced and shared: events are collected per *filter group* (all subscribers with the
same :class:`AlertFilter`) and every ``LIFELINE_API_WS_COALESCE_MS`` (default 50 ms) the hub's ticker
builds one frame per group and hands that same text to every subscriber of the group that is idle
(nothing queued, no send in flight). The send is started right there, without waking a task per
client: an ASGI ``send`` that does not have to wait for the socket completes synchronously (see
:func:`start_eagerly`); one that has to wait finishes in a task of its own, and meanwhile that client's
events go to its bounded queue (the slow path, drained by its sender task with the policy above). This
bounds frames per client to about 20/s whatever the event rate and makes the server's cost per frame
one ``transport.write``, which is what lets one process feed 1,000 clients; set it to 0 for the
lowest latency with few clients.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Generator, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from lifeline.api.auth import Principal
from lifeline.api.dedup import RecentKeys
from lifeline.api.filters import AlertFilter
from lifeline.api.metrics import ApiMetrics
from lifeline.api.settings import ApiSettings
from lifeline.api.state import AlertState
from lifeline.codec import decode_alert_event, encode
from lifeline.connectors.kafka import make_consumer
from lifeline.exceptions import MessageError
from lifeline.models import AlertEvent
from lifeline.settings import Settings

__all__ = ["AlertHub", "KafkaFeed", "LogEntry", "Subscriber", "start_eagerly"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One event in the replay log, with the alert state before and after it (for filtering)."""

    id: int
    kafka_ts: int
    envelope: bytes
    before: AlertState | None
    after: AlertState


ASGISend = Callable[[MutableMapping[str, Any]], Coroutine[Any, Any, None]]


class _Resumed:
    """Finishes, inside a task, a coroutine that :func:`start_eagerly` stepped by hand until it suspended."""

    __slots__ = ("_coro", "_waiting")

    def __init__(self, coro: Coroutine[Any, Any, None], waiting: object) -> None:
        self._coro = coro
        self._waiting = waiting

    def __await__(self) -> Generator[Any, None, None]:
        waiting = self._waiting
        while True:
            try:
                yield waiting  # the future the coroutine waits on: the task parks on it, as if it had awaited it
            except BaseException as exc:  # cancellation, or an error the future delivers
                try:
                    waiting = self._coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    waiting = self._coro.send(None)
                except StopIteration:
                    return


async def _finish(resumed: _Resumed) -> None:
    await resumed


def start_eagerly(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run ``coro`` on the spot up to its first suspension: None if it finished, else a task finishing it.

    An ASGI ``send`` of a websocket message completes without suspending whenever the socket's buffer
    has room, so this sends a frame with no task switch; errors raised before the first suspension
    propagate to the caller. (Python 3.12's eager tasks do the same; this project targets 3.11.)
    """
    try:
        waiting = coro.send(None)
    except StopIteration:
        return None
    return asyncio.get_running_loop().create_task(_finish(_Resumed(coro, waiting)))


class Subscriber:
    """One websocket client: its filter, a bounded drop-oldest queue of envelopes (the slow path), and
    once live (:meth:`go_live`), the ASGI ``send`` the hub uses to hand it shared frames directly."""

    def __init__(self, principal: Principal, filt: AlertFilter, max_queue: int, since_id: int = 0) -> None:
        self.principal = principal
        self.filter = filt
        self.max_queue = max_queue
        self.since_id = since_id  # events up to this id are in the first frame (snapshot/replay)
        self.queue: deque[bytes] = deque()
        self.control: deque[str] = deque()
        self.wake = asyncio.Event()
        self.dropped_total = 0
        self.dropped_unreported = 0
        self.sending_since: float | None = None
        self.last_sent = 0.0
        self.too_slow = ""
        self.failed: BaseException | None = None
        self.task: asyncio.Task[None] | None = None
        self.sender: ASGISend | None = None
        self.inflight: asyncio.Task[None] | None = None

    def push(self, envelope: bytes) -> bool:
        """Queue an envelope; drop the oldest if full. Return False when one was dropped."""
        dropped = False
        if len(self.queue) >= self.max_queue:
            self.queue.popleft()
            self.dropped_total += 1
            self.dropped_unreported += 1
            dropped = True
        self.queue.append(envelope)
        return not dropped

    def say(self, frame: str) -> None:
        """Queue a control frame (pong, snapshot after a filter change); sent before queued events."""
        self.control.append(frame)
        self.wake.set()

    def take(self, limit: int) -> tuple[list[bytes], int]:
        """Up to ``limit`` queued envelopes and the drop count not yet reported to the client."""
        n = min(limit, len(self.queue))
        items = [self.queue.popleft() for _ in range(n)]
        dropped, self.dropped_unreported = self.dropped_unreported, 0
        return items, dropped

    def go_live(self, sender: ASGISend) -> None:
        """The first frame is sent: from now on the hub may send shared frames through ``sender``."""
        self.sender = sender

    @property
    def idle(self) -> bool:
        """Live, nothing queued, no unreported drop and no send in flight: may get a shared frame now."""
        return (
            self.sender is not None
            and self.sending_since is None
            and not self.queue
            and not self.control
            and not self.dropped_unreported
            and self.failed is None
        )

    def send_shared(self, message: MutableMapping[str, Any], now: float) -> None:
        """Start sending a shared ``websocket.send`` message (only when :attr:`idle`)."""
        assert self.sender is not None
        try:
            waiting = start_eagerly(self.sender(message))
        except Exception as exc:  # the client is gone: its websocket task cleans up
            self._fail(exc)
            return
        if waiting is None:
            self.last_sent = now
        else:
            self.sending_since = now
            self.inflight = waiting
            waiting.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self.inflight = None
        self.sending_since = None
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._fail(exc)
            return
        self.last_sent = asyncio.get_running_loop().time()
        if self.queue or self.control:
            self.wake.set()

    def _fail(self, exc: BaseException) -> None:
        self.failed = exc
        if self.task is not None:
            self.task.cancel()


def events_frame(items: list[bytes], dropped: int = 0, *, kind: bytes = b"events", last_id: int | None = None) -> str:
    """A websocket text frame carrying envelopes: ``{"type": "events", "events": [...]}``."""
    head = b'{"type":"' + kind + b'"'
    if last_id is not None:
        head += b',"last_id":%d' % last_id
    if dropped:
        head += b',"dropped":%d' % dropped
    return (head + b',"events":[' + b",".join(items) + b"]}").decode()


class AlertHub:
    """Active alerts, replay log and subscribers. Every method runs on the event loop thread."""

    def __init__(
        self, replay_size: int = 20_000, metrics: ApiMetrics | None = None, *, coalesce_s: float = 0.0,
        replay_max_age_s: float = 3600.0, dedup_window: int = 50_000,
    ) -> None:  # fmt: skip
        self.coalesce_s = coalesce_s
        self.pending: dict[AlertFilter, list[tuple[int, bytes]]] = {}  # per filter group, until the next flush
        self.alerts: dict[str, AlertState] = {}  # active alerts, and closed ones whose last event is in the log
        self.log: deque[LogEntry] = deque()
        self.replay_size = replay_size
        self.replay_max_age_ms = round(replay_max_age_s * 1000)
        self.recent = RecentKeys(size=dedup_window)
        self._newest_kafka_ts = 0
        self.subscribers: dict[AlertFilter, set[Subscriber]] = {}
        self.last_id = 0
        self.truncated = False
        self.ready = asyncio.Event()
        self.metrics = metrics or ApiMetrics()
        self._active = 0

    @classmethod
    def from_settings(cls, api: ApiSettings, metrics: ApiMetrics | None = None) -> AlertHub:
        """A hub sized by the replay-window, dedup-window and coalescing settings of ``api``."""
        return cls(api.replay_size, metrics, coalesce_s=api.ws_coalesce_ms / 1000.0,
                   replay_max_age_s=api.replay_max_age_s, dedup_window=api.dedup_window)  # fmt: skip

    # ---- ingest -------------------------------------------------------------------------
    def ingest(self, event: AlertEvent, kafka_ts: int) -> LogEntry | None:
        """Apply one event: update state, log it, push its envelope to matching subscribers.

        A duplicate of an event applied within the last ``dedup_window`` events (same
        ``(alert_id, event, ts)``) changes nothing and returns None.
        """
        if not self.recent.add(event.dedup_key):
            self.metrics.events_duplicate.inc()
            return None
        self.last_id += 1
        before = self.alerts.get(event.alert_id)
        envelope_status = (before.advance(event, 0, 0, b"") if before else AlertState.first(event, 0, 0, b"")).status
        envelope = b'{"id":%d,"kafka_ts":%d,"status":"%s","event":%s}' % (
            self.last_id, kafka_ts, envelope_status.value.encode(), encode(event),
        )  # fmt: skip
        if before is None:
            after = AlertState.first(event, self.last_id, kafka_ts, envelope)
        else:
            after = before.advance(event, self.last_id, kafka_ts, envelope)
        self.alerts[event.alert_id] = after
        self._active += int(after.active) - int(before.active if before else False)
        entry = LogEntry(self.last_id, kafka_ts, envelope, before, after)
        self.log.append(entry)
        self._newest_kafka_ts = max(self._newest_kafka_ts, kafka_ts)
        self._trim()
        for filt, subs in self.subscribers.items():
            if subs and filt.wants(before, after):
                self.pending.setdefault(filt, []).append((self.last_id, envelope))
        if self.coalesce_s <= 0:
            self.flush()
        self.metrics.events_ingested.inc()
        self.metrics.active_alerts.set(self._active)
        return entry

    def _trim(self) -> None:
        """Keep the replay window: drop the oldest entries beyond ``replay_size`` or older than
        ``replay_max_age_s`` (by Kafka timestamp, against the newest seen), and forget a closed alert
        together with its last event (its history stays in QuestDB)."""
        horizon = self._newest_kafka_ts - self.replay_max_age_ms
        log = self.log
        while log and (len(log) > self.replay_size or log[0].kafka_ts < horizon):
            old = log.popleft()
            self.truncated = True
            alert_id = old.after.event.alert_id
            state = self.alerts.get(alert_id)
            if state is not None and state.last_id == old.id and not state.active:
                del self.alerts[alert_id]

    def ingest_batch(self, batch: Iterable[tuple[AlertEvent, int]]) -> None:
        """Apply a batch of ``(event, kafka_ts)`` in order (from the feed: also records the ingest lag)."""
        now_ms = time.time_ns() / 1e6
        observe = self.metrics.ingest_lag.observe
        for event, kafka_ts in batch:
            self.ingest(event, kafka_ts)
            observe(max(0.0, now_ms - kafka_ts) / 1000.0)

    def flush(self) -> None:
        """Deliver the events collected since the last flush, group by group.

        Each group's frame is built once and started on every idle subscriber of the group; the others
        (busy, behind, or subscribed in the middle of the window) get the events in their own queue and
        their sender is woken.
        """
        if not self.pending:
            return
        pending, self.pending = self.pending, {}
        now = -1.0  # the loop's time, read on the first shared send (tests drive the hub without a loop)
        for filt, entries in pending.items():
            subs = self.subscribers.get(filt)
            if not subs:
                continue
            first_id = entries[0][0]
            message: dict[str, Any] | None = None
            shared = 0
            for sub in tuple(subs):
                if sub.idle and sub.since_id < first_id:
                    if message is None:
                        message = {"type": "websocket.send", "text": events_frame([e for _, e in entries])}
                        if now < 0:
                            now = asyncio.get_running_loop().time()
                    sub.send_shared(message, now)
                    shared += 1
                    continue
                for event_id, envelope in entries:
                    if event_id > sub.since_id and not sub.push(envelope):
                        self.metrics.ws_dropped.inc()
                if sub.queue:
                    sub.wake.set()
            if shared:
                self.metrics.ws_frames.inc(shared)

    async def run_ticker(self, heartbeat_s: float, send_timeout_s: float) -> None:
        """One task for all clients: coalesced wake-ups, heartbeats when idle, and the send-timeout watchdog."""
        loop = asyncio.get_running_loop()
        tick = self.coalesce_s if self.coalesce_s > 0 else 0.25
        next_beat = loop.time() + heartbeat_s
        next_tick = loop.time() + tick
        while True:
            # Ticks keep their period however long a flush takes (an event waits at most one window),
            # and a late tick is not made up for: an overloaded hub sends bigger frames, not more.
            await asyncio.sleep(max(0.0, next_tick - loop.time()))
            next_tick = max(next_tick + tick, loop.time())
            self.flush()
            now = loop.time()
            if now < next_beat:
                continue
            next_beat = now + min(heartbeat_s, 1.0)
            beat: str | None = None
            for subs in self.subscribers.values():
                for sub in subs:
                    if sub.sending_since is not None and now - sub.sending_since > send_timeout_s:
                        sub.too_slow = f"a send took longer than {send_timeout_s} s"
                        if sub.task is not None:
                            sub.task.cancel()
                    elif sub.sending_since is None and now - sub.last_sent >= heartbeat_s:
                        beat = beat or orjson.dumps({"type": "heartbeat", "ts": time.time_ns() // 1_000_000,
                                                     "last_id": self.last_id}).decode()  # fmt: skip
                        sub.say(beat)

    def mark_ready(self) -> None:
        """Called once the feed has caught up with the topic's end as it was at start."""
        self.ready.set()

    # ---- queries ------------------------------------------------------------------------
    def active(self, filt: AlertFilter | None = None) -> list[AlertState]:
        """Active alerts matching ``filt``, most severe first, then newest first."""
        states = [s for s in self.alerts.values() if s.active and (filt is None or filt.matches(s))]
        states.sort(key=lambda s: (s.event.tier, -s.event.ts))
        return states

    def events_of(self, alert_id: str) -> list[LogEntry]:
        """Log entries of one alert still in the replay log, oldest first."""
        return [e for e in self.log if e.after.event.alert_id == alert_id]

    # ---- subscribers --------------------------------------------------------------------
    def subscribe(
        self, principal: Principal, filt: AlertFilter, max_queue: int, *, since_id: int | None = None,
        since_ms: int | None = None,
    ) -> tuple[Subscriber, str]:  # fmt: skip
        """Register a subscriber; return it with its first frame (snapshot, or replay of missed events).

        Registration and the first frame happen in one step on the loop, so no event falls between them.
        """
        sub = Subscriber(principal, filt, max_queue, self.last_id)
        self.subscribers.setdefault(filt, set()).add(sub)
        self.metrics.ws_clients.inc()
        return sub, self.first_frame(filt, since_id=since_id, since_ms=since_ms)

    def first_frame(self, filt: AlertFilter, *, since_id: int | None = None, since_ms: int | None = None) -> str:
        """A ``replay`` frame when the log covers ``since``, else a ``snapshot`` of active alerts."""
        if since_id is not None or since_ms is not None:
            missed = self._missed(filt, since_id, since_ms)
            if missed is not None:
                return events_frame([e.envelope for e in missed], kind=b"replay", last_id=self.last_id)
        alerts = b",".join(s.envelope for s in self.active(filt))
        head = b'{"type":"snapshot","last_id":%d' % self.last_id
        if since_id is not None or since_ms is not None:
            oldest = self.log[0] if self.log else None
            head += b',"gap":true,"oldest_id":%d,"oldest_kafka_ts":%d' % (
                (oldest.id, oldest.kafka_ts) if oldest else (self.last_id + 1, self._newest_kafka_ts)
            )
        else:
            head += b',"gap":false'
        return (head + b',"alerts":[%s]}' % alerts).decode()

    def _missed(self, filt: AlertFilter, since_id: int | None, since_ms: int | None) -> list[LogEntry] | None:
        """Events after ``since`` matching ``filt``, or None when the log no longer reaches back that far."""
        first = self.log[0] if self.log else None
        if since_id is not None:
            if since_id > self.last_id:
                return None  # an id from another hub history (e.g. topic recreated)
            if self.truncated and first is not None and since_id < first.id - 1:
                return None
            entries = [e for e in self.log if e.id > since_id]
        else:
            assert since_ms is not None
            if self.truncated and first is not None and first.kafka_ts > since_ms:
                return None
            entries = [e for e in self.log if e.kafka_ts > since_ms]
        return [e for e in entries if filt.wants(e.before, e.after)]

    def resubscribe(self, sub: Subscriber, filt: AlertFilter) -> str:
        """Change a subscriber's filter; return a fresh snapshot frame for it."""
        self._remove(sub)
        sub.filter = filt
        sub.since_id = self.last_id
        sub.queue.clear()
        self.subscribers.setdefault(filt, set()).add(sub)
        return self.first_frame(filt)

    def unsubscribe(self, sub: Subscriber) -> None:
        """Forget a subscriber (idempotent)."""
        if self._remove(sub):
            self.metrics.ws_clients.dec()

    def _remove(self, sub: Subscriber) -> bool:
        subs = self.subscribers.get(sub.filter)
        if subs is None or sub not in subs:
            return False
        subs.discard(sub)
        if not subs:
            del self.subscribers[sub.filter]
        return True

    @property
    def client_count(self) -> int:
        """Connected subscribers."""
        return sum(len(s) for s in self.subscribers.values())


def state_json(state: AlertState) -> dict[str, object]:
    """An alert state as a plain JSON-able dict (for logs and tools)."""
    return {"status": state.status.value, "last_id": state.last_id, "event": orjson.loads(encode(state.event))}


class KafkaFeed:
    """Reads the alerts topic from the beginning in a thread and feeds the hub on its event loop."""

    def __init__(self, settings: Settings, topic: str, hub: AlertHub, loop: asyncio.AbstractEventLoop) -> None:
        self.settings = settings
        self.topic = topic
        self.hub = hub
        self.loop = loop
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lifeline-api-kafka-feed", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> None:
        """Start the consumer thread."""
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the consumer thread and close the consumer."""
        self._stop.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        try:
            self._consume()
        except BaseException as exc:  # reported on /healthz
            self.error = exc
            log.exception("alert feed stopped")

    def _consume(self) -> None:
        consumer = make_consumer(self.settings, f"lifeline-api-{uuid.uuid4().hex[:8]}", **{"fetch.wait.max.ms": 10})
        try:
            meta = consumer.list_topics(self.topic, timeout=10).topics[self.topic]
            if meta.error is not None:
                raise RuntimeError(f"alerts topic {self.topic!r}: {meta.error}")
            parts = sorted(meta.partitions)
            pending: dict[int, int] = {}
            for p in parts:
                low, high = consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)
                if high > low:
                    pending[p] = high
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in parts])
            ready_sent = False
            while not self._stop.is_set():
                if not pending and not ready_sent:
                    self.loop.call_soon_threadsafe(self.hub.mark_ready)
                    ready_sent = True
                first = consumer.poll(0.2)
                if first is None:
                    continue
                messages = [first, *consumer.consume(999, 0)]
                batch: list[tuple[AlertEvent, int]] = []
                malformed = 0
                for msg in messages:
                    err = msg.error()
                    if err is not None:
                        if err.code() != KafkaError._PARTITION_EOF:
                            log.warning("alert feed: %s", err)
                        continue
                    partition, offset = msg.partition(), msg.offset()
                    if (
                        pending
                        and partition is not None
                        and offset is not None
                        and offset + 1 >= pending.get(partition, 0)
                    ):
                        pending.pop(partition, None)
                    try:
                        event = decode_alert_event(msg.value() or b"")
                    except MessageError:
                        malformed += 1
                        continue
                    batch.append((event, msg.timestamp()[1]))
                if malformed:
                    self.loop.call_soon_threadsafe(self.hub.metrics.events_malformed.inc, malformed)
                if batch:
                    self.loop.call_soon_threadsafe(self.hub.ingest_batch, batch)
        finally:
            consumer.close()
