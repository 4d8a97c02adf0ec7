"""The public surface of ``lifeline.detectors`` that the dataflow and offline tools call.

Split between *logic* and *state*: a :class:`Detectors` object holds the registry and the
configuration and is built once per process; the per-sensor and per-group state objects it creates
hold only data, so they pickle small and fast into Bytewax snapshots (target: a few KiB per sensor).

Contract with the caller (the dataflow guarantees it):

* ``process_sensor`` receives one sensor's readings in strictly increasing event time; late and
  duplicate readings were already sent to the DLQ. Values are finite and inside the sensor's
  physical range.
* Every decision is made on **event time**, never on the wall clock. ``watermark_ms`` is the
  event-time watermark of the caller (e.g. of the Kafka partition); it only moves forward.
* ``process_group`` may receive findings from several partitions, in any interleaving; the group
  logic buffers and orders them by event time so that the same set of findings yields the same
  alert events (1 worker or N workers produce the same alerts).
"""

from __future__ import annotations

import msgspec

from lifeline.models import AlertKind, Tier

__all__ = ["Finding", "SensorResult", "WindowStats"]


class WindowStats(msgspec.Struct, frozen=True, gc=False):
    """Statistics of one sensor over one closed tumbling window (stored in ``sensor_stats``)."""

    sensor_id: str
    window_start: int
    window_s: int
    count: int
    mean: float
    min: float
    max: float
    std: float
    slope_per_h: float
    last: float


class Finding(msgspec.Struct, frozen=True):
    """A sensor-level observation handed to the group stage for correlation and alarm state.

    ``tier`` is the tier the sensor-level rule suggests (``None`` means the condition has ended,
    letting the alarm clear). ``score`` is in [0, 1]. ``evidence`` says in words which rule fired
    on which numbers; ``rule`` is a stable rule identifier (e.g. ``gas.lel.t1_upper_alarm``).
    """

    sensor_id: str
    asset_id: str
    group_id: str
    kind: AlertKind
    tier: Tier | None
    ts: int
    value: float
    score: float
    evidence: str
    rule: str


class SensorResult(msgspec.Struct, frozen=True):
    """What one call on a sensor produced: closed windows and findings (both usually empty)."""

    stats: list[WindowStats]
    findings: list[Finding]
