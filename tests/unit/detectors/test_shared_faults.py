"""The group veto of saturation and drift faults: pressure loggers of a district at their range minimum together
are a supply interruption, and falling on one line together a draining tank, not failing loggers; one logger
alone is still a fault (docs/domain.md#sensor-faults)."""

from __future__ import annotations

import pickle

import numpy as np

from lifeline.detectors import Detectors
from lifeline.detectors.config import FaultRules, RulesConfig
from lifeline.models import AlertEvent, AlertEventType, AlertKind, SensorKind, SensorSpec
from lifeline.registry import Registry
from tests.unit.group_replay import replay_group

T0 = 1_700_000_000_000
STEP = 300_000  # 5-minute loggers
LOGGERS = ("P1", "P2", "P3", "P4", "P5")
LOW, HIGH = -0.1, 2.5  # the water_pressure kind's valid range (MPa)


def _detectors(peers: int = 2) -> Detectors:
    specs = [
        SensorSpec(s, SensorKind.WATER_PRESSURE, "A-" + s, "owner", "d", 31.8, 117.2, group_id="G",
                   maintainer="devices", interval_s=300.0)
        for s in LOGGERS
    ]  # fmt: skip
    return Detectors(Registry(specs), RulesConfig(faults=FaultRules(fault_shared_peers=peers)))


def _signals(at_end: dict[str, tuple[int, int, float]], steps: int = 200) -> dict[str, np.ndarray]:
    """Pressure with reading noise; each sensor of ``at_end`` reads ``value`` (a range end) over [from, to)."""
    out = {}
    for n, sensor in enumerate(LOGGERS):
        rng = np.random.default_rng(n)
        values = 0.35 + 0.01 * np.sin(np.arange(steps) / 40.0) + rng.normal(0.0, 0.001, steps)
        if sensor in at_end:
            start, stop, value = at_end[sensor]
            values[start:stop] = value
        out[sensor] = values
    return out


def _fault_alerts(events: list[AlertEvent], fault: str = "saturation") -> set[str]:
    """The sensors a ``fault`` alert opened for."""
    return {
        e.sensor_ids[0]
        for e in events
        if e.event is AlertEventType.OPENED and e.kind is AlertKind.SENSOR_FAULT and fault in e.evidence
    }


def test_loggers_at_their_minimum_together_are_no_fault_and_one_alone_is() -> None:
    # P1-P3 lose pressure within 10 minutes of each other for two hours; P4 reads its maximum alone, later
    ends = {"P1": (100, 124, LOW), "P2": (101, 124, LOW), "P3": (102, 125, LOW), "P4": (160, 170, HIGH)}
    events, findings, _ = replay_group(_detectors(), _signals(ends), t0=T0, step_ms=STEP, start=0, until=200)
    raised = {f.sensor_id for f in findings if f.rule.startswith("fault.saturation") and f.tier is not None}
    assert raised == {"P1", "P2", "P3", "P4"}  # each sensor's own check found its saturation
    assert _fault_alerts(events) == {"P4"}


def test_a_logger_joining_a_long_interruption_late_is_vetoed_by_those_still_at_the_minimum() -> None:
    # P4 reaches the minimum 40 minutes after the others, while they still read it
    ends = {"P1": (100, 150, LOW), "P2": (100, 150, LOW), "P3": (101, 150, LOW), "P4": (108, 150, LOW)}
    events, _, _ = replay_group(_detectors(), _signals(ends), t0=T0, step_ms=STEP, start=0, until=200)
    assert _fault_alerts(events) == set()


def test_two_at_once_are_not_enough_opposite_ends_do_not_count_and_the_veto_can_be_turned_off() -> None:
    pair = {"P1": (100, 120, LOW), "P2": (100, 120, LOW)}
    events, _, _ = replay_group(_detectors(), _signals(pair), t0=T0, step_ms=STEP, start=0, until=200)
    assert _fault_alerts(events) == {"P1", "P2"}  # one peer each: fewer than fault_shared_peers = 2
    mixed = {"P1": (100, 120, LOW), "P2": (100, 120, HIGH), "P3": (100, 120, LOW)}
    events, _, _ = replay_group(_detectors(), _signals(mixed), t0=T0, step_ms=STEP, start=0, until=200)
    assert _fault_alerts(events) == {"P1", "P2", "P3"}
    three = {"P1": (100, 120, LOW), "P2": (100, 120, LOW), "P3": (101, 120, LOW)}
    events, _, _ = replay_group(_detectors(peers=0), _signals(three), t0=T0, step_ms=STEP, start=0, until=200)
    assert _fault_alerts(events) == {"P1", "P2", "P3"}


def test_the_same_alerts_after_a_restore_in_the_middle_of_an_interruption() -> None:
    ends = {"P1": (100, 124, LOW), "P2": (101, 124, LOW), "P3": (103, 125, LOW), "P4": (160, 170, HIGH)}
    det = _detectors()
    whole, _, _ = replay_group(det, _signals(ends), t0=T0, step_ms=STEP, start=0, until=200)
    first, _, states = replay_group(det, _signals(ends), t0=T0, step_ms=STEP, start=0, until=104)
    restored = pickle.loads(pickle.dumps(states))
    second, _, _ = replay_group(det, _signals(ends), t0=T0, step_ms=STEP, start=104, until=200, states=restored)
    assert first + second == whole
    assert _fault_alerts(whole) == {"P4"}


def _drifts(falling: set[str], steps: int = 12 * 48) -> dict[str, np.ndarray]:
    """48 h of steady pressure; each sensor of ``falling`` loses 0.004 MPa an hour on a straight line from hour 12
    (a tank draining over a day, if several share it; an ageing element, if one does alone)."""
    hours = np.arange(steps) / 12.0
    out = {}
    for n, sensor in enumerate(LOGGERS):
        values = 0.35 + np.random.default_rng(n).normal(0.0, 0.001, steps)
        if sensor in falling:
            values -= 0.004 * np.clip(hours - 12.0, 0.0, None)
        out[sensor] = values
    return out


def test_loggers_falling_on_one_line_together_are_no_drift_and_one_alone_is() -> None:
    steps = 12 * 48
    events, findings, _ = replay_group(
        _detectors(), _drifts({"P1", "P2", "P3"}), t0=T0, step_ms=STEP, start=0, until=steps
    )
    raised = {f.sensor_id for f in findings if f.rule.startswith("fault.drift") and f.tier is not None}
    assert raised == {"P1", "P2", "P3"}  # each sensor's own check found its trend
    assert _fault_alerts(events, "drift") == set()
    events, _, _ = replay_group(_detectors(), _drifts({"P4"}), t0=T0, step_ms=STEP, start=0, until=steps)
    assert _fault_alerts(events, "drift") == {"P4"}
    events, _, _ = replay_group(_detectors(peers=0), _drifts({"P1", "P2", "P3"}), t0=T0, step_ms=STEP, start=0,
                                until=steps)  # fmt: skip
    assert _fault_alerts(events, "drift") == {"P1", "P2", "P3"}


def test_loggers_at_their_minimum_together_are_one_tier_1_loss_of_supply_until_they_recover() -> None:
    # P1-P3 fall to the range minimum within 10 minutes of each other for two hours: not failing loggers, but
    # the district's supply lost (before, each logger's saturation blocked its pressure rules and the group
    # vetoed the shared faults: no alert at all, where a fall to 0.02 MPa raised tier-1 alerts)
    ends = {"P1": (100, 124, LOW), "P2": (101, 124, LOW), "P3": (102, 125, LOW), "P4": (160, 170, LOW)}
    events, _, _ = replay_group(_detectors(), _signals(ends), t0=T0, step_ms=STEP, start=0, until=200)
    losses = [e for e in events if e.kind is AlertKind.LOW_PRESSURE]
    opened = [e for e in losses if e.event is AlertEventType.OPENED]
    assert len(opened) == 1, [(e.event, e.ts, e.sensor_ids) for e in losses]
    assert T0 + 100 * STEP <= opened[0].ts <= T0 + 100 * STEP + 1_800_000  # within 30 min of the fall
    # one sensor alone opens at tier 2 (a single sensor never raises tier 1); the others make it tier 1
    tier_1 = [e for e in losses if int(e.tier) == 1]
    assert tier_1 and tier_1[0].ts <= T0 + 100 * STEP + 1_800_000
    assert {s for e in losses for s in e.sensor_ids} == {"P1", "P2", "P3"}
    cleared = [e for e in losses if e.event is AlertEventType.CLEARED]
    assert len(cleared) == 1 and T0 + 124 * STEP <= cleared[0].ts <= T0 + 130 * STEP
    assert _fault_alerts(events) == {"P4"}  # P4 alone at its minimum later: a fault of its own, no supply loss
