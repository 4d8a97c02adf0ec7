"""The group veto of the spike fault: one sample that several sensors of a group jump on together is a network
transient, not a sensor fault; a spike of one sensor alone is still raised (docs/domain.md#sensor-faults)."""

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
LOGGERS = ("P1", "P2", "P3", "P4")


def _detectors(peers: int = 2, interval_s: float = 300.0) -> Detectors:
    specs = [
        SensorSpec(s, SensorKind.WATER_PRESSURE, "A-" + s, "owner", "d", 31.8, 117.2, group_id="G",
                   maintainer="devices", interval_s=interval_s)
        for s in LOGGERS
    ]  # fmt: skip
    return Detectors(Registry(specs), RulesConfig(faults=FaultRules(spike_shared_peers=peers)))


def _signals(spikes: dict[str, int], steps: int = 200) -> dict[str, np.ndarray]:
    """Smooth pressure with reading noise; each sensor of ``spikes`` jumps 0.03 MPa for one sample at its step."""
    out = {}
    for n, sensor in enumerate(LOGGERS):
        rng = np.random.default_rng(n)
        values = 0.35 + 0.01 * np.sin(np.arange(steps) / 40.0) + rng.normal(0.0, 0.001, steps)
        if sensor in spikes:
            values[spikes[sensor]] += 0.03
        out[sensor] = values
    return out


def _spike_alerts(events: list[AlertEvent]) -> dict[str, int]:
    """Sensor → opening time of its spike alert."""
    return {
        e.sensor_ids[0]: e.ts
        for e in events
        if e.event is AlertEventType.OPENED and e.kind is AlertKind.SENSOR_FAULT and "spike" in e.evidence
    }


def test_a_spike_three_loggers_share_is_no_fault_and_a_lone_one_is() -> None:
    spikes = {"P1": 120, "P2": 120, "P3": 121, "P4": 160}  # P1-P3 within 5 min of each other; P4 alone, later
    events, findings, _ = replay_group(_detectors(), _signals(spikes), t0=T0, step_ms=STEP, start=0, until=200)
    raised = {f.sensor_id for f in findings if f.rule.startswith("fault.spike") and f.tier is not None}
    assert raised == set(LOGGERS)  # each sensor's own check found its spike
    alerts = _spike_alerts(events)
    assert set(alerts) == {"P4"}
    decided = next(f.ts for f in findings if f.sensor_id == "P4" and f.rule.startswith("fault.spike") and f.tier)
    assert alerts["P4"] == decided + 300_000  # held for the window, then raised


def test_two_at_once_are_not_enough_and_the_veto_can_be_turned_off() -> None:
    pair = {"P1": 120, "P2": 121}
    events, _, _ = replay_group(_detectors(), _signals(pair), t0=T0, step_ms=STEP, start=0, until=200)
    assert set(_spike_alerts(events)) == {"P1", "P2"}  # one peer each: fewer than spike_shared_peers = 2
    three = {"P1": 120, "P2": 120, "P3": 121}
    events, _, _ = replay_group(_detectors(peers=0), _signals(three), t0=T0, step_ms=STEP, start=0, until=200)
    assert set(_spike_alerts(events)) == {"P1", "P2", "P3"}


def test_the_same_alerts_after_a_restore_in_the_middle_of_a_hold() -> None:
    spikes = {"P1": 120, "P2": 120, "P3": 121, "P4": 160}
    det = _detectors()
    whole, _, _ = replay_group(det, _signals(spikes), t0=T0, step_ms=STEP, start=0, until=200)
    first, _, states = replay_group(det, _signals(spikes), t0=T0, step_ms=STEP, start=0, until=122)
    restored = pickle.loads(pickle.dumps(states))
    second, _, _ = replay_group(det, _signals(spikes), t0=T0, step_ms=STEP, start=122, until=200, states=restored)
    assert first + second == whole


def test_an_hourly_sensor_s_spike_is_not_held() -> None:
    # the readings come every 5 minutes here, but the registry says hourly: the veto's window (5 min) is
    # shorter than the interval, so the spike is raised as soon as it is decided
    spikes = {"P4": 160}
    events, findings, _ = replay_group(
        _detectors(interval_s=3600.0), _signals(spikes), t0=T0, step_ms=STEP, start=0, until=200
    )
    decided = next(f.ts for f in findings if f.sensor_id == "P4" and f.rule.startswith("fault.spike") and f.tier)
    assert _spike_alerts(events) == {"P4": decided}
