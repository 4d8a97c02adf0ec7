"""Shared builders for the unit tests (API, notifier)."""

from __future__ import annotations

import pytest

from lifeline.models import AlertEvent, AlertEventType, AlertKind, Lifeline, Tier


def make_event(
    alert_id: str = "a1", event: AlertEventType = AlertEventType.OPENED, *, tier: int = 1, owner: str = "hefei-gas",
    lifeline: Lifeline = Lifeline.GAS, kind: AlertKind = AlertKind.GAS_LEAK, district: str = "shushan",
    ts: int = 1_700_000_000_000, actor: str = "",
) -> AlertEvent:  # fmt: skip
    """An alert event with sensible defaults."""
    return AlertEvent(
        alert_id=alert_id, event=event, tier=Tier(tier), lifeline=lifeline, kind=kind, asset_id=f"A-{alert_id}",
        owner=owner, district=district, sensor_ids=("S1",), started_at=1_700_000_000_000, ts=ts, value=55.0,
        score=3.0, evidence="ch4 55 %LEL >= t1 50", actor=actor,
    )  # fmt: skip


@pytest.fixture
def event_factory():  # type: ignore[no-untyped-def]
    return make_event
