"""Sensor-fault discrimination (docs/domain.md#sensor-faults): stuck, spike, saturation, silence, drift, offset step.

A fault is a data-quality finding of kind :attr:`AlertKind.SENSOR_FAULT`, always tier 3, routed to the
device maintainer. While a *blocking* fault (stuck, saturated, drifting) is active the sensor's
readings do not escalate incidents (see :data:`BLOCKING`). An offset step does not block: only the
sensor's zero moved, its changes still follow the physics, and a step taken for an offset must not hide
an incident.

Noise scale: an exponentially weighted mean of ``|Δvalue|`` between consecutive samples, each
update clipped to 4× the current estimate (so a spike does not inflate it), floored at a small
fraction of the physical range. For white noise of std σ, ``E|Δ| ≈ 1.13 σ``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from math import isnan
from typing import Any

import numpy as np

from lifeline.models import AlertKind, SensorKind, Tier

from .results import Finding
from .rulebase import SensorProfile, report
from .state import RING, SensorState

__all__ = [
    "BLOCKING",
    "DRIFT",
    "FLOOR_SPIKE_SHARE",
    "OFFSET",
    "OVER_RANGE",
    "OVER_RANGE_KINDS",
    "SATURATED",
    "SILENCE",
    "STUCK",
    "check_drift",
    "check_offset",
    "check_offset_hours",
    "check_reading",
    "check_silence",
    "end_silence",
    "incident_on",
    "noise_scale",
    "offset_checked",
    "over_range",
    "report_rule",
    "stuck_samples_needed",
    "stuck_span_needed_ms",
]

STUCK = 1
SATURATED = 2
SILENCE = 8
DRIFT = 16
OFFSET = 32
#: readings at an end of the range that began while one of the sensor's own incidents was on: over range, no fault
#: (only for :data:`OVER_RANGE_KINDS`)
OVER_RANGE = 64
#: kinds whose readings at the range end during their own incident are over range: a methane detector pinned at
#: full scale after its alarm rose is the most dangerous reading it can give (a manhole level at full scale during
#: a surcharge is as likely a fault of the gauge, so the level kinds are not in it)
OVER_RANGE_KINDS = frozenset({SensorKind.CH4_LEL})
#: faults during which the sensor's readings must not escalate incidents (an offset moves the zero only)
BLOCKING = STUCK | SATURATED | DRIFT

_FAULT = AlertKind.SENSOR_FAULT
_T3 = int(Tier.T3)


#: operating states (pump running, valve open): not measurements, so no stuck/spike/saturation fault
STATE_KINDS = frozenset({SensorKind.PUMP_STATE, SensorKind.VALVE_STATE})


def report_rule(
    prof: SensorProfile[Any], st: SensorState, family: str, tier: int, kind: AlertKind, rule: str, ts: int,
    value: float, score: float, evidence: Callable[[], str], out: list[Finding], change: float | None = None,
) -> None:  # fmt: skip
    """The common tail of a graded rule: a blocking fault (stuck, saturated, drifting, offset) holds the
    condition at "none", so a faulty sensor cannot raise or escalate an incident; then :func:`report`."""
    tier = 0 if st.faults & BLOCKING else tier
    report(prof, st, family, tier, kind, rule, ts, value, score, evidence, out, change)


def _set(
    prof: SensorProfile[Any], st: SensorState, bit: int, on: bool, rule: str, ts: int, value: float,
    evidence: str, out: list[Finding], change: float | None = None,
) -> None:  # fmt: skip
    family = rule.partition(":")[0]
    if on:
        st.faults |= bit
        report(prof, st, family, _T3, _FAULT, rule, ts, value, 0.5, lambda: evidence, out, change)
    elif st.faults & bit:
        st.faults &= ~bit
        report(prof, st, family, 0, _FAULT, rule, ts, value, 0.0, lambda: evidence, out)


def _forget_old_spike(prof: SensorProfile[Any], st: SensorState, ts: int) -> None:
    """A spike is a moment, not a condition that ends: once its finding is older than both the
    group's quiet period (the alert has cleared) and the refresh period (a new spike would be
    reported anyway), forget it, so the sensor counts as quiet again and may take the vectorised
    path instead of staying on the per-reading path for good. Findings are unchanged by this."""
    reported_at = st.emitted["fault.spike"][1]
    if ts - reported_at >= max(prof.quiet_ms, prof.refresh_ms):
        del st.emitted["fault.spike"]


def check_reading(prof: SensorProfile[Any], st: SensorState, ts: int, value: float, out: list[Finding]) -> None:
    """Per-reading fault checks; call before the kind's rule and before the sample is pushed."""
    if prof.kind in STATE_KINDS:  # an operating state repeats, jumps and sits at its range by design
        return
    cfg = prof.config.faults
    if st.emitted and "fault.spike" in st.emitted:
        _forget_old_spike(prof, st, ts)
    if st.seen:
        last = st.last_value
        delta = value - last
        ad = abs(delta)
        noise = st.noise
        scale = base_scale = noise if noise > prof.noise_floor else prof.noise_floor
        # spike: the PREVIOUS sample jumped away and this one came back (judged one sample late)
        if st.seen >= 8 and noise == noise:  # not NaN (inline: every reading passes here)
            prev = st.prev_value
            limit = cfg.spike_sigma * scale
        elif _EARLY_SPIKE_SEEN <= st.seen < 8:  # too few changes for the noise scale: judge on the ring alone
            prev = st.prev_value
            scale = _early_scale(prof, st)
            limit = cfg.spike_sigma * scale
        else:
            limit = math.inf
        if limit < math.inf:
            # the previous sample's distance from the line through its neighbours (half the second difference):
            # a slope or a daily ramp does not count, only a sample off the line does
            dev = last - 0.5 * (prev + value)
            adev = abs(dev)
            if (
                adev > limit
                or (adev > FLOOR_SPIKE_SHARE * limit and last <= prof.vmin + prof.sat_eps and prof.rests_at_floor)
            ) and adev >= prof.spike_min:
                scale = _judge_spike(prof, st, ts, prev, last, value, dev, scale, out)
        if ad > cfg.offset_jump_sigma * base_scale and st.seen >= 8 and offset_checked(prof) and not incident_on(st):
            _candidate_jump(st, ts, delta)  # (while an incident is on, its own rise or end is the jump: not one)
        if st.jump_ts >= 0:
            check_offset(prof, st, ts, value)
        if ad > 0.0:
            if noise != noise:  # NaN: the first change seen
                st.noise = ad
            elif st.seen < RING:  # warm-up: a plain running mean, clipped once the spike check relies on it
                st.noise = noise + ((ad if st.seen < 8 else min(ad, 8.0 * base_scale)) - noise) / st.seen
            else:
                st.noise = noise + (min(ad, 4.0 * scale) - noise) / cfg.noise_tau_samples
            if st.equal_run:
                st.equal_run = 0
                if st.faults & STUCK:
                    _set(prof, st, STUCK, False, "fault.stuck:zero_variance", ts, value, "value changes again", out)
        else:
            if st.equal_run == 0:
                st.equal_since = st.last_ts
            st.equal_run += 1
            if (
                not st.faults & STUCK
                and st.equal_run + 1 >= stuck_samples_needed(prof)
                and ts - st.equal_since >= stuck_span_needed_ms(prof)
                and st.noise > prof.noise_floor
                and not _resting(prof, value)
            ):
                run, since, scale_now = st.equal_run + 1, st.equal_since, st.noise
                _set(
                    prof,
                    st,
                    STUCK,
                    True,
                    "fault.stuck:zero_variance",
                    ts,
                    value,
                    f"stuck: {run} identical readings {value:.6g} {prof.spec.unit} since ts {since} "
                    f"while this sensor normally varies (noise scale {scale_now:.3g})",
                    out,
                )
    high = value >= prof.vmax - prof.sat_eps
    low = not prof.rests_at_floor and value <= prof.vmin + prof.sat_eps
    if high or low:
        st.sat_run += 1
        # over range, not saturated: readings of an OVER_RANGE_KINDS sensor that went past the range while its own
        # incident was already on (methane rising to full scale) say "at least this"
        if st.sat_run == 1 and prof.kind in OVER_RANGE_KINDS and incident_on(st):
            st.faults |= OVER_RANGE
        if st.sat_run >= cfg.saturation_samples and not st.faults & (SATURATED | OVER_RANGE):
            bound = prof.vmax if high else prof.vmin
            _set(
                prof,
                st,
                SATURATED,
                True,
                "fault.saturation:range_limit",
                ts,
                value,
                f"saturation: {st.sat_run} readings at the range {'maximum' if high else 'minimum'} "
                f"{bound:.6g} {prof.spec.unit}",
                out,
            )
    elif st.sat_run:
        st.sat_run = 0
        st.faults &= ~OVER_RANGE
        if st.faults & SATURATED:
            _set(prof, st, SATURATED, False, "fault.saturation:range_limit", ts, value, "back inside range", out)
            # clipped samples are no pre-event level: forget them, so leaving saturation is no "step"
            st.forget_values()


#: the condition families that are no incident of the sensor's own (its faults, its learned-baseline anomalies)
_NOT_INCIDENTS = ("fault.", "anomaly.")


def incident_on(st: SensorState) -> bool:
    """Whether one of the sensor's own incident conditions is on (reported with a tier, not yet ended)."""
    return any(entry[0] and not family.startswith(_NOT_INCIDENTS) for family, entry in st.emitted.items())


def over_range(prof: SensorProfile[Any], value: float) -> bool:
    """Whether ``value`` sits at an end of the sensor's range (within the saturation tolerance): clipped
    readings repeat exactly, which is no sign of a stuck sensor there."""
    return value >= prof.vmax - prof.sat_eps or value <= prof.vmin + prof.sat_eps


#: a kind resting at its floor is "at rest", never stuck, within this fraction of its range above the floor
#: (a drained road reads one quantum, 0.1 cm, for hours)
_FLOOR_BAND = 0.002
#: the fewest identical readings that can make a sensor "stuck" (see :func:`stuck_samples_needed`)
_STUCK_MIN_SAMPLES = 6
#: readings seen from which a spike is judged before the noise scale settles (at 8), on the ring alone
_EARLY_SPIKE_SEEN = 5
#: the early scale is this many times the robust scale of the few samples before the candidate
_EARLY_SCALE_FACTOR = 3.0


#: a sample clipped at the floor of a kind resting there is only a lower bound of its spike: judged at this
#: share of the spike limit (a methane spike of -5 %LEL from 1 %LEL reads 0.0, 4 noise scales off its line)
FLOOR_SPIKE_SHARE = 0.5
#: white noise of std σ: 1.37 × median |x[i] - (x[i-1] + x[i+1]) / 2| ≈ 1.13 σ ≈ E|Δ|, the noise scale's unit
_CURVATURE_TO_SCALE = 1.37


def _judge_spike(
    prof: SensorProfile[Any], st: SensorState, ts: int, prev: float, last: float, value: float, dev: float,
    scale: float, out: list[Finding],
) -> float:  # fmt: skip
    """The spike check's rare path, once the previous sample (``last``) stands ``dev`` off the line through its
    neighbours ``prev`` and ``value`` by more than the spike limit (half of it when clipped at a resting floor).

    The scale is confirmed against the ring of samples before the candidate: the largest of the running
    scale, 1.18 × their median |Δ| and 1.37 × their median distance from their own neighbours' line. The
    candidate is a spike when the sample after it comes back to the level before it, within half the limit
    or a fifth of ``dev``: a jump that stays (a leak's onset, a burst) is none. A sample clipped at the floor
    is one when its neighbours and the whole ring before it stand above the floor by more than the (halved)
    limit: a sensor that was near its floor reads it by itself. While one of the sensor's own incident
    conditions is on, its excursions are the incident's: no spike.

    Returns the scale the noise update clips this reading's change at: the running scale, or, for a sample
    that jumped away and straight back by more than the limit (both changes), the confirmed scale."""
    limit = prof.config.faults.spike_sigma * scale
    _, recent = st.recent()
    robust = 1.18 * float(np.median(np.abs(np.diff(recent[:-1])))) if recent.size > 4 else 0.0
    confirmed = max(scale, robust)  # a NaN in the ring leaves the running scale
    both_ways = abs(last - prev) > limit and abs(value - last) > limit
    clip_scale = confirmed if both_ways and abs(value - prev) < max(0.5 * limit, 0.2 * abs(last - prev)) else scale
    before = recent[:-1]  # the candidate (the newest sample) is not part of its own yardstick
    before = before[np.isfinite(before)]
    if before.size > 4:  # a zigzag of the ring (each sample off its neighbours' line) raises it too
        curvature = np.abs(before[1:-1] - 0.5 * (before[:-2] + before[2:]))
        confirmed = max(confirmed, _CURVATURE_TO_SCALE * float(np.median(curvature)))
    scale = confirmed
    floored = prof.rests_at_floor and last <= prof.vmin + prof.sat_eps
    limit = prof.config.faults.spike_sigma * scale * (FLOOR_SPIKE_SHARE if floored else 1.0)
    if abs(dev) <= limit or abs(value - prev) >= max(0.5 * limit, 0.2 * abs(dev)) or incident_on(st):
        return clip_scale
    near_floor = before.size < _EARLY_SPIKE_SEEN - 1 or min(value, float(before.min())) - prof.vmin <= limit
    if floored and near_floor:
        return clip_scale
    sigmas = abs(dev) / scale
    st.spike_ts = spike_at = st.last_ts
    report(
        prof,
        st,
        "fault.spike",
        _T3,
        _FAULT,
        "fault.spike:single_sample",
        ts,  # decided now, one sample after the spike; not back-dated (see check_silence)
        last,
        0.5,
        lambda: (
            f"spike: one sample {last:.6g} {prof.spec.unit} at ts {spike_at} is {sigmas:.0f}× the noise "
            f"scale {scale:.3g} off the line through its neighbours {prev:.6g} and {value:.6g}"
            f"{' (clipped at the floor)' if floored else ''}; no persistence"
        ),
        out,
    )
    return clip_scale


def _early_scale(prof: SensorProfile[Any], st: SensorState) -> float:
    """A cautious noise scale for the first readings of a sensor, when the running noise scale is still a
    plain mean that the candidate spike itself has inflated: three times the larger of 1.18 × median |Δ|
    and mean |Δ| of the samples before the candidate, floored at the sensor's noise floor."""
    _, recent = st.recent()
    before = recent[:-1]  # the candidate (the newest sample) is not part of its own yardstick
    before = before[np.isfinite(before)]
    if before.size < _EARLY_SPIKE_SEEN - 1:
        return math.inf
    changes = np.abs(np.diff(before))
    robust = max(1.18 * float(np.median(changes)), float(changes.mean()))  # the mean: quantised readings
    return _EARLY_SCALE_FACTOR * max(robust, prof.noise_floor)


def _resting(prof: SensorProfile[Any], value: float) -> bool:
    """Identical readings of ``value`` are a state, not a stuck sensor: pinned at an end of the range (the
    saturation check's), or a kind resting at its floor there or at exactly zero (no rain, no methane, a flow
    meter's low-flow cut-off on a pipe that stopped, also on a meter whose range runs negative)."""
    if value <= prof.vmin + prof.sat_eps or value >= prof.vmax - prof.sat_eps:
        return True
    return prof.rests_at_floor and (value == 0.0 or value <= prof.vmin + _FLOOR_BAND * (prof.vmax - prof.vmin))


def stuck_samples_needed(prof: SensorProfile[Any]) -> int:
    """Identical readings in a row that make a sensor "stuck" (besides spanning ``stuck_min_s``):
    ``stuck_samples``, but for a slower sensor the readings that span ``stuck_min_s`` plus one, at least 6.

    A sensor reporting every 15 min cannot show 12 identical readings in less than 2¾ h. Six is the floor
    because readings are quantised (0.01 °C, 0.01 %LEL): three equal readings in a row happen by chance.

    >>> from lifeline.detectors.config import RulesConfig
    >>> from lifeline.models import SensorKind, SensorSpec
    >>> from lifeline.registry import Registry
    >>> from lifeline.detectors import Detectors
    >>> spec = SensorSpec("N", SensorKind.NOISE_LEVEL, "a", "o", "d", 0, 140, interval_s=3600)
    >>> stuck_samples_needed(Detectors(Registry([spec])).profile("N"))
    6
    """
    cfg = prof.config.faults
    spanning = math.ceil(cfg.stuck_min_s * 1000.0 / max(prof.interval_ms, 1)) + 1
    return min(cfg.stuck_samples, max(_STUCK_MIN_SAMPLES, spanning))


def stuck_span_needed_ms(prof: SensorProfile[Any]) -> float:
    """How long identical readings must last to be "stuck": ``stuck_min_s``."""
    return prof.config.faults.stuck_min_s * 1000.0


def check_silence(prof: SensorProfile[Any], st: SensorState, watermark_ms: int, out: list[Finding]) -> None:
    """Dropout: no reading for ``silence_intervals × interval_s`` of event time behind the watermark."""
    if st.last_ts < 0:
        return
    overdue = watermark_ms - st.last_ts
    if overdue <= prof.silence_ms:
        return
    st.silent = 1
    st.faults |= SILENCE
    # stamped when the silence was noticed (the watermark), never back-dated: a finding must not carry
    # an event time its partition has already reported as complete (see lifeline.flows.stages)
    ts = watermark_ms
    report(
        prof,
        st,
        "fault.silence",
        _T3,
        _FAULT,
        "fault.silence:no_data",
        ts,
        st.last_value,
        0.5,
        lambda: (
            f"silence: no reading for {overdue / 1000:.0f} s of event time "
            f"(> {prof.silence_ms / 1000:.0f} s = {prof.config.faults.silence_intervals:g} reporting intervals); "
            f"last reading at ts {st.last_ts}"
        ),
        out,
    )


def end_silence(prof: SensorProfile[Any], st: SensorState, ts: int, value: float, out: list[Finding]) -> None:
    """A reading arrived after a reported silence: end the dropout fault."""
    st.silent = 0
    st.faults &= ~SILENCE
    report(prof, st, "fault.silence", 0, _FAULT, "fault.silence:no_data", ts, value, 0.0, lambda: "data resumed", out)


def check_drift(
    prof: SensorProfile[Any], st: SensorState, hourly: np.ndarray, ts: int, value: float, out: list[Finding]
) -> None:
    """Drift: a near-perfectly linear trend over ``drift_hours`` hourly means (R² ≥ drift_min_r2)
    whose total change exceeds ``drift_min_fraction_of_range`` of the physical range.

    Physical signals of the lifelines have a daily cycle, so a full day of hourly means is far from a
    straight line; a slow sensor drift (docs/domain.md#fault-behaviour: 0.5–3 % of range per week) is one.
    """
    cfg = prof.config.faults
    y = hourly[np.isfinite(hourly)]
    if y.shape[0] < cfg.drift_hours:
        return
    x = np.arange(y.shape[0], dtype=np.float64)
    xm, ym = x.mean(), y.mean()
    sxx = float(((x - xm) ** 2).sum())
    syy = float(((y - ym) ** 2).sum())
    if syy <= 0.0:
        return
    slope = float(((x - xm) * (y - ym)).sum()) / sxx
    r2 = slope * slope * sxx / syy
    change = abs(slope) * (y.shape[0] - 1)
    drifting = r2 >= cfg.drift_min_r2 and change >= cfg.drift_min_fraction_of_range * (prof.vmax - prof.vmin)
    if drifting and not st.faults & DRIFT:
        _set(
            prof,
            st,
            DRIFT,
            True,
            "fault.drift:linear_trend",
            ts,
            value,
            f"drift: hourly means change {slope:+.4g} {prof.spec.unit}/h linearly (R²={r2:.2f}) over "
            f"{y.shape[0]} h, {change:.3g} {prof.spec.unit} in total, with no daily cycle",
            out,
            change=slope,  # per hour: the group's veto of a drift same-kind peers share compares its sign
        )
    elif not drifting and st.faults & DRIFT and r2 < 0.5 * cfg.drift_min_r2:
        _set(prof, st, DRIFT, False, "fault.drift:linear_trend", ts, value, "trend gone", out)


def noise_scale(prof: SensorProfile[Any], st: SensorState) -> float:
    """The sensor's current noise scale (EW of |Δ|, floored)."""
    noise = st.noise
    return noise if not isnan(noise) and noise > prof.noise_floor else prof.noise_floor


#: the offset check watches sensors that report at most once a minute (a high-rate channel's jumps are its signal)
OFFSET_MIN_INTERVAL_MS = 60_000
_MS_PER_H = 3_600_000
#: hours before the jump's hour from which the hourly fit has a line, and a parabola (a daily cycle's bend)
_OFFSET_LINE_HOURS, _OFFSET_PARABOLA_HOURS = 4, 8
#: readings before the jump the offset fit needs (the ring holds :data:`RING`, the jump and those after it included)
_OFFSET_MIN_BEFORE = 6


def offset_checked(prof: SensorProfile[Any]) -> bool:
    """Whether the offset check watches this sensor: the check is on (``faults.offset_enabled``) and the sensor
    is a measurement reporting at most once a minute, of a kind whose one-reading steps are not physical and
    common (``faults.step_physical_kinds``)."""
    return (
        prof.config.faults.offset_enabled
        and prof.interval_ms >= OFFSET_MIN_INTERVAL_MS
        and not prof.step_physical
        and prof.kind not in STATE_KINDS
    )


def _candidate_jump(st: SensorState, ts: int, delta: float) -> None:
    """Remember a jump between two readings as the candidate start of an offset, unless a larger one is pending."""
    if st.jump_ts < 0 or abs(delta) > abs(st.jump_size):
        st.jump_ts, st.jump_size = ts, delta


def check_offset(prof: SensorProfile[Any], st: SensorState, ts: int, value: float) -> None:
    """Offset step, first test (readings): a jump between two readings after which the level stays shifted.

    A jump of more than ``offset_jump_sigma`` noise scales between two readings is a candidate (the larger
    one while one is pending). Once ``offset_confirm_samples`` readings (the jump's included) stand at the
    new level, the ring's readings are fitted with a straight line (a daily ramp, a slow trend) plus a step
    at the jump. The candidate passes when the step has the jump's sign, is ``offset_t`` standard errors
    away from 0 (the errors: the fit's residual spread, floored at the reading noise), at least
    ``offset_sigma`` reading-noise scales in size, and the one jump makes at least half of it and at most
    twice it (a level that moved over several readings is no offset); the hourly test
    (:func:`check_offset_hours`) then decides.
    """
    cfg = prof.config.faults
    # the readings at or after the jump (the ring's and this one), counted before anything is copied: most
    # calls wait for more readings
    after = int((st.ring[0, : st.ring_count] >= st.jump_ts).sum()) + int(ts >= st.jump_ts)
    if after < cfg.offset_confirm_samples:
        return
    ring_ts, ring_values = st.recent()
    times = np.append(ring_ts, float(ts))
    values = np.append(ring_values, value)
    jump = st.jump_size
    st.jump_ts, st.jump_size = -1, 0.0  # judged once, now
    ok = np.isfinite(values)
    before = int(ok[: values.shape[0] - after].sum())
    if after > cfg.offset_confirm_samples or before < _OFFSET_MIN_BEFORE or not ok[-after:].all():
        return
    x = np.arange(values.shape[0], dtype=np.float64)[ok]
    y = values[ok]
    design = np.column_stack([np.ones_like(x), x - x[-1], (np.arange(y.shape[0]) >= before).astype(np.float64)])
    coef, _, rank, _ = np.linalg.lstsq(design, y, rcond=None)
    if rank < 3:
        return
    resid = y - design @ coef
    reading_sd = noise_scale(prof, st) / 1.128  # E|Δ| of white noise = 1.128 σ
    spread = max(math.sqrt(float(resid @ resid) / (y.shape[0] - 3)), reading_sd)
    step = float(coef[2])
    t = step / (spread * math.sqrt(float(np.linalg.inv(design.T @ design)[2, 2])))
    if step * jump <= 0 or abs(t) < cfg.offset_t or abs(step) < cfg.offset_sigma * reading_sd:
        return
    if not 0.5 * abs(step) <= abs(jump) <= 2.0 * abs(step):
        return
    if incident_on(st):
        return
    if st.offset_ts < 0 or abs(step) > abs(st.offset_size):  # the larger while one waits for its hourly test
        st.offset_ts, st.offset_size = int(times[-after]), step


def check_offset_hours(
    prof: SensorProfile[Any], st: SensorState, hourly: np.ndarray, closed_hour: int, ts: int, value: float,
    out: list[Finding],
) -> None:  # fmt: skip
    """Offset step, second test (hours): the step the readings showed still stands in the hourly means.

    Once ``offset_after_hours`` whole hours have closed after the hour of a jump that passed
    :func:`check_offset`, the hourly means (oldest first, ``hourly``; ``closed_hour`` starts the newest)
    are fitted with a parabola (the bend of a daily cycle; a line with fewer than eight hours before the
    jump's hour, a level with fewer than four) plus a step after the jump's hour, which is left out. The
    jump is an offset when that step has its sign, is ``offset_hours_t`` standard errors from 0 and between
    half and three times the readings' step. A step while one of the sensor's own
    incident conditions is on is that incident's. An active offset ends at the next offset found (the
    sensor was re-zeroed, or stepped again).
    """
    if st.offset_ts < 0:
        return
    cfg = prof.config.faults
    k = cfg.offset_after_hours
    after = (closed_hour - (st.offset_ts - st.offset_ts % _MS_PER_H)) // _MS_PER_H
    if after < k:
        return
    step_readings = st.offset_size
    st.offset_ts, st.offset_size = -1, 0.0  # judged once, now
    y = hourly[np.isfinite(hourly)]
    before = min(y.shape[0] - k - 1, cfg.offset_before_hours)
    if after > k or before < 2:
        return
    y = y[y.shape[0] - (before + 1 + k) :]
    x = np.arange(y.shape[0], dtype=np.float64)
    keep = x != before
    z = (x - before) / max(before, 1)
    columns = [np.ones_like(x), z, x > before]  # level and step; a line from 4 hours before, a parabola from 8
    if before >= _OFFSET_PARABOLA_HOURS:
        columns.insert(2, z * z)
    elif before < _OFFSET_LINE_HOURS:
        del columns[1]
    design = np.column_stack(columns).astype(np.float64)[keep]
    coef, _, rank, _ = np.linalg.lstsq(design, y[keep], rcond=None)
    if rank < design.shape[1]:
        return
    resid = y[keep] - design @ coef
    reading_sd = noise_scale(prof, st) / 1.128
    per_hour = max(1.0, _MS_PER_H / max(prof.interval_ms, 1))
    dof = max(1, int(keep.sum()) - design.shape[1])
    spread = max(math.sqrt(float(resid @ resid) / dof), reading_sd / math.sqrt(per_hour))
    step = float(coef[-1])
    t = step / (spread * math.sqrt(float(np.linalg.inv(design.T @ design)[-1, -1])))
    if step * step_readings <= 0 or abs(t) < cfg.offset_hours_t:
        return
    if not 0.5 * abs(step_readings) <= abs(step) <= 3.0 * abs(step_readings):
        return
    if st.faults & OFFSET:
        _set(prof, st, OFFSET, False, "fault.offset:level_step", ts, value, f"stepped again ({step:+.4g})", out)
        return
    if incident_on(st):
        return
    _set(
        prof,
        st,
        OFFSET,
        True,
        "fault.offset:level_step",
        ts,
        value,
        f"offset: a jump between two readings shifted the level {step_readings:+.4g} {prof.spec.unit}, and "
        f"{k} h later the hourly means still stand {step:+.4g} {prof.spec.unit} off their line ({abs(t):.0f} "
        f"standard errors); no incident condition of this sensor on",
        out,
        step_readings,  # the step's sign and size: the group's veto (detectors/peer_steps.py) compares its peers
    )
