"""Words of a notice in the contact's language (``zh`` first, ``en``): titles, markdown cards, SMS lines.

The group-robot channels (DingTalk, WeCom, Feishu) show :func:`card_markdown`; SMS sends :func:`sms_text`.
Every card carries tier, kind, asset, district, event time (in the rules' time zone, with its offset),
evidence and a console link ``<console_url>/console/alerts/<alert_id>``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from lifeline.models import AlertEvent, AlertKind, Tier
from lifeline.notify.core import Message, Notice
from lifeline.notify.daily import OwnerDigest

__all__ = [
    "Language",
    "card_markdown",
    "card_title",
    "console_link",
    "daily_markdown",
    "kind_label",
    "label_text",
    "sms_text",
]

Language = Literal["zh", "en"]

_KIND_ZH: dict[AlertKind, str] = {
    AlertKind.GAS_LEAK: "燃气泄漏", AlertKind.GAS_PRESSURE_ANOMALY: "燃气压力异常",
    AlertKind.COVER_DISPLACED: "井盖位移",
    AlertKind.PIPE_BURST: "供水爆管", AlertKind.BACKGROUND_LEAK: "供水暗漏", AlertKind.LOW_PRESSURE: "供水低压",
    AlertKind.WATERLOGGING: "积水内涝", AlertKind.OVERFLOW: "管网溢流", AlertKind.RAINSTORM: "强降雨",
    AlertKind.BRIDGE_OVERLOAD: "桥梁超载", AlertKind.STRUCTURAL_ANOMALY: "结构异常", AlertKind.SENSOR_FAULT: "设备故障",
    AlertKind.ANOMALY: "数据异常",
}  # fmt: skip

_LABEL_ZH = {
    "opened": "新告警", "escalated": "告警升级", "de-escalated": "告警降级", "updated": "告警更新",
    "cleared": "告警消除", "acknowledged": "已确认", "resolved": "已处置", "work-order-overdue": "工单超期未处置",
}  # fmt: skip
_TIER_EN = {1: "Tier 1", 2: "Tier 2", 3: "Tier 3"}


def kind_label(kind: AlertKind, language: Language) -> str:
    """The alert kind in words (``燃气泄漏`` / ``gas leak``)."""
    return _KIND_ZH[kind] if language == "zh" else kind.value.replace("_", " ")


def label_text(label: str, language: Language) -> str:
    """What happened: ``opened`` → ``新告警``; ``escalation-2`` → ``未确认升级通知(第2级)``."""
    if label.startswith("escalation-"):
        level = label.removeprefix("escalation-")
        return f"未确认升级通知(第{level}级)" if language == "zh" else f"not acknowledged: escalation level {level}"
    return _LABEL_ZH.get(label, label) if language == "zh" else label


def _tier(tier: Tier, language: Language) -> str:
    return Tier(tier).label_zh if language == "zh" else _TIER_EN[int(tier)]


def local_time(ms: int, zone: str) -> str:
    """``2026-12-03 10:05 +08:00``: the time in ``zone`` with its offset (no ambiguity for the reader)."""
    moment = datetime.fromtimestamp(ms / 1000, ZoneInfo(zone))
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"


def console_link(console_url: str, alert_id: str) -> str:
    """The alert's page in the operator console: ``<console_url>/console/alerts/<alert_id>``."""
    return f"{console_url.rstrip('/')}/console/alerts/{alert_id}"


def daily_title(digest: OwnerDigest, language: Language) -> str:
    """``【每日汇总】hefei-gas 2026-12-03``."""
    return (
        f"【每日汇总】{digest.owner} {digest.day}"
        if language == "zh"
        else f"[Daily digest] {digest.owner} {digest.day}"
    )


def _alert_line(e: AlertEvent, language: Language) -> str:
    return (
        f"- {_tier(e.tier, language)} {kind_label(e.kind, language)} {e.asset_id}({e.district})"
        if (language == "zh")
        else f"- {_tier(e.tier, language)} {kind_label(e.kind, language)} {e.asset_id} ({e.district})"
    )


def daily_markdown(digest: OwnerDigest, language: Language, *, console_url: str, zone: str, limit: int = 10) -> str:
    """The daily digest as markdown: counts first, then the new and open alerts, top assets, faults to fix."""
    zh = language == "zh"
    counts = (
        (
            f"**新增** {len(digest.new)} · **升级** {len(digest.escalated)} · **处置/消除** {len(digest.resolved)} · "
            f"**未关闭** {len(digest.open)} · **待修设备** {len(digest.faults_to_fix)}"
        )
        if zh
        else (
            f"**New** {len(digest.new)} · **Escalated** {len(digest.escalated)} · **Resolved/cleared** "
            f"{len(digest.resolved)} · **Open** {len(digest.open)} · **Faults to fix** {len(digest.faults_to_fix)}"
        )
    )
    period = f"{local_time(digest.start_ms, zone)} – {local_time(digest.due_ms, zone)}"
    lines = [f"### {daily_title(digest, language)}", f"统计时段:{period}" if zh else f"Period: {period}", "", counts]
    if not (digest.new or digest.escalated or digest.resolved or digest.open):
        lines += ["", "当日无新告警,无未关闭告警。" if zh else "No new and no open alerts."]
    sections = (
        ("新增告警", "New alerts", digest.new),
        ("未关闭告警", "Open alerts", digest.open),
        ("待修设备", "Sensor faults to fix", digest.faults_to_fix),
    )
    for heading_zh, heading_en, items in sections:
        if items:
            lines += ["", f"**{heading_zh if zh else heading_en}**"]
            lines += [_alert_line(e, language) for e in items[:limit]]
            if len(items) > limit:
                lines.append(f"- …共 {len(items)} 条" if zh else f"- … {len(items)} in all")
    if digest.top_assets:
        joined = ("、" if zh else ", ").join(f"{a}({n})" if zh else f"{a} ({n})" for a, n in digest.top_assets)
        lines += ["", f"**重点设施**:{joined}" if zh else f"**Top assets**: {joined}"]
    lines += ["", f"[{'打开控制台' if zh else 'Open the console'}]({console_url.rstrip('/')}/console/alerts)"]
    return "\n".join(lines)


def card_title(message: Message, language: Language) -> str:
    """A one-line title: ``【一级】燃气泄漏 GW-0001 新告警``, or the digest's count."""
    if message.text is not None:
        return message.text[0]
    if message.daily is not None:
        return daily_title(message.daily, language)
    if message.digest:
        count = len(message.notices)
        return f"【三级汇总】{count} 条告警事件" if language == "zh" else f"[Tier 3 digest] {count} alert event(s)"
    n = message.notices[0]
    e = n.event
    if language == "zh":
        return f"【{_tier(e.tier, 'zh')}】{kind_label(e.kind, 'zh')} {e.asset_id} {label_text(n.label, 'zh')}"
    return f"[{_tier(e.tier, 'en')}] {kind_label(e.kind, 'en')} at {e.asset_id}: {label_text(n.label, 'en')}"


def _card_lines(n: Notice, language: Language, console_url: str, zone: str) -> list[str]:
    e: AlertEvent = n.event
    link = console_link(console_url, e.alert_id)
    if language == "zh":
        return [
            f"**等级**:{_tier(e.tier, 'zh')}(T{int(e.tier)})", f"**类型**:{kind_label(e.kind, 'zh')}",
            f"**事件**:{label_text(n.label, 'zh')}", f"**设施**:{e.asset_id}({e.owner})", f"**区域**:{e.district}",
            f"**时间**:{local_time(e.ts, zone)}", f"**依据**:{e.evidence}", f"[在控制台查看并确认]({link})",
        ]  # fmt: skip
    return [
        f"**Tier**: {_tier(e.tier, 'en')}", f"**Kind**: {kind_label(e.kind, 'en')}",
        f"**Event**: {label_text(n.label, 'en')}", f"**Asset**: {e.asset_id} ({e.owner})",
        f"**District**: {e.district}", f"**Time**: {local_time(e.ts, zone)}", f"**Evidence**: {e.evidence}",
        f"[Open and acknowledge in the console]({link})",
    ]  # fmt: skip


def card_markdown(message: Message, language: Language, *, console_url: str, zone: str) -> str:
    """The markdown body of a group-robot card (one block per notice, a digest lists them all)."""
    if message.text is not None:
        return f"### {message.text[0]}\n\n{message.text[1]}"
    if message.daily is not None:
        return daily_markdown(message.daily, language, console_url=console_url, zone=zone)
    blocks = ["\n".join(_card_lines(n, language, console_url, zone)) for n in message.notices]
    return f"### {card_title(message, language)}\n\n" + "\n\n---\n\n".join(blocks)


def sms_text(message: Message, language: Language, *, console_url: str, zone: str) -> str:
    """A short SMS line per notice (sign-off bracket first, as Chinese carriers require a signature)."""
    if message.text is not None:
        return ("【城市生命线】" if language == "zh" else "[Lifeline] ") + message.text[0]
    d = message.daily
    if d is not None:
        counts = (len(d.new), len(d.escalated), len(d.resolved), len(d.open), len(d.faults_to_fix))
        if language == "zh":
            head = "【城市生命线】{} {}日报:新增{},升级{},处置{},未关闭{},待修设备{}。".format(
                d.owner, d.day[5:], *counts
            )
            return head + f"详情 {console_url.rstrip('/')}/console/alerts"
        return ("[Lifeline] {} {} digest: new {}, escalated {}, resolved {}, open {}, faults {}. ".format(
            d.owner, d.day, *counts) + f"{console_url.rstrip('/')}/console/alerts")  # fmt: skip
    parts: list[str] = []
    for n in message.notices:
        e = n.event
        when = local_time(e.ts, zone)[5:16]
        link = console_link(console_url, e.alert_id)
        if language == "zh":
            parts.append(f"{_tier(e.tier, 'zh')}{kind_label(e.kind, 'zh')}{label_text(n.label, 'zh')}:{e.asset_id},"
                         f"{e.district},{when}。详情 {link}")  # fmt: skip
        else:
            parts.append(f"{_tier(e.tier, 'en')} {kind_label(e.kind, 'en')} {label_text(n.label, 'en')}: {e.asset_id}, "
                         f"{e.district}, {when}. {link}")  # fmt: skip
    prefix = "【城市生命线】" if language == "zh" else "[Lifeline] "
    return prefix + ("\n" if len(parts) > 1 else "").join(parts)
