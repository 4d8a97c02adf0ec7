"""Graded rules for drainage and urban waterlogging (docs/domain.md#drainage-and-waterlogging).

* Rain gauge (``rain``, mm/h): T3 ≥20 mm/h for ``persistence`` reports; T2 ≥50 mm accumulated over
  the last 6 h (CMA yellow) or 3 h (orange); T1 ≥100 mm over the last 3 h (red). Accumulation is
  intensity × reporting interval in 5-min buckets (at most 72 for 6 h).
* Road ponding (``ponding_depth``, cm): T3 ≥15, T2 ≥27, T1 ≥40 cm, or ≥25 cm and rising faster than
  5 cm per 5 min; every tier for ``persistence`` reports. Kind ``waterlogging``.
  A fast rise is one rate over 5 min: it counts for the rise sample and, when the level has not fallen
  back (a spike would), for the next sample too, so one real 5-min rise meets the persistence.
* Manhole level (``manhole_level``, m above invert): T3 at the pipe crown (``crown_m``, surcharge);
  T2 within 0.5 m of the ground (``design_value`` = ground depth, or ``t2_m``) or above the crown and
  rising >0.2 m per 5 min (held as for ponding); T1 within 0.1 m of the ground (``t1_m``, overflow).
  Kind ``overflow``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from math import isnan
from typing import Any

import numpy as np

from lifeline.models import AlertKind, SensorKind, SensorSpec

from .config import RulesConfig, threshold, tier_thresholds
from .faults import report_rule
from .gas import recent_before
from .results import Finding
from .rulebase import (
    AUX_KIND,
    KindRule,
    RuleParams,
    SensorProfile,
    TierParams,
    persist,
    persistent_tier,
    report,
    tier_score,
)  # fmt: skip
from .state import SensorState

__all__ = ["RULES", "ManholeParams", "PondingParams", "RainParams", "rise_per_5min"]

#: 5-min buckets of the 6-h rain window (the 3-h window is the newer half)
_RAIN_SLOTS = 72
_FIVE_MIN_MS = 300_000.0


def rise_per_5min(st: SensorState, ts: int, v: float, interval_ms: float) -> float:
    """Rate of rise scaled to 5 minutes, against the oldest reading of the last ~5 min (≥1 interval)."""
    return _rise_and_ref(st, ts, v, interval_ms)[0]


def _rise_and_ref(st: SensorState, ts: int, v: float, interval_ms: float) -> tuple[float, float]:
    """(rate of rise per 5 min, the reading it is measured from); (0, v) when there is none."""
    lookback = max(_FIVE_MIN_MS, 1.01 * interval_ms)
    before = recent_before(st, ts, lookback)
    if before.size == 0:
        return 0.0, v
    n = st.ring_count
    times = st.ring[0, :n] if n < st.ring.shape[1] else st.ring[0]
    window = (times >= ts - lookback) & (times < ts)
    oldest = int(np.argmin(np.where(window, times, np.inf)))
    dt = ts - float(times[oldest])
    ref = float(st.ring[1, oldest])
    return ((v - ref) * _FIVE_MIN_MS / dt if dt > 0 else 0.0), ref


def _fast_rise(
    st: SensorState, ts: int, v: float, interval_ms: float, floor: float, limit: float
) -> tuple[bool, float]:
    """Whether the level (at least ``floor``) rose faster than ``limit`` per 5 min now, or did so at the
    previous sample and has not fallen back below the midpoint of that rise (a spike falls back).
    Returns (fast or held, the rise now). Uses ``step_ref`` / ``step_t`` for the pending rise."""
    rise, ref = _rise_and_ref(st, ts, v, interval_ms) if v >= floor else (0.0, v)
    held = st.step_ts >= 0 and v >= st.step_level and ts - st.step_ts <= 1.5 * max(interval_ms, _FIVE_MIN_MS)
    if v >= floor and rise > limit:
        st.step_level, st.step_ts = 0.5 * (v + ref), ts
        return True, rise
    st.step_level, st.step_ts = math.nan, -1
    return held and v >= floor, rise


# -- rain ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RainParams(TierParams):
    """Rain gauge: ``t3`` in mm/h, ``t2``/``t1`` in mm over 3 h, ``t2_6h`` over 6 h; the bucket layout."""

    t2_6h: float
    #: length of one accumulation bucket (at least 5 min, at least one reporting interval)
    bucket_ms: int
    #: buckets in 3 h (the ring holds twice as many, for 6 h)
    slots: int


def _rain_params(spec: SensorSpec, cfg: RulesConfig) -> RainParams:
    d = cfg.drainage
    bucket_ms = max(_FIVE_MIN_MS, spec.interval_s * 1000.0)
    return RainParams(
        t3=threshold(spec, "t3_mm_h", d.rain_t3_mm_h),
        t2=threshold(spec, "t2_mm_3h", d.rain_t2_mm_3h),
        t1=threshold(spec, "t1_mm_3h", d.rain_t1_mm_3h),
        bucket_ms=int(bucket_ms),
        t2_6h=threshold(spec, "t2_mm_6h", d.rain_t2_mm_6h),
        slots=min(_RAIN_SLOTS // 2, max(1, round(3 * 3_600_000 / bucket_ms))),
    )


def _rain(prof: SensorProfile[RainParams], st: SensorState, ts: int, v: float, out: list[Finding]) -> None:
    p = prof.p
    aux = st.aux
    assert aux is not None
    half = p.slots
    slots = 2 * half
    bucket = ts // p.bucket_ms
    current = aux[AUX_KIND]
    ring = aux[AUX_KIND + 1 : AUX_KIND + 1 + slots]
    if isnan(current) or bucket - current >= slots:
        ring[:] = 0.0
    else:
        for b in range(int(current) + 1, int(bucket) + 1):
            ring[b % slots] = 0.0
    aux[AUX_KIND] = bucket
    if v > 0.0:
        ring[bucket % slots] += v * prof.spec.interval_s / 3600.0
    elif "drainage.rain" not in st.emitted and st.run_t3 == 0:
        return
    total6 = float(ring.sum())
    newest = (bucket - np.arange(half)) % slots
    total = float(ring[newest].sum())
    t2_hit = total >= p.t2 or total6 >= p.t2_6h
    level = 1 if total >= p.t1 else 2 if t2_hit else 3 if v >= p.t3 else 0
    persist(st, level, ts)
    tier = 0
    if st.run_t3 >= prof.persistence:
        tier = 3
    if t2_hit:
        tier = 2
    if total >= p.t1:
        tier = 1
    report_rule(
        prof,
        st,
        "drainage.rain",
        tier,
        AlertKind.RAINSTORM,
        f"drainage.rain:t{tier}",
        ts,
        v,
        tier_score(tier, total / p.t1),
        lambda: (
            f"rain {v:.1f} mm/h, {total:.0f} mm in the last 3 h, {total6:.0f} mm in 6 h "
            f"(T3 ≥{p.t3:g} mm/h, T2 ≥{p.t2_6h:g} mm/6h or ≥{p.t2:g} mm/3h, T1 ≥{p.t1:g} mm/3h)"
        ),
        out,
    )


# -- ponding -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PondingParams(TierParams):
    """Road ponding: depth bounds (cm), and the depth from which a fast rise (cm per 5 min) means tier 1."""

    rising_t1: float
    rise: float


def _ponding_params(spec: SensorSpec, cfg: RulesConfig) -> PondingParams:
    d = cfg.drainage
    return PondingParams(
        **tier_thresholds(spec, d.ponding_t3_cm, d.ponding_t2_cm, d.ponding_t1_cm),
        rising_t1=threshold(spec, "rising_t1", d.ponding_rising_t1_cm),
        rise=threshold(spec, "rise_cm_per_5min", d.ponding_rise_cm_per_5min),
    )


def _ponding(prof: SensorProfile[PondingParams], st: SensorState, ts: int, v: float, out: list[Finding]) -> None:
    p = prof.p
    if v < p.t3 and st.run_t3 == 0:
        if "drainage.ponding" in st.emitted:
            report(prof, st, "drainage.ponding", 0, AlertKind.WATERLOGGING, "", ts, v, 0.0, lambda: "receded", out)
        return
    rising, rise = _fast_rise(st, ts, v, prof.interval_ms, p.rising_t1, p.rise)
    level = 1 if v >= p.t1 or rising else 2 if v >= p.t2 else 3 if v >= p.t3 else 0
    persist(st, level, ts)
    tier = persistent_tier(prof, st, ts)
    if tier and tier < 3 and st.equal_run > 0:  # identical readings: a stuck sensor is no evidence
        tier = 3
    rule = "drainage.ponding:" + ("t1_rising" if tier == 1 and v < p.t1 else f"t{tier}")
    report_rule(
        prof,
        st,
        "drainage.ponding",
        tier,
        AlertKind.WATERLOGGING,
        rule,
        ts,
        v,
        tier_score(tier, v / p.t1),
        lambda: (
            f"ponding {v:.1f} cm at {prof.spec.asset_kind or 'low point'} {prof.spec.asset_id}, "
            f"rising {rise:+.1f} cm/5 min (T3 ≥{p.t3:g}, T2 ≥{p.t2:g}, T1 ≥{p.t1:g} cm "
            f"or ≥{p.rising_t1:g} cm rising >{p.rise:g} cm/5 min)"
        ),
        out,
    )


# -- manhole level -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ManholeParams(RuleParams):
    """Manhole level (m above invert): pipe crown (T3), freeboard bounds (T2, T1), ground, fast rise."""

    crown: float
    t2: float
    t1: float
    ground: float
    rise: float


def _manhole_params(spec: SensorSpec, cfg: RulesConfig) -> ManholeParams:
    d = cfg.drainage
    ground = spec.design_value if spec.design_value is not None else math.nan
    return ManholeParams(
        crown=threshold(spec, "crown_m", math.nan),
        t2=threshold(spec, "t2_m", ground - d.manhole_t2_freeboard_m),
        t1=threshold(spec, "t1_m", ground - d.manhole_t1_freeboard_m),
        ground=ground,
        rise=d.manhole_rise_m_per_5min,
    )


def _manhole(prof: SensorProfile[ManholeParams], st: SensorState, ts: int, v: float, out: list[Finding]) -> None:
    p = prof.p
    crown, t2, t1 = p.crown, p.t2, p.t1
    lowest = crown if not isnan(crown) else t2
    if isnan(lowest):
        return
    if v < lowest and st.run_t3 == 0:
        if "drainage.manhole" in st.emitted:
            report(prof, st, "drainage.manhole", 0, AlertKind.OVERFLOW, "", ts, v, 0.0, lambda: "receded", out)
        return
    rising, rise = _fast_rise(st, ts, v, prof.interval_ms, lowest, p.rise)
    level = 1 if v >= t1 else 2 if v >= t2 or rising else 3 if v >= lowest else 0
    persist(st, level, ts)
    tier = persistent_tier(prof, st, ts)
    ground = p.ground
    report_rule(
        prof,
        st,
        "drainage.manhole",
        tier,
        AlertKind.OVERFLOW,
        f"drainage.manhole:t{tier}",
        ts,
        v,
        tier_score(tier, (v - lowest) / (t1 - lowest) if t1 > lowest else math.nan),
        lambda: (
            f"manhole level {v:.2f} m above invert"
            + (f", {ground - v:.2f} m below ground" if not isnan(ground) else "")
            + f", rising {rise:+.2f} m/5 min (T3 crown {crown:g} m, T2 ≥{t2:g} m, T1 ≥{t1:g} m)"
        ),
        out,
    )


RULES: dict[SensorKind, KindRule[Any]] = {
    SensorKind.RAIN: KindRule(_rain, _rain_params, aux_size=1 + _RAIN_SLOTS),
    SensorKind.PONDING_DEPTH: KindRule(_ponding, _ponding_params),
    SensorKind.MANHOLE_LEVEL: KindRule(_manhole, _manhole_params),
}
