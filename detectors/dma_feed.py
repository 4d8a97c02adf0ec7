"""The DMA leak detector in the live flow: each DMA's :class:`~.hydraulic.DmaLeakDetector` fed from the closed
windows of its sensors, in the group stage.

A *DMA* is a group with a derived consumption meter (a ``water_flow`` row with ``derived=`` in the registry's
``network`` column, :mod:`lifeline.network`). Its detector needs, every 5-minute step, the consumption (the
derived meter evaluated on its meters' window means), the window mean of every pressure logger (in the order of
their model nodes, so the sensitivity model's rows match), of every tank level and of every pump/valve state.

Readings are keyed by sensor, so a DMA's sensors are spread over partitions; only the closed windows of these
sensors cross to the group stage (:meth:`DmaFeeds.compact`), never the readings. There the windows wait in
:class:`DmaFeedState` until the group stage's watermark (the minimum over partitions) has passed the step's end
by ``LeakConfig.settle_s`` (a window of a step closes at the sensor's first reading of the next step, up to
one interval later, so the default 10 min leaves 5 min for readings that arrive late); then the steps are fed
in event-time order, each at most once:

* a window of a step already fed is late: counted in ``late_windows``, not used (no look-ahead, no re-run);
* a sensor without a window in a step keeps its last window mean for up to ``fill_steps`` steps (1 h); a step
  that still lacks a value (before every sensor reported once, or after a longer outage) is counted in
  ``skipped_steps`` and given to the detector as a gap (a placeholder that keeps its same-slot look-backs
  aligned with the clock, enters no baseline and judges nothing);
* a meter with a tank's level rate (``rate(T1)*AREA``) takes the level's change from the step just before;
  the first step, and a step after a skipped one, have no rate and are skipped the same way;
* several windows of one sensor in a step (windows shorter than the step) give their count-weighted mean; a
  window longer than the step stands for every step it covers.

A finding is stamped with the time its step was decided (step end + ``settle_ms``), never back-dated behind
the watermark, and goes through the group's alarm state machine like every other finding. Its originator is
the DMA: ``pipe_burst`` and ``background_leak`` are group kinds, keyed ``(group, kind)`` in the alarm model
(:mod:`.alarms`), so when a per-sensor water rule and the DMA detector see the same burst they support one
alert, never two.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import msgspec
import numpy as np

from lifeline.models import SensorKind
from lifeline.network import DerivedMeter, parse_network
from lifeline.registry import Registry

from .group_model import GroupWindow
from .hydraulic import DmaLeakDetector, LeakConfig
from .localisation import SensitivityModel
from .results import Finding, WindowStats

__all__ = ["DmaFeedState", "DmaFeeds", "DmaSensors", "dma_sensors"]

log = logging.getLogger("lifeline.detectors")

STEP_MS = 300_000
_STATE_KINDS = (SensorKind.PUMP_STATE, SensorKind.VALVE_STATE)


@dataclass(frozen=True)
class DmaSensors:
    """The sensors of one DMA in the roles its detector needs them."""

    group_id: str
    meter_id: str
    meter: DerivedMeter
    loggers: tuple[str, ...]  # ordered by model node, then id
    logger_nodes: tuple[str, ...]
    levels: tuple[str, ...]
    states: tuple[str, ...]

    @property
    def inputs(self) -> tuple[str, ...]:
        """Every sensor whose windows the detector needs (meter terms, loggers, levels, states)."""
        return tuple(dict.fromkeys((*self.meter.sensor_ids, *self.loggers, *self.levels, *self.states)))


def dma_sensors(registry: Registry, group_of: Callable[[str], str]) -> dict[str, DmaSensors]:
    """Every DMA of the registry: group id → its sensors (the first derived water meter of a group is its meter)."""
    out: dict[str, DmaSensors] = {}
    for sensor_id in sorted(registry):
        spec = registry[sensor_id]
        if spec.kind is not SensorKind.WATER_FLOW or not spec.network:
            continue
        info = parse_network(spec.network)
        group = group_of(sensor_id)
        if not info.derived or group in out:
            continue
        members = sorted(registry.sensors_of_group(group), key=lambda s: s.sensor_id)
        loggers = sorted(
            ((parse_network(s.network).node if s.network else "", s.sensor_id) for s in members
             if s.kind is SensorKind.WATER_PRESSURE),
        )  # fmt: skip
        out[group] = DmaSensors(
            group_id=group, meter_id=sensor_id, meter=DerivedMeter(info.derived),
            loggers=tuple(s for _n, s in loggers), logger_nodes=tuple(n for n, _s in loggers),
            levels=tuple(s.sensor_id for s in members if s.kind is SensorKind.TANK_LEVEL),
            states=tuple(s.sensor_id for s in members if s.kind in _STATE_KINDS),
        )  # fmt: skip
    return out


@dataclass
class DmaFeedState:
    """What the group stage keeps per DMA (pickled into its snapshot)."""

    group_id: str
    detector: DmaLeakDetector
    #: step start → sensor id → window start → (mean, count); released behind the watermark
    pending: dict[int, dict[str, dict[int, tuple[float, int]]]] = field(default_factory=dict)
    fed_to: int = -1  # start of the last step released (fed or skipped)
    last: dict[str, tuple[int, float]] = field(default_factory=dict)  # sensor → (step, window mean) last seen
    late_windows: int = 0
    skipped_steps: int = 0
    fed_steps: int = 0
    #: the inputs of the step before (its start, its values), for a meter with tank level rates
    before: tuple[int, dict[str, float]] | None = None


class DmaFeeds:
    """The DMAs of one registry and the feeding of their detectors (see the module docstring)."""

    def __init__(
        self, registry: Registry, group_of: Callable[[str], str], model_of: Callable[[str], SensitivityModel | None],
        *, config: LeakConfig | None = None,
    ) -> None:  # fmt: skip
        """``model_of``: group id → its sensitivity model (``None`` without a model file), asked once per group and
        process; ``config``: the detectors' and the feeding's parameters (defaults: :class:`~.config.LeakConfig`)."""
        self.dmas = dma_sensors(registry, group_of)
        self.config = config or LeakConfig()
        self.settle_ms = self.config.settle_s * 1000
        self.fill_steps = self.config.fill_steps
        self._model_of = model_of
        self._models: dict[str, SensitivityModel | None] = {}
        self._where: dict[str, str] = {s: g for g, d in self.dmas.items() for s in d.inputs}

    def wants(self, sensor_id: str) -> bool:
        """Whether the windows of ``sensor_id`` feed a DMA detector."""
        return sensor_id in self._where

    def compact(self, stats: Iterable[WindowStats]) -> list[GroupWindow]:
        """The windows of DMA sensors among ``stats``, as compact rows for the group stage."""
        where = self._where
        return [
            GroupWindow(w.sensor_id, where[w.sensor_id], w.window_start, w.window_s, w.count, w.mean, w.std)
            for w in stats
            if w.sensor_id in where
        ]

    def model(self, group_id: str) -> SensitivityModel | None:
        """The DMA's sensitivity model when its rows are the DMA's loggers in order (else ``None``: no model)."""
        if group_id not in self._models:
            model = self._model_of(group_id)
            if model is not None and list(model.loggers) != list(self.dmas[group_id].logger_nodes):
                log.warning("sensitivity model loggers differ from the DMA's; DMA detector runs without a model",
                            extra={"group_id": group_id})  # fmt: skip
                model = None
            self._models[group_id] = model
        return self._models[group_id]

    def new_state(self, group_id: str) -> DmaFeedState:
        """Fresh feeding state and detector of one DMA (``KeyError`` when the group is not a DMA)."""
        d = self.dmas[group_id]
        detector = DmaLeakDetector(
            group_id=group_id, meter_id=d.meter_id, logger_ids=list(d.loggers), logger_nodes=list(d.logger_nodes),
            sensitivity=self.model(group_id), config=self.config,
        )  # fmt: skip
        return DmaFeedState(group_id, detector)

    def warm(self, state: DmaFeedState, windows: Sequence[GroupWindow]) -> None:
        """Learn from historical windows (warm start): feed every step they cover, no findings. The detector's
        standing state (an ongoing burst or night-flow leak) carries over, so the live flow alerts on it."""
        self.add(state, windows)
        if state.pending:
            self.advance(state, max(state.pending) + STEP_MS + self.settle_ms)

    def add(self, state: DmaFeedState, windows: Iterable[GroupWindow]) -> None:
        """Buffer windows of the DMA's sensors (any arrival order; a repeated window counts once)."""
        for w in windows:
            if w.count <= 0 or not math.isfinite(w.mean) or self._where.get(w.sensor_id) != state.group_id:
                continue
            first = w.window_start - w.window_start % STEP_MS
            end = w.window_start + max(w.window_s * 1000, 1)
            for step in range(first, end, STEP_MS):
                if step <= state.fed_to:
                    state.late_windows += 1
                    continue
                state.pending.setdefault(step, {}).setdefault(w.sensor_id, {})[w.window_start] = (w.mean, w.count)

    def advance(self, state: DmaFeedState, watermark_ms: int) -> list[Finding]:
        """Feed every buffered step whose end + ``settle_ms`` is at or behind ``watermark_ms``, in event-time order
        (a step without windows in between counts as one with every sensor missing); return the findings."""
        found: list[Finding] = []
        if not state.pending:
            return found
        last_due = watermark_ms - self.settle_ms - STEP_MS
        due = sorted(s for s in state.pending if s <= last_due)
        if not due:
            return found
        detector = state.detector
        detector.sensitivity = self.model(state.group_id)  # not pickled with the state
        step = due[0] if state.fed_to < 0 else state.fed_to + STEP_MS
        while step <= due[-1]:
            decided = step + STEP_MS + self.settle_ms
            for f in self._feed(state, step, state.pending.pop(step, {})):
                found.append(msgspec.structs.replace(f, ts=max(f.ts, decided)))
            state.fed_to = step
            step += STEP_MS
        return found

    def _feed(self, state: DmaFeedState, step: int, windows: dict[str, dict[int, tuple[float, int]]]) -> list[Finding]:
        for sensor_id, by_start in windows.items():
            total = sum(c for _m, c in by_start.values())
            state.last[sensor_id] = (step, sum(m * c for m, c in by_start.values()) / total)
        d = self.dmas[state.group_id]
        oldest = step - self.fill_steps * STEP_MS
        values: dict[str, float] = {}
        for sensor_id in d.inputs:
            seen = state.last.get(sensor_id)
            if seen is None or seen[0] < oldest:
                state.skipped_steps += 1
                state.detector.gap(step)  # keeps the detector's steps aligned with the clock
                return []
            values[sensor_id] = seen[1]
        before = state.before
        if d.meter.has_rates:  # only the meter's terms are kept (they go into the snapshot)
            state.before = (step, {s: values[s] for s in d.meter.sensor_ids})
        earlier = before[1] if before is not None and before[0] == step - STEP_MS else None
        consumption = d.meter.evaluate(values, before=earlier, interval_s=STEP_MS / 1000)
        if consumption is None:  # a tank level rate with no step just before this one
            state.skipped_steps += 1
            state.detector.gap(step)
            return []
        state.fed_steps += 1

        def column(ids: tuple[str, ...]) -> np.ndarray:
            return np.array([values[s] for s in ids], dtype=np.float64)

        return state.detector.step(step, consumption, column(d.loggers), column(d.levels), column(d.states))
