"""Prometheus metrics of the dataflow (served by ``lifeline run`` on ``LIFELINE_METRICS_PORT``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

READINGS = Counter("lifeline_readings_total", "Readings accepted by validation")
REJECTS = Counter("lifeline_rejects_total", "Inputs sent to the DLQ", ["reason"])
ALERT_EVENTS = Counter("lifeline_alert_events_total", "Alert lifecycle events emitted", ["tier", "kind", "event"])
FINDINGS = Counter("lifeline_findings_total", "Sensor-level findings handed to correlation")
LATE_FINDINGS = Gauge(
    "lifeline_late_findings",
    "Findings that reached correlation behind the watermark (an idle partition received old data, or a stalled "
    "one recovered, see LIFELINE_PARTITION_STALL_S); they are applied at once, so alerts stay complete but may "
    "differ in timing from an unhurried replay",
)
PARTITION_STALLS = Counter(
    "lifeline_partition_stalls_total",
    "Partitions declared stalled (messages waiting, none delivered for LIFELINE_PARTITION_STALL_S); alerts stopped "
    "waiting for them",
    ["partition"],
)
DETECTOR_ERRORS = Gauge(
    "lifeline_detector_errors", "Detector or correlation calls that raised (logged with sensor/group, step, offset)"
)
CONSUMER_LAG = Gauge("lifeline_consumer_lag_ms", "Event-to-processing delay of the newest batch", ["partition"])
PROCESSING = Histogram(
    "lifeline_processing_seconds",
    "Time from a batch's oldest Kafka timestamp to the end of its processing",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
QUESTDB_PENDING_ROWS = Gauge("lifeline_questdb_pending_rows", "Rows waiting to be flushed to QuestDB")
QUESTDB_ROWS = Counter("lifeline_questdb_rows_total", "Rows written to QuestDB")
QUESTDB_FLUSH_FAILURES = Counter("lifeline_questdb_flush_failures_total", "Failed QuestDB flushes (retried)")
KAFKA_DELIVERED = Counter("lifeline_kafka_delivered_total", "Messages delivered to Kafka", ["topic"])


def on_kafka_delivered(topic: str) -> None:
    """Delivery callback hook for the Kafka sink."""
    KAFKA_DELIVERED.labels(topic).inc()
