"""Response and request models of the REST API (they make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from lifeline.api.state import AlertState, AlertStatus, next_status
from lifeline.models import AlertEvent, AlertEventType, AlertKind, Lifeline, SensorKind, SensorSpec, ms_to_datetime

__all__ = [
    "AlertDetail",
    "AlertEventOut",
    "AlertOut",
    "AssetOut",
    "ErrorOut",
    "Health",
    "LifecycleRequest",
    "Page",
    "SensorOut",
    "SeriesOut",
    "SeriesPoint",
]

T = TypeVar("T")


class ErrorOut(BaseModel):
    """Every error answer: a short code and a message that says what to do."""

    error: str = Field(examples=["unauthorized"])
    message: str = Field(examples=["missing bearer token: send 'Authorization: Bearer <token>'"])


class AlertEventOut(BaseModel):
    """One lifecycle event of an alert."""

    alert_id: str
    event: AlertEventType
    tier: int = Field(ge=1, le=3, description="1 = most severe (一级)")
    lifeline: Lifeline
    kind: AlertKind
    asset_id: str
    owner: str
    district: str
    sensor_ids: list[str]
    started_at: datetime
    ts: datetime
    value: float
    score: float
    evidence: str
    actor: str = ""
    comment: str = ""
    location: str = Field(default="", description="where the leak most likely is (water incidents of a DMA)")

    @classmethod
    def of(cls, e: AlertEvent) -> AlertEventOut:
        """From the wire struct."""
        return cls(
            alert_id=e.alert_id, event=e.event, tier=int(e.tier), lifeline=e.lifeline, kind=e.kind,
            asset_id=e.asset_id, owner=e.owner, district=e.district, sensor_ids=list(e.sensor_ids),
            started_at=ms_to_datetime(e.started_at), ts=ms_to_datetime(e.ts), value=e.value, score=e.score,
            evidence=e.evidence, actor=e.actor, comment=e.comment, location=e.location,
        )  # fmt: skip


class AlertOut(BaseModel):
    """An alert as it stands: its latest event and status."""

    alert_id: str
    status: AlertStatus
    tier: int = Field(ge=1, le=3, description="1 = most severe (一级)")
    lifeline: Lifeline
    kind: AlertKind
    asset_id: str
    owner: str
    district: str
    sensor_ids: list[str]
    started_at: datetime
    last_event: AlertEventType
    last_event_at: datetime
    value: float
    score: float
    evidence: str
    location: str = Field(default="", description="where the leak most likely is (water incidents of a DMA)")
    acknowledged_by: str = ""
    acknowledged_at: datetime | None = None

    @classmethod
    def of_state(cls, s: AlertState) -> AlertOut:
        """From the hub's live state."""
        e = s.event
        return cls(
            alert_id=e.alert_id, status=s.status, tier=int(e.tier), lifeline=e.lifeline, kind=e.kind,
            asset_id=e.asset_id, owner=e.owner, district=e.district, sensor_ids=list(e.sensor_ids),
            started_at=ms_to_datetime(e.started_at), last_event=e.event, last_event_at=ms_to_datetime(e.ts),
            value=e.value, score=e.score, evidence=e.evidence, location=e.location, acknowledged_by=s.acknowledged_by,
            acknowledged_at=None if s.acknowledged_at is None else ms_to_datetime(s.acknowledged_at),
        )  # fmt: skip

    @classmethod
    def of_events(cls, events: list[AlertEvent]) -> AlertOut:
        """From an alert's full timeline (oldest first)."""
        status: AlertStatus | None = None
        acked_by, acked_at = "", None
        for e in events:
            status = next_status(status, e.event)
            if e.event is AlertEventType.ACKNOWLEDGED and status is AlertStatus.ACKNOWLEDGED:
                acked_by, acked_at = e.actor, e.ts
            elif e.event in (AlertEventType.OPENED, AlertEventType.ESCALATED):
                acked_by, acked_at = "", None
        assert status is not None
        last = events[-1]
        out = cls.of_latest(last, status)
        out.acknowledged_by = acked_by
        out.acknowledged_at = None if acked_at is None else ms_to_datetime(acked_at)
        return out

    @classmethod
    def of_latest(cls, e: AlertEvent, status: AlertStatus) -> AlertOut:
        """From an alert's latest event only (history listings)."""
        return cls(
            alert_id=e.alert_id, status=status, tier=int(e.tier), lifeline=e.lifeline, kind=e.kind,
            asset_id=e.asset_id, owner=e.owner, district=e.district, sensor_ids=list(e.sensor_ids),
            started_at=ms_to_datetime(e.started_at), last_event=e.event, last_event_at=ms_to_datetime(e.ts),
            value=e.value, score=e.score, evidence=e.evidence, location=e.location,
            acknowledged_by=e.actor if e.event is AlertEventType.ACKNOWLEDGED else "",
            acknowledged_at=ms_to_datetime(e.ts) if e.event is AlertEventType.ACKNOWLEDGED else None,
        )  # fmt: skip


class AlertDetail(BaseModel):
    """One alert with its timeline (every lifecycle event, oldest first)."""

    alert: AlertOut
    timeline: list[AlertEventOut]


class Page(BaseModel, Generic[T]):
    """A page of results. Ask for the next one with ``offset = offset + limit`` while ``has_more``."""

    items: list[T]
    limit: int
    offset: int
    has_more: bool


class LifecycleRequest(BaseModel):
    """Body of ``acknowledge`` and ``resolve``."""

    comment: str = Field(default="", max_length=2000, description="what was done or decided (stored with the event)")


class SensorOut(BaseModel):
    """A sensor from the registry, with its latest reading from QuestDB if any."""

    sensor_id: str
    kind: SensorKind
    unit: str
    lifeline: Lifeline
    asset_id: str
    asset_kind: str
    owner: str
    maintainer: str
    district: str
    lat: float
    lon: float
    group_id: str
    thresholds: dict[str, float]
    latest_value: float | None = None
    latest_ts: datetime | None = None

    @classmethod
    def of(cls, s: SensorSpec, latest: tuple[float, datetime] | None = None) -> SensorOut:
        """From a registry entry and an optional latest ``(value, ts)``."""
        return cls(
            sensor_id=s.sensor_id, kind=s.kind, unit=s.unit, lifeline=s.lifeline, asset_id=s.asset_id,
            asset_kind=s.asset_kind, owner=s.owner, maintainer=s.maintainer, district=s.district, lat=s.lat,
            lon=s.lon, group_id=s.group_id, thresholds=dict(s.thresholds),
            latest_value=None if latest is None else latest[0], latest_ts=None if latest is None else latest[1],
        )  # fmt: skip


class AssetOut(BaseModel):
    """An asset (well, logger point, gauge, bridge span) and its sensors, or a group of linked assets."""

    asset_id: str
    asset_kind: str
    owner: str
    district: str
    lifelines: list[Lifeline]
    sensors: list[SensorOut]
    is_group: bool = Field(
        default=False, description="the id names a group of linked assets (DMA, gas main, catchment, bridge)"
    )


class SeriesPoint(BaseModel):
    """One down-sampled bucket of a sensor's readings (bucket start time)."""

    ts: datetime
    mean: float | None
    min: float | None
    max: float | None
    count: int


class SeriesOut(BaseModel):
    """A sensor's readings over a time range, down-sampled by QuestDB ``SAMPLE BY``."""

    sensor_id: str
    unit: str
    start: datetime
    end: datetime
    interval: str = Field(description="bucket width, e.g. 30s, 5m, 1h")
    points: list[SeriesPoint]


class Health(BaseModel):
    """Liveness and readiness."""

    status: str = Field(examples=["ok", "starting", "degraded"])
    hub_ready: bool
    feed_error: str | None = None
    active_alerts: int
    ws_clients: int
    last_event_id: int
