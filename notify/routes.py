"""Notifier routing rules: which contacts hear about which alerts, when, and how escalation proceeds.

The rules are a TOML file (``lifeline notify --routes FILE``); see ``routes.example.toml``::

    digest_interval_s = 3600   # tier-3 digest period
    escalate_after_s = 300     # default acknowledge wait for tier 1 before the next level is told

    [smtp]
    host = "127.0.0.1"
    port = 25
    sender = "lifeline@example.org"
    starttls = false
    username = ""              # optional; password from password_env
    password_env = ""

    [contacts.hefei-gas-duty]  # one of webhook = URL or email = address per contact
    webhook = "https://ops.hefei-gas.example/hooks/lifeline"
    secret_env = "HEFEI_GAS_HOOK_SECRET"   # HMAC-SHA256 key (or secret = "...")

    [contacts.regulator]
    email = "duty@zjj.hefei.example"

    [contacts.gas-group]       # group robots: dingtalk / wecom / feishu = the robot's webhook URL
    dingtalk = "https://oapi.dingtalk.com/robot/send?access_token=..."
    secret_env = "GAS_GROUP_SIGN_SECRET"   # DingTalk 加签 / Feishu 签名校验 secret (optional; WeCom has none)
    language = "zh"            # zh (default) or en
    quiet_hours = "22:00-07:00"  # tier-3 notices wait until the quiet hours end (local time, see timezone)

    [contacts.gas-manager-sms]
    sms = "+8613800000000"     # through the [sms] gateway

    [sms]                      # an HTTP SMS gateway; {phone}, {text}, {part}, {parts}, {token} are filled in
    url = "https://sms.example/send"
    token_env = "SMS_GATEWAY_TOKEN"
    headers = { Authorization = "Bearer {token}" }
    body = { mobile = "{phone}", content = "{text}" }
    encoding = "json"          # or "form"

    console_url = "https://lifeline.city.example"   # links go to <console_url>/console/alerts/<id>
    timezone = "Asia/Shanghai" # local time of cards, quiet hours and the daily digest

    [[route]]
    owner = "hefei-gas"        # registry owner, or "*" for any
    tiers = [1]                # or tier = 1
    kinds = []                 # optional: only these alert kinds
    levels = [["hefei-gas-duty", "regulator"], ["hefei-gas-manager"], ["city-duty-office"]]
    escalate_after_s = 300     # optional; default: the top-level value for tier 1, none otherwise
    digest = false             # optional; default: true for tier 3 only

The first route that matches an event's owner, tier and kind wins; put specific routes before ``*``.
"""

from __future__ import annotations

import enum
import os
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lifeline.models import AlertEvent, AlertKind, Tier
from lifeline.notify.exceptions import RoutesError

__all__ = [
    "ChannelKind",
    "Contact",
    "DailyDigestConfig",
    "Route",
    "Rules",
    "SmsGateway",
    "SmtpConfig",
    "load_rules",
    "parse_rules",
]


class ChannelKind(enum.StrEnum):
    """How a contact is reached."""

    WEBHOOK = "webhook"
    EMAIL = "email"
    DINGTALK = "dingtalk"
    WECOM = "wecom"
    FEISHU = "feishu"
    SMS = "sms"


@dataclass(frozen=True, slots=True)
class Contact:
    """A named destination: a webhook URL (with HMAC secret), an e-mail address, a DingTalk / WeCom /
    Feishu group robot's webhook URL (with its signing secret where the platform has one), or a phone
    number for SMS. ``quiet_hours`` (local minutes of day, start and end) hold back tier-3 notices."""

    name: str
    channel: ChannelKind
    target: str
    secret: str = field(default="", repr=False)
    language: str = "zh"
    quiet_hours: tuple[int, int] | None = None

    def quiet_at(self, now_ms: int, zone: str) -> bool:
        """True when ``now_ms`` falls in this contact's quiet hours (local time in ``zone``)."""
        if self.quiet_hours is None:
            return False
        local = datetime.fromtimestamp(now_ms / 1000, ZoneInfo(zone))
        minute = local.hour * 60 + local.minute
        start, end = self.quiet_hours
        return start <= minute < end if start <= end else minute >= start or minute < end


@dataclass(frozen=True, slots=True)
class SmsGateway:
    """An HTTP SMS gateway: where to send, which headers, and the body template (string values may hold
    ``{phone}``, ``{text}``, ``{part}``, ``{parts}`` and ``{token}``); ``encoding`` is ``json`` or ``form``."""

    url: str
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, str] = field(default_factory=dict)
    encoding: str = "json"
    token: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class DailyDigestConfig:
    """The daily per-owner digest: at ``at_minute`` (minutes after local midnight in the rules' time zone)
    each owner's contacts get the day's new, open, escalated and resolved alerts and faults to fix."""

    at_minute: int
    owners: dict[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """The SMTP relay used by e-mail contacts."""

    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "lifeline@localhost"
    starttls: bool = False
    username: str = ""
    password: str = field(default="", repr=False)
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class Route:
    """Who is told about alerts of ``owner`` (or ``*``) at the given tiers, level by level."""

    owner: str
    tiers: frozenset[Tier]
    levels: tuple[tuple[str, ...], ...]
    kinds: frozenset[AlertKind] | None = None
    escalate_after_s: float | None = None
    digest: bool | None = None

    def matches(self, event: AlertEvent) -> bool:
        """True when this route covers the event's owner, tier and kind."""
        return (
            (self.owner == "*" or self.owner == event.owner)
            and event.tier in self.tiers
            and (self.kinds is None or event.kind in self.kinds)
        )

    def digests(self, tier: Tier) -> bool:
        """True when notices at ``tier`` wait for the digest instead of going out at once."""
        return tier is Tier.T3 if self.digest is None else self.digest


@dataclass(frozen=True, slots=True)
class Rules:
    """The whole rules file."""

    contacts: dict[str, Contact]
    routes: tuple[Route, ...]
    smtp: SmtpConfig = SmtpConfig()
    digest_interval_s: float = 3600.0
    escalate_after_s: float = 300.0
    sms: SmsGateway | None = None
    console_url: str = "http://127.0.0.1:8080"
    timezone: str = "Asia/Shanghai"
    daily_digest: DailyDigestConfig | None = None

    def route_for(self, event: AlertEvent) -> Route | None:
        """The first route matching ``event``, or None (then nobody is notified)."""
        for route in self.routes:
            if route.matches(event):
                return route
        return None

    def escalation_wait_s(self, route: Route, tier: Tier) -> float | None:
        """Seconds to wait for an acknowledge before telling the next level; None = no escalation."""
        if route.escalate_after_s is not None:
            return route.escalate_after_s if route.escalate_after_s > 0 else None
        return self.escalate_after_s if tier is Tier.T1 else None


def _secret(entry: dict[str, Any], where: str) -> str:
    if "secret_env" in entry:
        value = os.environ.get(str(entry["secret_env"]), "")
        if not value:
            raise RoutesError(f"{where}: environment variable {entry['secret_env']} (secret_env) is not set")
        return value
    return str(entry.get("secret", ""))


_ROBOTS = (ChannelKind.DINGTALK, ChannelKind.WECOM, ChannelKind.FEISHU)


def _minute(text: str, where: str) -> int:
    try:
        hours, minutes = (int(part) for part in text.strip().split(":"))
    except ValueError:
        raise RoutesError(f"{where}: {text!r} is not a HH:MM time") from None
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise RoutesError(f"{where}: {text!r} is not a HH:MM time")
    return hours * 60 + minutes


def _contact_options(name: str, entry: dict[str, Any], where: str) -> dict[str, Any]:
    language = str(entry.get("language", "zh"))
    if language not in ("zh", "en"):
        raise RoutesError(f"{where}: contact {name!r}: language must be zh or en, got {language!r}")
    quiet = entry.get("quiet_hours")
    hours = None
    if quiet is not None:
        start, sep, end = str(quiet).partition("-")
        if not sep:
            raise RoutesError(f'{where}: contact {name!r}: quiet_hours must look like "22:00-07:00"')
        hours = (_minute(start, f"{where}: contact {name!r}"), _minute(end, f"{where}: contact {name!r}"))
    return {"language": language, "quiet_hours": hours}


def _robot_or_sms(name: str, entry: dict[str, Any], kind: ChannelKind, where: str) -> Contact:
    options = _contact_options(name, entry, where)
    target = str(entry[kind.value])
    if kind is ChannelKind.SMS:
        if not target.lstrip("+").isdigit():
            raise RoutesError(f"{where}: contact {name!r}: sms must be a phone number, got {target!r}")
        return Contact(name, kind, target, **options)
    if not target.startswith(("http://", "https://")):
        raise RoutesError(f"{where}: contact {name!r}: {kind.value} must be the robot's http(s) webhook URL")
    secret = "" if kind is ChannelKind.WECOM else _secret(entry, f"{where}: contact {name!r}")
    return Contact(name, kind, target, secret, **options)


def _contact(name: str, entry: Any, where: str) -> Contact:
    if not isinstance(entry, dict):
        raise RoutesError(f"{where}: [contacts.{name}] must be a table")
    given = [k for k in ChannelKind if k.value in entry]
    if len(given) != 1:
        choices = ", ".join(f"{k.value} =" for k in ChannelKind)
        raise RoutesError(f"{where}: contact {name!r} needs exactly one of {choices}")
    if given[0] in (*_ROBOTS, ChannelKind.SMS):
        return _robot_or_sms(name, entry, given[0], where)
    if "webhook" in entry:
        url = str(entry["webhook"])
        if not url.startswith(("http://", "https://")):
            raise RoutesError(f"{where}: contact {name!r}: webhook must be an http(s) URL, got {url!r}")
        secret = _secret(entry, f"{where}: contact {name!r}")
        if not secret:
            raise RoutesError(f"{where}: contact {name!r}: a webhook needs secret or secret_env (HMAC key)")
        return Contact(name, ChannelKind.WEBHOOK, url, secret, **_contact_options(name, entry, where))
    address = str(entry["email"])
    if "@" not in address:
        raise RoutesError(f"{where}: contact {name!r}: {address!r} is not an e-mail address")
    return Contact(name, ChannelKind.EMAIL, address, **_contact_options(name, entry, where))


def _tiers(entry: dict[str, Any], where: str) -> frozenset[Tier]:
    raw = entry.get("tiers", [entry["tier"]] if "tier" in entry else None)
    if not raw:
        raise RoutesError(f"{where}: a route needs tier = N or tiers = [..] (1 = most severe)")
    try:
        return frozenset(Tier(int(t)) for t in raw)
    except (ValueError, TypeError):
        raise RoutesError(f"{where}: tiers must be 1, 2 or 3, got {raw!r}") from None


def _route(entry: Any, contacts: dict[str, Contact], where: str) -> Route:
    if not isinstance(entry, dict):
        raise RoutesError(f"{where}: [[route]] must be a table")
    owner = entry.get("owner")
    if not isinstance(owner, str) or not owner:
        raise RoutesError(f'{where}: a route needs owner = "<registry owner>" or "*"')
    levels_raw = entry.get("levels")
    if not isinstance(levels_raw, list) or not levels_raw or not all(isinstance(lv, list) and lv for lv in levels_raw):
        raise RoutesError(f"{where}: levels must be a non-empty list of non-empty contact lists")
    for level in levels_raw:
        for name in level:
            if name not in contacts:
                raise RoutesError(f"{where}: unknown contact {name!r}; define it under [contacts.{name}]")
    kinds: frozenset[AlertKind] | None = None
    if entry.get("kinds"):
        try:
            kinds = frozenset(AlertKind(k) for k in entry["kinds"])
        except ValueError:
            known = ", ".join(k.value for k in AlertKind)
            raise RoutesError(f"{where}: unknown kind in {entry['kinds']!r}; known: {known}") from None
    after = entry.get("escalate_after_s")
    digest = entry.get("digest")
    return Route(
        owner=owner, tiers=_tiers(entry, where), levels=tuple(tuple(str(n) for n in lv) for lv in levels_raw),
        kinds=kinds, escalate_after_s=None if after is None else float(after),
        digest=None if digest is None else bool(digest),
    )  # fmt: skip


def parse_rules(text: str, source: str = "<rules>") -> Rules:
    """Parse and validate a rules TOML text; :class:`RoutesError` says file, entry and problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RoutesError(f"{source}: not valid TOML: {exc}") from None
    contacts = {name: _contact(name, entry, source) for name, entry in data.get("contacts", {}).items()}
    routes = tuple(
        _route(entry, contacts, f"{source}: [[route]] #{i}") for i, entry in enumerate(data.get("route", []), 1)
    )
    if not routes:
        raise RoutesError(f"{source}: no [[route]] entries; nobody would ever be notified")
    smtp_raw = data.get("smtp", {})
    password = os.environ.get(str(smtp_raw["password_env"]), "") if smtp_raw.get("password_env") else ""
    smtp = SmtpConfig(
        host=str(smtp_raw.get("host", "127.0.0.1")), port=int(smtp_raw.get("port", 25)),
        sender=str(smtp_raw.get("sender", "lifeline@localhost")), starttls=bool(smtp_raw.get("starttls", False)),
        username=str(smtp_raw.get("username", "")), password=password,
        timeout_s=float(smtp_raw.get("timeout_s", 10.0)),
    )  # fmt: skip
    digest = float(data.get("digest_interval_s", 3600.0))
    escalate = float(data.get("escalate_after_s", 300.0))
    if digest <= 0 or escalate <= 0:
        raise RoutesError(f"{source}: digest_interval_s and escalate_after_s must be positive")
    zone = str(data.get("timezone", "Asia/Shanghai"))
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise RoutesError(f"{source}: unknown timezone {zone!r} (an IANA name such as Asia/Shanghai)") from None
    if any(c.channel is ChannelKind.SMS for c in contacts.values()) and "sms" not in data:
        raise RoutesError(f"{source}: sms contacts need an [sms] gateway table")
    return Rules(
        contacts, routes, smtp, digest, escalate, sms=_sms(data.get("sms"), source),
        console_url=str(data.get("console_url", "http://127.0.0.1:8080")), timezone=zone,
        daily_digest=_daily_digest(data.get("daily_digest"), contacts, source),
    )  # fmt: skip


def _sms(raw: Any, source: str) -> SmsGateway | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not str(raw.get("url", "")).startswith(("http://", "https://")):
        raise RoutesError(f"{source}: [sms] needs url = the gateway's http(s) URL")
    encoding = str(raw.get("encoding", "json"))
    if encoding not in ("json", "form"):
        raise RoutesError(f"{source}: [sms] encoding must be json or form, got {encoding!r}")
    token = os.environ.get(str(raw["token_env"]), "") if raw.get("token_env") else str(raw.get("token", ""))
    return SmsGateway(
        url=str(raw["url"]), method=str(raw.get("method", "POST")).upper(),
        headers={str(k): str(v) for k, v in dict(raw.get("headers", {})).items()},
        body={str(k): str(v) for k, v in dict(raw.get("body", {"phone": "{phone}", "text": "{text}"})).items()},
        encoding=encoding, token=token,
    )  # fmt: skip


def _daily_digest(raw: Any, contacts: dict[str, Contact], source: str) -> DailyDigestConfig | None:
    """``[daily_digest]`` with ``at = "08:00"`` and ``owners = { hefei-gas = ["gas-group"] }``."""
    if raw is None:
        return None
    where = f"{source}: [daily_digest]"
    if not isinstance(raw, dict) or not isinstance(raw.get("owners"), dict) or not raw["owners"]:
        raise RoutesError(f'{where} needs owners = {{ <owner> = ["<contact>", ...] }}')
    owners: dict[str, tuple[str, ...]] = {}
    for owner, names in raw["owners"].items():
        for contact_name in names:
            if contact_name not in contacts:
                raise RoutesError(f"{where}: unknown contact {contact_name!r} for owner {owner!r}")
        owners[str(owner)] = tuple(str(n) for n in names)
    return DailyDigestConfig(at_minute=_minute(str(raw.get("at", "08:00")), where), owners=owners)


def load_rules(path: Path) -> Rules:
    """Read a rules file; :class:`RoutesError` if missing or invalid."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a byte-order mark (Windows Notepad) is no error
    except FileNotFoundError:
        raise RoutesError(f"rules file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RoutesError(f"rules file {path} cannot be read as UTF-8 text: {exc}") from None
    return parse_rules(text, str(path))
