"""``lifeline.alerts`` is at-least-once: duplicated messages (whole replays, the same epoch re-sent after a
crash, out-of-order copies) never give a second websocket event nor a second notification.

Alert events are identified by ``(alert_id, event, ts)`` (``AlertEvent.dedup_key``, the QuestDB
``alert_events`` dedup keys); a notification by ``(alert, event, contact)``.
"""

from __future__ import annotations

import json
from collections import Counter

from lifeline.api.auth import Principal, Role
from lifeline.api.filters import AlertFilter
from lifeline.api.hub import AlertHub
from lifeline.clock import ManualClock
from lifeline.models import AlertEvent
from lifeline.models import AlertEventType as E
from lifeline.notify.core import NotifierCore
from lifeline.notify.notifier import DeliveryRecord, Notifier
from lifeline.notify.routes import ChannelKind, Contact, parse_rules
from tests.unit.conftest import make_event

OP = Principal("op", Role.OPERATOR)
T0 = 1_700_000_000_000
RULES = parse_rules(
    """
digest_interval_s = 600
escalate_after_s = 300
[contacts.duty]
email = "duty@x.org"
[contacts.regulator]
email = "reg@x.org"
[contacts.desk]
email = "desk@x.org"
[contacts.analysts]
email = "an@x.org"
[[route]]
owner = "hefei-gas"
tier = 1
levels = [["duty", "regulator"]]
[[route]]
owner = "hefei-gas"
tier = 2
levels = [["desk"]]
[[route]]
owner = "*"
tier = 3
levels = [["analysts"]]
"""
)

# The original stream, in the order the flow (and the API, for the acknowledge) wrote it.
ORIGINAL: list[AlertEvent] = [
    make_event("a1", tier=2, ts=T0),
    make_event("a2", tier=1, ts=T0 + 1),
    make_event("a1", E.ESCALATED, tier=1, ts=T0 + 10_000),
    make_event("a2", E.ACKNOWLEDGED, tier=1, ts=T0 + 20_000, actor="op"),
    make_event("a3", tier=3, ts=T0 + 30_000),
    make_event("a1", E.CLEARED, tier=1, ts=T0 + 40_000),
    make_event("a2", E.CLEARED, tier=1, ts=T0 + 50_000),
]


def delivered() -> list[AlertEvent]:
    """What consumers read: the epoch of the first three events re-sent after a crash (interleaved with the
    acknowledge the API wrote meanwhile), a late partial replay, then the whole topic again backwards."""
    o = ORIGINAL
    return [*o[:4], *o[:3], *o[4:], *o[2:5], *reversed(o)]


class Outbox:
    """A channel that records every (alert, label, contact) it delivers."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def send(self, contact: Contact, message: object) -> str:
        from lifeline.notify.core import Message

        assert isinstance(message, Message)
        self.sent.extend((n.event.alert_id, n.label, contact.name) for n in message.notices)
        return "ok"


class MemoryLog:
    def __init__(self) -> None:
        self.rows: list[DeliveryRecord] = []

    def load_sent(self) -> set[tuple[str, str, int, str]]:
        return {r.notice.key for r in self.rows if r.status == "sent"}

    def record(self, records: list[DeliveryRecord]) -> None:
        self.rows.extend(records)


def test_hub_sends_one_websocket_event_per_alert_event_despite_duplicates() -> None:
    hub = AlertHub(replay_size=100)
    sub, _ = hub.subscribe(OP, AlertFilter(), 1_000)
    for offset, event in enumerate(delivered()):
        hub.ingest(event, T0 + offset)
    items, dropped = sub.take(10_000)
    keys = [(e["event"]["alert_id"], e["event"]["event"], e["event"]["ts"]) for e in map(json.loads, items)]
    assert dropped == 0
    assert Counter(keys) == Counter(e.dedup_key for e in ORIGINAL)  # each exactly once
    assert [e["id"] for e in map(json.loads, items)] == list(range(1, len(ORIGINAL) + 1))
    assert {a: s.status.value for a, s in hub.alerts.items()} == {"a1": "cleared", "a2": "cleared", "a3": "open"}
    assert [s.event.alert_id for s in hub.active()] == ["a3"]
    assert hub.metrics.events_duplicate._value.get() == len(delivered()) - len(ORIGINAL)


def test_hub_replay_after_reconnect_has_no_duplicates() -> None:
    hub = AlertHub(replay_size=100)
    for offset, event in enumerate(delivered()):
        hub.ingest(event, T0 + offset)
    _, first = hub.subscribe(OP, AlertFilter(), 10, since_id=0)
    frame = json.loads(first)
    assert frame["type"] == "replay"
    keys = [(e["event"]["alert_id"], e["event"]["event"], e["event"]["ts"]) for e in frame["events"]]
    assert sorted(keys) == sorted(e.dedup_key for e in ORIGINAL)


def test_notifier_sends_one_notification_per_alert_event_and_contact_despite_duplicates() -> None:
    clock, outbox, log = ManualClock(T0 + 60_000), Outbox(), MemoryLog()
    notifier = Notifier(NotifierCore(RULES, clock), channels={ChannelKind.EMAIL: outbox}, delivery_log=log,
                        sleep=lambda _s: None)  # fmt: skip
    try:
        notifier.load()
        stream = delivered()
        for start in range(0, len(stream), 3):  # the consumer's batches
            notifier.process(stream[start : start + 3])
        clock.advance(600)
        notifier.process([])  # the tier-3 digest
    finally:
        notifier.close()
    expected = [
        ("a1", "opened", "desk"),
        ("a2", "opened", "duty"),
        ("a2", "opened", "regulator"),
        ("a1", "escalated", "duty"),
        ("a1", "escalated", "regulator"),
        ("a3", "opened", "analysts"),
        ("a1", "cleared", "desk"),
        ("a1", "cleared", "duty"),
        ("a1", "cleared", "regulator"),
        ("a2", "cleared", "duty"),
        ("a2", "cleared", "regulator"),
    ]
    assert Counter(outbox.sent) == Counter(expected)
    assert len(log.rows) == len(expected)
