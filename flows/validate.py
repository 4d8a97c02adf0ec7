"""Decode and validate one consume batch, vectorised. Pure numpy + msgspec: no Bytewax in here.

Every message either becomes accepted readings or a :class:`~lifeline.models.Reject` with a reason
code; nothing is dropped silently. Checks, in order: size (``oversize``), JSON shape
(``malformed``), registry (``unknown_sensor``), ``non_finite``, physical range (``out_of_range``),
plausible time (``bad_timestamp``; ``future`` = later than the Kafka timestamp plus a tolerance,
so a replay judges the same way as the live run), then per-sensor order (``duplicate``, ``late``).

No input bytes can stop the flow: a message whose decoding raises anything is rejected on its own
(``malformed``, or ``internal`` naming the exception for the unforeseen), and should the batch's
vector checks ever raise, the batch is validated again message by message so only the message that
raises is rejected (``internal``) and every other one is judged as usual.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import NamedTuple

import msgspec
import numpy as np
import numpy.typing as npt

from lifeline.codec import WireReading
from lifeline.flows.batch import RawBatch
from lifeline.models import Reject, RejectReason
from lifeline.registry import Registry
from lifeline.settings import Settings

__all__ = ["Accepted", "Lateness", "SensorIndex", "Validation", "ValidationLimits", "sensor_runs", "validate_batch"]

_EARLIEST_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
_LATEST_MS = 1 << 42  # year 2109; keeps event times far inside int64 for the vector arithmetic
_NO_VALUES = np.zeros(0, dtype=np.float64)
_MAX_REJECT_SENSOR_ID = 256  # an unknown sensor id can be as long as a message: keep DLQ keys and symbols small
_MAX_REJECT_PAYLOAD = 4096  # bytes of the original message kept in a reject

log = logging.getLogger("lifeline.flow")

_decoder = msgspec.json.Decoder(WireReading)


class SensorIndex:
    """Registry facts as arrays indexed by a dense sensor number, for vectorised checks."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.sensor_ids: list[str] = list(registry)
        self.number: dict[str, int] = {sid: i for i, sid in enumerate(self.sensor_ids)}
        specs = [registry[sid] for sid in self.sensor_ids]
        self.valid_min = np.array([s.valid_min for s in specs], dtype=np.float64)
        self.valid_max = np.array([s.valid_max for s in specs], dtype=np.float64)

    def __len__(self) -> int:
        return len(self.sensor_ids)


@dataclass(frozen=True, slots=True)
class ValidationLimits:
    """Configurable limits of validation (defaults: those of :class:`~lifeline.settings.Settings`)."""

    max_message_bytes: int = 262_144
    max_batch_values: int = 10_000
    future_tolerance_ms: int = 300_000

    @classmethod
    def from_settings(cls, settings: Settings) -> ValidationLimits:
        """The limits as configured: ``LIFELINE_MAX_MESSAGE_BYTES`` and ``LIFELINE_FUTURE_TOLERANCE_S``."""
        return cls(max_message_bytes=settings.max_message_bytes,
                   future_tolerance_ms=round(settings.future_tolerance_s * 1000))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Lateness:
    """What the order check needs when readings may arrive out of order (``allowed_ms`` > 0).

    A reading that is not newer than its sensor's newest is still accepted while nothing newer of that
    sensor has been released to the detectors; readings are released once the partition's watermark
    (its newest event time minus ``allowed_ms``) passes them.
    """

    allowed_ms: int
    partition_newest: int  # newest event time the partition accepted before this batch
    released_ts: npt.NDArray[np.int64]  # per sensor: newest event time handed to the detectors
    held_sensor: npt.NDArray[np.int32]  # accepted readings not released yet
    held_ts: npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Accepted:
    """Accepted readings of a batch, sorted by (sensor number, event time)."""

    sensor: npt.NDArray[np.int32]
    ts: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]
    quality: npt.NDArray[np.int32]
    arrival: npt.NDArray[np.int64]  # position of the carrying message in the batch

    def __len__(self) -> int:
        return len(self.ts)

    def segments(self) -> list[tuple[int, int, int]]:
        """``(sensor number, start, stop)`` for each sensor's run of readings."""
        return sensor_runs(self.sensor)


class _ValueBuffer:
    """The values of a batch's batch messages, copied into one numpy buffer message by message.

    Copying each message's list at once, while its floats are still in the CPU cache, and letting
    them go costs less than keeping every float of the batch alive for one conversion at the end.
    """

    __slots__ = ("_buffer", "_size")

    def __init__(self) -> None:
        self._buffer = _NO_VALUES  # allocated on the first batch message
        self._size = 0

    def add(self, values: list[float]) -> None:
        """Append one message's values."""
        size, count = self._size, len(values)
        if size + count > self._buffer.shape[0]:
            grown = np.empty(max(2 * self._buffer.shape[0], size + count, 16_384), dtype=np.float64)
            grown[:size] = self._buffer[:size]
            self._buffer = grown
        self._buffer[size : size + count] = values
        self._size = size + count

    def array(self) -> npt.NDArray[np.float64]:
        """Every value added so far, in order (a view of the buffer)."""
        return self._buffer[: self._size]


def sensor_runs(sensor: npt.NDArray[np.int32]) -> list[tuple[int, int, int]]:
    """``(sensor number, start, stop)`` of each run of equal numbers in a sensor-grouped array."""
    if len(sensor) == 0:
        return []
    cuts = np.flatnonzero(np.diff(sensor)) + 1
    starts = np.concatenate(([0], cuts))
    stops = np.concatenate((cuts, [len(sensor)]))
    return list(zip(sensor[starts].tolist(), starts.tolist(), stops.tolist(), strict=True))


class Validation(NamedTuple):
    """What validation made of a batch: the accepted readings and one reject per refused input."""

    accepted: Accepted
    rejects: list[Reject]


def validate_batch(
    batch: RawBatch,
    *,
    topic: str,
    index: SensorIndex,
    last_ts: npt.NDArray[np.int64],
    limits: ValidationLimits,
    lateness: Lateness | None = None,
) -> Validation:
    """Validate a consume batch. ``last_ts`` (per sensor number) is read and advanced for accepted readings.

    Without ``lateness`` a reading behind its sensor's newest event time is ``late`` (equal:
    ``duplicate``); with it, see :class:`Lateness`. Never raises on any input: each message yields
    its accepted readings and rejects (one reject for a message refused as a whole).
    """
    payloads, offsets, kafka_ts, partition = batch.payloads, batch.offsets, batch.kafka_ts, batch.partition
    try:
        return Validation(*_validate(payloads, offsets, kafka_ts, partition=partition, topic=topic, index=index,
                                     last_ts=last_ts, limits=limits, lateness=lateness))  # fmt: skip
    except Exception:  # a bug met by some input: isolate the message that triggers it, judge the rest
        log.exception("batch validation raised; validating its %d messages one by one", len(payloads),
                      extra={"step": "validate", "partition": partition,
                             "offset": f"{offsets[0]}-{offsets[-1]}" if offsets else None})  # fmt: skip
        return Validation(*_validate_one_by_one(
            payloads, offsets, kafka_ts, partition=partition, topic=topic, index=index, last_ts=last_ts,
            limits=limits, lateness=lateness,
        ))  # fmt: skip


def _validate_one_by_one(
    payloads: list[bytes], offsets: list[int], kafka_ts: list[int], *, partition: int, topic: str,
    index: SensorIndex, last_ts: npt.NDArray[np.int64], limits: ValidationLimits, lateness: Lateness | None,
) -> tuple[Accepted, list[Reject]]:  # fmt: skip
    """The slow path of :func:`validate_batch`: each message as a batch of its own, in arrival order.

    A message that still raises becomes one ``internal`` reject naming the exception. Readings accepted
    from earlier messages count as held back for the later ones, as they do inside one batch.
    """
    parts: list[Accepted] = []
    rejects: list[Reject] = []
    for pos, payload in enumerate(payloads):
        try:
            accepted, refused = _validate([payload], [offsets[pos]], [kafka_ts[pos]], partition=partition,
                                          topic=topic, index=index, last_ts=last_ts, limits=limits,
                                          lateness=lateness)  # fmt: skip
        except Exception as exc:
            log.exception("message validation raised; rejected as internal",
                          extra={"step": "validate", "partition": partition, "offset": offsets[pos]})  # fmt: skip
            rejects.append(_reject(RejectReason.INTERNAL, f"{type(exc).__name__}: {exc}", "", topic=topic,
                                   partition=partition, offset=offsets[pos], item=0, kafka_ts=kafka_ts[pos],
                                   payload=payload))  # fmt: skip
            continue
        rejects.extend(refused)
        if len(accepted):
            parts.append(replace(accepted, arrival=np.full(len(accepted), pos, dtype=np.int64)))
            if lateness is not None:
                lateness = replace(
                    lateness, partition_newest=max(lateness.partition_newest, int(accepted.ts.max())),
                    held_sensor=np.concatenate((lateness.held_sensor, accepted.sensor)),
                    held_ts=np.concatenate((lateness.held_ts, accepted.ts)),
                )  # fmt: skip
    if not parts:
        none = np.zeros(0, dtype=np.int64)
        return Accepted(none.astype(np.int32), none, none.astype(np.float64), none.astype(np.int32), none), rejects
    merged = Accepted(*(np.concatenate([getattr(p, f) for p in parts]) for f in Accepted.__slots__))
    by_sensor = np.argsort(merged.sensor, kind="stable")  # (sensor, arrival), as the batch path sorts
    return Accepted(*(getattr(merged, f)[by_sensor] for f in Accepted.__slots__)), rejects


def _reject(
    reason: RejectReason, detail: str, sensor_id: str, *, topic: str, partition: int, offset: int, item: int,
    kafka_ts: int, payload: bytes,
) -> Reject:  # fmt: skip
    """A reject carrying the start of the original message (as UTF-8 with replacement) and a bounded sensor id."""
    return Reject(
        reason=reason, detail=detail, sensor_id=sensor_id[:_MAX_REJECT_SENSOR_ID], topic=topic, partition=partition,
        offset=offset, item=item, kafka_ts=kafka_ts,
        payload=payload[:_MAX_REJECT_PAYLOAD].decode("utf-8", "replace"),
    )  # fmt: skip


class _Rejects:
    """The rejects of one batch, each carrying its message's offset, Kafka time and payload."""

    __slots__ = ("_kafka_ts", "_offsets", "_partition", "_payloads", "_topic", "items")

    def __init__(self, payloads: list[bytes], offsets: list[int], kafka_ts: list[int], *, partition: int,
                 topic: str) -> None:  # fmt: skip
        self.items: list[Reject] = []
        self._payloads, self._offsets, self._kafka_ts = payloads, offsets, kafka_ts
        self._partition, self._topic = partition, topic

    def add(self, pos: int, item: int, reason: RejectReason, detail: str, sensor_id: str = "") -> None:
        """Refuse reading ``item`` of the message at ``pos`` (item 0 and no reading: the whole message)."""
        self.items.append(_reject(reason, detail, sensor_id, topic=self._topic, partition=self._partition,
                                  offset=self._offsets[pos], item=item, kafka_ts=self._kafka_ts[pos],
                                  payload=self._payloads[pos]))  # fmt: skip


@dataclass(slots=True)
class _Decoded:
    """The decoded messages of a batch: single readings as lists, batch messages as values plus metadata."""

    sensors: list[int]
    stamps: list[int]
    values: list[float]
    qualities: list[int]
    origin: list[int]  # message position of each single reading
    batch_values: _ValueBuffer
    batch_meta: list[int]  # flat: sensor, t0, dt_ms, message position, count per batch message


@dataclass(frozen=True, slots=True)
class _Readings:
    """Every reading of a batch as arrays (singles first, then batch messages expanded), and one row per
    message (sensor, position in the batch, first reading, readings) for the arrival order."""

    sensor: npt.NDArray[np.int32]
    ts: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]
    quality: npt.NDArray[np.int32]
    origin: npt.NDArray[np.int64]  # message position of each reading
    item: npt.NDArray[np.int64]  # index of the reading within its message
    msg_sensor: npt.NDArray[np.int64]
    msg_pos: npt.NDArray[np.int64]
    msg_start: npt.NDArray[np.int64]
    msg_count: npt.NDArray[np.int64]


#: the value checks in the order they apply; a reading is refused for the first one it fails
_VALUE_CHECKS = (RejectReason.NON_FINITE, RejectReason.OUT_OF_RANGE, RejectReason.BAD_TIMESTAMP, RejectReason.FUTURE)


def _validate(
    payloads: list[bytes],
    offsets: list[int],
    kafka_ts: list[int],
    *,
    partition: int,
    topic: str,
    index: SensorIndex,
    last_ts: npt.NDArray[np.int64],
    limits: ValidationLimits,
    lateness: Lateness | None,
) -> tuple[Accepted, list[Reject]]:
    """The batch path of :func:`validate_batch`: decode, expand batch messages, check values, check
    order. ``last_ts`` is written only by the last step, once nothing can raise any more."""
    rejects = _Rejects(payloads, offsets, kafka_ts, partition=partition, topic=topic)
    readings = _expand(_decode(payloads, index, limits, rejects))
    valid = _check_values(readings, kafka_ts, index, limits, rejects)
    accepted = _check_order(readings, valid, index, last_ts, lateness, rejects)
    return accepted, rejects.items


def _decode(payloads: list[bytes], index: SensorIndex, limits: ValidationLimits, rejects: _Rejects) -> _Decoded:
    """Decode each message; refuse whole messages that are oversize, undecodable, of an unknown sensor,
    or malformed (an empty, oversize or implausibly timed batch; a reading without time or value)."""
    decoded = _Decoded([], [], [], [], [], _ValueBuffer(), [])
    sensors, stamps, values, qualities, origin = (
        decoded.sensors,
        decoded.stamps,
        decoded.values,
        decoded.qualities,
        decoded.origin,
    )
    reject = rejects.add
    # locals: this loop runs once per message, so every lookup saved counts
    decode, number_of = _decoder.decode, index.number.get
    add_values, extend_meta = decoded.batch_values.add, decoded.batch_meta.extend
    max_bytes, max_values, latest = limits.max_message_bytes, limits.max_batch_values, _LATEST_MS
    check_size = bool(payloads) and max(map(len, payloads)) > max_bytes
    for pos, payload in enumerate(payloads):
        if check_size and len(payload) > max_bytes:
            reject(pos, 0, RejectReason.OVERSIZE, f"{len(payload)} bytes > {max_bytes}")
            continue
        try:
            wire = decode(payload)
        except Exception as exc:  # whatever the bytes make the decoder raise, only this message is refused
            why, detail, sensor_id = _classify_undecodable(payload, exc)
            reject(pos, 0, why, detail, sensor_id)
            continue
        sensor = number_of(wire.sensor_id)
        if sensor is None:
            reject(pos, 0, RejectReason.UNKNOWN_SENSOR, "sensor id not in the registry", wire.sensor_id)
            continue
        batch = wire.values
        if batch is not None:
            t0, dt = wire.t0, wire.dt_ms
            if t0 is None or dt is None or dt <= 0:
                reject(pos, 0, RejectReason.MALFORMED, "a batch needs t0 and a positive dt_ms", wire.sensor_id)
                continue
            n = len(batch)
            if not n:
                reject(pos, 0, RejectReason.MALFORMED, "empty batch: no values", wire.sensor_id)
                continue
            if n > max_values:
                reject(pos, 0, RejectReason.OVERSIZE, f"{n} values > {max_values}", wire.sensor_id)
                continue
            if not (0 <= t0 < latest and dt < latest):
                reject(pos, 0, RejectReason.BAD_TIMESTAMP, f"t0 {t0} / dt_ms {dt} not plausible", wire.sensor_id)
                continue
            add_values(batch)
            extend_meta((sensor, t0, dt, pos, n))
        elif wire.ts is None or wire.value is None:
            reject(pos, 0, RejectReason.MALFORMED, "a reading needs ts+value or t0+dt_ms+values", wire.sensor_id)
        elif not 0 <= wire.ts < latest:
            reject(pos, 0, RejectReason.BAD_TIMESTAMP, _implausible(wire.ts, latest), wire.sensor_id)
        else:
            sensors.append(sensor)
            stamps.append(wire.ts)
            values.append(wire.value)
            qualities.append(wire.quality or 0)
            origin.append(pos)
    return decoded


def _expand(decoded: _Decoded) -> _Readings:
    """Every reading as arrays: the single readings, then each batch message's values at t0 + k·dt_ms."""
    sensor = np.array(decoded.sensors, dtype=np.int32)
    ts = np.array(decoded.stamps, dtype=np.int64)
    value = np.array(decoded.values, dtype=np.float64)
    quality = np.array(decoded.qualities, dtype=np.int32)
    origin = np.array(decoded.origin, dtype=np.int64)
    item = np.zeros(len(ts), dtype=np.int64)
    msg_sensor, msg_pos = sensor.astype(np.int64), origin
    msg_start, msg_count = np.arange(len(ts), dtype=np.int64), np.ones(len(ts), dtype=np.int64)
    if decoded.batch_meta:
        meta = np.array(decoded.batch_meta, dtype=np.int64).reshape(-1, 5)
        counts = meta[:, 4]
        msg_sensor, msg_pos = np.concatenate((msg_sensor, meta[:, 0])), np.concatenate((msg_pos, meta[:, 3]))
        msg_start = np.concatenate((msg_start, len(ts) + np.cumsum(counts) - counts))
        msg_count = np.concatenate((msg_count, counts))
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        within = np.arange(int(counts.sum()), dtype=np.int64) - starts
        sensor = np.concatenate((sensor, np.repeat(meta[:, 0], counts).astype(np.int32)))
        ts = np.concatenate((ts, np.repeat(meta[:, 1], counts) + within * np.repeat(meta[:, 2], counts)))
        value = np.concatenate((value, decoded.batch_values.array()))
        quality = np.concatenate((quality, np.zeros(len(within), dtype=np.int32)))
        origin = np.concatenate((origin, np.repeat(meta[:, 3], counts)))
        item = np.concatenate((item, within))
    return _Readings(sensor, ts, value, quality, origin, item, msg_sensor, msg_pos, msg_start, msg_count)


def _check_values(
    readings: _Readings, kafka_ts: list[int], index: SensorIndex, limits: ValidationLimits, rejects: _Rejects
) -> npt.NDArray[np.bool_]:
    """Refuse readings that are not finite, outside their sensor's range, too early, or in the future
    (:data:`_VALUE_CHECKS`, first failure wins); return which readings passed."""
    sensor, ts, value, origin = readings.sensor, readings.ts, readings.value, readings.origin
    kts = np.array(kafka_ts, dtype=np.int64)[origin] if len(origin) else np.zeros(0, np.int64)
    with np.errstate(invalid="ignore"):
        outside = (value < index.valid_min[sensor]) | (value > index.valid_max[sensor])
    failures = (
        ~np.isfinite(value),
        outside,
        ts < _EARLIEST_MS,
        ts > kts + limits.future_tolerance_ms,
    )  # in the order of _VALUE_CHECKS
    first_failed = np.full(len(ts), len(_VALUE_CHECKS), dtype=np.int8)  # len(_VALUE_CHECKS): passed every check
    for check, failed in enumerate(failures):
        first_failed[(first_failed == len(_VALUE_CHECKS)) & failed] = check
    for i in np.flatnonzero(first_failed < len(_VALUE_CHECKS)).tolist():
        reason = _VALUE_CHECKS[first_failed[i]]
        number = int(sensor[i])
        detail = _detail(reason, float(value[i]), int(ts[i]), int(kts[i]), index, number)
        rejects.add(int(origin[i]), int(readings.item[i]), reason, detail, index.sensor_ids[number])
    passed: npt.NDArray[np.bool_] = first_failed == len(_VALUE_CHECKS)
    return passed


def _check_order(
    readings: _Readings, valid: npt.NDArray[np.bool_], index: SensorIndex, last_ts: npt.NDArray[np.int64],
    lateness: Lateness | None, rejects: _Rejects,
) -> Accepted:  # fmt: skip
    """Refuse late and duplicate readings; accept the rest, grouped by sensor in arrival order, and
    advance ``last_ts``.

    Per sensor, in ARRIVAL order: a reading is late when its event time is behind the newest event
    time that sensor already delivered (in an earlier batch or earlier in this one), a duplicate when
    equal. Judging in arrival order makes the verdict independent of where batch boundaries fall.
    """
    arrival = _arrival_order_per_sensor(readings.msg_sensor, readings.msg_pos, readings.msg_start,
                                        readings.msg_count)  # fmt: skip
    order = arrival[valid[arrival]]
    s, t = readings.sensor[order], readings.ts[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = s[1:] != s[:-1]
    running = _running_max_per_segment(t, first)
    previous = np.empty_like(t)
    previous[1:] = running[:-1]
    previous[first] = -1
    watermark = np.maximum(previous, _segment_start_fill(last_ts[s], first))
    late_details: dict[int, str] = {}
    if lateness is None or lateness.allowed_ms <= 0:
        duplicate = t == watermark
        late = t < watermark
    else:
        item = readings.item
        arrival_key = readings.origin[order] * (int(item.max(initial=0)) + 1) + item[order]
        duplicate, late, late_details = _out_of_order(s, t, watermark, arrival_key, lateness)
    bad = duplicate | late
    for j in np.flatnonzero(bad).tolist():
        i = int(order[j])
        if duplicate[j]:
            reason, detail = RejectReason.DUPLICATE, f"event time {int(t[j])} already accepted for this sensor"
        else:
            reason = RejectReason.LATE
            detail = (
                late_details.get(j) or f"event time {int(t[j])} is behind the sensor's watermark {int(watermark[j])}"
            )
        rejects.add(int(readings.origin[i]), int(readings.item[i]), reason, detail, index.sensor_ids[int(s[j])])
    good = order[~bad]
    accepted = Accepted(readings.sensor[good], readings.ts[good], readings.value[good], readings.quality[good],
                        readings.origin[good])  # fmt: skip
    if len(order):  # each sensor's newest event time: rejected readings never exceed it, so take all
        ends = np.flatnonzero(np.append(first[1:], True))
        last_ts[s[ends]] = np.maximum(last_ts[s[ends]], running[ends])
    return accepted


def _running_max_per_segment(t: npt.NDArray[np.int64], first: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """The running maximum of ``t`` within each segment (segments start where ``first``), in one pass:
    each segment is lifted above all earlier ones (event times < 2**42 ms, i.e. before the year 2109, so
    segments never mix), accumulated, and lowered again."""
    lift = (np.cumsum(first) - 1).astype(np.int64) << 42
    running: npt.NDArray[np.int64] = np.maximum.accumulate(lift + t) - lift
    return running


def _out_of_order(
    s: npt.NDArray[np.int32], t: npt.NDArray[np.int64], newest_before: npt.NDArray[np.int64],
    arrival_key: npt.NDArray[np.int64], lateness: Lateness,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], dict[int, str]]:  # fmt: skip
    """Duplicate and late verdicts with an allowed lateness (readings grouped by sensor, arrival order).

    A reading newer than its sensor's newest is accepted (the common case, no Python per reading).
    An older one is a ``duplicate`` if its event time was already accepted, ``late`` if a newer reading
    of its sensor already counts as released (at or behind the partition's watermark when it arrived),
    and accepted otherwise. Only sensors with an older reading go through the loop below.
    """
    duplicate = np.zeros(len(t), dtype=bool)
    late = np.zeros(len(t), dtype=bool)
    details: dict[int, str] = {}
    behind = t <= newest_before
    if not behind.any():
        return duplicate, late, details
    # the partition's newest event time before each reading arrived (rejected readings never raise it)
    by_arrival = np.argsort(arrival_key)
    seen = np.maximum.accumulate(np.maximum(t[by_arrival], lateness.partition_newest))
    partition_before = np.empty_like(t)
    partition_before[by_arrival] = np.concatenate(([lateness.partition_newest], seen[:-1]))
    allowed = lateness.allowed_ms
    for sensor in np.unique(s[behind]).tolist():
        lo, hi = int(np.searchsorted(s, sensor, "left")), int(np.searchsorted(s, sensor, "right"))
        known = set(lateness.held_ts[lateness.held_sensor == sensor].tolist())  # accepted, not released
        released = int(lateness.released_ts[sensor])
        for j in range(lo, hi):
            tj = int(t[j])
            if tj > newest_before[j]:
                known.add(tj)
            elif tj in known or tj == released:
                duplicate[j] = True
            else:
                mark = int(partition_before[j]) - allowed
                floor = max([released, *(k for k in known if k <= mark)])
                if tj < floor:
                    late[j] = True
                    details[j] = (
                        f"event time {tj} is behind {floor}, already released to the detectors for this "
                        f"sensor (allowed lateness {allowed / 1000:g} s)"
                    )
                else:
                    known.add(tj)
    return duplicate, late, details


def _arrival_order_per_sensor(
    sensor: npt.NDArray[np.int64], position: npt.NDArray[np.int64],
    start: npt.NDArray[np.int64], count: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:  # fmt: skip
    """Reading indices ordered by (sensor, message position, item), from one row per message.

    Sorting the messages (about a thousand) instead of the readings (tens of thousands in batch
    messages) and expanding each message to its run of readings gives the same order, faster.
    """
    if len(sensor) == 0:
        return np.zeros(0, dtype=np.int64)
    position_bits = int(position.max()).bit_length()
    if position_bits + int(sensor.max()).bit_length() > 62:
        by_message = np.lexsort((position, sensor))
    else:
        by_message = np.argsort((sensor << position_bits) | position)  # unique keys: any sort will do
    counts = count[by_message]
    first_out = np.cumsum(counts) - counts  # where each message's run begins in the output
    order: npt.NDArray[np.int64] = np.arange(int(counts.sum()), dtype=np.int64)
    order += np.repeat(start[by_message] - first_out, counts)
    return order


def _segment_start_fill(values: npt.NDArray[np.int64], first: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Spread each segment's first value over the whole segment (segments start where ``first``)."""
    starts = np.flatnonzero(first)
    lengths = np.diff(np.append(starts, len(values)))
    return np.repeat(values[starts], lengths)


def _classify_undecodable(payload: bytes, exc: Exception) -> tuple[RejectReason, str, str]:
    """Reason, detail and sensor id (if readable) for a message the strict decoder refused. Never raises.

    Strict JSON has no NaN or infinity, but gateways send them (``NaN``, ``Infinity``, ``1e999``):
    those are ``non_finite`` readings, not garbage. Nesting too deep for the decoder and invalid UTF-8
    inside a string are ``malformed``; any other exception is ``internal``, named in the detail.
    Runs only for messages that failed strict decoding.
    """
    if isinstance(exc, RecursionError):
        return RejectReason.MALFORMED, "JSON nested too deeply", ""
    if isinstance(exc, UnicodeDecodeError):
        return RejectReason.MALFORMED, f"not valid UTF-8: {exc}", ""
    if not isinstance(exc, msgspec.DecodeError):
        return RejectReason.INTERNAL, f"{type(exc).__name__} while decoding: {exc}", ""
    return _classify_not_strict_json(payload, str(exc))


def _classify_not_strict_json(payload: bytes, error: str) -> tuple[RejectReason, str, str]:
    """``non_finite`` for a reading whose value is NaN or infinite in loose JSON, else ``malformed``."""
    import json
    import math

    if b"NaN" in payload or b"Infinity" in payload or "Number out of range" in error:
        try:
            loose = json.loads(payload)
        except (ValueError, RecursionError):  # (UnicodeDecodeError is a ValueError)
            loose = None
        if isinstance(loose, dict):
            value = loose.get("value")
            values = loose.get("values")
            numbers = [value] if value is not None else (values if isinstance(values, list) else [])
            if any(isinstance(v, float) and not math.isfinite(v) for v in numbers):
                sensor_id = loose.get("sensor_id")
                return (
                    RejectReason.NON_FINITE,
                    "value is NaN or infinite",
                    sensor_id if isinstance(sensor_id, str) else "",
                )
    return RejectReason.MALFORMED, error, ""


def _detail(code: RejectReason, value: float, ts: int, kafka_ts: int, index: SensorIndex, sensor: int) -> str:
    if code is RejectReason.NON_FINITE:
        return f"value {value} is not a finite number"
    if code is RejectReason.OUT_OF_RANGE:
        return f"value {value} outside the possible range [{index.valid_min[sensor]}, {index.valid_max[sensor]}]"
    if code is RejectReason.BAD_TIMESTAMP:
        return f"event time {ts} ms is before 2000-01-01" + _unit_hint(ts * 1000, kafka_ts, "seconds")
    return f"event time {ts} is {(ts - kafka_ts) / 1000:.0f} s after the Kafka timestamp {kafka_ts}"


def _unit_hint(rescaled_ms: int, kafka_ts: int, unit: str) -> str:
    """A hint for a sender that writes event times in another unit: ``rescaled_ms`` (the event time read in
    that ``unit``) lies within a day of the Kafka timestamp."""
    if abs(rescaled_ms - kafka_ts) <= 86_400_000:
        return f"; read as epoch {unit} it would be {rescaled_ms} ms, near the Kafka timestamp: ts is in milliseconds"
    return ""


def _implausible(ts: int, latest: int) -> str:
    """Why an event time beyond ``latest`` is refused, with a hint when it reads as micro- or nanoseconds."""
    for unit, per_ms in (("microseconds", 1_000), ("nanoseconds", 1_000_000)):
        if _EARLIEST_MS <= ts // per_ms < latest:
            return f"event time {ts} ms is not plausible; read as epoch {unit} it is {ts // per_ms} ms: ts is in ms"
    return f"event time {ts} ms is not plausible"
