"""The hub's memory is bounded: active alerts plus a replay window (count and age) and a bounded dedup memory."""

from __future__ import annotations

import json
import tracemalloc

from lifeline.api.auth import Principal, Role
from lifeline.api.filters import AlertFilter
from lifeline.api.hub import AlertHub
from lifeline.models import AlertEventType as E
from tests.unit.conftest import make_event

OP = Principal("op", Role.OPERATOR)
T0 = 1_700_000_000_000


def feed_lifecycles(hub: AlertHub, start: int, stop: int) -> None:
    """Alerts ``start..stop-1``, each opened then cleared a second later (Kafka time 1 ms per event)."""
    for i in range(start, stop):
        hub.ingest(make_event(f"life-{i:06d}", ts=T0 + i * 1000), T0 + 2 * i)
        hub.ingest(make_event(f"life-{i:06d}", E.CLEARED, ts=T0 + i * 1000 + 1000), T0 + 2 * i + 1)


def test_50k_lifecycles_keep_the_hub_within_its_bounds() -> None:
    hub = AlertHub(replay_size=1_000, dedup_window=5_000)
    hub.ingest(make_event("still-open", tier=1), T0)  # an active alert is kept however old
    feed_lifecycles(hub, 0, 40_000)
    tracemalloc.start()  # traced from here only (it slows allocation down): the window turns over twice
    try:
        feed_lifecycles(hub, 40_000, 45_000)
        warm, _ = tracemalloc.get_traced_memory()
        feed_lifecycles(hub, 45_000, 50_000)
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(hub.log) == 1_000
    assert len(hub.alerts) <= 1_000 + 1 and "still-open" in hub.alerts
    assert len(hub.recent) == 5_000
    assert [s.event.alert_id for s in hub.active()] == ["still-open"]
    # 5,000 more lifecycles (10,000 events) in a full window cost nothing more; the old hub, which kept
    # every alert, grew by about 2 KB per alert here (some 10 MB).
    assert end - warm < 1_500_000, f"grew {end - warm} B"
    # everything allocated while traced and still alive: the window, the alerts in it, the dedup keys
    assert end < 8_000_000, f"{end} B traced"


def test_replay_window_also_ends_at_its_age() -> None:
    hub = AlertHub(replay_size=1_000, replay_max_age_s=10)
    for i in range(30):  # one event per second of Kafka time
        hub.ingest(make_event(f"a{i}", ts=T0 + i * 1000), T0 + i * 1000)
    assert [e.kafka_ts for e in hub.log] == [T0 + i * 1000 for i in range(19, 30)]
    assert len(hub.alerts) == 30  # all still open


def test_resume_from_before_the_window_says_so_and_where_it_starts() -> None:
    hub = AlertHub(replay_size=10)
    feed_lifecycles(hub, 0, 20)
    hub.ingest(make_event("open-one"), T0 + 100)
    _, first = hub.subscribe(OP, AlertFilter(), 10, since_id=3)
    frame = json.loads(first)
    assert frame["type"] == "snapshot" and frame["gap"] is True
    assert frame["oldest_id"] == hub.log[0].id == 32 and frame["oldest_kafka_ts"] == hub.log[0].kafka_ts
    assert [a["event"]["alert_id"] for a in frame["alerts"]] == ["open-one"]
    _, first = hub.subscribe(OP, AlertFilter(), 10, since_id=35)  # inside the window: a replay
    frame = json.loads(first)
    assert frame["type"] == "replay" and [e["id"] for e in frame["events"]] == [36, 37, 38, 39, 40, 41]


def test_a_closed_alert_leaves_with_its_last_event_and_a_later_event_is_still_applied() -> None:
    hub = AlertHub(replay_size=10)
    hub.ingest(make_event("x"), 1)
    hub.ingest(make_event("x", E.CLEARED, ts=T0 + 1), 2)
    for i in range(9):
        hub.ingest(make_event(f"o{i}"), 3 + i)
    assert "x" in hub.alerts  # its last event (id 2) is still in the window
    hub.ingest(make_event("o9"), 20)
    assert "x" not in hub.alerts
    entry = hub.ingest(make_event("x", E.RESOLVED, ts=T0 + 2), 21)
    assert entry is not None and hub.alerts["x"].status.value == "resolved"
