"""Kafka helpers: tuned client configs, topic creation, and small produce/consume utilities.

Settings that were measured to matter (docs/architecture.md#performance-notes) are the defaults here:
``fetch.queue.backoff.ms`` is lowered from librdkafka's 1000 ms so a catching-up consumer is not
throttled, and the producer is idempotent so retries never duplicate a message.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from lifeline.settings import Settings

__all__ = [
    "consumer_config",
    "ensure_topics",
    "make_consumer",
    "make_producer",
    "producer_config",
    "read_to_end",
    "topic_specs",
]


def producer_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """An idempotent, batching producer configuration."""
    return {
        "bootstrap.servers": settings.bootstrap_servers,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "batch.size": 1_000_000,
        "compression.type": "lz4",
        "queue.buffering.max.messages": 2_000_000,
        "queue.buffering.max.kbytes": 1_048_576,
        **overrides,
    }


def consumer_config(settings: Settings, group_id: str, **overrides: Any) -> dict[str, Any]:
    """A consumer configuration tuned for catching up fast (no fetch back-off, no auto commit)."""
    return {
        "bootstrap.servers": settings.bootstrap_servers,
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "fetch.queue.backoff.ms": 10,
        "fetch.min.bytes": 1,
        "fetch.wait.max.ms": 10,
        "queued.max.messages.kbytes": 262_144,
        **overrides,
    }


def make_producer(settings: Settings, **overrides: Any) -> Producer:
    """A producer with :func:`producer_config`."""
    return Producer(producer_config(settings, **overrides))


def make_consumer(settings: Settings, group_id: str, **overrides: Any) -> Consumer:
    """A consumer with :func:`consumer_config`."""
    return Consumer(consumer_config(settings, group_id, **overrides))


def topic_specs(settings: Settings) -> list[NewTopic]:
    """The project's topics: readings (N partitions), alerts and DLQ."""
    return [
        NewTopic(settings.readings_topic, num_partitions=settings.readings_partitions, replication_factor=1),
        NewTopic(settings.alerts_topic, num_partitions=1, replication_factor=1),
        NewTopic(settings.dlq_topic, num_partitions=1, replication_factor=1),
    ]


def ensure_topics(settings: Settings, topics: Iterable[NewTopic] | None = None) -> list[str]:
    """Create missing topics; return the names that were created (existing ones are left as they are)."""
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    wanted = list(topics if topics is not None else topic_specs(settings))
    existing = set(admin.list_topics(timeout=10).topics)
    missing = [t for t in wanted if t.topic not in existing]
    if not missing:
        return []
    created: list[str] = []
    for name, future in admin.create_topics(missing, operation_timeout=30).items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
    return created


def read_to_end(settings: Settings, topic: str, timeout_s: float = 60.0) -> list[bytes]:
    """Every message value of ``topic``, from the beginning to its end as it is now, partition by partition."""
    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": "lifeline-reader",
                         "enable.auto.commit": False, "enable.partition.eof": True})  # fmt: skip
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return []
        wanted: dict[int, int] = {}
        assignment = []
        for partition in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            if high > low:
                wanted[partition] = high
                assignment.append(TopicPartition(topic, partition, low))
        values: list[bytes] = []
        if not assignment:
            return values
        consumer.assign(assignment)
        deadline = time.monotonic() + timeout_s
        while wanted and time.monotonic() < deadline:
            for message in consumer.consume(1000, timeout=0.5):
                if message.error() is not None:
                    continue
                partition, offset = message.partition(), message.offset()
                if partition in wanted and offset is not None:
                    values.append(message_value(message))
                    if offset + 1 >= wanted[partition]:
                        del wanted[partition]
        return values
    finally:
        consumer.close()


def message_value(message: Message) -> bytes:
    """The payload of a consumed message (empty bytes for a tombstone)."""
    value = message.value()
    return b"" if value is None else bytes(value)
