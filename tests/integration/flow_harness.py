"""Helpers for the dataflow's integration tests: isolated topics and tables, the flow as a subprocess,
reading a topic to its end, and a comparable snapshot of what QuestDB holds."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import IO, Any

from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

from lifeline.codec import decode_alert_event
from lifeline.connectors.bootstrap import apply_schema
from lifeline.connectors.kafka import ensure_topics, read_to_end
from lifeline.connectors.questdb import QuestDB
from lifeline.models import AlertEvent
from lifeline.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def isolated(services: Settings, tag: str, tmp: Path, partitions: int = 4, **extra: Any) -> Settings:
    """Settings with their own topics, table prefix and recovery folder; schema created."""
    settings = services.with_overrides(
        readings_topic=f"{tag}.readings", alerts_topic=f"{tag}.alerts", dlq_topic=f"{tag}.dlq",
        readings_partitions=partitions, questdb_table_prefix=f"{tag.replace('.', '_').replace('-', '_')}_",
        recovery_dir=tmp / f"recovery-{tag}", metrics_port=0, epoch_interval_s=1.0, **extra,
    )  # fmt: skip
    apply_schema(settings)
    return settings


def environment(settings: Settings) -> dict[str, str]:
    """The settings as LIFELINE_* environment variables, for a flow subprocess."""
    return settings.environment()


def produce_scenario(settings: Settings, scenario: Any) -> int:
    """Send every message of a simulator scenario (bad messages included) to the readings topic."""
    from lifeline.simulators.output import produce_scenario as produce

    return produce(scenario, settings).readings


def run_flow(settings: Settings, registry: Path, *, workers: int = 1, timeout_s: float = 300) -> None:
    """Run ``lifeline run --stop-at-end`` in a subprocess to completion."""
    proc = start_flow(settings, registry, workers=workers)
    try:
        code = proc.wait(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, f"flow exited with {code}"


def start_flow(
    settings: Settings, registry: Path, *, workers: int = 1, live: bool = False, output: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """Start the flow (recovery on) in a subprocess: finite unless ``live`` (then it runs until stopped).
    ``output``: a file for its stdout and stderr (default: the test's own)."""
    argv = [sys.executable, "-m", "lifeline.cli", "run", "--registry", str(registry), "-w", str(workers)]
    if not live:
        argv.append("--stop-at-end")
    return subprocess.Popen(argv, env=environment(settings), cwd=ROOT, stdout=output, stderr=output)


def read_topic(settings: Settings, topic: str) -> list[bytes]:
    """Every message value of ``topic`` from the beginning to its current end."""
    return read_to_end(settings, topic)


def alert_events(settings: Settings) -> list[AlertEvent]:
    """Decoded events of the alerts topic."""
    return [decode_alert_event(v) for v in read_topic(settings, settings.alerts_topic)]


def questdb_contents(settings: Settings) -> dict[str, Counter[tuple[Any, ...]]]:
    """What the run's tables hold, as multisets of rows (comparable between runs)."""
    queries = {
        "readings": "SELECT sensor_id, ts, value FROM {t}",
        "sensor_stats": "SELECT sensor_id, ts, window_s, count, round(mean, 9), round(max, 9), round(min, 9) FROM {t}",
        "alert_events": "SELECT alert_id, event, ts, tier, kind, asset_id FROM {t}",
        "rejects": "SELECT reason, sensor_id, kafka_partition, kafka_offset, item FROM {t}",
    }
    out: dict[str, Counter[tuple[Any, ...]]] = {}
    with QuestDB(settings) as db:
        for table, sql in queries.items():
            db.wait_for_wal(table, timeout_s=60)
            rows = db.exec(sql.format(t=db.table(table)) + " LIMIT 5000000").rows
            out[table] = Counter(tuple(r) for r in rows)
    return out


def ensure_readings_topic(settings: Settings) -> None:
    """Create the run's topics (schema apply already did; kept for explicitness)."""
    ensure_topics(settings, [NewTopic(settings.readings_topic, num_partitions=settings.readings_partitions,
                                      replication_factor=1)])  # fmt: skip
