"""At-least-once alerts on the real Kafka: every alert message is produced two to four times (whole
replays, a crash's epoch re-sent between newer events, copies out of order); a websocket client of a
real API server and the notifier (webhooks to a loopback receiver, delivery log in QuestDB) each see
every alert event exactly once.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter

from confluent_kafka.admin import NewTopic
from websockets.sync.client import connect

from lifeline.api.app import create_app
from lifeline.api.auth import Role, issue_jwt
from lifeline.api.settings import ApiSettings
from lifeline.api.testing import LiveServer, WebhookReceiver, wait_until
from lifeline.clock import SystemClock
from lifeline.codec import encode
from lifeline.connectors.kafka import ensure_topics, make_producer
from lifeline.models import AlertEvent, AlertEventType, AlertKind, Lifeline, Tier
from lifeline.notify.notifier import build_notifier, run_notifier
from lifeline.notify.routes import parse_rules
from lifeline.notify.settings import NotifySettings
from lifeline.settings import Settings

SECRET = "at-least-once-secret-" + "y" * 20


def alert(alert_id: str, event: AlertEventType, tier: int, ts: int) -> AlertEvent:
    return AlertEvent(
        alert_id=alert_id, event=event, tier=Tier(tier), lifeline=Lifeline.GAS, kind=AlertKind.GAS_LEAK,
        asset_id="GW-7", owner="hefei-gas", district="shushan", sensor_ids=("G-7-CH4",), started_at=ts - 1,
        ts=ts, value=61.0, score=4.0, evidence="duplicate test",
        actor="op" if event is AlertEventType.ACKNOWLEDGED else "",
    )  # fmt: skip


def test_duplicated_alert_messages_give_one_websocket_event_and_one_notification(services: Settings) -> None:
    topic = f"it-dup-alerts-{uuid.uuid4().hex[:8]}"
    ensure_topics(services, [NewTopic(topic, num_partitions=1, replication_factor=1)])
    now = time.time_ns() // 1_000_000
    a1, a2, last = (f"dup-{uuid.uuid4().hex[:8]}" for _ in range(3))
    o = [
        alert(a1, AlertEventType.OPENED, 2, now),
        alert(a2, AlertEventType.OPENED, 1, now + 1),
        alert(a1, AlertEventType.ESCALATED, 1, now + 10),
        alert(a2, AlertEventType.ACKNOWLEDGED, 1, now + 20),
        alert(a1, AlertEventType.CLEARED, 1, now + 40),
        alert(a2, AlertEventType.CLEARED, 1, now + 50),
    ]
    sentinel = alert(last, AlertEventType.OPENED, 1, now + 60)
    stream = [*o[:4], *o[:3], *o[4:], *o[2:5], *reversed(o), sentinel]
    with WebhookReceiver() as hook:
        rules = parse_rules(f"""
[contacts.duty]
webhook = "{hook.url("/duty")}"
secret = "s"
[contacts.desk]
webhook = "{hook.url("/desk")}"
secret = "s"
[[route]]
owner = "hefei-gas"
tier = 1
levels = [["duty"]]
[[route]]
owner = "hefei-gas"
tier = 2
levels = [["desk"]]
""")  # fmt: skip
        notify = NotifySettings(tick_s=0.1, backoff_s=0.05)
        notifier = build_notifier(services, notify, rules, SystemClock())
        stop = threading.Event()
        thread = threading.Thread(target=run_notifier, args=(services, notify, notifier, stop),
                                  kwargs={"topic": topic}, daemon=True)  # fmt: skip
        app = create_app(services, ApiSettings(alerts_topic=topic, jwt_secret=SECRET, ws_coalesce_ms=10))
        token = issue_jwt(SECRET, role=Role.OPERATOR, subject="dup-test")
        with LiveServer(app) as server:
            with connect(f"{server.ws_url}/ws/alerts?token={token}", open_timeout=30) as ws:
                assert json.loads(ws.recv(timeout=60))["type"] == "snapshot"
                thread.start()
                producer = make_producer(services)
                for e in stream:
                    producer.produce(topic, key=e.alert_id.encode(), value=encode(e))
                assert producer.flush(30) == 0
                seen: list[tuple[str, str, int]] = []
                ids: list[int] = []
                deadline = time.monotonic() + 60
                while last not in {k[0] for k in seen}:
                    frame = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.01)))
                    for env in frame.get("events", []):
                        ev = env["event"]
                        seen.append((ev["alert_id"], ev["event"], ev["ts"]))
                        ids.append(env["id"])
            wait_until(lambda: any(n["alert_id"] == last for h in hook.received for n in h.json()["notices"]),
                       60, what="the sentinel's notification")  # fmt: skip
            time.sleep(1.0)  # anything the notifier would still send twice
            stop.set()
            thread.join(30)
            notifier.close()
    assert Counter(seen) == Counter([*(e.dedup_key for e in o), sentinel.dedup_key])
    assert ids == sorted(set(ids))
    told = Counter((n["alert_id"], n["label"], h.path.strip("/")) for h in hook.received for n in h.json()["notices"])
    assert told == Counter([
        (a1, "opened", "desk"), (a2, "opened", "duty"), (a1, "escalated", "duty"), (a1, "cleared", "desk"),
        (a1, "cleared", "duty"), (a2, "cleared", "duty"), (last, "opened", "duty"),
    ])  # fmt: skip
