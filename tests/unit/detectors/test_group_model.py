"""The group anomaly model: finds a small joint shift no single threshold sees, ignores a swing the whole group
shares, meets its false-alarm target on noise; anomaly corroboration raises a rule alert by one tier at most;
the group stage scores slots behind its watermark whatever the partitions deliver first."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lifeline.detectors import Detectors, Finding
from lifeline.detectors.config import GroupAnomalyRules, RulesConfig
from lifeline.detectors.group_model import GROUP_RULE, GroupModels, GroupWindow
from lifeline.detectors.results import WindowStats
from lifeline.flows.stages import GroupStage
from lifeline.models import AlertEventType, AlertKind, SensorKind, SensorSpec, Tier
from lifeline.registry import Registry

SLOT = 600_000
DAY_SLOTS = 144
T0 = 1_700_000_000_000 - 1_700_000_000_000 % SLOT
NOISE = 0.002  # MPa, each logger's slot-mean noise


def registry(k: int) -> Registry:
    loggers = [SensorSpec(f"P{i}", SensorKind.WATER_PRESSURE, f"A{i}", "water-co", "baohe", 31.8, 117.2,
                          group_id="DMA", maintainer="dev-co", interval_s=300) for i in range(k)]  # fmt: skip
    rain = SensorSpec("R1", SensorKind.RAIN, "RG1", "drain-co", "baohe", 31.8, 117.2, group_id="DMA", interval_s=300)
    return Registry([*loggers, rain])


def models(k: int, rate: float = 0.05) -> GroupModels:
    cfg = dataclasses.replace(RulesConfig(), group_anomaly=GroupAnomalyRules(target_alarms_per_group_day=rate))
    reg = registry(k)
    return GroupModels(reg, cfg, {s: "DMA" for s in reg})


def pressures(days: int, k: int, *, seed: int, diurnal: float = 0.0) -> np.ndarray:
    """Slot means (slots × loggers): 0.3 MPa, a shared daily swing (logger amplitudes 0.8..1.2), noise."""
    rng = np.random.default_rng(seed)
    hours = (np.arange(days * DAY_SLOTS) / 6.0)[:, None]
    swing = diurnal * np.sin(2 * np.pi * hours / 24) * np.linspace(0.8, 1.2, k)[None, :]
    return 0.3 + swing + rng.normal(0.0, NOISE, (days * DAY_SLOTS, k))


def exceeding(gm: GroupModels, series: np.ndarray) -> list[int]:
    state = gm.new_state("DMA")
    return [t for t in range(series.shape[0]) if gm.step(state, T0 + t * SLOT, series[t]).anomalous]


def test_only_eligible_members_take_part() -> None:
    assert models(4).members == {"DMA": ("P0", "P1", "P2", "P3")}  # rain is excluded by kind
    assert models(1).members == {}  # one logger is no group


def test_a_small_shift_of_three_loggers_is_found_within_two_hours() -> None:
    series = pressures(16, 6, seed=3, diurnal=0.05)
    start = 14 * DAY_SLOTS
    series[start:, :3] -= 1.5 * NOISE  # 3 mm of head: far under any pressure rule (50 kPa or 15 %)
    found = exceeding(models(6), series)
    assert not [t for t in found if t < start]
    assert found and found[0] - start <= 12  # 12 slots of 10 min


def test_a_swing_the_whole_group_shares_is_not_flagged() -> None:
    found = exceeding(models(6), pressures(20, 6, seed=5, diurnal=0.05))  # ±50 kPa a day, 25 × the noise
    assert len(found) <= 2  # target 0.05 a group-day over 18 scored days: 0.9 expected


@pytest.mark.parametrize("seed", [11, 12])
def test_exceeding_slots_on_noise_meet_the_target_rate(seed: int) -> None:
    rate, days = 4.0, 40
    found = exceeding(models(5, rate), pressures(days, 5, seed=seed))
    scored_days = days - 3  # the first 3 days are learned (2 days of calibration after the scales settle)
    expected = rate * scored_days  # 148 exceeding slots
    assert 0.5 * expected <= len(found) <= 1.7 * expected


def test_findings_name_the_moved_sensors_with_expected_range_and_stop_when_back() -> None:
    gm = models(4)
    state = gm.new_state("DMA")
    series = pressures(15, 4, seed=8)
    start = 14 * DAY_SLOTS
    series[start : start + 36, :2] -= 3 * NOISE
    windows = [GroupWindow(f"P{i}", "DMA", T0 + t * SLOT, 600, 2, float(series[t, i]), 0.0)
               for t in range(series.shape[0]) for i in range(4)]  # fmt: skip
    gm.add(state, windows)
    found = gm.advance(state, T0 + series.shape[0] * SLOT + gm.settle_ms)
    shift_release = T0 + start * SLOT + SLOT + gm.settle_ms  # the first shifted slot's release time
    opened = [f for f in found if f.tier is not None and f.ts >= shift_release]
    assert opened and {f.sensor_id for f in opened} >= {"P0", "P1"}
    first = opened[0]
    assert first.kind is AlertKind.ANOMALY and first.tier is Tier.T3 and first.rule == GROUP_RULE
    assert first.asset_id == "DMA" and "expected" in first.evidence and "moved: P0, P1" in first.evidence
    assert [f for f in found if f.tier is None and f.ts > first.ts]  # the shift ended: the findings end


def test_group_stage_scores_slots_behind_the_watermark_in_any_delivery_order() -> None:
    reg = registry(3)
    det = Detectors(reg)
    gm = det.group_models
    stats = [WindowStats(f"P{i}", T0 + t * SLOT, 600, 2, 0.3 + 0.001 * ((t * 7 + i * 3) % 5), 0, 1, 0, 0, 0)
             for t in range(400) for i in range(3)]  # fmt: skip
    windows = gm.compact(stats)
    results = []
    for order in (windows, windows[::-1]):
        stage = GroupStage(det, partitions=2, group_models=gm)
        state = stage.new_state()
        half = len(order) // 2
        stage.process(state, 0, T0, [], windows=order[:half])
        stage.process(state, 1, T0, [], windows=order[half:])
        stage.process(state, 0, T0 + 500 * SLOT, [])
        stage.process(state, 1, T0 + 500 * SLOT, [])
        model = state.models["DMA"]
        assert not model.pending and model.scored_to == T0 + 399 * SLOT
        results.append((model.profile.copy(), model.res_var.copy(), model.score_mean))
    assert all(np.array_equal(a, b) for a, b in zip(results[0], results[1], strict=True))


# -- corroboration -----------------------------------------------------------------------------------------


def corroboration_det() -> Detectors:
    return Detectors(registry(4), RulesConfig())


def find(sensor: str, kind: AlertKind, tier: Tier | None, rule: str, t_min: int = 0) -> Finding:
    asset = "DMA" if rule == GROUP_RULE else "A" + sensor[1:]
    return Finding(sensor, asset, "DMA", kind, tier, T0 + t_min * 60_000, 0.25, 0.6, "evidence", rule)


def opened(det: Detectors, findings: list[Finding]) -> dict[str, Tier]:
    events = det.process_group(det.new_group_state("DMA"), findings, T0 + 5 * 60_000)
    return {e.kind.value: e.tier for e in events if e.event is AlertEventType.OPENED}


def test_two_anomalous_sensors_raise_a_rule_alert_by_one_tier() -> None:
    drop = find("P0", AlertKind.PIPE_BURST, Tier.T3, "water.pressure.drop:t3")
    anomalies = [find(s, AlertKind.ANOMALY, Tier.T3, GROUP_RULE) for s in ("P1", "P2")]
    assert opened(corroboration_det(), [drop, *anomalies]) == {"pipe_burst": Tier.T2, "anomaly": Tier.T3}
    assert opened(corroboration_det(), [drop, anomalies[0]])["pipe_burst"] is Tier.T3  # one sensor: no raise


def test_corroboration_raises_one_tier_at_most_and_never_a_fault() -> None:
    many = [find(f"P{i}", AlertKind.ANOMALY, Tier.T3, "anomaly.sensor.mean") for i in range(4)]
    big = find("P0", AlertKind.PIPE_BURST, Tier.T2, "water.pressure.drop:big")
    assert opened(corroboration_det(), [big, *many])["pipe_burst"] is Tier.T1
    stuck = find("P3", AlertKind.SENSOR_FAULT, Tier.T3, "fault.stuck:flat")
    assert opened(corroboration_det(), [stuck, *many])["sensor_fault"] is Tier.T3


def test_a_faulty_sensor_gives_no_anomaly_evidence() -> None:
    drop = find("P0", AlertKind.PIPE_BURST, Tier.T3, "water.pressure.drop:t3")
    stuck = find("P2", AlertKind.SENSOR_FAULT, Tier.T3, "fault.stuck:flat")
    anomalies = [find(s, AlertKind.ANOMALY, Tier.T3, GROUP_RULE) for s in ("P1", "P2")]
    assert opened(corroboration_det(), [drop, stuck, *anomalies])["pipe_burst"] is Tier.T3
