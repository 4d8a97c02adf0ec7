"""Shared query parameters: alert filters, time ranges, pagination."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query

from lifeline.api.auth import Principal
from lifeline.api.exceptions import UserInputError
from lifeline.api.filters import AlertFilter
from lifeline.api.state import AlertStatus
from lifeline.models import AlertKind, Lifeline

__all__ = ["EARLIEST", "LATEST", "AlertQuery", "Paging", "aware", "time_range"]

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2262, 4, 11, tzinfo=UTC)  # QuestDB timestamps and epoch nanoseconds end just after this


def aware(value: datetime | None, name: str) -> datetime | None:
    """Refuse naive datetimes (a time zone is never guessed) and instants outside 1970-01-01 .. 2262-04-11."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise UserInputError(f"{name}: {value.isoformat()} has no time zone; add Z or +08:00")
    try:
        inside = EARLIEST <= value < LATEST
    except OverflowError:  # the UTC offset pushes a year-1 or year-9999 time outside datetime's range
        inside = False
    if not inside:
        raise UserInputError(f"{name}: {value.isoformat()} is outside {EARLIEST:%Y-%m-%d} .. {LATEST:%Y-%m-%d}")
    return value


def time_range(start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None]:
    """Validated ``[start, end)``."""
    start, end = aware(start, "start"), aware(end, "end")
    if start is not None and end is not None and end <= start:
        raise UserInputError("end must be after start")
    return start, end


@dataclass
class Paging:
    """``limit`` and ``offset`` query parameters."""

    limit: Annotated[int, Query(ge=1, le=1000, description="page size")] = 100
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="items to skip")] = 0


@dataclass
class AlertQuery:
    """Alert filter query parameters. Repeat a parameter for several values (``lifeline=gas&lifeline=water``)."""

    lifeline: Annotated[list[Lifeline] | None, Query()] = None
    max_tier: Annotated[int | None, Query(ge=1, le=3, description="tier ≤ N, i.e. at least that severe")] = None
    kind: Annotated[list[AlertKind] | None, Query()] = None
    district: Annotated[list[str] | None, Query(max_length=200)] = None
    owner: Annotated[list[str] | None, Query(max_length=200)] = None
    status: Annotated[list[AlertStatus] | None, Query()] = None

    def filter_for(self, principal: Principal) -> AlertFilter:
        """The filter, with an owner token's scope forced (403 if it asks for another owner)."""
        filt = AlertFilter.parse(lifeline=self.lifeline, max_tier=self.max_tier, kind=self.kind,
                                 district=self.district, owner=self.owner, status=self.status)  # fmt: skip
        owners = principal.scope_owners(sorted(filt.owners) if filt.owners else None)
        return filt.with_owners(owners)
