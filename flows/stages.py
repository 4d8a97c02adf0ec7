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

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from lifeline.detectors.api import Finding, WindowStats
from lifeline.flows.validate import Accepted, SensorIndex, ValidationLimits, validate_batch
from lifeline.models import AlertEvent, Reject

__all__ = ["GroupStage", "GroupStageState", "PartitionOutput", "PartitionStage", "PartitionState"]


@dataclass
class PartitionState:
    """Everything a partition remembers between batches (pickled into Bytewax snapshots)."""

    last_ts: npt.NDArray[np.int64]
    sensors: dict[int, Any] = field(default_factory=dict)  # sensor number → detector SensorState
    watermark: int = -1
    last_sweep: int = -1
    stored_bucket: npt.NDArray[np.int64] | None = None  # last stored time bucket per sensor (down-sampling)


@dataclass(frozen=True, slots=True)
class PartitionOutput:
    """What one batch produced."""

    partition: int
    watermark: int
    accepted: Accepted
    stats: list[WindowStats]
    findings: list[Finding]
    rejects: list[Reject]
    kafka_ts_min: int


class PartitionStage:
    """Per-partition logic; the detectors object is shared, the state is per partition."""

    def __init__(self, detectors: Any, index: SensorIndex, topic: str, *, limits: ValidationLimits,
                 sweep_interval_ms: int = 300_000) -> None:  # fmt: skip
        self.detectors = detectors
        self.index = index
        self.topic = topic
        self.limits = limits
        self.sweep_interval_ms = sweep_interval_ms

    def new_state(self) -> PartitionState:
        """Fresh state for a partition never seen before."""
        return PartitionState(last_ts=np.full(len(self.index), -1, dtype=np.int64))

    def process(
        self, state: PartitionState, partition: int, payloads: list[bytes], offsets: list[int], kafka_ts: list[int]
    ) -> PartitionOutput:
        """Validate a batch and run every sensor's readings through its detector state."""
        accepted, rejects = validate_batch(
            payloads, offsets, kafka_ts, partition=partition, topic=self.topic,
            index=self.index, last_ts=state.last_ts, limits=self.limits,
        )  # fmt: skip
        stats: list[WindowStats] = []
        findings: list[Finding] = []
        detectors = self.detectors
        sensor_ids = self.index.sensor_ids
        for sensor, start, stop in accepted.segments():
            sensor_state = state.sensors.get(sensor)
            if sensor_state is None:
                sensor_state = state.sensors[sensor] = detectors.new_sensor_state(sensor_ids[sensor])
            result = detectors.process_sensor(sensor_state, accepted.ts[start:stop], accepted.value[start:stop])
            if result.stats:
                stats.extend(result.stats)
            if result.findings:
                findings.extend(result.findings)
        if len(accepted):
            state.watermark = max(state.watermark, int(accepted.ts.max()))
        if state.watermark >= 0 and state.watermark - state.last_sweep >= self.sweep_interval_ms:
            self._sweep(state, stats, findings)
        return PartitionOutput(
            partition, state.watermark, accepted, stats, findings, rejects, min(kafka_ts) if kafka_ts else 0
        )

    def _sweep(self, state: PartitionState, stats: list[WindowStats], findings: list[Finding]) -> None:
        """Let quiet sensors close their windows and notice silence, on event time."""
        state.last_sweep = state.watermark
        if not state.sensors:
            return
        numbers = np.fromiter(state.sensors.keys(), dtype=np.int64, count=len(state.sensors))
        quiet = numbers[state.last_ts[numbers] < state.watermark - self.sweep_interval_ms]
        for sensor in quiet.tolist():
            result = self.detectors.advance_sensor(state.sensors[sensor], state.watermark)
            stats.extend(result.stats)
            findings.extend(result.findings)


@dataclass
class GroupStageState:
    """Watermarks of every partition, buffered findings and the state of every group."""

    partition_watermarks: dict[int, int] = field(default_factory=dict)
    pending: list[Finding] = field(default_factory=list)
    groups: dict[str, Any] = field(default_factory=dict)  # group id → detector GroupState
    released_to: int = -1
    last_tick: int = -1


class GroupStage:
    """Correlation and alarm state over all groups, fed in event-time order behind a watermark.

    ``max_skew_ms`` bounds how far a stalled partition may hold everybody back: the watermark is
    ``max(min(partition watermarks), max(partition watermarks) - max_skew_ms)``; a finding that then
    arrives behind it is processed at once rather than dropped.
    """

    def __init__(self, detectors: Any, *, max_skew_ms: int = 300_000, tick_interval_ms: int = 60_000) -> None:
        self.detectors = detectors
        self.max_skew_ms = max_skew_ms
        self.tick_interval_ms = tick_interval_ms

    def new_state(self) -> GroupStageState:
        """Fresh state."""
        return GroupStageState()

    def watermark(self, state: GroupStageState) -> int:
        """The event-time watermark up to which findings are complete."""
        if not state.partition_watermarks:
            return -1
        marks = state.partition_watermarks.values()
        return max(min(marks), max(marks) - self.max_skew_ms)

    def process(
        self, state: GroupStageState, partition: int, watermark: int, findings: list[Finding]
    ) -> list[AlertEvent]:
        """Take one partition's findings and watermark; return alert events now decided."""
        if watermark > state.partition_watermarks.get(partition, -1):
            state.partition_watermarks[partition] = watermark
        if findings:
            state.pending.extend(findings)
        mark = self.watermark(state)
        if mark < 0:
            return []
        ready = [f for f in state.pending if f.ts <= mark]
        events: list[AlertEvent] = []
        if ready:
            state.pending = [f for f in state.pending if f.ts > mark]
            ready.sort(key=lambda f: (f.ts, f.sensor_id, f.rule))
            by_group: dict[str, list[Finding]] = {}
            for finding in ready:
                by_group.setdefault(finding.group_id or finding.asset_id, []).append(finding)
            for group_id in sorted(by_group):
                events.extend(self._group(state, group_id, by_group[group_id], mark))
        state.released_to = max(state.released_to, mark)
        if mark - state.last_tick >= self.tick_interval_ms:
            state.last_tick = mark
            touched = set(ready_groups(ready))
            for group_id in sorted(state.groups):
                if group_id not in touched:
                    events.extend(self.detectors.process_group(state.groups[group_id], [], mark))
        return events

    def _group(self, state: GroupStageState, group_id: str, findings: list[Finding], mark: int) -> list[AlertEvent]:
        group_state = state.groups.get(group_id)
        if group_state is None:
            group_state = state.groups[group_id] = self.detectors.new_group_state(group_id)
        events: list[AlertEvent] = self.detectors.process_group(group_state, findings, mark)
        return events


def ready_groups(findings: list[Finding]) -> list[str]:
    """Group ids touched by ``findings``."""
    return [f.group_id or f.asset_id for f in findings]
