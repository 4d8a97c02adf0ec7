"""The rules of docs/domain.md#rules-added-2026-12-03, against hand-computed expectations from its numbers.

Acceleration T3 (99.9 % quantile of the RMS history) and T1 (impact), crack growth rate, deflection creep
and cover tilt on a main road.
"""

from __future__ import annotations

import math

import numpy as np

from lifeline.detectors import Detectors, Finding
from lifeline.detectors.bridge import acc_bin
from lifeline.detectors.config import RulesConfig, rules_from_table
from lifeline.models import AlertKind, SensorKind, SensorSpec, Tier
from lifeline.registry import Registry

MIN = 60_000
DAY = 86_400_000
T0 = 19_676 * DAY  # 2023-11-15 00:00 UTC: a day boundary
P28 = 28 * DAY
T_CREEP = 702 * P28  # a boundary of the 28-day creep periods (2023-10-26 00:00 UTC)


def spec(sid: str, kind: SensorKind, **kw: object) -> SensorSpec:
    return SensorSpec(sid, kind, "A", "owner", "district", 31.8, 117.2, group_id="G", maintainer="devices", **kw)  # type: ignore[arg-type]


def feed(det: Detectors, sid: str, values: list[float], step_ms: int, t0: int) -> list[Finding]:
    """One call per reading, like the dataflow with small batches."""
    st = det.new_sensor_state(sid)
    out: list[Finding] = []
    for i, v in enumerate(values):
        out.extend(det.process_sensor(st, np.array([t0 + i * step_ms], dtype=np.int64), np.array([v])).findings)
    return out


def rule_tiers(findings: list[Finding], prefix: str) -> list[Tier | None]:
    return [f.tier for f in findings if f.rule.startswith(prefix) and f.kind is not AlertKind.SENSOR_FAULT]


def last(findings: list[Finding], prefix: str) -> Finding:
    return [f for f in findings if f.rule.startswith(prefix) and f.tier is not None][-1]


def first(findings: list[Finding], prefix: str) -> Finding:
    return next(f for f in findings if f.rule.startswith(prefix) and f.tier is not None)


# -- acceleration: T3 above the 99.9 % quantile of the RMS history ------------------------------------------

#: 1020 normal 10-min RMS reports: half 0.03 m/s² (bin floor(10·log10(30)) = 14), half 0.04 (bin 16).
#: 0.999 × 1020 = 1018.98 counts are reached in bin 16, whose upper edge is 10^(17/10 − 3) = 0.0501 m/s².
HISTORY = [0.03 if i % 2 else 0.04 for i in range(1020)]


def acc_det(interval_s: float = 600.0) -> Detectors:
    return Detectors(Registry([spec("ACC", SensorKind.ACCELERATION, interval_s=interval_s)]))


def test_acc_bins_are_ten_per_decade() -> None:
    assert (acc_bin(0.03), acc_bin(0.04), acc_bin(0.0501), acc_bin(0.06)) == (14, 16, 16, 17)


def test_acceleration_two_reports_above_the_quantile_raise_t3() -> None:
    found = feed(acc_det(), "ACC", [*HISTORY, 0.06, 0.061], 10 * MIN, T0)
    assert rule_tiers(found, "bridge.acceleration") == [Tier.T3]
    assert last(found, "bridge.acceleration").rule == "bridge.acceleration:quantile_t3"
    assert last(found, "bridge.acceleration").ts == T0 + 1021 * 10 * MIN


def test_acceleration_below_the_quantile_bound_raises_nothing() -> None:
    assert rule_tiers(feed(acc_det(), "ACC", [*HISTORY, 0.045, 0.046, 0.049], 10 * MIN, T0), "bridge.acc") == []


def test_acceleration_quantile_needs_a_week_of_history() -> None:
    # 500 reports < 1008: no quantile yet, and 0.06 < 0.5 m/s² (the comfort bound)
    assert rule_tiers(feed(acc_det(), "ACC", [*HISTORY[:500], 0.06, 0.061, 0.062], 10 * MIN, T0), "bridge.acc") == []


def test_acceleration_comfort_t2_still_wins_over_the_quantile() -> None:
    found = feed(acc_det(), "ACC", [*HISTORY, 0.6, 0.61], 10 * MIN, T0)
    assert rule_tiers(found, "bridge.acceleration") == [Tier.T2]
    assert last(found, "bridge.acceleration").rule == "bridge.acceleration:comfort_t2"


def test_acceleration_quantile_is_configurable() -> None:
    # at the 0.4 quantile: 0.4 × 1021 = 408 counts are reached in bin 14 (510 reports of 0.03), upper edge
    # 10^(15/10 − 3) = 0.0316 m/s²; 0.045 and 0.046 (bin 16) are above it
    cfg = rules_from_table({"bridge": {"acc_quantile": 0.4}}, "test")
    det = Detectors(Registry([spec("ACC", SensorKind.ACCELERATION, interval_s=600.0)]), cfg)
    assert rule_tiers(feed(det, "ACC", [*HISTORY, 0.045, 0.046], 10 * MIN, T0), "bridge.acc") == [Tier.T3]


# -- acceleration: T1 impact on a raw channel -----------------------------------------------------------


def test_impact_sample_raises_t1() -> None:
    # 50 Hz noise ±0.05 m/s² (RMS 0.05), then one 3.0 m/s² sample: ≥ 2.0 and 60 × the RMS (≥ 5 ×)
    noise = [0.05 if i % 2 else -0.05 for i in range(200)]
    found = feed(acc_det(0.02), "ACC", [*noise, 3.0, *noise[:10]], 20, T0)
    assert rule_tiers(found, "bridge.acceleration:impact") == [Tier.T1]
    assert first(found, "bridge.acceleration:impact").ts == T0 + 200 * 20


def test_peak_below_the_impact_bound_is_no_impact() -> None:
    # 1.5 m/s² < 2.0; its 1-s RMS: mean square 0.0025 + (2.25 − 0.0025)·(1 − e^(−20/1000)) = 0.047 → 0.22 < 0.5
    noise = [0.05 if i % 2 else -0.05 for i in range(200)]
    found = feed(acc_det(0.02), "ACC", [*noise, 1.5, *noise[:10]], 20, T0)
    assert rule_tiers(found, "bridge.acc") == []


def test_peak_in_heavy_ringing_is_no_impact() -> None:
    # ringing ±0.6 m/s² (RMS 0.6), then 2.5 m/s²: ≥ 2.0 but only 4.2 × the RMS (< 5 ×)
    ringing = [0.6 if i % 2 else -0.6 for i in range(200)]
    found = feed(acc_det(0.02), "ACC", [*ringing, 2.5, *ringing[:10]], 20, T0)
    assert rule_tiers(found, "bridge.acceleration:impact") == []


# -- crack growth rate ------------------------------------------------------------------------------------


def crack_det(limit_mm: float = 0.2) -> Detectors:
    return Detectors(Registry([spec("C", SensorKind.CRACK_WIDTH, interval_s=600, design_value=limit_mm)]))


def crack_ramp(rate_mm_per_day: float, days: int, start_mm: float = 0.02) -> list[float]:
    """10-min crack widths growing linearly, with a ±0.002 mm ripple (the daily mean keeps the ramp)."""
    return [start_mm + rate_mm_per_day * i / 144 + (0.002 if i % 2 else -0.002) for i in range(days * 144 + 1)]


def test_crack_growing_0_015_mm_a_day_raises_t3_when_the_eighth_day_starts() -> None:
    # daily means grow 0.015 mm a day: day 7 − day 0 = 0.105 mm / 7 days = 0.015 mm/day ≥ 0.01, < 0.03.
    # Day 7 closes with the first reading of day 8. Widths stay < 0.16 mm (no width finding).
    found = feed(crack_det(), "C", crack_ramp(0.015, 8), 10 * MIN, T0)
    assert rule_tiers(found, "bridge.crack_width.growth") == [Tier.T3]
    assert first(found, "bridge.crack_width.growth").ts == T0 + 8 * DAY
    assert rule_tiers(found, "bridge.crack_width:") == []


def test_crack_growing_0_04_mm_a_day_raises_t2() -> None:
    # 0.04 mm/day ≥ 3 × 0.01; limit 1.0 mm keeps the width rule out (widths < 0.8 mm)
    found = feed(crack_det(1.0), "C", crack_ramp(0.04, 8), 10 * MIN, T0)
    assert rule_tiers(found, "bridge.crack_width.growth") == [Tier.T2]


def test_crack_growth_below_the_rate_and_a_daily_ripple_raise_nothing() -> None:
    # 0.005 mm/day < 0.01; a daily thermal ripple of ±0.03 mm has the same mean every day
    assert rule_tiers(feed(crack_det(), "C", crack_ramp(0.005, 9), 10 * MIN, T0), "bridge.crack_width.growth") == []
    ripple = [0.08 + 0.03 * math.sin(2 * math.pi * i / 144) for i in range(9 * 144 + 1)]
    assert rule_tiers(feed(crack_det(), "C", ripple, 10 * MIN, T0), "bridge.crack_width.growth") == []


def test_crack_growth_rate_is_overridable_in_the_registry() -> None:
    det = Detectors(
        Registry([spec("C", SensorKind.CRACK_WIDTH, interval_s=600, thresholds={"growth_mm_per_day": 0.02})])
    )
    # 0.015 mm/day < 0.02 → nothing
    assert rule_tiers(feed(det, "C", crack_ramp(0.015, 8), 10 * MIN, T0), "bridge.crack_width.growth") == []


# -- deflection creep ---------------------------------------------------------------------------------------


def deflection_det() -> Detectors:
    return Detectors(Registry([spec("D", SensorKind.DEFLECTION, interval_s=86_400, design_value=100.0)]))


def creep_series(year2_mm: float) -> list[float]:
    """Daily deflections: 13 periods of 28 days at 10 mm, then one period at ``year2_mm``, then one reading
    that closes it; a ±0.05 mm ripple (every period's mean is its level + 0.05)."""
    return [(10.0 if i < 364 else year2_mm) + 0.1 * (i % 2) for i in range(364 + 28 + 1)]


def test_deflection_creep_3_5_mm_a_year_raises_t2() -> None:
    # period 13 mean − period 0 mean = 3.5 mm in 364 days = 3.51 mm/year: ≥ 3, < 5 → T2
    found = feed(deflection_det(), "D", creep_series(13.5), DAY, T_CREEP)
    assert rule_tiers(found, "bridge.deflection.creep") == [Tier.T2]
    assert first(found, "bridge.deflection.creep").ts == T_CREEP + 392 * DAY


def test_deflection_creep_tiers_and_quiet_year() -> None:
    det = deflection_det()
    assert rule_tiers(feed(det, "D", creep_series(16.0), DAY, T_CREEP), "bridge.deflection.creep") == [Tier.T1]
    assert rule_tiers(feed(det, "D", creep_series(11.2), DAY, T_CREEP), "bridge.deflection.creep") == [Tier.T3]
    # 0.5 mm/year < 1
    assert rule_tiers(feed(det, "D", creep_series(10.5), DAY, T_CREEP), "bridge.deflection.creep") == []


def test_deflection_creep_ignores_a_seasonal_cycle_that_repeats() -> None:
    # ±8 mm of seasonal thermal camber (a 364-day sine), far more than any creep bound over weeks
    season = [10.0 + 8.0 * math.sin(2 * math.pi * i / 364) + 0.1 * (i % 2) for i in range(364 + 28 + 1)]
    assert rule_tiers(feed(deflection_det(), "D", season, DAY, T_CREEP), "bridge.deflection.creep") == []


# -- cover tilt on a main road ---------------------------------------------------------------------------


def cover_det(**thresholds: float) -> Detectors:
    return Detectors(Registry([spec("CV", SensorKind.COVER_TILT, interval_s=3600, thresholds=thresholds)]))


def test_cover_tilt_on_a_main_road_is_t2_after_two_reports() -> None:
    found = feed(cover_det(main_road=1.0), "CV", [0.0, 15.0, 16.0], 60 * MIN, T0)
    assert rule_tiers(found, "gas.cover") == [Tier.T3, Tier.T2]
    assert last(found, "gas.cover").rule == "gas.cover:main_road_t2"


def test_cover_tilt_elsewhere_stays_t3_below_90_degrees() -> None:
    # hourly reports are each re-reported (refresh 5 min), all at T3
    found = feed(cover_det(), "CV", [0.0, 15.0, 16.0, 17.0], 60 * MIN, T0)
    assert rule_tiers(found, "gas.cover") == [Tier.T3] * 3
    found = feed(cover_det(main_road=0.0), "CV", [0.0, 15.0, 16.0], 60 * MIN, T0)
    assert rule_tiers(found, "gas.cover") == [Tier.T3] * 2


def test_cover_main_road_reports_are_configurable() -> None:
    cfg = rules_from_table({"gas": {"cover_main_road_t2_reports": 3}}, "test")
    det = Detectors(Registry([spec("CV", SensorKind.COVER_TILT, interval_s=3600, thresholds={"main_road": 1})]), cfg)
    assert rule_tiers(feed(det, "CV", [0.0, 15.0, 16.0, 15.5], 60 * MIN, T0), "gas.cover") == [
        Tier.T3,
        Tier.T3,
        Tier.T2,
    ]
    assert RulesConfig().gas.cover_main_road_t2_reports == 2


def test_main_road_cover_and_impact_become_alerts_of_their_tier() -> None:
    for det, sid, values, step, tier in (
        (cover_det(main_road=1.0), "CV", [0.0, 15.0, 16.0], 60 * MIN, Tier.T2),
        (acc_det(0.02), "ACC", [*[0.05 if i % 2 else -0.05 for i in range(200)], 3.0], 20, Tier.T1),
    ):
        found = feed(det, sid, values, step, T0)
        events = det.process_group(det.new_group_state("G"), found, 1 << 60)
        assert max((e.tier for e in events), key=lambda t: -int(t)) is tier
