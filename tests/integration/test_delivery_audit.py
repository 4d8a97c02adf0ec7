"""The delivery log on real QuestDB: send times written by the notifier's log, read back by the API's audit
queries (first-notice latency per tier, missed acknowledgements)."""

from __future__ import annotations

from pathlib import Path

from lifeline.api.alerts_store import AlertStore
from lifeline.api.notifications_store import NotificationStore, first_notice_latencies, latency_summary, missed_acks
from lifeline.connectors.questdb import QuestDB
from lifeline.models import AlertEventType as E
from lifeline.notify.core import Notice
from lifeline.notify.notifier import DeliveryRecord, QuestDBDeliveryLog
from lifeline.notify.routes import ChannelKind
from lifeline.settings import Settings
from tests.integration.flow_harness import isolated
from tests.unit.conftest import make_event

T0 = 1_796_000_000_000  # 2026-11-30 ~ 01:33 UTC


def test_send_times_round_trip_and_audits(services: Settings, tmp_path: Path) -> None:
    settings = isolated(services, "delivery-audit", tmp_path)
    opened_a = make_event("a", tier=1, ts=T0)
    opened_b = make_event("b", tier=2, ts=T0 + 10_000)
    ack_a = make_event("a", E.ACKNOWLEDGED, tier=1, ts=T0 + 120_000)
    with QuestDB(settings) as db:
        store = AlertStore(db)
        for event in (opened_a, opened_b, ack_a):
            store.write(event)
        ding, sms, wecom = ChannelKind.DINGTALK, ChannelKind.SMS, ChannelKind.WECOM
        QuestDBDeliveryLog(db).record([
            DeliveryRecord(Notice(opened_a, "opened", "duty", 0), ding, "sent", 1, "ok", False, T0 + 4_500),
            DeliveryRecord(Notice(opened_a, "opened", "reg", 0), sms, "sent", 2, "ok", False, T0 + 9_000),
            DeliveryRecord(Notice(opened_b, "opened", "desk", 0), wecom, "failed", 4, "HTTP 500", False, T0 + 70_000),
        ])  # fmt: skip
        for table in ("alert_events", "notifications"):
            db.wait_for_wal(table, timeout_s=60)
        audits = NotificationStore(db)
        first = first_notice_latencies(audits.sent_rows(None, None))
        assert [(f.alert_id, f.tier, f.latency_s) for f in first] == [("a", 1, 4.5)]  # b was never sent
        [tier1] = latency_summary(first)
        assert (tier1.tier, tier1.alerts, tier1.p50_s) == (1, 1, 4.5)
        missed = missed_acks(audits.event_rows(None, None), {f.alert_id for f in first}, within_s=300)
        assert [(m.alert_id, m.status, m.notified) for m in missed] == [("b", "missing", False)]
        sql = f"SELECT contact, attempts, status FROM {db.table('notifications')} ORDER BY contact"  # noqa: S608
        rows = db.query(sql).rows
        assert [(r[0], r[1], r[2]) for r in rows] == [("desk", 4, "failed"), ("duty", 1, "sent"), ("reg", 2, "sent")]
