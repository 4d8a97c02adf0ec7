"""Replay readings at a fixed step through one group's detectors, in process (the unit tests of group checks)."""

from __future__ import annotations

import numpy as np

from lifeline.detectors import Detectors, Finding, GroupState, SensorState
from lifeline.models import AlertEvent

#: a sensor's state and its group's state, to pickle mid-way and resume from
States = tuple[dict[str, SensorState], GroupState]


def replay_group(
    det: Detectors, signals: dict[str, np.ndarray], *, t0: int, step_ms: int, start: int, until: int,
    states: States | None = None, group: str = "G",
) -> tuple[list[AlertEvent], list[Finding], States]:  # fmt: skip
    """Feed reading ``i`` of every sensor in ``signals`` at ``t0 + i * step_ms`` for ``start <= i < until``, one
    reading per call, and the group its findings with that time as the watermark; return the alert events, the
    findings and the states (``states``: resume from these)."""
    sensors, group_state = states or ({s: det.new_sensor_state(s) for s in signals}, det.new_group_state(group))
    events: list[AlertEvent] = []
    findings: list[Finding] = []
    for i in range(start, until):
        ts = t0 + i * step_ms
        found: list[Finding] = []
        for sensor_id, values in signals.items():
            found.extend(det.process_sensor(sensors[sensor_id], np.array([ts]), np.array([values[i]])).findings)
        findings.extend(found)
        events.extend(det.process_group(group_state, found, ts))
    return events, findings, (sensors, group_state)
