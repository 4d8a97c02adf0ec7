"""An anomaly that begins at the same local time on most of the last days of its day type is the sensor's schedule:
it opens no alert; the first occurrences, another time of day and the other day type still do
(detectors/recurring_anomalies.py)."""

from __future__ import annotations

import pickle
from dataclasses import replace

from lifeline.detectors import Detectors
from lifeline.detectors.config import AnomalyRules, RulesConfig
from lifeline.detectors.results import Finding
from lifeline.models import AlertEventType, AlertKind, SensorKind, SensorSpec, Tier
from lifeline.registry import Registry

DAY = 86_400_000
MONDAY = 1_721_577_600_000 - 8 * 3_600_000  # 2024-07-22 00:00 in China (UTC+8), in UTC milliseconds
STEP = 300_000


def _detectors(recurring_days: int = 3) -> Detectors:
    spec = SensorSpec("P1", SensorKind.WATER_PRESSURE, "A-P1", "owner", "d", 31.8, 117.2, group_id="G",
                      interval_s=300.0)  # fmt: skip
    config = RulesConfig()
    config = replace(config, anomaly=replace(AnomalyRules(), recurring_days=recurring_days),
                     alarm=replace(config.alarm, settle_delay_ms=0))  # fmt: skip
    return Detectors(Registry([spec]), config)


def _an_hour_of_anomaly(start: int) -> list[Finding]:
    """A window mean off its slot for an hour from ``start`` (a finding every 5 min), then back."""
    findings = [
        Finding("P1", "A-P1", "G", AlertKind.ANOMALY, Tier.T3, start + k * STEP, 0.9, 0.5, "window mean off its slot",
                "anomaly.sensor:mean")
        for k in range(12)
    ]  # fmt: skip
    findings.append(Finding("P1", "A-P1", "G", AlertKind.ANOMALY, None, start + 12 * STEP, 0.8, 0.0, "back",
                            "anomaly.sensor:mean"))  # fmt: skip
    return findings


def _alerts_on(det: Detectors, starts: list[int]) -> list[int]:
    """The days (from MONDAY) on which an anomaly alert opened, feeding an hour of anomaly at each start."""
    state = det.new_group_state("G")
    opened: list[int] = []
    for start in starts:
        state = pickle.loads(pickle.dumps(state))  # as after a restore between days
        events = det.process_group(state, _an_hour_of_anomaly(start), start + 3 * 3_600_000)
        opened += [(e.ts - MONDAY) // DAY for e in events if e.event is AlertEventType.OPENED]
    return opened


def test_the_same_hour_every_weekday_alerts_twice_then_is_the_schedule() -> None:
    at_0833 = [MONDAY + d * DAY + (8 * 60 + 33) * 60_000 for d in (0, 1, 2, 3, 4)]  # Monday to Friday
    assert _alerts_on(_detectors(), at_0833) == [0, 1]
    assert _alerts_on(_detectors(recurring_days=0), at_0833) == [0, 1, 2, 3, 4]  # turned off: every day


def test_another_time_of_day_and_the_weekend_still_alert() -> None:
    weekdays = [MONDAY + d * DAY + 8 * 3_600_000 for d in (0, 1, 2)]
    later = MONDAY + 3 * DAY + 10 * 3_600_000  # Thursday two hours later
    saturday = MONDAY + 5 * DAY + 8 * 3_600_000  # the same hour on a rest day: no rest day before it
    assert _alerts_on(_detectors(), [*weekdays, later, saturday]) == [0, 1, 3, 5]


def test_a_schedule_learned_over_a_week_holds_across_the_weekend() -> None:
    weekdays = [MONDAY + d * DAY + 8 * 3_600_000 for d in (0, 1, 2, 3, 4, 7)]  # Monday to Friday, next Monday
    assert _alerts_on(_detectors(), weekdays) == [0, 1]
