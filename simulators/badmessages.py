"""Deliberately bad messages, each with the dead-letter reason the pipeline should give.

``malformed`` (broken JSON), ``unknown_sensor`` (not in the registry), ``out_of_range`` (outside the
kind's physical range), ``non_finite`` (``1e999``, which overflows to infinity: JSON has no NaN or
infinity literal), ``future`` (timestamp in the year 2100, later than any Kafka timestamp) and ``late``
(event time far behind the sensor's own later readings, on no sample instant so it is not a duplicate).
"""

from __future__ import annotations

from dataclasses import dataclass

from lifeline.models import SensorKind, SensorSpec
from lifeline.simulators.groundtruth import GroundTruthRow

__all__ = ["DLQ_REASONS", "FAR_FUTURE_MS", "BadMessage", "make_bad_messages"]

DLQ_REASONS = ("malformed", "unknown_sensor", "out_of_range", "non_finite", "future", "late")
FAR_FUTURE_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z


@dataclass(frozen=True, slots=True)
class BadMessage:
    """A raw message to send at ``emit_at_ms`` (its place in the stream), with the expected DLQ reason."""

    emit_at_ms: int
    key: bytes
    payload: bytes
    reason: str


def _reading(sensor_id: str, ts_ms: int, value: str) -> bytes:
    return f'{{"sensor_id":"{sensor_id}","ts":{ts_ms},"value":{value}}}'.encode()


def make_bad_messages(
    sensors: list[SensorSpec], start_ms: int, end_ms: int
) -> tuple[list[BadMessage], list[GroundTruthRow]]:
    """One bad message of every DLQ reason, spread over the scenario, with their ground-truth rows."""
    ch4 = next((s for s in sensors if s.kind is SensorKind.CH4_LEL), sensors[0])
    other = sensors[len(sensors) // 2]
    span = end_ms - start_ms
    at = [start_ms + span * k // 8 + 1234 for k in range(1, 7)]
    over = ch4.valid_max * 2.5 + 1.0
    late_ts = start_ms + 120_007
    messages = [
        BadMessage(at[0], ch4.sensor_id.encode(), _reading(ch4.sensor_id, at[0], "3.2")[:-9], "malformed"),
        BadMessage(at[1], b"ZZ-UNKNOWN-0001", _reading("ZZ-UNKNOWN-0001", at[1], "1.0"), "unknown_sensor"),
        BadMessage(at[2], ch4.sensor_id.encode(), _reading(ch4.sensor_id, at[2], repr(over)), "out_of_range"),
        BadMessage(at[3], other.sensor_id.encode(), _reading(other.sensor_id, at[3], "1e999"), "non_finite"),
        BadMessage(at[4], other.sensor_id.encode(), _reading(other.sensor_id, FAR_FUTURE_MS, "1.0"), "future"),
        BadMessage(
            max(at[5], end_ms - 60_000), ch4.sensor_id.encode(), _reading(ch4.sensor_id, late_ts, "0.8"), "late"
        ),
    ]
    notes = {
        "malformed": "truncated JSON",
        "unknown_sensor": "sensor id not in the registry",
        "out_of_range": f"{over:g} {ch4.unit} is outside {ch4.valid_min:g}..{ch4.valid_max:g}",
        "non_finite": "value 1e999 overflows to infinity",
        "future": "timestamp 2100-01-01T00:00:00Z",
        "late": f"event time {(max(at[5], end_ms - 60_000) - late_ts) // 60_000} min behind the stream",
    }
    rows = []
    for message in messages:
        sensor = message.key.decode()
        known = next((s for s in (ch4, other) if s.sensor_id == sensor), None)
        rows.append(GroundTruthRow(
            id="", label="bad_message", kind="", expected_tier="dlq",
            lifeline=known.lifeline.value if known else "", asset_id=known.asset_id if known else "",
            group_id=known.group_id if known else "", sensor_ids=(sensor,), start_ms=message.emit_at_ms,
            end_ms=message.emit_at_ms + 1, detail=f"{message.reason}: {notes[message.reason]}",
            dlq_reason=message.reason,
        ))  # fmt: skip
    return messages, rows
