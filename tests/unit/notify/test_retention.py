"""The notifier's memory stays bounded over months: closed alerts and old repeat-filter keys are forgotten
after the retention, while anything that can still matter (open alerts, recent repeats) is kept."""

from __future__ import annotations

from lifeline.clock import ManualClock
from lifeline.models import AlertEventType as E
from lifeline.notify.core import NotifierCore
from lifeline.notify.notifier import Notifier
from lifeline.notify.routes import ChannelKind

from .test_core import RULES, T0, FakeChannel, MemoryLog, told

DAY_S = 86_400
DAY_MS = DAY_S * 1000


def test_a_month_of_closed_alerts_leaves_about_a_week_in_memory(event_factory):
    clock = ManualClock(T0)
    core = NotifierCore(RULES, clock, retention_ms=7 * DAY_MS)
    for day in range(30):
        for n in range(10):
            alert_id = f"d{day}-{n}"
            ts = clock.now_ms()
            core.handle(event_factory(alert_id, tier=2, ts=ts))
            core.handle(event_factory(alert_id, E.CLEARED, tier=2, ts=ts + 60_000))
        clock.advance(DAY_S)
        core.tick()
    # 30 days x 10 alerts were seen; only those closed within the last 7 days (+ one prune period) remain
    assert 70 <= len(core.alerts) <= 80
    assert 140 <= len(core.seen) <= 160


def test_a_repeat_within_the_retention_is_still_filtered(event_factory):
    clock = ManualClock(T0)
    core = NotifierCore(RULES, clock, retention_ms=7 * DAY_MS)
    assert told(core.handle(event_factory("x", tier=2, ts=T0))) == [("desk", "opened")]
    clock.advance(2 * DAY_S)
    core.tick()
    assert core.handle(event_factory("x", tier=2, ts=T0)) == []


def test_an_event_older_than_the_retention_changes_nothing(event_factory):
    core = NotifierCore(RULES, ManualClock(T0 + 8 * DAY_MS), retention_ms=7 * DAY_MS)
    assert core.handle(event_factory("old", tier=1, ts=T0)) == []
    assert core.alerts == {} and core.escalations == {} and core.seen == set()


def test_a_standing_open_alert_is_kept_and_its_clear_reaches_who_was_told(event_factory):
    clock = ManualClock(T0)
    core = NotifierCore(RULES, clock, retention_ms=7 * DAY_MS)
    core.handle(event_factory("leak", tier=2, ts=T0))
    for _ in range(20):
        clock.advance(DAY_S)
        core.tick()
    assert "leak" in core.alerts
    cleared = core.handle(event_factory("leak", E.CLEARED, tier=2, ts=clock.now_ms()))
    assert told(cleared) == [("desk", "cleared")]


def test_the_notifier_forgets_old_sent_keys_and_loads_only_recent_ones(event_factory):
    clock, channel, log = ManualClock(T0), FakeChannel(), MemoryLog()
    core = NotifierCore(RULES, clock, retention_ms=7 * DAY_MS)
    n = Notifier(core, channels={ChannelKind.EMAIL: channel}, delivery_log=log, sleep=lambda _s: None)
    n.process([event_factory("a", tier=2, ts=T0)])
    assert len(n.sent) == 1 and "a" in n.first_notice.noticed
    clock.advance(10 * DAY_S)
    n.process([])
    assert n.sent == set() and n.first_notice.noticed == {}
    restarted = Notifier(NotifierCore(RULES, clock), channels={ChannelKind.EMAIL: channel}, delivery_log=log)
    restarted.load()
    assert restarted.sent == set()
    n.close()
    restarted.close()
