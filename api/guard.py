"""The request guard: a pure ASGI middleware in front of every HTTP route.

In this order, before any route (and before FastAPI reads a body):

1. a URL whose path or query holds a control character (``%00`` …) gets 400: no such text is a valid
   id or filter value, and the storage driver cannot bind it;
2. a route that is not public needs a valid bearer token in the ``Authorization`` header, else 401 —
   an unauthenticated client never gets its body read or parsed;
3. a declared ``Content-Length`` above the cap gets 413;
4. the body is counted chunk by chunk as the route reads it; past the cap the guard answers 413 itself
   and tells the route the client went away, so at most one chunk beyond the cap is ever held.

Every response also gets ``X-Content-Type-Options: nosniff`` and ``Cache-Control: no-store``.
Websocket connections pass through untouched: the websocket route authenticates them and uvicorn's
``ws_max_size`` caps their frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lifeline.api.auth import Authenticator
from lifeline.api.exceptions import ApiError, PayloadTooLargeError, UserInputError
from lifeline.api.views import ErrorOut

__all__ = ["DOC_PATHS", "RequestGuard", "bearer_token", "has_control_characters"]

DOC_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
_SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store"))


def has_control_characters(text: str) -> bool:
    """True when ``text`` holds a C0 control character or DEL."""
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header among raw ASGI headers, if any."""
    for name, value in headers:
        if name.lower() == b"authorization":
            text = value.decode("latin-1")
            return text[7:] if text[:7].lower() == "bearer " else None
    return None


def _check_url(scope: Scope) -> None:
    query = scope.get("query_string", b"").decode("latin-1")
    pairs = parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="replace")
    texts = [scope["path"], *(part for pair in pairs for part in pair)]
    if any(has_control_characters(t) for t in texts):
        raise UserInputError("the URL holds a control character (e.g. %00); remove it")


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


def _with_security_headers(message: Message) -> Message:
    present = {name.lower() for name, _ in message.get("headers", [])}
    extra = [(name, value) for name, value in _SECURITY_HEADERS if name not in present]
    return {**message, "headers": [*message.get("headers", []), *extra]}


async def _answer(send: Send, error: ApiError) -> None:
    body = ErrorOut(error=error.code, message=error.message).model_dump_json().encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if error.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    if error.status == 413:
        headers.append((b"connection", b"close"))
    start: Message = {"type": "http.response.start", "status": error.status, "headers": headers}
    await send(_with_security_headers(start))
    await send({"type": "http.response.body", "body": body})


@dataclass
class _Exchange:
    """What the guard knows about one request/response in flight."""

    received: int = 0
    started: bool = False
    refused: bool = False


class RequestGuard:
    """Authenticate, cap and sanitise HTTP requests before the app sees their bodies (see the module doc)."""

    def __init__(
        self, app: ASGIApp, *, authenticator: Authenticator, max_body_bytes: int, public_paths: frozenset[str]
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.max_body_bytes = max_body_bytes
        self.public_paths = public_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._admit(scope)
        except ApiError as exc:
            await _answer(send, exc)
            return
        await self._forward(scope, receive, send)

    def _admit(self, scope: Scope) -> None:
        _check_url(scope)
        if scope["path"] not in self.public_paths:
            self.authenticator.authenticate(bearer_token(scope["headers"]))
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            raise self._too_large()

    def _too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"request body larger than {self.max_body_bytes} bytes (LIFELINE_API_MAX_BODY_BYTES)"
        )

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        exchange = _Exchange()

        async def counted_receive() -> Message:
            if exchange.refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                exchange.received += len(message.get("body", b""))
                if exchange.received > self.max_body_bytes:
                    exchange.refused = True
                    if not exchange.started:
                        exchange.started = True
                        await _answer(send, self._too_large())
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if exchange.refused:
                return  # the route's own answer to the refused body; the client already has its 413
            if message["type"] == "http.response.start":
                exchange.started = True
                message = _with_security_headers(message)
            await send(message)

        await self.app(scope, counted_receive, guarded_send)
