"""Send time, attempts and outcome in each delivery record; the first-notice latency metric; the audits
(latency per tier, missed acknowledgements) computed from plain rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lifeline.api.notifications_store import first_notice_latencies, latency_summary, missed_acks
from lifeline.clock import ManualClock
from lifeline.models import AlertEventType
from lifeline.notify.core import NotifierCore
from lifeline.notify.exceptions import DeliveryError
from lifeline.notify.notifier import DeliveryRecord, Notifier
from lifeline.notify.routes import ChannelKind, parse_rules

T0 = 1_700_000_000_000
RULES = parse_rules(
    """
digest_interval_s = 600
[contacts.duty]
email = "duty@x.org"
[contacts.desk]
email = "desk@x.org"
[[route]]
owner = "*"
tier = 1
levels = [["duty"]]
[[route]]
owner = "*"
tiers = [2, 3]
levels = [["desk"]]
"""
)


class SlowChannel:
    """Fails ``failures`` times; each attempt takes ``took_s`` on the manual clock."""

    def __init__(self, clock: ManualClock, took_s: float, failures: int = 0) -> None:
        self.clock, self.took_s, self.failures = clock, took_s, failures

    def send(self, contact: Any, message: Any) -> str:
        self.clock.advance(self.took_s)
        if self.failures:
            self.failures -= 1
            raise DeliveryError("busy", retry=True)
        return "ok"


class MemoryLog:
    def __init__(self) -> None:
        self.rows: list[DeliveryRecord] = []

    def load_sent(self) -> set[Any]:
        return set()

    def record(self, records: list[DeliveryRecord]) -> None:
        self.rows.extend(records)


def _notifier(clock: ManualClock, channel: Any, log: MemoryLog) -> Notifier:
    return Notifier(NotifierCore(RULES, clock), channels={ChannelKind.EMAIL: channel}, delivery_log=log,
                    sleep=lambda _s: None, workers=1)  # fmt: skip


def test_record_carries_event_time_send_time_attempts_and_outcome(event_factory: Any) -> None:
    clock = ManualClock(T0 + 4_000)  # the notifier sees the event 4 s after it happened
    log = MemoryLog()
    n = _notifier(clock, SlowChannel(clock, took_s=1.5, failures=1), log)
    [record] = n.process([event_factory("a", tier=1, ts=T0)])
    assert (record.status, record.attempts) == ("sent", 2)
    assert record.notice.event.ts == T0
    assert record.sent_at_ms == T0 + 4_000 + 3_000  # two attempts of 1.5 s
    assert record.latency_s == 7.0
    n.close()


def test_first_notice_metric_per_tier_observed_once_per_alert(event_factory: Any) -> None:
    clock = ManualClock(T0 + 2_000)
    n = _notifier(clock, SlowChannel(clock, took_s=0.0), MemoryLog())
    n.process([event_factory("a", tier=1, ts=T0)])
    n.process([event_factory("b", tier=2, ts=T0 + 1_000)])
    clock.advance(60)
    n.process([event_factory("a", tier=1, ts=T0 + 50_000, event=AlertEventType.ESCALATED)])
    registry = n.first_notice.registry
    assert registry.get_sample_value("lifeline_notify_first_notice_seconds_count", {"tier": "1"}) == 1
    assert registry.get_sample_value("lifeline_notify_first_notice_seconds_sum", {"tier": "1"}) == 2.0
    assert registry.get_sample_value("lifeline_notify_first_notice_seconds_sum", {"tier": "2"}) == 1.0
    n.close()


def _at(seconds: float) -> datetime:
    return datetime(2026, 12, 3, tzinfo=UTC) + timedelta(seconds=seconds)


def test_latency_takes_the_first_sent_notice_of_each_alert() -> None:
    rows = [
        {"alert_id": "a", "tier": 1, "ts": _at(0), "sent_at": _at(30)},
        {"alert_id": "a", "tier": 1, "ts": _at(0), "sent_at": _at(12)},  # earlier notice to another contact
        {"alert_id": "a", "tier": 1, "ts": _at(300), "sent_at": _at(301)},  # an escalation, later
        {"alert_id": "b", "tier": 1, "ts": _at(0), "sent_at": _at(2)},
        {"alert_id": "c", "tier": 3, "ts": _at(0), "sent_at": _at(3600)},
        {"alert_id": "d", "tier": 2, "ts": _at(0), "sent_at": None},  # logged before send times existed
    ]
    first = first_notice_latencies(rows)
    assert sorted((f.alert_id, f.latency_s) for f in first) == [("a", 12.0), ("b", 2.0), ("c", 3600.0)]
    summary = {t.tier: t for t in latency_summary(first)}
    assert set(summary) == {1, 3}
    assert (summary[1].alerts, summary[1].p50_s, summary[1].max_s, summary[1].mean_s) == (2, 7.0, 12.0, 7.0)
    assert summary[1].p90_s == 2.0 + 0.9 * 10.0  # linear interpolation between 2 and 12
    assert summary[3].p50_s == 3600.0


def test_missed_acks_late_and_missing_tier_1_2_only() -> None:
    def ev(alert_id: str, event: str, tier: int, t: float) -> dict[str, Any]:
        return {"alert_id": alert_id, "event": event, "tier": tier, "owner": "o", "asset_id": f"A-{alert_id}",
                "kind": "gas_leak", "ts": _at(t)}  # fmt: skip

    events = [
        ev("ok", "opened", 1, 0), ev("ok", "acknowledged", 1, 200),
        ev("late", "opened", 2, 10), ev("late", "acknowledged", 2, 400),
        ev("never", "opened", 1, 20),
        ev("t3", "opened", 3, 30),
    ]  # fmt: skip
    out = missed_acks(events, {"late"}, within_s=300)
    assert [(m.alert_id, m.status, m.notified) for m in out] == [("late", "late", True), ("never", "missing", False)]
