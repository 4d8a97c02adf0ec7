"""The daily per-owner digest on a manual clock: due at 08:00 Asia/Shanghai (00:00 UTC), what it lists,
and that it is delivered once per owner, day and contact."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from lifeline.clock import ManualClock
from lifeline.models import AlertEventType as E
from lifeline.models import AlertKind
from lifeline.notify.core import NotifierCore
from lifeline.notify.daily import next_due_ms
from lifeline.notify.notifier import Notifier
from lifeline.notify.routes import ChannelKind, parse_rules
from lifeline.notify.text import daily_markdown, sms_text

RULES = parse_rules(
    """
timezone = "Asia/Shanghai"
[daily_digest]
at = "08:00"
owners = { hefei-gas = ["gas-group", "gas-mail"] }
[contacts.gas-group]
wecom = "http://127.0.0.1:1/send?key=K"
[contacts.gas-mail]
email = "gas@x.org"
[contacts.desk]
email = "desk@x.org"
[[route]]
owner = "*"
tiers = [1, 2, 3]
levels = [["desk"]]
"""
)


def utc_ms(day: int, hour: int, minute: int = 0, second: int = 0) -> int:
    return round(datetime(2026, 12, day, hour, minute, second, tzinfo=UTC).timestamp() * 1000)


# 08:00 in Shanghai (UTC+8, no DST) is 00:00 UTC
DUE_DEC3 = utc_ms(3, 0)
DUE_DEC4 = utc_ms(4, 0)


def test_next_due_is_the_next_local_0800_strictly_after_now() -> None:
    assert next_due_ms(utc_ms(2, 23, 30), 8 * 60, "Asia/Shanghai") == DUE_DEC3  # 07:30 local
    assert next_due_ms(DUE_DEC3, 8 * 60, "Asia/Shanghai") == DUE_DEC4  # exactly 08:00: the next day
    assert next_due_ms(utc_ms(3, 0, 0, 1), 8 * 60, "Asia/Shanghai") == DUE_DEC4
    assert next_due_ms(utc_ms(2, 23, 30), 8 * 60, "UTC") == utc_ms(3, 8)


def test_daily_digest_fires_at_0800_local_with_the_days_alerts(event_factory: Any) -> None:
    clock = ManualClock(utc_ms(2, 23, 30))  # 07:30 in Shanghai
    core = NotifierCore(RULES, clock)
    assert core.next_daily_ms == DUE_DEC3
    core.handle(event_factory("a", tier=2, ts=utc_ms(2, 23, 40)))
    fault = event_factory("f", tier=3, ts=utc_ms(2, 23, 50))
    core.handle(msgspec.structs.replace(fault, kind=AlertKind.SENSOR_FAULT, asset_id="A-a"))
    core.handle(event_factory("x", tier=1, owner="other-owner", ts=utc_ms(2, 23, 45)))
    clock.advance(29 * 60 + 59)  # 07:59:59
    assert [m for m in core.tick() if m.daily is not None] == []
    clock.advance(1)  # 08:00:00
    daily = [m for m in core.tick() if m.daily is not None]
    assert sorted(m.contact for m in daily) == ["gas-group", "gas-mail"]
    d = daily[0].daily
    assert d is not None and (d.owner, d.day, d.start_ms, d.due_ms) == (
        "hefei-gas",
        "2026-12-02",
        utc_ms(2, 0),
        DUE_DEC3,
    )
    assert [e.alert_id for e in d.new] == ["a", "f"] and [e.alert_id for e in d.open] == ["a", "f"]
    assert [e.alert_id for e in d.faults_to_fix] == ["f"] and d.resolved == () and d.escalated == ()
    assert d.top_assets == (("A-a", 2),)
    assert daily[0].notices[0].key == ("daily-digest:hefei-gas:2026-12-02", "daily-digest", DUE_DEC3, daily[0].contact)
    assert core.next_daily_ms == DUE_DEC4
    assert [m for m in core.tick() if m.daily is not None] == []  # once per day

    clock.advance(3600)  # 09:00: alert a is resolved
    core.handle(event_factory("a", E.RESOLVED, tier=2, ts=clock.now_ms()))
    clock.advance(23 * 3600)  # 08:00 on the next day
    [d2] = [m.daily for m in core.tick() if m.daily is not None and m.contact == "gas-group"]
    assert d2 is not None and d2.day == "2026-12-03"
    assert d2.new == () and [e.alert_id for e in d2.resolved] == ["a"] and [e.alert_id for e in d2.open] == ["f"]


def test_quiet_day_still_gets_a_digest_and_text_says_so() -> None:
    clock = ManualClock(utc_ms(2, 23, 30))
    core = NotifierCore(RULES, clock)
    clock.advance(1800)
    [message, _] = [m for m in core.tick() if m.daily is not None]
    assert message.daily is not None
    text = daily_markdown(message.daily, "zh", console_url="https://c.example", zone="Asia/Shanghai")
    assert "【每日汇总】hefei-gas 2026-12-02" in text and "当日无新告警" in text
    assert "**新增** 0" in text and "https://c.example/console/alerts" in text
    assert sms_text(message, "zh", console_url="https://c.example", zone="Asia/Shanghai") == (
        "【城市生命线】hefei-gas 12-02日报:新增0,升级0,处置0,未关闭0,待修设备0。详情 https://c.example/console/alerts"
    )


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, contact: Any, message: Any) -> str:
        self.sent.append((contact.name, "daily" if message.daily is not None else message.notices[0].label))
        return "ok"


class MemoryLog:
    def __init__(self) -> None:
        self.rows: list[Any] = []

    def load_sent(self) -> set[Any]:
        return {r.notice.key for r in self.rows if r.status == "sent"}

    def record(self, records: list[Any]) -> None:
        self.rows.extend(records)


def test_notifier_delivers_the_daily_digest_once_across_a_restart() -> None:
    log, channel = MemoryLog(), Recorder()
    channels: dict[ChannelKind, Any] = {ChannelKind.WECOM: channel, ChannelKind.EMAIL: channel}
    clock = ManualClock(utc_ms(2, 23, 59))
    first = Notifier(NotifierCore(RULES, clock), channels=channels, delivery_log=log, workers=1)
    first.load()
    clock.advance(60)
    first.process([])
    assert sorted(channel.sent) == [("gas-group", "daily"), ("gas-mail", "daily")]
    assert {r.notice.label for r in log.rows} == {"daily-digest"}
    # a restart just before 08:00 with the same log and a clock that is replayed: nothing is sent twice
    clock2 = ManualClock(utc_ms(2, 23, 59))
    second = Notifier(NotifierCore(RULES, clock2), channels=channels, delivery_log=log, workers=1)
    second.load()
    clock2.advance(60)
    second.process([])
    assert len(channel.sent) == 2
    first.close()
    second.close()
