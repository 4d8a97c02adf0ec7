"""Bursts of the DMA detector that the consumption cannot show: a burst of a few m³/h in a DMA of thousands is
under the noise of the demand, so the loggers must be able to raise it alone; a daily operation that moves
the loggers the same way every day must not (docs/domain.md#hydraulic-water-scenarios-and-dma-leak-detection)."""

from __future__ import annotations

import numpy as np

from lifeline.detectors.config import LeakConfig
from lifeline.detectors.hydraulic import DmaLeakDetector
from lifeline.models import AlertKind

from .dma import DAY, HOUR, START, STEP, daily_flow, local_hour

M_PER_MPA = 1.0e6 / (1000.0 * 9.80665)  # metres of water head per MPa
BURST_AT = START + 8 * DAY + 2 * HOUR  # 10:00 local on day 8


def _dma(days: int, seed: int, demand_noise: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A DMA of about 2,000 m³/h by day with a noisy demand, and 4 loggers whose head falls with its square."""
    ts = START + np.arange(days * 288, dtype=np.int64) * STEP
    rng = np.random.default_rng(seed)
    flow = daily_flow(ts, 800.0, 2000.0) * (1 + rng.normal(0.0, demand_noise, ts.size))
    pressures = 0.45 - 0.1 * (flow / 2000.0) ** 2 + rng.normal(0.0, 0.0002, (4, ts.size))  # 2 cm instrument noise
    return ts, flow, pressures


def _bursts(ts: np.ndarray, flow: np.ndarray, pressures: np.ndarray, states: np.ndarray,
            config: LeakConfig | None = None) -> list[int]:  # fmt: skip
    """Times the detector opens a burst (its first tiered finding after a quiet step)."""
    detector = DmaLeakDetector(group_id="DMA-1", meter_id="DMA-Q", logger_ids=["P0", "P1", "P2", "P3"],
                               config=config)  # fmt: skip
    opened: list[int] = []
    holding = False
    for k in range(ts.size):
        findings = [f for f in detector.step(int(ts[k]), float(flow[k]), pressures[:, k], np.zeros(0), states[:, k])
                    if f.kind is AlertKind.PIPE_BURST]  # fmt: skip
        tiered = any(f.tier is not None for f in findings)
        if tiered and not holding:
            opened.append(int(ts[k]))
        holding = tiered or (holding and not findings)
    return opened


def test_a_burst_under_the_demand_noise_is_found_by_the_loggers_alone_within_30_min() -> None:
    ts, flow, pressures = _dma(10, seed=11, demand_noise=0.02)  # ±40 m³/h of demand noise by day
    burst = ts >= BURST_AT
    leaky = flow + 8.0 * burst  # 8 m³/h: a fraction of a robust sigma of the consumption step
    # the loggers near it fall by 0.4 … 0.1 m of head and stay down (instrument noise 2 cm)
    fall = np.array([0.4, 0.3, 0.2, 0.1])[:, None] / M_PER_MPA
    opened = _bursts(ts, leaky, pressures - fall * burst, np.zeros((0, ts.size)))
    assert opened and BURST_AT <= opened[0] <= BURST_AT + 30 * 60_000, [(t - BURST_AT) / 60_000 for t in opened]
    assert _bursts(ts, flow, pressures, np.zeros((0, ts.size))) == [], "the same DMA without the burst: none"


def test_a_daily_operation_that_lowers_the_loggers_raises_no_burst_once_it_has_recurred() -> None:
    ts, flow, pressures = _dma(12, seed=12, demand_noise=0.02)
    # a scheduled valve with no state sensor: every day 13:00–15:00 local the loggers fall by 0.4 … 0.1 m
    daily = ((local_hour(ts) >= 13.0) & (local_hour(ts) < 15.0)).astype(np.float64)
    fall = np.array([0.4, 0.3, 0.2, 0.1])[:, None] / M_PER_MPA
    moved = pressures - fall * daily
    assert [t for t in _bursts(ts, flow, moved, np.zeros((0, ts.size))) if t >= START + 7 * DAY] == []
    # without the same-time-of-day memory the same days raise a burst every afternoon
    forgetful = LeakConfig(recurring_days=0)
    assert len([t for t in _bursts(ts, flow, moved, np.zeros((0, ts.size)), forgetful) if t >= START + 7 * DAY]) >= 4


def test_a_burst_during_a_standing_background_leak_is_still_found() -> None:
    ts, flow, pressures = _dma(16, seed=15, demand_noise=0.004)
    background = 60.0 * (ts >= START + 7 * DAY)  # never repaired: a standing night-flow alert from day 9 on
    burst_at = START + 13 * DAY + 2 * HOUR
    leaky = flow + background + 150.0 * (ts >= burst_at)  # 150 m³/h: a step far above the flow-alone threshold
    opened = _bursts(ts, leaky, pressures, np.zeros((0, ts.size)))
    assert [t for t in opened if burst_at <= t <= burst_at + 30 * 60_000], [(t - burst_at) / 60_000 for t in opened]


def test_a_burst_five_weeks_into_a_standing_background_leak_is_still_found() -> None:
    # the same-slot consumption baseline looks back 4 × 7 days: had the standing leak's steps been kept out of it
    # (as they were), a DMA with an unrepaired leak would have had no baseline, and no burst test, after 4 weeks
    ts, flow, pressures = _dma(45, seed=16, demand_noise=0.004)
    background = 60.0 * (ts >= START + 7 * DAY)  # never repaired: a standing night-flow alert from day 9 on
    burst_at = START + 43 * DAY + 2 * HOUR
    leaky = flow + background + 150.0 * (ts >= burst_at)
    opened = _bursts(ts, leaky, pressures, np.zeros((0, ts.size)))
    assert [t for t in opened if burst_at <= t <= burst_at + 30 * 60_000], [(t - burst_at) / 60_000 for t in opened]
