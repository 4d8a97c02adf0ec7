"""Night-flow background-leak rules: a zero baseline never flags, a standing leak stays one alert, pumps are
not bursts. Both the per-sensor rule of the live flow (``water.flow.mnf``) and the DMA detector."""

from __future__ import annotations

import numpy as np

from lifeline.detectors import Detectors
from lifeline.detectors.hydraulic import DmaLeakDetector
from lifeline.models import AlertEvent, AlertEventType, AlertKind, SensorKind, SensorSpec
from lifeline.registry import Registry

from .dma import DAY, START, STEP, daily_flow, local_hour


def _meter_registry() -> Registry:
    spec = SensorSpec("DMA-Q", SensorKind.WATER_FLOW, "DMA-IN", "hefei-water", "shushan", 31.8, 117.2,
                      group_id="DMA-1", interval_s=300.0)  # fmt: skip
    return Registry([spec])


def _live_rule_events(values: np.ndarray, ts: np.ndarray) -> list[AlertEvent]:
    det = Detectors(_meter_registry())
    state = det.new_sensor_state("DMA-Q")
    group = det.new_group_state("DMA-1")
    events: list[AlertEvent] = []
    for day in range(0, ts.size, 288):
        part = slice(day, day + 288)
        result = det.process_sensor(state, ts[part], values[part])
        events += det.process_group(group, result.findings, int(ts[part][-1]))
    return [e for e in events if e.kind is AlertKind.BACKGROUND_LEAK]


def test_live_rule_zero_night_flow_never_flags() -> None:
    ts = START + np.arange(12 * 288, dtype=np.int64) * STEP
    values = np.where((local_hour(ts) >= 1) & (local_hour(ts) < 5), 0.0, daily_flow(ts, 20.0, 80.0))
    assert _live_rule_events(values, ts) == []  # the old rule flagged every night: 0 >= 0 × 1.15


def test_live_rule_standing_leak_is_one_alert_through_the_nights() -> None:
    ts = START + np.arange(16 * 288, dtype=np.int64) * STEP
    rng = np.random.default_rng(3)
    values = daily_flow(ts, 50.0, 150.0) * (1 + rng.normal(0, 0.005, ts.size))
    values = values + np.where(ts >= START + 7 * DAY, 20.0, 0.0)  # +40 % of the night flow, never repaired
    events = _live_rule_events(values, ts)
    assert [e.event for e in events] == [AlertEventType.OPENED]  # the old rule cleared at 02:25, re-opened at 04:00


def _dma_findings(flow: np.ndarray, ts: np.ndarray, pressures: np.ndarray, states: np.ndarray) -> list[AlertEvent]:
    registry = _meter_registry()
    det = Detectors(registry)
    group = det.new_group_state("DMA-1")
    leak = DmaLeakDetector(group_id="DMA-1", meter_id="DMA-Q", logger_ids=[f"P{i}" for i in range(pressures.shape[0])])
    events: list[AlertEvent] = []
    for k in range(ts.size):
        found = leak.step(int(ts[k]), float(flow[k]), pressures[:, k], np.zeros(0), states[:, k])
        events += det.process_group(group, found, int(ts[k]))
    return [e for e in events if e.event is AlertEventType.OPENED]


def test_dma_detector_zero_baseline_never_flags() -> None:
    ts = START + np.arange(20 * 288, dtype=np.int64) * STEP
    flow = np.zeros(ts.size)
    pressures = np.full((3, ts.size), 0.4)
    assert _dma_findings(flow, ts, pressures, np.zeros((1, ts.size))) == []


def test_dma_detector_standing_leak_is_one_alert_and_pumps_raise_none() -> None:
    ts = START + np.arange(24 * 288, dtype=np.int64) * STEP
    rng = np.random.default_rng(5)
    flow = daily_flow(ts, 60.0, 200.0) * (1 + rng.normal(0, 0.004, ts.size))
    pump = ((local_hour(ts) >= 1) & (local_hour(ts) < 15)).astype(np.float64)[None, :]  # a daily pump run
    # the loggers: head loss with the square of the flow, +3 m of head (0.03 MPa) while the pump runs
    pressures = 0.45 - 0.1 * (flow / 200.0) ** 2 + 0.03 * pump + rng.normal(0, 0.0002, (3, ts.size))
    quiet = _dma_findings(flow, ts, pressures, pump)
    assert quiet == []  # 24 pump starts and stops, no alert
    leaky = flow + np.where(ts >= START + 14 * DAY, 12.0, 0.0)  # +20 % of the night flow from day 14 on
    opened = _dma_findings(leaky, ts, pressures, pump)
    assert [e.kind for e in opened if e.kind is AlertKind.BACKGROUND_LEAK] == [AlertKind.BACKGROUND_LEAK]
