"""Prometheus metrics of the API, in a registry of their own (one per app, so tests can build many)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["ApiMetrics"]


class ApiMetrics:
    """Counters and gauges served at ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events_ingested = Counter("lifeline_api_alert_events_ingested", "alert events read from Kafka", registry=r)
        self.events_duplicate = Counter(
            "lifeline_api_alert_events_duplicate", "alert messages skipped as already seen (at-least-once)", registry=r
        )
        self.events_malformed = Counter("lifeline_api_alert_events_malformed", "undecodable alert messages", registry=r)
        self.active_alerts = Gauge("lifeline_api_active_alerts", "alerts open or acknowledged", registry=r)
        self.ws_clients = Gauge("lifeline_api_ws_clients", "connected websocket subscribers", registry=r)
        self.ws_frames = Counter("lifeline_api_ws_frames_sent", "websocket frames sent", registry=r)
        self.ws_dropped = Counter("lifeline_api_ws_events_dropped", "live events dropped (slow clients)", registry=r)
        self.ws_slow_disconnects = Counter(
            "lifeline_api_ws_slow_disconnects", "clients disconnected for being too slow", registry=r
        )
        self.ws_auth_failures = Counter("lifeline_api_ws_auth_failures", "websocket auth failures", registry=r)
        self.lifecycle_writes = Counter(
            "lifeline_api_lifecycle_events_written", "acknowledge/resolve events written", ["event"], registry=r
        )
        self.ingest_lag = Histogram(
            "lifeline_api_alert_ingest_lag_seconds",
            "time from an alert event's Kafka timestamp to the hub applying it (before websocket fan-out)",
            buckets=(0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 30.0, 300.0),
            registry=r,
        )
        self.http_latency = Histogram(
            "lifeline_api_http_request_seconds", "REST request latency", ["route", "method", "status"], registry=r
        )
