"""The group veto of the offset fault: a step that same-kind peers of the group share is physical (a storm, a
load, a pressure change), a step of one sensor alone is an offset (docs/domain.md#what-the-fault-checks-miss)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from lifeline.detectors import Detectors, Finding, GroupState
from lifeline.detectors.config import FaultRules, RulesConfig
from lifeline.models import AlertEvent, AlertKind, SensorKind, SensorSpec, Tier
from lifeline.registry import Registry
from tests.unit.group_replay import States, replay_group

T0 = 1_700_000_000_000  # a whole hour
QUARTER = 15 * 60_000
STEP_AT = 10 * 4  # the reading at 10:00
HOURS = 24


def _spec(sensor_id: str, kind: SensorKind) -> SensorSpec:
    return SensorSpec(sensor_id, kind, "A-" + sensor_id, "owner", "d", 31.8, 117.2, group_id="G",
                      maintainer="devices", interval_s=900)  # fmt: skip


def _detectors(enabled: bool = True) -> Detectors:
    specs = [_spec("T1", SensorKind.WELL_TEMPERATURE), _spec("T2", SensorKind.WELL_TEMPERATURE),
             _spec("S1", SensorKind.STRAIN)]  # fmt: skip
    return Detectors(Registry(specs), RulesConfig(faults=FaultRules(offset_enabled=enabled)))


def _series(seed: int, level: float, noise: float, step: float) -> np.ndarray:
    """15-min readings: a small daily cycle, reading noise, and ``step`` from 10:00 on."""
    t = np.arange(HOURS * 4) / 4.0
    rng = np.random.default_rng(seed)
    values = level + 2.0 * noise * np.sin(2 * np.pi * t / 24.0) + rng.normal(0.0, noise, t.size)
    values[STEP_AT:] += step
    return values


def _signals(seed: int, t1: float, t2: float, s1: float) -> dict[str, np.ndarray]:
    return {
        "T1": _series(seed, 20.0, 0.1, t1),
        "T2": _series(seed + 100, 21.0, 0.1, t2),
        "S1": _series(seed + 200, 150.0, 2.0, s1),
    }


def _replay(
    det: Detectors, signals: dict[str, np.ndarray], *, start: int = 0, until: int = HOURS * 4,
    states: States | None = None,
) -> tuple[list[AlertEvent], list[Finding], States]:  # fmt: skip
    return replay_group(det, signals, t0=T0, step_ms=QUARTER, start=start, until=until, states=states)


def _offset_alerts(events: list[AlertEvent]) -> set[str]:
    return {s for e in events if e.kind is AlertKind.SENSOR_FAULT and "offset" in e.evidence for s in e.sensor_ids}


def _offset_findings(findings: list[Finding]) -> set[str]:
    return {f.sensor_id for f in findings if f.rule.startswith("fault.offset") and f.tier is not None}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_step_of_one_sensor_alone_is_an_offset_alert(seed: int) -> None:
    events, _, _ = _replay(_detectors(), _signals(seed, 0.8, 0.0, 0.0))
    assert _offset_alerts(events) == {"T1"}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_step_two_same_kind_peers_share_raises_no_offset_alert(seed: int) -> None:
    events, findings, _ = _replay(_detectors(), _signals(seed, 0.8, 0.8, 0.0))
    assert _offset_findings(findings) == {"T1", "T2"}  # each passes the sensor's own check ...
    assert not _offset_alerts(events)  # ... and the group knows the step is shared: physical


@pytest.mark.parametrize("seed", [1, 2])
def test_a_peer_stepping_the_other_way_or_of_another_kind_vetoes_nothing(seed: int) -> None:
    other_way, _, _ = _replay(_detectors(), _signals(seed, 0.8, -0.7, 0.0))
    assert "T1" in _offset_alerts(other_way)
    other_kind, _, _ = _replay(_detectors(), _signals(seed, 0.8, 0.0, 30.0))
    assert "T1" in _offset_alerts(other_kind)


def test_no_level_move_note_while_the_offset_check_is_off() -> None:
    _, findings, _ = _replay(_detectors(enabled=False), _signals(1, 0.8, 0.8, 0.0))
    assert not [f for f in findings if f.rule.startswith("note.")]


def test_a_restore_between_the_jump_and_the_decision_gives_the_same_alerts() -> None:
    """The group's notes are part of its state: pickled after the jump, restored, the veto still holds."""
    det = _detectors()
    signals = _signals(2, 0.8, 0.8, 0.0)
    straight, _, _ = _replay(det, signals)
    cut = STEP_AT + 2 * 4 + 1  # past the jump's notes, before the offset is decided (3 whole hours later)
    head, _, states = _replay(det, signals, until=cut)
    restored = pickle.loads(pickle.dumps(states, protocol=pickle.HIGHEST_PROTOCOL))
    assert restored[1].level_moves  # the notes travel with the group's state
    tail, _, _ = _replay(_detectors(), signals, states=restored, start=cut)
    assert [e.alert_id for e in head + tail] == [e.alert_id for e in straight]
    assert not _offset_alerts(head + tail)


def test_a_group_state_pickled_before_the_veto_loads_without_notes() -> None:
    state = GroupState("G")
    data = {k: getattr(state, k) for k in ("group_id", "pending", "horizon", "contributions", "alerts",
                                           "late_findings", "last_operation_ts")}  # fmt: skip
    old = GroupState.__new__(GroupState)
    old.__setstate__(data)
    assert old.level_moves == {}


def test_an_active_offset_does_not_block_the_sensors_incident_in_the_group() -> None:
    """An offset moves the zero only (faults.BLOCKING): the group still takes the sensor's incident finding."""
    spec = SensorSpec("W1", SensorKind.CH4_LEL, "A-W1", "owner", "d", 0.0, 100.0, group_id="G", interval_s=900)
    det = Detectors(Registry([spec]))
    group = det.new_group_state("G")

    def finding(kind: AlertKind, rule: str, ts: int, value: float) -> Finding:
        return Finding("W1", "A-W1", "G", kind, Tier.T2 if kind is AlertKind.GAS_LEAK else Tier.T3, ts, value, 0.5,
                       "e", rule)  # fmt: skip

    offset = finding(AlertKind.SENSOR_FAULT, "fault.offset:level_step", T0, 3.0)
    leak = finding(AlertKind.GAS_LEAK, "gas.lel:t2_alarm", T0 + QUARTER, 30.0)
    events = det.process_group(group, [offset, leak], T0 + 2 * QUARTER)
    assert {e.kind for e in events} == {AlertKind.SENSOR_FAULT, AlertKind.GAS_LEAK}
