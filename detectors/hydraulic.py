"""Water detection for one DMA on learned baselines: bursts within minutes, background leaks within days.

Fed one 5-minute step at a time with the DMA's consumption (the derived meter: inflows − tank fills and
exports), its pressure loggers, tank levels and pump/valve states, :class:`DmaLeakDetector` learns, with no
look-ahead:

* **consumption per demand slot** — the median of the same 5-minute slot of the last ``slot_days`` clean
  days of the same day type; the burst test takes, for the 15 steps it judges, one set of such days clean at
  all of them, so its residuals never jump where an earlier day's gap or held burst begins;
* **pressure residuals** — each logger regressed on consumption, consumption², tank levels and pump/valve
  states (least squares on the last clean days, refitted daily), so pump starts, tank cycles and the daily
  head-loss swing are explained, not flagged.

*Burst*: on ``burst_persistence`` steps in a row, the residual consumption of the last ``step_window`` steps
rose over its median of the ``reference_steps`` before (``z`` robust sigmas) and the loggers' pressure
statistic (a matched filter on their residual change, calibrated on its own history: ``z_p``) corroborates
(``(z + z_p) / √2 ≥ burst_z``, ``z > 1``); or the flow step alone is ≥ ``solo_z``; or the loggers alone give
``z_p ≥ pressure_solo_z`` and the consumption did not clearly fall (``z ≥ pressure_solo_min_flow_z``): a burst
of a few m³/h in a DMA of thousands is under the noise of the demand, not of the loggers. ``z_p`` is taken
net of its high around the same time of the previous ``recurring_days`` days when that high reached
``recurring_min_z``: a scheduled valve or a tank's daily refill moves the loggers every day, a burst once.
The alert holds while the consumption stays above the level before the step (at most ``burst_hold_h``), one
alert per burst.

*Background leak* (night flow): the mean consumption of each local night window (02:00–04:00) against the
``night_quantile`` of the previous ``night_days`` clean nights; a night ``night_z`` robust sigmas (and
``night_min_m3h``) above it is flagged. Flagged nights never enter the baseline, so a leak cannot become
normal; a zero baseline never flags; ``night_open`` flagged nights open one standing alert that is refreshed
every step (it never clears at night and re-opens in the morning) until ``night_close`` clean nights.
*A further leak* under a standing alert: a night ``night_z`` sigmas (and ``night_min_m3h``) above the newest
standing alert's level, on ``night_open`` nights in a row, opens another standing alert of its own
(``Finding.incident`` "2", "3", ...; at most ``further_leaks_max`` of them), whose evidence says it may also be
the standing leak growing; otherwise a DMA that carries one unrepaired leak is blind to every later one. The
newest alert's level is the median of the last ``night_days`` nights, its opening level standing for those before
it had them, of which every flagged night within the limit of it counts: it moves once half of them stood higher
or lower, so it follows the season's night use but not a leak growing over days; the older alerts' levels move
with it. The newest of several clears alone when the nights, still flagged, fall as far below its level on
``night_close`` nights in a row (one leak repaired; the flow cannot tell which, so the newest alert goes); all of
them clear after ``night_close`` nights back at the clean baseline.

Pump and valve operations cannot raise either: the consumption meter is invariant to them by mass balance,
and the pressure test ignores the steps around a state change.

Each opening names where: with a hydraulic model (:mod:`.localisation`), the 3 nodes whose leak signature
best explains the loggers' residual change, with their distance to the nearest logger; without one, the
loggers that moved most.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from lifeline.models import AlertKind, Tier

from .calendar import RestDays
from .config import LeakConfig
from .localisation import Candidate, SensitivityModel, moved_most, nodes_text, rank_nodes
from .results import Finding

__all__ = ["DmaLeakDetector", "LeakConfig", "Located"]

Floats = npt.NDArray[np.float64]
_STEP_MS = 300_000
_DAY_STEPS = 288
_M_HEAD_PER_MPA = 1.0 / 0.00980665
_MAD = 1.4826
_KEEP_LOCATED = 1000


@dataclass(frozen=True)
class Located:
    """Where an opened alert says the leak is (for the alert's evidence and the benchmark)."""

    ts: int
    kind: AlertKind
    candidates: list[Candidate]
    moved: list[tuple[str, float]]


@dataclass
class _Burst:
    since: int
    reference: float
    step_m3h: float


@dataclass
class _Standing:
    """One standing background-leak alert: its incident ("" for the first, "2", "3", ... for further leaks),
    the evidence it is refreshed with, where its opening said the leak is, and the mean night flow and pressure
    residuals of the nights that opened it (NaN / ``None``: not known, as after a restore from an older layout)."""

    incident: str
    text: str
    location: str
    level: float = float("nan")
    res: Floats | None = None
    #: the nights the level is the median of: its opening level, then each flagged night at the level
    nights: list[float] = field(default_factory=list)

    def follow(self, night: float, keep: int) -> None:
        """A night at this alert's level (neither a further leak's nor a repair's): the level becomes the median of the
        last ``keep`` nights, its opening level standing for the nights before it had ``keep``. So it moves only once
        half of them stood higher (or lower): it follows a slow change of the whole night flow (the season's night
        use), not a leak that grows over days, which passes the limit first."""
        nights = self.nights or [self.level]
        self.nights = [*[nights[0]] * (keep - len(nights)), *nights, night][-keep:]
        self.level = float(np.median(self.nights))

    def shift(self, change: float) -> None:
        """The whole night flow moved by ``change`` while a newer alert was judged: this level moves with it."""
        self.level += change
        self.nights = [night + change for night in self.nights]

    def __setstate__(self, state: dict[str, object]) -> None:
        """An alert pickled before its level followed the nights: its level is its one night."""
        level = state.get("level", float("nan"))
        state.setdefault("nights", [level] if isinstance(level, float) and level == level else [])  # its opening level
        self.__dict__.update(state)


@dataclass
class _History:
    """The DMA's last steps, one entry per 5-minute step in every list (appended per step, trimmed at the front).

    Pickled packed: each list as one array (the per-step vectors as the rows of one 2-D array), so a snapshot
    of a month of steps writes a few buffers instead of some 25,000 small arrays (docs/architecture.md#recovery:
    a Net3 DMA after 30 days pickles in 25 ms instead of about 150 ms).
    """

    ts: list[int] = field(default_factory=list)
    flow: list[float] = field(default_factory=list)
    flow_res: list[float] = field(default_factory=list)
    flow_step: list[float] = field(default_factory=list)
    pressure_m: list[Floats] = field(default_factory=list)
    pressure_res: list[Floats] = field(default_factory=list)
    features: list[Floats] = field(default_factory=list)
    clean: list[bool] = field(default_factory=list)
    burst: list[bool] = field(default_factory=list)  # held by an open burst (a standing leak's steps stay clean)
    state_change: list[bool] = field(default_factory=list)
    pressure_stat: dict[int, float] = field(default_factory=dict)

    def __getstate__(self) -> dict[str, object]:
        """The lists packed into arrays (``_PACKED`` marks the layout); vectors of unequal length stay a list."""
        state: dict[str, object] = {_PACKED: 1, "pressure_stat": self.pressure_stat}
        for name in _SCALAR_SERIES:
            state[name] = np.asarray(getattr(self, name), dtype=_SCALAR_SERIES[name])
        for name in _VECTOR_SERIES:
            rows: list[Floats] = getattr(self, name)
            state[name] = _stacked(rows)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        """Unpack a packed history, or take a history pickled field by field (before packing) as it is."""
        if _PACKED not in state:
            self.__dict__.update(state)
            return
        self.pressure_stat = state["pressure_stat"]  # type: ignore[assignment]
        for name in _SCALAR_SERIES:
            setattr(self, name, state[name].tolist())  # type: ignore[attr-defined]
        for name in _VECTOR_SERIES:
            packed = state[name]
            setattr(self, name, [row.copy() for row in packed] if isinstance(packed, np.ndarray) else packed)


_PACKED = "_packed"
#: the per-step scalars of a history and the dtype each is packed as
_SCALAR_SERIES: dict[str, type] = {
    "ts": np.int64, "flow": np.float64, "flow_res": np.float64, "flow_step": np.float64, "clean": np.bool_,
    "burst": np.bool_, "state_change": np.bool_,
}  # fmt: skip
#: the per-step vectors of a history (loggers' pressures and residuals, regression features)
_VECTOR_SERIES = ("pressure_m", "pressure_res", "features")


def _stacked(rows: list[Floats]) -> Floats | list[Floats]:
    """``rows`` (vectors of one length) as the rows of one array; the list itself when they differ or are none."""
    if not rows or len({row.shape for row in rows}) != 1:
        return rows
    return np.stack(rows)


class DmaLeakDetector:
    """Bursts and background leaks of one DMA (see the module docstring)."""

    def __init__(
        self,
        *,
        group_id: str,
        meter_id: str,
        logger_ids: list[str],
        logger_nodes: list[str] | None = None,
        sensitivity: SensitivityModel | None = None,
        config: LeakConfig | None = None,
    ) -> None:
        self.group_id = group_id
        self.meter_id = meter_id
        self.logger_ids = logger_ids
        self.logger_nodes = logger_nodes or []
        self.sensitivity = sensitivity
        self.cfg = config or LeakConfig()
        self.located: list[Located] = []
        self._h = _History()
        self._coef: Floats | None = None
        self._fitted_day = -1
        self._burst: _Burst | None = None
        self._run = 0
        self._night = -1
        self._night_flows: list[float] = []
        self._night_res: list[Floats] = []
        self._nights: list[float] = []  # clean night means
        self._night_res_base: list[Floats] = []
        self._flagged_nights = 0
        self._clean_nights = 0
        self._standing: list[_Standing] = []
        #: the flagged nights in a row (mean flow, pressure residuals): the newest standing alert's opening nights
        self._flagged_run: list[tuple[float, Floats]] = []
        #: nights in a row above the newest standing alert's level by the night limit (a further leak at
        #: ``night_open``), and flagged nights in a row below it by the limit (its leak repaired at ``night_close``)
        self._further: list[tuple[float, Floats]] = []
        self._below_newest = 0
        self._last_states: Floats | None = None
        self._scale_at = -1
        self._scale = float("nan")
        self._p_scale_at = -1
        self._p_cal_at = -1
        self._p_cal: tuple[float, float] | None = None
        self._p_scale: Floats | None = None
        #: (ts, flow z, pressure z) of every judged step still in the history, for benchmarks and tuning
        self.trace: list[tuple[int, float, float]] = []
        #: steps of history kept: the same-slot baseline looks back 4 × ``slot_days`` days, the others less
        self._keep = 4 * self.cfg.slot_days * _DAY_STEPS + 1

    # -- one step ------------------------------------------------------------------------------

    def step(self, ts: int, consumption: float, pressures_mpa: Floats, levels: Floats, states: Floats) -> list[Finding]:
        """Feed one 5-minute step; return the findings it raises, refreshes or ends."""
        h = self._h
        pressure_m = np.asarray(pressures_mpa, dtype=np.float64) * _M_HEAD_PER_MPA
        changed = self._last_states is not None and bool(np.any(np.abs(states - self._last_states) > 0.5))
        self._last_states = np.asarray(states, dtype=np.float64).copy()
        features = np.concatenate(([1.0, consumption / 1000.0, (consumption / 1000.0) ** 2], levels, states))
        h.ts.append(ts)
        h.flow.append(consumption)
        h.features.append(features)
        h.pressure_m.append(pressure_m)
        h.state_change.append(changed)
        h.clean.append(True)
        h.burst.append(False)
        k = len(h.ts) - 1
        baseline = self._slot_baseline(k)
        h.flow_res.append(consumption - baseline if baseline == baseline else 0.0)
        self._refit(ts)
        h.pressure_res.append(
            pressure_m - features @ self._coef if self._coef is not None else np.zeros_like(pressure_m)
        )
        out: list[Finding] = []
        self._burst_step(k, ts, baseline == baseline, out)
        self._night_step(k, ts, consumption, out)
        if len(h.ts) >= self._keep + _DAY_STEPS:
            self._trim(len(h.ts) - self._keep)
        return out

    def gap(self, ts: int) -> None:
        """A step without data (an outage longer than its feeder bridges): kept as a placeholder, so every later
        step still finds the same slot of earlier days at the same distance. It never enters a baseline and
        judges nothing; an open burst or standing leak stays open. No-op before the first step."""
        h = self._h
        if not h.ts:
            return
        h.ts.append(ts)
        h.flow.append(float("nan"))
        h.flow_res.append(float("nan"))
        h.flow_step.append(float("nan"))
        h.pressure_m.append(np.full_like(h.pressure_m[-1], np.nan))
        h.pressure_res.append(np.full_like(h.pressure_res[-1], np.nan))
        h.features.append(np.full_like(h.features[-1], np.nan))
        h.clean.append(False)
        h.burst.append(False)
        h.state_change.append(False)
        if len(h.ts) >= self._keep + _DAY_STEPS:
            self._trim(len(h.ts) - self._keep)

    def _trim(self, drop: int) -> None:
        """Forget the oldest ``drop`` steps: no baseline looks back further than ``_keep`` steps, so the
        findings are those of an untrimmed history (memory stays bounded on a run of any length)."""
        h = self._h
        for name in ("ts", "flow", "flow_res", "flow_step", "pressure_m", "pressure_res", "features", "clean",
                     "burst", "state_change"):  # fmt: skip
            del getattr(h, name)[:drop]
        h.pressure_stat = {i - drop: v for i, v in h.pressure_stat.items() if i >= drop}
        self._scale_at = max(self._scale_at - drop, -1) if self._scale_at >= 0 else -1
        self._p_scale_at = max(self._p_scale_at - drop, -1) if self._p_scale_at >= 0 else -1
        self._p_cal_at = max(self._p_cal_at - drop, -1) if self._p_cal_at >= 0 else -1
        first = h.ts[0]
        self.trace = [t for t in self.trace if t[0] >= first]
        del self.located[: max(0, len(self.located) - _KEEP_LOCATED)]

    def __setstate__(self, state: dict[str, object]) -> None:
        """A detector pickled before ``_History.burst`` existed: its held steps are unknown, none is marked. One
        pickled before further leaks (a flag for its one standing alert): that alert, whose level for further leaks
        is its first flagged night after the restore (its opening nights are not known)."""
        standing = state.get("_standing")
        if isinstance(standing, bool):
            text, location = state.pop("_standing_text", ""), state.pop("_standing_location", "")
            state["_standing"] = [_Standing("", str(text), str(location))] if standing else []
            state.update(_flagged_run=[], _further=[])
        state.setdefault("_below_newest", 0)
        self.__dict__.update(state)
        h = self._h
        if not hasattr(h, "burst"):
            h.burst = [False] * len(h.ts)

    def __getstate__(self) -> dict[str, object]:
        """Pickled without the sensitivity model: the owner re-attaches it (it is rebuilt from the model file)."""
        state = dict(self.__dict__)
        state["sensitivity"] = None
        return state

    # -- learned baselines ---------------------------------------------------------------------

    def _slot_baseline(self, k: int) -> float:
        """Median of the same slot on the previous days of the same day type (weekday / weekend)."""
        h = self._h
        weekend = self._weekend(h.ts[k])
        values: list[float] = []
        for d in range(1, 4 * self.cfg.slot_days + 1):
            i = k - d * _DAY_STEPS
            if i < 0 or len(values) >= self.cfg.slot_days:
                break
            if h.clean[i] and self._weekend(h.ts[i]) == weekend:
                values.append(h.flow[i])
        return float(np.median(values)) if len(values) >= 2 else float("nan")

    def _weekend(self, ts: int) -> bool:
        """Whether ``ts`` falls on a rest day: a weekend or a holiday (``[rules] holidays`` / ``workdays``)."""
        return self._rest_days().is_rest(self._local_day(ts))

    def _rest_days(self) -> RestDays:
        """The calendar of ``[rules] holidays`` and ``workdays`` (parsed once per list, cached by :class:`RestDays`)."""
        cfg = self.cfg
        return RestDays.parse(getattr(cfg, "holidays", ()), getattr(cfg, "workdays", ()))

    def _refit(self, ts: int) -> None:
        h, cfg = self._h, self.cfg
        day = self._local_day(ts)
        if day == self._fitted_day or len(h.ts) < cfg.learn_days * _DAY_STEPS:
            return
        self._fitted_day = day
        lo = max(0, len(h.ts) - cfg.slot_days * _DAY_STEPS)
        rows = [i for i in range(lo, len(h.ts)) if h.clean[i]]
        if len(rows) < _DAY_STEPS:
            return
        x = np.array([h.features[i] for i in rows])
        y = np.array([h.pressure_m[i] for i in rows])
        ridge = 1e-6 * np.eye(x.shape[1])
        self._coef = np.linalg.solve(x.T @ x + ridge, x.T @ y)

    def _local_day(self, ts: int) -> int:
        return int((ts + self.cfg.local_utc_offset_h * 3_600_000) // 86_400_000)

    def _local_hour(self, ts: int) -> float:
        return ((ts + self.cfg.local_utc_offset_h * 3_600_000) % 86_400_000) / 3_600_000

    # -- bursts --------------------------------------------------------------------------------

    def _burst_step(self, k: int, ts: int, has_baseline: bool, out: list[Finding]) -> None:
        h, cfg = self._h, self.cfg
        w, ref = cfg.step_window, cfg.reference_steps
        if k < w + ref or not has_baseline:
            h.flow_step.append(float("nan"))
            return
        unexplained = self._unexplained(k - w - ref + 1, k + 1)
        recent = float(np.mean(unexplained[-w:]))
        before = float(np.median(unexplained[:-w]))
        if recent != recent or before != before:  # a gap in the windows: judge again once it has passed
            h.flow_step.append(float("nan"))
            self._run = 0
            return
        h.flow_step.append(recent - before)
        if self._burst is not None:
            self._hold_burst(k, ts, recent, out)
            return
        scale = self._step_scale(k)
        if scale != scale:
            return
        z = (recent - before) / scale
        if h.burst[k - 1]:  # just after a burst ended: let the reference settle first
            self._run = 0
            return
        change = self._pressure_change(k)
        quiet_states = not any(h.state_change[k - w - ref : k + 1])
        raw_p = self._pressure_z(k, change) if quiet_states and change is not None else float("nan")
        h.pressure_stat[k] = raw_p
        z_p = self._calibrated(k, raw_p)
        if z_p == z_p and cfg.recurring_days > 0:  # what recurs at this time of day is taken off
            recurring = self._recurring(k)
            z_p = z_p - recurring if recurring >= cfg.recurring_min_z else z_p
        # corroborated: flow and pressure together; without a pressure verdict the flow alone must be strong
        corroborated = z_p == z_p and (z + max(z_p, 0.0)) / np.sqrt(2.0) >= cfg.burst_z and z > 1.0
        # the loggers alone: a strong fall, and a consumption that did not clearly fall
        pressure_led = z_p == z_p and z_p >= cfg.pressure_solo_z and z >= cfg.pressure_solo_min_flow_z
        self.trace.append((ts, z, z_p))
        self._run = self._run + 1 if corroborated or pressure_led or z >= cfg.solo_z else 0
        if self._run < cfg.burst_persistence:
            return
        drops = 0
        if change is not None and quiet_states:
            drops = int(np.sum(change / self._pressure_scale(k) <= -2.5))
        self._burst = _Burst(ts, before, recent - before)
        where, location = self._locate(ts, AlertKind.PIPE_BURST, change if change is not None else np.zeros(0))
        text = (
            f"DMA consumption {recent - before:+.1f} m3/h over the {ref * 5} min before the last {w * 5} min "
            f"(z {z:.1f}, robust sigma {scale:.2f} m3/h); pressure z {z_p:.1f}, {drops} logger(s) fell ≥2.5 sigma; "
            f"{where}"
        )
        self._emit(
            out, AlertKind.PIPE_BURST, Tier.T2, ts, recent - before, min(1.0, z / 10), text, "water.dma.burst", location
        )

    def _hold_burst(self, k: int, ts: int, recent: float, out: list[Finding]) -> None:
        burst = self._burst
        assert burst is not None
        h = self._h
        elevated = recent - burst.reference >= 0.5 * burst.step_m3h
        if elevated and ts - burst.since < self.cfg.burst_hold_h * 3_600_000:
            h.clean[k] = False
            h.burst[k] = True
            self._emit(out, AlertKind.PIPE_BURST, Tier.T2, ts, recent - burst.reference, 0.5,
                       f"DMA consumption still {recent - burst.reference:+.1f} m3/h above the level before the "
                       f"burst at ts {burst.since}", "water.dma.burst")  # fmt: skip
            return
        self._burst = None
        self._run = 0
        why = "burst handed to the night-flow rule" if elevated else "consumption back to its level"
        self._emit(out, AlertKind.PIPE_BURST, None, ts, recent - burst.reference, 0.0, why, "water.dma.burst")

    def _unexplained(self, lo: int, hi: int) -> Floats:
        """The consumption of steps ``lo:hi`` less its median over the same earlier days: the last ``slot_days``
        days (within ``4 × slot_days``) of the same day type at every step, clean at every step. Per-slot medians
        draw each slot from its own set of days, and where that set changes from one slot to the next (a burst
        held some earlier day's afternoon unclean; a holiday's days came in) the median jumps by the spread
        between those days, a step of 10-20 m³/h at the same hour every day; one set of days has none. Fewer
        than two such days: the per-slot residuals."""
        h, cfg = self._h, self.cfg
        first, last = self._local_day(h.ts[lo]), self._local_day(h.ts[hi - 1])
        rest = self._rest_days()
        days: list[int] = []
        for d in range(1, 4 * cfg.slot_days + 1):
            start = lo - d * _DAY_STEPS
            if start < 0 or len(days) >= cfg.slot_days:
                break
            same_type = all(rest.is_rest(day - d) == rest.is_rest(day) for day in range(first, last + 1))
            if same_type and all(h.clean[start : hi - d * _DAY_STEPS]):
                days.append(d)
        if len(days) < 2:
            return np.array(h.flow_res[lo:hi], dtype=np.float64)
        past = np.array([h.flow[lo - d * _DAY_STEPS : hi - d * _DAY_STEPS] for d in days], dtype=np.float64)
        unexplained: Floats = np.array(h.flow[lo:hi], dtype=np.float64) - np.median(past, axis=0)
        return unexplained

    def _step_scale(self, k: int) -> float:
        if self._scale_at >= 0 and k - self._scale_at < 12:  # refreshed hourly
            return self._scale
        self._scale_at, self._scale = k, self._compute_step_scale(k)
        return self._scale

    def _compute_step_scale(self, k: int) -> float:
        h = self._h
        lo = max(self.cfg.step_window + self.cfg.reference_steps, k - self.cfg.slot_days * _DAY_STEPS)
        values = np.array([h.flow_step[i] for i in range(lo, k) if not h.burst[i]])  # a standing leak is no step
        values = values[np.isfinite(values)]
        if values.size < _DAY_STEPS:
            return float("nan")
        return max(_MAD * float(np.median(np.abs(values - np.median(values)))), 1e-3)

    def _pressure_change(self, k: int) -> Floats | None:
        if self._coef is None or not self.logger_ids:
            return None
        h, w, ref = self._h, self.cfg.step_window, self.cfg.reference_steps
        recent = np.mean(h.pressure_res[k - w + 1 : k + 1], axis=0)
        before = np.median(h.pressure_res[k - w - ref + 1 : k - w + 1], axis=0)
        change: Floats = recent - before
        return change

    def _calibrated(self, k: int, raw: float) -> float:
        """The pressure statistic in robust sigmas of its own recent clean history (NaN while learning)."""
        if raw != raw:
            return float("nan")
        if self._p_cal_at < 0 or k - self._p_cal_at >= 12:
            h = self._h
            lo = max(0, k - self.cfg.slot_days * _DAY_STEPS)
            past = np.array([v for i, v in h.pressure_stat.items() if lo <= i < k and not h.burst[i] and v == v])
            if past.size >= _DAY_STEPS:
                centre = float(np.median(past))
                self._p_cal = (centre, max(_MAD * float(np.median(np.abs(past - centre))), 1e-6))
            self._p_cal_at = k
        return self._calibrated_value(raw)

    def _calibrated_value(self, raw: float) -> float:
        if self._p_cal is None:
            return float("nan")
        return (raw - self._p_cal[0]) / self._p_cal[1]

    def _recurring(self, k: int) -> float:
        """The highest calibrated pressure statistic around the same time of the previous ``recurring_days`` days
        (± ``recurring_steps``); 0 without any."""
        h, cfg = self._h, self.cfg
        past = [
            h.pressure_stat.get(k - d * _DAY_STEPS + j, float("nan"))
            for d in range(1, cfg.recurring_days + 1) for j in range(-cfg.recurring_steps, cfg.recurring_steps + 1)
        ]  # fmt: skip
        values = [self._calibrated_value(v) for v in past if v == v]
        return max(values) if values else 0.0

    def _pressure_z(self, k: int, change: Floats) -> float:
        """Matched filter: how strongly the loggers' change looks like a leak at the best-fitting node (sigmas)."""
        sigma = self._pressure_scale(k)
        model = self.sensitivity
        if model is None:
            worst = np.sort(change / sigma)[:2]
            return float(-np.mean(worst)) if worst.size else 0.0
        signature = (model.matrix - model.uniform[:, None]) / sigma[:, None]
        norms = np.sqrt(np.einsum("ij,ij->j", signature, signature))
        norms[norms <= 0.0] = np.inf
        return float(np.max(signature.T @ (change / sigma) / norms))

    def _pressure_scale(self, k: int) -> Floats:
        if self._p_scale is not None and k - self._p_scale_at < 12:
            return self._p_scale
        self._p_scale_at, self._p_scale = k, self._compute_pressure_scale(k)
        return self._p_scale

    def _compute_pressure_scale(self, k: int) -> Floats:
        h = self._h
        lo = max(0, k - 2 * _DAY_STEPS)
        res = np.array(h.pressure_res[lo:k])
        diffs = res[self.cfg.step_window :] - res[: -self.cfg.step_window] if len(res) > _DAY_STEPS else res
        if np.isnan(diffs).any():  # gap steps: their placeholders do not count
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a logger with no data at all: NaN scale
                nan_scale: Floats = _MAD * np.nanmedian(np.abs(diffs - np.nanmedian(diffs, axis=0)), axis=0) + 0.01
            return nan_scale
        scale: Floats = _MAD * np.median(np.abs(diffs - np.median(diffs, axis=0)), axis=0) + 0.01
        return scale

    # -- detectability ---------------------------------------------------------------------------

    def burst_snr(self, node: str, size_m3h: float) -> tuple[float, float] | None:
        """How far a burst of ``size_m3h`` at model node ``node`` would stand out in one step test now, in the
        noise the detector has learned: ``(flow, pressure)`` signal-to-noise ratios.

        ``flow`` is the size over the robust sigma of the consumption step; ``pressure`` the norm of the node's
        leak signature (its logger responses minus what the consumption regression explains) over each
        logger's step sigma — what the matched filter would give if it knew the node and the noise were
        Gaussian. A bound for benchmarks, not a decision; ``None`` while the baselines are still learning, or
        without a hydraulic model or the node in it.
        """
        k = len(self._h.ts) - 1
        model = self.sensitivity
        if k < 0 or model is None or node not in model.nodes or self._coef is None:
            return None
        flow_sigma = self._step_scale(k)
        if flow_sigma != flow_sigma:
            return None
        column = model.nodes.index(node)
        signature = (model.matrix[:, column] - model.uniform) * size_m3h / self._pressure_scale(k)
        return size_m3h / flow_sigma, float(np.sqrt(np.nansum(signature * signature)))

    def night_snr(self, size_m3h: float) -> float | None:
        """How far a background leak of ``size_m3h`` would lift one night's mean flow, in the spread the night
        rule divides by (its clean nights' robust sigma, at least 1 % of their baseline); the rule flags at
        ``night_z``. A bound for benchmarks, not a decision; ``None`` before 3 clean nights."""
        night = self._night_baseline()
        return None if night is None else size_m3h / max(night[1], 1e-9)

    def _night_baseline(self) -> tuple[float, float] | None:
        """The night rule's baseline (``night_quantile`` of the last ``night_days`` clean nights) and the sigma
        its limit is a multiple of (their robust sigma, at least 1 % of the baseline); ``None`` before 3."""
        clean = self._nights[-self.cfg.night_days :]
        if len(clean) < 3:
            return None
        baseline = float(np.quantile(clean, self.cfg.night_quantile))
        spread = _MAD * float(np.median(np.abs(np.array(clean) - np.median(clean))))
        return baseline, max(spread, 0.01 * baseline)

    # -- night flow ----------------------------------------------------------------------------

    def _night_step(self, k: int, ts: int, consumption: float, out: list[Finding]) -> None:
        cfg = self.cfg
        hour = self._local_hour(ts)
        if cfg.night_start_h <= hour < cfg.night_end_h:
            self._night = self._local_day(ts)
            self._night_flows.append(consumption)
            self._night_res.append(self._h.pressure_res[k])
        elif self._night >= 0:
            self._judge_night(ts, out)
            self._night, self._night_flows, self._night_res = -1, [], []
        for leak in self._standing:
            self._emit(out, AlertKind.BACKGROUND_LEAK, Tier.T3, ts, consumption, 0.5, leak.text,
                       "water.dma.night_flow", leak.location, leak.incident)  # fmt: skip

    def _judge_night(self, ts: int, out: list[Finding]) -> None:
        cfg = self.cfg
        mean = float(np.mean(self._night_flows))
        pressure = np.mean(self._night_res, axis=0)
        night = self._night_baseline()
        flagged = False
        excess, limit, baseline = 0.0, 0.0, float("nan")
        if night is not None:
            baseline, sigma = night
            limit = max(cfg.night_z * sigma, cfg.night_min_m3h)
            excess = mean - baseline
            flagged = baseline > 0.0 and excess >= limit  # a zero baseline never flags
        if flagged:
            self._flagged_nights += 1
            self._clean_nights = 0
            self._flagged_run = [*self._flagged_run, (mean, pressure)][-cfg.night_open :]
        else:
            self._flagged_nights = 0
            self._clean_nights += 1
            self._flagged_run, self._further, self._below_newest = [], [], 0
            self._nights.append(mean)
            self._night_res_base.append(pressure)
            del self._nights[: -cfg.night_days], self._night_res_base[: -cfg.night_days]
        if not self._standing and self._flagged_nights >= cfg.night_open:
            base = np.median(self._night_res_base[-cfg.night_days :], axis=0) if self._night_res_base else pressure
            where, location = self._locate(ts, AlertKind.BACKGROUND_LEAK, pressure - base)
            text = (
                f"night flow {mean:.1f} m3/h, {excess:+.1f} m3/h over the baseline {baseline:.1f} m3/h "
                f"(limit {limit:.1f}) on {self._flagged_nights} night(s) in a row; {where}"
            )
            self._open_standing(text, location, self._flagged_run)
        elif self._standing and flagged:
            self._judge_further(ts, mean, pressure, limit, out)
        elif self._standing and self._clean_nights >= cfg.night_close:
            for leak in self._standing:
                self._end_standing(out, leak, ts, mean, f"night flow back to its baseline {baseline:.1f} m3/h")
            self._standing = []

    def _open_standing(self, text: str, location: str, nights: list[tuple[float, Floats]]) -> None:
        """A new standing alert, and its opening ``nights`` as the level a further leak is judged against."""
        incident = str(len(self._standing) + 1) if self._standing else ""
        flows = [night_flow for night_flow, _ in nights]
        res = np.mean([r for _, r in nights], axis=0)
        level = float(np.median(flows))
        self._standing.append(_Standing(incident, text, location, level, res, [level]))
        self._further, self._below_newest = [], 0

    def _judge_further(self, ts: int, mean: float, pressure: Floats, limit: float, out: list[Finding]) -> None:
        """A flagged night under a standing alert: a further leak when it stands ``limit`` above the newest standing
        alert's level on ``night_open`` nights in a row; that alert's leak repaired when it stands ``limit`` below that
        level on ``night_close`` nights in a row while an older one stays flagged (see the module docstring). A night
        within ``limit`` of the level moves the levels (:meth:`_Standing.follow`): the season's night use, not a
        leak."""
        cfg, newest = self.cfg, self._standing[-1]
        if newest.level != newest.level:  # restored from before further leaks were judged: this night is the level
            newest.level, newest.res, newest.nights = mean, pressure, [mean]
            return
        below = newest.level - mean >= limit
        self._below_newest = self._below_newest + 1 if below else 0
        if self._below_newest >= cfg.night_close and len(self._standing) > 1:
            self._standing.pop()
            self._end_standing(
                out, newest, ts, mean,
                f"night flow {mean:.1f} m3/h, {newest.level - mean:.1f} m3/h under this alert's level "
                f"{newest.level:.1f} m3/h on {self._below_newest} night(s) in a row: one of the DMA's leaks was "
                "repaired (the flow cannot tell which); the others' alerts stay open",
            )  # fmt: skip
            self._further, self._below_newest = [], 0
            return
        above = mean - newest.level >= limit
        if not above and not below:
            moved = newest.level
            newest.follow(mean, cfg.night_days)
            for older in self._standing[:-1]:  # the whole night flow moved: the older alerts' levels with it
                older.shift(newest.level - moved)
        if not above or len(self._standing) > cfg.further_leaks_max:
            self._further = []
            return
        self._further.append((mean, pressure))
        if len(self._further) < cfg.night_open:
            return
        level = newest.level
        reference = newest.res if newest.res is not None else pressure
        where, location = self._locate(ts, AlertKind.BACKGROUND_LEAK, pressure - reference)
        text = (
            f"night flow {mean:.1f} m3/h, {mean - level:+.1f} m3/h over the {level:.1f} m3/h of the nights at this "
            f"DMA's last standing leak alert (limit {limit:.1f}) on {len(self._further)} night(s) in a row: a "
            f"further leak, or the standing one growing; {where}"
        )
        self._open_standing(text, location, self._further)

    def _end_standing(self, out: list[Finding], leak: _Standing, ts: int, mean: float, why: str) -> None:
        """The finding that ends one standing alert (the caller drops it from ``_standing``)."""
        self._emit(out, AlertKind.BACKGROUND_LEAK, None, ts, mean, 0.0, why, "water.dma.night_flow", "", leak.incident)

    # -- location and output -------------------------------------------------------------------

    def _locate(self, ts: int, kind: AlertKind, change_m: Floats) -> tuple[str, str]:
        """Where the leak is: the words for the evidence, and the short ``location`` of the alert."""
        model = self.sensitivity
        candidates: list[Candidate] = []
        moved: list[tuple[str, float]] = []
        if model is not None and change_m.size:
            candidates = rank_nodes(model, change_m)
        if change_m.size:
            moved = moved_most(self.logger_ids, change_m / self._pressure_scale(len(self._h.ts) - 1))
        self.located.append(Located(ts, kind, candidates, moved))
        if candidates and model is not None:
            parts = []
            for c in candidates:
                logger, metres = model.nearest_logger(c.node)
                parts.append(f"node {c.node} (fit {c.fit:.2f}, ~{c.size_m3h:.1f} m3/h, {metres:.0f} m from logger "
                             f"node {logger})")  # fmt: skip
            return "likely location: " + "; ".join(parts), nodes_text(model, candidates)
        if moved:
            named = ", ".join(f"{s} {z:+.1f} sigma" for s, z in moved)
            return "moved most: " + ", ".join(f"{s} ({z:+.1f} sigma)" for s, z in moved), f"sensors: {named}"
        return "no location (no pressure loggers)", ""

    def _emit(
        self, out: list[Finding], kind: AlertKind, tier: Tier | None, ts: int, value: float, score: float, text: str,
        rule: str, location: str = "", incident: str = "",
    ) -> None:  # fmt: skip
        out.append(Finding(self.meter_id, self.group_id, self.group_id, kind, tier, ts, value, score, text, rule,
                           location=location, incident=incident))  # fmt: skip
