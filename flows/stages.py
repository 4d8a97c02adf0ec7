"""The two stateful stages of the dataflow, free of Bytewax so they can be tested directly.

* :class:`PartitionStage` — one per Kafka partition: validation, per-sensor event-time order,
  the detector state of every sensor in the partition, window statistics, sensor-level findings.
* :class:`GroupStage` — one for the whole flow: orders findings from all partitions by event time
  behind a watermark (the minimum of the partitions' watermarks) and feeds the per-group
  correlation and alarm state machine. Because findings are released in event-time order behind
  that watermark, the same input gives the same alerts with 1 worker or N workers.

Watermarks move on event time only, never on the wall clock, so a process starved of CPU during a
replay classifies exactly the same readings as late as an unhurried one (none, for an in-order replay).
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import threading
import zlib
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from lifeline.detectors.contract import DetectorSuite
from lifeline.detectors.dma_feed import DmaFeeds, DmaFeedState
from lifeline.detectors.group_model import GroupModels, GroupModelState, GroupWindow
from lifeline.detectors.quiet import QuietRuns
from lifeline.detectors.results import Finding, WindowStats
from lifeline.detectors.state import GroupState, SensorState
from lifeline.flows.batch import RawBatch
from lifeline.flows.sensor_pickles import SensorPickles
from lifeline.flows.validate import Accepted, Lateness, SensorIndex, ValidationLimits, sensor_runs, validate_batch
from lifeline.flows.warm import WarmHistory
from lifeline.models import AlertEvent, Reject

__all__ = [
    "GroupStage",
    "GroupStageState",
    "Held",
    "PartitionOutput",
    "PartitionStage",
    "PartitionState",
    "registry_key",
]

log = logging.getLogger("lifeline.flow")

_NO_SENSORS = np.zeros(0, dtype=np.int32)
_NO_TIMES = np.zeros(0, dtype=np.int64)
_NO_VALUES = np.zeros(0, dtype=np.float64)
G = TypeVar("G")  # the state of one group's window scorer
#: PartitionState's arrays indexed by sensor number (registry-sized: compressed in snapshots)
_PER_SENSOR_ARRAYS = ("last_ts", "processed_ts", "stored_bucket")
_SCREEN_MIN_RUNS = 4  # fewer sensors in a call: screening them one by one costs no more


@dataclass(frozen=True, slots=True)
class Held:
    """Accepted readings held back until the partition's watermark passes them (allowed lateness)."""

    sensor: npt.NDArray[np.int32]
    ts: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]


def registry_key(index: SensorIndex) -> str:
    """What the sensor numbers of ``index`` stand for: a digest of its sensor ids in order."""
    return hashlib.sha1("\n".join(index.sensor_ids).encode()).hexdigest()[:16]


@dataclass
class PartitionState:
    """Everything a partition remembers between batches (pickled into Bytewax snapshots)."""

    last_ts: npt.NDArray[np.int64]  # newest event time delivered per sensor (validation's verdicts)
    processed_ts: npt.NDArray[np.int64]  # newest event time handed to the detectors per sensor
    sensors: dict[int, SensorState] = field(default_factory=dict)  # sensor number → detector state
    watermark: int = -1  # event time up to which the partition is complete: newest - allowed lateness
    last_sweep: int = -1
    stored_bucket: npt.NDArray[np.int64] | None = None  # last stored time bucket per sensor (down-sampling)
    newest: int = -1  # newest event time the partition accepted
    held: Held | None = None  # accepted readings newer than the watermark (only with an allowed lateness)
    #: the sensor states of earlier snapshots, reused while their sensors are untouched (see ``touch``)
    _pickles: SensorPickles = field(default_factory=SensorPickles, repr=False, compare=False)
    #: per sensor number, the earliest sweep boundary at which its detectors have something to do (-1: not
    #: known, visit it); kept out of snapshots (a restored partition visits every sensor at its first sweep)
    _sweep_due: npt.NDArray[np.int64] | None = field(default=None, repr=False, compare=False)
    #: the registry the sensor numbers refer to (:func:`registry_key`; "" in snapshots from before the key)
    registry_key: str = ""

    def renumber(self, index: SensorIndex, key: str) -> tuple[int, int]:
        """Move every per-sensor value to its sensor's number in ``index``, a registry that changed since these
        numbers were given (a sensor added, removed or moved in the file); forget the sensors no longer in it.
        A sensor is known by its detector state's id; the few numbers without a state (their readings held
        back by the allowed lateness) start afresh. Returns (sensor states kept, sensor states dropped)."""
        old_ids = {number: sensor_state.sensor_id for number, sensor_state in self.sensors.items()}
        moves = [(old, index.number[sid]) for old, sid in old_ids.items() if sid in index.number]
        size = len(index)
        for name in _PER_SENSOR_ARRAYS:
            array = getattr(self, name)
            if array is not None:
                moved = np.full(size, -1, dtype=array.dtype)
                for old, new in moves:
                    if old < len(array):
                        moved[new] = array[old]
                setattr(self, name, moved)
        self.sensors = {new: self.sensors[old] for old, new in moves}
        if self.held is not None:
            mapping = np.full(max(int(self.held.sensor.max()) + 1, 1), -1, dtype=np.int64)
            for old, new in moves:
                if old < len(mapping):
                    mapping[old] = new
            numbers = mapping[self.held.sensor]
            keep = numbers >= 0
            held = Held(numbers[keep].astype(np.int32), self.held.ts[keep], self.held.value[keep])
            self.held = held if len(held.ts) else None
        self._pickles = SensorPickles(self._pickles.level)  # every state is pickled afresh at the next snapshot
        self._sweep_due = None
        self.registry_key = key
        return len(moves), len(old_ids) - len(moves)

    def touch(self, number: int) -> None:
        """Sensor ``number``'s state is about to change: the next snapshot pickles it afresh (and the next
        sweep visits it until its new due time is known)."""
        self._pickles.touch(number)
        if self._sweep_due is not None:
            self._sweep_due[number] = -1

    def sweep_due(self, sensors: int) -> npt.NDArray[np.int64]:
        """The per-sensor due times of the sweep (see ``_sweep_due``), sized for ``sensors`` numbers."""
        if self._sweep_due is None or len(self._sweep_due) != sensors:
            self._sweep_due = np.full(sensors, -1, dtype=np.int64)
        return self._sweep_due

    def compress_snapshot_at(self, level: int) -> None:
        """The zlib level (0: none) of the snapshots pickled from now on; the state compresses itself (see
        ``__getstate__``), so the snapshot as a whole is not compressed again (``flows.dataflow.dump_snapshot``)."""
        self._pickles.level = level

    def __getstate__(self) -> dict[str, Any]:
        """The fields, with the sensor states as segments (:mod:`lifeline.flows.sensor_pickles`: only the sensors
        touched since the last snapshot are pickled again) and the per-sensor arrays compressed."""
        level = self._pickles.level
        state = self.__dict__.copy()
        del state["_pickles"]
        state.pop("_sweep_due", None)
        state["sensors"] = self._pickles.write(self.sensors)
        for name in _PER_SENSOR_ARRAYS:
            array = state[name]
            if array is not None:
                raw = array.tobytes()
                state[name] = (array.dtype.str, level > 0, zlib.compress(raw, level) if level else raw)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a snapshot of this layout or of an earlier one (sensor states as objects, arrays as arrays)."""
        sensors = state["sensors"]
        self.__dict__.update(state)
        self._sweep_due = None
        for name in _PER_SENSOR_ARRAYS:
            packed = state.get(name)
            if isinstance(packed, tuple):
                dtype, compressed, raw = packed
                setattr(self, name, np.frombuffer(zlib.decompress(raw) if compressed else raw, dtype=dtype).copy())
        if isinstance(sensors, list):
            self._pickles, self.sensors = SensorPickles.read(sensors)
        else:  # sensor states as objects (or, briefly, each pickled on its own)
            self.sensors = {n: pickle.loads(s) if isinstance(s, bytes) else s for n, s in sensors.items()}
            self._pickles = SensorPickles()


@dataclass(frozen=True, slots=True)
class PartitionOutput:
    """What one batch produced."""

    partition: int
    #: event time up to which the partition's findings are complete, as the group stage reads it: one
    #: millisecond behind the partition's watermark while more input may follow, because another sensor can
    #: still deliver a reading stamped at the watermark itself (so the group never evaluates a millisecond
    #: whose findings are split over two batches); the watermark itself once the input is over
    watermark: int
    accepted: Accepted
    stats: list[WindowStats]
    findings: list[Finding]
    rejects: list[Reject]
    kafka_ts_min: int


class PartitionStage:
    """Per-partition logic; the detectors object is shared, the state is per partition."""

    def __init__(self, detectors: DetectorSuite, index: SensorIndex, topic: str, *, limits: ValidationLimits,
                 sweep_interval_ms: int = 300_000, allowed_lateness_ms: int = 0,
                 warm: WarmHistory | None = None) -> None:  # fmt: skip
        """``warm``: history that initialises each sensor met for the first time (``lifeline run --warm-start``)."""
        self.detectors = detectors
        self.warm = warm
        self.index = index
        self.topic = topic
        self.limits = limits
        self.sweep_interval_ms = sweep_interval_ms
        self.allowed_lateness_ms = allowed_lateness_ms
        self.detector_errors = 0  # sensors whose detector raised (state reset, readings not analysed)
        #: the detectors' "nothing to do before" time of a sensor, when they tell it (else every sweep visits)
        self._due_of: Callable[[SensorState], int] | None = getattr(detectors, "sweep_due_ms", None)
        self._batch = threading.local()  # the batch being processed, per worker thread, for error reports
        self._registry_key = registry_key(index)

    def new_state(self) -> PartitionState:
        """Fresh state for a partition never seen before."""
        n = len(self.index)
        return PartitionState(last_ts=np.full(n, -1, dtype=np.int64), processed_ts=np.full(n, -1, dtype=np.int64),
                              registry_key=self._registry_key)  # fmt: skip

    def _same_registry(self, state: PartitionState) -> None:
        """A state restored from a snapshot taken under another registry gets this registry's sensor numbers."""
        key = getattr(state, "registry_key", "")
        if key == self._registry_key:
            return
        ids = self.index.sensor_ids
        if (
            not key
            and len(state.last_ts) == len(ids)
            and all(
                number < len(ids) and ids[number] == sensor_state.sensor_id
                for number, sensor_state in state.sensors.items()
            )
        ):  # a snapshot from before the key, taken under this registry
            state.registry_key = self._registry_key
            return
        kept, dropped = state.renumber(self.index, self._registry_key)
        log.warning(
            "the sensor registry changed since the snapshot: %d sensor states moved to their new numbers, %d states "
            "of sensors no longer registered dropped", kept, dropped, extra={"step": "restore"},
        )  # fmt: skip

    def process(self, state: PartitionState, batch: RawBatch) -> PartitionOutput:
        """Validate a consume batch and run every sensor's readings through its detector state.

        Silence sweeps happen at fixed event-time boundaries (multiples of ``sweep_interval_ms``),
        at the exact position in the partition's stream where its watermark crosses a boundary,
        so what they find does not depend on how the stream was cut into batches. ``batch.end`` (the
        partition's input is over) releases every reading still held back by the allowed lateness.
        """
        partition, offsets, kafka_ts, end = batch.partition, batch.offsets, batch.kafka_ts, batch.end
        self._same_registry(state)
        lateness = None
        if self.allowed_lateness_ms > 0:
            held = state.held
            lateness = Lateness(
                self.allowed_lateness_ms, state.newest, state.processed_ts,
                held.sensor if held is not None else _NO_SENSORS, held.ts if held is not None else _NO_TIMES,
            )  # fmt: skip
        accepted, rejects = validate_batch(
            batch, topic=self.topic, index=self.index, last_ts=state.last_ts, limits=self.limits, lateness=lateness
        )
        self._batch.where = (partition, offsets, accepted)
        stats: list[WindowStats] = []
        findings: list[Finding] = []
        if len(accepted):
            self._process_with_sweeps(state, accepted, stats, findings)
        if end and state.held is not None:
            self._release(state, _NO_SENSORS, _NO_TIMES, _NO_VALUES, state.newest, stats, findings)
        if end:
            state.watermark = max(state.watermark, state.newest)
        complete_to = state.watermark if end else state.watermark - 1
        return PartitionOutput(
            partition, complete_to, accepted, stats, findings, rejects, min(kafka_ts) if kafka_ts else 0
        )

    def _process_with_sweeps(
        self, state: PartitionState, accepted: Accepted, stats: list[WindowStats], findings: list[Finding]
    ) -> None:
        interval, allowed = self.sweep_interval_ms, self.allowed_lateness_ms
        before = max(state.newest, state.watermark + allowed)  # (snapshots before `newest` existed)
        newest = max(int(accepted.ts.max()), before)
        mark = newest - allowed  # the partition's watermark after this batch
        if state.last_sweep >= 0 and state.last_sweep + interval > mark:
            # the common case: no sweep boundary inside this batch, arrival order does not matter
            self._release(state, accepted.sensor, accepted.ts, accepted.value, mark, stats, findings)
        else:
            in_arrival = np.lexsort((accepted.ts, accepted.arrival))
            marks = np.maximum.accumulate(np.maximum(accepted.ts[in_arrival], before)) - allowed
            if state.last_sweep < 0:
                state.last_sweep = (int(marks[0]) // interval) * interval
            boundary = state.last_sweep + interval
            start = 0
            while boundary <= mark:
                cut = int(np.searchsorted(marks, boundary, side="right"))
                self._release_subset(state, accepted, in_arrival[start:cut], int(marks[cut - 1]), stats, findings)
                self._sweep(state, boundary, stats, findings)
                state.last_sweep = boundary
                start, boundary = cut, boundary + interval
            self._release_subset(state, accepted, in_arrival[start:], mark, stats, findings)
        state.newest = newest
        state.watermark = max(state.watermark, mark)

    def _release_subset(
        self, state: PartitionState, accepted: Accepted, positions: npt.NDArray[np.intp], mark: int,
        stats: list[WindowStats], findings: list[Finding],
    ) -> None:  # fmt: skip
        if self.allowed_lateness_ms <= 0:
            self._run_subset(state, accepted, positions, stats, findings)
        else:
            self._release(state, accepted.sensor[positions], accepted.ts[positions], accepted.value[positions],
                          mark, stats, findings)  # fmt: skip

    def _release(
        self, state: PartitionState, sensor: npt.NDArray[np.int32], ts: npt.NDArray[np.int64],
        value: npt.NDArray[np.float64], mark: int, stats: list[WindowStats], findings: list[Finding],
    ) -> None:  # fmt: skip
        """Hand the detectors every reading at or behind ``mark``, in event-time order per sensor; hold the rest.

        Without an allowed lateness nothing is held and the readings (grouped by sensor, in arrival
        order, which is event-time order then) go straight through.
        """
        held = state.held
        if held is None and self.allowed_lateness_ms <= 0:
            self._run(state, sensor, ts, value, stats, findings)
            return
        if held is not None:
            sensor = np.concatenate((held.sensor, sensor))
            ts = np.concatenate((held.ts, ts))
            value = np.concatenate((held.value, value))
        ready = ts <= mark
        state.held = None if ready.all() else Held(sensor[~ready], ts[~ready], value[~ready])
        if ready.any():
            sensor, ts, value = sensor[ready], ts[ready], value[ready]
            order = np.lexsort((ts, sensor))
            self._run(state, sensor[order], ts[order], value[order], stats, findings)

    def _run_subset(
        self, state: PartitionState, accepted: Accepted, positions: npt.NDArray[np.intp],
        stats: list[WindowStats], findings: list[Finding],
    ) -> None:  # fmt: skip
        if len(positions) == 0:
            return
        grouped = positions[np.argsort(accepted.sensor[positions], kind="stable")]
        self._run(state, accepted.sensor[grouped], accepted.ts[grouped], accepted.value[grouped], stats, findings)

    def _run(
        self, state: PartitionState, sensor: npt.NDArray[np.int32], ts: npt.NDArray[np.int64],
        value: npt.NDArray[np.float64], stats: list[WindowStats], findings: list[Finding],
    ) -> None:  # fmt: skip
        """Feed sensor-grouped readings (arrival order within each sensor) to the detectors.

        Detectors that can screen many sensors' arrays at once (``screen_runs``) do so first; each
        sensor is then still processed on its own, so a failure stays with its sensor.
        """
        detectors = self.detectors
        sensor_ids = self.index.sensor_ids
        states = state.sensors
        runs = sensor_runs(sensor)
        sensor_states = []
        for number, _start, _stop in runs:
            state.touch(number)
            sensor_state = states.get(number)
            if sensor_state is None:
                sensor_state = states[number] = detectors.new_sensor_state(sensor_ids[number])
                if self.warm is not None:
                    self._warm_sensor(sensor_state)
            sensor_states.append(sensor_state)
        screened = self._screen(sensor_states, runs, ts, value)
        due_of = self._due_of
        due = state.sweep_due(len(sensor_ids)) if due_of is not None else None
        for i, (number, start, stop) in enumerate(runs):
            sensor_state = sensor_states[i]
            quiet = screened.get(i) if screened is not None else None
            try:
                if quiet is None:
                    result = detectors.process_sensor(sensor_state, ts[start:stop], value[start:stop])
                else:
                    result = detectors.process_sensor(sensor_state, ts[start:stop], value[start:stop], quiet)
            except Exception:  # a detector bug must not stop the city's flow: isolate the sensor
                self._detector_failed(state, number, "detect_sensors", stop - start)
                state.processed_ts[number] = ts[stop - 1]
                continue
            if result.stats:
                stats.extend(result.stats)
            if result.findings:
                findings.extend(result.findings)
            state.processed_ts[number] = ts[stop - 1]
            if due is not None and due_of is not None:
                due[number] = due_of(sensor_state)

    def _warm_sensor(self, sensor_state: SensorState) -> None:
        """Initialise a fresh sensor state from its history (when the detectors can)."""
        rows = self.warm.take_sensor(sensor_state.sensor_id) if self.warm is not None else []
        warm_start = getattr(self.detectors, "warm_start_sensor", None)
        if rows and warm_start is not None:
            try:
                warm_start(sensor_state, rows)
            except Exception:  # history is a bonus: a sensor it cannot warm starts from scratch
                self.detector_errors += 1
                log.exception("warm start failed", extra={"sensor_id": sensor_state.sensor_id, "step": "warm_start"})

    def _screen(
        self, sensor_states: list[SensorState], runs: list[tuple[int, int, int]], ts: npt.NDArray[np.int64],
        value: npt.NDArray[np.float64],
    ) -> QuietRuns | None:  # fmt: skip
        """The detectors' joint screening of these runs, when there are enough runs to pay for it."""
        if len(runs) < _SCREEN_MIN_RUNS:
            return None
        try:
            return self.detectors.screen_runs(sensor_states, ts, value, [r[1] for r in runs], [r[2] for r in runs])
        except Exception:  # nothing changed yet: every sensor takes its own path instead
            self.detector_errors += 1
            partition, _offsets, _accepted = getattr(self._batch, "where", (None, [], None))
            log.exception("joint screening failed; sensors processed one by one",
                          extra={"step": "screen_runs", "partition": partition})  # fmt: skip
            return None

    def _sweep(self, state: PartitionState, boundary: int, stats: list[WindowStats], findings: list[Finding]) -> None:
        """Sensors with nothing for a whole interval close their windows and check silence at ``boundary``.

        A sensor whose detectors said they have nothing to do before a later time (``sweep_due_ms``: its
        window ends and its silence deadline are later) is not visited: its visit would change nothing.
        """
        if not state.sensors:
            return
        numbers = np.fromiter(state.sensors.keys(), dtype=np.int64, count=len(state.sensors))
        numbers.sort()
        quiet = state.processed_ts[numbers] <= boundary - self.sweep_interval_ms
        due_of = self._due_of
        due = state.sweep_due(len(self.index)) if due_of is not None else None
        if due is not None:
            quiet &= due[numbers] <= boundary
        for number in numbers[quiet].tolist():
            sensor_state = state.sensors[number]
            before = _sweep_signature(sensor_state)
            try:
                result = self.detectors.advance_sensor(sensor_state, boundary)
            except Exception:
                self._detector_failed(state, number, "sweep", 0)
                continue
            if result.stats or result.findings or _sweep_signature(sensor_state) != before:
                state.touch(number)  # most sweeps of a slow sensor change nothing: its snapshot entry stays
                stats.extend(result.stats)
                findings.extend(result.findings)
            if due is not None and due_of is not None:
                due[number] = due_of(sensor_state)

    def _detector_failed(self, state: PartitionState, number: int, step: str, readings: int) -> None:
        """Log the failure with sensor, step, partition and offsets; give the sensor a fresh state."""
        self.detector_errors += 1
        partition, offsets, accepted = getattr(self._batch, "where", (None, [], None))
        at: list[int] = []
        if accepted is not None and len(accepted):
            at = sorted({offsets[i] for i in accepted.arrival[accepted.sensor == number].tolist()})
        sensor_id = self.index.sensor_ids[number]
        log.exception(
            "detector failed: %d reading(s) not analysed, sensor state reset (they stay stored)", readings,
            extra={"sensor_id": sensor_id, "step": step, "partition": partition,
                   "offset": f"{at[0]}-{at[-1]}" if len(at) > 1 else (at[0] if at else None)},
        )  # fmt: skip
        state.touch(number)
        state.sensors[number] = self.detectors.new_sensor_state(sensor_id)


@dataclass
class GroupStageState:
    """Watermarks of every partition, buffered findings and the state of every group."""

    partition_watermarks: dict[int, int] = field(default_factory=dict)
    idle: set[int] = field(default_factory=set)  # caught-up partitions: they hold nobody back
    pending: list[Finding] = field(default_factory=list)
    groups: dict[str, GroupState] = field(default_factory=dict)  # group id → detector state
    released_to: int = -1
    last_tick: int = -1
    #: group id → state of its multivariate model (docs/domain.md#group-anomaly-model)
    models: dict[str, GroupModelState] = field(default_factory=dict)
    #: group id → feeding state and leak detector of a DMA (detectors/dma_feed.py)
    dmas: dict[str, DmaFeedState] = field(default_factory=dict)
    #: the lowest watermark at which some group model has a slot to score (-1: not known, look at every model)
    models_due: int = -1
    #: partitions of a finite run that reached their end (:meth:`GroupStage.process`, ``end``)
    ended: set[int] = field(default_factory=set)
    #: groups not at rest at their last evaluation (``GroupState.at_rest``): the only ones the minute tick visits
    #: (None: not known, as in a snapshot from before this set; found from every group at the next tick)
    active: set[str] | None = None


class GroupStage:
    """Correlation and alarm state over all groups, fed in event-time order behind a watermark.

    The watermark is the minimum over the partitions that still have data to deliver, however far
    behind the others one of them is: a partition read slowly (catching up, starved of CPU, restarted
    after a crash) holds everybody back rather than letting its findings arrive late, so the alerts
    depend only on the input, never on the relative speed of the readers. Only a partition the source
    reports ``idle`` (caught up with its end, or declared stalled after ``LIFELINE_PARTITION_STALL_S``,
    off by default) stops counting. A finding that still arrives behind the watermark (an idle
    partition that receives old data, or a stalled one that recovers) is applied at once, never
    dropped, and counted in :attr:`late_findings`.
    """

    def __init__(
        self, detectors: DetectorSuite, *, partitions: int = 1, tick_interval_ms: int = 60_000,
        group_models: GroupModels | None = None, warm: WarmHistory | None = None, dma_feeds: DmaFeeds | None = None,
    ) -> None:  # fmt: skip
        """``group_models``: the groups' multivariate models, fed the windows handed to :meth:`process`;
        ``warm``: history that initialises each group model met for the first time; ``dma_feeds``: the DMA leak
        detectors, fed the windows of DMA sensors handed to :meth:`process`."""
        self.detectors = detectors
        self.group_models = group_models
        self.dma_feeds = dma_feeds
        self.warm = warm
        self.partitions = partitions
        self.late_findings = 0  # findings that arrived behind the watermark (see the class docstring)
        self._late_counted = False  # late_findings summed over the groups once (after a restart: from the snapshot)
        self.group_errors = 0  # findings a group's correlation raised on (logged, skipped)
        self.tick_interval_ms = tick_interval_ms

    def new_state(self) -> GroupStageState:
        """Fresh state: every partition counts from the start, at watermark -1 until it reports."""
        return GroupStageState(partition_watermarks=dict.fromkeys(range(self.partitions), -1))

    def watermark(self, state: GroupStageState) -> int:
        """The event-time watermark up to which findings are complete.

        The minimum over partitions that still have data to deliver; idle partitions do not count
        (when all are idle, the newest watermark).
        """
        marks = state.partition_watermarks
        if not marks:
            return -1
        busy = [w for p, w in marks.items() if p not in state.idle]
        return min(busy) if busy else max(marks.values())

    def process(
        self, state: GroupStageState, partition: int, watermark: int, findings: list[Finding], idle: bool = False,
        windows: Sequence[GroupWindow] = (), *, end: bool = False,
    ) -> list[AlertEvent]:  # fmt: skip
        """Take one partition's findings, closed group windows and watermark; return alert events now decided.

        ``end``: a finite run's partition is over. Once every partition is, the findings the groups still hold
        for their peers (a spike or a saturation waits up to 15 min for the same at other sensors) are decided
        with the peers known, instead of waiting for a watermark that will never come.
        """
        if watermark > state.partition_watermarks.get(partition, -1):
            state.partition_watermarks[partition] = watermark
        else:
            state.partition_watermarks.setdefault(partition, watermark)
        if idle:
            state.idle.add(partition)
        else:
            state.idle.discard(partition)
        if findings:
            state.pending.extend(findings)
        mark = self.watermark(state)
        models = self._group_models(state, windows, mark)
        dmas = self._dmas(state, windows, mark)
        if mark < 0:
            return []
        ready = [f for f in state.pending if f.ts <= mark]
        if models:
            ready.extend(models)
        if dmas:
            ready.extend(dmas)
        events: list[AlertEvent] = []
        if ready:
            state.pending = [f for f in state.pending if f.ts > mark]
            # no sorting here: each group's alarm logic orders its findings itself (detectors/alarms.py)
            by_group: dict[str, list[Finding]] = {}
            for finding in ready:
                by_group.setdefault(finding.group_id or finding.asset_id, []).append(finding)
            for group_id in sorted(by_group):
                events.extend(self._group(state, group_id, by_group[group_id], mark))
        state.released_to = max(state.released_to, mark)
        if mark - state.last_tick >= self.tick_interval_ms:
            state.last_tick = mark
            if not self._late_counted:  # once per process; then counted as groups are evaluated
                self.late_findings = sum(getattr(g, "late_findings", 0) for g in state.groups.values())
                self._late_counted = True
            # a group at rest would only move its horizon to the tick's mark: it is skipped, and catches up
            # when it is next evaluated (``_group``), so the tick's cost follows the groups with work
            for group_id in sorted(self._active(state).difference(ready_groups(ready))):
                events.extend(self._group(state, group_id, [], mark))
        if end:
            events.extend(self._end(state, partition, mark))
        return events

    def _end(self, state: GroupStageState, partition: int, mark: int) -> list[AlertEvent]:
        """Note a partition's end; when it was the last, decide every group's held findings (once)."""
        ended = getattr(state, "ended", None)
        if ended is None:  # a snapshot from before the set
            ended = state.ended = set()
        if partition in ended:
            return []
        ended.add(partition)
        finish = getattr(self.detectors, "finish_group", None)
        if finish is None or not ended.issuperset(state.partition_watermarks):
            return []
        events: list[AlertEvent] = []
        for group_id in sorted(state.groups):
            try:
                events.extend(finish(state.groups[group_id], mark))
            except Exception:  # as in _group: log, keep the other groups
                self.group_errors += 1
                log.exception("correlation failed at the end of input", extra={"group_id": group_id, "step": "end"})
        return events

    @staticmethod
    def _active(state: GroupStageState) -> set[str]:
        active = getattr(state, "active", None)
        if active is None:  # unknown (a snapshot from before the set): every group not at rest
            active = state.active = {g for g, group_state in state.groups.items() if not _at_rest(group_state)}
        return active

    def _group_models(self, state: GroupStageState, windows: Sequence[GroupWindow], mark: int) -> list[Finding]:
        """Buffer windows in their groups' models; score every slot the watermark released (findings)."""
        gm = self.group_models
        if gm is None:
            return []
        if getattr(state, "models", None) is None:  # a snapshot from before group models
            state.models = {}
        take = self.warm.take_group if self.warm is not None else None
        due = _Due(gm.due, getattr(state, "models_due", -1))  # (a snapshot from before the schedule: unknown)
        found = _feed_groups(gm, gm.members, state.models, windows, mark, take, "group_model", self, due)
        state.models_due = due.mark
        return found

    def _dmas(self, state: GroupStageState, windows: Sequence[GroupWindow], mark: int) -> list[Finding]:
        """Buffer windows of DMA sensors; feed every DMA detector the steps the watermark released (findings)."""
        feeds = self.dma_feeds
        if feeds is None:
            return []
        if getattr(state, "dmas", None) is None:  # a snapshot from before the DMA detectors
            state.dmas = {}
        take = self.warm.take_dma if self.warm is not None else None
        return _feed_groups(feeds, feeds.dmas, state.dmas, windows, mark, take, "dma_leak", self)

    def _group(self, state: GroupStageState, group_id: str, findings: list[Finding], mark: int) -> list[AlertEvent]:
        active = self._active(state)
        group_state = state.groups.get(group_id)
        known = group_state is not None
        if group_state is None:
            group_state = state.groups[group_id] = self.detectors.new_group_state(group_id)
            means = getattr(group_state, "hourly_means", None)
            if self.warm is not None and means is not None:  # the faults against peers need no 18 h wait
                means.update(self.warm.take_peers(group_id))
        late_before = getattr(group_state, "late_findings", 0)
        try:
            if known and group_id not in active and state.last_tick >= 0:
                # at rest since its last evaluation: the ticks it skipped would have moved its horizon
                self.detectors.process_group(group_state, [], state.last_tick)
            events: list[AlertEvent] = self.detectors.process_group(group_state, findings, mark)
        except Exception:  # keep the group's alerts (they must still clear); skip what it choked on
            self.group_errors += 1
            first = findings[0] if findings else None
            log.exception(
                "correlation failed: %d finding(s) skipped", len(findings),
                extra={"group_id": group_id, "step": "correlate", "sensor_id": first.sensor_id if first else None},
            )  # fmt: skip
            active.add(group_id)  # look at it again at the next tick
            return []
        finally:
            self.late_findings += getattr(group_state, "late_findings", 0) - late_before
        if _at_rest(group_state):
            active.discard(group_id)
        else:
            active.add(group_id)
        return events


class _WindowScorer(Protocol[G]):
    """A per-group model fed closed windows in the group stage (group models, DMA leak detectors)."""

    def new_state(self, group_id: str) -> G: ...
    def warm(self, state: G, windows: Sequence[GroupWindow]) -> None: ...
    def add(self, state: G, windows: Iterable[GroupWindow]) -> None: ...
    def advance(self, state: G, watermark_ms: int) -> list[Finding]: ...


@dataclass
class _Due(Generic[G]):
    """When a scorer's states next have work: ``due(state)`` is the watermark at which ``advance`` first does
    something for that state (``None``: nothing buffered); ``mark`` the lowest over all states (-1: unknown).

    While the group stage's watermark is below ``mark`` no state is advanced at all, so the per-batch cost
    of the group stage does not grow with the number of groups (one pass per slot instead of per batch)."""

    due: Callable[[G], int | None]
    mark: int = -1

    def lower(self, state: G) -> None:
        """``state`` took new windows: its next work may come sooner (an unknown ``mark`` stays unknown)."""
        when = self.due(state)
        if when is not None and when < self.mark:  # (-1, unknown, is below every watermark)
            self.mark = when


_NOTHING_DUE = 1 << 62  # above any event time: no state has anything buffered


def _feed_groups(
    scorer: _WindowScorer[G], members: Container[str], states: dict[str, G], windows: Sequence[GroupWindow],
    mark: int, take_warm: Callable[[str], list[GroupWindow]] | None, step: str, stage: GroupStage,
    due: _Due[G] | None = None,
) -> list[Finding]:  # fmt: skip
    """Buffer the windows of ``members``' groups in their states (created, and warmed from history, on first
    sight); then advance every state to the watermark ``mark`` (with ``due``: only when some state is due, and
    only the states that are). A state whose scorer raises starts afresh (logged under ``step``, counted in
    ``stage.group_errors``): a model bug must not stop the group's alerts."""
    by_group: dict[str, list[GroupWindow]] = {}
    for w in windows:
        if w.group_id in members:
            by_group.setdefault(w.group_id, []).append(w)
    for group_id, group_windows in by_group.items():
        group_state = states.get(group_id)
        if group_state is None:
            group_state = states[group_id] = scorer.new_state(group_id)
            if take_warm is not None:
                scorer.warm(group_state, take_warm(group_id))
        scorer.add(group_state, group_windows)
        if due is not None:
            due.lower(group_state)
    found: list[Finding] = []
    if mark < 0 or (due is not None and 0 <= mark < due.mark):
        return found
    for group_id in sorted(states):
        state = states[group_id]
        if due is not None:
            when = due.due(state)
            if when is None or when > mark:
                continue
        try:
            found.extend(scorer.advance(state, mark))
        except Exception:
            stage.group_errors += 1
            log.exception("%s failed; state reset", step, extra={"group_id": group_id, "step": step})
            states[group_id] = scorer.new_state(group_id)
    if due is not None:
        pending = [when for s in states.values() if (when := due.due(s)) is not None]
        due.mark = min(pending, default=_NOTHING_DUE)
    return found


def _at_rest(group_state: GroupState) -> bool:
    """``GroupState.at_rest``; a state without it (another suite's) is never at rest: the tick always visits it."""
    return bool(getattr(group_state, "at_rest", False))


def _sweep_signature(sensor_state: SensorState) -> tuple[int, int, int]:
    """What a sweep (``advance_sensor``) can change without output: the open window (closed or dropped) and
    the silence flags; everything else it changes comes with a window statistic or a finding."""
    return sensor_state.window_start, sensor_state.silent, sensor_state.faults


def ready_groups(findings: list[Finding]) -> list[str]:
    """Group ids touched by ``findings``."""
    return [f.group_id or f.asset_id for f in findings]
