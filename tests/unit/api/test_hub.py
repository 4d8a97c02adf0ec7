from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from typing import Any

from lifeline.api.auth import Principal, Role
from lifeline.api.filters import AlertFilter
from lifeline.api.hub import AlertHub, start_eagerly
from lifeline.models import AlertEventType as E

OP = Principal("op", Role.OPERATOR)


def frames(sub):
    items, dropped = sub.take(10_000)
    return [json.loads(i) for i in items], dropped


def test_snapshot_then_live_with_filters(event_factory):
    hub = AlertHub(replay_size=100)
    hub.ingest(event_factory("a1", tier=1), 1)
    hub.ingest(event_factory("a2", tier=3), 2)
    sub, first = hub.subscribe(OP, AlertFilter.parse(max_tier=2), 10)
    snap = json.loads(first)
    assert snap["type"] == "snapshot" and [a["event"]["alert_id"] for a in snap["alerts"]] == ["a1"]
    hub.ingest(event_factory("a3", tier=2), 3)
    hub.ingest(event_factory("a4", tier=3), 4)
    got, dropped = frames(sub)
    assert [g["event"]["alert_id"] for g in got] == ["a3"] and dropped == 0
    assert got[0]["status"] == "open" and got[0]["kafka_ts"] == 3


def test_owner_a_never_sees_owner_b(event_factory):
    hub = AlertHub()
    owner = Principal("gas", Role.OWNER, "hefei-gas")
    sub, _ = hub.subscribe(owner, AlertFilter.parse(owner="hefei-gas"), 10)
    hub.ingest(event_factory("b1", owner="hefei-water"), 1)
    hub.ingest(event_factory("a1", owner="hefei-gas"), 2)
    got, _ = frames(sub)
    assert [g["event"]["owner"] for g in got] == ["hefei-gas"]


def test_state_and_active_list(event_factory):
    hub = AlertHub()
    hub.ingest(event_factory("a1"), 1)
    hub.ingest(event_factory("a1", E.ACKNOWLEDGED, ts=1_700_000_000_100, actor="op"), 2)
    assert hub.alerts["a1"].status.value == "acknowledged" and hub.alerts["a1"].acknowledged_by == "op"
    hub.ingest(event_factory("a1", E.RESOLVED, ts=1_700_000_000_200), 3)
    assert hub.active() == []


def test_replay_since_id_and_time(event_factory):
    hub = AlertHub(replay_size=100)
    for i in range(5):
        hub.ingest(event_factory(f"a{i}"), 1000 + i)
    _, first = hub.subscribe(OP, AlertFilter(), 10, since_id=3)
    replay = json.loads(first)
    assert replay["type"] == "replay" and [e["id"] for e in replay["events"]] == [4, 5]
    _, first = hub.subscribe(OP, AlertFilter(), 10, since_ms=1002)
    assert [e["id"] for e in json.loads(first)["events"]] == [4, 5]


def test_replay_gap_gives_snapshot(event_factory):
    hub = AlertHub(replay_size=10)
    for i in range(30):
        hub.ingest(event_factory(f"a{i}"), i)
    _, first = hub.subscribe(OP, AlertFilter(), 10, since_id=2)
    snap = json.loads(first)
    assert snap["type"] == "snapshot" and snap["gap"] is True and len(snap["alerts"]) == 30


def test_slow_client_drops_oldest_and_reports_it(event_factory):
    hub = AlertHub()
    slow, _ = hub.subscribe(OP, AlertFilter(), 3)
    fast, _ = hub.subscribe(OP, AlertFilter(), 100)
    for i in range(10):
        hub.ingest(event_factory(f"a{i}"), i)
    got, dropped = frames(slow)
    assert [g["id"] for g in got] == [8, 9, 10] and dropped == 7 and slow.dropped_total == 7
    assert len(frames(fast)[0]) == 10


def test_unsubscribe_and_resubscribe(event_factory):
    hub = AlertHub()
    sub, _ = hub.subscribe(OP, AlertFilter(), 3)
    assert hub.client_count == 1
    snap = json.loads(hub.resubscribe(sub, AlertFilter.parse(max_tier=1)))
    assert snap["type"] == "snapshot" and hub.client_count == 1
    hub.unsubscribe(sub)
    hub.unsubscribe(sub)
    assert hub.client_count == 0


class FakeSocket:
    """An ASGI-like ``send``: completes at once unless ``blocked`` is set, then waits until it is cleared."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def send(self, message: MutableMapping[str, Any]) -> None:
        await self.gate.wait()
        self.sent.append(message["text"])


def test_start_eagerly_finishes_without_a_task_or_hands_over_to_one() -> None:
    async def scenario() -> None:
        sock = FakeSocket()
        assert start_eagerly(sock.send({"text": "a"})) is None and sock.sent == ["a"]
        sock.gate.clear()
        task = start_eagerly(sock.send({"text": "b"}))
        assert task is not None and sock.sent == ["a"]
        sock.gate.set()
        await task
        assert sock.sent == ["a", "b"]

    asyncio.run(scenario())


def test_group_shares_one_frame_and_busy_client_falls_back_to_its_queue(event_factory) -> None:
    async def scenario() -> None:
        hub = AlertHub(coalesce_s=0.05)
        socks = [FakeSocket() for _ in range(3)]
        subs = []
        for sock in socks:
            sub, _ = hub.subscribe(OP, AlertFilter(), 10)
            sub.go_live(sock.send)
            subs.append(sub)
        socks[2].gate.clear()  # this client's socket is full
        hub.ingest(event_factory("a1"), 1)
        hub.ingest(event_factory("a2"), 2)
        hub.flush()
        assert socks[0].sent == socks[1].sent and socks[0].sent[0] is socks[1].sent[0]  # built once, shared
        assert [e["id"] for e in json.loads(socks[0].sent[0])["events"]] == [1, 2]
        assert subs[2].sending_since is not None and not subs[2].idle
        hub.ingest(event_factory("a3"), 3)
        hub.flush()
        assert list(subs[2].queue) and subs[2].wake.is_set()  # slow path: its own queue, its sender woken
        assert len(socks[0].sent) == 2
        inflight = subs[2].inflight
        assert inflight is not None
        socks[2].gate.set()
        await inflight
        await asyncio.sleep(0)  # done callbacks run on the next loop iteration
        assert subs[2].sending_since is None and len(socks[2].sent) == 1
        got, dropped = frames(subs[2])
        assert [g["id"] for g in got] == [3] and dropped == 0

    asyncio.run(scenario())


def test_subscriber_joining_mid_window_gets_no_event_its_first_frame_has(event_factory) -> None:
    async def scenario() -> None:
        hub = AlertHub(coalesce_s=0.05)
        early, _ = hub.subscribe(OP, AlertFilter(), 10)
        hub.ingest(event_factory("a1"), 1)
        late, first = hub.subscribe(OP, AlertFilter(), 10)
        assert [a["id"] for a in json.loads(first)["alerts"]] == [1]
        hub.ingest(event_factory("a2"), 2)
        hub.flush()
        assert [g["id"] for g in frames(early)[0]] == [1, 2]
        assert [g["id"] for g in frames(late)[0]] == [2]

    asyncio.run(scenario())
