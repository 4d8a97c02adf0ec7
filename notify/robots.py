"""Group-robot channels: DingTalk (钉钉), WeCom (企业微信) and Feishu (飞书) custom robots, each in its own
message format (a markdown card) and with its own signing scheme.

* **DingTalk** — ``{"msgtype": "markdown", "markdown": {"title", "text"}}``. With a 加签 secret, the URL gets
  ``&timestamp=<ms>&sign=<s>`` where ``s`` = url-encode(base64(HMAC-SHA256(key=secret,
  msg="<timestamp>\\n<secret>"))). The platform refuses timestamps more than an hour off.
* **WeCom** — ``{"msgtype": "markdown", "markdown": {"content"}}`` (≤ 4096 bytes); no signature: the robot's
  ``key`` in the URL is the credential.
* **Feishu** — ``{"timestamp", "sign", "msg_type": "interactive", "card": {header, elements: [markdown]}}``
  where ``sign`` = base64(HMAC-SHA256(key="<timestamp>\\n<secret>", msg=b"")) and ``timestamp`` is in
  seconds; without a secret the two fields are left out.

All three answer HTTP 200 with an error code in the body (``errcode`` / ``code``) when they refuse a
message; that is a failed delivery (retried only for rate limits).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from lifeline.notify.core import Message
from lifeline.notify.exceptions import DeliveryError
from lifeline.notify.routes import ChannelKind, Contact
from lifeline.notify.text import Language, card_markdown, card_title

__all__ = [
    "RobotChannel",
    "dingtalk_payload",
    "dingtalk_sign",
    "feishu_payload",
    "feishu_sign",
    "signed_url",
    "wecom_payload",
]

#: WeCom's markdown content limit, in UTF-8 bytes
WECOM_MAX_BYTES = 4096
#: error codes the platforms use for "too many messages": worth a retry later
_RATE_LIMITED = {130101, 45009, 9499, 11232, 11233}


def dingtalk_sign(secret: str, timestamp_ms: str) -> str:
    """DingTalk's ``sign`` query value (already url-encoded)."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode())


def feishu_sign(secret: str, timestamp_s: str) -> str:
    """Feishu's ``sign`` body field: the key is ``"<timestamp>\\n<secret>"``, the message empty."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def signed_url(url: str, secret: str, timestamp_ms: str) -> str:
    """The DingTalk robot URL with ``timestamp`` and ``sign`` appended (unchanged without a secret)."""
    if not secret:
        return url
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"


def _language(contact: Contact) -> Language:
    return "en" if contact.language == "en" else "zh"


def dingtalk_payload(message: Message, contact: Contact, *, console_url: str, zone: str) -> dict[str, Any]:
    """DingTalk's markdown message."""
    lang = _language(contact)
    return {"msgtype": "markdown", "markdown": {
        "title": card_title(message, lang), "text": card_markdown(message, lang, console_url=console_url, zone=zone),
    }}  # fmt: skip


def wecom_payload(message: Message, contact: Contact, *, console_url: str, zone: str) -> dict[str, Any]:
    """WeCom's markdown message, cut to 4096 UTF-8 bytes at a character boundary."""
    text = card_markdown(message, _language(contact), console_url=console_url, zone=zone)
    raw = text.encode()
    if len(raw) > WECOM_MAX_BYTES:
        text = raw[: WECOM_MAX_BYTES - 3].decode(errors="ignore") + "…"
    return {"msgtype": "markdown", "markdown": {"content": text}}


def feishu_payload(
    message: Message, contact: Contact, *, console_url: str, zone: str, timestamp_s: str
) -> dict[str, Any]:
    """Feishu's interactive card with one markdown element; signed when the contact has a secret."""
    lang = _language(contact)
    tier = min((int(n.event.tier) for n in message.notices), default=3)
    body_md = card_markdown(message, lang, console_url=console_url, zone=zone).split("\n\n", 1)[-1]
    payload: dict[str, Any] = {
        "msg_type": "interactive",
        "card": {
            "header": {"title": {"tag": "plain_text", "content": card_title(message, lang)},
                       "template": {1: "red", 2: "orange", 3: "yellow"}[tier]},
            "elements": [{"tag": "markdown", "content": body_md}],
        },
    }  # fmt: skip
    if contact.secret:
        payload = {"timestamp": timestamp_s, "sign": feishu_sign(contact.secret, timestamp_s), **payload}
    return payload


class RobotChannel:
    """Posts markdown cards to DingTalk, WeCom and Feishu group robots (one class, three formats)."""

    def __init__(
        self, *, console_url: str, zone: str, timeout_s: float = 10.0, now_s: Callable[[], float] = time.time
    ) -> None:
        self.console_url = console_url
        self.zone = zone
        self.now_s = now_s
        self._client = httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def request(self, contact: Contact, message: Message) -> tuple[str, bytes]:
        """The URL and JSON body to post for ``contact`` (signed with the current time)."""
        now = self.now_s()
        opts = {"console_url": self.console_url, "zone": self.zone}
        if contact.channel is ChannelKind.DINGTALK:
            stamp_ms = str(int(now * 1000))
            return signed_url(contact.target, contact.secret, stamp_ms), orjson.dumps(
                dingtalk_payload(message, contact, **opts)
            )
        if contact.channel is ChannelKind.WECOM:
            return contact.target, orjson.dumps(wecom_payload(message, contact, **opts))
        if contact.channel is ChannelKind.FEISHU:
            payload = feishu_payload(message, contact, **opts, timestamp_s=str(int(now)))
            return contact.target, orjson.dumps(payload)
        raise DeliveryError(f"contact {contact.name}: {contact.channel} is not a group robot", retry=False)

    def send(self, contact: Contact, message: Message) -> str:
        """Post the card; :class:`DeliveryError` on an HTTP error or a platform error code."""
        url, body = self.request(contact, message)
        where = f"{contact.channel.value} robot {contact.name}"
        try:
            response = self._client.post(url, content=body, headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{where}: {exc!r}", retry=True) from exc
        if not 200 <= response.status_code < 300:
            retry = response.status_code in (408, 429) or response.status_code >= 500
            raise DeliveryError(f"{where}: HTTP {response.status_code}", retry=retry)
        try:
            answer = orjson.loads(response.content) if response.content else {}
        except orjson.JSONDecodeError:
            answer = {}
        code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0))) if isinstance(answer, dict) else 0
        if code not in (0, None):
            detail = answer.get("errmsg", answer.get("msg", ""))
            raise DeliveryError(f"{where}: platform error {code} {detail}", retry=code in _RATE_LIMITED)
        return f"HTTP {response.status_code} ok"
