"""Graded rules against hand-computed expectations from docs/domain.md numbers (tier 1 = most severe)."""

from __future__ import annotations

import numpy as np

from lifeline.detectors import Detectors, Finding
from lifeline.detectors.config import RulesConfig, native_tier
from lifeline.models import AlertEventType, AlertKind, SensorKind, SensorSpec, Tier
from lifeline.registry import Registry

T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC
MIN = 60_000


def spec(sid: str, kind: SensorKind, asset: str, group: str = "G", **kw: object) -> SensorSpec:
    return SensorSpec(sid, kind, asset, "owner", "district", 31.8, 117.2, group_id=group, maintainer="devices", **kw)  # type: ignore[arg-type]


def feed(det: Detectors, sid: str, values: list[float], step_ms: int, t0: int = T0) -> list[Finding]:
    """Feed readings one call per reading (like the dataflow with small batches); return findings."""
    st = det.new_sensor_state(sid)
    out: list[Finding] = []
    for i, v in enumerate(values):
        r = det.process_sensor(st, np.array([t0 + i * step_ms], dtype=np.int64), np.array([v]))
        out.extend(r.findings)
    return out


def tiers(findings: list[Finding], family_prefix: str = "") -> list[Tier | None]:
    return [f.tier for f in findings if f.rule.startswith(family_prefix) and f.kind is not AlertKind.SENSOR_FAULT]


def alerts(det: Detectors, findings: list[Finding]) -> list:  # type: ignore[type-arg]
    gs = det.new_group_state(findings[0].group_id) if findings else None
    if gs is None:
        return []
    return det.process_group(gs, findings, 1 << 60)


# -- gas ---------------------------------------------------------------------------------------------


def gas_det(asset_kind: str = "telecom_well", **thresholds: float) -> Detectors:
    reg = Registry([
        spec("W1", SensorKind.CH4_LEL, "A1", asset_kind=asset_kind, interval_s=300, thresholds=thresholds),
        spec("W2", SensorKind.CH4_LEL, "A2", asset_kind="power_well", interval_s=300),
        spec("W3", SensorKind.CH4_LEL, "A3", asset_kind="power_well", interval_s=300),
    ])  # fmt: skip
    return Detectors(reg)


def leaky(levels: list[float]) -> list[float]:
    """A leak fluctuates ±20–40 % (docs/domain.md#methane-in-wells): alternate ±30 % around the level."""
    return [v * (1.3 if i % 2 else 0.75) for i, v in enumerate(levels)]


def test_ch4_single_report_above_10_is_not_an_alert() -> None:
    assert tiers(feed(gas_det(), "W1", [1.0, 12.0, 1.0, 1.0], 5 * MIN)) == []


def test_ch4_two_consecutive_reports_at_10_raise_t3() -> None:
    found = feed(gas_det(), "W1", [1.0, 11.0, 12.0], 5 * MIN)
    assert tiers(found) == [Tier.T3]


def test_ch4_25_sustained_10_min_raises_t2_not_before() -> None:
    # reports every 5 min at 30 %LEL: t=0 (run starts), t=5 (5 min), t=10 (10 min → T2)
    found = feed(gas_det(), "W1", [1.0, 30.0, 31.0, 29.0], 5 * MIN)
    assert tiers(found) == [Tier.T3, Tier.T2]
    assert found[-1].ts == T0 + 3 * 5 * MIN


def test_ch4_50_for_two_reports_raises_t1() -> None:
    found = feed(gas_det(), "W1", [1.0, 55.0, 60.0], 5 * MIN)
    assert tiers(found)[-1] is Tier.T1


def test_ch4_25_and_rising_in_a_valve_well_raises_t1() -> None:
    found = feed(gas_det("gas_valve_well"), "W1", [1.0, 26.0, 30.0, 35.0], 5 * MIN)
    assert Tier.T1 in tiers(found)
    found = feed(gas_det("telecom_well"), "W1", [1.0, 26.0, 30.0, 35.0], 5 * MIN)
    assert Tier.T1 not in tiers(found)


def test_steady_biogas_in_a_sewer_well_never_exceeds_t3() -> None:
    steady = [20.0 + 0.2 * np.sin(i / 10) for i in range(40)]  # steady, above 10 %LEL
    found = feed(gas_det("sewer_well"), "W1", steady, 15 * MIN)
    assert tiers(found) and all(t is Tier.T3 for t in tiers(found) if t is not None)
    assert all(f.rule.endswith("biogas_capped") for f in found if f.tier is not None)


def test_steady_methane_in_a_well_with_biogas_history_raises_nothing() -> None:
    steady = [20.0 + 0.2 * np.sin(i / 10) for i in range(40)]
    assert tiers(feed(gas_det("sewer_well", biogas_history=1.0), "W1", steady, 15 * MIN)) == []


def test_fluctuating_leak_in_a_sewer_well_still_escalates() -> None:
    found = feed(gas_det("sewer_well"), "W1", leaky([1.0] * 6 + [75.0] * 8), 15 * MIN)
    assert Tier.T1 in tiers(found)


def test_fluctuating_leak_plateau_is_one_alert_and_ends_after_release_reports() -> None:
    # a 14 %LEL plateau fluctuating ±40 %: single reports dip below 10 %LEL (T3) and recover
    plateau = [14.0 * f for f in (1.0, 1.3, 0.6, 1.2, 1.4, 0.65, 0.62, 1.1, 0.7, 1.3, 0.6, 1.0)]
    det = gas_det()
    found = feed(det, "W1", [1.0, *plateau], 15 * MIN)
    assert [f.tier for f in found if f.tier is None] == []  # never ended while the plateau persists
    opened = [e for e in alerts(det, found) if e.event.value == "opened"]
    assert len(opened) == 1
    # repaired: 4 consecutive reports (1 h at 15 min) below 10 %LEL end the condition, 3 do not
    assert [f.tier for f in feed(gas_det(), "W1", [1.0, *plateau, 2.0, 2.0, 2.0], 15 * MIN) if f.tier is None] == []
    ended = [f for f in feed(gas_det(), "W1", [1.0, *plateau, 2.0, 2.0, 2.0, 2.0], 15 * MIN) if f.tier is None]
    assert len(ended) == 1


def test_t2_leak_dipping_below_25_holds_t2() -> None:
    found = feed(gas_det(), "W1", [1.0, 30.0, 31.0, 29.0, 18.0, 30.0, 17.0, 33.0], 5 * MIN)
    assert tiers(found)[-1] is Tier.T2 and tiers(found).count(Tier.T3) == 1  # T3 only on the way up


def test_linked_wells_make_t2_and_spread_makes_t1() -> None:
    det = gas_det()
    two = feed(det, "W1", [12.0, 12.5, 13.0], 5 * MIN) + feed(det, "W2", [11.0, 11.5, 12.0], 5 * MIN)
    events = alerts(det, two)
    assert max(e.tier for e in events) is Tier.T3 or min(e.tier for e in events) is Tier.T2
    assert min(e.tier for e in events) is Tier.T2
    three = two + feed(det, "W3", [11.0, 11.5, 12.0], 5 * MIN)
    assert min(e.tier for e in alerts(det, three)) is Tier.T1
    assert {e.asset_id for e in alerts(det, three)} == {"G"}  # one group-level alert


def test_native_gb50493_level_1_is_our_tier_2() -> None:
    assert native_tier("GB/T50493", 1) is Tier.T2
    assert native_tier("GB/T50493", 2) is Tier.T1


# -- water -------------------------------------------------------------------------------------------


def water_det() -> Detectors:
    reg = Registry([
        spec("P1", SensorKind.WATER_PRESSURE, "L1", group="DMA", interval_s=300),
        spec("P2", SensorKind.WATER_PRESSURE, "L2", group="DMA", interval_s=300),
        spec("Q", SensorKind.WATER_FLOW, "IN", group="DMA", interval_s=300),
    ])  # fmt: skip
    return Detectors(reg)


def test_burst_two_loggers_big_drop_and_inlet_surge_is_t1() -> None:
    det = water_det()
    base_p = [0.35 + 0.001 * (i % 2) for i in range(10)]
    drop = [0.22, 0.221, 0.22, 0.219]  # −0.13 MPa (≥0.1 MPa) within one 5-min step
    flow = [200.0 + (i % 2) for i in range(10)] + [330.0, 331.0, 329.0, 330.0]  # +65 %
    found = feed(det, "P1", base_p + drop, 5 * MIN) + feed(det, "P2", base_p + drop, 5 * MIN)
    found += feed(det, "Q", flow, 5 * MIN)
    events = alerts(det, found)
    burst = [e for e in events if e.kind is AlertKind.PIPE_BURST]
    assert min(e.tier for e in burst) is Tier.T1
    assert burst[0].asset_id == "DMA"


def test_one_logger_moderate_drop_sustained_15_min_is_t2_without_surge() -> None:
    det = water_det()
    values = [0.35 + 0.001 * (i % 2) for i in range(10)] + [
        0.29 + 0.001 * (i % 2) for i in range(5)
    ]  # −0.06 MPa for 20 min
    events = alerts(det, feed(det, "P1", values, 5 * MIN))
    assert min(e.tier for e in events) is Tier.T2


def test_pump_switching_small_step_raises_nothing() -> None:
    det = water_det()
    values = [0.35 + 0.001 * (i % 2) for i in range(10)] + [0.32] * 10  # −0.03 MPa: below 0.05 / 15 %
    assert tiers(feed(det, "P1", values, 5 * MIN)) == []


def test_pressure_below_0_1_mpa_is_low_pressure() -> None:
    det = water_det()
    found = feed(det, "P1", [0.3, 0.301, 0.3, 0.08, 0.07, 0.07], 5 * MIN)
    low = [f for f in found if f.kind is AlertKind.LOW_PRESSURE]
    assert low and low[0].tier is Tier.T1  # sensor suggests T1 …
    events = alerts(det, low)
    assert min(e.tier for e in events) is Tier.T2  # … one logger alone is T2 at group level


# -- drainage ----------------------------------------------------------------------------------------


def drain_det() -> Detectors:
    reg = Registry([
        spec("D", SensorKind.PONDING_DEPTH, "UP", group="C", interval_s=300),
        spec("M", SensorKind.MANHOLE_LEVEL, "MH", group="C", interval_s=300, design_value=3.0,
             thresholds={"crown_m": 1.0}),
        spec("R", SensorKind.RAIN, "RG", group="C", interval_s=300),
    ])  # fmt: skip
    return Detectors(reg)


def best_tier(findings: list[Finding]) -> Tier | None:
    ts = [f.tier for f in findings if f.tier is not None and f.kind is not AlertKind.SENSOR_FAULT]
    return min(ts) if ts else None


def test_ponding_steps_15_27_40_cm() -> None:
    det = drain_det()
    assert best_tier(feed(det, "D", [0.0, 16.0, 16.5, 16.2], 5 * MIN)) is Tier.T3
    # climbing at most 4 cm / 5 min, so the "≥25 cm and rising >5 cm / 5 min" T1 clause stays out of it
    assert best_tier(feed(det, "D", [0.0, 8.0, 16.0, 22.0, 26.0, 28.0, 28.5, 28.2], 5 * MIN)) is Tier.T2
    assert best_tier(feed(det, "D", [0.0, 41.0, 42.0, 42.0], 5 * MIN)) is Tier.T1
    assert best_tier(feed(det, "D", [0.0, 14.0, 14.5, 14.9], 5 * MIN)) is None


def test_ponding_25_cm_rising_more_than_5_cm_per_5_min_is_t1() -> None:
    det = drain_det()
    assert best_tier(feed(det, "D", [0.0, 18.0, 25.0, 31.0, 37.0], 5 * MIN)) is Tier.T1  # +6 cm / 5 min
    assert best_tier(feed(det, "D", [0.0, 20.0, 25.0, 26.0, 26.5], 5 * MIN)) is Tier.T3  # slow: T3 (< 27)
    # one 5-min rise of 6 cm at ≥25 cm that holds is the docs/domain.md#road-ponding condition (one rate over 5 min)
    assert best_tier(feed(det, "D", [0.0, 10.0, 20.0, 24.0, 30.0, 31.0, 31.5], 5 * MIN)) is Tier.T1
    # a one-sample jump that falls straight back is no rise (spike), stays at the depth tier
    assert best_tier(feed(det, "D", [20.0, 24.0, 25.0, 26.0, 33.0, 26.2, 26.1], 5 * MIN)) is Tier.T3


def test_manhole_surcharge_freeboard_and_overflow() -> None:
    det = drain_det()  # ground 3.0 m above invert, crown 1.0 m
    # rising ≤0.15 m / 5 min: the "rising >0.2 m per 5 min" T2 clause does not apply
    assert best_tier(feed(det, "M", [0.3, 0.5, 0.7, 0.85, 1.0, 1.1, 1.15, 1.18], 5 * MIN)) is Tier.T3
    climb = [0.3 + 0.15 * i for i in range(16)]  # up to 2.55 m at 0.15 m / 5 min
    assert best_tier(feed(det, "M", [*climb, 2.6, 2.62, 2.61], 5 * MIN)) is Tier.T2  # ≤0.5 m below ground
    assert best_tier(feed(det, "M", [0.3, 2.95, 2.96, 2.97], 5 * MIN)) is Tier.T1  # ≤0.1 m below ground


def test_manhole_surcharged_and_rising_fast_is_t2() -> None:
    det = drain_det()  # crown 1.0 m, T2 freeboard at 2.5 m
    # +0.25 m in one 5-min interval above the crown, and the level stays up: T2 (docs/domain.md#manhole-level)
    assert best_tier(feed(det, "M", [0.9, 1.0, 1.05, 1.3, 1.32, 1.33], 5 * MIN)) is Tier.T2
    # the same jump coming straight back is a spike, not a rise: T3 (surcharge) only
    assert best_tier(feed(det, "M", [1.05, 1.08, 1.1, 1.12, 1.4, 1.13, 1.14], 5 * MIN)) is Tier.T3
    # a fast rise below the crown (pump-station saw-tooth) is not graded
    assert best_tier(feed(det, "M", [0.2, 0.25, 0.5, 0.52, 0.53], 5 * MIN)) is None


def test_rain_50_mm_in_6_hours_is_t2() -> None:
    det = drain_det()
    # 10 mm/h for 6 h: 60 mm in 6 h (yellow signal, T2) although only 30 mm in any 3 h and < 20 mm/h
    assert best_tier(feed(det, "R", [10.0] * 72, 5 * MIN)) is Tier.T2
    assert best_tier(feed(det, "R", [10.0] * 54, 5 * MIN)) is None  # 45 mm in 4.5 h


def test_rain_intensity_and_3h_accumulation() -> None:
    det = drain_det()
    assert best_tier(feed(det, "R", [0.0, 22.0, 24.0, 5.0], 5 * MIN)) is Tier.T3  # ≥20 mm/h
    # 20 mm/h for 3 h = 60 mm ≥ 50 mm → T2 ; 36 mm/h for 3 h = 108 mm ≥ 100 → T1
    assert best_tier(feed(det, "R", [20.0] * 36, 5 * MIN)) is Tier.T2
    assert best_tier(feed(det, "R", [36.0] * 36, 5 * MIN)) is Tier.T1
    assert best_tier(feed(det, "R", [36.0] * 30, 5 * MIN)) is Tier.T2  # 2.5 h × 36 = 90 mm


# -- bridge ------------------------------------------------------------------------------------------


def bridge_det() -> Detectors:
    reg = Registry([
        spec("S", SensorKind.STRAIN, "BR", group="BR", interval_s=600, design_value=100.0),
        spec("C", SensorKind.CRACK_WIDTH, "BR", group="BR", interval_s=600, design_value=0.2),
        spec("F", SensorKind.MODAL_FREQUENCY, "BR", group="BR", interval_s=3600, design_value=2.0),
        spec("T", SensorKind.PIER_TILT, "BR", group="BR", interval_s=600, design_value=0.0),
    ])  # fmt: skip
    return Detectors(reg)


def test_strain_live_load_ratio_tiers() -> None:
    # thermal baseline ~50 µε, design live-load effect 100 µε
    quiet = [50.0 + 0.5 * (i % 2) for i in range(12)]
    assert best_tier(feed(bridge_det(), "S", [*quiet, 125.0, 126.0, 125.0], 10 * MIN)) is Tier.T3  # 75 %
    assert best_tier(feed(bridge_det(), "S", [*quiet, 140.0, 141.0, 140.0], 10 * MIN)) is Tier.T2  # 90 %
    assert best_tier(feed(bridge_det(), "S", [*quiet, 155.0, 156.0, 155.0], 10 * MIN)) is Tier.T1  # 105 %
    assert best_tier(feed(bridge_det(), "S", [*quiet, 110.0, 111.0, 110.0], 10 * MIN)) is None  # 60 %


def test_crack_width_against_limit() -> None:
    det = bridge_det()  # limit 0.2 mm → T3 ≥0.16, T2 ≥0.2, T1 ≥0.3
    assert best_tier(feed(det, "C", [0.10, 0.17, 0.171, 0.172], 10 * MIN)) is Tier.T3
    assert best_tier(feed(det, "C", [0.10, 0.21, 0.211, 0.212], 10 * MIN)) is Tier.T2
    assert best_tier(feed(det, "C", [0.10, 0.31, 0.311, 0.312], 10 * MIN)) is Tier.T1


def test_modal_frequency_drop() -> None:
    det = bridge_det()  # baseline 2.0 Hz: T3 ≤1.9, T2 ≤1.8, T1 ≤1.7
    assert best_tier(feed(det, "F", [2.0, 1.89, 1.88, 1.89], 60 * MIN)) is Tier.T3
    assert best_tier(feed(det, "F", [2.0, 1.79, 1.78, 1.79], 60 * MIN)) is Tier.T2
    assert best_tier(feed(det, "F", [2.0, 1.69, 1.68, 1.69], 60 * MIN)) is Tier.T1


def test_pier_tilt_change() -> None:
    det = bridge_det()  # baseline 0°: T3 >0.05, T2 >0.1, T1 >0.2
    assert best_tier(feed(det, "T", [0.0, 0.06, 0.061, 0.062], 10 * MIN)) is Tier.T3
    assert best_tier(feed(det, "T", [0.0, 0.21, 0.211, 0.212], 10 * MIN)) is Tier.T1


def test_registry_thresholds_override_defaults() -> None:
    reg = Registry([spec("W1", SensorKind.CH4_LEL, "A1", interval_s=300, thresholds={"t3": 5.0})])
    found = feed(Detectors(reg), "W1", [1.0, 6.0, 6.5], 5 * MIN)
    assert tiers(found) == [Tier.T3]
    assert RulesConfig().gas.lel_t3 == 10.0


def test_alert_events_carry_owner_district_and_evidence() -> None:
    det = gas_det()
    events = alerts(det, feed(det, "W1", [1.0, 55.0, 60.0], 5 * MIN))
    opened = events[0]
    assert opened.event is AlertEventType.OPENED
    assert opened.owner == "owner" and opened.district == "district"
    assert "55" in opened.evidence or "60" in opened.evidence
    assert opened.sensor_ids == ("W1",)
