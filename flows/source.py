"""A Bytewax source that reads ``lifeline.readings`` one *consume batch* per item.

One Bytewax item per Kafka message caps a flow near 140k items/s; one item per ``consume(n)``
batch removes that overhead (docs/architecture.md#performance-notes). Each Kafka partition is one Bytewax
source partition, so Bytewax assigns partitions to workers itself and snapshots the next offset to
read together with operator state: after a crash the flow resumes exactly where its snapshot was.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from lifeline.flows.batch import RawBatch
from lifeline.flows.exceptions import KafkaReadError, TopicMissingError

__all__ = ["MIN_LINGER_S", "KafkaBatchSource", "RawBatch"]

log = logging.getLogger("lifeline.flow")

#: the wait between reads of a partition whose traffic would not fill a worthwhile batch within the linger
MIN_LINGER_S = 0.01
_RATE_WEIGHT = 0.3  # weight of the newest read in the partition's smoothed message rate


class _PartitionReader(StatefulSourcePartition[RawBatch, int]):
    def __init__(self, config: dict[str, Any], topic: str, partition: int, start: int, *,
                 batch_size: int, poll_timeout_s: float, linger_s: float, stop_offset: int | None,
                 stall_s: float = 0.0, clock: Callable[[], float] = time.monotonic,
                 on_stall: Callable[[int], None] | None = None) -> None:  # fmt: skip
        self._consumer = Consumer(config)
        self._consumer.assign([TopicPartition(topic, partition, start)])
        self._partition = partition
        self._next_offset = start
        self._batch_size = batch_size
        self._poll_timeout_s = poll_timeout_s
        self._stop_offset = stop_offset
        self._topic = topic
        self._linger_s = linger_s
        self._full = False
        self._announced_end = False
        self._last_idle_check = -1.0
        self._stall_s = stall_s
        self._clock = clock
        self._on_stall = on_stall
        self._last_progress = clock()  # when messages last arrived or the partition was last caught up
        self._stalled = False
        self._last_read = -1.0  # when the partition was last read (clock seconds)
        self._rate = -1.0  # messages per second arriving on the partition, smoothed; -1: not known yet

    def _caught_up(self) -> bool | None:
        """True when every message of the partition up to its current end has been read.

        Uses the high watermark of the last fetch response (no broker round trip, so a quiet
        partition never blocks the worker); asks the broker only before the first fetch answered.
        Checked at most every 0.5 s; in between the answer is None (not checked).
        """
        if self._stop_offset is not None:  # a finite run knows its end: idle only there (handled above)
            return False
        now = self._clock()
        if self._last_idle_check >= 0 and now - self._last_idle_check < 0.5:
            return None
        self._last_idle_check = now
        partition = TopicPartition(self._topic, self._partition)
        _low, high = self._consumer.get_watermark_offsets(partition, cached=True)
        if high < 0:
            _low, high = self._consumer.get_watermark_offsets(partition, timeout=5)
        return self._next_offset >= high or high == 0

    def _nothing_read(self) -> list[RawBatch]:
        """An empty read: report the partition idle when it is caught up, or stalled past the timeout.

        A partition with unread messages holds the group watermark however long it takes to read
        them (that is what makes alerts independent of reading speed). Only with
        ``LIFELINE_PARTITION_STALL_S`` > 0, one that has delivered nothing for that long although
        messages wait is declared stalled (logged, counted) and stops holding the others back, at
        the price of its later findings arriving late. A reader that is catching up delivers
        messages, so it is never declared stalled.
        """
        now = self._clock()
        caught_up = self._caught_up()
        if caught_up:
            self._last_progress = now
            self._end_stall()
            return [RawBatch(self._partition, [], [], [], idle=True)]
        if caught_up is False and self._stall_s > 0 and now - self._last_progress >= self._stall_s:
            if not self._stalled:
                self._stalled = True
                log.warning(
                    "partition stalled: messages wait but none arrived for %.0f s; alerts no longer wait for it",
                    now - self._last_progress, extra={"partition": self._partition, "step": "readings"},
                )  # fmt: skip
                if self._on_stall is not None:
                    self._on_stall(self._partition)
            return [RawBatch(self._partition, [], [], [], idle=True, stalled=True)]
        return []

    def _end_stall(self) -> None:
        if self._stalled:
            self._stalled = False
            log.warning("partition reads again after a stall; its findings behind the watermark count as late",
                        extra={"partition": self._partition, "step": "readings"})  # fmt: skip

    def next_batch(self) -> list[RawBatch]:
        if self._stop_offset is not None and self._next_offset >= self._stop_offset:
            if self._announced_end:
                raise StopIteration
            self._announced_end = True  # tell the group stage this partition holds nobody back any more
            return [RawBatch(self._partition, [], [], [], idle=True, end=True)]
        messages = self._consumer.consume(self._batch_size, timeout=self._poll_timeout_s)
        payloads: list[bytes] = []
        offsets: list[int] = []
        stamps: list[int] = []
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaReadError(f"Kafka error on partition {self._partition} of {self._topic!r}: {error}")
            offset = message.offset() or 0
            if self._stop_offset is not None and offset >= self._stop_offset:
                break
            payloads.append(message.value() or b"")
            offsets.append(offset)
            stamps.append(message.timestamp()[1])
        self._full = len(messages) >= self._batch_size
        self._observe_rate(len(messages))
        if not payloads:
            if self._next_offset < 0 and self._stop_offset == 0:
                return []
            return self._nothing_read()
        self._next_offset = offsets[-1] + 1
        self._last_progress = self._clock()
        self._end_stall()
        return [RawBatch(self._partition, payloads, offsets, stamps)]

    def _observe_rate(self, count: int) -> None:
        """Fold the messages of this read, over the time since the previous read, into the rate estimate."""
        now = self._clock()
        if self._last_read >= 0 and now > self._last_read:
            rate = count / (now - self._last_read)
            self._rate = rate if self._rate < 0 else self._rate + _RATE_WEIGHT * (rate - self._rate)
        self._last_read = now

    def linger_s(self) -> float | None:
        """How long to wait before reading the partition again; ``None``: read on at once.

        ``consume`` never blocks (one worker polls its partitions in turn, so a blocking poll on a
        quiet partition would delay the busy ones). After a full batch read on at once (catching up).
        After a short one wait ``linger`` while librdkafka keeps fetching, so a live stream arrives in
        batches big enough to amortise the per-batch work, but only when the partition's traffic
        will fill such a batch (a quarter of ``batch_size``) within the linger: low-rate traffic
        (single readings every few minutes per sensor) would only wait for batches that never fill,
        so it is read again after :data:`MIN_LINGER_S`. A finite run's last short batch is not
        waited on: its end marker follows at once.
        """
        if self._full or (self._stop_offset is not None and self._next_offset >= self._stop_offset):
            return None
        if 0 <= self._rate * self._linger_s < self._batch_size / 4:
            return min(self._linger_s, MIN_LINGER_S)
        return self._linger_s

    def next_awake(self) -> datetime | None:
        linger = self.linger_s()
        return None if linger is None else datetime.now(UTC) + timedelta(seconds=linger)

    def snapshot(self) -> int:
        return self._next_offset

    def close(self) -> None:
        self._consumer.close()


class KafkaBatchSource(FixedPartitionedSource[RawBatch, int]):
    """Read every partition of ``topic``; each item is a :class:`RawBatch`.

    ``stop_at_end=True`` makes the source finite: each partition stops at the end offset it had
    when the flow started (used by replays, tests and benchmarks). After a batch shorter than
    ``batch_size`` a partition is read again only ``linger_s`` later (``LIFELINE_SOURCE_LINGER_MS``,
    default 50 ms), so a live stream comes in batches large enough to process efficiently; a
    partition whose traffic would not fill a quarter batch within that time is read again after
    :data:`MIN_LINGER_S` instead (see :meth:`_PartitionReader.linger_s`).

    A caught-up partition is announced ``idle`` so that it holds nobody's alerts back. ``stall_s``
    (``LIFELINE_PARTITION_STALL_S``, default 0: never) declares a partition that has unread messages
    but delivered none for that long stalled (``on_stall`` is called with its number); see
    :meth:`_PartitionReader._nothing_read`. ``clock`` (monotonic seconds) is injectable for tests.
    """

    def __init__(self, consumer_config: dict[str, Any], topic: str, *, batch_size: int = 1000,
                 poll_timeout_s: float = 0.0, linger_s: float = 0.05, stop_at_end: bool = False,
                 stall_s: float = 0.0, on_stall: Callable[[int], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._config = {**consumer_config, "enable.auto.commit": False, "enable.partition.eof": False}
        self._stall_s = stall_s
        self._on_stall = on_stall
        self._clock = clock
        self._topic = topic
        self._batch_size = batch_size
        self._poll_timeout_s = poll_timeout_s
        self._linger_s = linger_s
        self._stop_at_end = stop_at_end
        self._offsets: list[tuple[int, int]] | None = None

    def list_parts(self) -> list[str]:
        return [str(p) for p in range(self.partition_count())]

    def partition_count(self) -> int:
        """Partitions of the topic (every worker lists all; Bytewax assigns each to one worker)."""
        return len(self._end_offsets())

    def _end_offsets(self) -> list[tuple[int, int]]:
        """(low, high) offsets of every partition, read once with one consumer and kept.

        Kept because a new consumer pays a metadata round trip of 30–60 ms; the high offsets are
        where a finite run stops (the end of each partition when the flow started).
        """
        if self._offsets is None:
            consumer = Consumer(self._config)
            try:
                metadata = consumer.list_topics(self._topic, timeout=10)
                topic = metadata.topics.get(self._topic)
                if topic is None or topic.error is not None or not topic.partitions:
                    raise TopicMissingError(self._topic)
                count = len(topic.partitions)
                if self._stop_at_end:
                    self._offsets = [
                        consumer.get_watermark_offsets(TopicPartition(self._topic, p), timeout=10) for p in range(count)
                    ]
                else:
                    self._offsets = [(OFFSET_BEGINNING, -1)] * count
            finally:
                consumer.close()
        return self._offsets

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _PartitionReader:
        partition = int(for_part)
        start = OFFSET_BEGINNING if resume_state is None else resume_state
        stop: int | None = None
        if self._stop_at_end:
            low, stop = self._end_offsets()[partition]
            if resume_state is None:
                start = low
        reader = _PartitionReader(
            self._config, self._topic, partition, start,
            batch_size=self._batch_size, poll_timeout_s=self._poll_timeout_s, linger_s=self._linger_s,
            stop_offset=stop, stall_s=self._stall_s, on_stall=self._on_stall, clock=self._clock,
        )  # fmt: skip
        return reader
