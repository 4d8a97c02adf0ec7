"""Graded rules for bridges (docs/domain.md#bridges and #rules-added-2026-12-03).

* Strain / deflection: the thermal part is removed with a time-varying mean (EW, ``thermal_tau_s``;
  during a load event it follows only at ``frozen_tau_s``). The remainder is compared with the design
  live-load effect (strain: ``design_value`` µε; deflection: ``design_value`` mm = L/600, or
  ``span_m`` × 1000 / 600): ≥70 / 85 / 100 % → T3 / T2 / T1 (``t3``/``t2``/``t1`` override the ratios),
  held for ``persistence`` reports and ``load_min_duration_s`` (a truck passes in seconds).
  Kind ``bridge_overload``. The remainder also holds the day's usual traffic, so the ratio is the load
  *beyond* normal traffic (slightly conservative).
* Deflection creep: the 28-day mean against the same 28 days a year earlier, ≥1 / 3 / 5 mm per year →
  T3 / T2 / T1 (needs a year of history).
* Acceleration (10-min RMS): ≥ ``t2`` (0.5 m/s²) held → T2 structural anomaly; above the 99.9 % quantile
  of the sensor's RMS history for 2 reports → T3. A raw channel is judged on its 1-s running RMS, and one
  sample ≥ 2 m/s² and ≥ 5 × the RMS before it is an impact → T1.
* Crack width: ≥0.8 / 1.0 / 1.5 × the limit (``design_value``, default 0.2 mm; or absolute
  ``t3``/``t2``/``t1`` in mm); growth of the daily mean over 7 days ≥0.01 / 0.03 mm per day → T3 / T2.
* Bearing displacement: residual from the bearing's own daily thermal cycle (hourly profile of the
  previous days, interpolated; a stand-in for the temperature regression, since the temperature is
  another sensor's stream): absolute ``residual_t3_mm``… thresholds if set, else 2σ / 3σ / 5σ of the
  residual. Needs one day of history.
* Modal frequency: drop from the baseline (``design_value`` Hz, else learned) ≥5 / 10 / 15 %.
* Pier tilt: change from the baseline (``design_value``, else learned) >0.05° / 0.1° / 0.2°.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from math import isnan
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from lifeline.models import AlertKind, SensorKind, SensorSpec

from .config import RulesConfig, threshold, tier_thresholds
from .faults import report_rule
from .results import Finding
from .rulebase import (
    AUX_KIND,
    KindRule,
    RuleFn,
    RuleParams,
    SensorProfile,
    TierParams,
    persist,
    persistent_tier,
    report,
    tier_score,
)  # fmt: skip
from .state import SensorState

__all__ = ["RULES", "AccelerationParams", "BearingParams", "CrackParams", "LearnedTierParams", "LiveLoadParams"]

_H_MS = 3_600_000


def _level(x: float, t3: float, t2: float, t1: float) -> int:
    return 1 if x >= t1 else 2 if x >= t2 else 3 if x >= t3 else 0


# -- live load: strain and deflection ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiveLoadParams(TierParams):
    """Strain / deflection: the design live-load effect, the ratio bounds and the thermal-mean clocks."""

    design: float
    tau_ms: float
    frozen_tau_ms: float
    min_ms: float


LL = TypeVar("LL", bound=LiveLoadParams)


def _load_params(spec: SensorSpec, cfg: RulesConfig) -> LiveLoadParams:
    b = cfg.bridge
    if spec.kind is SensorKind.DEFLECTION and not spec.design_value and "span_m" in spec.thresholds:
        design = spec.thresholds["span_m"] * 1000.0 / b.deflection_span_divisor
    else:
        design = spec.design_value or threshold(spec, "design_live", math.nan)
    return LiveLoadParams(
        design=design,
        **tier_thresholds(spec, b.live_ratio_t3, b.live_ratio_t2, b.live_ratio_t1),
        tau_ms=b.thermal_tau_s * 1000.0,
        frozen_tau_ms=b.frozen_tau_s * 1000.0,
        min_ms=b.load_min_duration_s * 1000.0,
    )


def _live_load(prof: SensorProfile[LL], st: SensorState, ts: int, v: float, out: list[Finding]) -> None:
    p = prof.p
    design = p.design
    base = st.baseline
    if isnan(base) or isnan(design) or design <= 0:
        st.baseline, st.baseline_ts = v, ts
        return
    ratio = (v - base) / design
    loaded = ratio >= 0.25 * p.t3 / 0.7
    tau = p.frozen_tau_ms if loaded else p.tau_ms
    st.baseline = base + (v - base) * (1.0 - math.exp(-(ts - st.baseline_ts) / tau))
    st.baseline_ts = ts
    if ratio < p.t3 and st.run_t3 == 0:
        if "bridge.load" in st.emitted:
            report(prof, st, "bridge.load", 0, AlertKind.BRIDGE_OVERLOAD, "", ts, v, 0.0, lambda: "load gone", out)
        return
    persist(st, _level(ratio, p.t3, p.t2, p.t1), ts)
    tier = persistent_tier(prof, st, ts, p.min_ms)
    if tier and tier < 3 and st.equal_run > 0:  # identical readings: a stuck sensor is no evidence
        tier = 3
    what = "strain" if prof.kind is SensorKind.STRAIN else "deflection"
    unit = prof.spec.unit
    report_rule(
        prof,
        st,
        "bridge.load",
        tier,
        AlertKind.BRIDGE_OVERLOAD,
        f"bridge.{what}.live_ratio:t{tier}",
        ts,
        v,
        tier_score(tier, ratio),
        lambda: (
            f"temperature-compensated live {what} {v - base:.1f} {unit} = {ratio:.0%} of the design live-load "
            f"effect {design:g} {unit} (T3 ≥{p.t3:.0%}, T2 ≥{p.t2:.0%}, T1 ≥{p.t1:.0%})"
        ),
        out,
    )


# -- acceleration, crack, frequency, tilt: level against a bound ----------------------------------------


@dataclass(frozen=True, slots=True)
class AccelerationParams(RuleParams):
    """Deck acceleration: the RMS bound (m/s²) of the tier-2 comfort rule; for a raw channel (samples
    faster than 1 s) the time constant (ms) of the running RMS its samples are folded into, else 0; the
    T3 quantile rule (RMS channels) and the T1 impact signature (raw channels)."""

    t2: float
    rms_tau_ms: float = 0.0
    quantile: float = 0.999
    quantile_min_samples: int = 1008
    quantile_max_samples: int = 8640
    impact_peak: float = 2.0
    impact_crest: float = 5.0


#: a raw accelerometer's samples are compared as a running RMS with this time constant (a comfort limit
#: is an RMS, never a single sample of a truck's ringing)
RAW_RMS_TAU_S = 1.0

#: the RMS history of the quantile rule: ``ACC_BINS`` counts of |RMS| on a log scale, ten bins a decade
#: from ``ACC_LOW`` m/s² (bin 0 also holds everything lower, the last bin everything higher), then the total
ACC_BINS = 40
ACC_LOW = 1e-3
_ACC_TOTAL = AUX_KIND + ACC_BINS


def _acc_params(spec: SensorSpec, cfg: RulesConfig) -> AccelerationParams:
    b = cfg.bridge
    raw = spec.interval_s < 1.0
    return AccelerationParams(
        t2=threshold(spec, "t2", 0.5),
        rms_tau_ms=RAW_RMS_TAU_S * 1000.0 if raw else 0.0,
        quantile=b.acc_quantile,
        quantile_min_samples=b.acc_quantile_min_samples,
        quantile_max_samples=b.acc_quantile_max_samples,
        impact_peak=threshold(spec, "impact_peak", b.acc_impact_peak),
        impact_crest=b.acc_impact_crest,
    )


def _running_rms(st: SensorState, ts: int, v: float, tau_ms: float) -> float:
    """The raw channel's running RMS (EW mean square in ``baseline``), started from the ring's samples."""
    mean_square = st.baseline
    if isnan(mean_square) or st.baseline_ts < 0 or ts - st.baseline_ts > tau_ms:
        _, recent = st.recent()
        recent = recent[np.isfinite(recent)]
        mean_square = float(np.mean(recent * recent)) if recent.size else v * v
    else:
        mean_square += (v * v - mean_square) * (1.0 - math.exp(-(ts - st.baseline_ts) / tau_ms))
    st.baseline, st.baseline_ts = mean_square, ts
    return math.sqrt(mean_square)


def _rms_before(st: SensorState, ts: int, tau_ms: float) -> float:
    """The running RMS before this sample (the EW mean square if fresh, else the ring's samples); NaN if none."""
    if not isnan(st.baseline) and st.baseline_ts >= 0 and ts - st.baseline_ts <= tau_ms:
        return math.sqrt(st.baseline)
    _, recent = st.recent()
    recent = recent[np.isfinite(recent)]
    return float(np.sqrt(np.mean(recent * recent))) if recent.size else math.nan


def acc_bin(rms: float) -> int:
    """The history bin of an RMS value: ten log bins a decade from ``ACC_LOW``, clipped to the ends.

    >>> acc_bin(0.0005), acc_bin(0.05), acc_bin(1000.0)
    (0, 16, 39)
    """
    if rms <= ACC_LOW:
        return 0
    return min(ACC_BINS - 1, math.floor(10.0 * math.log10(rms / ACC_LOW)))


def acc_quantile_bound(aux: npt.NDArray[np.float64], quantile: float) -> float:
    """The upper edge (m/s²) of the bin that holds the ``quantile`` of the RMS history (inf if the top bin)."""
    counts = aux[AUX_KIND:_ACC_TOTAL]
    k = int(np.searchsorted(np.cumsum(counts), quantile * aux[_ACC_TOTAL]))
    return math.inf if k >= ACC_BINS - 1 else ACC_LOW * 10.0 ** ((k + 1) / 10.0)


def _learn_rms(p: AccelerationParams, aux: npt.NDArray[np.float64], rms: float) -> None:
    """Count one normal RMS report into the history; halve the counts at ``quantile_max_samples``."""
    aux[AUX_KIND + acc_bin(rms)] += 1.0
    aux[_ACC_TOTAL] += 1.0
    if aux[_ACC_TOTAL] >= p.quantile_max_samples:
        aux[AUX_KIND : _ACC_TOTAL + 1] *= 0.5


def _acceleration_quiet(
    prof: SensorProfile[AccelerationParams], st: SensorState, values: npt.NDArray[np.float64]
) -> bool:
    if prof.p.rms_tau_ms == 0.0:  # an RMS channel learns its history from every report
        return False
    return (
        st.run_t2 == 0
        and "bridge.acc" not in st.emitted
        and "bridge.impact" not in st.emitted
        and float(np.abs(values).max()) < prof.p.t2
    )


def _impact(prof: SensorProfile[AccelerationParams], st: SensorState, ts: int, v: float, out: list[Finding]) -> None:
    """T1 impact signature of a raw channel: one sample ≥ ``impact_peak`` and ≥ ``impact_crest`` × the RMS
    before it. A blow is a moment: the finding is reported once and forgotten (no end finding) when older
    than the alert's quiet period, as a spike is."""
    p = prof.p
    previous = st.emitted.get("bridge.impact")
    if previous is not None and ts - previous[1] >= max(prof.quiet_ms, prof.refresh_ms):
        del st.emitted["bridge.impact"]
    if abs(v) < p.impact_peak:
        return
    before = _rms_before(st, ts, p.rms_tau_ms)
    crest = abs(v) / before if before > 0 else math.inf
    if isnan(before) or crest < p.impact_crest:
        return
    report_rule(
        prof,
        st,
        "bridge.impact",
        1,
        AlertKind.STRUCTURAL_ANOMALY,
        "bridge.acceleration:impact_t1",
        ts,
        v,
        tier_score(1),
        lambda: (
            f"impact: deck acceleration sample {v:+.2f} m/s² (≥ {p.impact_peak:g}) = {crest:.1f} × the running RMS "
            f"{before:.3f} m/s² before it (≥ {p.impact_crest:g} ×)"
        ),
        out,
    )


def _acceleration(
    prof: SensorProfile[AccelerationParams], st: SensorState, ts: int, v: float, out: list[Finding]
) -> None:
    p = prof.p
    t2 = p.t2
    bound = math.inf
    if p.rms_tau_ms > 0.0:
        _impact(prof, st, ts, v, out)
        v = _running_rms(st, ts, v, p.rms_tau_ms)
    else:
        aux = st.aux
        assert aux is not None
        if isnan(aux[_ACC_TOTAL]):
            aux[AUX_KIND : _ACC_TOTAL + 1] = 0.0
        if aux[_ACC_TOTAL] >= p.quantile_min_samples:
            bound = acc_quantile_bound(aux, p.quantile)
    level = 2 if abs(v) >= t2 else 3 if abs(v) > bound else 0
    if p.rms_tau_ms == 0.0 and (level == 0 or (level == 3 and st.run_t3 == 0)):
        assert st.aux is not None  # normal reports and single excursions are history; a sustained rise is not
        _learn_rms(p, st.aux, abs(v))
    if level == 0 and st.run_t3 == 0:
        if "bridge.acc" in st.emitted:
            report(prof, st, "bridge.acc", 0, AlertKind.STRUCTURAL_ANOMALY, "", ts, v, 0.0, lambda: "calm", out)
        return
    persist(st, level, ts)
    tier = persistent_tier(prof, st, ts)
    rule = "bridge.acceleration:comfort_t2" if tier == 2 else "bridge.acceleration:quantile_t3"
    report_rule(
        prof,
        st,
        "bridge.acc",
        tier,
        AlertKind.STRUCTURAL_ANOMALY,
        rule,
        ts,
        v,
        tier_score(tier),
        lambda: (
            f"deck acceleration RMS {v:.3f} m/s² ≥ {t2:g} m/s² sustained"
            if tier == 2
            else f"deck acceleration RMS {v:.3f} m/s² above the {p.quantile:.1%} quantile {bound:.3g} m/s² "
            "of its history"
        ),
        out,
    )


@dataclass(frozen=True, slots=True)
class CrackParams(TierParams):
    """Crack width: absolute bounds in mm derived from the limit (``design_value``), and the growth rule:
    the change of the daily mean width over ``growth_days`` days, per day, ≥ ``growth_t3`` / ``growth_t2``."""

    limit: float
    growth_t3: float = 0.01
    growth_t2: float = 0.03
    growth_days: int = 7


#: the longest growth span the crack state keeps daily means for (``crack_growth_days`` is clipped to it)
CRACK_MAX_DAYS = 30


def _crack_params(spec: SensorSpec, cfg: RulesConfig) -> CrackParams:
    b = cfg.bridge
    limit = spec.design_value or b.crack_limit_mm
    rate = threshold(spec, "growth_mm_per_day", b.crack_growth_mm_per_day)
    return CrackParams(
        **tier_thresholds(spec, b.crack_ratio_t3 * limit, b.crack_ratio_t2 * limit, b.crack_ratio_t1 * limit),
        limit=limit,
        growth_t3=rate,
        growth_t2=rate * b.crack_growth_t2_factor,
        growth_days=min(max(1, b.crack_growth_days), CRACK_MAX_DAYS),
    )


@dataclass(frozen=True, slots=True)
class LearnedTierParams(TierParams):
    """Bounds on the change from a baseline that is ``design_value`` or learned over ``learn`` samples."""

    learn: int


def _learned_tier_params(spec: SensorSpec, t3: float, t2: float, t1: float, learn: int) -> LearnedTierParams:
    """The parameters of a rule on the change from a learned baseline (modal frequency, pier tilt)."""
    return LearnedTierParams(**tier_thresholds(spec, t3, t2, t1), learn=learn)


T = TypeVar("T", bound=TierParams)
Measure = Callable[[SensorProfile[T], SensorState, int, float], float]


def _bounded(
    family: str, rule: str, what: str, kind: AlertKind = AlertKind.STRUCTURAL_ANOMALY
) -> Callable[[Measure[T]], RuleFn[T]]:
    """A rule 'measure ≥ t3/t2/t1' where the measure is computed by ``measure(prof, st, ts, v)``."""

    def make(measure: Measure[T]) -> RuleFn[T]:
        def fn(prof: SensorProfile[T], st: SensorState, ts: int, v: float, out: list[Finding]) -> None:
            p = prof.p
            x = measure(prof, st, ts, v)
            if isnan(x):
                return
            if x < p.t3 and st.run_t3 == 0:
                if family in st.emitted:
                    report(prof, st, family, 0, kind, "", ts, v, 0.0, lambda: "back to normal", out)
                return
            persist(st, _level(x, p.t3, p.t2, p.t1), ts)
            tier = persistent_tier(prof, st, ts)
            report_rule(
                prof,
                st,
                family,
                tier,
                kind,
                f"{rule}:t{tier}",
                ts,
                v,
                tier_score(tier, x / p.t1),
                lambda: (
                    f"{what} {x:.4g} (T3 ≥{p.t3:.4g}, T2 ≥{p.t2:.4g}, T1 ≥{p.t1:.4g}); reading {v:.4g} {prof.spec.unit}"
                ),
                out,
            )

        return fn

    return make


def _learned_baseline(st: SensorState, v: float, design: float | None, learn: int) -> float:
    if design is not None:
        return design
    if st.baseline_n < learn:
        st.baseline = v if st.baseline_n == 0 else st.baseline + (v - st.baseline) / (st.baseline_n + 1)
        st.baseline_n += 1
        return math.nan
    return st.baseline


def _freq_params(spec: SensorSpec, cfg: RulesConfig) -> LearnedTierParams:
    b = cfg.bridge
    return _learned_tier_params(spec, b.freq_drop_t3, b.freq_drop_t2, b.freq_drop_t1, b.freq_learn_samples)


@_bounded("bridge.frequency", "bridge.modal_frequency.drop", "modal frequency drop from baseline (fraction)")
def _frequency(prof: SensorProfile[LearnedTierParams], st: SensorState, ts: int, v: float) -> float:
    base = _learned_baseline(st, v, prof.spec.design_value, prof.p.learn)
    return (base - v) / base if not isnan(base) and base > 0 else math.nan


def _tilt_params(spec: SensorSpec, cfg: RulesConfig) -> LearnedTierParams:
    b = cfg.bridge
    return _learned_tier_params(spec, b.tilt_t3_deg, b.tilt_t2_deg, b.tilt_t1_deg, b.tilt_learn_samples)


@_bounded("bridge.tilt", "bridge.pier_tilt.change", "pier tilt change from baseline (deg)")
def _pier_tilt(prof: SensorProfile[LearnedTierParams], st: SensorState, ts: int, v: float) -> float:
    base = _learned_baseline(st, v, prof.spec.design_value, prof.p.learn)
    return abs(v - base) if not isnan(base) else math.nan


# -- slow trends: crack growth and deflection creep (period means in aux) ---------------------------------

_D_MS = 86_400_000
#: aux from the kind's first slot: period number, its sum and count, the change measured when the last period
#: closed, then a ring of period means (slot = period number mod the ring length)
_P_PERIOD, _P_SUM, _P_N, _P_CHANGE, _P_MEANS = range(5)


def _period_change(aux: npt.NDArray[np.float64], at: int, period: int, v: float, span: int, ring: int) -> bool:
    """Add ``v`` to the open period (number ``period``) of the means kept from ``aux[at]``; when a period
    closes, store its mean and the change against the mean ``span`` periods earlier (NaN if unknown) in
    ``aux[at + _P_CHANGE]``. ``True`` when a period closed (the change was re-measured)."""
    closed = False
    if aux[at + _P_PERIOD] != period:
        if not isnan(aux[at + _P_PERIOD]) and aux[at + _P_N] > 0:
            done = int(aux[at + _P_PERIOD])
            mean = aux[at + _P_SUM] / aux[at + _P_N]
            earlier = aux[at + _P_MEANS + (done - span) % ring]
            aux[at + _P_CHANGE] = mean - earlier  # NaN while the earlier period is unknown
            for gap in range(done + 1, period):  # periods without readings are unknown
                aux[at + _P_MEANS + gap % ring] = math.nan
            aux[at + _P_MEANS + done % ring] = mean
            closed = True
        aux[at + _P_PERIOD], aux[at + _P_SUM], aux[at + _P_N] = period, 0.0, 0.0
    aux[at + _P_SUM] += v
    aux[at + _P_N] += 1
    return closed


def _trend_report(
    prof: SensorProfile[Any], st: SensorState, family: str, rule: str, ts: int, v: float, x: float,
    bounds: tuple[float, float, float], what: Callable[[int], str], out: list[Finding],
) -> None:  # fmt: skip
    """Report the tier of a slow trend ``x`` against ``bounds`` (T3, T2, T1) from its last measurement on."""
    tier = 0 if isnan(x) else _level(x, *bounds)
    if tier == 0 and family not in st.emitted:
        return
    score = tier_score(tier, x / bounds[2]) if tier else 0.0
    kind = AlertKind.STRUCTURAL_ANOMALY
    report_rule(prof, st, family, tier, kind, f"{rule}:t{tier}", ts, v, score, lambda: what(tier), out)


_CRACK_AT = AUX_KIND


@_bounded("bridge.crack", "bridge.crack_width", "crack width mm")
def _crack_width(prof: SensorProfile[CrackParams], st: SensorState, ts: int, v: float) -> float:
    return v


def _crack(prof: SensorProfile[CrackParams], st: SensorState, ts: int, v: float, out: list[Finding]) -> None:
    """Crack width against the limit, then its growth rate: the change of the daily mean (UTC days; the
    daily temperature ripple averages out) over ``growth_days`` days, per day. Tier 3 / 2, no tier 1."""
    _crack_width(prof, st, ts, v, out)
    aux = st.aux
    assert aux is not None
    p = prof.p
    _period_change(aux, _CRACK_AT, ts // _D_MS, v, p.growth_days, CRACK_MAX_DAYS + 1)
    rate = aux[_CRACK_AT + _P_CHANGE] / p.growth_days
    _trend_report(
        prof, st, "bridge.crack_growth", "bridge.crack_width.growth", ts, v, rate,
        (p.growth_t3, p.growth_t2, math.inf),
        lambda tier: (
            f"crack width grew {rate * p.growth_days:+.4f} mm in {p.growth_days} days (daily means) = "
            f"{rate:.4f} mm/day (T3 ≥{p.growth_t3:g}, T2 ≥{p.growth_t2:g} mm/day)"
        ),
        out,
    )  # fmt: skip


# the creep means: 13 periods of 28 days = one year of 364 days
_CREEP_DAYS = 28
_CREEP_PERIODS = 13
_CREEP_AT = AUX_KIND


@dataclass(frozen=True, slots=True)
class DeflectionParams(LiveLoadParams):
    """Deflection: the live-load rule, and the creep bounds (mm per year) on the year-over-year change of
    the 28-day mean deflection."""

    creep_t3: float = 1.0
    creep_t2: float = 3.0
    creep_t1: float = 5.0


def _deflection_params(spec: SensorSpec, cfg: RulesConfig) -> DeflectionParams:
    b = cfg.bridge
    load = _load_params(spec, cfg)
    return DeflectionParams(
        design=load.design, t3=load.t3, t2=load.t2, t1=load.t1, tau_ms=load.tau_ms,
        frozen_tau_ms=load.frozen_tau_ms, min_ms=load.min_ms,
        creep_t3=threshold(spec, "creep_t3_mm_per_year", b.creep_t3_mm_per_year),
        creep_t2=threshold(spec, "creep_t2_mm_per_year", b.creep_t2_mm_per_year),
        creep_t1=threshold(spec, "creep_t1_mm_per_year", b.creep_t1_mm_per_year),
    )  # fmt: skip


def _deflection(prof: SensorProfile[DeflectionParams], st: SensorState, ts: int, v: float, out: list[Finding]) -> None:
    """Live load, then creep: the 28-day mean deflection against the same 28 days a year (13 periods)
    earlier. Year over year, because the seasonal thermal camber (tenths of a mm per °C) would hide a
    creep of millimetres per year in any trend over days or weeks. Readings under a live-load condition
    stay out of the means. Needs a year of history."""
    loaded = st.run_t3 > 0
    _live_load(prof, st, ts, v, out)
    aux = st.aux
    assert aux is not None
    p = prof.p
    if not loaded and st.run_t3 == 0:
        _period_change(aux, _CREEP_AT, ts // (_CREEP_DAYS * _D_MS), v, _CREEP_PERIODS, _CREEP_PERIODS)
    creep = abs(aux[_CREEP_AT + _P_CHANGE]) * 365.0 / (_CREEP_DAYS * _CREEP_PERIODS)
    _trend_report(
        prof, st, "bridge.creep", "bridge.deflection.creep", ts, v, creep, (p.creep_t3, p.creep_t2, p.creep_t1),
        lambda tier: (
            f"deflection creep: the {_CREEP_DAYS}-day mean moved {aux[_CREEP_AT + _P_CHANGE]:+.2f} mm against the same "
            f"period a year earlier = {creep:.2f} mm/year (T3 ≥{p.creep_t3:g}, T2 ≥{p.creep_t2:g}, T1 ≥{p.creep_t1:g})"
        ),
        out,
    )  # fmt: skip


# -- bearing: residual from the daily thermal cycle ------------------------------------------------------

# aux after AUX_KIND: hour number, hour sum, hour count, residual scale (EW |r|), 24 hour-of-day means
_B_HOUR, _B_SUM, _B_N, _B_SCALE, _B_PROFILE = range(AUX_KIND, AUX_KIND + 5)


@dataclass(frozen=True, slots=True)
class BearingParams(TierParams):
    """Bearing residual bounds: in mm when ``absolute`` (all three set in the registry), else in σ."""

    absolute: bool


def _bearing_params(spec: SensorSpec, cfg: RulesConfig) -> BearingParams:
    b = cfg.bridge
    absolute = all(f"residual_t{k}_mm" in spec.thresholds for k in (1, 2, 3))
    return BearingParams(
        absolute=absolute,
        t3=spec.thresholds.get("residual_t3_mm", b.bearing_sigma_t3),
        t2=spec.thresholds.get("residual_t2_mm", b.bearing_sigma_t2),
        t1=spec.thresholds.get("residual_t1_mm", b.bearing_sigma_t1),
    )


def _predict(aux: npt.NDArray[np.float64], ts: int) -> float:
    position = (ts % 86_400_000) / _H_MS - 0.5
    lo = math.floor(position)
    frac = position - lo
    a = aux[_B_PROFILE + lo % 24]
    b = aux[_B_PROFILE + (lo + 1) % 24]
    return float(a + (b - a) * frac)


def _bearing(prof: SensorProfile[BearingParams], st: SensorState, ts: int, v: float, out: list[Finding]) -> None:
    aux = st.aux
    assert aux is not None
    p = prof.p
    hour = ts // _H_MS
    if aux[_B_HOUR] != hour:
        if aux[_B_HOUR] == aux[_B_HOUR] and aux[_B_N] > 0 and st.run_t3 == 0:
            slot = _B_PROFILE + int(aux[_B_HOUR]) % 24
            mean = aux[_B_SUM] / aux[_B_N]
            aux[slot] = mean if isnan(aux[slot]) else 0.5 * (aux[slot] + mean)
        aux[_B_HOUR], aux[_B_SUM], aux[_B_N] = hour, 0.0, 0.0
    aux[_B_SUM] += v
    aux[_B_N] += 1
    predicted = _predict(aux, ts)
    if isnan(predicted):
        return
    residual = v - predicted
    scale = aux[_B_SCALE]
    relative = abs(residual) / (1.25 * scale) if not isnan(scale) and scale > 0 else 0.0
    x = abs(residual) if p.absolute else relative
    if x < p.t3 and st.run_t3 == 0:
        aux[_B_SCALE] = abs(residual) if isnan(scale) else scale + (abs(residual) - scale) / 48.0
        if "bridge.bearing" in st.emitted:
            report(prof, st, "bridge.bearing", 0, AlertKind.STRUCTURAL_ANOMALY, "", ts, v, 0.0, lambda: "follows", out)
        return
    persist(st, _level(x, p.t3, p.t2, p.t1), ts)
    tier = persistent_tier(prof, st, ts)
    unit = "mm" if p.absolute else "σ"
    report_rule(
        prof,
        st,
        "bridge.bearing",
        tier,
        AlertKind.STRUCTURAL_ANOMALY,
        f"bridge.bearing.residual:t{tier}",
        ts,
        v,
        tier_score(tier, x / p.t1),
        lambda: (
            f"bearing displacement {v:.2f} mm vs {predicted:.2f} mm expected from its daily thermal cycle: "
            f"residual {residual:+.2f} mm = {x:.2f} {unit} (T3 ≥{p.t3:g}, T2 ≥{p.t2:g}, T1 ≥{p.t1:g} {unit})"
        ),
        out,
    )


RULES: dict[SensorKind, KindRule[Any]] = {
    SensorKind.STRAIN: KindRule(_live_load, _load_params),
    SensorKind.DEFLECTION: KindRule(_deflection, _deflection_params, aux_size=_P_MEANS + _CREEP_PERIODS),
    SensorKind.ACCELERATION: KindRule(_acceleration, _acc_params, aux_size=ACC_BINS + 1, quiet=_acceleration_quiet),
    SensorKind.CRACK_WIDTH: KindRule(_crack, _crack_params, aux_size=_P_MEANS + CRACK_MAX_DAYS + 1),
    SensorKind.MODAL_FREQUENCY: KindRule(_frequency, _freq_params),
    SensorKind.PIER_TILT: KindRule(_pier_tilt, _tilt_params),
    SensorKind.BEARING_DISPLACEMENT: KindRule(_bearing, _bearing_params, aux_size=4 + 24),
}
