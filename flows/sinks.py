"""Sinks: QuestDB over ILP/HTTP and Kafka (alerts, DLQ). Both flush when Bytewax snapshots.

Both are :class:`~bytewax.outputs.FixedPartitionedSink` with one partition, because their
``snapshot`` hook runs at the end of every epoch, *before* Bytewax commits that epoch's input
offsets: flushing there makes the output at-least-once across crashes, and the sinks are
idempotent (QuestDB ``DEDUP UPSERT KEYS``; deterministic alert ids) so a replay leaves one copy.

QuestDB writes run on one writer thread, so the flow keeps working while QuestDB answers; at most
one write is in flight and a snapshot waits for it. QuestDB unavailable → the writer retries with
exponential back-off and keeps every pending row; the flow stalls (backpressure) instead of
dropping, and the lag shows in the metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition
from confluent_kafka import KafkaException, Producer
from questdb import Sender, TimestampNanos

from lifeline.codec import encode
from lifeline.connectors.questdb import write_alert_event
from lifeline.detectors.results import WindowStats
from lifeline.flows import metrics
from lifeline.flows.validate import SensorIndex
from lifeline.models import AlertEvent, Reject

__all__ = ["KafkaOut", "KafkaSink", "QuestDBBatch", "QuestDBSink", "reject_symbol"]

log = logging.getLogger("lifeline.flow.sink")


@dataclass
class QuestDBBatch:
    """Rows for QuestDB produced by one step of the flow."""

    reading_sensor: npt.NDArray[np.int32] | None = None
    reading_ts: npt.NDArray[np.int64] | None = None
    reading_value: npt.NDArray[np.float64] | None = None
    reading_quality: npt.NDArray[np.int32] | None = None
    stats: list[WindowStats] = field(default_factory=list)
    alerts: list[AlertEvent] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)

    def row_count(self) -> int:
        """Rows in this batch, all tables together."""
        readings = 0 if self.reading_ts is None else len(self.reading_ts)
        return readings + len(self.stats) + len(self.alerts) + len(self.rejects)


class _QuestDBPartition(StatefulSinkPartition[QuestDBBatch, None]):
    def __init__(
        self, conf: str, index: SensorIndex, *, flush_rows: int, flush_interval_s: float, table_prefix: str
    ) -> None:
        self._conf = conf + "auto_flush=off;"
        self._readings, self._stats = table_prefix + "readings", table_prefix + "sensor_stats"
        self._alerts, self._rejects = table_prefix + "alert_events", table_prefix + "rejects"
        self._index = index
        self._flush_rows = flush_rows
        self._flush_interval_s = flush_interval_s
        self._pending: list[QuestDBBatch] = []
        self._pending_rows = 0
        self._last_flush = time.monotonic()
        self._categories: tuple[Any, ...] | None = None  # built on the first stored reading
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="questdb-writer")
        self._in_flight: Future[None] | None = None
        self._in_flight_rows = 0
        self._sender: Sender | None = None  # used on the writer thread only

    def _reading_categories(self) -> tuple[Any, ...]:
        """pandas categories for the readings frame's symbols: sensor, asset and lifeline per sensor number."""
        if self._categories is None:
            registry = self._index.registry
            sensor_ids = self._index.sensor_ids
            assets = [registry[s].asset_id for s in sensor_ids]
            asset_names = sorted(set(assets))
            asset_pos = {a: i for i, a in enumerate(asset_names)}
            lifelines = [registry[s].lifeline.value for s in sensor_ids]
            life_names = sorted(set(lifelines)) or ["gas"]
            life_pos = {name: i for i, name in enumerate(life_names)}
            self._categories = (
                _categories(sensor_ids), _categories(asset_names), _categories(life_names),
                np.array([asset_pos[a] for a in assets], dtype=np.int32),
                np.array([life_pos[x] for x in lifelines], dtype=np.int32),
            )  # fmt: skip
        return self._categories

    def _symbols(self, sensor: npt.NDArray[np.int32]) -> dict[str, pd.Categorical]:
        """The symbol columns of a frame of rows of these sensor numbers: sensor, asset and lifeline."""
        sensor_cat, asset_cat, life_cat, asset_code, life_code = self._reading_categories()
        return {
            "sensor_id": pd.Categorical.from_codes(sensor, dtype=sensor_cat),
            "asset_id": pd.Categorical.from_codes(asset_code[sensor], dtype=asset_cat),
            "lifeline": pd.Categorical.from_codes(life_code[sensor], dtype=life_cat),
        }

    def write_batch(self, values: list[QuestDBBatch]) -> None:
        for batch in values:
            rows = batch.row_count()
            if rows:
                self._pending.append(batch)
                self._pending_rows += rows
        metrics.QUESTDB_PENDING_ROWS.set(self._pending_rows + self._in_flight_rows)
        if self._pending_rows >= self._flush_rows:
            self._hand_off()  # waits for the write in flight: a slow QuestDB slows the flow (backpressure)
        elif time.monotonic() - self._last_flush >= self._flush_interval_s and not self._writing():
            self._hand_off()  # the interval passed and the writer is free: no wait

    def snapshot(self) -> None:
        self.flush()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._writer.shutdown(wait=True)
            self._drop_sender()

    def flush(self) -> None:
        """Write every pending row and return once QuestDB has taken them all."""
        self._hand_off()
        self._wait()

    def _writing(self) -> bool:
        """Whether a write is still in flight."""
        return self._in_flight is not None and not self._in_flight.done()

    def _hand_off(self) -> None:
        """Start writing the pending rows on the writer thread, after the previous write finished.

        The flow goes on validating and detecting while QuestDB answers; at most one write is in
        flight. The flush interval hands rows off only when the writer is free, so a QuestDB commit that
        takes longer than the interval never stalls the flow (and the alerts it is about to send); only
        ``flush_rows`` pending rows (or a snapshot) wait for it, so a slow QuestDB slows the flow down
        (backpressure) instead of piling up rows.
        """
        self._last_flush = time.monotonic()
        self._wait()
        if not self._pending:
            return
        batches, rows = self._pending, self._pending_rows
        self._pending, self._pending_rows = [], 0
        self._in_flight_rows = rows
        self._in_flight = self._writer.submit(self._write, batches, rows)

    def _wait(self) -> None:
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            in_flight.result()
            self._in_flight_rows = 0
            metrics.QUESTDB_PENDING_ROWS.set(self._pending_rows)

    def _write(self, batches: list[QuestDBBatch], rows: int) -> None:
        """Write ``batches``; retry with back-off until QuestDB takes them (never drops a row).

        One sender (one keep-alive HTTP connection) serves every write: a connection per write
        makes QuestDB open and close its table writers each time. After a failure the sender is
        dropped and the next attempt connects afresh.
        """
        delay = 0.2
        while True:
            try:
                if self._sender is None:
                    self._sender = self._connect()
                self._fill(self._sender, batches)
                self._sender.flush()
                break
            except Exception as exc:  # the client raises its own error types; any failure means retry
                self._drop_sender()
                metrics.QUESTDB_FLUSH_FAILURES.inc()
                log.warning("questdb flush failed (%d rows pending), retrying in %.1f s: %s", rows, delay, exc)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
        metrics.QUESTDB_ROWS.inc(rows)

    def _connect(self) -> Sender:
        sender = Sender.from_conf(self._conf)
        sender.establish()  # type: ignore[no-untyped-call]  # (the client ships no annotation for it)
        return sender

    def _drop_sender(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            try:
                sender.close(flush=False)
            except Exception:  # closing a broken connection may fail too; it is gone either way
                log.debug("questdb sender close failed", exc_info=True)

    def _fill(self, sender: Sender, batches: list[QuestDBBatch]) -> None:
        parts = [b for b in batches if b.reading_ts is not None and len(b.reading_ts)]
        if parts:
            sensor = np.concatenate([b.reading_sensor for b in parts if b.reading_sensor is not None])
            frame = pd.DataFrame({
                **self._symbols(sensor),
                "value": np.concatenate([b.reading_value for b in parts if b.reading_value is not None]),
                "quality": np.concatenate([b.reading_quality for b in parts if b.reading_quality is not None]),
                "ts": pd.to_datetime(np.concatenate([b.reading_ts for b in parts if b.reading_ts is not None]),
                                     unit="ms", utc=True),
            })  # fmt: skip
            sender.dataframe(frame, table_name=self._readings, symbols=["sensor_id", "asset_id", "lifeline"], at="ts")
        stats = [w for b in batches for w in b.stats]
        if stats:
            self._fill_stats(sender, stats)
        for batch in batches:
            for a in batch.alerts:
                write_alert_event(sender, self._alerts, a)
            for r in batch.rejects:
                sender.row(
                    self._rejects,
                    symbols={"reason": r.reason.value, "sensor_id": reject_symbol(r.sensor_id), "topic": r.topic},
                    columns={"kafka_partition": r.partition, "kafka_offset": r.offset, "item": r.item,
                             "detail": r.detail, "payload": r.payload},
                    at=TimestampNanos(max(r.kafka_ts, 0) * 1_000_000),
                )  # fmt: skip

    def _fill_stats(self, sender: Sender, stats: list[WindowStats]) -> None:
        """Window statistics as one frame per write: columns, not a Python call per row (the writer thread
        shares the interpreter lock with the flow). Windows exist only for registry sensors; should one not
        be, it is logged and left out rather than failing the write (which would be retried forever)."""
        number = self._index.number
        known = [w for w in stats if w.sensor_id in number]
        if len(known) < len(stats):
            log.error("questdb: %d window(s) of sensors outside the registry not stored", len(stats) - len(known))
        if not known:
            return
        n = len(known)
        sensor = np.fromiter((number[w.sensor_id] for w in known), dtype=np.int32, count=n)

        def column(values: Iterable[float], dtype: type[np.generic]) -> npt.NDArray[Any]:
            return np.fromiter(values, dtype=dtype, count=n)

        frame = pd.DataFrame({
            **self._symbols(sensor),
            "window_s": column((w.window_s for w in known), np.int64),
            "count": column((w.count for w in known), np.int64),
            "mean": column((w.mean for w in known), np.float64),
            "min": column((w.min for w in known), np.float64),
            "max": column((w.max for w in known), np.float64),
            "std": column((w.std for w in known), np.float64),
            "slope_per_h": column((w.slope_per_h for w in known), np.float64),
            "last": column((w.last for w in known), np.float64),
            "ts": pd.to_datetime(column((w.window_start for w in known), np.int64), unit="ms", utc=True),
        })  # fmt: skip
        sender.dataframe(frame, table_name=self._stats, symbols=["sensor_id", "asset_id", "lifeline"], at="ts")


def reject_symbol(sensor_id: str) -> str:
    """A reject's sensor id as the ``rejects`` table's symbol: ``-`` when empty, NUL as U+FFFD.

    A reject's sensor id is whatever the message said (an unknown sensor), and QuestDB refuses a whole
    ILP request whose symbol holds a NUL, which the writer would retry forever. Strings may hold NUL.
    """
    return sensor_id.replace("\x00", "\ufffd") or "-"


def _categories(names: list[str]) -> pd.CategoricalDtype:
    """A categorical dtype over plain Python strings (an object index builds far faster than Arrow strings)."""
    return pd.CategoricalDtype(pd.Index(names, dtype=object))


class QuestDBSink(FixedPartitionedSink[QuestDBBatch, None]):
    """All QuestDB tables through one ILP/HTTP connection, flushed by size, time and every snapshot."""

    def __init__(
        self, conf: str, index: SensorIndex, *, flush_rows: int = 200_000, flush_interval_s: float = 0.5,
        table_prefix: str = "",
    ) -> None:  # fmt: skip
        self._conf = conf
        self._index = index
        self._table_prefix = table_prefix
        self._flush_rows = flush_rows
        self._flush_interval_s = flush_interval_s

    def list_parts(self) -> list[str]:
        return ["questdb"]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _QuestDBPartition:
        return _QuestDBPartition(
            self._conf, self._index, flush_rows=self._flush_rows, flush_interval_s=self._flush_interval_s,
            table_prefix=self._table_prefix,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class KafkaOut:
    """One message for Kafka: topic, key and value bytes."""

    topic: str
    key: bytes
    value: bytes

    @staticmethod
    def alert(topic: str, event: AlertEvent) -> KafkaOut:
        """An alert lifecycle event keyed by alert id."""
        return KafkaOut(topic, event.alert_id.encode(), encode(event))

    @staticmethod
    def reject(topic: str, reject: Reject) -> KafkaOut:
        """A DLQ message keyed by sensor id (empty when unknown)."""
        return KafkaOut(topic, reject.sensor_id.encode(), encode(reject))


class _KafkaPartition(StatefulSinkPartition[KafkaOut, None]):
    def __init__(self, config: dict[str, Any], on_delivered: Callable[[str], None] | None) -> None:
        self._producer = Producer(config)
        self._failures: list[str] = []
        self._on_delivered = on_delivered

    def _report(self, err: Any, msg: Any) -> None:
        if err is not None:
            self._failures.append(f"{msg.topic()}: {err}")
        elif self._on_delivered is not None:
            self._on_delivered(msg.topic())

    def write_batch(self, values: list[KafkaOut]) -> None:
        for out in values:
            while True:
                try:
                    self._producer.produce(out.topic, key=out.key, value=out.value, on_delivery=self._report)
                    break
                except BufferError:  # local queue full: wait for deliveries (backpressure)
                    self._producer.poll(0.1)
        self._producer.poll(0)
        self._raise_failures()

    def snapshot(self) -> None:
        self._flush()

    def close(self) -> None:
        self._flush()

    def _flush(self) -> None:
        while self._producer.flush(10) > 0:
            log.warning("kafka sink: messages still undelivered after 10 s; waiting")
        self._raise_failures()

    def _raise_failures(self) -> None:
        if self._failures:
            raise KafkaException(f"delivery failed for {len(self._failures)} message(s): {self._failures[:3]}")


class KafkaSink(FixedPartitionedSink[KafkaOut, None]):
    """Alert events and DLQ messages to Kafka with an idempotent producer, flushed at every snapshot."""

    def __init__(self, producer_config: dict[str, Any]) -> None:
        self._config = {**producer_config, "linger.ms": 2}

    def list_parts(self) -> list[str]:
        return ["kafka"]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _KafkaPartition:
        return _KafkaPartition(self._config, metrics.on_kafka_delivered)
