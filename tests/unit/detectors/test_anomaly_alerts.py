"""What per-sensor anomalies become: an alert only once an anomaly has lasted ``anomaly.alert_after_s`` (an
on-delay), one alert of the group when several sensors are anomalous at once, and corroboration from the
first window all the same; a flow meter on a pump's link or a tank's pipe has no learned baseline."""

from __future__ import annotations

import dataclasses

from lifeline.detectors import Detectors, Finding
from lifeline.detectors.baseline_findings import has_baseline
from lifeline.detectors.config import AnomalyRules, RulesConfig
from lifeline.detectors.state import Contribution
from lifeline.models import AlertEvent, AlertEventType, AlertKind, SensorKind, SensorSpec, Tier
from lifeline.registry import Registry

T0 = 1_700_000_000_000
MIN = 60_000
RULE = "anomaly.sensor.mean"


def detectors(*, after_s: float = 900.0, common: int = 2) -> Detectors:
    loggers = [SensorSpec(f"P{i}", SensorKind.WATER_PRESSURE, f"A{i}", "water-co", "baohe", 31.8, 117.2,
                          group_id="DMA", interval_s=300) for i in range(4)]  # fmt: skip
    cfg = dataclasses.replace(RulesConfig(), anomaly=AnomalyRules(alert_after_s=after_s, common_mode_sensors=common))
    return Detectors(Registry(loggers), cfg)


def anomaly(sensor: str, minute: int, tier: Tier | None = Tier.T3) -> Finding:
    """A per-sensor baseline finding of ``sensor`` at ``minute`` (tier None ends its condition)."""
    return Finding(sensor, "A" + sensor[1:], "DMA", AlertKind.ANOMALY, tier, T0 + minute * MIN, 0.25, 0.8,
                   "window mean outside the expected range", RULE)  # fmt: skip


def drop(sensor: str, minute: int) -> Finding:
    """A tier-3 pressure drop of ``sensor`` at ``minute`` (a burst's rule finding)."""
    return Finding(sensor, "A" + sensor[1:], "DMA", AlertKind.PIPE_BURST, Tier.T3, T0 + minute * MIN, 0.25, 0.6,
                   "drop", "water.pressure.drop:t3")  # fmt: skip


def lasting(sensor: str, first: int, last: int) -> list[Finding]:
    """An anomaly of ``sensor`` re-reported every 5 minutes from ``first`` to ``last``, ended 5 minutes later."""
    return [*(anomaly(sensor, m) for m in range(first, last + 1, 5)), anomaly(sensor, last + 5, None)]


def run(det: Detectors, findings: list[Finding], until_minute: int) -> list[AlertEvent]:
    return det.process_group(det.new_group_state("DMA"), findings, T0 + until_minute * MIN)


def opened(events: list[AlertEvent]) -> list[AlertEvent]:
    return [e for e in events if e.event is AlertEventType.OPENED]


def test_an_anomaly_shorter_than_the_on_delay_opens_no_alert() -> None:
    assert opened(run(detectors(), lasting("P0", 0, 10), 120)) == []


def test_a_lasting_anomaly_opens_once_at_the_end_of_the_on_delay_dated_from_its_start() -> None:
    events = opened(run(detectors(), lasting("P0", 0, 40), 120))
    assert [(e.asset_id, e.ts, e.started_at, e.tier) for e in events] == [("A0", T0 + 15 * MIN, T0, Tier.T3)]


def test_the_on_delay_ends_on_its_own_timer_between_findings() -> None:
    findings = [anomaly("P0", m) for m in (0, 10, 20, 30)]  # re-reported every 10 min: none at minute 15
    events = opened(run(detectors(), findings, 120))
    assert [(e.asset_id, e.ts) for e in events] == [("A0", T0 + 15 * MIN)]


def test_no_on_delay_opens_at_the_first_finding() -> None:
    events = opened(run(detectors(after_s=0.0), lasting("P0", 0, 10), 120))
    assert [(e.asset_id, e.ts) for e in events] == [("A0", T0)]


def test_anomalies_of_several_sensors_at_once_are_one_alert_of_the_group() -> None:
    findings = lasting("P0", 0, 40) + lasting("P1", 3, 40) + lasting("P2", 20, 40)
    events = opened(run(detectors(), findings, 120))
    assert [(e.asset_id, e.ts) for e in events] == [("DMA", T0 + 15 * MIN)]
    assert events[0].sensor_ids == ("P0", "P1")  # P2 joins the active alert later without a new one
    assert "from 2 sensor(s)" in events[0].evidence


def test_a_sensor_joining_the_group_alert_is_announced_once() -> None:
    findings = lasting("P0", 0, 40) + lasting("P1", 3, 40) + lasting("P2", 20, 40)
    events = run(detectors(), findings, 120)
    assert [(e.event, (e.ts - T0) // MIN, e.sensor_ids) for e in events] == [
        (AlertEventType.OPENED, 15, ("P0", "P1")),
        (AlertEventType.UPDATED, 20, ("P0", "P1", "P2")),  # P2's first finding: it joins; its later ones change nothing
        (AlertEventType.CLEARED, 70, ("P0", "P1", "P2")),
    ]
    assert "from 3 sensor(s)" in events[1].evidence and events[1].tier is Tier.T3


def test_a_sensor_with_its_own_alert_keeps_it_and_a_lone_newcomer_gets_its_own() -> None:
    findings = lasting("P0", 0, 90) + lasting("P1", 60, 90)
    events = opened(run(detectors(), findings, 200))
    assert [(e.asset_id, e.ts) for e in events] == [("A0", T0 + 15 * MIN), ("A1", T0 + 75 * MIN)]


def test_common_mode_off_gives_one_alert_per_asset() -> None:
    findings = lasting("P0", 0, 40) + lasting("P1", 3, 40)
    assert [e.asset_id for e in opened(run(detectors(common=0), findings, 120))] == ["A0", "A1"]


def test_anomalous_sensors_corroborate_a_rule_alert_before_their_own_alert_opens() -> None:
    drop = Finding("P3", "A3", "DMA", AlertKind.PIPE_BURST, Tier.T3, T0 + 2 * MIN, 0.25, 0.6, "drop",
                   "water.pressure.drop:t3")  # fmt: skip
    events = opened(run(detectors(), [anomaly("P0", 0), anomaly("P1", 1), drop], 5))
    assert [(e.kind, e.tier) for e in events] == [(AlertKind.PIPE_BURST, Tier.T2)]


def test_anomalies_of_the_alerts_own_assets_do_not_corroborate_it() -> None:
    """The loggers whose drops raised a burst look anomalous too: the same event, not a second opinion."""
    drops = [drop(s, 2) for s in ("P2", "P3")]
    own = opened(run(detectors(), [anomaly("P2", 0), anomaly("P3", 1), *drops], 5))
    others = opened(run(detectors(), [anomaly("P0", 0), anomaly("P1", 1), *drops], 5))
    assert [(e.kind, e.tier) for e in own] == [(AlertKind.PIPE_BURST, Tier.T3)]
    assert [(e.kind, e.tier) for e in others] == [(AlertKind.PIPE_BURST, Tier.T2)]
    assert "+1 tier: anomaly evidence on 2 sensors" in others[0].evidence and "+1 tier" not in own[0].evidence


def test_a_contribution_from_an_older_snapshot_opens_at_once() -> None:
    det = detectors()
    state = det.new_group_state("DMA")
    state.contributions[("P0", "anomaly", RULE)] = Contribution(
        "P0", "A0", AlertKind.ANOMALY, Tier.T3, T0, 0.25, 0.8, "outside", RULE
    )  # since = -1: a snapshot written before the on-delay
    events = det.process_group(state, [anomaly("P0", 5)], T0 + 7 * MIN)
    assert [(e.asset_id, e.ts) for e in opened(events)] == [("A0", T0)]  # no wait from its own time on


def test_flow_meters_on_a_pumps_link_or_a_tanks_pipe_have_no_learned_baseline() -> None:
    def spec(sensor_id: str, kind: SensorKind, network: str, group: str = "DMA") -> SensorSpec:
        return SensorSpec(sensor_id, kind, sensor_id, "water-co", "baohe", 31.8, 117.2, group_id=group,
                          interval_s=300, network=network)  # fmt: skip

    det = Detectors(Registry([
        spec("S-9", SensorKind.PUMP_STATE, "link=9"),
        spec("QS-9", SensorKind.WATER_FLOW, "link=9"),  # the pump's own flow: the operation sets it
        spec("Q-7", SensorKind.WATER_FLOW, "link=7"),  # an inlet with no state sensor on its link
        spec("QX-9", SensorKind.WATER_FLOW, "link=9", group="OTHER"),  # link 9 of another group's model
        spec("P-1", SensorKind.WATER_PRESSURE, "node=1"),
        spec("L-2", SensorKind.TANK_LEVEL, "node=2"),
        spec("QT-2", SensorKind.WATER_FLOW, "node=2"),  # the tank's pipe: it fills and drains with the pumps
    ]))  # fmt: skip
    scored = {s: has_baseline(det.profile(s)) for s in ("S-9", "QS-9", "Q-7", "QX-9", "P-1", "L-2", "QT-2")}
    assert scored == {"S-9": False, "QS-9": False, "Q-7": True, "QX-9": True, "P-1": True, "L-2": True, "QT-2": False}
