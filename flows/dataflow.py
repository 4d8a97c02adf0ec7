"""The Bytewax dataflow: Kafka → validation → detectors → QuestDB + alerts, with recovery.

::

    readings (KafkaBatchSource, one item per consume batch)
      └─ on the worker that reads the partition (flows/local_detect.py)
         └─ detect_sensors (stateful, PartitionStage) ─┬─ rows ──────────► QuestDB
                                                       ├─ rejects ───────► DLQ + QuestDB
                                                       └─ findings
                                                          └─ correlate (stateful, GroupStage)
                                                             └─ alert events ─► Kafka + QuestDB
"""

from __future__ import annotations

import io
import logging
import pickle
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, Source
from bytewax.operators import StatefulLogic
from bytewax.outputs import Sink

from lifeline.connectors.kafka import consumer_config, producer_config
from lifeline.detectors.config import RulesConfig
from lifeline.detectors.contract import DetectorSuite
from lifeline.detectors.dma_feed import DmaFeeds
from lifeline.detectors.group_model import GroupModels, GroupWindow
from lifeline.detectors.results import Finding, WindowStats
from lifeline.flows import metrics
from lifeline.flows.batch import RawBatch
from lifeline.flows.local_detect import LocalDetectSource
from lifeline.flows.observe import FlowObserver, RejectLog
from lifeline.flows.sinks import KafkaOut, KafkaSink, QuestDBBatch, QuestDBSink
from lifeline.flows.source import KafkaBatchSource
from lifeline.flows.stages import GroupStage, GroupStageState, PartitionOutput, PartitionStage, PartitionState
from lifeline.flows.storage import ReadingStorage
from lifeline.flows.validate import SensorIndex, ValidationLimits
from lifeline.flows.warm import WarmHistory
from lifeline.models import AlertEvent
from lifeline.registry import Registry
from lifeline.settings import Settings, config_table

__all__ = [
    "FlowIO", "GroupInput", "GroupWindows", "build_flow", "dump_snapshot", "kafka_io", "load_snapshot",
    "make_detectors",
]  # fmt: skip

log = logging.getLogger("lifeline.flow")

S = TypeVar("S")
V = TypeVar("V")
W = TypeVar("W")


_PICKLE_START = pickle.PROTO  # b"\x80"


class _SnapshotUnpickler(pickle.Unpickler):
    """Reads snapshots written before a class moved to another module, so an upgrade keeps its state."""

    MOVED: ClassVar[dict[str, str]] = {"lifeline.detectors.api": "lifeline.detectors.results"}

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(self.MOVED.get(module, module), name)


def dump_snapshot(state: Any, level: int = 0) -> bytes:
    """An operator state pickled for a snapshot, zlib-compressed at ``level`` 1–9 (0: not compressed;
    ``LIFELINE_SNAPSHOT_COMPRESSION``); a state with ``compress_snapshot_at`` compresses its own parts."""
    compresses_itself = getattr(state, "compress_snapshot_at", None)
    if compresses_itself is not None:  # a partition state: compresses only what changed since its last snapshot
        compresses_itself(level)
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    return zlib.compress(data, level) if level > 0 else data


def load_snapshot(data: bytes) -> Any:
    """A pickled operator state, as written by this version or an earlier one, compressed or not."""
    if data[:1] != _PICKLE_START:  # a pickle (protocol 2+) starts with PROTO; a zlib stream never does
        data = zlib.decompress(data)
    return _SnapshotUnpickler(io.BytesIO(data)).load()


class _SnapshotAsPickle(StatefulLogic[V, W, bytes], Generic[S, V, W]):
    """``stateful_map`` whose snapshot is the state already pickled.

    Bytewax's ``stateful_map`` deep-copies the state at every snapshot and pickles the copy later;
    pickling at once gives the same isolation (later changes cannot leak into the snapshot) at the
    cost of one pass over the state instead of two.
    """

    def __init__(
        self, step: Callable[[S | None, V], tuple[S, W]], resume_state: bytes | S | None,
        dump: Callable[[Any], bytes] = dump_snapshot,
    ) -> None:  # fmt: skip
        self._step = step
        self._dump = dump
        self._state: S | None = load_snapshot(resume_state) if isinstance(resume_state, bytes) else resume_state

    def on_item(self, value: V) -> tuple[list[W], bool]:
        self._state, out = self._step(self._state, value)
        return [out], StatefulLogic.RETAIN

    def snapshot(self) -> bytes:
        return self._dump(self._state)


def _stateful_map(
    step_id: str, up: Any, step: Callable[[Any, Any], tuple[Any, Any]], dump: Callable[[Any], bytes]
) -> Any:
    """``op.stateful_map`` with pickled snapshots (see :class:`_SnapshotAsPickle`)."""
    return op.stateful(step_id, up, lambda resume: _SnapshotAsPickle(step, resume, dump))


def make_detectors(settings: Settings, registry: Registry, rules: RulesConfig | None = None) -> DetectorSuite:
    """The detectors as the flow runs them: the documented rule defaults, overridden by the config file's
    ``[rules]`` table (or ``rules`` instead of both, for benchmarks), then by ``LIFELINE_DETECTOR_RULES_PATH``;
    and no settle delay.

    The group stage already releases findings in event-time order behind the minimum watermark of
    all partitions, so the detectors' own settle delay would only add latency to every alert.
    """
    from dataclasses import replace

    from lifeline.detectors.config import load_rules_config, rules_from_table
    from lifeline.detectors.engine import Detectors

    config = rules if rules is not None else rules_from_table(config_table("rules"), "config file [rules]")
    if settings.detector_rules_path:
        config = load_rules_config(settings.detector_rules_path, base=config)
    config = replace(config, alarm=replace(config.alarm, settle_delay_ms=0))
    return Detectors(registry, config)


class GroupWindows:
    """The closed windows that cross to the group stage: those of group-model members and of DMA sensors (each
    window once; the group models and the DMA feeds each take the sensors they know)."""

    def __init__(self, group_models: GroupModels | None, dma_feeds: DmaFeeds | None) -> None:
        self._compacts = [c.compact for c in (group_models, dma_feeds) if c is not None]

    def __call__(self, stats: Sequence[WindowStats]) -> list[GroupWindow]:
        """The windows among ``stats`` the group stage needs."""
        if not stats or not self._compacts:
            return []
        if len(self._compacts) == 1:
            return self._compacts[0](stats)
        seen: dict[tuple[str, int], GroupWindow] = {}
        for compact in self._compacts:
            for w in compact(stats):
                seen.setdefault((w.sensor_id, w.window_start), w)
        return list(seen.values())


class GroupInput(NamedTuple):
    """What one partition batch hands the group stage: its watermark, findings, whether it is idle, the
    closed windows of members of multi-sensor groups (for the group models), and whether a finite run's
    partition is over."""

    partition: int
    watermark: int
    findings: list[Finding]
    idle: bool
    windows: Sequence[GroupWindow] = ()
    end: bool = False


@dataclass(frozen=True)
class FlowIO:
    """Where the flow reads and writes: the readings source, the Kafka sink (alerts and DLQ entries as
    :class:`KafkaOut`) and the QuestDB sink (:class:`QuestDBBatch`). Tests pass in-memory ones."""

    source: Source[RawBatch]
    partitions: int
    kafka: Sink[tuple[str, KafkaOut]]
    questdb: Sink[tuple[str, QuestDBBatch]]


def _live_fetch(settings: Settings) -> dict[str, int]:
    """Fetch settings for the flow's consumers: a caught-up consumer asks the broker for at least
    64 KiB or waits up to 10 ms (at most the source's linger), instead of sending one fetch request
    per few messages. Low-rate traffic never fills 64 KiB, so the broker's wait is kept short: a
    reading waits at most that long at the broker, then at most the source's short linger (see
    ``flows/source.py``). A consumer catching up gets full fetches either way. With no linger,
    fetches return as soon as anything is there."""
    if settings.source_linger_ms <= 0:
        return {"fetch.min.bytes": 1}
    return {"fetch.min.bytes": 65_536, "fetch.wait.max.ms": max(1, min(10, round(settings.source_linger_ms)))}


def kafka_io(settings: Settings, index: SensorIndex, *, stop_at_end: bool = False, flow_id: str = "lifeline") -> FlowIO:
    """The production source and sinks: ``lifeline.readings`` in, Kafka and QuestDB out."""
    source = KafkaBatchSource(
        consumer_config(settings, group_id=f"{flow_id}-flow", **_live_fetch(settings)), settings.readings_topic,
        batch_size=settings.batch_size, linger_s=settings.source_linger_ms / 1000, stop_at_end=stop_at_end,
        stall_s=settings.partition_stall_s, on_stall=lambda p: metrics.PARTITION_STALLS.labels(str(p)).inc(),
    )  # fmt: skip
    questdb = QuestDBSink(
        settings.questdb_ilp_conf, index,
        flush_rows=settings.questdb_flush_rows, flush_interval_s=settings.questdb_flush_interval_s,
        table_prefix=settings.questdb_table_prefix,
    )  # fmt: skip
    return FlowIO(source, source.partition_count(), KafkaSink(producer_config(settings)), questdb)


def build_flow(
    settings: Settings,
    registry: Registry,
    *,
    detectors: DetectorSuite | None = None,
    stop_at_end: bool = False,
    flow_id: str = "lifeline",
    io: FlowIO | None = None,
    warm: WarmHistory | None = None,
) -> Dataflow:
    """Wire the dataflow. ``stop_at_end`` makes the Kafka source finite (replays, tests, benchmarks);
    ``io`` replaces the Kafka and QuestDB source and sinks (tests); ``warm``: history that initialises
    sensors and group models met for the first time (``lifeline run --warm-start``, see flows/warm.py)."""
    if detectors is None:
        detectors = make_detectors(settings, registry)
    index = SensorIndex(registry)
    if io is None:
        io = kafka_io(settings, index, stop_at_end=stop_at_end, flow_id=flow_id)
    partition_stage = PartitionStage(
        detectors, index, settings.readings_topic,
        limits=ValidationLimits.from_settings(settings),
        sweep_interval_ms=round(settings.sweep_interval_s * 1000),
        allowed_lateness_ms=round(settings.allowed_lateness_s * 1000), warm=warm,
    )  # fmt: skip
    group_models: GroupModels | None = getattr(detectors, "group_models", None)
    dma_feeds: DmaFeeds | None = getattr(detectors, "dma_feeds", None)
    group_stage = GroupStage(
        detectors, partitions=io.partitions, group_models=group_models, warm=warm, dma_feeds=dma_feeds
    )
    group_windows = GroupWindows(group_models, dma_feeds)
    storage = ReadingStorage(mode=settings.store_readings, bucket_ms=settings.downsample_ms)
    observer = FlowObserver(partition_stage, group_stage, RejectLog())
    alerts_topic, dlq_topic = settings.alerts_topic, settings.dlq_topic

    def detect_sensors(
        state: PartitionState | None, batch: RawBatch
    ) -> tuple[PartitionState, tuple[PartitionOutput, QuestDBBatch, bool, bool]]:
        if state is None:
            state = partition_stage.new_state()
        out = partition_stage.process(state, batch)
        observer.partition_step(out)
        return state, (out, storage.rows(state, out), batch.idle, batch.end)

    def correlate(state: GroupStageState | None, item: GroupInput) -> tuple[GroupStageState, list[AlertEvent]]:
        if state is None:
            state = group_stage.new_state()
        events = group_stage.process(
            state, item.partition, item.watermark, item.findings, item.idle, item.windows, end=item.end
        )
        observer.group_step(events)
        return state, events

    dump = partial(dump_snapshot, level=settings.snapshot_compression)
    flow = Dataflow(flow_id)
    if isinstance(io.source, FixedPartitionedSource):  # detection where the partition is read (flows/local_detect.py)
        source = LocalDetectSource(io.source, detect_sensors, load=load_snapshot, dump=dump)
        detected = op.input("readings", flow, source)
    else:
        raw = op.input("readings", flow, io.source)
        by_partition = op.key_on("key_by_partition", raw, lambda b: str(b.partition))
        detected = op.key_rm("unkey_partition", _stateful_map("detect_sensors", by_partition, detect_sensors, dump))
    partition_rows = op.map("partition_rows", detected, lambda item: item[1])
    dlq = op.flat_map("dlq", detected, lambda item: [KafkaOut.reject(dlq_topic, r) for r in item[0].rejects])

    # only what correlation needs crosses to the group stage's worker (not the readings)
    def group_input(item: tuple[PartitionOutput, QuestDBBatch, bool, bool]) -> tuple[str, GroupInput]:
        out = item[0]
        return "all", GroupInput(out.partition, out.watermark, out.findings, item[2], group_windows(out.stats), item[3])

    to_groups = op.map("to_groups", detected, group_input)
    # the group stage's state is mostly float arrays (group models, DMA histories), which zlib shrinks by a sixth
    # at four times the pickling time (a Net3 DMA after 30 days: 5.3 → 4.4 MB, 25 → 123 ms): not compressed
    alerts = op.key_rm("unkey_groups", _stateful_map("correlate", to_groups, correlate, dump_snapshot))
    alert_messages = op.flat_map(
        "alert_messages", alerts, lambda events: [KafkaOut.alert(alerts_topic, e) for e in events]
    )
    alert_rows = op.map("alert_rows", alerts, lambda events: QuestDBBatch(alerts=events))
    to_kafka = op.key_on("key_kafka", op.merge("kafka_out", dlq, alert_messages), lambda _m: "kafka")
    to_questdb = op.key_on("key_questdb", op.merge("questdb_out", partition_rows, alert_rows), lambda _r: "questdb")
    op.output("kafka", to_kafka, io.kafka)
    op.output("questdb", to_questdb, io.questdb)
    return flow
