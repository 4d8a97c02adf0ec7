"""A logger's drop at the time of day of the drops of the days before is a scheduled operation with no state
sensor, not a burst (docs/domain.md#scheduled-operations-without-a-state-sensor)."""

from __future__ import annotations

import pickle

import numpy as np

from lifeline.detectors import Detectors
from lifeline.detectors.config import RulesConfig, WaterRules
from lifeline.models import AlertEvent, AlertEventType, AlertKind, SensorKind, Tier
from lifeline.registry import Registry

from .dma import DAY, DMA, HOUR, START, STEP, dma_spec

LOGGER = "DMA-1-P1"
LEVEL = 0.40  # MPa


def _series(days: int, drops: list[tuple[float, float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """A quiet logger (2 mm of instrument noise) and drops of (start h, length h, MPa) from the start."""
    ts = START + np.arange(days * 288, dtype=np.int64) * STEP
    values = LEVEL + np.random.default_rng(7).normal(0.0, 0.0002, ts.size)
    for start_h, hours, mpa in drops:
        values -= mpa * ((ts >= START + start_h * HOUR) & (ts < START + (start_h + hours) * HOUR))
    return ts, values


def _opened(ts: np.ndarray, values: np.ndarray, config: RulesConfig | None = None) -> list[AlertEvent]:
    """The pipe_burst alerts the logger opens, replayed reading by reading as the flow would."""
    det = Detectors(Registry([dma_spec(LOGGER, SensorKind.WATER_PRESSURE)]), config)
    state, group = det.new_sensor_state(LOGGER), det.new_group_state(DMA)
    events: list[AlertEvent] = []
    for k in range(ts.size):
        findings = det.process_sensor(state, ts[k : k + 1], values[k : k + 1]).findings
        events += det.process_group(group, findings, int(ts[k]))
        if k == ts.size // 2:  # the onsets survive a snapshot
            state = pickle.loads(pickle.dumps(state))
    return [e for e in events if e.kind is AlertKind.PIPE_BURST and e.event is AlertEventType.OPENED]


def _days(events: list[AlertEvent]) -> list[int]:
    return [int((e.ts - START) // DAY) for e in events]


def test_a_drop_every_morning_alerts_on_the_first_two_days_only_and_a_drop_at_another_hour_still_alerts() -> None:
    # 0.06 MPa (a moderate drop: ≥ 0.05 MPa) for 40 min, every day at 00:35 after the start (08:35 local), give or
    # take 10 min; on day 5 also one at 06:00
    daily = [(d * 24 + 0.58 + (0.17 if d % 2 else -0.08), 40 / 60, 0.06) for d in range(7)]
    ts, values = _series(7, [*daily, (5 * 24 + 6.0, 1.0, 0.06)])
    opened = _opened(ts, values)
    assert _days(opened) == [0, 1, 5], _days(opened)
    assert all(e.tier is Tier.T3 or e.tier is Tier.T2 for e in opened)
    # turned off, every morning opens an alert
    off = RulesConfig(water=WaterRules(drop_recurring_days=0))
    assert _days(_opened(ts, values, off)) == [0, 1, 2, 3, 4, 5, 5, 6]


def test_a_big_drop_at_the_same_time_each_day_still_alerts() -> None:
    # ≥ 0.1 MPa is a burst's size: never taken for a schedule
    ts, values = _series(5, [(d * 24 + 0.58, 40 / 60, 0.15) for d in range(5)])
    assert _days(_opened(ts, values)) == [0, 1, 2, 3, 4]


def test_a_scheduled_step_that_deepens_stays_the_operation_it_began_as() -> None:
    # as a step attributed to a pump's operation stays attributed for as long as it lasts: on day 4 the morning's
    # drop deepens to 0.15 MPa 20 minutes in, and it is still the schedule, not a burst
    daily = [(d * 24 + 0.58, 40 / 60, 0.06) for d in range(6)]
    ts, values = _series(6, [*daily, (4 * 24 + 0.58 + 20 / 60, 20 / 60, 0.09)])
    assert _days(_opened(ts, values)) == [0, 1]
