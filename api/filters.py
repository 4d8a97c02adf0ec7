"""Subscription and query filters over alerts: lifeline, maximum tier, kind, district, owner, status.

``max_tier=2`` means "tier 2 or more severe" (tier 1 is the most severe). Each list filter accepts
several values (``lifeline=gas,water``); an empty filter matches everything.

A live subscriber receives an event when the alert matches its filter *before or after* the event,
so a client also sees an alert leave its view (for example when it is acknowledged while the client
watches ``status=open``, or de-escalated below its ``max_tier``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from lifeline.api.exceptions import UserInputError
from lifeline.api.state import AlertState, AlertStatus
from lifeline.models import AlertKind, Lifeline, Tier

__all__ = ["AlertFilter", "split_values"]

_E = TypeVar("_E")


def split_values(values: Iterable[str] | str | None) -> list[str]:
    """``["gas,water", "bridge"]`` → ``["gas", "water", "bridge"]`` (blank parts dropped)."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _enum_set(name: str, values: list[str], parse: Callable[[str], _E], known: Iterable[str]) -> frozenset[_E] | None:
    if not values:
        return None
    try:
        return frozenset(parse(v) for v in values)
    except ValueError:
        raise UserInputError(f"{name}: unknown value in {values!r}; known: {', '.join(known)}") from None


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts a subscriber or query wants. ``None`` fields match everything."""

    lifelines: frozenset[Lifeline] | None = None
    max_tier: Tier | None = None
    kinds: frozenset[AlertKind] | None = None
    districts: frozenset[str] | None = None
    owners: frozenset[str] | None = None
    statuses: frozenset[AlertStatus] | None = None

    @classmethod
    def parse(
        cls,
        *,
        lifeline: Iterable[str] | str | None = None,
        max_tier: int | str | None = None,
        kind: Iterable[str] | str | None = None,
        district: Iterable[str] | str | None = None,
        owner: Iterable[str] | str | None = None,
        status: Iterable[str] | str | None = None,
    ) -> AlertFilter:
        """Build a filter from request values; raise :class:`UserInputError` naming the bad one."""
        tier: Tier | None = None
        if max_tier not in (None, ""):
            try:
                tier = Tier(int(max_tier))
            except ValueError:
                raise UserInputError(f"max_tier: {max_tier!r} is not 1, 2 or 3 (1 = most severe)") from None
        districts, owners = split_values(district), split_values(owner)
        return cls(
            lifelines=_enum_set("lifeline", split_values(lifeline), Lifeline, (x.value for x in Lifeline)),
            max_tier=tier,
            kinds=_enum_set("kind", split_values(kind), AlertKind, (x.value for x in AlertKind)),
            districts=frozenset(districts) if districts else None,
            owners=frozenset(owners) if owners else None,
            statuses=_enum_set("status", split_values(status), AlertStatus, (x.value for x in AlertStatus)),
        )

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> AlertFilter:
        """Build a filter from a JSON object or query mapping with the same keys as :meth:`parse`."""
        unknown = set(values) - {"lifeline", "max_tier", "kind", "district", "owner", "status"}
        if unknown:
            raise UserInputError(f"unknown filter field(s) {sorted(unknown)}; use lifeline, max_tier, kind, "
                                 "district, owner, status")  # fmt: skip

        def texts(key: str) -> list[str] | None:
            value = values.get(key)
            if value is None:
                return None
            if isinstance(value, list | tuple):
                return [str(v) for v in value]
            return [str(value)]

        tier = values.get("max_tier")
        return cls.parse(
            lifeline=texts("lifeline"), max_tier=None if tier is None else str(tier), kind=texts("kind"),
            district=texts("district"), owner=texts("owner"), status=texts("status"),
        )  # fmt: skip

    def with_owners(self, owners: list[str] | None) -> AlertFilter:
        """A copy with the owner filter replaced (used to force an owner token's scope)."""
        return AlertFilter(self.lifelines, self.max_tier, self.kinds, self.districts,
                           frozenset(owners) if owners else None, self.statuses)  # fmt: skip

    @property
    def everything(self) -> bool:
        """True when the filter matches every alert."""
        return all(getattr(self, f) is None for f in self.__slots__)

    def matches(self, state: AlertState) -> bool:
        """True when the alert in ``state`` passes every set criterion."""
        event = state.event
        return (
            (self.lifelines is None or event.lifeline in self.lifelines)
            and (self.max_tier is None or event.tier <= self.max_tier)
            and (self.kinds is None or event.kind in self.kinds)
            and (self.districts is None or event.district in self.districts)
            and (self.owners is None or event.owner in self.owners)
            and (self.statuses is None or state.status in self.statuses)
        )

    def wants(self, before: AlertState | None, after: AlertState) -> bool:
        """True when a live subscriber should receive the event that turned ``before`` into ``after``."""
        if self.owners is not None and after.event.owner not in self.owners:
            return False  # owner scope is access control: always judged on the event itself
        if self.matches(after):
            return True
        return before is not None and self.matches(before)
