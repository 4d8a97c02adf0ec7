"""Websocket ``/ws/alerts``: a snapshot of active alerts, then every matching lifecycle event live.

Connect::

    ws://127.0.0.1:8080/ws/alerts?lifeline=gas&max_tier=2&owner=hefei-gas

The token, in order of preference: an ``Authorization: Bearer <token>`` header; for browsers (which
cannot set headers) the subprotocols ``["lifeline", "bearer.<token>"]`` — the server answers with
``lifeline``, never echoing the token; a first message ``{"type": "auth", "token": "..."}`` within
``LIFELINE_API_WS_AUTH_TIMEOUT_S``; or ``?token=`` (old clients; redacted from the logs, but it may still
land in proxies' logs). Query parameters: filters ``lifeline``, ``max_tier``, ``kind``, ``district``,
``owner``, ``status`` (comma-separated lists), and for a reconnect ``last_event_id=<id>`` or
``since=<epoch ms | ISO 8601 with zone>``.

Frames from the server (JSON text):

* ``{"type": "snapshot", "last_id": n, "gap": false, "alerts": [envelope, ...]}`` — active alerts.
  ``gap: true`` means a ``since`` was asked for but the replay log no longer reaches back: rebuild.
* ``{"type": "replay", "last_id": n, "events": [envelope, ...]}`` — what was missed since ``since``.
* ``{"type": "events", "events": [envelope, ...], "dropped": k}`` — live events; ``dropped`` (only when
  non-zero) counts events dropped because this client was slow (reconnect with ``last_event_id``).
* ``{"type": "heartbeat", "ts": ms, "last_id": n}`` after each ``LIFELINE_API_WS_HEARTBEAT_S`` of silence.
* ``{"type": "pong"}``, ``{"type": "error", "status": 401, "error": "...", "message": "..."}``.

An envelope is ``{"id", "kafka_ts", "status", "event": AlertEvent}``; de-duplicate by ``id`` or by
``(alert_id, event, ts)``. Messages from the client: ``{"type": "ping"}``, ``{"type": "subscribe",
"filter": {"lifeline": ["gas"], "max_tier": 1}}`` (answered by a new snapshot).

Close codes: 4400 bad request, 4401 unauthorized, 4403 forbidden, 4008 slow consumer (see
:mod:`lifeline.api.hub` for the backpressure policy), 1013 hub not ready yet, 1009 a client message
larger than ``LIFELINE_API_WS_MAX_FRAME_BYTES``.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.datastructures import QueryParams

from lifeline.api.auth import Permission, Principal
from lifeline.api.context import ApiContext
from lifeline.api.exceptions import ApiError, UserInputError
from lifeline.api.filters import AlertFilter
from lifeline.api.guard import bearer_token
from lifeline.api.hub import Subscriber, events_frame
from lifeline.models import datetime_to_ms

__all__ = ["BEARER_PROTOCOL_PREFIX", "SUBPROTOCOL", "offered_credentials", "router"]

SUBPROTOCOL = "lifeline"
BEARER_PROTOCOL_PREFIX = "bearer."

router = APIRouter()
_CLOSE_CODES = {400: 4400, 401: 4401, 403: 4403}


def parse_since(params: QueryParams) -> tuple[int | None, int | None]:
    """``(last_event_id, since_ms)`` from the query; :class:`UserInputError` when malformed."""
    since_id: int | None = None
    since_ms: int | None = None
    raw_id = params.get("last_event_id")
    if raw_id:
        if not raw_id.isdigit():
            raise UserInputError("last_event_id must be a non-negative integer (an envelope's id)")
        since_id = int(raw_id)
    raw = params.get("since")
    if raw:
        if raw.isdigit():
            since_ms = int(raw)
        else:
            try:
                since_ms = datetime_to_ms(datetime.fromisoformat(raw))
            except ValueError as exc:
                raise UserInputError(f"since: {exc}; give epoch ms or ISO 8601 with a zone") from None
    return since_id, since_ms


def offered_credentials(websocket: WebSocket) -> tuple[str | None, str | None]:
    """``(token, subprotocol to answer)`` from the handshake: the ``Authorization`` header, else a
    ``bearer.<token>`` subprotocol; the answered subprotocol is ``lifeline`` when offered, never the token."""
    protocols: list[str] = list(websocket.scope.get("subprotocols") or [])
    answer = SUBPROTOCOL if SUBPROTOCOL in protocols else None
    offered = (p.removeprefix(BEARER_PROTOCOL_PREFIX) for p in protocols if p.startswith(BEARER_PROTOCOL_PREFIX))
    return bearer_token(websocket.scope["headers"]) or next(offered, None), answer


def _filter(values: dict[str, object], principal: Principal) -> AlertFilter:
    filt = AlertFilter.from_mapping(values)
    return filt.with_owners(principal.scope_owners(sorted(filt.owners) if filt.owners else None))


async def _send_error(websocket: WebSocket, exc: ApiError) -> None:
    frame = {"type": "error", "status": exc.status, "error": exc.code, "message": exc.message}
    with contextlib.suppress(Exception):
        await websocket.send_text(orjson.dumps(frame).decode())
        await websocket.close(code=_CLOSE_CODES.get(exc.status, 1011), reason=exc.message[:120])


async def _auth_message(websocket: WebSocket, timeout_s: float) -> str | None:
    try:
        async with asyncio.timeout(timeout_s):
            text = await websocket.receive_text()
    except TimeoutError:
        return None
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    token = message.get("token") if isinstance(message, dict) and message.get("type") == "auth" else None
    return token if isinstance(token, str) else None


@router.websocket("/ws/alerts")
async def ws_alerts(websocket: WebSocket) -> None:
    """Live alert feed (see the module documentation for the protocol)."""
    ctx: ApiContext = websocket.app.state.ctx
    offered, subprotocol = offered_credentials(websocket)
    await websocket.accept(subprotocol=subprotocol)
    params = websocket.query_params
    try:
        token = offered or params.get("token") or await _auth_message(websocket, ctx.api.ws_auth_timeout_s)
        principal = ctx.auth.authenticate(token)
        principal.require(Permission.LIVE)
        values = {k: params.getlist(k) for k in ("lifeline", "kind", "district", "owner", "status") if k in params}
        filt = _filter({**values, **({"max_tier": params["max_tier"]} if "max_tier" in params else {})}, principal)
        since_id, since_ms = parse_since(params)
    except ApiError as exc:
        ctx.metrics.ws_auth_failures.inc()
        await _send_error(websocket, exc)
        return
    try:
        async with asyncio.timeout(ctx.api.ready_timeout_s):
            await ctx.hub.ready.wait()
    except TimeoutError:
        with contextlib.suppress(Exception):
            await websocket.close(code=1013, reason="alert hub is still loading; retry")
        return
    sub, first = ctx.hub.subscribe(principal, filt, ctx.api.ws_queue_size, since_id=since_id, since_ms=since_ms)
    tasks: list[asyncio.Task[None]] = []
    try:
        await websocket.send_text(first)
        sub.go_live(websocket.send)
        sub.task = asyncio.create_task(_pump(ctx, websocket, sub))
        tasks = [sub.task, asyncio.create_task(_read(ctx, websocket, sub))]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if sub.too_slow:
            await _close_slow(ctx, websocket, sub.too_slow)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        if sub.inflight is not None:
            tasks.append(sub.inflight)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        ctx.hub.unsubscribe(sub)


async def _close_slow(ctx: ApiContext, websocket: WebSocket, why: str) -> None:
    ctx.metrics.ws_slow_disconnects.inc()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(2.0):
            await websocket.close(code=4008, reason=f"slow consumer: {why}; reconnect with last_event_id")


async def _pump(ctx: ApiContext, websocket: WebSocket, sub: Subscriber) -> None:
    """The slow path: send control frames, then queued events in batches; enforce the drop limit.

    Live events normally bypass this task: the hub's ticker hands idle clients a frame shared by their
    filter group. Events reach the queue only while a send is in flight or a backlog exists, and wake
    this task; so do heartbeats and control frames. The send-timeout watchdog is in the ticker too, so
    an idle client costs no timers.
    """
    api = ctx.api
    frames = ctx.metrics.ws_frames
    loop = asyncio.get_running_loop()
    sub.last_sent = loop.time()
    while True:
        await sub.wake.wait()
        sub.wake.clear()
        while sub.inflight is None and (sub.control or sub.queue):  # a shared send in flight wakes us when done
            if sub.dropped_total > api.ws_max_dropped:
                sub.too_slow = f"{sub.dropped_total} events dropped"
                return
            if sub.control:
                text = sub.control.popleft()
            else:
                items, dropped = sub.take(api.ws_batch_max)
                text = events_frame(items, dropped)
            sub.sending_since = loop.time()
            await websocket.send_text(text)
            sub.sending_since = None
            sub.last_sent = loop.time()
            frames.inc()


async def _read(ctx: ApiContext, websocket: WebSocket, sub: Subscriber) -> None:
    """Handle client messages: ping, subscribe (filter change). Returns when the client goes away."""
    while True:
        try:
            text = await websocket.receive_text()
        except (WebSocketDisconnect, RuntimeError):
            return
        try:
            message = orjson.loads(text)
            if not isinstance(message, dict):
                raise UserInputError("a message must be a JSON object with a type")
            kind = message.get("type")
            if kind == "ping":
                sub.say('{"type":"pong"}')
            elif kind == "subscribe":
                raw = message.get("filter") or {}
                if not isinstance(raw, dict):
                    raise UserInputError("subscribe: filter must be an object")
                sub.say(ctx.hub.resubscribe(sub, _filter(raw, sub.principal)))
            elif kind != "auth":
                raise UserInputError(f"unknown message type {kind!r}; use ping or subscribe")
        except orjson.JSONDecodeError:
            sub.say('{"type":"error","status":400,"error":"bad_request","message":"not JSON"}')
        except ApiError as exc:
            frame = {"type": "error", "status": exc.status, "error": exc.code, "message": exc.message}
            sub.say(orjson.dumps(frame).decode())
