"""Quiet arrays: the vectorised path of the detectors, for one sensor's array or many sensors' at once.

An array of readings is *quiet* when nothing can happen in it: the sensor is past warm-up with no
open condition or fault, its kind's screen finds nothing, no jump exceeds the spike limit, no value
repeats long enough to mean "stuck", nothing touches the range limits. A quiet array only feeds the
window sums, the noise and level estimates and the ring buffer, all without a Python loop.

:func:`quiet_array` handles one sensor's array. A consume batch, though, carries a few hundred
readings of each of a hundred high-rate sensors, and per sensor that path costs some forty numpy
calls, far more than the arithmetic. :class:`QuietRuns` runs the same screens and window sums once
over the arrays of every sensor of a batch; what is left per sensor is :meth:`QuietRun.apply`, a few
assignments. An array it does not find plainly quiet is left to the per-sensor path, which takes
the same decisions itself, so both give the same state, statistics and findings, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .config import FaultRules
from .faults import FLOOR_SPIKE_SHARE, offset_checked
from .results import WindowStats
from .rulebase import SensorProfile
from .state import RING, SensorState
from .windows import add_array, begin_array, fold_window, fold_windows, window_sums

__all__ = ["BULK_MIN", "LVL_ALPHA", "WARM_UP", "QuietRun", "QuietRuns", "ew", "quiet_array"]

#: arrays at least this long try the vectorised path
BULK_MIN = 32
#: readings a sensor takes one at a time before the vectorised path may run
WARM_UP = 16
#: weight of a new reading in the level estimate
LVL_ALPHA = 0.125

_WEIGHTS: dict[float, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] = {}  # alpha → powers, weights


def ew(start: float, xs: npt.NDArray[np.float64], alpha: float) -> float:
    """Exponentially weighted mean after feeding ``xs`` (closed form, no Python loop).

    >>> ew(0.0, np.array([1.0, 1.0]), 0.5)
    0.75
    """
    n = xs.shape[0]
    cached = _WEIGHTS.get(alpha)
    if cached is None or cached[0].shape[0] < n + 1:
        powers = (1.0 - alpha) ** np.arange(max(n + 1, 4096), dtype=np.float64)  # (1 - alpha) ** k
        cached = _WEIGHTS[alpha] = (powers, alpha * powers)
    powers, weights = cached
    return float(start * powers[n] + weights[n - 1 :: -1] @ xs) if n else start


def may_be_quiet(prof: SensorProfile[Any], st: SensorState, values: npt.NDArray[np.float64]) -> bool:
    """The state allows the vectorised path: past warm-up, nothing open; then the kind's screen decides."""
    if st.seen < WARM_UP or st.emitted or st.faults or st.equal_run or st.sat_run:
        return False
    return prof.quiet is not None and prof.quiet(prof, st, values)


def noise_scale(prof: SensorProfile[Any], st: SensorState) -> float:
    """The sensor's noise estimate, floored."""
    return st.noise if st.noise > prof.noise_floor else prof.noise_floor


def quiet_array(
    prof: SensorProfile[Any], st: SensorState, ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
    stats: list[WindowStats],
) -> bool:  # fmt: skip
    """One sensor's array: fold it in if quiet; ``False`` (nothing changed) when the scalar path is needed."""
    if not may_be_quiet(prof, st, values):
        return False
    cfg = prof.config.faults
    scale = noise_scale(prof, st)
    deltas = np.empty_like(values)
    deltas[0] = values[0] - st.last_value
    np.subtract(values[1:], values[:-1], out=deltas[1:])
    np.abs(deltas, out=deltas)
    zero = deltas == 0.0
    trailing_equal = 0
    any_zero = bool(zero.any())
    if any_zero:
        # Quantised sensors repeat a value now and then; only a run of repeats can mean "stuck",
        # and runs are left to the scalar path, which counts them exactly.
        edges = np.flatnonzero(np.diff(np.concatenate(([0], zero.view(np.int8), [0]))))
        runs = edges[1::2] - edges[::2]
        if int(runs.max()) + 1 >= _stuck_run(cfg):
            return False
        trailing_equal = int(runs[-1]) if bool(zero[-1]) else 0
    limit = cfg.spike_sigma * scale
    if float(deltas.max()) > (FLOOR_SPIKE_SHARE * limit if prof.rests_at_floor else limit):
        # a spike candidate, as the scalar path's gate: a sample off the line through its neighbours by
        # more than the limit (half of it when clipped at a resting floor); the scalar path judges it
        ext = np.concatenate(([float(st.ring[1, (st.ring_next - 2) % RING]), st.last_value], values))
        if bool(_spike_candidates(ext[:-2], ext[1:-1], ext[2:], limit, _floor_level(prof)).any()):
            return False
    if offset_checked(prof) and float(deltas.max()) > cfg.offset_jump_sigma * scale:
        return False  # a candidate offset jump: the scalar path remembers it
    if float(values.max()) >= prof.vmax - prof.sat_eps:
        return False
    if not prof.rests_at_floor and float(values.min()) <= prof.vmin + prof.sat_eps:
        return False
    previous_ts = st.last_ts
    add_array(st, prof.window_ms, ts, values, stats)
    moving = deltas[~zero] if any_zero else deltas  # like the scalar path: repeats do not feed the noise
    _settle(prof, st, ts, values, moving, scale, trailing_equal, previous_ts)
    return True


def _stuck_run(cfg: FaultRules) -> int:
    """Repeats in a row (plus one) from which the scalar path has to judge "stuck"."""
    return max(2, cfg.stuck_samples // 2)


def _settle(
    prof: SensorProfile[Any], st: SensorState, ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
    moving: npt.NDArray[np.float64], scale: float, trailing_equal: int, previous_ts: int,
) -> None:  # fmt: skip
    """The rest of a quiet array's update: noise and level estimates, ring buffer, counters."""
    if moving.shape[0]:
        st.noise = ew(st.noise, np.minimum(moving, 4.0 * scale), 1.0 / prof.config.faults.noise_tau_samples)
    st.level = ew(st.level, values, LVL_ALPHA)
    st.push_last(ts, values)
    st.last_ts = int(ts[-1])
    st.prev_value = float(values[-2]) if values.shape[0] > 1 else st.last_value
    st.last_value = float(values[-1])
    st.seen += values.shape[0]
    st.run_t3 = st.run_t2 = st.run_t1 = 0
    st.equal_run = trailing_equal
    if trailing_equal:
        first = values.shape[0] - trailing_equal  # index of the first repeated sample
        st.equal_since = int(ts[first - 1]) if first >= 1 else previous_ts


@dataclass(frozen=True, slots=True)
class QuietRun:
    """One sensor's array that :class:`QuietRuns` found quiet: :meth:`apply` folds it in."""

    runs: QuietRuns
    at: int  # position among the screened arrays

    def apply(
        self, prof: SensorProfile[Any], st: SensorState, ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
        stats: list[WindowStats],
    ) -> None:  # fmt: skip
        """Update ``st`` with its array ``ts``/``values`` as :func:`quiet_array` would (state unchanged
        since the screening)."""
        self.runs.apply(self.at, prof, st, ts, values, stats)


class QuietRuns:
    """Screens and window sums of many sensors' arrays at once; changes no state.

    ``ts``/``values`` hold the readings of several sensors grouped by sensor; array ``i`` is
    ``[starts[i], stops[i])`` and belongs to ``states[i]`` (with profile ``profs[i]``).
    :meth:`get` tells for each array whether it is quiet; each state may change only through
    :meth:`QuietRun.apply` afterwards, and only if nothing else changed it in between.
    """

    def __init__(
        self, cfg: FaultRules, profs: Sequence[SensorProfile[Any]], states: Sequence[SensorState],
        ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64], starts: Sequence[int], stops: Sequence[int],
    ) -> None:  # fmt: skip
        chosen = [
            i
            for i, (prof, st, start, stop) in enumerate(zip(profs, states, starts, stops, strict=True))
            if stop - start >= BULK_MIN and not st.silent and may_be_quiet(prof, st, values[start:stop])
        ]
        self._position = {run: at for at, run in enumerate(chosen)}
        self._quiet: list[bool] = []
        #: arrays that passed the cheap checks and were screened together
        self.screened = len(chosen)
        if chosen:
            self._screen(cfg, [profs[i] for i in chosen], [states[i] for i in chosen], ts, values,
                         np.array([starts[i] for i in chosen]), np.array([stops[i] for i in chosen]))  # fmt: skip

    @property
    def found_quiet(self) -> int:
        """Screened arrays found quiet (the rest had a repeat run, a spike or a range limit)."""
        return sum(self._quiet)

    def get(self, run: int) -> QuietRun | None:
        """Array ``run`` if it is quiet, else ``None`` (the per-sensor path decides)."""
        at = self._position.get(run)
        return QuietRun(self, at) if at is not None and self._quiet[at] else None

    def _screen(
        self, cfg: FaultRules, profs: list[SensorProfile[Any]], states: list[SensorState],
        ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
        starts: npt.NDArray[np.intp], stops: npt.NDArray[np.intp],
    ) -> None:  # fmt: skip
        lengths = stops - starts
        first = np.cumsum(lengths) - lengths  # where each array begins in the gathered readings
        end = first + lengths
        total = int(lengths.sum())
        gather = np.repeat(starts - first, lengths) + np.arange(total)
        t, v = ts[gather], values[gather]

        # deltas and repeats, as quiet_array computes them per array
        last_v = np.array([st.last_value for st in states])
        deltas = np.empty(total)
        np.subtract(v[1:], v[:-1], out=deltas[1:])
        deltas[first] = v[first] - last_v
        np.abs(deltas, out=deltas)
        zero = deltas == 0.0
        any_zero = np.logical_or.reduceat(zero, first)
        longest, trailing = _repeat_runs(zero, first, end)
        scale = np.array([noise_scale(prof, st) for prof, st in zip(profs, states, strict=True)])
        top = np.maximum.reduceat(v, first)
        bottom = np.minimum.reduceat(v, first)
        limit = cfg.spike_sigma * scale
        floor_level = np.array([_floor_level(p) for p in profs])
        gate = np.where(np.isfinite(floor_level), FLOOR_SPIKE_SHARE * limit, limit)
        spiky = np.maximum.reduceat(deltas, first) > gate
        if spiky.any():  # a big jump; a spike candidate only if a sample stands off its neighbours' line
            spiky &= _spikes(states, v, first, np.repeat(limit, lengths), np.repeat(floor_level, lengths))
        checked = np.array([offset_checked(p) for p in profs])
        if checked.any():  # a candidate offset jump: the scalar path remembers it
            spiky |= checked & (np.maximum.reduceat(deltas, first) > cfg.offset_jump_sigma * scale)
        saturated = top >= np.array([p.vmax - p.sat_eps for p in profs])
        floored = bottom <= np.array([-np.inf if p.rests_at_floor else p.vmin + p.sat_eps for p in profs])
        stuck = longest + 1 >= _stuck_run(cfg)
        self._quiet = (~(spiky | saturated | floored | stuck)).tolist()

        # window sums of every (sensor, window) segment, as add_array computes them per array
        window_ms = np.repeat(np.array([p.window_ms for p in profs], dtype=np.int64), lengths)
        window_start = t - t % window_ms
        new_window = np.empty(total, dtype=bool)
        new_window[0] = True
        np.not_equal(window_start[1:], window_start[:-1], out=new_window[1:])
        new_window[first] = True
        seg = np.flatnonzero(new_window)
        counts = np.diff(np.append(seg, total))
        first_seg = np.searchsorted(seg, first)
        last_seg = np.searchsorted(seg, end) - 1
        opens_at = window_start[first].tolist()
        merge = [st.window_start == at and st.window_count > 0 for st, at in zip(states, opens_at, strict=True)]
        refs = v[seg]
        for at, (st, merging) in enumerate(zip(states, merge, strict=True)):
            if merging:
                refs[first_seg[at]] = st.window_ref
        self._sums = window_sums(v, np.repeat(refs, counts), t - np.repeat(window_start[seg], counts), seg)
        self._lo = np.minimum.reduceat(v, seg)
        self._hi = np.maximum.reduceat(v, seg)
        self._last = v[np.append(seg[1:], total) - 1]
        self._window_starts = window_start[seg]
        self._counts, self._refs = counts, refs
        self._first_seg, self._last_seg = first_seg.tolist(), last_seg.tolist()
        self._opens_at = opens_at
        self._deltas, self._zero, self._any_zero = deltas, zero, any_zero.tolist()
        self._first, self._end = first.tolist(), end.tolist()
        self._scale, self._trailing = scale.tolist(), trailing.tolist()

    def apply(
        self, at: int, prof: SensorProfile[Any], st: SensorState, ts: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64], stats: list[WindowStats],
    ) -> None:  # fmt: skip
        """Fold screened array ``at`` into its state (see :meth:`QuietRun.apply`)."""
        previous_ts = st.last_ts
        opens_at = self._opens_at[at]
        merge = begin_array(st, prof.window_ms, opens_at, stats)
        a, b = self._first_seg[at], self._last_seg[at]
        if a == b:  # the whole array in one window
            s1, s2, sx, sxx, sxv = self._sums[:, a].tolist()
            fold_window(st, opens_at, merge, values.shape[0], float(self._refs[a]), s1, s2, sx, sxx, sxv,
                        float(self._lo[a]), float(self._hi[a]), float(self._last[a]))  # fmt: skip
        else:
            span = slice(a, b + 1)
            fold_windows(
                st, prof.window_ms, self._window_starts[span], self._counts[span], self._refs[span],
                self._sums[:, span], self._lo[span], self._hi[span], self._last[span], merge, stats,
            )  # fmt: skip
        deltas = self._deltas[self._first[at] : self._end[at]]
        moving = deltas[~self._zero[self._first[at] : self._end[at]]] if self._any_zero[at] else deltas
        _settle(prof, st, ts, values, moving, self._scale[at], self._trailing[at], previous_ts)


def _floor_level(prof: SensorProfile[Any]) -> float:
    """Readings at or below this are clipped at the floor of a kind resting there (``-inf``: not such a kind)."""
    return prof.vmin + prof.sat_eps if prof.rests_at_floor else -np.inf


def _spike_candidates(
    before: npt.NDArray[np.float64],
    sample: npt.NDArray[np.float64],
    after: npt.NDArray[np.float64],
    limit: npt.NDArray[np.float64] | float,
    floor_level: npt.NDArray[np.float64] | float,
) -> npt.NDArray[np.bool_]:
    """Where the scalar spike check (``faults.check_reading``) looks further: ``sample`` stands off the line
    through ``before`` and ``after`` by more than ``limit``, or by half of it when clipped at ``floor_level``."""
    dev = np.abs(sample - 0.5 * (before + after))
    share = np.where(sample <= floor_level, FLOOR_SPIKE_SHARE, 1.0)
    candidates: npt.NDArray[np.bool_] = dev > share * limit
    return candidates


def _spikes(
    states: list[SensorState],
    v: npt.NDArray[np.float64],
    first: npt.NDArray[np.intp],
    limit: npt.NDArray[np.float64],
    floor_level: npt.NDArray[np.float64],
) -> npt.NDArray[np.bool_]:
    """Per array: whether it holds a spike candidate, judged exactly as :func:`quiet_array` judges it.

    Reading ``i`` is preceded by ``before`` and ``before2`` (the sensor's last two values at an
    array's start); the candidate is ``before``, against the line through ``before2`` and reading ``i``.
    """
    before = np.empty_like(v)
    before[1:] = v[:-1]
    before[first] = [st.last_value for st in states]
    before2 = np.empty_like(v)
    before2[2:] = v[:-2]
    before2[first] = [float(st.ring[1, (st.ring_next - 2) % RING]) for st in states]
    before2[first + 1] = before[first]
    spike: npt.NDArray[np.bool_] = np.logical_or.reduceat(
        _spike_candidates(before2, before, v, limit, floor_level), first
    )
    return spike


def _repeat_runs(
    zero: npt.NDArray[np.bool_], first: npt.NDArray[np.intp], end: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per array (``[first, end)``): the longest run of repeats (``zero``) and the run it ends with."""
    longest = np.zeros(first.shape[0], dtype=np.int64)
    trailing = np.zeros(first.shape[0], dtype=np.int64)
    if not zero.any():
        return longest, trailing
    before = np.empty_like(zero)
    before[0] = False
    before[1:] = zero[:-1]
    before[first] = False  # a run never continues from the previous array
    after = np.empty_like(zero)
    after[-1] = False
    after[:-1] = zero[1:]
    after[end - 1] = False
    run_start = np.flatnonzero(zero & ~before)
    run_end = np.flatnonzero(zero & ~after)
    lengths = run_end - run_start + 1
    np.maximum.at(longest, np.searchsorted(first, run_start, side="right") - 1, lengths)
    ends_repeating = np.flatnonzero(zero[end - 1])
    trailing[ends_repeating] = lengths[np.searchsorted(run_end, end[ends_repeating] - 1)]
    return longest, trailing
