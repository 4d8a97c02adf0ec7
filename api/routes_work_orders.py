"""REST and websocket for work orders (see :mod:`lifeline.api.work_orders` for the life of an order).

* ``POST /alerts/{alert_id}/work-orders`` ``{"team", "deadline_minutes", "comment"}`` — dispatch;
* ``POST /work-orders/{order_id}/advance`` ``{"state", "comment"}`` — the next step;
* ``GET /work-orders`` (``alert_id``, ``open_only``), ``GET /work-orders/{order_id}``;
* ``WS /ws/work-orders`` — ``{"type": "snapshot", "orders": [...]}`` then ``{"type": "order", "order": ...}``
  at each step; the token as for ``/ws/alerts`` (header or subprotocols ``["lifeline", "bearer.<token>"]``).

Owner tokens see and move only their own orders.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field

from lifeline.api.auth import Permission, Principal
from lifeline.api.context import ApiContext, Ctx, need
from lifeline.api.exceptions import ApiError, ConflictError, NotFoundError
from lifeline.api.routes_ws import offered_credentials
from lifeline.api.state import AlertStatus
from lifeline.api.views import AlertOut, ErrorOut
from lifeline.api.work_orders import (
    NEXT_STATE,
    OrderEventType,
    OrderState,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderService,
    new_order,
)
from lifeline.models import AlertEvent, ms_to_datetime

__all__ = ["AdvanceRequest", "DispatchRequest", "WorkOrderEventOut", "WorkOrderOut", "router"]

router = APIRouter(tags=["work orders"], responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}})
Reader = Annotated[Principal, need(Permission.READ_ALERTS)]
Writer = Annotated[Principal, need(Permission.WRITE_ALERTS)]


class DispatchRequest(BaseModel):
    """A new work order for an alert."""

    team: str = Field(min_length=1, max_length=100, examples=["燃气抢修一班"])
    deadline_minutes: float = Field(gt=0, le=7 * 24 * 60, description="minutes from now until it must be handled")
    comment: str = Field(default="", max_length=2000)


class AdvanceRequest(BaseModel):
    """Move an order to its next state."""

    state: OrderState
    comment: str = Field(default="", max_length=2000)


class WorkOrderEventOut(BaseModel):
    """One step of a work order."""

    event: OrderEventType
    state: OrderState
    actor: str
    comment: str
    ts: datetime

    @classmethod
    def of(cls, e: WorkOrderEvent) -> WorkOrderEventOut:
        """From the wire struct."""
        return cls(event=e.event, state=e.state, actor=e.actor, comment=e.comment, ts=ms_to_datetime(e.ts))


class WorkOrderOut(BaseModel):
    """A work order as it stands, with its steps (oldest first)."""

    order_id: str
    alert_id: str
    team: str
    owner: str
    state: OrderState
    open: bool
    overdue: bool
    deadline: datetime
    next_state: OrderState | None
    history: list[WorkOrderEventOut]

    @classmethod
    def of(cls, o: WorkOrder) -> WorkOrderOut:
        """From the book's order."""
        return cls(order_id=o.order_id, alert_id=o.alert_id, team=o.team, owner=o.owner, state=o.state, open=o.open,
                   overdue=o.overdue, deadline=ms_to_datetime(o.deadline), next_state=NEXT_STATE.get(o.state),
                   history=[WorkOrderEventOut.of(e) for e in o.history])  # fmt: skip


def _service(ctx: ApiContext) -> WorkOrderService:
    service = ctx.work_orders
    if service is None:  # pragma: no cover - set by the app's lifespan
        raise ConflictError("work orders are not available in this API")
    return service


def _alert_now(ctx: ApiContext, alert_id: str) -> tuple[AlertEvent, AlertStatus]:
    live = ctx.hub.alerts.get(alert_id)
    if live is not None:
        return live.event, live.status
    timeline = ctx.alerts.timeline(alert_id)
    if not timeline:
        raise NotFoundError(f"no alert {alert_id!r}")
    return timeline[-1], AlertOut.of_events(timeline).status


def _order(ctx: ApiContext, principal: Principal, order_id: str) -> WorkOrder:
    order = _service(ctx).book.orders.get(order_id)
    if order is None:
        raise NotFoundError(f"no work order {order_id!r}")
    principal.check_owner(order.owner, f"work order {order_id!r}")
    return order


_RESOLVED = {404: {"model": ErrorOut}, 409: {"model": ErrorOut, "description": "alert resolved"}}
_NOT_NEXT = {404: {"model": ErrorOut}, 409: {"model": ErrorOut, "description": "not the next state"}}


@router.post("/alerts/{alert_id}/work-orders", response_model=WorkOrderOut, status_code=201,
             summary="Dispatch a work order for an alert", responses=_RESOLVED)  # type: ignore[arg-type]  # fmt: skip
async def dispatch(ctx: Ctx, principal: Writer, alert_id: str, body: DispatchRequest) -> WorkOrderOut:
    """Send a team to the alert's asset with a deadline; writes a ``dispatched`` event."""
    latest, status = await asyncio.to_thread(_alert_now, ctx, alert_id)
    principal.check_owner(latest.owner, f"alert {alert_id!r}")
    if status is AlertStatus.RESOLVED:
        raise ConflictError(f"alert {alert_id!r} is already resolved")
    now = time.time_ns() // 1_000_000
    event = new_order(alert_id, latest.owner, body.team, now + round(body.deadline_minutes * 60_000), principal.name,
                      body.comment, now)  # fmt: skip
    return WorkOrderOut.of(await _service(ctx).record(event))


@router.post("/work-orders/{order_id}/advance", response_model=WorkOrderOut, summary="Move an order one step on",
             responses=_NOT_NEXT)  # type: ignore[arg-type]  # fmt: skip
async def advance(ctx: Ctx, principal: Writer, order_id: str, body: AdvanceRequest) -> WorkOrderOut:
    """``accepted`` → ``on_site`` → ``handled`` → ``verified``, one at a time, with actor and comment."""
    order = _order(ctx, principal, order_id)
    event = order.step(body.state, principal.name, body.comment, time.time_ns() // 1_000_000)
    return WorkOrderOut.of(await _service(ctx).record(event))


@router.get("/work-orders", response_model=list[WorkOrderOut], summary="Work orders")
def work_orders(
    ctx: Ctx, principal: Reader, alert_id: Annotated[str | None, Query(max_length=200)] = None,
    open_only: bool = False,
) -> list[WorkOrderOut]:  # fmt: skip
    """Orders visible to the caller, newest dispatch first (``open_only``: not verified yet)."""
    orders = _service(ctx).book.visible(principal, alert_id)
    return [WorkOrderOut.of(o) for o in orders if o.open or not open_only]


@router.get("/work-orders/{order_id}", response_model=WorkOrderOut, responses={404: {"model": ErrorOut}})
def work_order(ctx: Ctx, principal: Reader, order_id: str) -> WorkOrderOut:
    """One order with its steps."""
    return WorkOrderOut.of(_order(ctx, principal, order_id))


def _frame(kind: str, **payload: object) -> str:
    return orjson.dumps({"type": kind, **payload}).decode()


@router.websocket("/ws/work-orders")
async def ws_work_orders(websocket: WebSocket) -> None:
    """Live work orders: a snapshot of the visible ones, then every step (see the module doc)."""
    ctx: ApiContext = websocket.app.state.ctx
    token, subprotocol = offered_credentials(websocket)
    await websocket.accept(subprotocol=subprotocol)
    try:
        principal = ctx.auth.authenticate(token or websocket.query_params.get("token"))
        principal.require(Permission.LIVE)
    except ApiError as exc:
        with contextlib.suppress(Exception):
            await websocket.send_text(_frame("error", status=exc.status, error=exc.code, message=exc.message))
            await websocket.close(code=4401 if exc.status == 401 else 4403)
        return
    service = _service(ctx)
    await service.book.ready.wait()
    queue: asyncio.Queue[str] = asyncio.Queue(maxsize=10_000)

    def listener(order: WorkOrder, _event: WorkOrderEvent) -> None:
        if principal.can_see_owner(order.owner) and not queue.full():
            queue.put_nowait(_frame("order", order=WorkOrderOut.of(order).model_dump(mode="json")))

    service.book.listeners.add(listener)
    try:
        orders = [WorkOrderOut.of(o).model_dump(mode="json") for o in service.book.visible(principal)]
        await websocket.send_text(_frame("snapshot", orders=orders))
        receiver = asyncio.create_task(_drain(websocket))
        while not receiver.done():
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                await websocket.send_text(getter.result())
            else:
                getter.cancel()
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        service.book.listeners.discard(listener)


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) client messages until the client goes away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await websocket.receive_text()
