"""SMS through a configurable HTTP gateway (the ``[sms]`` table of the rules file), segmented correctly.

A text with any character outside the GSM 03.38 basic alphabet (every Chinese text) is sent as UCS-2:
**70** characters fit one SMS; a longer text is split into segments of **67** characters each (the other
3 carry the concatenation header). Characters are counted as UTF-16 code units, so an emoji counts 2,
and a segment never ends in the middle of a surrogate pair. A pure GSM-7 text has 160 / 153.

Each segment is one gateway request; its body is the ``[sms] body`` template with ``{phone}``, ``{text}``
(the segment), ``{part}``, ``{parts}`` and ``{token}`` filled in, sent as JSON or as a form.
"""

from __future__ import annotations

import httpx

from lifeline.notify.core import Message
from lifeline.notify.exceptions import DeliveryError
from lifeline.notify.routes import Contact, SmsGateway
from lifeline.notify.text import Language, sms_text

__all__ = ["SmsChannel", "is_gsm7", "sms_segments"]

_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: (single-message limit, per-segment limit when concatenated)
UCS2_LIMITS = (70, 67)
GSM7_LIMITS = (160, 153)


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM 03.38 basic alphabet."""
    return all(ch in _GSM7 for ch in text)


def _units(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def sms_segments(text: str) -> list[str]:
    """The segments ``text`` is sent in (one if it fits a single SMS)."""
    single, per_segment = GSM7_LIMITS if is_gsm7(text) else UCS2_LIMITS
    if sum(_units(ch) for ch in text) <= single:
        return [text]
    segments: list[str] = []
    current: list[str] = []
    used = 0
    for ch in text:
        width = _units(ch)
        if used + width > per_segment:
            segments.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += width
    if current:
        segments.append("".join(current))
    return segments


class SmsChannel:
    """One gateway request per segment; the delivery fails if any segment is refused."""

    def __init__(self, gateway: SmsGateway, *, console_url: str, zone: str, timeout_s: float = 10.0) -> None:
        self.gateway = gateway
        self.console_url = console_url
        self.zone = zone
        self._client = httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def requests(self, contact: Contact, message: Message) -> list[tuple[dict[str, str], dict[str, str]]]:
        """(headers, body) of each segment's gateway request."""
        lang: Language = "en" if contact.language == "en" else "zh"
        segments = sms_segments(sms_text(message, lang, console_url=self.console_url, zone=self.zone))
        out = []
        for part, segment in enumerate(segments, 1):
            values = {"phone": contact.target, "text": segment, "part": str(part), "parts": str(len(segments)),
                      "token": self.gateway.token}  # fmt: skip
            headers = {k: v.format_map(values) for k, v in self.gateway.headers.items()}
            body = {k: v.format_map(values) for k, v in self.gateway.body.items()}
            out.append((headers, body))
        return out

    def send(self, contact: Contact, message: Message) -> str:
        """Send every segment; :class:`DeliveryError` on the first refusal."""
        batches = self.requests(contact, message)
        for headers, body in batches:
            as_json = self.gateway.encoding == "json"
            try:
                response = self._client.request(
                    self.gateway.method, self.gateway.url, headers=headers,
                    json=body if as_json else None, data=None if as_json else body,
                )  # fmt: skip
            except httpx.HTTPError as exc:
                raise DeliveryError(f"sms gateway: {exc!r}", retry=True) from exc
            if not 200 <= response.status_code < 300:
                retry = response.status_code in (408, 429) or response.status_code >= 500
                raise DeliveryError(f"sms gateway: HTTP {response.status_code}", retry=retry)
        return f"sms {len(batches)} segment(s) accepted"
