"""Decode and validate one consume batch, vectorised. Pure numpy + msgspec: no Bytewax in here.

Every message either becomes accepted readings or a :class:`~lifeline.models.Reject` with a reason
code; nothing is dropped silently. Checks, in order: size (``oversize``), JSON shape
(``malformed``), registry (``unknown_sensor``), ``non_finite``, physical range (``out_of_range``),
plausible time (``bad_timestamp``; ``future`` = later than the Kafka timestamp plus a tolerance,
so a replay judges the same way as the live run), then per-sensor order (``duplicate``, ``late``).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import numpy as np
import numpy.typing as npt

from lifeline.models import Reject, RejectReason
from lifeline.registry import Registry

__all__ = ["Accepted", "SensorIndex", "ValidationLimits", "validate_batch"]

_EARLIEST_MS = 946_684_800_000  # 2000-01-01T00:00:00Z


class _Wire(msgspec.Struct, frozen=True, gc=False):
    sensor_id: str
    ts: int | None = None
    value: float | None = None
    quality: int | None = None
    t0: int | None = None
    dt_ms: int | None = None
    values: list[float] | None = None


_decoder = msgspec.json.Decoder(_Wire)


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
    """Configurable limits of validation."""

    max_message_bytes: int = 262_144
    max_batch_values: int = 10_000
    future_tolerance_ms: int = 300_000


@dataclass(frozen=True, slots=True)
class Accepted:
    """Accepted readings of a batch, sorted by (sensor number, event time)."""

    sensor: npt.NDArray[np.int32]
    ts: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]
    quality: npt.NDArray[np.int32]

    def __len__(self) -> int:
        return len(self.ts)

    def segments(self) -> list[tuple[int, int, int]]:
        """``(sensor number, start, stop)`` for each sensor's run of readings."""
        if len(self.sensor) == 0:
            return []
        cuts = np.flatnonzero(np.diff(self.sensor)) + 1
        starts = np.concatenate(([0], cuts))
        stops = np.concatenate((cuts, [len(self.sensor)]))
        return list(zip(self.sensor[starts].tolist(), starts.tolist(), stops.tolist(), strict=True))


def validate_batch(
    payloads: list[bytes],
    offsets: list[int],
    kafka_ts: list[int],
    *,
    partition: int,
    topic: str,
    index: SensorIndex,
    last_ts: npt.NDArray[np.int64],
    limits: ValidationLimits,
) -> tuple[Accepted, list[Reject]]:
    """Validate a batch. ``last_ts`` (per sensor number) is read and advanced for accepted readings."""
    rejects: list[Reject] = []
    number = index.number
    sensors: list[int] = []
    stamps: list[int] = []
    values: list[float] = []
    qualities: list[int] = []
    origin: list[int] = []  # message position, for rejects found by the vector checks
    items: list[int] = []

    def reject(pos: int, item: int, reason: RejectReason, detail: str, sensor_id: str = "") -> None:
        rejects.append(Reject(
            reason=reason, detail=detail, sensor_id=sensor_id, topic=topic, partition=partition,
            offset=offsets[pos], item=item, kafka_ts=kafka_ts[pos],
            payload=payloads[pos][:4096].decode("utf-8", "replace"),
        ))  # fmt: skip

    for pos, payload in enumerate(payloads):
        if len(payload) > limits.max_message_bytes:
            reject(pos, 0, RejectReason.OVERSIZE, f"{len(payload)} bytes > {limits.max_message_bytes}")
            continue
        try:
            wire = _decoder.decode(payload)
        except msgspec.DecodeError as exc:
            text = str(exc)  # JSON has no NaN/inf; an overflowing number like 1e999 is the non-finite case
            overflow = "Number out of range" in text and "value" in text
            reject(pos, 0, RejectReason.NON_FINITE if overflow else RejectReason.MALFORMED, text)
            continue
        sensor = number.get(wire.sensor_id)
        if sensor is None:
            reject(pos, 0, RejectReason.UNKNOWN_SENSOR, "sensor id not in the registry", wire.sensor_id)
            continue
        if wire.values is not None:
            if wire.t0 is None or wire.dt_ms is None or wire.dt_ms <= 0:
                reject(pos, 0, RejectReason.MALFORMED, "a batch needs t0 and a positive dt_ms", wire.sensor_id)
                continue
            n = len(wire.values)
            if n > limits.max_batch_values:
                reject(pos, 0, RejectReason.OVERSIZE, f"{n} values > {limits.max_batch_values}", wire.sensor_id)
                continue
            t0, dt = wire.t0, wire.dt_ms
            sensors.extend([sensor] * n)
            stamps.extend(range(t0, t0 + n * dt, dt))
            values.extend(wire.values)
            qualities.extend([0] * n)
            origin.extend([pos] * n)
            items.extend(range(n))
        elif wire.ts is None or wire.value is None:
            reject(pos, 0, RejectReason.MALFORMED, "a reading needs ts+value or t0+dt_ms+values", wire.sensor_id)
        else:
            sensors.append(sensor)
            stamps.append(wire.ts)
            values.append(wire.value)
            qualities.append(wire.quality or 0)
            origin.append(pos)
            items.append(0)

    sensor_arr = np.array(sensors, dtype=np.int32)
    ts_arr = np.array(stamps, dtype=np.int64)
    value_arr = np.array(values, dtype=np.float64)
    quality_arr = np.array(qualities, dtype=np.int32)
    origin_arr = np.array(origin, dtype=np.int64)
    kts = np.array(kafka_ts, dtype=np.int64)[origin_arr] if len(origin_arr) else np.zeros(0, np.int64)

    reason = np.zeros(len(ts_arr), dtype=np.int8)  # 0 = accepted
    codes = (RejectReason.NON_FINITE, RejectReason.OUT_OF_RANGE, RejectReason.BAD_TIMESTAMP, RejectReason.FUTURE)
    finite = np.isfinite(value_arr)
    reason[~finite] = 1
    with np.errstate(invalid="ignore"):
        outside = (value_arr < index.valid_min[sensor_arr]) | (value_arr > index.valid_max[sensor_arr])
    reason[(reason == 0) & outside] = 2
    reason[(reason == 0) & (ts_arr < _EARLIEST_MS)] = 3
    reason[(reason == 0) & (ts_arr > kts + limits.future_tolerance_ms)] = 4
    for i in np.flatnonzero(reason).tolist():
        code = codes[reason[i] - 1]
        sid = index.sensor_ids[sensor_arr[i]]
        detail = _detail(code, float(value_arr[i]), int(ts_arr[i]), int(kts[i]), index, int(sensor_arr[i]))
        reject(int(origin_arr[i]), items[i], code, detail, sid)

    keep = np.flatnonzero(reason == 0)
    order = keep[np.lexsort((ts_arr[keep], sensor_arr[keep]))]
    s, t = sensor_arr[order], ts_arr[order]
    same_as_previous = np.zeros(len(order), dtype=bool)
    same_as_previous[1:] = (s[1:] == s[:-1]) & (t[1:] == t[:-1])
    watermark = last_ts[s]
    duplicate = same_as_previous | (t == watermark)
    late = t < watermark
    bad = duplicate | late
    for j in np.flatnonzero(bad).tolist():
        i = int(order[j])
        code = RejectReason.DUPLICATE if duplicate[j] else RejectReason.LATE
        detail = (
            f"event time {int(t[j])} already accepted for this sensor"
            if code is RejectReason.DUPLICATE
            else f"event time {int(t[j])} is behind the sensor's watermark {int(watermark[j])}"
        )
        reject(int(origin_arr[i]), items[i], code, detail, index.sensor_ids[int(s[j])])
    good = order[~bad]
    accepted = Accepted(sensor_arr[good], ts_arr[good], value_arr[good], quality_arr[good])
    if len(good):
        last = np.flatnonzero(np.diff(accepted.sensor, append=-1))
        last_ts[accepted.sensor[last]] = accepted.ts[last]
    return accepted, rejects


def _detail(code: RejectReason, value: float, ts: int, kafka_ts: int, index: SensorIndex, sensor: int) -> str:
    if code is RejectReason.NON_FINITE:
        return f"value {value} is not a finite number"
    if code is RejectReason.OUT_OF_RANGE:
        return f"value {value} outside the possible range [{index.valid_min[sensor]}, {index.valid_max[sensor]}]"
    if code is RejectReason.BAD_TIMESTAMP:
        return f"event time {ts} ms is before 2000-01-01"
    return f"event time {ts} is {(ts - kafka_ts) / 1000:.0f} s after the Kafka timestamp {kafka_ts}"
