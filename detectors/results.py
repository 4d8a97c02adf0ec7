"""The values the detectors hand to their callers: closed windows, findings and per-call results.

:class:`WindowStats` rows go to ``sensor_stats``; :class:`Finding` objects go from the partition stage to
the group stage; :class:`SensorResult` is what one per-sensor call returns. What the dataflow may call
and what it guarantees in return is in :mod:`lifeline.detectors.contract`.
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

    ``change`` is how far the sensor moved against the level the rule compares with (its pre-event level or
    baseline, in the sensor's unit; ``None`` when the rule has none): the group stage names the sensors that moved
    most from it. ``location`` is where a detector that locates on its own says the incident is (else empty).
    ``incident`` tells apart incidents of one kind that one detector keeps open in one group at the same time (a
    further background leak found on top of a standing one): each non-empty value is an alert of its own.
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
    change: float | None = None
    location: str = ""
    incident: str = ""


class SensorResult(msgspec.Struct, frozen=True):
    """What one call on a sensor produced: closed windows and findings (both usually empty)."""

    stats: list[WindowStats]
    findings: list[Finding]
