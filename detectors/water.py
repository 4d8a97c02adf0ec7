"""Graded rules for water supply mains (docs/domain.md#water-supply-mains).

Pressure logger (``water_pressure``, MPa): a *step* against the level of the last minutes
(``max`` of the readings within ``max(5 min, 1.5 intervals)`` before) is tracked until it recovers:

* ``water.pressure.drop:big``: drop ≥0.1 MPa or ≥30 % for ``persistence`` reports (suggests T1;
  the group makes it T1 only with a second big drop and an inlet surge);
* ``water.pressure.drop:sustained``: drop ≥0.05 MPa or ≥15 % held ≥15 min (T2);
* ``water.pressure.drop:moderate``: the same drop not yet sustained (T3);
* ``water.pressure.drop:held``: a step that reached a tier and has not recovered (still at least half the drop
  threshold below its level, within ``step_max_hold_s``) holds T3, so a drop that flickers around its threshold
  stays one condition (and one alert) until the pressure recovers;
* ``water.pressure.low``: pressure below 0.1 MPa for ``persistence`` reports (loss of supply).

Inlet flow (``water_flow``): a step rise ≥20 % (``:t2``) / ≥50 % (``:t1``) over the mean of the last
``max(15 min, 1.5 intervals)``, for ``persistence`` reports (held at T3 like a pressure step until it settles);
and night-minimum flow (02:00–04:00
local) ≥15 % (and ≥ ``mnf_min_rise``) above the baseline on 3 consecutive nights → background leak T3. The
baseline is the lower of the lower quartile of the last 7 normal nights and a slow baseline that each normal
night moves by 1/``mnf_slow_nights`` of its difference, winsorised at the flag bound: a leak already present in
the recent nights and growing still stands out. A zero or near-zero baseline never flags. A standing alert is
refreshed through the night window and holds through a night still more than half the bound above the baseline,
so it stays one alert until a night is back to normal; leak nights (flagged or held) never enter the baseline.

Pump and valve state (``pump_state`` / ``valve_state``): a change of at least ``operation_min_change`` between
two readings is an operation, reported as the informational finding ``water.operation:state_change`` (no
tier: it never opens an alert; the group stage attributes the drops and surges that follow it to the
operation, see :mod:`.alarms`). A flow meter at a tank (registry: the ``node=`` of a ``tank_level`` sensor
of its group) has no surge and no night-flow rule: a tank filling or draining is neither a burst nor a leak.

Noise logger (``noise_level``, dB): the night (02:00–04:00 local) minimum ≥ ``flag_rise_db`` (6 dB)
above the baseline (the lower of the median of the previous normal nights and the slow baseline; before the
logger has a normal night of its own, the registry's ``night_db``, its quiet night level at commissioning)
flags the night; 1 night → T3, ≥2 consecutive → T2; held like the night flow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from math import isnan
from typing import Any

import numpy as np
import numpy.typing as npt

from lifeline.models import AlertKind, SensorKind, SensorSpec

from .config import RulesConfig, threshold
from .correlation import OPERATION_RULE
from .faults import BLOCKING, report_rule
from .gas import recent_before
from .results import Finding
from .rulebase import (
    AUX_KIND,
    KindRule,
    RuleParams,
    SensorProfile,
    StepParams,
    lookback_ms,
    persist,
    report,
    step_hold_ms,
    tier_score,
)
from .state import SensorState

__all__ = [
    "RULES", "SLOW_BASELINE_SLOT", "TANK_METER", "FlowParams", "NightParams", "NoiseParams", "OperationParams",
    "PressureParams", "local_night",
]  # fmt: skip

#: profile flag of a flow meter at a tank (set by the engine from the registry's network facts)
TANK_METER = "tank_meter"

_DAY_MS = 86_400_000
_NIGHTS = 7
_BASELINE_QUANTILE = 0.25


def local_night(ts: int, offset_h: float, start_h: int, end_h: int) -> int:
    """The local day number if ``ts`` falls in the night analysis window (``start_h``–``end_h``), else -1.

    >>> local_night(1_700_000_000_000 - 8 * 3_600_000 + 3 * 3_600_000 - (1_700_000_000_000 % 86_400_000), 8.0, 2, 4)
    19675
    """
    local = ts + int(offset_h * 3_600_000)
    hour = (local % _DAY_MS) / 3_600_000
    return local // _DAY_MS if start_h <= hour < end_h else -1


# -- pressure ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PressureParams(StepParams):
    """Pressure logger: big and moderate drops (MPa or fraction of the level), low pressure, sustain."""

    big: float
    big_frac: float
    drop: float
    drop_frac: float
    low: float
    sustain_ms: float


def _pressure_params(spec: SensorSpec, cfg: RulesConfig) -> PressureParams:
    w = cfg.water
    return PressureParams(
        big=threshold(spec, "drop_t1", w.burst_drop_mpa),
        big_frac=w.burst_drop_fraction,
        drop=threshold(spec, "drop_t2", w.drop_mpa),
        drop_frac=w.drop_fraction,
        low=threshold(spec, "low_t1", w.low_pressure_mpa),
        sustain_ms=w.drop_sustain_s * 1000.0,
        lookback_ms=lookback_ms(spec, w.drop_window_s),
        hold_ms=step_hold_ms(cfg),
    )


# aux slots after AUX_KIND of a pressure logger: the onsets (ms) of its last drop steps, oldest first, then the
# onset of the step last taken for a scheduled operation
_DROP_SLOTS = 12
_SCHEDULED_AT = AUX_KIND + _DROP_SLOTS


def _drop_memory(st: SensorState) -> npt.NDArray[np.float64] | None:
    """The logger's aux array when it has the drop slots (``None`` for a state from before they existed)."""
    aux = st.aux
    return aux if aux is not None and aux.size > _SCHEDULED_AT else None


def _note_drop(prof: SensorProfile[PressureParams], st: SensorState, ts: int) -> None:
    """Remember the onset of a drop step, or of a dip of at least half a drop (a schedule that moves a logger by
    about the threshold crosses it on some days only); one onset per ``drop_recurring_tol_s``; the oldest of
    ``_DROP_SLOTS`` goes."""
    aux = _drop_memory(st)
    if aux is None:
        return
    ring = aux[AUX_KIND:_SCHEDULED_AT]
    if abs(ts - ring[-1]) <= prof.config.water.drop_recurring_tol_s * 1000.0:
        return
    ring[:-1] = ring[1:].copy()
    ring[-1] = float(ts)


def _scheduled(prof: SensorProfile[PressureParams], st: SensorState, tier: int) -> bool:
    """Whether the current drop step is a scheduled operation: decided when it first reaches a tier (a moderate
    or sustained one that :func:`_recurring_drop`), then kept for the whole step, so a step that deepens later
    into a big drop stays the operation it began as (a big drop from its first tier is never one)."""
    aux = _drop_memory(st)
    if aux is None:
        return False
    if aux[_SCHEDULED_AT] == st.step_ts:
        return True
    if tier >= 2 and "water.pressure.drop" not in st.emitted and _recurring_drop(prof, aux, st.step_ts):
        aux[_SCHEDULED_AT] = float(st.step_ts)
        return True
    return False


def _recurring_drop(prof: SensorProfile[PressureParams], aux: npt.NDArray[np.float64], step_ts: int) -> bool:
    """Whether the drop step that began at ``step_ts`` began at the same time of day (± ``drop_recurring_tol_s``)
    on at least ``drop_recurring_min_days`` of the ``drop_recurring_days`` days before: a scheduled pump or valve
    with no state sensor, or a tank's inlet closing at its ceiling every morning, moves the loggers at the same
    hour each day; a burst does not recur (docs/domain.md#scheduled-operations-without-a-state-sensor)."""
    w = prof.config.water
    if w.drop_recurring_days <= 0:
        return False
    onsets = aux[AUX_KIND:_SCHEDULED_AT]
    tol = w.drop_recurring_tol_s * 1000.0
    days = 0
    for d in range(1, w.drop_recurring_days + 1):
        then = step_ts - d * _DAY_MS
        days += bool(np.any(np.abs(onsets - then) <= tol))  # NaN (no onset yet) compares false
    return days >= w.drop_recurring_min_days


def _water_pressure(
    prof: SensorProfile[PressureParams], st: SensorState, ts: int, v: float, out: list[Finding]
) -> None:
    p = prof.p
    _low_pressure(prof, st, ts, v, out)
    if isnan(st.step_level):
        lvl = st.level
        if isnan(lvl) or lvl - v < 0.5 * min(p.drop, p.drop_frac * lvl):
            if "water.pressure.drop" in st.emitted:
                report(
                    prof, st, "water.pressure.drop", 0, AlertKind.PIPE_BURST, "", ts, v, 0.0, lambda: "recovered", out
                )
            st.run_t3 = st.run_t2 = st.run_t1 = 0
            return
        before = recent_before(st, ts, p.lookback_ms)
        if before.size == 0:
            return
        ref = float(before.max())
        if ref - v >= min(p.drop, p.drop_frac * ref):
            st.step_level, st.step_ts = ref, ts
            _note_drop(prof, st, ts)
        else:
            if ref - v >= 0.5 * min(p.drop, p.drop_frac * ref):  # a dip of half a drop: the schedule's, some days
                _note_drop(prof, st, ts)
            return
    ref = st.step_level
    drop = ref - v
    if drop < 0.5 * min(p.drop, p.drop_frac * ref) or ts - st.step_ts > p.hold_ms:
        st.step_level, st.step_ts = math.nan, -1
        persist(st, 0, ts)
        report(prof, st, "water.pressure.drop", 0, AlertKind.PIPE_BURST, "", ts, v, 0.0, lambda: "recovered", out)
        return
    big = drop >= min(p.big, p.big_frac * ref)
    moderate = drop >= min(p.drop, p.drop_frac * ref)
    persist(st, 1 if big else 3 if moderate else 0, ts)
    need = prof.persistence
    tier, rule = 0, ""
    if st.run_t3 >= need:
        tier, rule = 3, "water.pressure.drop:moderate"
        if ts - st.step_ts >= p.sustain_ms:
            tier, rule = 2, "water.pressure.drop:sustained"
    if st.run_t1 >= need:
        tier, rule = 1, "water.pressure.drop:big"
    if tier and _scheduled(prof, st, tier):
        tier, rule = 0, ""  # a drop at the time of day of the drops of earlier days: a scheduled operation
    if tier == 0 and "water.pressure.drop" in st.emitted:  # the step goes on: one burst stays one condition
        tier, rule = 3, "water.pressure.drop:held"
    if tier and tier < 3 and st.equal_run > 0:  # identical readings: a stuck sensor is no evidence
        tier, rule = 3, "water.pressure.drop:identical_readings_capped"
    since = st.step_ts
    change = _since_step(st, v) - ref if tier else None
    report_rule(
        prof,
        st,
        "water.pressure.drop",
        tier,
        AlertKind.PIPE_BURST,
        rule,
        ts,
        v,
        tier_score(tier, drop / p.big),
        lambda: (
            f"pressure {v:.3f} MPa, {drop:.3f} MPa ({drop / ref:.0%}) below the level {ref:.3f} MPa before ts {since}, "
            f"held {(ts - since) / 60000:.0f} min (big ≥{p.big:g} MPa/{p.big_frac:.0%}, "
            f"drop ≥{p.drop:g} MPa/{p.drop_frac:.0%}, sustained ≥{p.sustain_ms / 60000:g} min)"
        ),
        out,
        change,
    )


def _since_step(st: SensorState, v: float) -> float:
    """The mean of the readings since the step began (those still in the ring, and ``v``): the logger's level now."""
    times, values = st.recent()
    after = values[(times >= st.step_ts) & np.isfinite(values)]
    return (float(after.sum()) + v) / (after.size + 1)


def _low_pressure(prof: SensorProfile[PressureParams], st: SensorState, ts: int, v: float, out: list[Finding]) -> None:
    low = prof.p.low
    emitted = "water.pressure.low" in st.emitted
    if v >= low and not emitted and st.baseline_n == 0:
        return
    st.baseline_n = st.baseline_n + 1 if v < low else 0
    tier = 1 if st.baseline_n >= prof.persistence else 0
    count = st.baseline_n
    report_rule(
        prof,
        st,
        "water.pressure.low",
        tier,
        AlertKind.LOW_PRESSURE,
        "water.pressure.low:below_minimum",
        ts,
        v,
        tier_score(tier),
        lambda: f"pressure {v:.3f} MPa below {low:g} MPa for {count} report(s): loss of supply",
        out,
    )


# -- inlet flow ----------------------------------------------------------------------------------------

# aux slots after AUX_KIND: night id, night minimum, consecutive creep nights, ring position, nights seen, ring of
# the last nights' minima, then the slow baseline (a slot older versions left unused: NaN in their snapshots)
_F_NIGHT, _F_MIN, _F_CREEP, _F_POS, _F_SEEN, _F_RING = range(AUX_KIND, AUX_KIND + 6)
_F_SLOW = _F_RING + _NIGHTS
_NIGHT_SLOTS = 6 + _NIGHTS
#: where a night rule keeps its slow baseline in the sensor's aux array (NaN in snapshots of older versions)
SLOW_BASELINE_SLOT = _F_SLOW


@dataclass(frozen=True, slots=True)
class NightParams:
    """A night-minimum rule: the rise that flags a night (a fraction when ``relative``, else in the unit), the
    smallest absolute rise that counts (relative rules), and the registry's night reference (NaN: none)."""

    rise: float
    relative: bool
    min_rise: float = 0.0
    reference: float = math.nan


@dataclass(frozen=True, slots=True)
class FlowParams(StepParams):
    """Inlet flow: surge fractions over the level before the step, and the night-minimum creep."""

    t2: float
    t1: float
    night: NightParams


def _flow_params(spec: SensorSpec, cfg: RulesConfig) -> FlowParams:
    w = cfg.water
    return FlowParams(
        t2=threshold(spec, "surge_t2", w.surge_t2),
        t1=threshold(spec, "surge_t1", w.surge_t1),
        night=NightParams(
            threshold(spec, "mnf_t3", w.mnf_creep), True, min_rise=threshold(spec, "mnf_min_rise", w.mnf_min_rise)
        ),
        lookback_ms=lookback_ms(spec, w.step_lookback_s),
        hold_ms=step_hold_ms(cfg),
    )


def _water_flow(prof: SensorProfile[FlowParams], st: SensorState, ts: int, v: float, out: list[Finding]) -> None:
    if TANK_METER in prof.flags:  # a tank fills and drains by design: no burst, no leak
        return
    _night_minimum(prof, st, ts, v, out, "water.flow.mnf", prof.p.night)
    p = prof.p
    if isnan(st.step_level):
        lvl = st.level
        if isnan(lvl) or v < (1.0 + 0.8 * p.t2) * lvl:
            if "water.flow.surge" in st.emitted:
                report(prof, st, "water.flow.surge", 0, AlertKind.PIPE_BURST, "", ts, v, 0.0, lambda: "settled", out)
            st.run_t3 = st.run_t1 = 0
            return
        before = recent_before(st, ts, p.lookback_ms)
        if before.size == 0 or v < (1.0 + p.t2) * float(before.mean()):
            return
        st.step_level, st.step_ts = float(before.mean()), ts
    ref = st.step_level
    surge = v / ref - 1.0 if ref > 0 else 0.0
    if surge < 0.5 * p.t2 or ts - st.step_ts > p.hold_ms:
        st.step_level, st.step_ts = math.nan, -1
        persist(st, 0, ts)
        report(prof, st, "water.flow.surge", 0, AlertKind.PIPE_BURST, "", ts, v, 0.0, lambda: "settled", out)
        return
    persist(st, 1 if surge >= p.t1 else 3 if surge >= p.t2 else 0, ts)
    need = prof.persistence
    tier, rule = 0, ""
    if st.run_t3 >= need:
        tier, rule = 3, "water.flow.surge:t2"
    if st.run_t1 >= need:
        tier, rule = 3, "water.flow.surge:t1"
    if tier == 0 and "water.flow.surge" in st.emitted:  # the step goes on: one burst stays one condition
        tier, rule = 3, "water.flow.surge:held"
    report_rule(
        prof,
        st,
        "water.flow.surge",
        tier,
        AlertKind.PIPE_BURST,
        rule,
        ts,
        v,
        tier_score(tier, surge / 2),
        lambda: (
            f"inlet flow {v:.1f} m3/h, {surge:+.0%} over the level {ref:.1f} m3/h before the step "
            f"(T2 ≥{p.t2:.0%}, T1 ≥{p.t1:.0%})"
        ),
        out,
    )


def _night_minimum(
    prof: SensorProfile[Any],
    st: SensorState,
    ts: int,
    v: float,
    out: list[Finding],
    family: str,
    night: NightParams,
) -> None:
    """Track the minimum of each local night window; judge each night when it ends."""
    aux = st.aux
    if aux is None:
        return
    cfg = prof.config
    day = local_night(ts, cfg.local_utc_offset_h, cfg.water.mnf_start_hour, cfg.water.mnf_end_hour)
    current = aux[_F_NIGHT]
    if day >= 0:
        if family in st.emitted:  # a standing alert stays one alert through the night window
            _report_night(prof, st, ts, v, out, family, relative=night.relative, baseline=math.nan, night_min=math.nan)
        if current != day:
            if not isnan(current):
                _judge_night(prof, st, ts, v, out, family, night)
            aux[_F_NIGHT], aux[_F_MIN] = day, v
        elif v < aux[_F_MIN]:
            aux[_F_MIN] = v
        return
    if not isnan(current):
        _judge_night(prof, st, ts, v, out, family, night)
        aux[_F_NIGHT] = math.nan
    elif family in st.emitted:
        _report_night(prof, st, ts, v, out, family, relative=night.relative, baseline=math.nan, night_min=math.nan)


def _judge_night(
    prof: SensorProfile[Any], st: SensorState, ts: int, v: float, out: list[Finding], family: str, night: NightParams
) -> None:
    """Judge the night that just ended against the robust baseline of the previous nights (or the registry's)."""
    aux = st.aux
    assert aux is not None
    night_min = float(aux[_F_MIN])
    seen = int(aux[_F_SEEN]) if aux[_F_SEEN] == aux[_F_SEEN] else 0
    ring = aux[_F_RING : _F_RING + _NIGHTS]
    previous = ring[np.isfinite(ring)]
    slow = float(aux[_F_SLOW])
    rise, relative = night.rise, night.relative
    need = prof.config.water.mnf_baseline_min_nights if relative else 1
    baseline = night.reference
    if previous.size >= need:
        # a low quantile of the recent nights, and the slow baseline that a leak cannot lift by more than about
        # 1 % a night: a leak already present (and growing) in the recent nights still stands out
        quantile = float(np.quantile(previous, _BASELINE_QUANTILE if relative else 0.5))
        baseline = min(quantile, slow) if not isnan(slow) else quantile
    flagged = held = False
    if not isnan(baseline):
        excess = night_min - baseline
        if relative:  # a zero or near-zero baseline never flags: "x % above nothing" is no evidence of a leak
            bound = max(rise * baseline, night.min_rise)
            flagged = baseline > 0.0 and excess >= bound
        else:
            bound = rise
            flagged = excess >= bound
        # a standing leak holds through a night that is still more than half the bound above the baseline
        standing = st.emitted.get(family, (0, 0, ""))[0] > 0
        held = not flagged and standing and (baseline > 0.0 or not relative) and excess >= 0.5 * bound
    creep = int(aux[_F_CREEP]) if aux[_F_CREEP] == aux[_F_CREEP] else 0
    aux[_F_CREEP] = creep + 1 if flagged else creep if held else 0
    if not (flagged or held):  # leak nights do not enter the baseline, so a creeping leak cannot hide itself
        pos = int(aux[_F_POS]) if aux[_F_POS] == aux[_F_POS] else 0
        ring[pos] = night_min
        aux[_F_POS] = (pos + 1) % _NIGHTS
        if not isnan(slow):
            aux[_F_SLOW] = _slow_baseline(slow, night_min, rise, relative, prof.config.water.mnf_slow_nights)
        elif previous.size + 1 >= need:  # it starts from the recent nights' quantile, not from one night
            filled = ring[np.isfinite(ring)]
            aux[_F_SLOW] = float(np.quantile(filled, _BASELINE_QUANTILE if relative else 0.5))
    aux[_F_SEEN] = seen + 1
    _report_night(prof, st, ts, v, out, family, relative=relative, baseline=baseline, night_min=night_min)


def _slow_baseline(slow: float, night_min: float, rise: float, relative: bool, nights: float) -> float:
    """The slow baseline after one more normal night: the night's difference, winsorised at the flag bound,
    weighted 1/``nights`` (a leak cannot lift it by more than bound/``nights`` a night; the recent nights' low
    quantile, the other half of the baseline, follows a fall in demand). It starts from that quantile once the
    rule has its baseline nights, so one unusually low first night does not set it.

    >>> _slow_baseline(10.0, 20.0, 0.15, True, 14.0)  # +100 % counts as +15 %, over 14 nights
    10.107142857142858
    >>> _slow_baseline(10.0, 9.0, 0.15, True, 14.0)
    9.928571428571429
    """
    bound = rise * abs(slow) if relative else rise
    return slow + min(max(night_min - slow, -bound), bound) / nights


def _report_night(
    prof: SensorProfile[Any], st: SensorState, ts: int, v: float, out: list[Finding], family: str, *,
    relative: bool, baseline: float, night_min: float,
) -> None:  # fmt: skip
    aux = st.aux
    assert aux is not None
    creep = int(aux[_F_CREEP]) if aux[_F_CREEP] == aux[_F_CREEP] else 0
    if relative:
        tier = 3 if creep >= prof.config.water.mnf_nights else 0
        rule = "water.flow.mnf:creep"
    else:
        tier = 2 if creep >= 2 else 3 if creep >= 1 else 0
        rule = "water.noise.leak:flag"
    if st.faults & BLOCKING:
        tier = 0
    previous = st.emitted.get(family)
    # between nights: refresh the standing condition only now and then, so the alert does not go quiet
    if previous is not None and previous[0] == tier and isnan(night_min) and ts - previous[1] < prof.refresh_ms:
        return
    unit = prof.spec.unit
    report(
        prof,
        st,
        family,
        tier,
        AlertKind.BACKGROUND_LEAK,
        rule,
        ts,
        v,
        tier_score(tier),
        lambda: (
            f"night minimum {night_min:.2f} {unit} vs baseline {baseline:.2f} {unit} of previous nights; "
            f"{creep} consecutive flagged night(s)"
            if not isnan(night_min)
            else f"{creep} consecutive flagged night(s) (standing)"
        ),
        out,
        None if isnan(night_min - baseline) else night_min - baseline,  # none while standing: the group keeps it
    )


# -- pump and valve state ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OperationParams(RuleParams):
    """Pump or valve state: the change between two readings that counts as an operation."""

    min_change: float


def _operation_params(spec: SensorSpec, cfg: RulesConfig) -> OperationParams:
    return OperationParams(min_change=threshold(spec, "operation_min_change", cfg.water.operation_min_change))


def _operating_state(
    prof: SensorProfile[OperationParams], st: SensorState, ts: int, v: float, out: list[Finding]
) -> None:
    before = st.last_value
    if isnan(before) or abs(v - before) < prof.p.min_change:
        return
    spec = prof.spec
    verb = "started" if v > before else "stopped"
    if spec.kind is SensorKind.VALVE_STATE:
        verb = "opened" if v > before else "closed"
    evidence = f"{spec.kind.value} {before:g} → {v:g}: {verb} (an operation, not an incident)"
    out.append(
        Finding(spec.sensor_id, spec.asset_id, prof.group_key, AlertKind.PIPE_BURST, None, ts, v, 0.0, evidence,
                OPERATION_RULE)
    )  # fmt: skip


def _state_quiet(prof: SensorProfile[OperationParams], st: SensorState, values: npt.NDArray[np.float64]) -> bool:
    """No operation in ``values``: every reading within ``min_change`` of the last one before them."""
    before = st.last_value
    return not isnan(before) and bool(np.all(np.abs(values - before) < prof.p.min_change))


# -- noise logger --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoiseParams(RuleParams):
    """Noise logger: the rise of the night minimum (dB) that flags a night, and the registry's quiet night level
    (``night_db``, the baseline until the logger has a normal night of its own)."""

    night: NightParams


def _noise_params(spec: SensorSpec, cfg: RulesConfig) -> NoiseParams:
    rise = threshold(spec, "flag_rise_db", cfg.water.noise_leak_db)
    return NoiseParams(NightParams(rise, False, reference=threshold(spec, "night_db", math.nan)))


def _noise(prof: SensorProfile[NoiseParams], st: SensorState, ts: int, v: float, out: list[Finding]) -> None:
    _night_minimum(prof, st, ts, v, out, "water.noise.leak", prof.p.night)


RULES: dict[SensorKind, KindRule[Any]] = {
    SensorKind.WATER_PRESSURE: KindRule(_water_pressure, _pressure_params, aux_size=_DROP_SLOTS + 1),
    SensorKind.WATER_FLOW: KindRule(_water_flow, _flow_params, aux_size=_NIGHT_SLOTS),
    SensorKind.NOISE_LEVEL: KindRule(_noise, _noise_params, aux_size=_NIGHT_SLOTS),
    SensorKind.PUMP_STATE: KindRule(_operating_state, _operation_params, quiet=_state_quiet),
    SensorKind.VALVE_STATE: KindRule(_operating_state, _operation_params, quiet=_state_quiet),
}
