"""When a partition holds the others' alerts back: always while it has unread messages (the default),
or, with ``LIFELINE_PARTITION_STALL_S``, until it has delivered nothing for that long.

The consumer is a fake whose broker end (high watermark) and deliveries are set by the test, and the
reader runs on a fake clock, so these tests need no broker and no sleeping.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from lifeline.flows import source as source_module
from lifeline.flows.batch import RawBatch
from lifeline.flows.source import KafkaBatchSource
from tests.unit.flows.kafka_fakes import FakeMessage


class _StallingConsumer:
    """The broker holds ``end`` messages; only the first ``deliverable`` of them ever arrive."""

    end = 0
    deliverable = 0

    def __init__(self, _config: dict[str, Any]) -> None:
        self._next = 0

    def assign(self, _partitions: list[Any]) -> None:
        pass

    def consume(self, n: int, timeout: float) -> list[FakeMessage]:
        take = max(0, min(n, _StallingConsumer.deliverable - self._next))
        messages = [FakeMessage(self._next + i) for i in range(take)]
        self._next += take
        return messages

    def get_watermark_offsets(self, _partition: Any, **_options: Any) -> tuple[int, int]:
        return (0, _StallingConsumer.end)

    def close(self) -> None:
        pass


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _reader(monkeypatch: pytest.MonkeyPatch, clock: _Clock, stall_s: float, stalls: list[int]) -> Any:
    monkeypatch.setattr(source_module, "Consumer", _StallingConsumer)
    source = KafkaBatchSource(
        {"bootstrap.servers": "127.0.0.1:9"}, "readings", batch_size=100, linger_s=0.05,
        stall_s=stall_s, on_stall=stalls.append, clock=clock,
    )  # fmt: skip
    return source.build_part("input", "0", resume_state=None)


def _read_for(reader: Any, clock: _Clock, seconds: float, step: float = 0.25) -> list[RawBatch]:
    batches: list[RawBatch] = []
    stop = clock.now + seconds
    while clock.now < stop:
        batches.extend(reader.next_batch())
        clock.now += step
    return batches


def test_by_default_a_partition_with_unread_messages_holds_the_others_however_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock, stalls = _Clock(), []
    _StallingConsumer.end, _StallingConsumer.deliverable = 500, 200
    reader = _reader(monkeypatch, clock, stall_s=0.0, stalls=stalls)
    batches = _read_for(reader, clock, seconds=3600)
    assert sum(len(b.payloads) for b in batches) == 200
    assert not any(b.idle for b in batches), "a partition with 300 unread messages was let go"
    assert stalls == []


def test_a_caught_up_partition_is_announced_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, stalls = _Clock(), []
    _StallingConsumer.end = _StallingConsumer.deliverable = 200
    reader = _reader(monkeypatch, clock, stall_s=0.0, stalls=stalls)
    batches = _read_for(reader, clock, seconds=5)
    assert sum(len(b.payloads) for b in batches) == 200
    idle = [b for b in batches if b.idle]
    assert idle and not any(b.stalled for b in idle)
    assert len(idle) <= 5 / 0.5 + 1, "idle is announced at most every 0.5 s"


def test_with_a_stall_timeout_a_partition_that_delivers_nothing_is_let_go_logged_and_counted(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock, stalls = _Clock(), []
    _StallingConsumer.end, _StallingConsumer.deliverable = 500, 200
    reader = _reader(monkeypatch, clock, stall_s=30.0, stalls=stalls)
    with caplog.at_level(logging.WARNING, logger="lifeline.flow"):
        early = _read_for(reader, clock, seconds=29)
        late = _read_for(reader, clock, seconds=10)
    assert not any(b.idle for b in early), "let go before the stall timeout"
    assert late and all(b.idle and b.stalled for b in late)
    assert stalls == [0], "one stall episode, counted once"
    assert sum("partition stalled" in r.getMessage() for r in caplog.records) == 1
    _StallingConsumer.deliverable = 500  # the broker answers again
    with caplog.at_level(logging.WARNING, logger="lifeline.flow"):
        resumed = _read_for(reader, clock, seconds=2)
    assert sum(len(b.payloads) for b in resumed) == 300
    assert any("reads again" in r.getMessage() for r in caplog.records)


def test_a_partition_catching_up_slowly_is_never_declared_stalled(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, stalls = _Clock(), []
    _StallingConsumer.end, _StallingConsumer.deliverable = 100_000, 0
    reader = _reader(monkeypatch, clock, stall_s=30.0, stalls=stalls)
    batches: list[RawBatch] = []
    for _ in range(400):  # one small delivery every 20 s of wall time: slow, but progressing
        _StallingConsumer.deliverable += 10
        batches.extend(_read_for(reader, clock, seconds=20, step=1.0))
    assert sum(len(b.payloads) for b in batches) == 4000
    assert not any(b.idle for b in batches)
    assert stalls == []
