"""REST: audits of the notifier — time from alert to first notice per tier, and missed acknowledgements.

An owner token sees its own alerts only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from lifeline.api.auth import Permission, Principal
from lifeline.api.context import Ctx, need
from lifeline.api.notifications_store import (
    NotificationStore,
    first_notice_latencies,
    latency_summary,
    missed_acks,
)
from lifeline.api.params import time_range
from lifeline.api.views import ErrorOut
from lifeline.models import ms_to_datetime

__all__ = ["router"]

router = APIRouter(
    tags=["notifications"],
    responses={401: {"model": ErrorOut, "description": "missing or invalid token"},
               403: {"model": ErrorOut, "description": "role does not allow this"}},
)  # fmt: skip
Reader = Annotated[Principal, need(Permission.READ_ALERTS)]
Start = Annotated[datetime | None, Query(description="alert events at or after this time (ISO 8601 with zone)")]
End = Annotated[datetime | None, Query(description="alert events before this time (ISO 8601 with zone)")]


class TierLatencyOut(BaseModel):
    """First-notice latency of one tier: seconds from the alert event to the first notice sent about it."""

    tier: int = Field(ge=1, le=3)
    alerts: int
    p50_s: float
    p90_s: float
    max_s: float
    mean_s: float


class LatencyOut(BaseModel):
    """``time from alert to first notice`` per tier."""

    tiers: list[TierLatencyOut]


class MissedAckOut(BaseModel):
    """A tier-1/2 alert not acknowledged within the target."""

    alert_id: str
    tier: int
    owner: str
    asset_id: str
    kind: str
    opened_at: datetime
    acknowledged_at: datetime | None
    status: str = Field(description="late (acknowledged after the target) or missing (never)")
    notified: bool = Field(description="whether any notice about the alert was sent")


class MissedAcksOut(BaseModel):
    """Missed acknowledgements in the period."""

    within_s: float
    items: list[MissedAckOut]


def _scope(ctx: Ctx, principal: Principal, start: datetime | None, end: datetime | None) -> set[str] | None:
    if principal.owner is None:
        return None
    return NotificationStore(ctx.db).owned_alerts(principal.owner, start, end)


@router.get("/notifications/latency", response_model=LatencyOut, summary="Time from alert to first notice, per tier")
def notification_latency(ctx: Ctx, principal: Reader, start: Start = None, end: End = None) -> LatencyOut:
    """For alert events in ``[start, end)``: p50 / p90 / max / mean seconds to the first notice sent."""
    start, end = time_range(start, end)
    store = NotificationStore(ctx.db)
    scope = _scope(ctx, principal, start, end)
    rows = [r for r in store.sent_rows(start, end) if scope is None or str(r["alert_id"]) in scope]
    summary = latency_summary(first_notice_latencies(rows))
    return LatencyOut(tiers=[TierLatencyOut(tier=t.tier, alerts=t.alerts, p50_s=t.p50_s, p90_s=t.p90_s,
                                            max_s=t.max_s, mean_s=t.mean_s) for t in summary])  # fmt: skip


@router.get("/notifications/missed-acks", response_model=MissedAcksOut, summary="Alerts not acknowledged in time")
def notification_missed_acks(
    ctx: Ctx, principal: Reader, start: Start = None, end: End = None,
    within_s: Annotated[float, Query(gt=0, le=86400, description="acknowledge target, seconds")] = 300.0,
) -> MissedAcksOut:  # fmt: skip
    """Tier-1/2 alerts opened in ``[start, end)`` without an acknowledgement within ``within_s``."""
    start, end = time_range(start, end)
    store = NotificationStore(ctx.db)
    scope = _scope(ctx, principal, start, end)
    notified = {str(r["alert_id"]) for r in store.sent_rows(start, None)}
    items = [
        MissedAckOut(alert_id=m.alert_id, tier=m.tier, owner=m.owner, asset_id=m.asset_id, kind=m.kind,
                     opened_at=ms_to_datetime(m.opened_ms), status=m.status, notified=m.notified,
                     acknowledged_at=None if m.acknowledged_ms is None else ms_to_datetime(m.acknowledged_ms))
        for m in missed_acks(store.event_rows(start, None), notified, within_s=within_s)
        if (scope is None or m.alert_id in scope) and (end is None or ms_to_datetime(m.opened_ms) < end)
    ]  # fmt: skip
    return MissedAcksOut(within_s=within_s, items=items)
