from __future__ import annotations

import json

from lifeline.api.auth import Principal, Role
from lifeline.api.filters import AlertFilter
from lifeline.api.hub import AlertHub
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
