"""Graded rules for gas networks and adjacent underground spaces (docs/domain.md#gas-network-and-adjacent-wells).

Methane in a well (``ch4_lel``, %LEL), per sensor:

* T3: ≥ ``t3`` (10 %LEL) for ``persistence`` consecutive reports;
* T2: ≥ ``t2`` (25 %LEL) sustained ≥ 10 min (and for ``persistence`` reports);
* T1: ≥ ``t1`` (50 %LEL) for ``persistence`` reports, or ≥ ``t2`` and rising in a gas valve well /
  next to buildings / crowds (asset-kind words ``valve``, ``building``, ``crowd``).
* Biogas look-alike: in a sewer/storm well, a *steady* level (median |Δ| of the last reports below
  ``biogas_max_relative_change`` of the level; leaks fluctuate ±20–40 %) is capped at T3
  (rule ``…:biogas_capped``); in a well with a registered biogas history (threshold
  ``biogas_history`` = 1) a steady level raises nothing.
* Linked wells (≥2 → T2) and spread (≥3 → T1) are judged per group in :mod:`.correlation`.
* Identical consecutive readings never escalate beyond T3 (a stuck sensor is not a leak).
* Hysteresis: once reported, a tier is held until ``lel_release_reports`` (4) consecutive reports fall
  below its threshold. A leak persists until repaired while its level fluctuates ±20–40 % and
  ventilation dips it (docs/domain.md#methane-in-wells), so one leak stays one alert.

Network pressure (``gas_pressure``, MPa) against the set point (``design_value``): deviation >10 % for
15 min → T3, >20 % for 15 min → T2 (family ``gas.pressure``); a sudden drop >10 % within 5 min → T3, >30 %
→ T1 (family ``gas.pressure.drop``); more than 3σ from the sensor's own time-of-day profile
(:mod:`.time_of_day`, judged after 3 days) for 30 min → T3 (family ``gas.pressure.tod``). Station flow
(``gas_flow``): a step rise ≥20 % over the recent level that the station's time-of-day profile does not
explain is reported so the group can raise a pressure anomaly by one tier or, with a sudden drop, call a
rupture (T1, :mod:`.correlation`; docs/domain.md#gas-pressure-time-of-day-3σ-and-rupture). Cover tilt:
>10° → T3, >90° (``t1``/``t2`` threshold) → T2; on a main road (registry ``main_road=1``) >10° for 2
reports → T2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from math import isnan
from typing import Any

import numpy as np

from lifeline.models import AlertKind, SensorKind, SensorSpec

from .config import RulesConfig, threshold, tier_thresholds
from .faults import BLOCKING, over_range, report_rule
from .results import Finding, WindowStats
from .rulebase import (
    AUX_KIND,
    KindRule,
    RuleParams,
    SensorProfile,
    StepParams,
    TierParams,
    lookback_ms,
    persist,
    report,
    step_hold_ms,
    tier_score,
)
from .state import RING, SensorState
from .time_of_day import PROFILE_SLOTS, TimeOfDayProfile

__all__ = [
    "RULES", "CoverTiltParams", "GasFlowParams", "GasPressureParams", "LelParams", "recent_before",
    "time_of_day_profile", "warm_profile",
]  # fmt: skip


def recent_before(st: SensorState, ts: int, lookback_ms: float) -> np.ndarray:
    """Values of the ring buffer with event time in ``[ts - lookback_ms, ts)``."""
    n = st.ring_count
    times = st.ring[0, :n] if n < RING else st.ring[0]
    values = st.ring[1, :n] if n < RING else st.ring[1]
    mask = (times >= ts - lookback_ms) & (times < ts)
    out: np.ndarray = values[mask]
    return out


def last_values(st: SensorState, k: int) -> np.ndarray:
    """The last ``k`` values pushed (oldest first)."""
    k = min(k, st.ring_count)
    idx = (st.ring_next - k + np.arange(k)) % RING
    out: np.ndarray = st.ring[1, idx]
    return out


# -- methane ---------------------------------------------------------------------------------------


_T1_RISING = "gas.lel:t1_rising_in_sensitive_well"


@dataclass(frozen=True, slots=True)
class LelParams(TierParams):
    """Methane in a well: the %LEL bounds, the T2 sustain, biogas screening and the hysteresis release."""

    sustain_ms: float
    #: 1 when the well has a registered biogas history (a steady level then raises nothing)
    biogas_history: float
    #: median |Δ| below this fraction of the level counts as steady (biogas-like)
    steady: float
    #: consecutive reports below the held tier's threshold that release it
    release: int


def _ch4_params(spec: SensorSpec, cfg: RulesConfig) -> LelParams:
    g = cfg.gas
    return LelParams(
        **tier_thresholds(spec, g.lel_t3, g.lel_t2, g.lel_t1),
        sustain_ms=g.lel_t2_sustain_s * 1000.0,
        biogas_history=threshold(spec, "biogas_history", 0.0),
        steady=g.biogas_max_relative_change,
        release=max(1, g.lel_release_reports),
    )


def _ch4(prof: SensorProfile[LelParams], st: SensorState, ts: int, v: float, out: list[Finding]) -> None:
    p = prof.p
    t3 = p.t3
    if v < t3 and st.run_t3 == 0:
        if "gas.lel" in st.emitted:
            report(prof, st, "gas.lel", 0, AlertKind.GAS_LEAK, "", ts, v, 0.0, lambda: f"{v:.1f} %LEL < {t3:g}", out)
        return
    t2, t1 = p.t2, p.t1
    level = 1 if v >= t1 else 2 if v >= t2 else 3 if v >= t3 else 0
    previous = st.emitted.get("gas.lel")
    if previous is not None:
        # hysteresis: hold the reported level (T1 by a rising sensitive well holds T2) through dips
        held = 2 if previous[0] == 1 and previous[2] == _T1_RISING else previous[0]
        if level == 0 or level > held:
            st.hold_reports += 1
            if st.hold_reports < p.release:
                level = held
            else:
                st.hold_reports = 0
        else:
            st.hold_reports = 0
    persist(st, level, ts)
    need = prof.persistence
    tier, rule = 0, ""
    if st.run_t3 >= need:
        tier, rule = 3, "gas.lel:t3_persistent"
    if st.run_t2 >= need and ts - st.run_t2_since >= p.sustain_ms:
        tier, rule = 2, "gas.lel:t2_sustained"
    recent = last_values(st, 3)
    if st.run_t2 >= need and "sensitive" in prof.flags and recent.size and v > float(np.median(recent)):
        tier, rule = 1, _T1_RISING
    if st.run_t1 >= need:
        tier, rule = 1, "gas.lel:t1_upper_alarm"
    relative = 1.0
    if tier and ("sewer" in prof.flags or p.biogas_history > 0):
        window = np.append(last_values(st, 9), v)
        relative = 0.0  # too little history to see fluctuation: treat as biogas-like until it shows
        if window.size >= 5:
            level_now = max(float(np.median(window)), 1.0)
            relative = float(np.median(np.abs(np.diff(window)))) / level_now
        if relative < p.steady:
            if p.biogas_history > 0:
                tier, rule = 0, "gas.lel:biogas_history"
            else:
                tier, rule = 3, "gas.lel:biogas_capped"
    if tier and tier < 3 and st.equal_run >= need - 1 and st.equal_run > 0 and not over_range(prof, v):
        tier, rule = 3, "gas.lel:identical_readings_capped"
    if st.faults & BLOCKING:
        tier = 0
    count = st.run_t1 if tier == 1 else st.run_t2 if tier == 2 else st.run_t3
    report(
        prof,
        st,
        "gas.lel",
        tier,
        AlertKind.GAS_LEAK,
        rule,
        ts,
        v,
        tier_score(tier, v / t1),
        lambda: (
            f"CH4 {v:.1f} %LEL in {prof.spec.asset_kind or 'well'} {prof.spec.asset_id}, {count} consecutive "
            f"report(s) at this level (T3 ≥{t3:g}, T2 ≥{t2:g} for ≥{p.sustain_ms / 60000:g} min, T1 ≥{t1:g})"
            + (f"; steady (median |Δ| {relative:.0%} of level): biogas-like" if relative < p.steady else "")
        ),
        out,
    )


# -- network pressure and flow -----------------------------------------------------------------------

#: aux after AUX_KIND: the time-of-day profile (packed), then, for pressure, the excursion run: when it began
#: (NaN: none) and the readings back inside the band since
_TOD_AT = AUX_KIND
_TOD_SINCE = _TOD_AT + PROFILE_SLOTS
_TOD_INSIDE = _TOD_SINCE + 1
_PRESSURE_AUX = PROFILE_SLOTS + 2
_FLOW_AUX = PROFILE_SLOTS
#: readings back inside the band in a row that end an excursion (one alone does not: a hunting regulator
#: crosses its profile twice per period)
_TOD_END_READINGS = 2


@dataclass(frozen=True, slots=True)
class GasPressureParams(RuleParams):
    """Network pressure: set point (NaN: learned), deviation bounds, sudden-drop bounds, the time-of-day
    profile's σ bound and windows."""

    set_point: float
    dev_t3: float
    dev_t2: float
    drop_t3: float
    drop_t1: float
    sustain_ms: float
    lookback_ms: float
    hold_ms: float
    tod_sigma: float
    tod_sustain_ms: float
    tod_min_days: float
    utc_offset_h: float


def _pressure_params(spec: SensorSpec, cfg: RulesConfig) -> GasPressureParams:
    g = cfg.gas
    return GasPressureParams(
        set_point=spec.design_value if spec.design_value else float("nan"),
        dev_t3=threshold(spec, "dev_t3", g.pressure_dev_t3),
        dev_t2=threshold(spec, "dev_t2", g.pressure_dev_t2),
        drop_t3=threshold(spec, "drop_t3", g.pressure_sudden_drop_t3),
        drop_t1=threshold(spec, "drop_t1", g.pressure_sudden_drop_t1),
        sustain_ms=g.pressure_dev_sustain_s * 1000.0,
        lookback_ms=lookback_ms(spec, g.sudden_window_s),
        hold_ms=step_hold_ms(cfg),
        tod_sigma=g.tod_sigma,
        tod_sustain_ms=g.tod_sustain_s * 1000.0,
        tod_min_days=g.tod_min_days,
        utc_offset_h=cfg.local_utc_offset_h,
    )


def time_of_day_profile(
    prof: SensorProfile[Any], st: SensorState, min_days: float, utc_offset_h: float
) -> TimeOfDayProfile:
    """The sensor's time-of-day profile, kept in its aux array after the drift hours (a snapshot taken before
    the profile existed gets the slots appended)."""
    need = prof.aux_size
    aux = st.aux
    if aux is None or aux.shape[0] < need:
        old = np.empty(0) if aux is None else aux
        aux = st.aux = np.concatenate((old, np.full(need - old.shape[0], np.nan)))
    return TimeOfDayProfile.in_aux(aux, _TOD_AT, prof.window_ms, utc_offset_h, min_days)


def warm_profile(prof: SensorProfile[Any], st: SensorState, rows: Sequence[WindowStats]) -> int:
    """Teach a pressure or flow sensor's time-of-day profile historical windows (``sensor_stats`` rows of its own
    window length with readings, oldest first), so it judges at once after a restart; return how many."""
    p = prof.p
    if not isinstance(p, GasPressureParams | GasFlowParams):
        return 0
    profile = time_of_day_profile(prof, st, p.tod_min_days, p.utc_offset_h)
    own = [w for w in rows if w.window_s * 1000 == prof.window_ms and w.count > 0]
    for w in own:
        profile.learn(w.window_start + prof.window_ms // 2, w.mean)
    return len(own)


def _gas_pressure(
    prof: SensorProfile[GasPressureParams], st: SensorState, ts: int, v: float, out: list[Finding]
) -> None:
    p = prof.p
    profile = time_of_day_profile(prof, st, p.tod_min_days, p.utc_offset_h)
    band = profile.expected(ts)  # learn-then-score: the profile as it was before this reading
    profile.observe(ts, v)
    _time_of_day(prof, st, ts, v, band, out)
    _sudden_drop(prof, st, ts, v, out)
    _set_point(prof, st, ts, v, out)


def _set_point(prof: SensorProfile[GasPressureParams], st: SensorState, ts: int, v: float, out: list[Finding]) -> None:
    """Deviation from the set point: > dev_t3 for 15 min → T3, > dev_t2 → T2 (family ``gas.pressure``)."""
    p = prof.p
    sp = p.set_point
    if isnan(sp):  # no set point: learn a slow baseline
        st.baseline = v if isnan(st.baseline) else st.baseline + (v - st.baseline) * 0.02
        sp = st.baseline
    if sp <= 0:
        return
    dev = (v - sp) / sp
    if abs(dev) <= p.dev_t3 and st.run_t3 == 0 and "gas.pressure" not in st.emitted:
        return
    persist(st, 2 if abs(dev) > p.dev_t2 else 3 if abs(dev) > p.dev_t3 else 0, ts)
    tier, rule = 0, ""
    if st.run_t3 and ts - st.run_t3_since >= p.sustain_ms:
        tier, rule = 3, "gas.pressure:deviation_t3"
    if st.run_t2 and ts - st.run_t2_since >= p.sustain_ms:
        tier, rule = 2, "gas.pressure:deviation_t2"
    report_rule(
        prof, st, "gas.pressure", tier, AlertKind.GAS_PRESSURE_ANOMALY, rule, ts, v, tier_score(tier, abs(dev) / 0.3),
        lambda: f"pressure {v:.4g} MPa, {dev:+.1%} from set point {sp:.4g} MPa", out,
    )  # fmt: skip


def _sudden_drop(
    prof: SensorProfile[GasPressureParams], st: SensorState, ts: int, v: float, out: list[Finding]
) -> None:
    """A drop below the highest reading of the look-back: > drop_t3 → T3, > drop_t1 → T1, after ``persistence``
    reports; held until the pressure is back within half of drop_t3 of that level, or for ``hold_ms`` at most
    (then the lower level is the new normal). Family ``gas.pressure.drop``: with a flow surge or methane in
    the group it makes a rupture (:mod:`.correlation`)."""
    p = prof.p
    if isnan(st.step_level):
        before = recent_before(st, ts, p.lookback_ms)
        if not before.size or v >= (1.0 - p.drop_t3) * float(before.max()):
            if "gas.pressure.drop" in st.emitted:
                report(prof, st, "gas.pressure.drop", 0, AlertKind.GAS_PRESSURE_ANOMALY, "", ts, v, 0.0,
                       lambda: f"pressure {v:.4g} MPa recovered", out)  # fmt: skip
            return
        st.step_level, st.step_ts = float(before.max()), ts
    elif v >= (1.0 - 0.5 * p.drop_t3) * st.step_level or ts - st.step_ts > p.hold_ms:
        st.step_level, st.step_ts = float("nan"), -1
    ref = st.step_level
    tier, rule, drop = 0, "", 0.0
    if not isnan(ref):
        drop = 1.0 - v / ref
        times = st.ring[0, : st.ring_count]
        reports = 1 + int(np.count_nonzero(times >= st.step_ts))  # this reading and those since the drop
        if reports >= prof.persistence:
            tier, rule = 3, "gas.pressure.drop:sudden_t3"
            if drop > p.drop_t1:
                tier, rule = 1, "gas.pressure.drop:sudden_t1"
    report_rule(
        prof, st, "gas.pressure.drop", tier, AlertKind.GAS_PRESSURE_ANOMALY, rule, ts, v, tier_score(tier, drop / 0.3),
        lambda: f"pressure {v:.4g} MPa, a sudden drop of {drop:.0%} from {ref:.4g} MPa (T3 >{p.drop_t3:.0%}, "
        f"T1 >{p.drop_t1:.0%})",
        out,
    )  # fmt: skip


def _time_of_day(
    prof: SensorProfile[GasPressureParams], st: SensorState, ts: int, v: float, band: tuple[float, float] | None,
    out: list[Finding],
) -> None:  # fmt: skip
    """More than ``tod_sigma`` σ from the time-of-day profile for ``tod_sustain_ms`` → T3 (family
    ``gas.pressure.tod``). An excursion begins at the first reading beyond the band and ends after
    :data:`_TOD_END_READINGS` readings in a row back inside it."""
    p = prof.p
    aux = st.aux
    assert aux is not None
    z = math.nan if band is None else (v - band[0]) / band[1]
    if abs(z) > p.tod_sigma:
        if isnan(aux[_TOD_SINCE]):
            aux[_TOD_SINCE] = ts
        aux[_TOD_INSIDE] = 0.0
    elif not isnan(aux[_TOD_SINCE]):
        inside = (0.0 if isnan(aux[_TOD_INSIDE]) else aux[_TOD_INSIDE]) + 1.0
        aux[_TOD_SINCE], aux[_TOD_INSIDE] = (math.nan, 0.0) if isnan(z) or inside >= _TOD_END_READINGS else (
            aux[_TOD_SINCE], inside)  # fmt: skip
    since = aux[_TOD_SINCE]
    lasted = 0.0 if isnan(since) else ts - since
    tier = 3 if lasted >= p.tod_sustain_ms else 0
    if tier == 0 and "gas.pressure.tod" not in st.emitted:
        return
    mean, sigma = band if band is not None else (math.nan, math.nan)
    report_rule(
        prof, st, "gas.pressure.tod", tier, AlertKind.GAS_PRESSURE_ANOMALY, "gas.pressure.tod:beyond_3sigma", ts, v,
        tier_score(tier), lambda: (
            f"pressure {v:.4g} MPa, {z:+.1f}σ from its time-of-day profile {mean:.4g} ± {sigma:.2g} MPa "
            f"(local hour {profile_hour(ts, p.utc_offset_h):02d}), beyond {p.tod_sigma:g}σ for {lasted / 60000:.0f} min"
        ), out,
    )  # fmt: skip


def profile_hour(ts: int, utc_offset_h: float) -> int:
    """The local hour of an event time (the profile slot)."""
    return int(((ts + round(utc_offset_h * 3_600_000)) // 3_600_000) % 24)


@dataclass(frozen=True, slots=True)
class GasFlowParams(StepParams):
    """Station flow: the relative step rise that counts as a surge, and its time-of-day profile."""

    surge: float
    tod_sigma: float
    tod_min_days: float
    utc_offset_h: float


def _flow_params(spec: SensorSpec, cfg: RulesConfig) -> GasFlowParams:
    return GasFlowParams(
        surge=threshold(spec, "surge", cfg.gas.flow_surge),
        lookback_ms=lookback_ms(spec, cfg.water.step_lookback_s),
        hold_ms=step_hold_ms(cfg),
        tod_sigma=cfg.gas.tod_sigma,
        tod_min_days=cfg.gas.tod_min_days,
        utc_offset_h=cfg.local_utc_offset_h,
    )


def _gas_flow(prof: SensorProfile[GasFlowParams], st: SensorState, ts: int, v: float, out: list[Finding]) -> None:
    """A step rise ≥ ``surge`` over the mean of the look-back. Once the station's time-of-day profile judges
    (3 days), a rise the profile explains (within ``surge`` and ``tod_sigma`` σ of what this hour's demand
    brings) raises nothing, and one beyond it is a T3 (rule ``gas.flow.surge:beyond_profile``); before that, the
    rise cannot be told from a cooking peak and only corroborates a pressure drop (rule
    ``gas.flow.surge:step_rise``, no alert of its own: :mod:`.correlation`)."""
    p = prof.p
    profile = time_of_day_profile(prof, st, p.tod_min_days, p.utc_offset_h)
    band = profile.expected(ts, blend=False)  # this hour's own demand: a load may switch on at a given hour
    profile.observe(ts, v)
    if isnan(st.step_level):
        lvl = st.level
        if isnan(lvl) or v < (1.0 + 0.8 * p.surge) * lvl:
            if "gas.flow.surge" in st.emitted:
                report(prof, st, "gas.flow.surge", 0, AlertKind.GAS_PRESSURE_ANOMALY, "", ts, v, 0.0, lambda: "", out)
            return
        before = recent_before(st, ts, p.lookback_ms)
        if before.size and v >= (1.0 + p.surge) * float(before.mean()):
            st.step_level, st.step_ts = float(before.mean()), ts
    elif v < (1.0 + 0.5 * p.surge) * st.step_level or ts - st.step_ts > p.hold_ms:
        st.step_level, st.step_ts = float("nan"), -1
    on = not isnan(st.step_level)
    explained = False
    if on and band is not None:
        mean, sigma = band
        explained = v <= mean + max(p.tod_sigma * sigma, p.surge * mean)
    persist(st, 3 if on and not explained else 0, ts)
    tier = 3 if st.run_t3 >= prof.persistence else 0
    rule = "gas.flow.surge:step_rise" if band is None else "gas.flow.surge:beyond_profile"
    ref = st.step_level
    report_rule(
        prof,
        st,
        "gas.flow.surge",
        tier,
        AlertKind.GAS_PRESSURE_ANOMALY,
        rule,
        ts,
        v,
        0.4,
        lambda: (
            f"station flow {v:.4g} Nm3/h, a step rise over {ref:.4g} Nm3/h"
            + (
                f" beyond its time-of-day profile {band[0]:.4g} ± {band[1]:.2g} Nm3/h"
                if band is not None
                else " (no demand profile yet: corroborates a pressure drop only)"
            )
        ),
        out,
    )


# -- cover tilt --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CoverTiltParams(RuleParams):
    """Manhole cover tilt bounds in degrees (no tier 1: a displaced cover is at worst tier 2). On a main
    road (registry ``thresholds`` ``main_road=1``) a tilt above ``t3`` for ``main_road_reports`` is tier 2."""

    t3: float
    t2: float
    main_road: bool = False
    main_road_reports: int = 2


def _tilt_params(spec: SensorSpec, cfg: RulesConfig) -> CoverTiltParams:
    upper = spec.thresholds.get("t2", spec.thresholds.get("t1", cfg.gas.cover_tilt_t2_deg))
    return CoverTiltParams(
        t3=threshold(spec, "t3", cfg.gas.cover_tilt_t3_deg),
        t2=float(upper),
        main_road=threshold(spec, "main_road", 0.0) > 0.0,
        main_road_reports=cfg.gas.cover_main_road_t2_reports,
    )


def _cover_tilt(prof: SensorProfile[CoverTiltParams], st: SensorState, ts: int, v: float, out: list[Finding]) -> None:
    p = prof.p
    if v <= p.t3 and st.run_t3 == 0 and "gas.cover" not in st.emitted:
        return
    level = 2 if v > p.t2 else 3 if v > p.t3 else 0
    persist(st, level, ts)
    tier = 2 if st.run_t2 >= prof.persistence else 3 if st.run_t3 >= 1 else 0
    rule = f"gas.cover:tilt_t{tier}"
    if tier == 3 and p.main_road and st.run_t3 >= p.main_road_reports:
        tier, rule = 2, "gas.cover:main_road_t2"  # a tilted cover in main-road traffic
    road = f"; main road: T2 after {p.main_road_reports} reports >{p.t3:g}°" if p.main_road else ""
    report_rule(
        prof,
        st,
        "gas.cover",
        tier,
        AlertKind.COVER_DISPLACED,
        rule,
        ts,
        v,
        tier_score(tier),
        lambda: f"manhole cover tilted {v:.1f}° (T3 >{p.t3:g}°, T2 >{p.t2:g}°{road})",
        out,
    )


RULES: dict[SensorKind, KindRule[Any]] = {
    SensorKind.CH4_LEL: KindRule(_ch4, _ch4_params),
    SensorKind.GAS_PRESSURE: KindRule(_gas_pressure, _pressure_params, aux_size=_PRESSURE_AUX),
    SensorKind.GAS_FLOW: KindRule(_gas_flow, _flow_params, aux_size=_FLOW_AUX),
    SensorKind.COVER_TILT: KindRule(_cover_tilt, _tilt_params),
}
