"""Run the whole dataflow in memory: a source of consume batches per partition and collecting sinks.

Like Bytewax's own ``bytewax.testing``: :class:`BatchTestingSource` replaces the Kafka source with
lists of :class:`~lifeline.flows.batch.RawBatch` per partition (each partition announces its end as
the finite Kafka source does), and :func:`memory_io` wires it with Bytewax ``TestingSink`` lists in
place of Kafka and QuestDB, so a unit test can run :func:`~lifeline.flows.dataflow.build_flow` with
1 or N workers and no server.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.testing import TestingSink

from lifeline.flows.batch import RawBatch
from lifeline.flows.dataflow import FlowIO
from lifeline.flows.sinks import KafkaOut, QuestDBBatch

__all__ = ["BatchTestingSource", "Collected", "memory_io", "split_into_batches"]


class _ListPartition(StatefulSourcePartition[RawBatch, int]):
    def __init__(self, partition: int, batches: list[RawBatch], resume: int | None) -> None:
        self._partition = partition
        self._batches = batches
        self._next = resume or 0

    def next_batch(self) -> list[RawBatch]:
        if self._next < len(self._batches):
            self._next += 1
            return [self._batches[self._next - 1]]
        if self._next == len(self._batches):
            self._next += 1  # like the finite Kafka source: announce the end once, then stop
            return [RawBatch(self._partition, [], [], [], idle=True, end=True)]
        raise StopIteration

    def snapshot(self) -> int:
        return self._next


class BatchTestingSource(FixedPartitionedSource[RawBatch, int]):
    """A finite source: ``partitions[p]`` are the consume batches of Kafka partition ``p``, in order."""

    def __init__(self, partitions: list[list[RawBatch]]) -> None:
        self.partitions = partitions

    def list_parts(self) -> list[str]:
        return [str(p) for p in range(len(self.partitions))]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _ListPartition:
        partition = int(for_part)
        return _ListPartition(partition, self.partitions[partition], resume_state)


@dataclass
class Collected:
    """What the flow wrote: ``("kafka", KafkaOut)`` and ``("questdb", QuestDBBatch)`` items."""

    kafka: list[tuple[str, KafkaOut]] = field(default_factory=list)
    questdb: list[tuple[str, QuestDBBatch]] = field(default_factory=list)


def memory_io(partitions: list[list[RawBatch]]) -> tuple[FlowIO, Collected]:
    """In-memory source and sinks for ``build_flow(..., io=...)``, and where the output lands."""
    collected = Collected()
    io = FlowIO(BatchTestingSource(partitions), len(partitions), TestingSink(collected.kafka),
                TestingSink(collected.questdb))  # fmt: skip
    return io, collected


def split_into_batches(
    messages: Iterable[tuple[bytes, bytes, int]], partitions: int, sizes: Iterable[int]
) -> list[list[RawBatch]]:
    """Spread ``(key, payload, kafka_ts)`` messages over partitions by key (CRC32, like a keyed producer)
    and cut each partition's messages into consume batches of the given ``sizes`` (cycled)."""
    per_partition: list[list[tuple[bytes, int]]] = [[] for _ in range(partitions)]
    for key, payload, kafka_ts in messages:
        per_partition[zlib.crc32(key) % partitions].append((payload, kafka_ts))
    size_list = list(sizes)
    out: list[list[RawBatch]] = []
    for p, items in enumerate(per_partition):
        batches: list[RawBatch] = []
        at, turn = 0, p
        while at < len(items):
            size = max(1, size_list[turn % len(size_list)])
            chunk = items[at : at + size]
            offsets = list(range(at, at + len(chunk)))
            batches.append(RawBatch(p, [c[0] for c in chunk], offsets, [c[1] for c in chunk]))
            at, turn = at + len(chunk), turn + 1
        out.append(batches)
    return out
