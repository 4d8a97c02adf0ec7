"""The offset-step fault: a jump between two readings after which the level stays shifted (after maintenance),
told from normal daily variation and from a genuine incident's rise."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from lifeline.detectors import Detectors, Finding
from lifeline.detectors.config import FaultRules, RulesConfig
from lifeline.detectors.state import SensorState
from lifeline.models import AlertKind, SensorKind, SensorSpec, Tier
from lifeline.registry import Registry

T0 = 1_700_000_000_000  # a whole hour
QUARTER = 15 * 60_000


def _detectors(kind: SensorKind, enabled: bool = True) -> Detectors:
    spec = SensorSpec("S", kind, "A", "owner", "d", 31.8, 117.2, group_id="G", maintainer="devices", interval_s=900)
    return Detectors(Registry([spec]), RulesConfig(faults=FaultRules(offset_enabled=enabled)))


def _run(det: Detectors, values: np.ndarray) -> list[Finding]:
    state = det.new_sensor_state("S")
    out: list[Finding] = []
    for i, v in enumerate(values.tolist()):
        out.extend(det.process_sensor(state, np.array([T0 + i * QUARTER]), np.array([v])).findings)
    return out


def _offsets(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.kind is AlertKind.SENSOR_FAULT and f.rule.startswith("fault.offset")]


def _well_temperature(hours: float, seed: int) -> np.ndarray:
    """15-min readings of a well's temperature: a 2 degC daily cycle and 0.1 degC reading noise."""
    t = np.arange(int(hours * 4)) / 4.0
    return 20.0 + 2.0 * np.sin(2 * np.pi * t / 24.0) + np.random.default_rng(seed).normal(0.0, 0.1, t.size)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_step_that_stays_after_maintenance_is_an_offset_fault(seed: int) -> None:
    values = _well_temperature(24, seed)
    at = 10 * 4  # the step comes with the reading at 10:00 and stays
    values[at:] += 0.8
    found = _offsets(_run(_detectors(SensorKind.WELL_TEMPERATURE), values))
    assert found and found[0].tier is Tier.T3
    # judged once 3 whole hours have closed after the step's hour: not before 13:00, by 15:00
    assert T0 + 13 * 3_600_000 <= found[0].ts <= T0 + 15 * 3_600_000
    assert "offset" in found[0].evidence


def test_the_offset_check_is_on_by_default_and_can_be_switched_off() -> None:
    values = _well_temperature(24, 1)
    values[40:] += 0.8
    spec = SensorSpec("S", SensorKind.WELL_TEMPERATURE, "A", "o", "d", 31.8, 117.2, group_id="G", interval_s=900)
    assert _offsets(_run(Detectors(Registry([spec])), values))
    assert not _offsets(_run(_detectors(SensorKind.WELL_TEMPERATURE, enabled=False), values))


@pytest.mark.parametrize("seed", range(1, 9))
def test_the_daily_cycle_and_noise_are_no_offset(seed: int) -> None:
    assert not _offsets(_run(_detectors(SensorKind.WELL_TEMPERATURE), _well_temperature(48, seed)))


def test_a_step_that_goes_back_within_the_hour_is_no_offset() -> None:
    values = _well_temperature(24, 4)
    values[40:43] += 0.8  # three readings off, then back: a disturbance, not a moved zero
    assert not _offsets(_run(_detectors(SensorKind.WELL_TEMPERATURE), values))


def test_a_gas_leak_is_an_incident_not_an_offset() -> None:
    rng = np.random.default_rng(5)
    values = 1.0 + rng.normal(0.0, 0.2, 96)
    values[40:] = 1.0 + np.minimum(70.0, 25.0 * np.arange(56)) + rng.normal(0.0, 0.5, 56)  # methane in a well
    findings = _run(_detectors(SensorKind.CH4_LEL), np.clip(values, 0.0, 100.0))
    assert not _offsets(findings)
    assert any(f.kind is AlertKind.GAS_LEAK and f.tier is Tier.T1 for f in findings)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_readings_falling_back_at_the_end_of_a_gas_leak_are_no_offset(seed: int) -> None:
    """A well at about 30 %LEL for three hours whose methane falls back to its usual 1.5 %LEL in one report (the
    leak stopped): the fall ends the incident; the hours before it were the leak's, not the sensor's zero."""
    rng = np.random.default_rng(seed)
    values = 1.5 + rng.normal(0.0, 0.2, 96)
    values[40:52] = 30.0 + rng.normal(0.0, 5.0, 12)  # the leak, 10:00-13:00
    findings = _run(_detectors(SensorKind.CH4_LEL), np.clip(values, 0.0, 100.0))
    assert any(f.kind is AlertKind.GAS_LEAK and f.tier is not None for f in findings)
    assert any(f.kind is AlertKind.GAS_LEAK and f.tier is None for f in findings)  # the leak's condition ended
    assert not _offsets(findings)


def test_a_snapshot_from_before_the_offset_check_still_loads() -> None:
    state = SensorState("S", 24)
    state.noise, state.spike_ts, state.baseline = 0.3, 1234, 5.0
    state.jump_ts = 999  # a candidate: the snapshot carries the offset slots (the test drops them below)
    sensor_id, scalars, *rest = state.__getstate__()
    at = scalars.index(1234) + 1  # the candidate-jump slots came right after spike_ts
    old = (sensor_id, scalars[:at] + scalars[at + 4 :], *rest)
    restored = pickle.loads(pickle.dumps(state))
    restored.__setstate__(old)
    assert (restored.noise, restored.spike_ts, restored.baseline) == (0.3, 1234, 5.0)
    assert (restored.jump_ts, restored.jump_size, restored.offset_ts, restored.offset_size) == (-1, 0.0, -1, 0.0)


def test_a_state_without_an_offset_candidate_pickles_without_the_offset_slots_and_restores_them() -> None:
    idle, pending = SensorState("S", 24), SensorState("S", 24)
    pending.jump_ts, pending.jump_size = 1234, -0.5
    signed_zero = SensorState("S", 24)
    signed_zero.jump_size = -0.0  # not the default, bit for bit
    assert len(idle.__getstate__()[1]) == len(pending.__getstate__()[1]) - 4
    assert len(signed_zero.__getstate__()[1]) == len(pending.__getstate__()[1])
    for state in (idle, pending, signed_zero):
        restored = pickle.loads(pickle.dumps(state))
        got = (restored.jump_ts, restored.jump_size, restored.offset_ts, restored.offset_size)
        assert repr(got) == repr((state.jump_ts, state.jump_size, state.offset_ts, state.offset_size))
