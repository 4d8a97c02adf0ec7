"""The whole dataflow in memory on SWMM hydraulics: a 50-year storm gives waterlogging alerts of the right tier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bytewax.testing import run_main

from lifeline.codec import decode_alert_event
from lifeline.flows.dataflow import build_flow
from lifeline.flows.testing import memory_io, split_into_batches
from lifeline.models import AlertEvent, AlertEventType, AlertKind
from lifeline.settings import Settings
from lifeline.simulators.output import scenario_blocks
from lifeline.simulators.scenarios import Scenario, build


@pytest.fixture(autouse=True)
def swmm_cache(tmp_path: Path) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIFELINE_CACHE_DIR", str(tmp_path))
        yield


def _alerts_of(scenario: Scenario, flow_id: str) -> list[AlertEvent]:
    """Run the whole dataflow in memory (2 partitions) over a scenario; return its alert events."""
    messages = [
        (key, payload, t)
        for block in scenario_blocks(scenario)
        for key, payload, t in zip(block.keys, block.payloads, block.times_ms.tolist(), strict=True)
    ]
    settings = Settings()
    io, collected = memory_io(split_into_batches(messages, 2, [300]))
    run_main(build_flow(settings, scenario.registry, io=io, flow_id=flow_id))
    return [decode_alert_event(m.value) for _k, m in collected.kafka if m.topic == settings.alerts_topic]


def test_a_50_year_storm_raises_waterlogging_alerts_with_the_right_tier() -> None:
    scenario = build("swmm-50y", seed=5, duration_s=9 * 3600)
    episodes = [r for r in scenario.ground_truth if r.kind == AlertKind.WATERLOGGING.value]
    assert len(episodes) == 6, "every low point of the three catchments ponds in a 50-year storm"
    alerts = _alerts_of(scenario, "swmm-50y")
    raised = [
        a for a in alerts
        if a.kind is AlertKind.WATERLOGGING and a.event in (AlertEventType.OPENED, AlertEventType.ESCALATED)
    ]  # fmt: skip
    for row in episodes:
        mine = [a for a in raised if set(a.sensor_ids) & set(row.sensor_ids) and row.start_ms <= a.ts < row.end_ms]
        assert mine, f"no waterlogging alert for {row.asset_id} ({row.detail})"
        assert str(min(int(a.tier) for a in mine)) == row.expected_tier, row.detail
        assert min(a.ts for a in mine) - row.start_ms <= 10 * 60_000, "alerted within two 5-min reports"
    rain_starts = [r.start_ms for r in scenario.ground_truth if r.kind == AlertKind.RAINSTORM.value]
    assert not [a for a in alerts if a.ts < min(rain_starts)], "nothing before the rain"


def test_recorded_rain_raises_no_anomaly_and_keeps_the_rule_tiers() -> None:
    """A storm is what the drainage rules grade: the learned baselines must neither call it an anomaly nor,
    through corroboration, raise the rules' alerts a tier above the ponding the simulation produced."""
    scenario = build("swmm-recorded", seed=7)
    episodes = [r for r in scenario.ground_truth if r.kind == AlertKind.WATERLOGGING.value]
    assert episodes, "three days of recorded-style rain pond at least one low point"
    alerts = _alerts_of(scenario, "swmm-recorded")
    assert not [a for a in alerts if a.kind is AlertKind.ANOMALY]
    raised = [
        a for a in alerts
        if a.kind is AlertKind.WATERLOGGING and a.event in (AlertEventType.OPENED, AlertEventType.ESCALATED)
    ]  # fmt: skip
    for row in episodes:
        mine = [a for a in raised if set(a.sensor_ids) & set(row.sensor_ids) and row.start_ms <= a.ts < row.end_ms]
        assert mine, f"no waterlogging alert for {row.asset_id} ({row.detail})"
        assert str(min(int(a.tier) for a in mine)) == row.expected_tier, row.detail
