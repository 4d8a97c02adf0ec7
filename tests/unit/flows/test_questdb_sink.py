"""The QuestDB sink keeps one connection for all writes, and when QuestDB fails it backs off and
retries with a fresh connection until the rows are in: nothing is dropped, nothing written twice."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from lifeline.detectors.results import WindowStats
from lifeline.flows import metrics, sinks
from lifeline.flows.sinks import QuestDBBatch, QuestDBSink
from lifeline.flows.validate import SensorIndex
from lifeline.models import AlertEvent, AlertEventType, AlertKind, Lifeline, SensorKind, SensorSpec, Tier
from lifeline.registry import Registry
from lifeline.schema import ALERT_EVENTS

REGISTRY = Registry([SensorSpec("P-1", SensorKind.WATER_PRESSURE, "DMA-1", "water", "d1", 31.8, 117.2)])


class FakeSender:
    """Records rows; ``flush`` fails while the shared failure budget lasts, like QuestDB restarting."""

    def __init__(self, world: dict[str, Any]) -> None:
        self.world = world
        self.buffer: list[int] = []
        self.closed = False

    def establish(self) -> None:
        if self.world["refuse_connects"] > 0:
            self.world["refuse_connects"] -= 1
            raise ConnectionRefusedError("QuestDB is down")
        self.world["connects"] += 1

    def row(self, table: str, *, symbols: dict[str, Any], columns: dict[str, Any], at: Any) -> None:
        self.buffer.append(int(columns["count"]))

    def dataframe(self, frame: Any, *, table_name: str, symbols: list[str], at: str) -> None:
        self.buffer.extend(int(c) for c in frame["count"])

    def flush(self) -> None:
        assert not self.closed
        if self.world["failing_flushes"] > 0:
            self.world["failing_flushes"] -= 1
            raise OSError("connection reset by peer")
        self.world["stored"].extend(self.buffer)
        self.buffer = []

    def close(self, flush: bool = True) -> None:
        self.closed = True


def _sink(monkeypatch: pytest.MonkeyPatch, world: dict[str, Any]) -> Any:
    class Factory:
        @staticmethod
        def from_conf(conf: str) -> FakeSender:
            return FakeSender(world)

    monkeypatch.setattr(sinks, "Sender", Factory)
    monkeypatch.setattr(sinks.time, "sleep", lambda seconds: world["slept"].append(seconds))
    return QuestDBSink("http::addr=127.0.0.1:9;", SensorIndex(REGISTRY)).build_part("questdb", "questdb", None)


def _stats(counts: range) -> QuestDBBatch:
    return QuestDBBatch(stats=[WindowStats("P-1", 60_000 * i, 60, i, 0.3, 0.3, 0.3, 0.0, 0.0, 0.3) for i in counts])


def _world(**faults: int) -> dict[str, Any]:
    return {"refuse_connects": 0, "failing_flushes": 0, "connects": 0, "stored": [], "slept": [], **faults}


def test_one_connection_serves_every_write(monkeypatch: pytest.MonkeyPatch) -> None:
    world = _world()
    part = _sink(monkeypatch, world)
    for first in (1, 11, 21):
        part.write_batch([_stats(range(first, first + 10))])
        part.flush()
    part.close()
    assert world["stored"] == list(range(1, 31))
    assert world["connects"] == 1


def test_questdb_down_backs_off_and_loses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    world = _world(refuse_connects=2, failing_flushes=1)
    failures_before = metrics.QUESTDB_FLUSH_FAILURES._value.get()
    part = _sink(monkeypatch, world)
    part.write_batch([_stats(range(1, 6)), _stats(range(6, 9))])
    part.flush()
    part.write_batch([_stats(range(9, 12))])
    part.close()
    assert world["stored"] == list(range(1, 12)), "every row exactly once, in order"
    assert metrics.QUESTDB_FLUSH_FAILURES._value.get() - failures_before == 3
    assert world["slept"] == [0.2, 0.4, 0.8], "exponential back-off between attempts"
    assert world["connects"] == 2, "a fresh connection after the failed flush, then kept"


def test_an_alert_row_carries_every_alert_events_column_with_the_location(monkeypatch: pytest.MonkeyPatch) -> None:
    rows: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    class Recorder(FakeSender):
        def row(self, table: str, *, symbols: dict[str, Any], columns: dict[str, Any], at: Any) -> None:
            rows.append((table, symbols, columns))

    class Factory:
        @staticmethod
        def from_conf(conf: str) -> FakeSender:
            return Recorder({"refuse_connects": 0, "connects": 0, "failing_flushes": 0, "stored": []})

    monkeypatch.setattr(sinks, "Sender", Factory)
    where = "sensors: P-1 -12.2 m"
    event = AlertEvent(
        alert_id="loc-1", event=AlertEventType.OPENED, tier=Tier.T2, lifeline=Lifeline.WATER,
        kind=AlertKind.PIPE_BURST, asset_id="DMA-1", owner="water", district="d1", sensor_ids=("P-1",),
        started_at=1_000, ts=2_000, value=0.28, score=0.7, evidence="drop", location=where,
    )  # fmt: skip
    part = QuestDBSink("http::addr=127.0.0.1:9;", SensorIndex(REGISTRY)).build_part("questdb", "questdb", None)
    part.write_batch([QuestDBBatch(alerts=[event])])
    part.close()
    [(table, symbols, columns)] = rows
    assert table == "alert_events"
    assert columns["location"] == where
    assert {*symbols, *columns, "ts"} == set(ALERT_EVENTS.column_names), "every column of the table is written"


def test_a_slow_questdb_commit_stalls_the_flow_only_at_the_row_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """While a write is in flight, the flush interval does not make the next batch wait for it (that wait held
    back the alerts of the same worker); only ``flush_rows`` pending rows do (backpressure), and nothing is lost."""
    release = threading.Event()
    world = _world()

    class SlowSender(FakeSender):
        def flush(self) -> None:
            release.wait(10)
            super().flush()

    class Factory:
        @staticmethod
        def from_conf(conf: str) -> FakeSender:
            return SlowSender(world)

    monkeypatch.setattr(sinks, "Sender", Factory)
    sink = QuestDBSink("http::addr=127.0.0.1:9;", SensorIndex(REGISTRY), flush_rows=20, flush_interval_s=0.0)
    part = sink.build_part("questdb", "questdb", None)

    def write(counts: range) -> threading.Thread:
        thread = threading.Thread(target=part.write_batch, args=([_stats(counts)],), daemon=True)
        thread.start()
        thread.join(1.0)
        return thread

    assert not write(range(1, 6)).is_alive(), "the first write is handed off"
    assert not write(range(6, 11)).is_alive(), "the interval passed but the writer is busy: no wait"
    blocked = write(range(11, 31))  # 25 pending rows ≥ flush_rows = 20: wait for the write in flight
    assert blocked.is_alive(), "at the row limit the flow waits for QuestDB"
    release.set()
    blocked.join(5.0)
    assert not blocked.is_alive()
    part.close()
    assert world["stored"] == list(range(1, 31)), "every row exactly once, in order"
