"""The Kafka source's pacing: read on at once after a full batch, wait ``linger`` after a short one.

A live stream read as fast as the worker loops arrives in batches of a few dozen messages, and the
per-batch work then costs several times more CPU per reading than in full batches; lingering after
a short batch lets librdkafka gather the next one. The consumer is replaced by a fake, so these
tests need no broker.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lifeline.flows import source as source_module
from lifeline.flows.source import KafkaBatchSource
from tests.unit.flows.kafka_fakes import FakeMessage


class _FakeConsumer:
    """Serves ``backlog`` messages, at most ``n`` per consume call, like librdkafka's local queue."""

    backlog = 0

    def __init__(self, _config: dict[str, Any]) -> None:
        self._next = 0

    def assign(self, _partitions: list[Any]) -> None:
        pass

    def consume(self, n: int, timeout: float) -> list[FakeMessage]:
        take = min(n, _FakeConsumer.backlog - self._next)
        messages = [FakeMessage(self._next + i) for i in range(take)]
        self._next += take
        return messages

    def get_watermark_offsets(self, _partition: Any, **_options: Any) -> tuple[int, int]:
        return (0, _FakeConsumer.backlog)

    def close(self) -> None:
        pass


@pytest.fixture
def reader(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(source_module, "Consumer", _FakeConsumer)
    source = KafkaBatchSource({"bootstrap.servers": "127.0.0.1:9"}, "readings", batch_size=100, linger_s=0.05)
    return source.build_part("input", "0", resume_state=None)


def test_a_full_batch_is_followed_by_an_immediate_read(reader: Any) -> None:
    _FakeConsumer.backlog = 250
    [batch] = reader.next_batch()
    assert len(batch.payloads) == 100
    assert reader.next_awake() is None


def test_a_short_batch_makes_the_partition_wait_the_linger(reader: Any) -> None:
    _FakeConsumer.backlog = 30
    before = datetime.now(UTC)
    [batch] = reader.next_batch()
    assert len(batch.payloads) == 30
    awake = reader.next_awake()
    assert awake is not None
    assert before + timedelta(milliseconds=45) <= awake <= datetime.now(UTC) + timedelta(milliseconds=55)


def test_lingering_loses_nothing_and_the_snapshot_is_the_next_offset_to_read(reader: Any) -> None:
    _FakeConsumer.backlog = 250
    seen: list[int] = []
    for _ in range(5):
        for batch in reader.next_batch():
            seen.extend(batch.offsets)
    assert seen == list(range(250))
    assert reader.snapshot() == 250
    assert reader.next_awake() is not None  # caught up: the partition waits instead of spinning


class _Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _paced_reader(monkeypatch: pytest.MonkeyPatch, clock: _Clock) -> Any:
    monkeypatch.setattr(source_module, "Consumer", _FakeConsumer)
    _FakeConsumer.backlog = 0
    source = KafkaBatchSource(
        {"bootstrap.servers": "127.0.0.1:9"}, "readings", batch_size=100, linger_s=0.05, clock=clock
    )
    return source.build_part("input", "0", resume_state=None)


def _read_every(reader: Any, clock: _Clock, per_read: int, reads: int, every_s: float) -> float | None:
    """``per_read`` new messages arrive before each of ``reads`` reads, ``every_s`` apart; the last linger."""
    for _ in range(reads):
        _FakeConsumer.backlog += per_read
        clock.now += every_s
        reader.next_batch()
    linger: float | None = reader.linger_s()
    return linger


def test_low_rate_traffic_is_read_again_soon_instead_of_waiting_for_a_batch_that_never_fills(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _Clock()
    reader = _paced_reader(monkeypatch, clock)
    # 2 messages per 10 ms = 200/s: 10 messages per 50 ms linger, below a quarter batch (25)
    assert _read_every(reader, clock, 2, 20, 0.01) == source_module.MIN_LINGER_S
    # nothing arriving at all (a caught-up, quiet partition) is low-rate traffic too
    assert _read_every(reader, clock, 0, 20, 0.01) == source_module.MIN_LINGER_S


def test_traffic_that_fills_a_worthwhile_batch_within_the_linger_still_waits_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _Clock()
    reader = _paced_reader(monkeypatch, clock)
    # 30 messages per 50 ms = 600/s: 30 per linger, above a quarter batch
    assert _read_every(reader, clock, 30, 20, 0.05) == pytest.approx(0.05)
