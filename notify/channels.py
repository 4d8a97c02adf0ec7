"""Delivery channels: HTTP webhook with an HMAC-SHA256 signature, and e-mail over SMTP.

**Webhook** — ``POST`` of a JSON body (see :func:`render_json`) with headers:

* ``X-Lifeline-Timestamp``: unix seconds when signed,
* ``X-Lifeline-Signature``: ``sha256=<hex HMAC-SHA256 of "<timestamp>.<body bytes>" with the contact's secret>``,
* ``X-Lifeline-Delivery``: a stable id of the notices carried (the same on every retry; receivers may
  de-duplicate by it).

A receiver verifies with ``hmac.compare_digest(expected, header)`` and rejects old timestamps.
2xx is success; 408, 429 and 5xx are retried; other statuses fail at once.

**E-mail** — a plain-text message through the ``[smtp]`` relay of the rules file.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import time
from email.message import EmailMessage
from typing import Any, Protocol

import httpx
import orjson

from lifeline.models import Tier, ms_to_datetime
from lifeline.notify.core import Message, Notice
from lifeline.notify.exceptions import DeliveryError
from lifeline.notify.routes import ChannelKind, Contact, SmtpConfig
from lifeline.notify.text import daily_markdown, daily_title

__all__ = [
    "Channel",
    "EmailChannel",
    "WebhookChannel",
    "delivery_id",
    "render_json",
    "render_text",
    "sign",
]


class Channel(Protocol):
    """Something that can deliver a message to a contact."""

    def send(self, contact: Contact, message: Message) -> str:
        """Deliver; return a short detail for the log; raise :class:`DeliveryError` on failure."""
        ...


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Lifeline-Signature`` header value for ``body`` signed at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def delivery_id(message: Message) -> str:
    """A stable id of the notices in a message."""
    if message.text is not None and not message.notices:
        return hashlib.sha256("|".join(message.text).encode()).hexdigest()[:32]
    text = "|".join(f"{a}/{lb}/{ts}/{c}" for a, lb, ts, c in sorted(n.key for n in message.notices))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _notice_json(n: Notice) -> dict[str, Any]:
    e = n.event
    return {
        "alert_id": e.alert_id, "label": n.label, "event": e.event.value, "level": n.level, "tier": int(e.tier),
        "tier_label": Tier(e.tier).label_zh, "lifeline": e.lifeline.value, "kind": e.kind.value,
        "asset_id": e.asset_id, "owner": e.owner, "district": e.district, "sensor_ids": list(e.sensor_ids),
        "started_at": ms_to_datetime(e.started_at).isoformat(), "ts": ms_to_datetime(e.ts).isoformat(),
        "value": e.value, "score": e.score, "evidence": e.evidence, "actor": e.actor, "comment": e.comment,
    }  # fmt: skip


def _daily_json(message: Message) -> dict[str, Any]:
    d = message.daily
    assert d is not None

    def ids(events: tuple[Any, ...]) -> list[dict[str, Any]]:
        return [
            {"alert_id": e.alert_id, "tier": int(e.tier), "kind": e.kind.value, "asset_id": e.asset_id} for e in events
        ]

    return {
        "type": "daily-digest", "contact": message.contact, "delivery_id": delivery_id(message), "owner": d.owner,
        "day": d.day, "start": ms_to_datetime(d.start_ms).isoformat(), "end": ms_to_datetime(d.due_ms).isoformat(),
        "new": ids(d.new), "escalated": ids(d.escalated), "resolved": ids(d.resolved), "open": ids(d.open),
        "top_assets": [{"asset_id": a, "alerts": n} for a, n in d.top_assets], "faults_to_fix": ids(d.faults_to_fix),
    }  # fmt: skip


def render_json(message: Message) -> bytes:
    """The webhook body: ``{"type": "alert"|"digest", "contact", "delivery_id", "notices": [...]}``; a daily
    digest is ``{"type": "daily-digest", "owner", "day", "new", "escalated", "resolved", "open", ...}``."""
    if message.daily is not None:
        return orjson.dumps(_daily_json(message))
    if message.text is not None:
        title, text = message.text
        return orjson.dumps({"type": "notice", "contact": message.contact, "title": title, "text": text})
    body = {
        "type": "digest" if message.digest else "alert",
        "contact": message.contact,
        "delivery_id": delivery_id(message),
        "notices": [_notice_json(n) for n in message.notices],
    }
    return orjson.dumps(body)


def _line(n: Notice) -> str:
    e = n.event
    what = "ESCALATION: not acknowledged in time" if n.label.startswith("escalation") else n.label
    return (
        f"[{Tier(e.tier).label_zh} T{int(e.tier)}] {e.kind.value} at {e.asset_id} ({e.owner}, {e.district}) — {what}\n"
        f"  alert {e.alert_id}, since {ms_to_datetime(e.started_at).isoformat()}, event at "
        f"{ms_to_datetime(e.ts).isoformat()}\n  value {e.value:g}, score {e.score:g}: {e.evidence}\n"
    )


def render_text(message: Message, *, console_url: str = "", zone: str = "Asia/Shanghai") -> tuple[str, str]:
    """E-mail subject and body (a daily digest's times in ``zone``, its link under ``console_url``)."""
    if message.text is not None:
        return message.text
    if message.daily is not None:
        return daily_title(message.daily, "zh"), daily_markdown(
            message.daily, "zh", console_url="", zone="Asia/Shanghai"
        )
    first = message.notices[0].event
    if message.digest:
        subject = f"[Lifeline] 三级 digest: {len(message.notices)} alert event(s)"
    else:
        n = message.notices[0]
        subject = (f"[Lifeline {Tier(first.tier).label_zh} T{int(first.tier)}] {first.kind.value} at "
                   f"{first.asset_id} ({first.owner}) — {n.label}")  # fmt: skip
    body = "".join(_line(n) for n in message.notices)
    return subject, body + "\nAcknowledge in the Lifeline console or with POST /alerts/<id>/acknowledge.\n"


class WebhookChannel:
    """Signed JSON ``POST``s."""

    def __init__(self, timeout_s: float = 10.0) -> None:
        self._client = httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def send(self, contact: Contact, message: Message) -> str:
        """POST the signed message; :class:`DeliveryError` on failure."""
        body = render_json(message)
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Lifeline-Timestamp": stamp,
            "X-Lifeline-Signature": sign(contact.secret, stamp, body),
            "X-Lifeline-Delivery": delivery_id(message),
        }
        try:
            response = self._client.post(contact.target, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook {contact.target}: {exc!r}", retry=True) from exc
        if 200 <= response.status_code < 300:
            return f"HTTP {response.status_code}"
        retry = response.status_code in (408, 429) or response.status_code >= 500
        raise DeliveryError(f"webhook {contact.target}: HTTP {response.status_code}", retry=retry)


class EmailChannel:
    """Plain-text e-mail through one SMTP relay."""

    def __init__(self, config: SmtpConfig, *, console_url: str = "", zone: str = "Asia/Shanghai") -> None:
        self.config = config
        self.console_url = console_url
        self.zone = zone

    def send(self, contact: Contact, message: Message) -> str:
        """Send the e-mail; :class:`DeliveryError` on failure (refused recipients are not retried)."""
        c = self.config
        subject, body = render_text(message, console_url=self.console_url, zone=self.zone)
        mail = EmailMessage()
        mail["From"] = c.sender
        mail["To"] = contact.target
        mail["Subject"] = subject
        mail["X-Lifeline-Delivery"] = delivery_id(message)
        mail.set_content(body)
        try:
            with smtplib.SMTP(c.host, c.port, timeout=c.timeout_s) as smtp:
                if c.starttls:
                    smtp.starttls()
                if c.username:
                    smtp.login(c.username, c.password)
                smtp.send_message(mail)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            raise DeliveryError(f"smtp refused: {exc}", retry=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"smtp {c.host}:{c.port}: {exc!r}", retry=True) from exc
        return f"smtp {c.host}:{c.port} accepted"


def channel_for(kind: ChannelKind, webhook: Channel, email: Channel) -> Channel:
    """The channel object serving contacts of ``kind``."""
    return webhook if kind is ChannelKind.WEBHOOK else email
