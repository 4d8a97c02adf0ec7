"""Shared pieces of the water rule tests: a DMA's sensor specs, a smooth daily flow, and a replay of readings
through the detectors as the flow would run them (each step: every sensor, then the group)."""

from __future__ import annotations

import numpy as np

from lifeline.detectors import Detectors
from lifeline.models import AlertEvent, SensorKind, SensorSpec
from lifeline.registry import Registry

START = 1_721_001_600_000  # 2024-07-15T00:00Z = 08:00 local
STEP = 300_000
HOUR = 3_600_000
DAY = 86_400_000
DMA = "DMA-1"


def dma_spec(sensor_id: str, kind: SensorKind, network: str = "") -> SensorSpec:
    """A 5-minute sensor of the DMA ``DMA-1``."""
    return SensorSpec(sensor_id, kind, sensor_id, "hefei-water", "shushan", 31.8, 117.2, group_id=DMA,
                      interval_s=300.0, network=network)  # fmt: skip


def local_hour(ts: np.ndarray) -> np.ndarray:
    """Hour of day (China Standard Time) of epoch-ms timestamps."""
    return ((ts + 8 * HOUR) % DAY) / HOUR


def daily_flow(ts: np.ndarray, night: float, day: float) -> np.ndarray:
    """A smooth daily flow: ``night`` around 03:00 local, ``day`` in the afternoon."""
    phase = np.cos(2 * np.pi * (local_hour(ts) - 15.0) / 24.0)
    return night + (day - night) * (phase + 1) / 2


def replay(
    registry: Registry, ts: np.ndarray, series: dict[str, np.ndarray], *, quiet_after_ms: int = 0
) -> list[AlertEvent]:
    """Replay reading by reading (each step: every sensor, then the group) and return the group's alert events;
    ``quiet_after_ms`` > 0 advances the group that long past the last reading with no findings (clears)."""
    det = Detectors(registry)
    states = {s: det.new_sensor_state(s) for s in series}
    group = det.new_group_state(DMA)
    events: list[AlertEvent] = []
    for k in range(ts.size):
        findings = []
        for sensor, values in series.items():
            findings += det.process_sensor(states[sensor], ts[k : k + 1], values[k : k + 1]).findings
        events += det.process_group(group, findings, int(ts[k]))
    if quiet_after_ms:
        events += det.process_group(group, [], int(ts[-1]) + quiet_after_ms)
    return events
