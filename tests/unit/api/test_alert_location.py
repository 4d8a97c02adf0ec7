"""An alert's ``location`` reaches every reader: the REST views, and the ``alert_events`` row read back."""

from __future__ import annotations

from datetime import UTC, datetime

from lifeline.api.alerts_store import row_to_event
from lifeline.api.state import AlertStatus
from lifeline.api.views import AlertEventOut, AlertOut
from lifeline.models import AlertEvent, AlertEventType, AlertKind, Lifeline, Tier
from lifeline.schema import ALERT_EVENTS

WHERE = "nodes: J-123 (0 m), J-98 (240 m), J-40 (410 m); sensors: P-12 -12.2 m, P-07 -6.1 m"
EVENT = AlertEvent(
    alert_id="loc-1", event=AlertEventType.OPENED, tier=Tier.T2, lifeline=Lifeline.WATER, kind=AlertKind.PIPE_BURST,
    asset_id="DMA-1", owner="hefei-water", district="shushan", sensor_ids=("P-07", "P-12"), started_at=1_000,
    ts=2_000, value=0.28, score=0.7, evidence="drop", location=WHERE,
)  # fmt: skip


def test_the_rest_views_carry_the_location() -> None:
    assert AlertEventOut.of(EVENT).location == WHERE
    assert AlertOut.of_latest(EVENT, AlertStatus.OPEN).location == WHERE
    assert AlertOut.of_events([EVENT]).location == WHERE


def test_an_alert_events_row_reads_back_its_location_and_an_older_row_reads_as_none() -> None:
    assert "location" in ALERT_EVENTS.column_names
    row = {
        "alert_id": "loc-1", "event": "opened", "tier": 2, "lifeline": "water", "kind": "pipe_burst",
        "asset_id": "DMA-1", "owner": "hefei-water", "district": "shushan", "sensor_ids": "P-07,P-12",
        "started_at": datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC), "ts": datetime(1970, 1, 1, 0, 0, 2, tzinfo=UTC),
        "value": 0.28, "score": 0.7, "evidence": "drop", "actor": None, "comment": None, "location": WHERE,
    }  # fmt: skip
    assert row_to_event(row) == EVENT
    assert row_to_event({**row, "location": None}).location == "", "a row written before the column: no location"
