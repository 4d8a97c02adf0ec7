"""End to end on real Kafka + QuestDB: a simulator scenario in, the expected alerts out in both
QuestDB and ``lifeline.alerts``, every injected bad message in the DLQ with the right reason, and the
same alerts with 1 worker and with 2 workers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from lifeline.models import AlertEvent, AlertEventType, AlertKind, Reject
from lifeline.settings import Settings
from lifeline.simulators.scenarios import build
from tests.integration.flow_harness import (
    alert_events,
    isolated,
    produce_scenario,
    questdb_contents,
    read_topic,
    run_flow,
)

pytestmark = [pytest.mark.e2e]


@dataclass
class Run:
    settings: Settings
    scenario: Any
    alerts: list[AlertEvent]
    dlq: list[Reject]
    tables: dict[str, Any]


@pytest.fixture(scope="module")
def smoke_run(services: Settings, tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("e2e")
    scenario = build("smoke", seed=7)
    registry = tmp / "registry.csv"
    scenario.write_registry(registry)
    settings = isolated(services, "e2e-w1", tmp)
    produce_scenario(settings, scenario)
    run_flow(settings, registry, workers=1)
    dlq = [msgspec.json.decode(v, type=Reject) for v in read_topic(settings, settings.dlq_topic)]
    return Run(settings, scenario, alert_events(settings), dlq, questdb_contents(settings))


def test_every_bad_message_reaches_the_dlq_with_its_reason(smoke_run: Run) -> None:
    bad = smoke_run.scenario.bad_messages
    assert len(bad) >= 5
    by_payload = {(r.payload, r.reason.value) for r in smoke_run.dlq}
    for message in bad:
        assert (message.payload.decode("utf-8", "replace"), message.reason) in by_payload, (message, smoke_run.dlq)
    # and the QuestDB mirror holds one row per DLQ message
    assert sum(smoke_run.tables["rejects"].values()) == len(smoke_run.dlq)


def test_expected_incidents_raise_alerts_of_their_kind_and_tier(smoke_run: Run) -> None:
    opened = [a for a in smoke_run.alerts if a.event in (AlertEventType.OPENED, AlertEventType.ESCALATED)]
    incidents = [r for r in smoke_run.scenario.ground_truth if r.label == "incident" and r.expected_tier == "1"]
    assert incidents, "the smoke scenario injects tier-1 incidents"
    for row in incidents:
        matching = [
            a for a in opened
            if a.kind.value == row.kind and int(a.tier) == 1
            and (a.asset_id in (row.asset_id, row.group_id) or set(a.sensor_ids) & set(row.sensor_ids))
            and row.start_ms <= a.ts <= row.end_ms
        ]  # fmt: skip
        assert matching, f"no tier-1 {row.kind} alert for {row.id} ({row.asset_id}, {row.group_id})"


def test_faults_and_lookalikes_never_become_tier_1_or_2(smoke_run: Run) -> None:
    for alert in smoke_run.alerts:
        if alert.kind is AlertKind.SENSOR_FAULT:
            assert int(alert.tier) == 3, alert
    lookalike_sensors = {s for r in smoke_run.scenario.ground_truth if r.label == "lookalike" for s in r.sensor_ids}
    for alert in smoke_run.alerts:
        if set(alert.sensor_ids) <= lookalike_sensors and alert.sensor_ids:
            assert int(alert.tier) == 3, alert


def test_alerts_in_kafka_and_questdb_are_the_same_events(smoke_run: Run) -> None:
    kafka = {(a.alert_id, a.event.value, a.ts) for a in smoke_run.alerts}
    stored = smoke_run.tables["alert_events"]
    questdb = {(row[0], row[1], _ms(row[2])) for row in stored}
    assert kafka == questdb
    assert all(count == 1 for count in stored.values())  # no duplicates


def test_window_statistics_and_readings_are_stored(smoke_run: Run) -> None:
    assert sum(smoke_run.tables["sensor_stats"].values()) > len(smoke_run.scenario.registry)
    assert sum(smoke_run.tables["readings"].values()) > 0


def test_two_workers_raise_the_same_alerts(smoke_run: Run, tmp_path: Path) -> None:
    first = smoke_run.settings
    registry = tmp_path / "registry.csv"
    smoke_run.scenario.write_registry(registry)
    second = isolated(first, "e2e-w2", tmp_path).with_overrides(readings_topic=first.readings_topic)
    run_flow(second, registry, workers=2)
    one = {(a.alert_id, a.event.value, a.ts, int(a.tier)) for a in smoke_run.alerts}
    two = {(a.alert_id, a.event.value, a.ts, int(a.tier)) for a in alert_events(second)}
    assert one == two
    assert one  # the comparison is about something


def _ms(value: Any) -> int:
    """A QuestDB timestamp from /exec (ISO text) as epoch ms."""
    from datetime import datetime

    return round(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1000)
