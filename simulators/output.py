"""Outputs of a scenario: files (Parquet via pyarrow, JSON lines) or Kafka ``lifeline.readings``.

Messages are exactly the JSON :mod:`lifeline.codec` decodes: ``{"sensor_id","ts","value"}`` for a
reading and ``{"sensor_id","t0","dt_ms","values"}`` for a high-rate batch, keyed by sensor id. They are
encoded per chunk with msgspec and produced with an idempotent confluent-kafka producer
(:func:`lifeline.connectors.kafka.producer_config`), polled regularly and flushed at the end, either as
fast as possible or paced at N× real time on event time (:class:`Pacer`).

Files written into the output folder::

    registry.csv           the sensor registry (lifeline.registry format)
    ground_truth.csv/.jsonl  one row per injected incident, look-alike, fault and bad message
    scenario.json          name, seed, start, end, counts
    readings.parquet       sensor_id (dictionary), ts (timestamp[ms, UTC]), value   (format parquet)
    batches.parquet        sensor_id, t0, dt_ms, values (list<double>)              (if any high-rate channel)
    readings.jsonl         one wire message per line, in event-time order          (format jsonl)
    bad_messages.jsonl     {"emit_at_ms","key","payload","reason"} per deliberately bad message
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from lifeline.simulators.badmessages import BadMessage
from lifeline.simulators.engine import Ints, ReadingChunk
from lifeline.simulators.exceptions import BadOptionError, DeliveryFailedError
from lifeline.simulators.groundtruth import write_ground_truth

if TYPE_CHECKING:
    from confluent_kafka import Producer

    from lifeline.settings import Settings
    from lifeline.simulators.scenarios import Scenario

__all__ = [
    "FORMATS",
    "MessageBlock",
    "Pacer",
    "SendReport",
    "encode_chunk",
    "make_fast_producer",
    "produce_blocks",
    "produce_scenario",
    "write_files",
]

FORMATS = ("parquet", "jsonl", "both")
Progress = Callable[[int], None]
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, eq=False)
class MessageBlock:
    """Wire messages in send order: event (or emit) times, Kafka keys, JSON payloads, readings carried."""

    times_ms: Ints
    keys: list[bytes]
    payloads: list[bytes]
    readings: int


@dataclass(frozen=True)
class SendReport:
    """What an output run did: readings and messages sent, bad messages among them, seconds taken."""

    readings: int
    messages: int
    bad_messages: int
    seconds: float

    @property
    def readings_per_s(self) -> float:
        """Throughput in readings per second."""
        return self.readings / self.seconds if self.seconds > 0 else float("inf")


def encode_chunk(
    chunk: ReadingChunk, sensor_ids: list[str], keys: list[bytes], bad: Iterable[BadMessage] = ()
) -> MessageBlock:
    """Encode one chunk (readings, batches, bad messages) as wire messages in time order."""
    encode = _encoder.encode
    ids = chunk.sensor_index.tolist()
    payloads = [
        encode({"sensor_id": sensor_ids[i], "ts": t, "value": v})
        for i, t, v in zip(ids, chunk.ts_ms.tolist(), chunk.value.tolist(), strict=True)
    ]
    message_keys = [keys[i] for i in ids]
    times = chunk.ts_ms
    extra = list(bad)
    if not chunk.batches and not extra:
        return MessageBlock(times, message_keys, payloads, int(chunk.ts_ms.size))
    for batch in chunk.batches:
        payloads.append(encode({"sensor_id": sensor_ids[batch.sensor], "t0": batch.t0_ms, "dt_ms": batch.dt_ms,
                                "values": batch.values.tolist()}))  # fmt: skip
        message_keys.append(keys[batch.sensor])
    for message in extra:
        payloads.append(message.payload)
        message_keys.append(message.key)
    all_times = np.concatenate([
        times, np.array([b.t0_ms for b in chunk.batches], np.int64), np.array([m.emit_at_ms for m in extra], np.int64)
    ])  # fmt: skip
    order = np.argsort(all_times, kind="stable")
    order_list = order.tolist()
    return MessageBlock(
        all_times[order], [message_keys[i] for i in order_list], [payloads[i] for i in order_list], chunk.reading_count
    )


def scenario_blocks(scenario: Scenario) -> Iterator[MessageBlock]:
    """Every wire message of a scenario, chunk by chunk, bad messages included at their emit time."""
    keys = [s.encode() for s in scenario.sensor_ids]
    for chunk in scenario.chunks():
        bad = scenario.bad_messages_between(chunk.window_start_ms, chunk.window_end_ms)
        yield encode_chunk(chunk, scenario.sensor_ids, keys, bad)


# ----------------------------------------------------------------------------- files


def write_metadata(scenario: Scenario, out: Path) -> None:
    """Write registry, ground truth, bad messages and scenario.json into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    scenario.write_registry(out / "registry.csv")
    write_ground_truth(scenario.ground_truth, out)
    bad = [{"emit_at_ms": m.emit_at_ms, "key": m.key.decode(), "payload": m.payload.decode(), "reason": m.reason}
           for m in scenario.bad_messages]  # fmt: skip
    (out / "bad_messages.jsonl").write_bytes(_encoder.encode_lines(bad))
    meta = {
        "scenario": scenario.name, "seed": scenario.seed, "start_ms": scenario.start_ms, "end_ms": scenario.end_ms,
        "sensors": len(scenario.sensor_ids), "ground_truth_rows": len(scenario.ground_truth),
        "bad_messages": len(scenario.bad_messages), "estimated_readings": scenario.estimated_readings(),
    }  # fmt: skip
    (out / "scenario.json").write_bytes(msgspec.json.format(_encoder.encode(meta)) + b"\n")


def write_files(
    scenario: Scenario,
    out_dir: str | Path,
    fmt: str = "parquet",
    progress: Progress | None = None,
    with_metadata: bool = True,
) -> SendReport:
    """Write the scenario into ``out_dir`` as ``parquet``, ``jsonl`` or ``both`` (see the module doc).

    ``with_metadata=False`` writes only the readings (registry and ground truth already written).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if fmt not in FORMATS:
        raise BadOptionError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    started = time.perf_counter()
    if with_metadata:
        write_metadata(scenario, out)
    out.mkdir(parents=True, exist_ok=True)
    dictionary = pa.array(scenario.sensor_ids, pa.string())
    schema = pa.schema([
        ("sensor_id", pa.dictionary(pa.int32(), pa.string())),
        ("ts", pa.timestamp("ms", tz="UTC")),
        ("value", pa.float64()),
    ])  # fmt: skip
    batch_schema = pa.schema([
        ("sensor_id", pa.string()), ("t0", pa.timestamp("ms", tz="UTC")), ("dt_ms", pa.int32()),
        ("values", pa.list_(pa.float64())),
    ])  # fmt: skip
    parquet = fmt in {"parquet", "both"}
    jsonl = fmt in {"jsonl", "both"}
    writer = pq.ParquetWriter(out / "readings.parquet", schema, compression="snappy") if parquet else None
    batch_writer: Any = None
    lines = (out / "readings.jsonl").open("wb") if jsonl else None
    keys = [s.encode() for s in scenario.sensor_ids]
    readings = messages = 0
    try:
        for chunk in scenario.chunks():
            if writer is not None:
                indices = pa.DictionaryArray.from_arrays(pa.array(chunk.sensor_index, pa.int32()), dictionary)
                ts = pa.array(chunk.ts_ms, pa.int64()).cast(pa.timestamp("ms", tz="UTC"))
                writer.write_table(pa.Table.from_arrays([indices, ts, pa.array(chunk.value)], schema=schema))
                if chunk.batches:
                    if batch_writer is None:
                        batch_writer = pq.ParquetWriter(out / "batches.parquet", batch_schema, compression="snappy")
                    batch_writer.write_table(_batch_table(chunk, scenario.sensor_ids, batch_schema))
            if lines is not None:
                block = encode_chunk(chunk, scenario.sensor_ids, keys)
                lines.write(b"\n".join(block.payloads) + (b"\n" if block.payloads else b""))
            messages += int(chunk.ts_ms.size) + len(chunk.batches)
            readings += chunk.reading_count
            if progress is not None:
                progress(chunk.reading_count)
    finally:
        if writer is not None:
            writer.close()
        if batch_writer is not None:
            batch_writer.close()
        if lines is not None:
            lines.close()
    return SendReport(readings, messages, len(scenario.bad_messages), time.perf_counter() - started)


def _batch_table(chunk: ReadingChunk, sensor_ids: list[str], schema: Any) -> Any:
    import pyarrow as pa

    return pa.Table.from_arrays([
        pa.array([sensor_ids[b.sensor] for b in chunk.batches], pa.string()),
        pa.array([b.t0_ms for b in chunk.batches], pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
        pa.array([b.dt_ms for b in chunk.batches], pa.int32()),
        pa.array([b.values for b in chunk.batches], pa.list_(pa.float64())),
    ], schema=schema)  # fmt: skip


# ----------------------------------------------------------------------------- Kafka


class Pacer:
    """Maps event time to wall time: ``speed`` × real time from the first message; ``None`` = no pacing."""

    def __init__(self, speed: float | None) -> None:
        if speed is not None and not speed > 0:
            raise BadOptionError("speed must be positive (or None for as fast as possible)")
        self.speed = speed
        self._first_event_ms: int | None = None
        self._wall_start = 0.0

    def due_count(self, times_ms: Ints, position: int) -> tuple[int, float]:
        """How many messages (from the start of ``times_ms``) are due now, and seconds until the next one."""
        if self.speed is None or times_ms.size == 0:
            return int(times_ms.size), 0.0
        if self._first_event_ms is None:
            self._first_event_ms = int(times_ms[0])
            self._wall_start = time.monotonic()
        elapsed_event_ms = (time.monotonic() - self._wall_start) * 1000.0 * self.speed
        due = int(np.searchsorted(times_ms, self._first_event_ms + elapsed_event_ms, side="right"))
        due = max(due, position)
        if due >= times_ms.size:
            return due, 0.0
        wait_s = (int(times_ms[due]) - self._first_event_ms - elapsed_event_ms) / 1000.0 / self.speed
        return due, max(wait_s, 0.0)


def make_fast_producer(settings: Settings, errors: list[str]) -> Producer:
    """An idempotent producer (project config) that reports only failed deliveries, into ``errors``."""
    from lifeline.connectors.kafka import make_producer

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None and len(errors) < 10:
            errors.append(str(err))

    return make_producer(settings, **{"delivery.report.only.error": True, "on_delivery": on_delivery})


def produce_blocks(
    blocks: Iterable[MessageBlock],
    producer: Producer,
    topic: str,
    speed: float | None = None,
    progress: Progress | None = None,
    errors: list[str] | None = None,
    batch_size: int = 10_000,
) -> SendReport:
    """Produce every block's messages to ``topic`` (paced if ``speed``), poll regularly, flush at the end.

    Messages go out with ``Producer.produce_batch`` (keyed, so the partitioner runs per message), about
    twice as fast as one ``produce`` call per message. ``errors`` is the list the producer's delivery
    callback fills (see :func:`make_fast_producer`); any entry, or an unflushed message, raises.
    """
    pacer = Pacer(speed)
    started = time.perf_counter()
    readings = messages = 0
    for block in blocks:
        position = 0
        total = len(block.payloads)
        while position < total:
            due, wait_s = pacer.due_count(block.times_ms, position)
            end = min(due, position + batch_size)
            if end > position:
                batch = [
                    {"value": v, "key": k}
                    for k, v in zip(block.keys[position:end], block.payloads[position:end], strict=True)
                ]
                _produce_batch(producer, topic, batch)
                messages += end - position
                position = end
            producer.poll(0)
            if position < total and wait_s > 0 and end == due:
                time.sleep(min(wait_s, 0.05))
        readings += block.readings
        if progress is not None:
            progress(block.readings)
    remaining = producer.flush(60)
    if remaining or errors:
        raise DeliveryFailedError(
            f"Kafka delivery failed: {remaining} message(s) undelivered; errors: {errors}; "
            "check the broker with `lifeline services status`"
        )
    return SendReport(readings, messages, 0, time.perf_counter() - started)


def _produce_batch(producer: Producer, topic: str, batch: list[dict[str, bytes]]) -> None:
    """Queue a batch; when the local queue is full, serve delivery reports and retry the rest in order."""
    queued = producer.produce_batch(topic, batch)
    while queued < len(batch):
        batch = [m for m in batch if "_error" in m]
        for message in batch:
            del message["_error"]
        producer.poll(0.05)
        queued = producer.produce_batch(topic, batch)


def produce_scenario(
    scenario: Scenario, settings: Settings, speed: float | None = None, progress: Progress | None = None,
    topic: str | None = None,
) -> SendReport:  # fmt: skip
    """Produce a scenario to ``settings.readings_topic`` (created if missing), keyed by sensor id."""
    from lifeline.connectors.kafka import ensure_topics

    ensure_topics(settings)
    errors: list[str] = []
    producer = make_fast_producer(settings, errors)
    blocks = scenario_blocks(scenario)
    report = produce_blocks(blocks, producer, topic or settings.readings_topic, speed, progress, errors)
    return SendReport(report.readings, report.messages, len(scenario.bad_messages), report.seconds)
