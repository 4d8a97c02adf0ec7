"""Produce a small scenario to a real Kafka and consume it back unchanged."""

from __future__ import annotations

import time
from collections import Counter

from lifeline.codec import decode_reading_message
from lifeline.connectors.kafka import make_consumer
from lifeline.exceptions import MessageError
from lifeline.models import Reading, ReadingBatch
from lifeline.settings import Settings
from lifeline.simulators.output import produce_scenario, scenario_blocks
from lifeline.simulators.scenarios import build


def test_smoke_scenario_round_trips_through_kafka(services: Settings, unique: str) -> None:
    settings = services.with_overrides(readings_topic=f"sim-readings-{unique}", readings_partitions=2)
    scenario = build("smoke", seed=7, duration_s=1800)
    expected = Counter(p for block in scenario_blocks(scenario) for p in block.payloads)

    report = produce_scenario(scenario, settings)
    assert report.messages == sum(expected.values())
    assert report.bad_messages > 0

    consumer = make_consumer(settings, group_id=f"sim-test-{unique}")
    consumer.subscribe([settings.readings_topic])
    got: Counter[bytes] = Counter()
    keys_ok = True
    deadline = time.monotonic() + 60
    try:
        while sum(got.values()) < report.messages and time.monotonic() < deadline:
            for message in consumer.consume(2000, 1.0):
                if message.error() is not None:
                    continue
                payload = bytes(message.value() or b"")
                got[payload] += 1
                try:
                    decoded = decode_reading_message(payload)
                except MessageError:
                    continue
                if isinstance(decoded, Reading | ReadingBatch):
                    keys_ok &= message.key() == decoded.sensor_id.encode()
    finally:
        consumer.close()
    assert got == expected
    assert keys_ok
    reasons = {m.reason for m in scenario.bad_messages}
    assert {"malformed", "unknown_sensor", "late"} <= reasons
