"""Graded rules for bridges (docs/domain.md#bridges).

* Strain / deflection: the thermal part is removed with a time-varying mean (EW, ``thermal_tau_s``;
  during a load event it follows only at ``frozen_tau_s``). The remainder is compared with the design
  live-load effect (strain: ``design_value`` µε; deflection: ``design_value`` mm = L/600, or
  ``span_m`` × 1000 / 600): ≥70 / 85 / 100 % → T3 / T2 / T1 (``t3``/``t2``/``t1`` override the ratios),
  held for ``persistence`` reports and ``load_min_duration_s`` (a truck passes in seconds).
  Kind ``bridge_overload``. The remainder also holds the day's usual traffic, so the ratio is the load
  *beyond* normal traffic (slightly conservative).
* Acceleration (10-min RMS): ≥ ``t2`` (0.5 m/s²) held → T2 structural anomaly.
* Crack width: ≥0.8 / 1.0 / 1.5 × the limit (``design_value``, default 0.2 mm; or absolute
  ``t3``/``t2``/``t1`` in mm).
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


def _live_load(prof: SensorProfile[LiveLoadParams], st: SensorState, ts: int, v: float, out: list[Finding]) -> None:
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
    faster than 1 s) the time constant (ms) of the running RMS its samples are folded into, else 0."""

    t2: float
    rms_tau_ms: float = 0.0


#: a raw accelerometer's samples are compared as a running RMS with this time constant (a comfort limit
#: is an RMS, never a single sample of a truck's ringing)
RAW_RMS_TAU_S = 1.0


def _acc_params(spec: SensorSpec, cfg: RulesConfig) -> AccelerationParams:
    raw = spec.interval_s < 1.0
    return AccelerationParams(t2=threshold(spec, "t2", 0.5), rms_tau_ms=RAW_RMS_TAU_S * 1000.0 if raw else 0.0)


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


def _acceleration_quiet(
    prof: SensorProfile[AccelerationParams], st: SensorState, values: npt.NDArray[np.float64]
) -> bool:
    return st.run_t2 == 0 and "bridge.acc" not in st.emitted and float(np.abs(values).max()) < prof.p.t2


def _acceleration(
    prof: SensorProfile[AccelerationParams], st: SensorState, ts: int, v: float, out: list[Finding]
) -> None:
    t2 = prof.p.t2
    if prof.p.rms_tau_ms > 0.0:
        v = _running_rms(st, ts, v, prof.p.rms_tau_ms)
    if abs(v) < t2 and st.run_t2 == 0:
        if "bridge.acc" in st.emitted:
            report(prof, st, "bridge.acc", 0, AlertKind.STRUCTURAL_ANOMALY, "", ts, v, 0.0, lambda: "calm", out)
        return
    persist(st, 2 if abs(v) >= t2 else 0, ts)
    tier = persistent_tier(prof, st, ts)
    report_rule(
        prof,
        st,
        "bridge.acc",
        tier,
        AlertKind.STRUCTURAL_ANOMALY,
        "bridge.acceleration:comfort_t2",
        ts,
        v,
        tier_score(tier),
        lambda: f"deck acceleration RMS {v:.3f} m/s² ≥ {t2:g} m/s² sustained",
        out,
    )


@dataclass(frozen=True, slots=True)
class CrackParams(TierParams):
    """Crack width: absolute bounds in mm derived from the limit (``design_value``)."""

    limit: float


def _crack_params(spec: SensorSpec, cfg: RulesConfig) -> CrackParams:
    b = cfg.bridge
    limit = spec.design_value or b.crack_limit_mm
    return CrackParams(
        **tier_thresholds(spec, b.crack_ratio_t3 * limit, b.crack_ratio_t2 * limit, b.crack_ratio_t1 * limit),
        limit=limit,
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


@_bounded("bridge.crack", "bridge.crack_width", "crack width mm")
def _crack(prof: SensorProfile[CrackParams], st: SensorState, ts: int, v: float) -> float:
    return v


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
    SensorKind.DEFLECTION: KindRule(_live_load, _load_params),
    SensorKind.ACCELERATION: KindRule(_acceleration, _acc_params, quiet=_acceleration_quiet),
    SensorKind.CRACK_WIDTH: KindRule(_crack, _crack_params),
    SensorKind.MODAL_FREQUENCY: KindRule(_frequency, _freq_params),
    SensorKind.PIER_TILT: KindRule(_pier_tilt, _tilt_params),
    SensorKind.BEARING_DISPLACEMENT: KindRule(_bearing, _bearing_params, aux_size=4 + 24),
}
