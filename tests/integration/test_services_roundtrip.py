"""The foundation's promises on the real servers: Kafka round trip, ILP → SQL, de-duplication."""

import time

from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]
from questdb import TimestampNanos

from lifeline.codec import decode_reading_message, encode
from lifeline.connectors.kafka import ensure_topics, make_consumer, make_producer
from lifeline.connectors.questdb import QuestDB
from lifeline.connectors.services import manager
from lifeline.models import Reading
from lifeline.settings import Settings


def test_status_reports_both_servers_healthy_and_up_is_idempotent(services: Settings) -> None:
    before = {s.name: s.pid for s in manager.status(services)}
    assert all(s.healthy for s in manager.status(services))
    lines: list[str] = []
    again = manager.up(services, report=lines.append)
    assert {s.name: s.pid for s in again} == before  # nothing restarted
    assert any("already running" in line for line in lines)


def test_topics_exist_with_configured_partitions(services: Settings) -> None:
    from confluent_kafka.admin import AdminClient

    topics = AdminClient({"bootstrap.servers": services.bootstrap_servers}).list_topics(timeout=10).topics
    assert len(topics[services.readings_topic].partitions) == services.readings_partitions
    assert services.alerts_topic in topics
    assert services.dlq_topic in topics


def test_produce_then_consume_readings(services: Settings, unique: str) -> None:
    topic = f"test.roundtrip.{unique}"
    ensure_topics(services, [NewTopic(topic, num_partitions=3, replication_factor=1)])
    sent = [Reading(f"S-{i % 7}", 1_700_000_000_000 + i, float(i)) for i in range(500)]
    producer = make_producer(services)
    for r in sent:
        producer.produce(topic, key=r.sensor_id.encode(), value=encode(r))
    assert producer.flush(30) == 0
    consumer = make_consumer(services, group_id=f"g-{unique}")
    consumer.subscribe([topic])
    received: list[Reading] = []
    deadline = time.monotonic() + 60
    while len(received) < len(sent) and time.monotonic() < deadline:
        for message in consumer.consume(500, timeout=0.5):
            assert message.error() is None
            decoded = decode_reading_message(message.value() or b"")
            assert isinstance(decoded, Reading)
            received.append(decoded)
    consumer.close()
    assert sorted(received, key=lambda r: r.ts) == sent


def _write_rows(db: QuestDB, rows: list[tuple[str, int, float]]) -> None:
    with db.sender() as sender:
        for sensor_id, ts, value in rows:
            sender.row(
                "readings",
                symbols={"sensor_id": sensor_id, "asset_id": "A-1", "lifeline": "gas"},
                columns={"value": value},
                at=TimestampNanos(ts * 1_000_000),
            )
        sender.flush()


def test_ilp_rows_read_back_over_sql_and_rewrite_keeps_one_copy(services: Settings, unique: str) -> None:
    sensor = f"T-{unique}"
    rows = [(sensor, 1_600_000_000_000 + i * 60_000, 1.5 * i) for i in range(100)]
    with QuestDB(services) as db:
        _write_rows(db, rows)
        db.wait_for_wal("readings")
        http = db.exec(f"SELECT count(), sum(value) FROM readings WHERE sensor_id = '{sensor}'").rows  # noqa: S608
        assert http[0][0] == 100
        assert abs(http[0][1] - sum(v for _, _, v in rows)) < 1e-9
        # write the very same rows again (a replay after a crash), plus one changed value
        _write_rows(db, [*rows, (sensor, rows[0][1], 99.0)])
        db.wait_for_wal("readings")
        result = db.query("SELECT count() FROM readings WHERE sensor_id = %s", (sensor,))
        assert result.rows[0][0] == 100  # DEDUP UPSERT KEYS(ts, sensor_id): still one copy per row
        first = db.query("SELECT value FROM readings WHERE sensor_id = %s ORDER BY ts LIMIT 1", (sensor,))
        assert first.rows == [[99.0]]  # and the upsert kept the newest value for that key
