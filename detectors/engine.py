"""The public entry point: :class:`Detectors`, called by the dataflow, ``lifeline detect`` and benchmarks.

Per sensor (keyed by ``sensor_id``)::

    det = Detectors(registry)                      # once per process
    state = det.new_sensor_state("G-0001-CH4")     # small, picklable
    result = det.process_sensor(state, ts_ms, values)   # closed WindowStats + Findings
    result = det.advance_sensor(state, watermark_ms)    # close windows, report silence

Per group (keyed by :meth:`Detectors.group_of`)::

    gstate = det.new_group_state(det.group_of("G-0001-CH4"))
    events = det.process_group(gstate, result.findings, watermark_ms)   # AlertEvents
    gstate.acknowledge(alert_id, actor="duty-analyst", ts_ms=now_ms)

Arrays of 32 readings or more take a vectorised path when nothing is going on (numpy window sums,
closed-form running estimates, vectorised threshold and fault screens); otherwise, and for the
typical one-or-two readings per call, a lean scalar path runs per reading.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from lifeline.models import AlertEvent, SensorKind, SensorSpec
from lifeline.network import parse_network
from lifeline.registry import Registry

from . import bridge, drainage, gas, water
from .alarms import GroupContext, evaluate_group
from .baseline_findings import OPERATED_LINK, baseline_findings, warm_baseline
from .config import RulesConfig
from .correlation import LOAD_KINDS
from .dma_feed import DmaFeeds
from .faults import (
    DRIFT,
    check_drift,
    check_offset_hours,
    check_reading,
    check_silence,
    end_silence,
    noise_scale,
    offset_checked,
)  # fmt: skip
from .group_model import GroupModels
from .leak_location import GroupLocator
from .peer_faults import LAG_HOURS, PEER_NOTE, note_hourly_mean, warm_notes
from .peer_steps import note_level_move
from .quiet import BULK_MIN, LVL_ALPHA, WARM_UP, QuietRun, QuietRuns, quiet_array
from .results import Finding, SensorResult, WindowStats
from .rulebase import AUX_DRIFT_HOURS, AUX_KIND, KindRule, RuleParams, SensorProfile
from .state import GroupState, HourlyMeans, SensorState
from .windows import add_reading, close_at_watermark

__all__ = ["NEVER_DUE_MS", "Detectors"]

KIND_RULES: dict[SensorKind, KindRule[Any]] = {**gas.RULES, **water.RULES, **drainage.RULES, **bridge.RULES}

#: kinds whose slow linear trends are physical (crack growth, creep, night-flow creep): no drift fault
DRIFT_EXEMPT = frozenset({
    SensorKind.CRACK_WIDTH, SensorKind.DEFLECTION, SensorKind.WATER_FLOW, SensorKind.NOISE_LEVEL,
    SensorKind.RAIN, SensorKind.PONDING_DEPTH, SensorKind.MANHOLE_LEVEL, SensorKind.COVER_TILT,
    SensorKind.MODAL_FREQUENCY, SensorKind.TANK_LEVEL, SensorKind.PUMP_STATE, SensorKind.VALVE_STATE,
})  # fmt: skip


def _hourly_checks(prof: SensorProfile[Any]) -> bool:
    """Whether the sensor's hourly means are kept: for the drift check (not for :data:`DRIFT_EXEMPT` kinds), the
    offset check's hourly test or the group's fault checks against peers."""
    return prof.kind not in DRIFT_EXEMPT or offset_checked(prof) or PEER_NOTE in prof.flags


def _spike_min(kind: SensorKind, cfg: RulesConfig) -> float:
    """The least distance off its neighbours' line that makes a sample of ``kind`` a spike (``inf``: none is)."""
    if kind in cfg.faults.spike_physical_kinds:
        return math.inf
    return float(cfg.faults.spike_min_change.get(kind.value, 0.0))


def _decided_at(decided: npt.NDArray[np.int64], end: int) -> int:
    """When a window ending at ``end`` was decided: the first of ``decided`` (ascending event times of the readings,
    or the watermark, that closed windows) at or after ``end`` (else the last), and never before ``end``."""
    at = int(np.searchsorted(decided, end, side="left"))
    return max(int(decided[at]) if at < decided.shape[0] else int(decided[-1]), end)


def _always_quiet(prof: SensorProfile[Any], st: SensorState, values: npt.NDArray[np.float64]) -> bool:
    return True


_MS_PER_H = 3_600_000
#: :meth:`Detectors.sweep_due_ms` of a sensor the watermark can never give work (no window, no reading)
NEVER_DUE_MS = np.iinfo(np.int64).max


class Detectors:
    """Rules, fault checks, window statistics and the alarm state machine, bound to one registry."""

    def __init__(self, registry: Registry, config: RulesConfig | None = None) -> None:
        """Bind the registry and the rules configuration (defaults: docs/domain.md)."""
        self.registry = registry
        self.config = config or RulesConfig()
        self._profiles: dict[str, SensorProfile[Any]] = {}
        self._load_sensors: dict[str, int] = {}
        #: (group, model node) of every tank level: a flow meter on such a node measures a tank's fill and drain
        self._tank_nodes = self._places({SensorKind.TANK_LEVEL}, "node")
        #: (group, model link) of every pump or valve state: a flow meter on such a link follows the operation
        self._operated_links = self._places({SensorKind.PUMP_STATE, SensorKind.VALVE_STATE}, "link")
        #: (group, kind) → sensors: who has same-kind peers for the fault checks against peers
        self._kind_counts = Counter((self.group_of(spec.sensor_id), spec.kind) for spec in registry.values())
        #: where a DMA's burst or leak most likely is (each group's sensitivity model is built at its first incident)
        self.locator = GroupLocator(registry)
        self._context = GroupContext(
            self.config, self._spec_or_none, self._quiet_ms, self._load_sensors_of, self.locator
        )
        #: the multivariate model of every multi-sensor group (docs/domain.md#group-anomaly-model)
        self.group_models = GroupModels(registry, self.config, {s: self.group_of(s) for s in registry})
        #: the leak detector of every DMA with a derived consumption meter, fed windows in the group stage
        leak = replace(
            self.config.leak, local_utc_offset_h=self.config.local_utc_offset_h, holidays=self.config.holidays,
            workdays=self.config.workdays,
        )  # fmt: skip
        self.dma_feeds = DmaFeeds(registry, self.group_of, self.locator.model, config=leak)

    def _places(self, kinds: set[SensorKind], element: str) -> set[tuple[str, str]]:
        """(group, model ``element``: "node" or "link") of every registered sensor of ``kinds`` with a network."""
        return {
            (self.group_of(spec.sensor_id), getattr(parse_network(spec.network), element))
            for spec in self.registry.values()
            if spec.kind in kinds and spec.network
        }

    # -- profiles ------------------------------------------------------------------------------

    def profile(self, sensor_id: str) -> SensorProfile[Any]:
        """The compiled rule profile of one sensor (cached)."""
        prof = self._profiles.get(sensor_id)
        if prof is None:
            prof = self._profiles[sensor_id] = self._compile(self.registry[sensor_id])
        return prof

    def _compile(self, spec: SensorSpec) -> SensorProfile[Any]:
        cfg = self.config
        kind_rule = KIND_RULES.get(spec.kind)
        span = spec.valid_max - spec.valid_min
        interval_ms = max(1, round(spec.interval_s * 1000))
        asset_kind = spec.asset_kind.lower()
        flags = set()
        if any(word in asset_kind for word in cfg.gas.sewer_asset_words):
            flags.add("sewer")
        if any(word in asset_kind for word in cfg.gas.sensitive_asset_words):
            flags.add("sensitive")
        if spec.network and spec.kind is SensorKind.WATER_FLOW:
            place, group = parse_network(spec.network), self.group_of(spec.sensor_id)
            if (group, place.node) in self._tank_nodes:
                flags.add(water.TANK_METER)
            if place.link and (group, place.link) in self._operated_links:
                flags.add(OPERATED_LINK)
        if self._compared_with_peers(spec):
            flags.add(PEER_NOTE)
        quiet_s = max(cfg.alarm.clear_quiet_s, cfg.alarm.quiet_intervals * spec.interval_s)
        return SensorProfile(
            spec=spec,
            config=cfg,
            kind=spec.kind,
            group_key=self.group_of(spec.sensor_id),
            window_ms=cfg.windows.window_s(spec) * 1000,
            interval_ms=interval_ms,
            silence_ms=max(1, round(cfg.faults.silence_intervals * spec.interval_s * 1000)),
            refresh_ms=round(max(cfg.alarm.finding_refresh_s, 0.0) * 1000),
            vmin=spec.valid_min,
            vmax=spec.valid_max,
            sat_eps=max(span * cfg.faults.saturation_eps_fraction, 1e-12),
            noise_floor=max(span * cfg.faults.noise_floor_fraction, 1e-12),
            rests_at_floor=spec.kind in cfg.faults.floor_kinds,
            step_physical=spec.kind in cfg.faults.step_physical_kinds,
            spike_min=_spike_min(spec.kind, cfg),
            persistence=max(1, cfg.alarm.persistence_samples),
            p=kind_rule.params(spec, cfg) if kind_rule else RuleParams(),
            flags=frozenset(flags),
            rule=kind_rule.fn if kind_rule else None,
            quiet=kind_rule.quiet if kind_rule else _always_quiet,
            aux_size=AUX_KIND + (kind_rule.aux_size if kind_rule else 0),
            quiet_ms=round(quiet_s * 1000),
        )

    def _compared_with_peers(self, spec: SensorSpec) -> bool:
        """The sensor's hourly means go to its group for the fault checks against peers (detectors/peer_faults.py)."""
        faults = self.config.faults
        peers = self._kind_counts[(self.group_of(spec.sensor_id), spec.kind)] - 1
        watched = faults.peer_enabled and spec.kind in faults.peer_kinds
        return watched and peers >= faults.peer_min_peers

    def _spec_or_none(self, sensor_id: str) -> SensorSpec | None:
        return self.registry.get(sensor_id)

    def _quiet_ms(self, sensor_id: str) -> int:
        if sensor_id in self.registry:
            return self.profile(sensor_id).quiet_ms
        return round(self.config.alarm.clear_quiet_s * 1000)

    def _load_sensors_of(self, group_id: str) -> int:
        count = self._load_sensors.get(group_id)
        if count is None:
            members = self.registry.sensors_of_group(group_id) or self.registry.sensors_of_asset(group_id)
            count = self._load_sensors[group_id] = sum(1 for s in members if s.kind in LOAD_KINDS)
        return count

    # -- per sensor ----------------------------------------------------------------------------

    def new_sensor_state(self, sensor_id: str) -> SensorState:
        """Fresh, picklable state for one sensor (raises ``KeyError`` for an unknown sensor)."""
        prof = self.profile(sensor_id)
        return SensorState(sensor_id, prof.aux_size)

    def screen_runs(
        self, states: Sequence[SensorState], ts_ms: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
        starts: Sequence[int], stops: Sequence[int],
    ) -> QuietRuns:  # fmt: skip
        """Screen the arrays of many sensors at once (array ``i`` = ``[starts[i], stops[i])`` of
        ``ts_ms``/``values``, for ``states[i]``); changes no state.

        ``runs.get(i)`` is then a :class:`~lifeline.detectors.quiet.QuietRun` for each quiet array;
        passed as ``quiet`` to :meth:`process_sensor`, it spares that call its own screening.
        """
        profs = [self.profile(st.sensor_id) for st in states]
        return QuietRuns(self.config.faults, profs, states, ts_ms, values, starts, stops)

    def process_sensor(
        self, state: SensorState, ts_ms: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
        quiet: QuietRun | None = None,
    ) -> SensorResult:  # fmt: skip
        """Feed one sensor's readings (``ts_ms`` strictly increasing, ``values`` finite).

        Returns the windows these readings closed and the findings they raised or ended. ``quiet``:
        what :meth:`screen_runs` found for exactly these readings, with the state unchanged since.
        """
        prof = self.profile(state.sensor_id)
        stats: list[WindowStats] = []
        findings: list[Finding] = []
        n = ts_ms.shape[0]
        if n == 0:
            return SensorResult(stats, findings)
        if quiet is not None:
            quiet.apply(prof, state, ts_ms, values, stats)
            if stats and _hourly_checks(prof):
                self._hourly(prof, state, stats, findings, ts_ms)
            if stats and self.config.anomaly.enabled:
                baseline_findings(prof, state, stats, ts_ms, findings)
            return SensorResult(stats, findings)
        if state.silent:
            end_silence(prof, state, int(ts_ms[0]), float(values[0]), findings)
        if n == 1:  # the common dataflow shape: plain Python scalars, no numpy scalar on the way
            self._step(prof, state, int(ts_ms.item(0)), float(values.item(0)), stats, findings)
        else:
            head = 0
            if n >= BULK_MIN + 1 and state.seen < WARM_UP:  # warm up on the first readings, then go vectorised
                head = min(n, WARM_UP - state.seen)
                self._steps(prof, state, ts_ms[:head], values[:head], stats, findings)
            rest_ts, rest_values = ts_ms[head:], values[head:]
            if rest_ts.shape[0] < BULK_MIN or not quiet_array(prof, state, rest_ts, rest_values, stats):
                self._steps(prof, state, rest_ts, rest_values, stats, findings)
        if stats and _hourly_checks(prof):
            self._hourly(prof, state, stats, findings, ts_ms)
        if stats and self.config.anomaly.enabled:
            baseline_findings(prof, state, stats, ts_ms, findings)
        return SensorResult(stats, findings)

    def _steps(
        self, prof: SensorProfile[Any], st: SensorState, ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
        stats: list[WindowStats], out: list[Finding],
    ) -> None:  # fmt: skip
        step = self._step
        for t, v in zip(ts.tolist(), values.tolist(), strict=True):
            step(prof, st, t, v, stats, out)

    def _step(
        self, prof: SensorProfile[Any], st: SensorState, t: int, v: float, stats: list[WindowStats], out: list[Finding]
    ) -> None:
        add_reading(st, prof.window_ms, t, v, stats)
        check_reading(prof, st, t, v, out)
        rule = prof.rule
        if rule is not None:
            rule(prof, st, t, v, out)
        st.push(t, v)
        lvl = st.level
        st.level = v if lvl != lvl else lvl + (v - lvl) * LVL_ALPHA  # lvl != lvl: NaN, inline on the hot path
        st.last_ts = t
        st.prev_value = st.last_value
        st.last_value = v
        st.seen += 1

    def _hourly(
        self, prof: SensorProfile[Any], st: SensorState, stats: list[WindowStats], out: list[Finding],
        decided: npt.NDArray[np.int64],
    ) -> None:  # fmt: skip
        """Fold closed windows into hourly means (the drift slots and the aux ring of means) and run
        the drift check (not for :data:`DRIFT_EXEMPT` kinds) and the offset check's hourly test on each new hour;
        a sensor the offset check watches notes a notable move of its hourly means to its group (the group's
        veto of a shared step, :mod:`lifeline.detectors.peer_steps`).

        ``decided`` holds the event times of the readings (or the watermark) that closed the windows; a
        drift finding is stamped with the first of them at or after the window's end, so it is never
        back-dated behind what its partition already reported complete.
        """
        aux = st.aux
        if aux is None:
            return
        for w in stats:
            hour = w.window_start - w.window_start % _MS_PER_H
            if st.drift_hour < 0:
                st.drift_hour, st.drift_sum, st.drift_count, st.drift_slot = hour, 0.0, 0, 0
            if hour != st.drift_hour:
                if st.drift_count > 0:
                    pos = st.drift_slot
                    aux[pos] = st.drift_sum / st.drift_count
                    st.drift_slot = (pos + 1) % AUX_DRIFT_HOURS
                    ring = np.concatenate((aux[st.drift_slot : AUX_DRIFT_HOURS], aux[: st.drift_slot]))  # oldest first
                    at = _decided_at(decided, w.window_start + prof.window_ms)
                    if prof.kind not in DRIFT_EXEMPT:
                        check_drift(prof, st, ring, at, w.mean, out)
                    if offset_checked(prof):
                        note_level_move(prof, ring, noise_scale(prof, st) / 1.128, at, out)
                    check_offset_hours(prof, st, ring, st.drift_hour, at, w.mean, out)
                st.drift_hour, st.drift_sum, st.drift_count = hour, 0.0, 0
            st.drift_sum += w.mean * w.count
            st.drift_count += w.count
            end = w.window_start + prof.window_ms
            if PEER_NOTE in prof.flags and end % _MS_PER_H == 0 and st.drift_count > 0:
                # the hour's last window closed: its mean goes to the group at once (not an hour later)
                note_hourly_mean(prof, st.drift_sum / st.drift_count, st.drift_hour, _decided_at(decided, end), out)

    def warm_start_sensor(self, state: SensorState, rows: Sequence[WindowStats]) -> None:
        """Initialise a fresh sensor state from historical windows (``sensor_stats``, oldest first), so the
        rules that need a day of history have it at once: the hourly means of the drift check (the last
        :data:`AUX_DRIFT_HOURS` + 1 hours). Nothing is reported: a drift seen in the history is found again
        by the live check at the next hour. A per-sensor learned baseline learns here too (where it exists), and
        so does the time-of-day profile of a gas pressure or flow sensor.
        """
        prof = self.profile(state.sensor_id)
        if prof.config.anomaly.enabled:
            warm_baseline(prof, state, rows)
        gas.warm_profile(prof, state, rows)
        window_s = prof.window_ms // 1000
        own = [w for w in rows if w.window_s == window_s and w.count > 0]
        if not own or not _hourly_checks(prof):
            return
        since = own[-1].window_start - (AUX_DRIFT_HOURS + 1) * _MS_PER_H
        recent = [w for w in own if w.window_start >= since]
        ends = np.array([w.window_start + prof.window_ms for w in recent], dtype=np.int64)
        self._hourly(prof, state, recent, [], ends)
        state.faults &= ~DRIFT

    def peer_means(self, sensor_id: str, rows: Sequence[WindowStats]) -> tuple[str, HourlyMeans] | None:
        """For a warm start: the group and the hourly-mean notes a sensor compared with its peers would have sent
        over its stored windows (``rows``, oldest first); ``None`` for a sensor that sends none."""
        if sensor_id not in self.registry:
            return None
        prof = self.profile(sensor_id)
        if PEER_NOTE not in prof.flags:
            return None
        means = warm_notes(rows, prof.window_ms, self.config.faults.peer_hours + LAG_HOURS)
        return None if means is None else (prof.group_key, means)

    def advance_sensor(self, state: SensorState, watermark_ms: int) -> SensorResult:
        """The event-time watermark moved: close a window it passed, report silence (dropout)."""
        prof = self.profile(state.sensor_id)
        stats: list[WindowStats] = []
        findings: list[Finding] = []
        closed = close_at_watermark(state, prof.window_ms, watermark_ms)
        if closed is not None:
            stats.append(closed)
            decided = np.array([watermark_ms], dtype=np.int64)
            if _hourly_checks(prof):
                self._hourly(prof, state, stats, findings, decided)
            if self.config.anomaly.enabled:
                baseline_findings(prof, state, stats, decided, findings)
        check_silence(prof, state, watermark_ms, findings)
        return SensorResult(stats, findings)

    def sweep_due_ms(self, state: SensorState) -> int:
        """The earliest watermark at which :meth:`advance_sensor` would do anything for this sensor: its open
        window's end or, once past, its silence deadline (a silent sensor is due at every sweep); ``NEVER_DUE_MS``
        when it has neither (no reading yet)."""
        prof = self.profile(state.sensor_id)
        due = NEVER_DUE_MS
        if state.window_start >= 0:
            due = state.window_start + prof.window_ms
        if state.last_ts >= 0:
            due = min(due, state.last_ts + prof.silence_ms + 1)
        return due

    # -- per group -----------------------------------------------------------------------------

    def group_of(self, sensor_id: str) -> str:
        """The group a sensor's findings are correlated in: its ``group_id``, else its ``asset_id``."""
        spec = self.registry[sensor_id]
        return spec.group_id or spec.asset_id

    def new_group_state(self, group_id: str) -> GroupState:
        """Fresh, picklable correlation and alarm state for one group."""
        return GroupState(group_id)

    def process_group(self, state: GroupState, findings: Sequence[Finding], watermark_ms: int) -> list[AlertEvent]:
        """Buffer findings (any arrival order) and run correlation + the alarm state machine in event
        time up to ``watermark_ms - settle_delay_ms``; return the alert events that happened."""
        return evaluate_group(self._context, state, findings, watermark_ms)

    def finish_group(self, state: GroupState, watermark_ms: int) -> list[AlertEvent]:
        """The input is over (a finite run ended at ``watermark_ms``): decide the findings still held for peers
        with the peers known, running the group's clock on to the last of them."""
        return evaluate_group(self._context, state, [], watermark_ms, final=True)

    def acknowledge(self, state: GroupState, alert_id: str, actor: str, ts_ms: int, comment: str = "") -> AlertEvent:
        """A person acknowledged an alert (same as :meth:`GroupState.acknowledge`)."""
        return state.acknowledge(alert_id, actor, ts_ms, comment)

    def resolve(self, state: GroupState, alert_id: str, actor: str, ts_ms: int, comment: str = "") -> AlertEvent:
        """A person resolved an alert (same as :meth:`GroupState.resolve`)."""
        return state.resolve(alert_id, actor, ts_ms, comment)


if TYPE_CHECKING:
    from .contract import DetectorSuite

    _SATISFIES_CONTRACT: type[DetectorSuite] = Detectors  # mypy proves Detectors satisfies the contract
