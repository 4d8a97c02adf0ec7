"""The burst test compares a step with the same earlier days at every step of its window
(docs/domain.md#the-same-days-for-every-step). Where part of an earlier day is missing or unclean (the history
began at 08:00, a gap, a held burst), per-slot medians drew the slots on either side of that edge from different
days, and under a demand that changes from day to day their median jumped there: a burst alert at the same hour
on the days after, whose hold made more steps unclean, and so on every day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from lifeline.detectors.config import LeakConfig
from lifeline.detectors.hydraulic import DmaLeakDetector
from lifeline.models import AlertKind

from .dma import DAY, HOUR, START, STEP

DAYS = 30
GAP_DAY = 20  # no data from 09:00 to 14:00 local on this day
BURST_AT = START + 25 * DAY + 3 * HOUR  # 11:00 local on day 25


def _every_day_a_workday() -> LeakConfig:
    """One day type for the whole run: the weekends are declared worked, so every day's same-slot days are the
    days just before it."""
    first = datetime.fromtimestamp(START / 1000, UTC).date()
    days = (first + timedelta(days=d) for d in range(-30, DAYS + 1))
    return LeakConfig(workdays=tuple(str(day) for day in days if day.weekday() >= 5))


def _opened(flow: np.ndarray, ts: np.ndarray) -> list[int]:
    """Times the detector (consumption only, no loggers) opens a burst; no data in the gap."""
    detector = DmaLeakDetector(group_id="DMA-1", meter_id="DMA-Q", logger_ids=[], config=_every_day_a_workday())
    gap_from, gap_to = START + GAP_DAY * DAY + 1 * HOUR, START + GAP_DAY * DAY + 6 * HOUR
    opened: list[int] = []
    holding = False
    for k, t in enumerate(ts.tolist()):
        if gap_from <= t < gap_to:
            detector.gap(t)
            continue
        findings = [f for f in detector.step(t, float(flow[k]), np.zeros(0), np.zeros(0), np.zeros(0))
                    if f.kind is AlertKind.PIPE_BURST]  # fmt: skip
        tiered = any(f.tier is not None for f in findings)
        if tiered and not holding:
            opened.append(t)
        holding = tiered or (holding and not findings)
    return opened


def test_a_gap_in_an_earlier_day_raises_no_burst_on_the_days_after_it_and_a_burst_is_still_found() -> None:
    ts = START + np.arange(DAYS * 288, dtype=np.int64) * STEP
    rng = np.random.default_rng(5)
    days = (ts - START) / DAY
    # a flat demand rising 3 % a day (the median of the last 7 days lags it by 4 days), 0.2 % instrument noise
    flow = 1000.0 * (1.0 + 0.03 * days) * (1.0 + rng.normal(0.0, 0.002, ts.size))
    quiet = _opened(flow, ts)  # per-slot medians: an alert at 08:00-09:30 local on 23 of the 30 days
    assert quiet == [], [((t - START) / DAY) for t in quiet]
    opened = _opened(flow + 100.0 * (ts >= BURST_AT), ts)
    assert [t for t in opened if BURST_AT <= t <= BURST_AT + 30 * 60_000], [((t - START) / DAY) for t in opened]
