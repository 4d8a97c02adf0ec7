"""Graded rules for drainage and urban waterlogging (DOMAIN.md, Table D).

* Rain gauge (``rain``, mm/h): T3 ≥20 mm/h for ``persistence`` reports; T2 ≥50 mm and T1 ≥100 mm
  accumulated over the last 3 h (intensity × reporting interval, 5-min buckets, at most 36).
* Road ponding (``ponding_depth``, cm): T3 ≥15, T2 ≥27, T1 ≥40 cm, or ≥25 cm and rising faster than
  5 cm per 5 min; every tier for ``persistence`` reports. Kind ``waterlogging``.
* Manhole level (``manhole_level``, m above invert): T3 at the pipe crown (``crown_m``, surcharge);
  T2 within 0.5 m of the ground (``design_value`` = ground depth, or ``t2_m``) or above the crown and
  rising >0.2 m per 5 min; T1 within 0.1 m of the ground (``t1_m``, overflow). Kind ``overflow``.
"""

from __future__ import annotations

import math

from lifeline.models import AlertKind, SensorKind, SensorSpec

from .api import Finding
from .config import RulesConfig, threshold
from .faults import BLOCKING
from .gas import recent_before
from .rulebase import AUX_KIND, KindRule, SensorProfile, persist, report, tier_score
from .state import SensorState

__all__ = ["RULES", "rise_per_5min"]

_RAIN_SLOTS = 36
_FIVE_MIN_MS = 300_000.0


def rise_per_5min(st: SensorState, ts: int, v: float, interval_ms: float) -> float:
    """Rate of rise scaled to 5 minutes, against the oldest reading of the last ~5 min (≥1 interval)."""
    before = recent_before(st, ts, max(_FIVE_MIN_MS, 1.01 * interval_ms))
    if before.size == 0:
        return 0.0
    n = st.ring_n
    times = st.ring[0, :n] if n < st.ring.shape[1] else st.ring[0]
    oldest_t = float(times[(times >= ts - max(_FIVE_MIN_MS, 1.01 * interval_ms)) & (times < ts)].min())
    dt = ts - oldest_t
    return (v - float(before[0])) * _FIVE_MIN_MS / dt if dt > 0 else 0.0


# -- rain ----------------------------------------------------------------------------------------------


def _rain_params(spec: SensorSpec, cfg: RulesConfig) -> dict[str, float]:
    d = cfg.drainage
    bucket_ms = max(_FIVE_MIN_MS, spec.interval_s * 1000.0)
    return {
        "t3": threshold(spec, "t3_mm_h", d.rain_t3_mm_h),
        "t2": threshold(spec, "t2_mm_3h", d.rain_t2_mm_3h),
        "t1": threshold(spec, "t1_mm_3h", d.rain_t1_mm_3h),
        "bucket_ms": bucket_ms,
        "slots": float(min(_RAIN_SLOTS, max(1, round(3 * 3_600_000 / bucket_ms)))),
    }


def _rain(prof: SensorProfile, st: SensorState, ts: int, v: float, out: list[Finding]) -> None:
    p = prof.p
    aux = st.aux
    assert aux is not None
    slots = int(p["slots"])
    bucket = ts // int(p["bucket_ms"])
    current = aux[AUX_KIND]
    ring = aux[AUX_KIND + 1 : AUX_KIND + 1 + slots]
    if current != current or bucket - current >= slots:
        ring[:] = 0.0
    else:
        for b in range(int(current) + 1, int(bucket) + 1):
            ring[b % slots] = 0.0
    aux[AUX_KIND] = bucket
    if v > 0.0:
        ring[bucket % slots] += v * prof.spec.interval_s / 3600.0
    elif "drainage.rain" not in st.emitted and st.c3 == 0:
        return
    total = float(ring.sum())
    level = 1 if total >= p["t1"] else 2 if total >= p["t2"] else 3 if v >= p["t3"] else 0
    persist(st, level, ts)
    tier = 0
    if st.c3 >= prof.persistence:
        tier = 3
    if total >= p["t2"]:
        tier = 2
    if total >= p["t1"]:
        tier = 1
    if st.faults & BLOCKING:
        tier = 0
    report(
        prof,
        st,
        "drainage.rain",
        tier,
        AlertKind.RAINSTORM,
        f"drainage.rain:t{tier}",
        ts,
        v,
        tier_score(tier, total / p["t1"]),
        lambda: (
            f"rain {v:.1f} mm/h, {total:.0f} mm in the last 3 h "
            f"(T3 ≥{p['t3']:g} mm/h, T2 ≥{p['t2']:g} mm/3h, T1 ≥{p['t1']:g} mm/3h)"
        ),
        out,
    )


# -- ponding -------------------------------------------------------------------------------------------


def _ponding_params(spec: SensorSpec, cfg: RulesConfig) -> dict[str, float]:
    d = cfg.drainage
    return {
        "t3": threshold(spec, "t3", d.ponding_t3_cm),
        "t2": threshold(spec, "t2", d.ponding_t2_cm),
        "t1": threshold(spec, "t1", d.ponding_t1_cm),
        "rising_t1": threshold(spec, "rising_t1", d.ponding_rising_t1_cm),
        "rise": threshold(spec, "rise_cm_per_5min", d.ponding_rise_cm_per_5min),
    }


def _ponding(prof: SensorProfile, st: SensorState, ts: int, v: float, out: list[Finding]) -> None:
    p = prof.p
    if v < p["t3"] and st.c3 == 0:
        if "drainage.ponding" in st.emitted:
            report(prof, st, "drainage.ponding", 0, AlertKind.WATERLOGGING, "", ts, v, 0.0, lambda: "receded", out)
        return
    rise = rise_per_5min(st, ts, v, prof.interval_ms) if v >= p["rising_t1"] else 0.0
    rising = v >= p["rising_t1"] and rise > p["rise"]
    level = 1 if v >= p["t1"] or rising else 2 if v >= p["t2"] else 3 if v >= p["t3"] else 0
    persist(st, level, ts)
    need = prof.persistence
    tier = 1 if st.c1 >= need else 2 if st.c2 >= need else 3 if st.c3 >= need else 0
    if tier and tier < 3 and st.equal_run > 0:  # identical readings: a stuck sensor is no evidence
        tier = 3
    if st.faults & BLOCKING:
        tier = 0
    rule = "drainage.ponding:" + ("t1_rising" if tier == 1 and v < p["t1"] else f"t{tier}")
    report(
        prof,
        st,
        "drainage.ponding",
        tier,
        AlertKind.WATERLOGGING,
        rule,
        ts,
        v,
        tier_score(tier, v / p["t1"]),
        lambda: (
            f"ponding {v:.1f} cm at {prof.spec.asset_kind or 'low point'} {prof.spec.asset_id}, "
            f"rising {rise:+.1f} cm/5 min (T3 ≥{p['t3']:g}, T2 ≥{p['t2']:g}, T1 ≥{p['t1']:g} cm "
            f"or ≥{p['rising_t1']:g} cm rising >{p['rise']:g} cm/5 min)"
        ),
        out,
    )


# -- manhole level -------------------------------------------------------------------------------------


def _manhole_params(spec: SensorSpec, cfg: RulesConfig) -> dict[str, float]:
    d = cfg.drainage
    ground = spec.design_value if spec.design_value is not None else math.nan
    return {
        "crown": threshold(spec, "crown_m", math.nan),
        "t2": threshold(spec, "t2_m", ground - d.manhole_t2_freeboard_m),
        "t1": threshold(spec, "t1_m", ground - d.manhole_t1_freeboard_m),
        "ground": ground,
        "rise": d.manhole_rise_m_per_5min,
    }


def _manhole(prof: SensorProfile, st: SensorState, ts: int, v: float, out: list[Finding]) -> None:
    p = prof.p
    crown, t2, t1 = p["crown"], p["t2"], p["t1"]
    lowest = crown if crown == crown else t2
    if lowest != lowest:
        return
    if v < lowest and st.c3 == 0:
        if "drainage.manhole" in st.emitted:
            report(prof, st, "drainage.manhole", 0, AlertKind.OVERFLOW, "", ts, v, 0.0, lambda: "receded", out)
        return
    rise = rise_per_5min(st, ts, v, prof.interval_ms)
    level = 1 if v >= t1 else 2 if v >= t2 or (v >= lowest and rise > p["rise"]) else 3 if v >= lowest else 0
    persist(st, level, ts)
    need = prof.persistence
    tier = 1 if st.c1 >= need else 2 if st.c2 >= need else 3 if st.c3 >= need else 0
    if st.faults & BLOCKING:
        tier = 0
    ground = p["ground"]
    report(
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
            + (f", {ground - v:.2f} m below ground" if ground == ground else "")
            + f", rising {rise:+.2f} m/5 min (T3 crown {crown:g} m, T2 ≥{t2:g} m, T1 ≥{t1:g} m)"
        ),
        out,
    )


RULES: dict[SensorKind, KindRule] = {
    SensorKind.RAIN: KindRule(_rain, _rain_params, aux_size=1 + _RAIN_SLOTS),
    SensorKind.PONDING_DEPTH: KindRule(_ponding, _ponding_params),
    SensorKind.MANHOLE_LEVEL: KindRule(_manhole, _manhole_params),
}
