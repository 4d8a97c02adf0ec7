"""The notifier end to end on real Kafka and QuestDB, with a loopback SMTP server and webhook receiver:
tier-1 routing, HMAC-signed webhooks, escalation on a test clock, acknowledge stopping it, tier-3
digests, and no second notification when alerts are replayed or the notifier restarts.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from confluent_kafka.admin import NewTopic

from lifeline.api.testing import SmtpCapture, WebhookReceiver, wait_until
from lifeline.clock import ManualClock
from lifeline.codec import encode
from lifeline.connectors.kafka import ensure_topics, make_producer
from lifeline.connectors.questdb import QuestDB
from lifeline.models import AlertEvent, AlertEventType, AlertKind, Lifeline, Tier
from lifeline.notify.notifier import Notifier, build_notifier, run_notifier
from lifeline.notify.routes import parse_rules
from lifeline.notify.settings import NotifySettings
from lifeline.settings import Settings

HOOK_SECRET = "hook-secret"


@dataclass
class Rig:
    settings: Settings
    topic: str
    smtp: SmtpCapture
    hook: WebhookReceiver
    rules_text: str
    clock: ManualClock

    def produce(self, *events: AlertEvent) -> None:
        producer = make_producer(self.settings)
        for e in events:
            producer.produce(self.topic, key=e.alert_id.encode(), value=encode(e))
        assert producer.flush(30) == 0

    def start(self) -> tuple[Notifier, threading.Event, threading.Thread]:
        notify = NotifySettings(tick_s=0.1, backoff_s=0.05)
        notifier = build_notifier(self.settings, notify, parse_rules(self.rules_text), self.clock)
        stop = threading.Event()
        thread = threading.Thread(target=run_notifier, args=(self.settings, notify, notifier, stop),
                                  kwargs={"topic": self.topic}, daemon=True)  # fmt: skip
        thread.start()
        return notifier, stop, thread

    def mails_to(self, address: str) -> list[str]:
        return [m.subject for m in self.smtp.messages if address in m.recipients]


def stop(handle: tuple[Notifier, threading.Event, threading.Thread]) -> None:
    notifier, event, thread = handle
    event.set()
    thread.join(30)
    notifier.close()


@pytest.fixture(scope="module")
def rig(services: Settings) -> Iterator[Rig]:
    topic = f"it-notify-{uuid.uuid4().hex[:8]}"
    ensure_topics(services, [NewTopic(topic, num_partitions=1, replication_factor=1)])
    with SmtpCapture() as smtp, WebhookReceiver() as hook:
        rules = f"""
digest_interval_s = 600
escalate_after_s = 300
[smtp]
host = "127.0.0.1"
port = {smtp.port}
sender = "lifeline@test.example"
[contacts.gas-duty]
webhook = "{hook.url("/gas-duty")}"
secret = "{HOOK_SECRET}"
[contacts.regulator]
email = "regulator@test.example"
[contacts.gas-manager]
email = "manager@test.example"
[contacts.city]
email = "city@test.example"
[contacts.gas-desk]
email = "desk@test.example"
[contacts.analysts]
email = "analysts@test.example"
[[route]]
owner = "hefei-gas"
tier = 1
levels = [["gas-duty", "regulator"], ["gas-manager"], ["city"]]
[[route]]
owner = "hefei-gas"
tier = 2
levels = [["gas-desk"]]
[[route]]
owner = "*"
tier = 3
levels = [["analysts"]]
"""
        yield Rig(services, topic, smtp, hook, rules, ManualClock(time.time_ns() // 1_000_000))


def alert(rig: Rig, tier: int, event: AlertEventType = AlertEventType.OPENED, alert_id: str | None = None,
          ts: int | None = None, owner: str = "hefei-gas") -> AlertEvent:  # fmt: skip
    now = rig.clock.now_ms()
    return AlertEvent(
        alert_id=alert_id or f"n-{uuid.uuid4().hex[:10]}", event=event, tier=Tier(tier), lifeline=Lifeline.GAS,
        kind=AlertKind.GAS_LEAK, asset_id="GW-9", owner=owner, district="shushan", sensor_ids=("G-9-CH4",),
        started_at=now, ts=ts or now, value=62.0, score=5.0, evidence="ch4 62 %LEL >= t1 50 for 3 samples",
        actor="op" if event is AlertEventType.ACKNOWLEDGED else "",
    )  # fmt: skip


def log_rows(rig: Rig, alert_id: str) -> list[list[object]]:
    with QuestDB(rig.settings) as db:
        db.wait_for_wal("notifications")
        return db.query("SELECT event, contact, channel, status, level FROM notifications WHERE alert_id = %s "
                        "ORDER BY contact, event", [alert_id]).rows  # fmt: skip


def test_tier1_escalation_ack_digest_and_no_repeats(rig: Rig) -> None:
    handle = rig.start()
    try:
        t1 = alert(rig, 1)
        acked = alert(rig, 1)
        t2 = alert(rig, 2)
        t3 = alert(rig, 3, owner="someone-else")
        rig.produce(t1, acked, t2, t3)
        # tier 1 at once: signed webhook to the owner's duty contact + e-mail to the regulator
        wait_until(lambda: len(rig.hook.received) >= 2 and len(rig.mails_to("regulator@test.example")) >= 2,
                   what="tier-1 notifications")  # fmt: skip
        hook = rig.hook.received[0]
        expected = hmac.new(HOOK_SECRET.encode(), hook.headers["x-lifeline-timestamp"].encode() + b"." + hook.body,
                            hashlib.sha256).hexdigest()  # fmt: skip
        assert hook.headers["x-lifeline-signature"] == f"sha256={expected}"
        assert {n["alert_id"] for h in rig.hook.received for n in h.json()["notices"]} == {t1.alert_id, acked.alert_id}
        wait_until(lambda: len(rig.mails_to("desk@test.example")) == 1, what="tier-2 to the duty desk")
        assert rig.mails_to("analysts@test.example") == []  # tier 3 waits for the digest
        # acknowledge one tier-1 alert, then let 5 minutes pass on the test clock
        rig.produce(alert(rig, 1, AlertEventType.ACKNOWLEDGED, alert_id=acked.alert_id, ts=t1.ts + 60_000))
        wait_until(lambda: acked.alert_id not in handle[0].core.escalations, what="acknowledge seen")
        rig.clock.advance(301)
        wait_until(lambda: len(rig.mails_to("manager@test.example")) == 1, what="escalation to level 1")
        assert rig.mails_to("manager@test.example")[0].endswith("escalation-1")
        escalation = next(m for m in rig.smtp.messages if "manager@test.example" in m.recipients)
        body = str(escalation.message.get_payload())
        assert t1.alert_id in body and "not acknowledged in time" in body
        time.sleep(1.0)
        assert len(rig.mails_to("manager@test.example")) == 1  # the acknowledged one did not escalate
        rig.clock.advance(300)
        wait_until(lambda: len(rig.mails_to("city@test.example")) == 1, what="escalation to level 2")
        rig.clock.advance(1)
        wait_until(lambda: len(rig.mails_to("analysts@test.example")) == 1, what="tier-3 digest")
        assert "digest" in rig.mails_to("analysts@test.example")[0]
        wait_until(lambda: len(log_rows(rig, t1.alert_id)) == 4, what="delivery log rows")
        assert log_rows(rig, t1.alert_id) == [
            ["escalation-2", "city", "email", "sent", 2],
            ["opened", "gas-duty", "webhook", "sent", 0],
            ["escalation-1", "gas-manager", "email", "sent", 1],
            ["opened", "regulator", "email", "sent", 0],
        ]
        counts = (len(rig.hook.received), len(rig.smtp.messages))
        # replay the same alerts: nothing is sent again
        rig.produce(t1, acked, t2, t3)
        time.sleep(1.5)
        rig.clock.advance(900)
        time.sleep(1.0)
        assert (len(rig.hook.received), len(rig.smtp.messages)) == counts
    finally:
        stop(handle)
    # a restarted notifier re-reads the whole topic and the delivery log: still nothing new
    handle = rig.start()
    try:
        time.sleep(3.0)
        rig.clock.advance(900)
        time.sleep(1.0)
        assert (len(rig.hook.received), len(rig.smtp.messages)) == counts
    finally:
        stop(handle)


def test_webhook_failures_are_retried(rig: Rig) -> None:
    handle = rig.start()
    try:
        rig.hook.failures_left = 2
        before = len(rig.hook.received)
        t1 = alert(rig, 1)
        rig.produce(t1)
        wait_until(lambda: len(rig.hook.received) == before + 1, what="delivery after two 503s")
        wait_until(lambda: any(r[1] == "gas-duty" for r in log_rows(rig, t1.alert_id)), what="log row")
        with QuestDB(rig.settings) as db:
            rows = db.query("SELECT attempts, status FROM notifications WHERE alert_id = %s AND contact = %s",
                            [t1.alert_id, "gas-duty"]).rows  # fmt: skip
        assert rows == [[3, "sent"]]
    finally:
        stop(handle)
