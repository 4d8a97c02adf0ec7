"""REST: active alerts, history, one alert with its timeline, acknowledge / resolve, export."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated

import msgspec
from fastapi import APIRouter, Depends, Query, Response

from lifeline.api.auth import Permission, Principal
from lifeline.api.context import ApiContext, Ctx, need
from lifeline.api.exceptions import ConflictError, NotFoundError
from lifeline.api.export import CsvOpts, ExportFormat, export_response
from lifeline.api.params import AlertQuery, Paging, time_range
from lifeline.api.state import ACTIVE, AlertStatus, next_status
from lifeline.api.views import AlertDetail, AlertEventOut, AlertOut, ErrorOut, LifecycleRequest, Page
from lifeline.codec import encode
from lifeline.models import AlertEvent, AlertEventType

__all__ = ["router"]

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "missing or invalid token"},
    403: {"model": ErrorOut, "description": "role or owner scope does not allow this"},
}
router = APIRouter(tags=["alerts"], responses=_ERRORS)
Reader = Annotated[Principal, need(Permission.READ_ALERTS)]
Writer = Annotated[Principal, need(Permission.WRITE_ALERTS)]
Query_ = Annotated[AlertQuery, Depends()]
Paging_ = Annotated[Paging, Depends()]
Start = Annotated[datetime | None, Query(description="events at or after this time (ISO 8601 with zone)")]
End = Annotated[datetime | None, Query(description="events before this time (ISO 8601 with zone)")]


@router.get("/alerts/active", response_model=Page[AlertOut], summary="Active alerts (open or acknowledged)")
def active_alerts(ctx: Ctx, principal: Reader, query: Query_, paging: Paging_) -> Page[AlertOut]:
    """Active alerts from the live hub, most severe first, then newest first."""
    states = ctx.hub.active(query.filter_for(principal))
    chunk = states[paging.offset : paging.offset + paging.limit]
    return Page[AlertOut](items=[AlertOut.of_state(s) for s in chunk], limit=paging.limit, offset=paging.offset,
                          has_more=len(states) > paging.offset + paging.limit)  # fmt: skip


@router.get("/alerts", response_model=Page[AlertOut], summary="Alert history (QuestDB)")
def alert_history(
    ctx: Ctx, principal: Reader, query: Query_, paging: Paging_, start: Start = None, end: End = None
) -> Page[AlertOut]:
    """Each alert with events in ``[start, end)``, as of its latest event, newest first."""
    start, end = time_range(start, end)
    events, more = ctx.alerts.history(query.filter_for(principal), start=start, end=end, limit=paging.limit,
                                      offset=paging.offset)  # fmt: skip
    items = [_latest_view(ctx, e) for e in events]
    return Page[AlertOut](items=items, limit=paging.limit, offset=paging.offset, has_more=more)


def _latest_view(ctx: ApiContext, event: AlertEvent) -> AlertOut:
    live = ctx.hub.alerts.get(event.alert_id)
    if live is not None and live.event.ts >= event.ts:
        return AlertOut.of_state(live)
    return AlertOut.of_latest(event, next_status(None, event.event))


def _timeline(ctx: ApiContext, alert_id: str) -> list[AlertEvent]:
    """Stored events merged with events the hub has seen but QuestDB may not show yet."""
    merged = {e.dedup_key: e for e in ctx.alerts.timeline(alert_id)}
    for entry in ctx.hub.events_of(alert_id):
        event = entry.after.event
        merged.setdefault(event.dedup_key, event)
    return sorted(merged.values(), key=lambda e: (e.ts, e.event.value))


@router.get(
    "/alerts/{alert_id}", response_model=AlertDetail, summary="One alert with its timeline",
    responses={404: {"model": ErrorOut, "description": "no such alert"}},
)  # fmt: skip
def alert_detail(ctx: Ctx, principal: Reader, alert_id: str) -> AlertDetail:
    """The alert's current state and every lifecycle event, oldest first."""
    timeline = _timeline(ctx, alert_id)
    if not timeline:
        raise NotFoundError(f"no alert {alert_id!r}")
    principal.check_owner(timeline[-1].owner, f"alert {alert_id!r}")
    live = ctx.hub.alerts.get(alert_id)
    alert = AlertOut.of_state(live) if live is not None and live.event.ts >= timeline[-1].ts else None
    return AlertDetail(alert=alert or AlertOut.of_events(timeline), timeline=[AlertEventOut.of(e) for e in timeline])


def _current(ctx: ApiContext, alert_id: str) -> tuple[AlertEvent, AlertStatus]:
    live = ctx.hub.alerts.get(alert_id)
    if live is not None:
        return live.event, live.status
    timeline = ctx.alerts.timeline(alert_id)
    if not timeline:
        raise NotFoundError(f"no alert {alert_id!r}")
    view = AlertOut.of_events(timeline)
    return timeline[-1], view.status


def _lifecycle(ctx: ApiContext, principal: Principal, alert_id: str, kind: AlertEventType, comment: str) -> AlertEvent:
    latest, status = _current(ctx, alert_id)
    principal.check_owner(latest.owner, f"alert {alert_id!r}")
    if status is AlertStatus.RESOLVED:
        raise ConflictError(f"alert {alert_id!r} is already resolved")
    if kind is AlertEventType.ACKNOWLEDGED:
        if status is AlertStatus.ACKNOWLEDGED:
            raise ConflictError(f"alert {alert_id!r} is already acknowledged")
        if status not in ACTIVE:
            raise ConflictError(f"alert {alert_id!r} is {status.value}; only open alerts can be acknowledged")
    now = max(time.time_ns() // 1_000_000, latest.ts + 1)
    event = msgspec.structs.replace(latest, event=kind, ts=now, actor=principal.name, comment=comment)
    ctx.producer.produce(ctx.topic, key=alert_id.encode(), value=encode(event))
    if ctx.producer.flush(15) > 0:
        raise ConflictError("could not write the event to Kafka in time; retry")  # pragma: no cover
    ctx.alerts.write(event)
    ctx.metrics.lifecycle_writes.labels(kind.value).inc()
    return event


@router.post(
    "/alerts/{alert_id}/acknowledge", response_model=AlertEventOut, summary="Acknowledge an alert",
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut, "description": "not open"}},
)  # fmt: skip
def acknowledge(ctx: Ctx, principal: Writer, alert_id: str, body: LifecycleRequest | None = None) -> AlertEventOut:
    """Write an ``acknowledged`` event to the alerts topic and QuestDB; the hub then broadcasts it."""
    event = _lifecycle(ctx, principal, alert_id, AlertEventType.ACKNOWLEDGED, body.comment if body else "")
    return AlertEventOut.of(event)


@router.post(
    "/alerts/{alert_id}/resolve", response_model=AlertEventOut, summary="Resolve (close) an alert",
    responses={404: {"model": ErrorOut},
               409: {"model": ErrorOut, "description": "already resolved, or a work order is open"}},
)  # fmt: skip
def resolve(
    ctx: Ctx, principal: Writer, alert_id: str, body: LifecycleRequest | None = None,
    override: Annotated[bool, Query(description="admin only: resolve although a work order is open")] = False,
) -> AlertEventOut:  # fmt: skip
    """Write a ``resolved`` event (with the comment, e.g. the cause or a false-alarm reason).

    409 while the alert has a work order that is not verified, unless an admin passes ``override=true``.
    """
    if ctx.work_orders is not None:
        ctx.work_orders.book.check_resolvable(alert_id, principal, override)
    event = _lifecycle(ctx, principal, alert_id, AlertEventType.RESOLVED, body.comment if body else "")
    return AlertEventOut.of(event)


_EXPORT_COLUMNS = tuple(AlertOut.model_fields)


@router.get(
    "/export/alerts", summary="Export alert history as CSV or Parquet", response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}},
)  # fmt: skip
def export_alerts(
    ctx: Ctx, principal: Annotated[Principal, need(Permission.READ_DATA)], query: Query_, csv_options: CsvOpts,
    format: ExportFormat = ExportFormat.CSV, start: Start = None, end: End = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> Response:  # fmt: skip
    """The same rows as ``GET /alerts`` (one per alert, latest state), as a file."""
    start, end = time_range(start, end)
    events, _ = ctx.alerts.history(query.filter_for(principal), start=start, end=end, limit=limit, offset=0)
    rows = [_latest_view(ctx, e).model_dump() for e in events]
    return export_response(rows, _EXPORT_COLUMNS, format, "alerts", csv_options)
