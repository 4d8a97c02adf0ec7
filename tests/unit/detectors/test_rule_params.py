"""Typed rule parameters: every kind resolves a frozen dataclass; registry thresholds beat the defaults."""

from __future__ import annotations

import dataclasses

import pytest

from lifeline.detectors.bridge import LearnedTierParams
from lifeline.detectors.config import RulesConfig
from lifeline.detectors.engine import KIND_RULES
from lifeline.detectors.gas import LelParams
from lifeline.detectors.rulebase import RuleParams, persist
from lifeline.detectors.state import SensorState
from lifeline.detectors.water import FlowParams, PressureParams
from lifeline.models import SensorKind, SensorSpec


def _spec(kind: SensorKind, interval_s: float = 300.0, **thresholds: float) -> SensorSpec:
    return SensorSpec("s", kind, "a", "o", "d", 31.8, 117.2, interval_s=interval_s, thresholds=thresholds)


@pytest.mark.parametrize("kind", sorted(KIND_RULES, key=str))
def test_every_kind_resolves_frozen_typed_parameters(kind: SensorKind) -> None:
    params = KIND_RULES[kind].params(_spec(kind), RulesConfig())
    assert isinstance(params, RuleParams) and dataclasses.is_dataclass(params)
    first = dataclasses.fields(params)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(params, first, 0.0)


def test_registry_thresholds_override_the_domain_defaults() -> None:
    params = KIND_RULES[SensorKind.CH4_LEL].params(_spec(SensorKind.CH4_LEL, t1=40.0), RulesConfig())
    assert params == LelParams(t3=10.0, t2=25.0, t1=40.0, sustain_ms=600_000.0, biogas_history=0.0, steady=0.15,
                               release=4)  # fmt: skip


def test_step_rules_look_back_at_least_one_and_a_half_intervals() -> None:
    cfg = RulesConfig()
    slow = KIND_RULES[SensorKind.WATER_PRESSURE].params(_spec(SensorKind.WATER_PRESSURE, interval_s=900.0), cfg)
    fast = KIND_RULES[SensorKind.WATER_FLOW].params(_spec(SensorKind.WATER_FLOW, interval_s=60.0), cfg)
    assert isinstance(slow, PressureParams) and isinstance(fast, FlowParams)
    assert slow.lookback_ms == 1_350_000.0  # 1.5 × 900 s beats the 300 s drop window
    assert fast.lookback_ms == 900_000.0  # the 900 s step look-back beats 1.5 × 60 s
    assert slow.hold_ms == fast.hold_ms == 21_600_000.0


def test_learned_baseline_rules_share_one_parameter_shape() -> None:
    cfg = RulesConfig()
    freq = KIND_RULES[SensorKind.MODAL_FREQUENCY].params(_spec(SensorKind.MODAL_FREQUENCY, t1=0.2), cfg)
    tilt = KIND_RULES[SensorKind.PIER_TILT].params(_spec(SensorKind.PIER_TILT), cfg)
    assert freq == LearnedTierParams(t3=0.05, t2=0.10, t1=0.2, learn=6)
    assert type(tilt) is LearnedTierParams and tilt.learn == 6


def _runs(st: SensorState) -> tuple[int, ...]:
    return (st.run_t3, st.run_t3_since, st.run_t2, st.run_t2_since, st.run_t1, st.run_t1_since)


def test_persistence_counts_each_level_for_its_tier_and_every_lower_one() -> None:
    st = SensorState("s")
    seen = []
    for ts, level in enumerate([1, 1, 2, 3, 0, 2], start=1):
        persist(st, level, ts)
        seen.append(_runs(st))
    assert seen == [
        (1, 1, 1, 1, 1, 1),
        (2, 1, 2, 1, 2, 1),
        (3, 1, 3, 1, 0, -1),
        (4, 1, 0, -1, 0, -1),
        (0, -1, 0, -1, 0, -1),
        (1, 6, 1, 6, 0, -1),
    ]
