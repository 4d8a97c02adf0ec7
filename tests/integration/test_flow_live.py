"""The flow running live (not a finite replay): a partition with no data must not hold alerts back.

Findings are released behind the minimum watermark of all partitions; a partition that never
receives a reading has no watermark, so the flow has to notice that it is caught up (idle) by
itself. Here every reading goes to partition 0 of a 2-partition topic, and a ponding gauge rises
to tier 1: the alert has to come out while the flow is still running.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from lifeline.codec import decode_alert_event
from lifeline.connectors.kafka import make_producer
from lifeline.models import AlertKind, SensorKind, SensorSpec, Tier
from lifeline.registry import write_registry
from lifeline.settings import Settings
from tests.integration.flow_harness import isolated, start_flow

pytestmark = [pytest.mark.e2e]

PONDING_CM = (0.0, 0.0, 0.0, 5.0, 12.0, 20.0, 28.0, 36.0, 44.0, 47.0, 48.0, 48.0, 47.0)  # 48 cm ≥ 40: tier 1


def test_live_flow_raises_an_alert_while_another_partition_stays_empty(services: Settings, tmp_path: Path) -> None:
    settings = isolated(services, "live-idle", tmp_path, partitions=2)
    spec = SensorSpec("LIVE-POND-1", SensorKind.PONDING_DEPTH, "UP-LIVE-1", "drainage-co", "d", 31.8, 117.2,
                      asset_kind="underpass", interval_s=60.0)  # fmt: skip
    registry = tmp_path / "registry.csv"
    write_registry([spec], registry)
    flow = start_flow(settings, registry, live=True)
    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": "live-idle-test",
                         "auto.offset.reset": "earliest"})  # fmt: skip
    consumer.subscribe([settings.alerts_topic])
    try:
        producer = make_producer(settings)
        now_ms = int(time.time() * 1000)
        first_ms = now_ms - now_ms % 60_000 - len(PONDING_CM) * 60_000
        for step, depth in enumerate(PONDING_CM):
            value = b'{"sensor_id":"LIVE-POND-1","ts":%d,"value":%r}' % (first_ms + step * 60_000, depth)
            producer.produce(settings.readings_topic, value, b"LIVE-POND-1", partition=0)
        assert producer.flush(10) == 0
        deadline = time.monotonic() + 90
        tier_one = None
        while tier_one is None and time.monotonic() < deadline and flow.poll() is None:
            for message in consumer.consume(10, timeout=0.5):
                if message.error() is None:
                    event = decode_alert_event(message.value() or b"")
                    if event.asset_id == "UP-LIVE-1" and event.tier is Tier.T1:
                        tier_one = event
        assert flow.poll() is None, f"the live flow exited with {flow.returncode}"
        assert tier_one is not None, "no tier-1 alert while partition 1 stayed empty"
        assert tier_one.kind is AlertKind.WATERLOGGING
    finally:
        consumer.close()
        flow.terminate()
        flow.wait(30)
