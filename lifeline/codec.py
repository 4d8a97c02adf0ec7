"""Fast JSON encoding and decoding of wire messages (msgspec, typed).

A reading message on ``lifeline.readings`` is one of two JSON objects:

* single: ``{"sensor_id": "G-0001-CH4", "ts": 1700000000000, "value": 3.2}`` (``quality`` optional)
* batch:  ``{"sensor_id": "B-01-ACC", "t0": 1700000000000, "dt_ms": 20, "values": [0.01, ...]}``

>>> decode_reading_message(b'{"sensor_id":"s1","ts":5,"value":1.5}')
Reading(sensor_id='s1', ts=5, value=1.5, quality=None)
>>> decode_reading_message(b'{"sensor_id":"s1"}')
Traceback (most recent call last):
...
lifeline.exceptions.MessageError: malformed: a reading needs either ts+value or t0+dt_ms+values
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from lifeline.exceptions import MessageError
from lifeline.models import AlertEvent, Reading, ReadingBatch

__all__ = [
    "WireReading",
    "decode_alert_event",
    "decode_reading_message",
    "encode",
]


Quality = Annotated[int, msgspec.Meta(ge=-(2**31) + 1, le=2**31 - 1)]
"""A gateway quality code, stored in an ``INT`` column: beyond int32 (QuestDB keeps -2**31 for NULL): malformed."""


class WireReading(msgspec.Struct, frozen=True, gc=False):
    """One message of ``lifeline.readings`` as sent: a single reading (``ts``, ``value``) or a batch
    (``t0``, ``dt_ms``, ``values``). The one typed decoder shape for the codec, validation and benchmarks."""

    sensor_id: str
    ts: int | None = None
    value: float | None = None
    quality: Quality | None = None
    t0: int | None = None
    dt_ms: int | None = None
    values: list[float] | None = None


_reading_decoder = msgspec.json.Decoder(WireReading)
_alert_decoder = msgspec.json.Decoder(AlertEvent)
_encoder = msgspec.json.Encoder()


def encode(message: msgspec.Struct) -> bytes:
    """Encode any wire struct (Reading, ReadingBatch, AlertEvent) to compact JSON bytes."""
    return _encoder.encode(message)


def decode_reading_message(payload: bytes) -> Reading | ReadingBatch:
    """Decode one message from ``lifeline.readings``; raise :class:`MessageError` if malformed."""
    try:
        wire = _reading_decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise MessageError("malformed", str(exc)) from None
    if wire.values is not None:
        if wire.t0 is None or wire.dt_ms is None or wire.dt_ms <= 0:
            raise MessageError("malformed", "a batch needs t0 and a positive dt_ms")
        return ReadingBatch(wire.sensor_id, wire.t0, wire.dt_ms, wire.values)
    if wire.ts is None or wire.value is None:
        raise MessageError("malformed", "a reading needs either ts+value or t0+dt_ms+values")
    return Reading(wire.sensor_id, wire.ts, wire.value, wire.quality)


def decode_alert_event(payload: bytes) -> AlertEvent:
    """Decode one alert lifecycle event from ``lifeline.alerts``."""
    try:
        return _alert_decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise MessageError("malformed", str(exc)) from None
