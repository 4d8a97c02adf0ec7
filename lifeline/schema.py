"""Topic names and QuestDB table schemas, defined once for the whole project.

Every table has a designated timestamp, daily partitions, WAL and ``DEDUP UPSERT KEYS``, so that
writing the same row twice (a replay after a crash) leaves exactly one copy.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TABLES", "Table", "topic_names"]


@dataclass(frozen=True, slots=True)
class Table:
    """A QuestDB table: its name, columns, designated timestamp and de-duplication keys."""

    name: str
    columns: tuple[tuple[str, str], ...]
    timestamp: str
    dedup_keys: tuple[str, ...]
    description: str
    partition_by: str = "DAY"

    def create_sql(self, prefix: str = "") -> str:
        """``CREATE TABLE IF NOT EXISTS`` statement for this table (``prefix`` isolates test runs)."""
        cols = ", ".join(f"{name} {sql_type}" for name, sql_type in self.columns)
        keys = ", ".join(self.dedup_keys)
        return (
            f"CREATE TABLE IF NOT EXISTS {prefix}{self.name} ({cols}) TIMESTAMP({self.timestamp}) "
            f"PARTITION BY {self.partition_by} WAL DEDUP UPSERT KEYS({keys})"
        )

    @property
    def column_names(self) -> tuple[str, ...]:
        """Names of all columns, in order."""
        return tuple(name for name, _ in self.columns)


READINGS = Table(
    name="readings",
    columns=(
        ("sensor_id", "SYMBOL CAPACITY 131072 CACHE"),
        ("asset_id", "SYMBOL CAPACITY 65536 CACHE"),
        ("lifeline", "SYMBOL CAPACITY 8 CACHE"),
        ("value", "DOUBLE"),
        ("quality", "INT"),
        ("ts", "TIMESTAMP"),
    ),
    timestamp="ts",
    dedup_keys=("ts", "sensor_id"),
    description="every accepted reading (or a down-sampled copy for high-rate channels)",
)

SENSOR_STATS = Table(
    name="sensor_stats",
    columns=(
        ("sensor_id", "SYMBOL CAPACITY 131072 CACHE"),
        ("asset_id", "SYMBOL CAPACITY 65536 CACHE"),
        ("lifeline", "SYMBOL CAPACITY 8 CACHE"),
        ("window_s", "INT"),
        ("count", "LONG"),
        ("mean", "DOUBLE"),
        ("min", "DOUBLE"),
        ("max", "DOUBLE"),
        ("std", "DOUBLE"),
        ("slope_per_h", "DOUBLE"),
        ("last", "DOUBLE"),
        ("ts", "TIMESTAMP"),
    ),
    timestamp="ts",
    dedup_keys=("ts", "sensor_id", "window_s"),
    description="window statistics per sensor; ts is the window start",
)

ALERT_EVENTS = Table(
    name="alert_events",
    columns=(
        ("alert_id", "SYMBOL CAPACITY 65536 CACHE"),
        ("event", "SYMBOL CAPACITY 16 CACHE"),
        ("tier", "INT"),
        ("lifeline", "SYMBOL CAPACITY 8 CACHE"),
        ("kind", "SYMBOL CAPACITY 32 CACHE"),
        ("asset_id", "SYMBOL CAPACITY 65536 CACHE"),
        ("owner", "SYMBOL CAPACITY 1024 CACHE"),
        ("district", "SYMBOL CAPACITY 1024 CACHE"),
        ("sensor_ids", "VARCHAR"),
        ("started_at", "TIMESTAMP"),
        ("value", "DOUBLE"),
        ("score", "DOUBLE"),
        ("evidence", "VARCHAR"),
        ("actor", "VARCHAR"),
        ("comment", "VARCHAR"),
        ("ts", "TIMESTAMP"),
        ("location", "VARCHAR"),  # added later: last, where ALTER TABLE puts it on an older table
    ),
    timestamp="ts",
    dedup_keys=("ts", "alert_id", "event"),
    description="alert lifecycle events (opened, escalated, de-escalated, updated, cleared, acknowledged, resolved)",
)

REJECTS = Table(
    name="rejects",
    columns=(
        ("reason", "SYMBOL CAPACITY 64 CACHE"),
        ("sensor_id", "SYMBOL CAPACITY 131072 CACHE"),
        ("topic", "SYMBOL CAPACITY 16 CACHE"),
        ("kafka_partition", "INT"),
        ("kafka_offset", "LONG"),
        ("item", "INT"),
        ("detail", "VARCHAR"),
        ("payload", "VARCHAR"),
        ("ts", "TIMESTAMP"),
    ),
    timestamp="ts",
    dedup_keys=("ts", "topic", "kafka_partition", "kafka_offset", "item"),
    description="every rejected input with its reason code and original payload (mirror of the DLQ)",
)

NOTIFICATIONS = Table(
    name="notifications",
    columns=(
        ("alert_id", "SYMBOL CAPACITY 65536 CACHE"),
        ("event", "SYMBOL CAPACITY 16 CACHE"),
        ("contact", "SYMBOL CAPACITY 4096 CACHE"),
        ("channel", "SYMBOL CAPACITY 16 CACHE"),
        ("tier", "INT"),
        ("level", "INT"),
        ("status", "SYMBOL CAPACITY 16 CACHE"),
        ("attempts", "INT"),
        ("detail", "VARCHAR"),
        ("sent_at", "TIMESTAMP"),
        ("ts", "TIMESTAMP"),
    ),
    timestamp="ts",
    dedup_keys=("ts", "alert_id", "event", "contact"),
    description=(
        "notifier delivery log: one row per (alert, event, contact) delivery outcome; ts = the alert event's "
        "time, sent_at = when the last attempt ended (the send time of a sent notice)"
    ),
)

WORK_ORDER_EVENTS = Table(
    name="work_order_events",
    columns=(
        ("order_id", "SYMBOL CAPACITY 65536 CACHE"),
        ("alert_id", "SYMBOL CAPACITY 65536 CACHE"),
        ("event", "SYMBOL CAPACITY 16 CACHE"),
        ("state", "SYMBOL CAPACITY 16 CACHE"),
        ("team", "SYMBOL CAPACITY 4096 CACHE"),
        ("owner", "SYMBOL CAPACITY 1024 CACHE"),
        ("deadline", "TIMESTAMP"),
        ("actor", "VARCHAR"),
        ("comment", "VARCHAR"),
        ("ts", "TIMESTAMP"),
    ),
    timestamp="ts",
    dedup_keys=("ts", "order_id", "event"),
    description="work order lifecycle events (dispatched, accepted, on_site, handled, verified, overdue)",
)

TABLES: tuple[Table, ...] = (READINGS, SENSOR_STATS, ALERT_EVENTS, REJECTS, NOTIFICATIONS, WORK_ORDER_EVENTS)


def topic_names(readings: str, alerts: str, dlq: str) -> dict[str, str]:
    """Map of topic role → name, as configured."""
    return {"readings": readings, "alerts": alerts, "dlq": dlq}
