"""The Bytewax dataflow: Kafka → validation → detectors → QuestDB + alerts, with recovery.

::

    readings (KafkaBatchSource, one item per consume batch)
      └─ key by Kafka partition
         └─ detect_sensors (stateful, PartitionStage) ─┬─ rows ──────────► QuestDB
                                                       ├─ rejects ───────► DLQ + QuestDB
                                                       └─ findings
                                                          └─ correlate (stateful, GroupStage)
                                                             └─ alert events ─► Kafka + QuestDB
"""

from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import bytewax.operators as op
import numpy as np
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulLogic

from lifeline.connectors.kafka import consumer_config, producer_config
from lifeline.flows import metrics
from lifeline.flows.sinks import KafkaOut, KafkaSink, QuestDBBatch, QuestDBSink
from lifeline.flows.source import KafkaBatchSource, RawBatch
from lifeline.flows.stages import GroupStage, GroupStageState, PartitionOutput, PartitionStage, PartitionState
from lifeline.flows.validate import SensorIndex, ValidationLimits
from lifeline.models import AlertEvent, Reject
from lifeline.registry import Registry
from lifeline.settings import Settings

__all__ = ["RejectLog", "build_flow", "make_detectors"]

log = logging.getLogger("lifeline.flow")


def _storage_mask(state: PartitionState, out: PartitionOutput, mode: str, bucket_ms: int) -> np.ndarray | None:
    """Which accepted readings to store: all, none, or the first per sensor and time bucket.

    The down-sampling remembers the last stored bucket per sensor in the partition state, so the
    rows written do not depend on where batch boundaries fall (a replay stores the same rows).
    """
    accepted = out.accepted
    if mode == "none" or len(accepted) == 0:
        return None
    if mode == "all":
        return np.ones(len(accepted), dtype=bool)
    bucket = accepted.ts // bucket_ms
    if state.stored_bucket is None:
        state.stored_bucket = np.full(len(state.last_ts), -1, dtype=np.int64)
    last_bucket = state.stored_bucket
    previous = np.empty_like(bucket)
    previous[0] = last_bucket[accepted.sensor[0]]
    previous[1:] = bucket[:-1]
    new_sensor = np.ones(len(bucket), dtype=bool)
    new_sensor[1:] = accepted.sensor[1:] != accepted.sensor[:-1]
    previous[new_sensor] = last_bucket[accepted.sensor[new_sensor]]
    keep: np.ndarray = bucket != previous
    last = np.flatnonzero(np.diff(accepted.sensor, append=-1))
    last_bucket[accepted.sensor[last]] = bucket[last]
    return keep


S = TypeVar("S")
V = TypeVar("V")
W = TypeVar("W")


class _SnapshotAsPickle(StatefulLogic[V, W, bytes], Generic[S, V, W]):
    """``stateful_map`` whose snapshot is the state already pickled.

    Bytewax's ``stateful_map`` deep-copies the state at every snapshot and pickles the copy later;
    pickling at once gives the same isolation (later changes cannot leak into the snapshot) at the
    cost of one pass over the state instead of two.
    """

    def __init__(self, step: Callable[[S | None, V], tuple[S, W]], resume_state: bytes | S | None) -> None:
        self._step = step
        self._state: S | None = pickle.loads(resume_state) if isinstance(resume_state, bytes) else resume_state

    def on_item(self, value: V) -> tuple[list[W], bool]:
        self._state, out = self._step(self._state, value)
        return [out], StatefulLogic.RETAIN

    def snapshot(self) -> bytes:
        return pickle.dumps(self._state, protocol=pickle.HIGHEST_PROTOCOL)


def _stateful_map(step_id: str, up: Any, step: Callable[[Any, Any], tuple[Any, Any]]) -> Any:
    """``op.stateful_map`` with pickled snapshots (see :class:`_SnapshotAsPickle`)."""
    return op.stateful(step_id, up, lambda resume: _SnapshotAsPickle(step, resume))


class RejectLog:
    """Logs rejected inputs with reason, sensor, partition and offset, at most ``per_minute`` per reason
    per minute (a flood of bad messages must not flood the log; the DLQ and the counters have them all)."""

    def __init__(self, per_minute: int = 10) -> None:
        self.per_minute = per_minute
        self._window: dict[str, tuple[float, int]] = {}  # reason → (minute started, records in it)

    def record(self, reject: Reject) -> None:
        """Log one reject unless its reason already used up this minute's allowance."""
        now = time.monotonic()
        reason = reject.reason.value
        started, count = self._window.get(reason, (now, 0))
        if now - started >= 60.0:
            if count > self.per_minute:
                log.info("%d more %s rejects in the last minute (see the DLQ)", count - self.per_minute, reason,
                         extra={"reason": reason, "step": "validate", "count": count - self.per_minute})  # fmt: skip
            started, count = now, 0
        self._window[reason] = (started, count + 1)
        if count < self.per_minute:
            log.info("rejected to the DLQ: %s", reject.detail, extra={
                "reason": reason, "sensor_id": reject.sensor_id or None, "step": "validate",
                "partition": reject.partition, "offset": reject.offset,
            })  # fmt: skip


def _group_input(pair: tuple[PartitionOutput, Any, bool]) -> tuple[int, int, list[Any], bool]:
    out, _rows, idle = pair
    return (out.partition, out.watermark, out.findings, idle)


def make_detectors(settings: Settings, registry: Registry) -> Any:
    """The detectors as the flow runs them: rules from ``LIFELINE_RULES_PATH`` if set, and no settle delay.

    The group stage already releases findings in event-time order behind the minimum watermark of
    all partitions, so the detectors' own settle delay would only add latency to every alert.
    """
    from dataclasses import replace

    from lifeline.detectors.config import RulesConfig, load_rules_config
    from lifeline.detectors.engine import Detectors

    config = load_rules_config(settings.rules_path) if settings.rules_path else RulesConfig()
    config = replace(config, alarm=replace(config.alarm, settle_delay_ms=0))
    return Detectors(registry, config)


def _live_fetch(settings: Settings) -> dict[str, int]:
    """Fetch settings for the flow's consumers: a caught-up consumer asks the broker for at least
    64 KiB or waits up to the source's linger, instead of sending one fetch request per few messages.
    The source reads each partition only once per linger anyway, so this adds at most one more linger
    to a reading's way and saves the broker most of its requests; a consumer catching up gets full
    fetches either way. With no linger, fetches return as soon as anything is there."""
    if settings.source_linger_ms <= 0:
        return {"fetch.min.bytes": 1}
    return {"fetch.min.bytes": 65_536, "fetch.wait.max.ms": max(10, round(settings.source_linger_ms))}


def build_flow(
    settings: Settings,
    registry: Registry,
    *,
    detectors: Any = None,
    stop_at_end: bool = False,
    flow_id: str = "lifeline",
) -> Dataflow:
    """Build the dataflow. ``stop_at_end`` makes it finite (replays, tests, benchmarks)."""
    if detectors is None:
        detectors = make_detectors(settings, registry)
    index = SensorIndex(registry)
    limits = ValidationLimits(
        max_message_bytes=settings.max_message_bytes, future_tolerance_ms=round(settings.future_tolerance_s * 1000)
    )
    partition_stage = PartitionStage(
        detectors,
        index,
        settings.readings_topic,
        limits=limits,
        sweep_interval_ms=round(settings.sweep_interval_s * 1000),
        allowed_lateness_ms=round(settings.allowed_lateness_s * 1000),
    )
    source = KafkaBatchSource(
        consumer_config(settings, group_id=f"{flow_id}-flow", **_live_fetch(settings)), settings.readings_topic,
        batch_size=settings.batch_size, linger_s=settings.source_linger_ms / 1000, stop_at_end=stop_at_end,
        stall_s=settings.partition_stall_s, on_stall=lambda p: metrics.PARTITION_STALLS.labels(str(p)).inc(),
    )  # fmt: skip
    group_stage = GroupStage(detectors, partitions=source.partition_count())
    store_mode, bucket_ms = settings.store_readings, settings.downsample_ms
    reject_log = RejectLog()
    alerts_topic, dlq_topic = settings.alerts_topic, settings.dlq_topic

    def export_errors() -> None:
        errors = partition_stage.detector_errors + group_stage.group_errors
        if errors:
            metrics.DETECTOR_ERRORS.set(errors)

    def detect_sensors(
        state: PartitionState | None, batch: RawBatch
    ) -> tuple[PartitionState, tuple[PartitionOutput, QuestDBBatch, bool]]:
        if state is None:
            state = partition_stage.new_state()
        out = partition_stage.process(
            state, batch.partition, batch.payloads, batch.offsets, batch.kafka_ts, end=batch.end
        )
        keep = _storage_mask(state, out, store_mode, bucket_ms)
        rows = QuestDBBatch(stats=out.stats, rejects=out.rejects)
        if keep is not None:
            a = out.accepted
            rows.reading_sensor, rows.reading_ts = a.sensor[keep], a.ts[keep]
            rows.reading_value, rows.reading_quality = a.value[keep], a.quality[keep]
        metrics.READINGS.inc(len(out.accepted))
        for reject in out.rejects:
            metrics.REJECTS.labels(reject.reason.value).inc()
            reject_log.record(reject)
        export_errors()
        if out.findings:
            metrics.FINDINGS.inc(len(out.findings))
        if out.kafka_ts_min:
            delay = time.time() - out.kafka_ts_min / 1000
            metrics.PROCESSING.observe(max(delay, 0.0))
            metrics.CONSUMER_LAG.labels(str(batch.partition)).set(max(delay, 0.0) * 1000)
        return state, (out, rows, batch.idle)

    def correlate(
        state: GroupStageState | None, item: tuple[int, int, list[Any], bool]
    ) -> tuple[GroupStageState, list[AlertEvent]]:
        if state is None:
            state = group_stage.new_state()
        partition, watermark, findings, idle = item
        events = group_stage.process(state, partition, watermark, findings, idle)
        for e in events:
            metrics.ALERT_EVENTS.labels(str(int(e.tier)), e.kind.value, e.event.value).inc()
        metrics.LATE_FINDINGS.set(group_stage.late_findings)
        export_errors()
        return state, events

    flow = Dataflow(flow_id)
    raw = op.input("readings", flow, source)
    by_partition = op.key_on("key_by_partition", raw, lambda b: str(b.partition))
    detected = op.key_rm("unkey_partition", _stateful_map("detect_sensors", by_partition, detect_sensors))
    partition_rows = op.map("partition_rows", detected, lambda pair: pair[1])
    dlq = op.flat_map("dlq", detected, lambda pair: [KafkaOut.reject(dlq_topic, r) for r in pair[0].rejects])
    to_groups = op.map("to_groups", detected, lambda pair: ("all", _group_input(pair)))
    alerts = op.key_rm("unkey_groups", _stateful_map("correlate", to_groups, correlate))
    alert_messages = op.flat_map(
        "alert_messages", alerts, lambda events: [KafkaOut.alert(alerts_topic, e) for e in events]
    )
    alert_rows = op.map("alert_rows", alerts, lambda events: QuestDBBatch(alerts=events))
    to_kafka = op.key_on("key_kafka", op.merge("kafka_out", dlq, alert_messages), lambda _m: "kafka")
    to_questdb = op.key_on("key_questdb", op.merge("questdb_out", partition_rows, alert_rows), lambda _r: "questdb")
    op.output("kafka", to_kafka, KafkaSink(producer_config(settings)))
    op.output(
        "questdb",
        to_questdb,
        QuestDBSink(
            settings.questdb_ilp_conf, index,
            flush_rows=settings.questdb_flush_rows, flush_interval_s=settings.questdb_flush_interval_s,
            table_prefix=settings.questdb_table_prefix,
        ),
    )  # fmt: skip
    return flow
