"""REST: lifeline health — how many sensors are online, faulty or silent, per lifeline and district.

A sensor is

* **faulty** when an active ``sensor_fault`` alert names it (stuck, spike, drift, silence, … as the flow
  found it);
* else **silent** when its latest stored reading is older than ``max(3 × interval_s, 10 min)`` before
  now, or it has none;
* else **online**.

Owner tokens count only their own sensors.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel

from lifeline.api.auth import Permission, Principal
from lifeline.api.context import Ctx, need
from lifeline.api.views import ErrorOut
from lifeline.models import AlertKind, Lifeline, SensorSpec, datetime_to_ms, ms_to_datetime

__all__ = ["MIN_SILENCE_S", "HealthRow", "LifelineHealth", "count_health", "router", "silence_after_s"]

MIN_SILENCE_S = 600.0

router = APIRouter(tags=["sensors"], responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}})
Reader = Annotated[Principal, need(Permission.READ_DATA)]


class HealthRow(BaseModel):
    """Sensor counts of one lifeline in one district."""

    lifeline: Lifeline
    district: str
    total: int
    online: int
    faulty: int
    silent: int
    faulty_ids: list[str]
    silent_ids: list[str]


class LifelineHealth(BaseModel):
    """Every (lifeline, district) pair with sensors visible to the caller, and when it was counted."""

    as_of: datetime
    rows: list[HealthRow]


def silence_after_s(spec: SensorSpec) -> float:
    """How long without a reading before ``spec``'s sensor counts as silent."""
    return max(3.0 * spec.interval_s, MIN_SILENCE_S)


def count_health(
    specs: Iterable[SensorSpec], latest_ms: Mapping[str, int], faulty: frozenset[str], now_ms: int
) -> list[HealthRow]:
    """Classify each sensor (see the module doc) and count per (lifeline, district), sorted by both."""
    rows: dict[tuple[Lifeline, str], HealthRow] = {}
    for spec in specs:
        key = (spec.lifeline, spec.district)
        row = rows.get(key) or HealthRow(lifeline=spec.lifeline, district=spec.district, total=0, online=0,
                                         faulty=0, silent=0, faulty_ids=[], silent_ids=[])  # fmt: skip
        rows[key] = row
        row.total += 1
        last = latest_ms.get(spec.sensor_id)
        if spec.sensor_id in faulty:
            row.faulty += 1
            row.faulty_ids.append(spec.sensor_id)
        elif last is None or now_ms - last > silence_after_s(spec) * 1000:
            row.silent += 1
            row.silent_ids.append(spec.sensor_id)
        else:
            row.online += 1
    return [rows[k] for k in sorted(rows)]


@router.get("/lifelines/health", response_model=LifelineHealth, summary="Sensors online / faulty / silent")
def lifeline_health(ctx: Ctx, principal: Reader) -> LifelineHealth:
    """Per lifeline and district: sensors online, faulty (an active ``sensor_fault`` alert) and silent."""
    specs = [s for s in ctx.registry.values() if principal.can_see_owner(s.owner)]
    latest = ctx.readings.latest([s.sensor_id for s in specs]) if specs else {}
    latest_ms = {sid: datetime_to_ms(ts) for sid, (_value, ts) in latest.items()}
    faults = (s.event for s in ctx.hub.active() if s.event.kind is AlertKind.SENSOR_FAULT)
    faulty = frozenset(sid for event in faults for sid in event.sensor_ids)
    now_ms = time.time_ns() // 1_000_000
    return LifelineHealth(as_of=ms_to_datetime(now_ms), rows=count_health(specs, latest_ms, faulty, now_ms))
