"""REST: sensors and assets from the registry (with latest values), series, and series export."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from lifeline.api.auth import Permission, Principal
from lifeline.api.context import ApiContext, Ctx, need
from lifeline.api.exceptions import NotFoundError, UserInputError
from lifeline.api.export import CsvOpts, ExportFormat, export_response
from lifeline.api.params import Paging, time_range
from lifeline.api.readings_store import choose_interval, parse_interval
from lifeline.api.views import AssetOut, ErrorOut, Page, SensorOut, SeriesOut, SeriesPoint
from lifeline.models import Lifeline, SensorKind, SensorSpec

__all__ = ["GROUP_KIND", "router"]

GROUP_KIND = "group"

router = APIRouter(
    tags=["sensors"],
    responses={401: {"model": ErrorOut, "description": "missing or invalid token"},
               403: {"model": ErrorOut, "description": "role or owner scope does not allow this"}},
)  # fmt: skip
Reader = Annotated[Principal, need(Permission.READ_DATA)]
Paging_ = Annotated[Paging, Depends()]
Multi = Annotated[list[str] | None, Query(max_length=200)]


def _visible(
    ctx: ApiContext, principal: Principal, *, lifeline: list[Lifeline] | None = None,
    kind: list[SensorKind] | None = None, owner: list[str] | None = None, district: list[str] | None = None,
    asset_id: list[str] | None = None,
) -> list[SensorSpec]:  # fmt: skip
    owners = principal.scope_owners(owner)
    return [
        s for s in ctx.registry.values()
        if (not lifeline or s.lifeline in lifeline) and (not kind or s.kind in kind)
        and (not owners or s.owner in owners) and (not district or s.district in district)
        and (not asset_id or s.asset_id in asset_id)
    ]  # fmt: skip


def _sensor(ctx: ApiContext, principal: Principal, sensor_id: str) -> SensorSpec:
    spec = ctx.registry.get(sensor_id)
    if spec is None:
        raise NotFoundError(f"no sensor {sensor_id!r} in the registry")
    principal.check_owner(spec.owner, f"sensor {sensor_id!r}")
    return spec


def _with_latest(ctx: ApiContext, specs: list[SensorSpec]) -> list[SensorOut]:
    latest = ctx.readings.latest([s.sensor_id for s in specs]) if specs else {}
    return [SensorOut.of(s, latest.get(s.sensor_id)) for s in specs]


@router.get("/sensors", response_model=Page[SensorOut], summary="Sensors, with their latest reading")
def sensors(
    ctx: Ctx, principal: Reader, paging: Paging_, lifeline: Annotated[list[Lifeline] | None, Query()] = None,
    kind: Annotated[list[SensorKind] | None, Query()] = None, owner: Multi = None, district: Multi = None,
    asset_id: Multi = None,
) -> Page[SensorOut]:  # fmt: skip
    """Registry sensors matching the filters (owner tokens see only their own)."""
    specs = _visible(ctx, principal, lifeline=lifeline, kind=kind, owner=owner, district=district, asset_id=asset_id)
    chunk = specs[paging.offset : paging.offset + paging.limit]
    return Page[SensorOut](items=_with_latest(ctx, chunk), limit=paging.limit, offset=paging.offset,
                           has_more=len(specs) > paging.offset + paging.limit)  # fmt: skip


@router.get("/sensors/{sensor_id}", response_model=SensorOut, responses={404: {"model": ErrorOut}})
def sensor(ctx: Ctx, principal: Reader, sensor_id: str) -> SensorOut:
    """One sensor with its latest reading."""
    return _with_latest(ctx, [_sensor(ctx, principal, sensor_id)])[0]


def _assets(specs: list[SensorSpec], outs: dict[str, SensorOut]) -> list[AssetOut]:
    grouped: dict[str, list[SensorSpec]] = {}
    for s in specs:
        grouped.setdefault(s.asset_id, []).append(s)
    return [
        AssetOut(asset_id=aid, asset_kind=group[0].asset_kind, owner=group[0].owner, district=group[0].district,
                 lifelines=sorted({s.lifeline for s in group}), sensors=[outs[s.sensor_id] for s in group])
        for aid, group in grouped.items()
    ]  # fmt: skip


@router.get("/assets", response_model=Page[AssetOut], summary="Assets and their sensors")
def assets(
    ctx: Ctx, principal: Reader, paging: Paging_, lifeline: Annotated[list[Lifeline] | None, Query()] = None,
    owner: Multi = None, district: Multi = None,
) -> Page[AssetOut]:  # fmt: skip
    """Assets (grouped from the registry) with their sensors' latest readings."""
    specs = _visible(ctx, principal, lifeline=lifeline, owner=owner, district=district)
    asset_ids = list(dict.fromkeys(s.asset_id for s in specs))
    page_ids = set(asset_ids[paging.offset : paging.offset + paging.limit])
    chosen = [s for s in specs if s.asset_id in page_ids]
    outs = {o.sensor_id: o for o in _with_latest(ctx, chosen)}
    return Page[AssetOut](items=_assets(chosen, outs), limit=paging.limit, offset=paging.offset,
                          has_more=len(asset_ids) > paging.offset + paging.limit)  # fmt: skip


def _group(ctx: ApiContext, principal: Principal, group_id: str) -> AssetOut:
    """A group of linked assets as one asset: the sensors of it the principal may see."""
    members = ctx.registry.sensors_of_group(group_id)
    if not members:
        raise NotFoundError(f"no asset or group {group_id!r} in the registry")
    specs = [s for s in members if principal.can_see_owner(s.owner)]
    if not specs:
        principal.check_owner(members[0].owner, f"group {group_id!r}")
    owners = Counter(s.owner for s in specs)
    outs = _with_latest(ctx, specs)
    return AssetOut(asset_id=group_id, asset_kind=GROUP_KIND, owner=min(owners, key=lambda o: (-owners[o], o)),
                    district=specs[0].district, lifelines=sorted({s.lifeline for s in specs}), sensors=outs,
                    is_group=True)  # fmt: skip


@router.get(
    "/assets/{asset_id}", response_model=AssetOut, responses={404: {"model": ErrorOut}},
    summary="One asset, or one group of linked assets, with its sensors",
)  # fmt: skip
def asset(ctx: Ctx, principal: Reader, asset_id: str) -> AssetOut:
    """One asset with its sensors.

    An alert's ``asset_id`` may name a group (a DMA, a gas main with its wells, a catchment, a bridge)
    when the alert was raised from several of its assets together; such an id answers with
    ``is_group: true``, ``asset_kind: "group"`` and the group's sensors (an owner token: its own ones).
    """
    specs = ctx.registry.sensors_of_asset(asset_id)
    if not specs:
        return _group(ctx, principal, asset_id)
    principal.check_owner(specs[0].owner, f"asset {asset_id!r}")
    outs = {o.sensor_id: o for o in _with_latest(ctx, specs)}
    return _assets(specs, outs)[0]


Start = Annotated[datetime | None, Query(description="range start (ISO 8601 with zone); default end - 24 h")]
End = Annotated[datetime | None, Query(description="range end, exclusive (ISO 8601 with zone); default now")]
Interval = Annotated[str | None, Query(description="bucket width <n><s|m|h|d>; default: chosen from max_points")]
MaxPoints = Annotated[int, Query(ge=1, le=10_000, description="upper bound on buckets when interval is not given")]


def _series(
    ctx: ApiContext, principal: Principal, sensor_id: str, start: datetime | None, end: datetime | None,
    interval: str | None, max_points: int,
) -> SeriesOut:  # fmt: skip
    spec = _sensor(ctx, principal, sensor_id)
    start, end = time_range(start, end)
    end = end or datetime.now(UTC)
    start = start or end - timedelta(hours=24)
    if end <= start:
        raise UserInputError("end must be after start")
    text, width = parse_interval(interval) if interval else choose_interval(end - start, max_points)
    if (end - start).total_seconds() / width > 100_000:
        raise UserInputError(f"interval {text} gives too many buckets for this range; use a wider one")
    rows = ctx.readings.series(sensor_id, start, end, text)
    points = [SeriesPoint(ts=r["ts"], mean=r["mean"], min=r["min"], max=r["max"], count=int(r["count"])) for r in rows]
    return SeriesOut(sensor_id=sensor_id, unit=spec.unit, start=start, end=end, interval=text, points=points)


@router.get("/sensors/{sensor_id}/series", response_model=SeriesOut, responses={404: {"model": ErrorOut}})
def series(
    ctx: Ctx, principal: Reader, sensor_id: str, start: Start = None, end: End = None, interval: Interval = None,
    max_points: MaxPoints = 500,
) -> SeriesOut:  # fmt: skip
    """A sensor's readings in ``[start, end)``, down-sampled server-side (mean/min/max/count per bucket)."""
    return _series(ctx, principal, sensor_id, start, end, interval, max_points)


@router.get(
    "/export/series", summary="Export a sensor's series as CSV or Parquet", response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}},
)  # fmt: skip
def export_series(
    ctx: Ctx, principal: Reader, sensor_id: str, csv_options: CsvOpts, format: ExportFormat = ExportFormat.CSV,
    start: Start = None,
    end: End = None, interval: Interval = None, max_points: MaxPoints = 10_000,
) -> Response:  # fmt: skip
    """The same buckets as ``GET /sensors/{sensor_id}/series``, as a file."""
    out = _series(ctx, principal, sensor_id, start, end, interval, max_points)
    rows = [{"sensor_id": sensor_id, **p.model_dump()} for p in out.points]
    columns = ("sensor_id", "ts", "mean", "min", "max", "count")
    return export_response(rows, columns, format, f"series-{sensor_id}", csv_options)
