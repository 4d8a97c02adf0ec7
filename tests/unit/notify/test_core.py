"""Escalation, digests and de-duplication, driven by a manual clock (no waiting)."""

from __future__ import annotations

from lifeline.clock import ManualClock
from lifeline.models import AlertEventType as E
from lifeline.notify.channels import sign
from lifeline.notify.core import NotifierCore
from lifeline.notify.exceptions import DeliveryError
from lifeline.notify.notifier import DeliveryRecord, Notifier
from lifeline.notify.routes import ChannelKind, Contact, parse_rules

T0 = 1_700_000_000_000
RULES = parse_rules(
    """
digest_interval_s = 600
escalate_after_s = 300
[contacts.duty]
email = "duty@x.org"
[contacts.regulator]
email = "reg@x.org"
[contacts.boss]
email = "boss@x.org"
[contacts.city]
email = "city@x.org"
[contacts.desk]
email = "desk@x.org"
[contacts.analysts]
email = "an@x.org"
[[route]]
owner = "hefei-gas"
tier = 1
levels = [["duty", "regulator"], ["boss"], ["city"]]
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


def told(messages):
    return sorted((m.contact, n.label) for m in messages for n in m.notices)


def test_tier1_goes_at_once_to_duty_and_regulator(event_factory):
    core = NotifierCore(RULES, ManualClock(T0))
    assert told(core.handle(event_factory(ts=T0))) == [("duty", "opened"), ("regulator", "opened")]


def test_unacknowledged_tier1_escalates_level_by_level(event_factory):
    clock = ManualClock(T0)
    core = NotifierCore(RULES, clock)
    core.handle(event_factory(ts=T0))
    clock.advance(299)
    assert core.tick() == []
    clock.advance(1)
    assert told(core.tick()) == [("boss", "escalation-1")]
    assert core.tick() == []
    clock.advance(300)
    assert told(core.tick()) == [("city", "escalation-2")]
    clock.advance(3600)
    assert core.tick() == [] and core.escalations == {}


def test_acknowledge_stops_escalation(event_factory):
    clock = ManualClock(T0)
    core = NotifierCore(RULES, clock)
    core.handle(event_factory(ts=T0))
    clock.advance(120)
    assert core.handle(event_factory(event=E.ACKNOWLEDGED, ts=T0 + 120_000)) == []
    clock.advance(1000)
    assert core.tick() == []


def test_a_sensor_joining_tells_nobody_and_the_escalation_goes_on(event_factory):
    clock = ManualClock(T0)
    core = NotifierCore(RULES, clock)
    core.handle(event_factory(ts=T0))
    clock.advance(120)
    assert core.handle(event_factory(event=E.UPDATED, ts=T0 + 120_000)) == []
    clock.advance(180)
    assert told(core.tick()) == [("boss", "escalation-1")]


def test_late_escalation_after_downtime_catches_up(event_factory):
    clock = ManualClock(T0 + 700_000)  # notifier was down; two deadlines passed
    core = NotifierCore(RULES, clock)
    core.handle(event_factory(ts=T0))
    assert told(core.tick()) == [("boss", "escalation-1"), ("city", "escalation-2")]


def test_tier2_goes_to_the_desk_and_never_escalates(event_factory):
    clock = ManualClock(T0)
    core = NotifierCore(RULES, clock)
    assert told(core.handle(event_factory(tier=2, ts=T0))) == [("desk", "opened")]
    clock.advance(10_000)
    assert core.tick() == []


def test_tier3_is_batched_into_a_digest(event_factory):
    clock = ManualClock(T0)
    core = NotifierCore(RULES, clock)
    assert core.handle(event_factory("a1", tier=3, ts=T0)) == []
    assert core.handle(event_factory("a2", tier=3, owner="other", ts=T0)) == []
    clock.advance(599)
    assert core.tick() == []
    clock.advance(1)
    [digest] = core.tick()
    assert digest.digest and digest.contact == "analysts" and len(digest.notices) == 2


def test_escalated_to_tier1_restarts_routing(event_factory):
    clock = ManualClock(T0)
    core = NotifierCore(RULES, clock)
    core.handle(event_factory(tier=2, ts=T0))
    got = core.handle(event_factory(event=E.ESCALATED, tier=1, ts=T0 + 1000))
    assert told(got) == [("duty", "escalated"), ("regulator", "escalated")]


def test_resolution_is_told_to_everyone_told_before(event_factory):
    clock = ManualClock(T0)
    core = NotifierCore(RULES, clock)
    core.handle(event_factory(ts=T0))
    clock.advance(300)
    core.tick()
    got = core.handle(event_factory(event=E.RESOLVED, ts=T0 + 400_000))
    assert told(got) == [("boss", "resolved"), ("duty", "resolved"), ("regulator", "resolved")]


def test_repeated_events_change_nothing(event_factory):
    clock = ManualClock(T0)
    core = NotifierCore(RULES, clock)
    core.handle(event_factory(ts=T0))
    core.handle(event_factory(event=E.ACKNOWLEDGED, ts=T0 + 1))
    assert core.handle(event_factory(ts=T0)) == []  # replayed "opened" does not restart escalation
    clock.advance(1000)
    assert core.tick() == []


def test_stale_events_are_not_notified(event_factory):
    core = NotifierCore(RULES, ManualClock(T0 + 7_200_000), max_age_ms=3_600_000)
    assert core.handle(event_factory(ts=T0)) == []


class FakeChannel:
    def __init__(self, failures=0, retry=True):
        self.sent = []
        self.failures = failures
        self.retry = retry

    def send(self, contact, message):
        if self.failures:
            self.failures -= 1
            raise DeliveryError("boom", retry=self.retry)
        self.sent.append((contact.name, [n.label for n in message.notices]))
        return "ok"


class MemoryLog:
    def __init__(self, sent=None):
        self.rows: list[DeliveryRecord] = []
        self.preloaded = set(sent or ())

    def load_sent(self):
        return set(self.preloaded) | {r.notice.key for r in self.rows if r.status == "sent"}

    def record(self, records):
        self.rows.extend(records)


def notifier(clock, channel, log, **kw):
    return Notifier(NotifierCore(RULES, clock), channels={ChannelKind.EMAIL: channel, ChannelKind.WEBHOOK: channel},
                    delivery_log=log, sleep=lambda _s: None, **kw)  # fmt: skip


def test_engine_sends_each_notice_once_across_replays_and_restarts(event_factory):
    clock, channel, log = ManualClock(T0), FakeChannel(), MemoryLog()
    n = notifier(clock, channel, log)
    n.load()
    n.process([event_factory(ts=T0)])
    n.process([event_factory(ts=T0)])
    assert len(channel.sent) == 2
    restarted = notifier(clock, channel, log)
    restarted.load()
    restarted.process([event_factory(ts=T0)])
    assert len(channel.sent) == 2 and len(log.rows) == 2
    n.close()
    restarted.close()


def test_engine_retries_with_backoff_then_logs_failure(event_factory):
    clock, log = ManualClock(T0), MemoryLog()
    delays: list[float] = []
    flaky = FakeChannel(failures=2)
    n = Notifier(NotifierCore(RULES, clock), channels={ChannelKind.EMAIL: flaky}, delivery_log=log,
                 sleep=delays.append, max_attempts=4, backoff_s=0.5)  # fmt: skip
    records = n.process([event_factory(tier=2, ts=T0)])
    assert [r.status for r in records] == ["sent"] and records[0].attempts == 3 and delays == [0.5, 1.0]
    dead = FakeChannel(failures=99, retry=False)
    n2 = Notifier(NotifierCore(RULES, clock), channels={ChannelKind.EMAIL: dead}, delivery_log=MemoryLog(),
                  sleep=delays.append)  # fmt: skip
    records = n2.process([event_factory("b", tier=2, ts=T0)])
    assert records[0].status == "failed" and records[0].attempts == 1 and n2.sent == set()
    n.close()
    n2.close()


def test_signature_is_hmac_sha256_of_timestamp_and_body():
    import hashlib
    import hmac

    expected = hmac.new(b"key", b"123.{}", hashlib.sha256).hexdigest()
    assert sign("key", "123", b"{}") == f"sha256={expected}"
    assert Contact("c", ChannelKind.WEBHOOK, "http://x", "key").secret == "key"


def test_an_overdue_work_order_escalates_its_alert_at_once_and_only_once(event_factory):
    from lifeline.notify.core import OverdueOrder

    clock = ManualClock(T0)
    core = NotifierCore(RULES, clock)
    opened = event_factory(E.OPENED, tier=2, ts=T0)
    assert told(core.handle(opened)) == [("desk", "opened")]  # tier 2: the desk, no escalation
    order = OverdueOrder("o1", opened.alert_id, "crew-7", deadline_ms=T0 + 3_600_000, ts=T0 + 3_600_001)
    clock.advance(3_600.001)
    messages = core.handle_overdue(order)
    # the route has one level, so its contacts (the desk, already told) get the overdue notice
    assert told(messages) == [("desk", "work-order-overdue")]
    assert "work order o1 (team crew-7) not handled by its deadline" in messages[0].notices[0].event.evidence
    assert core.handle_overdue(order) == []  # a repeated message changes nothing


def test_an_overdue_order_of_a_tier1_alert_goes_to_the_next_level(event_factory):
    from lifeline.notify.core import OverdueOrder

    clock = ManualClock(T0)
    core = NotifierCore(RULES, clock)
    opened = event_factory(E.OPENED, tier=1, ts=T0)
    core.handle(opened)
    core.handle(event_factory(E.ACKNOWLEDGED, tier=1, ts=T0 + 60_000))  # acknowledged: escalation stopped
    clock.advance(7_200)
    assert all(n.label != "escalation-1" for m in core.tick() for n in m.notices)
    order = OverdueOrder("o2", opened.alert_id, "crew-1", deadline_ms=T0 + 7_000_000, ts=T0 + 7_000_001)
    # level 1 (the boss) joins everyone already told (duty, regulator)
    assert told(core.handle_overdue(order)) == [
        ("boss", "work-order-overdue"), ("duty", "work-order-overdue"), ("regulator", "work-order-overdue"),
    ]  # fmt: skip


def test_an_overdue_order_seen_before_its_alert_waits_for_it(event_factory):
    from lifeline.notify.core import OverdueOrder

    clock = ManualClock(T0 + 100_000)
    core = NotifierCore(RULES, clock)
    opened = event_factory(E.OPENED, tier=2, ts=T0)
    order = OverdueOrder("o3", opened.alert_id, "crew-2", deadline_ms=T0 + 50_000, ts=T0 + 50_001)
    assert core.handle_overdue(order) == []  # the alerts topic has not delivered the alert yet
    assert told(core.handle(opened)) == [("desk", "opened"), ("desk", "work-order-overdue")]


def test_only_overdue_steps_of_the_work_orders_topic_concern_the_notifier():
    import msgspec

    from lifeline.notify.notifier import overdue_order

    step = {"order_id": "o9", "alert_id": "a1", "event": "overdue", "state": "accepted", "team": "t",
            "owner": "hefei-gas", "deadline": T0, "actor": "", "comment": "", "ts": T0 + 1}  # fmt: skip
    order = overdue_order(msgspec.json.encode(step))
    assert order is not None and (order.order_id, order.alert_id, order.deadline_ms, order.ts) == (
        "o9",
        "a1",
        T0,
        T0 + 1,
    )
    assert overdue_order(msgspec.json.encode({**step, "event": "accepted"})) is None
    assert overdue_order(b"not json") is None
