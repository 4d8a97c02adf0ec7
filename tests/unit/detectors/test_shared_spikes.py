"""The group veto of the spike fault: one sample that several sensors of a group jump on together is a network
transient, not a sensor fault; a spike of one sensor alone is still raised (docs/domain.md#sensor-faults)."""

from __future__ import annotations

import pickle
from dataclasses import replace

import numpy as np

from lifeline.detectors import Detectors
from lifeline.detectors.config import FaultRules, RulesConfig
from lifeline.detectors.results import Finding
from lifeline.models import AlertEvent, AlertEventType, AlertKind, SensorKind, SensorSpec, Tier
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


# -- a spike while the sensor's asset moves --------------------------------------------------------------------------

BRIDGE_SENSORS = {
    "B1-DEF": ("B1", SensorKind.DEFLECTION), "B1-S1": ("B1", SensorKind.STRAIN), "B1-S2": ("B1", SensorKind.STRAIN),
    "B1-S3": ("B1", SensorKind.STRAIN), "B2-S1": ("B2", SensorKind.STRAIN), "B2-S2": ("B2", SensorKind.STRAIN),
}  # fmt: skip


def _bridge_detectors() -> Detectors:
    specs = [
        SensorSpec(s, kind, asset, "owner", "d", 31.8, 117.2, group_id="G", maintainer="devices", interval_s=600.0)
        for s, (asset, kind) in BRIDGE_SENSORS.items()
    ]  # fmt: skip
    config = RulesConfig()
    return Detectors(Registry(specs), replace(config, alarm=replace(config.alarm, settle_delay_ms=0)))


def _finding(sensor: str, kind: AlertKind, tier: int, ts: int, rule: str) -> Finding:
    asset = BRIDGE_SENSORS[sensor][0]
    return Finding(sensor, asset, "G", kind, Tier(tier), ts, 1.0, 0.5, rule, rule)


def _spike_alert_after(det: Detectors, before: list[Finding]) -> bool:
    """Whether B1-DEF's spike (10 min after ``before``) opens a sensor-fault alert."""
    state = det.new_group_state("G")
    det.process_group(state, before, T0 + 60_000)
    spike = _finding("B1-DEF", AlertKind.SENSOR_FAULT, 3, T0 + 600_000, "fault.spike:single_sample")
    events = det.process_group(state, [spike], T0 + 3_600_000)
    return any(e.kind is AlertKind.SENSOR_FAULT and e.event is AlertEventType.OPENED for e in events)


def test_a_spike_during_an_incident_of_its_asset_is_the_load_not_a_fault() -> None:
    det = _bridge_detectors()
    overload = _finding("B1-S1", AlertKind.BRIDGE_OVERLOAD, 2, T0, "bridge.strain.live_ratio:t2")
    assert not _spike_alert_after(det, [overload])
    # the incident of another bridge of the group says nothing about this one
    elsewhere = _finding("B2-S1", AlertKind.BRIDGE_OVERLOAD, 2, T0, "bridge.strain.live_ratio:t2")
    assert _spike_alert_after(det, [elsewhere])
    assert _spike_alert_after(det, [])


def test_a_spike_while_other_sensors_of_its_asset_stand_off_their_baselines_is_no_fault() -> None:
    det = _bridge_detectors()

    def anomaly(sensor: str) -> Finding:
        return _finding(sensor, AlertKind.ANOMALY, 3, T0, "anomaly.sensor.mean")

    assert not _spike_alert_after(det, [anomaly("B1-S1"), anomaly("B1-S2")])
    assert _spike_alert_after(det, [anomaly("B1-S1")])  # one other sensor: fewer than spike_shared_peers = 2
    assert _spike_alert_after(det, [anomaly("B1-DEF"), anomaly("B1-S1")])  # its own anomaly does not count
    assert _spike_alert_after(det, [anomaly("B2-S1"), anomaly("B2-S2")])  # another asset's sensors do not


# -- a spike next to a pump or valve operation ----------------------------------------------------------------------


def _water_group() -> Detectors:
    specs = [
        SensorSpec("P1", SensorKind.WATER_PRESSURE, "A-P1", "owner", "d", 31.8, 117.2, group_id="G",
                   maintainer="devices", interval_s=300.0),
        SensorSpec("S1", SensorKind.PUMP_STATE, "PUMP-1", "owner", "d", 31.8, 117.2, group_id="G",
                   maintainer="devices", interval_s=300.0),
        SensorSpec("CH4", SensorKind.CH4_LEL, "WELL-1", "owner", "d", 31.8, 117.2, group_id="G",
                   maintainer="devices", interval_s=300.0),
    ]  # fmt: skip
    config = RulesConfig()
    return Detectors(Registry(specs), replace(config, alarm=replace(config.alarm, settle_delay_ms=0)))


def _fault_alert_with_operation(sensor: str, operation_after_s: float | None) -> bool:
    """Whether a one-sample spike of ``sensor`` at T0 + 1 h opens a fault alert when the pump starts
    ``operation_after_s`` after it (negative: before; None: no operation)."""
    det = _water_group()
    state = det.new_group_state("G")
    spike_ts = T0 + 3_600_000
    spike = Finding(sensor, "A-" + sensor, "G", AlertKind.SENSOR_FAULT, Tier.T3, spike_ts, 1.0, 0.5, "spike",
                    "fault.spike:single_sample")  # fmt: skip
    findings = [spike]
    if operation_after_s is not None:
        started = spike_ts + int(operation_after_s * 1000)
        findings.append(Finding("S1", "PUMP-1", "G", AlertKind.PIPE_BURST, None, started, 1.0, 0.0,
                                "pump_state 0 → 1: started", "water.operation:state_change"))  # fmt: skip
    findings.sort(key=lambda f: f.ts)
    events = det.process_group(state, findings, T0 + 3 * 3_600_000)
    return any(e.kind is AlertKind.SENSOR_FAULT and e.event is AlertEventType.OPENED for e in events)


def test_a_loggers_spike_minutes_before_or_after_a_pump_start_is_the_pumps_transient() -> None:
    assert _fault_alert_with_operation("P1", None)
    assert not _fault_alert_with_operation("P1", 240.0)  # the state sensor reports the start 4 min after the dip
    assert not _fault_alert_with_operation("P1", -120.0)  # the pump started 2 min before
    assert _fault_alert_with_operation("P1", 420.0)  # 7 min later: outside the 5-min window, the spike stands
    assert _fault_alert_with_operation("P1", -1200.0)


def test_a_pump_start_does_not_explain_the_spike_of_a_sensor_outside_the_water_network() -> None:
    assert _fault_alert_with_operation("CH4", 120.0)
