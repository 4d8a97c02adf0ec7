"""A change no rule catches, found by the group model end to end on real Kafka and QuestDB.

Fourteen days of window statistics of a DMA's five pressure loggers are written to ``sensor_stats`` (the
flow's own table); the flow starts with ``--warm-start 14d`` and reads twelve hours of live readings in
which three loggers lose 5 kPa (0.005 MPa) — a tenth of the smallest pressure-drop rule (50 kPa or 15 %).
The flow must raise an ``anomaly`` alert for the DMA naming moved loggers, in Kafka and in QuestDB, and
no rule alert.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from questdb import TimestampNanos

from lifeline.connectors.kafka import make_producer
from lifeline.connectors.questdb import QuestDB
from lifeline.models import AlertEventType, AlertKind, SensorKind, SensorSpec, Tier
from lifeline.registry import write_registry
from lifeline.settings import Settings
from tests.integration.flow_harness import ROOT, alert_events, environment, isolated

pytestmark = [pytest.mark.e2e]

LOGGERS = [f"IT-P{i}" for i in range(5)]
DROPPED = LOGGERS[:3]
WINDOW_MS = 600_000
INTERVAL_MS = 300_000
DROP_MPA = 0.005
READING_NOISE = 0.0028  # two readings a window: window means vary by 0.002


def level(sensor: int, ts_ms: np.ndarray) -> np.ndarray:
    """The DMA's normal pressure: 0.30 MPa + a per-logger offset + a daily swing of ±30 kPa (night high)."""
    hours = ts_ms / 3_600_000.0 + 8.0
    return 0.30 + 0.01 * sensor + 0.03 * (0.8 + 0.1 * sensor) * np.cos(2 * math.pi * (hours - 3.0) / 24.0)


def write_history(settings: Settings, start_ms: int, end_ms: int) -> int:
    """Window statistics of every logger from ``start_ms`` to ``end_ms`` into ``sensor_stats``."""
    rng = np.random.default_rng(20)
    starts = np.arange(start_ms, end_ms, WINDOW_MS, dtype=np.int64)
    rows = 0
    with QuestDB(settings) as db, db.sender() as sender:
        table = db.table("sensor_stats")
        for i, sensor_id in enumerate(LOGGERS):
            means = level(i, starts + WINDOW_MS // 2) + rng.normal(0.0, READING_NOISE / math.sqrt(2), starts.shape)
            for ws, mean in zip(starts.tolist(), means.tolist(), strict=True):
                sender.row(
                    table, symbols={"sensor_id": sensor_id, "asset_id": f"IT-A{i}", "lifeline": "water"},
                    columns={"window_s": 600, "count": 2, "mean": mean, "min": mean - 0.002, "max": mean + 0.002,
                             "std": 0.002, "slope_per_h": 0.0, "last": mean},
                    at=TimestampNanos(ws * 1_000_000),
                )  # fmt: skip
                rows += 1
        sender.flush()
        db.wait_for_wal("sensor_stats", timeout_s=60)
    return rows


def produce_live(settings: Settings, start_ms: int, end_ms: int, drop_from_ms: int) -> None:
    """Readings every 5 min; the three ``DROPPED`` loggers lose ``DROP_MPA`` from ``drop_from_ms`` on."""
    rng = np.random.default_rng(21)
    times = np.arange(start_ms, end_ms, INTERVAL_MS, dtype=np.int64)
    producer = make_producer(settings)
    for i, sensor_id in enumerate(LOGGERS):
        values = level(i, times) + rng.normal(0.0, READING_NOISE, times.shape)
        if sensor_id in DROPPED:
            values = values - DROP_MPA * (times >= drop_from_ms)
        for ts, value in zip(times.tolist(), values.tolist(), strict=True):
            producer.produce(settings.readings_topic, b'{"sensor_id":"%s","ts":%d,"value":%.6f}'
                             % (sensor_id.encode(), ts, value), sensor_id.encode())  # fmt: skip
        producer.poll(0)
    assert producer.flush(30) == 0


def test_a_small_drop_at_three_loggers_becomes_an_anomaly_alert(services: Settings, tmp_path: Path) -> None:
    settings = isolated(services, "group-anomaly", tmp_path, partitions=2)
    specs = [SensorSpec(s, SensorKind.WATER_PRESSURE, f"IT-A{i}", "water-co", "baohe", 31.8, 117.2,
                        group_id="IT-DMA", maintainer="water-devices", interval_s=300)
             for i, s in enumerate(LOGGERS)]  # fmt: skip
    registry = tmp_path / "registry.csv"
    write_registry(specs, registry)
    now = int(time.time() * 1000)
    live_start = now - now % WINDOW_MS - 12 * 3_600_000
    drop_from = live_start + 4 * 3_600_000
    assert write_history(settings, live_start - 14 * 86_400_000, live_start) == 5 * 14 * 144
    produce_live(settings, live_start, live_start + 12 * 3_600_000, drop_from)

    argv = [sys.executable, "-m", "lifeline.cli", "run", "--registry", str(registry), "--stop-at-end",
            "--warm-start", "14d"]  # fmt: skip
    done = subprocess.run(argv, env=environment(settings), cwd=ROOT, timeout=300, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "warm start" in done.stderr and "1 group model(s)" in done.stderr

    events = alert_events(settings)
    opened = [e for e in events if e.event is AlertEventType.OPENED]
    anomalies = [e for e in opened if e.kind is AlertKind.ANOMALY]
    assert anomalies, f"no anomaly alert; events: {[(e.kind, e.event) for e in events]}"
    # a logger's own baseline may also open a (per-sensor) anomaly on the drop; the group model's alert is the DMA's
    of_group = [e for e in anomalies if e.asset_id == "IT-DMA"]
    assert of_group, f"no anomaly alert of the DMA; anomalies on {[e.asset_id for e in anomalies]}"
    first = of_group[0]
    assert first.asset_id == "IT-DMA" and first.tier is Tier.T3 and first.owner == "water-co"
    assert first.started_at >= drop_from, "an anomaly before the change"
    assert first.started_at - drop_from <= 3 * 3_600_000
    assert set(first.sensor_ids) & set(DROPPED)
    assert "expected" in first.evidence and "moved:" in first.evidence
    assert not [e for e in opened if e.kind is not AlertKind.ANOMALY], "a rule fired: the change is not subtle"

    with QuestDB(settings) as db:
        db.wait_for_wal("alert_events", timeout_s=60)
        rows = db.query(
            f"SELECT alert_id, kind, asset_id, tier FROM {db.table('alert_events')} WHERE event = 'opened'"  # noqa: S608
        ).rows
    assert [first.alert_id, "anomaly", "IT-DMA", 3] in [list(r) for r in rows]
