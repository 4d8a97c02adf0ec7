"""One alert-event row: what the flow's sink writes and what the API writes (acknowledge/resolve) read back
as the same event, each in its own prefixed table (the API honours the table prefix too)."""

from __future__ import annotations

from lifeline.api.alerts_store import AlertStore, row_to_event
from lifeline.connectors.questdb import QuestDB
from lifeline.flows.sinks import QuestDBBatch, QuestDBSink
from lifeline.flows.validate import SensorIndex
from lifeline.models import AlertEvent, AlertEventType, AlertKind, Lifeline, Tier
from lifeline.registry import Registry
from lifeline.schema import ALERT_EVENTS
from lifeline.settings import Settings

EVENT = AlertEvent(
    alert_id="row-test-0002", event=AlertEventType.ESCALATED, tier=Tier.T1, lifeline=Lifeline.WATER,
    kind=AlertKind.PIPE_BURST, asset_id="DMA-0001", owner="hefei-water", district="baohe",
    sensor_ids=("W-1-P", "W-2-P"), started_at=1_767_225_600_123, ts=1_767_225_900_456, value=0.21, score=0.93,
    evidence="一级 from 2 sensor(s): drop 0.12 MPa", actor="", comment="",
    location="nodes: J-123 (0 m), J-98 (240 m); sensors: W-1-P -12.2 m, W-2-P -6.1 m",
)  # fmt: skip


def _prefixed(services: Settings, unique: str, side: str) -> Settings:
    settings = services.with_overrides(questdb_table_prefix=f"row_{unique}_{side}_")
    with QuestDB(settings) as db:
        db.create_tables()
    return settings


def _read_back(settings: Settings) -> list[AlertEvent]:
    """The rows of this settings' own (prefixed) ``alert_events`` table, read without the API's store."""
    with QuestDB(settings) as db:
        db.wait_for_wal("alert_events")
        columns = ", ".join(ALERT_EVENTS.column_names)
        sql = f"SELECT {columns} FROM {db.table('alert_events')} WHERE alert_id = %s"  # noqa: S608 (fixed names)
        return [row_to_event(row) for row in db.query(sql, [EVENT.alert_id]).dicts()]


def test_the_flow_and_the_api_write_the_same_alert_event_row(services: Settings, unique: str) -> None:
    by_flow, by_api = _prefixed(services, unique, "flow"), _prefixed(services, unique, "api")
    sink = QuestDBSink(by_flow.questdb_ilp_conf, SensorIndex(Registry([])), table_prefix=by_flow.questdb_table_prefix)
    part = sink.build_part("questdb", "questdb", None)
    part.write_batch([QuestDBBatch(alerts=[EVENT])])
    part.close()
    with QuestDB(by_api) as db:
        AlertStore(db).write(EVENT)
    assert _read_back(by_flow) == [EVENT]
    assert _read_back(by_api) == [EVENT], "the API writes the same row, into its own (prefixed) table"
    with QuestDB(by_api) as db:
        assert AlertStore(db).timeline(EVENT.alert_id) == [EVENT], "and reads it back from there"
