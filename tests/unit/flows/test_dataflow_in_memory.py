"""The whole dataflow (``build_flow``) in memory, with 1 and 2 workers: the same alerts, statistics,
stored readings and DLQ entries as the two stages called directly, for any batching."""

from __future__ import annotations

import random
from typing import Any

import pytest
from bytewax.testing import cluster_main, run_main

from lifeline.codec import decode_alert_event
from lifeline.flows.dataflow import build_flow, make_detectors
from lifeline.flows.source import RawBatch
from lifeline.flows.stages import GroupStage, PartitionStage
from lifeline.flows.testing import memory_io, split_into_batches
from lifeline.flows.validate import SensorIndex, ValidationLimits
from lifeline.settings import Settings
from lifeline.simulators.output import scenario_blocks
from lifeline.simulators.scenarios import build

PARTITIONS = 3


@pytest.fixture(scope="module")
def scenario() -> Any:
    return build("smoke", seed=5)


def _messages(scenario: Any) -> list[tuple[bytes, bytes, int]]:
    return [
        (key, payload, t)
        for block in scenario_blocks(scenario)
        for key, payload, t in zip(block.keys, block.payloads, block.times_ms.tolist(), strict=True)
    ]


def _expected(scenario: Any, partitions: list[list[RawBatch]]) -> dict[str, Any]:
    """The stages called directly, partition after partition (the reference the flow must match)."""
    detectors = make_detectors(Settings(), scenario.registry)
    stage = PartitionStage(detectors, SensorIndex(scenario.registry), "lifeline.readings", limits=ValidationLimits())
    groups = GroupStage(detectors, partitions=len(partitions))
    group_state = groups.new_state()
    alerts, stats, rejects = set(), set(), set()
    readings = 0
    for p, batches in enumerate(partitions):
        state = stage.new_state()
        for batch in [*batches, RawBatch(p, [], [], [], idle=True, end=True)]:
            out = stage.process(state, batch)
            readings += len(out.accepted)
            stats |= {(s.sensor_id, s.window_start, s.count, s.mean) for s in out.stats}
            rejects |= {(r.partition, r.offset, r.reason.value) for r in out.rejects}
            events = groups.process(group_state, p, out.watermark, out.findings, batch.end, end=batch.end)
            alerts |= {(e.alert_id, e.event.value, e.ts, int(e.tier)) for e in events}
    return {"alerts": alerts, "stats": stats, "rejects": rejects, "readings": readings}


def _run_flow(scenario: Any, partitions: list[list[RawBatch]], workers: int) -> dict[str, Any]:
    settings = Settings(store_readings="all")
    io, collected = memory_io(partitions)
    flow = build_flow(settings, scenario.registry, io=io, flow_id=f"memory-{workers}")
    if workers == 1:
        run_main(flow)
    else:
        cluster_main(flow, [], 0, worker_count_per_proc=workers)
    alert_messages = [m for _k, m in collected.kafka if m.topic == settings.alerts_topic]
    dlq = [m for _k, m in collected.kafka if m.topic == settings.dlq_topic]
    rows = [b for _k, b in collected.questdb]
    alerts = [decode_alert_event(m.value) for m in alert_messages]
    return {
        "alerts": {(e.alert_id, e.event.value, e.ts, int(e.tier)) for e in alerts},
        "alert_count": len(alerts),
        "stats": {(s.sensor_id, s.window_start, s.count, s.mean) for b in rows for s in b.stats},
        "rejects": {(r.partition, r.offset, r.reason.value) for b in rows for r in b.rejects},
        "dlq": len(dlq),
        "readings": sum(0 if b.reading_ts is None else len(b.reading_ts) for b in rows),
        "alert_rows": {(e.alert_id, e.event.value, e.ts, int(e.tier)) for b in rows for e in b.alerts},
    }


@pytest.mark.parametrize("workers", [1, 2])
def test_the_flow_in_memory_matches_the_stages_for_any_batching(scenario: Any, workers: int) -> None:
    messages = _messages(scenario)
    reference = _expected(scenario, split_into_batches(messages, PARTITIONS, [1000]))
    assert reference["alerts"] and reference["rejects"], "the scenario raises alerts and has bad messages"
    sizes = [random.Random(workers).randint(1, 400) for _ in range(50)]
    got = _run_flow(scenario, split_into_batches(messages, PARTITIONS, sizes), workers)
    assert got["alerts"] == reference["alerts"]
    assert got["alert_count"] == len(reference["alerts"]), "each alert event once on Kafka"
    assert got["alert_rows"] == reference["alerts"], "QuestDB gets the same alert events as Kafka"
    assert got["stats"] == reference["stats"]
    assert got["rejects"] == reference["rejects"]
    assert got["dlq"] == len(reference["rejects"]), "every reject reaches the DLQ once"
    assert got["readings"] == reference["readings"] > 0, "with store_readings=all every accepted reading is stored"
