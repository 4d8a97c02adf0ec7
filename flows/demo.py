"""``lifeline demo``: the whole local path on real servers, start to finish.

Today: start Kafka and QuestDB, create the schema, send readings from a small sample city to
``lifeline.readings``, consume them back, store them in QuestDB and print what the database holds.
"""

from __future__ import annotations

import math
import time
import uuid

from questdb import TimestampNanos
from rich.console import Console
from rich.table import Table

from lifeline.codec import decode_reading_message, encode
from lifeline.connectors.bootstrap import apply_schema
from lifeline.connectors.kafka import make_consumer, make_producer
from lifeline.connectors.questdb import QuestDB
from lifeline.connectors.services import manager
from lifeline.models import Reading, SensorKind, SensorSpec
from lifeline.registry import Registry
from lifeline.settings import Settings

__all__ = ["run_demo", "sample_registry"]


def sample_registry() -> Registry:
    """Three sensors, one per lifeline flavour, for the demo."""
    return Registry([
        SensorSpec("DEMO-GW1-CH4", SensorKind.CH4_LEL, "DEMO-GW1", "hefei-gas", "shushan", 31.85, 117.26),
        SensorSpec("DEMO-DMA1-P1", SensorKind.WATER_PRESSURE, "DEMO-DMA1", "hefei-water", "baohe", 31.80, 117.30),
        SensorSpec("DEMO-UP1-POND", SensorKind.PONDING_DEPTH, "DEMO-UP1", "hefei-drainage", "luyang", 31.88, 117.28),
    ])  # fmt: skip


def _demo_readings(registry: Registry, count: int, now_ms: int) -> list[Reading]:
    base = {SensorKind.CH4_LEL: 1.0, SensorKind.WATER_PRESSURE: 0.3, SensorKind.PONDING_DEPTH: 0.0}
    specs = list(registry.values())
    out: list[Reading] = []
    for i in range(count):
        spec = specs[i % len(specs)]
        t = now_ms - (count - i) * 1000
        value = base[spec.kind] + 0.05 * abs(math.sin(i / 7.0))
        out.append(Reading(spec.sensor_id, t, round(value, 4)))
    return out


def run_demo(settings: Settings, console: Console, *, readings: int = 200, keep_running: bool = True) -> None:
    """Run the demo end to end and print a summary."""
    started = time.monotonic()
    console.rule("[bold]1. servers")
    manager.up(settings, report=lambda line: console.print(f"[dim]•[/] {line}"))
    console.rule("[bold]2. schema")
    report = apply_schema(settings)
    console.print(f"topics created: {', '.join(report.topics_created) or 'none (all existed)'}")
    console.print(f"tables: {', '.join(report.tables)}")

    console.rule("[bold]3. readings → Kafka")
    registry = sample_registry()
    sent = _demo_readings(registry, readings, int(time.time() * 1000))
    producer = make_producer(settings)
    for r in sent:
        producer.produce(settings.readings_topic, key=r.sensor_id.encode(), value=encode(r))
    producer.flush(30)
    console.print(f"produced {len(sent)} readings to {settings.readings_topic}")

    console.rule("[bold]4. Kafka → QuestDB")
    consumer = make_consumer(settings, group_id=f"lifeline-demo-{uuid.uuid4().hex[:8]}")
    consumer.subscribe([settings.readings_topic])
    wanted = {(r.sensor_id, r.ts) for r in sent}
    stored = 0
    deadline = time.monotonic() + 60
    with QuestDB(settings) as db, db.sender() as sender:
        while wanted and time.monotonic() < deadline:
            for message in consumer.consume(1000, timeout=0.5):
                if message.error() or message.value() is None:
                    continue
                decoded = decode_reading_message(bytes(message.value() or b""))
                batch = decoded.readings() if not isinstance(decoded, Reading) else [decoded]
                for r in batch:
                    if (r.sensor_id, r.ts) not in wanted:
                        continue
                    wanted.discard((r.sensor_id, r.ts))
                    spec = registry[r.sensor_id]
                    sender.row(
                        "readings",
                        symbols={
                            "sensor_id": r.sensor_id,
                            "asset_id": spec.asset_id,
                            "lifeline": spec.lifeline.value,
                        },
                        columns={"value": r.value},
                        at=TimestampNanos(r.ts * 1_000_000),
                    )
                    stored += 1
            sender.flush()
        consumer.close()
        db.wait_for_wal("readings")
        console.print(f"consumed and stored {stored} readings")
        result = db.exec(
            "SELECT sensor_id, count() n, min(value) min, max(value) max, last(value) last, max(ts) latest "
            "FROM readings WHERE sensor_id IN ('DEMO-GW1-CH4', 'DEMO-DMA1-P1', 'DEMO-UP1-POND') "
            "GROUP BY sensor_id ORDER BY sensor_id"
        )
    table = Table(title="QuestDB: readings per demo sensor")
    for col in result.columns:
        table.add_column(col)
    for row in result.rows:
        table.add_row(*(str(v) for v in row))
    console.print(table)
    console.print(f"done in {time.monotonic() - started:.1f} s. QuestDB console: {settings.questdb_http_url}")
    if not keep_running:
        manager.down(settings, report=lambda line: console.print(f"[dim]•[/] {line}"))
    else:
        console.print("servers are still running; stop them with `lifeline services down`")
