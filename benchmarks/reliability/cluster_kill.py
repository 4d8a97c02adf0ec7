"""Reliability scenario ``cluster_kill``: ``lifeline run -p 2 --stop-at-end`` survives a lost process.

A replay is run twice from the same topic: once uninterrupted (the reference), once while cluster
processes are SIGKILLed mid-run (``ci``: once; ``full``: three times), each time at a random moment
up to 2 s after the fresh cluster has stored new rows. The single supervised command must end with 0
after restarting the cluster from its last snapshot, and its QuestDB rows (readings, window
statistics, alert events, rejects) and the alert events on Kafka must equal the reference's. Only
flow processes are killed, so already-running servers may be reused (``services``); otherwise
private ones are started.

Figures: kills, restarts (from the supervisor's log), seconds of both runs, rows and alert events
compared and whether they are equal.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.reliability.outcome import Outcome, Size
from lifeline.connectors.bootstrap import apply_schema
from lifeline.connectors.kafka import read_to_end
from lifeline.connectors.questdb import QuestDB
from lifeline.settings import Settings

__all__ = ["run"]

SCENARIO = "cluster_kill"
SIZES: dict[str, dict[str, Any]] = {
    "ci": {"hours": 4.0, "kills": 1},
    "full": {"hours": 24.0, "kills": 3},
}
TABLE_QUERIES = {
    "readings": "SELECT sensor_id, ts, value FROM {t}",
    "sensor_stats": "SELECT sensor_id, ts, window_s, count, round(mean, 9), round(max, 9), round(min, 9) FROM {t}",
    "alert_events": "SELECT alert_id, event, ts, tier, kind, asset_id FROM {t}",
    "rejects": "SELECT reason, sensor_id, kafka_partition, kafka_offset, item FROM {t}",
}
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class _Run:
    code: int
    seconds: float
    kills: int
    restarts: int
    tables: dict[str, Counter[tuple[Any, ...]]]
    alerts: set[tuple[Any, ...]]  # Kafka output is at-least-once: a replayed event is the same event


def run(
    *, size: Size, workdir: Path, report: Callable[[str], None] = print, services: Settings | None = None,
    seed: int = 20261203,
) -> Outcome:  # fmt: skip
    """Run the scenario at ``size`` in ``workdir`` (on ``services`` if given, else on private servers)."""
    with ExitStack() as stack:
        if services is None:
            from benchmarks._servers import real_servers

            services = stack.enter_context(real_servers())
        return _run(services, size, workdir, report, random.Random(seed))


def _run(services: Settings, size: Size, workdir: Path, report: Callable[[str], None], rng: random.Random) -> Outcome:
    from lifeline.simulators.output import produce_scenario
    from lifeline.simulators.scenarios import build

    plan = SIZES[size]
    tag = f"ck{rng.randrange(16**6):06x}"
    scenario = build("storm-day", seed=11, duration_s=plan["hours"] * 3600)
    registry = workdir / "registry.csv"
    scenario.write_registry(registry)
    reference = _settings(services, f"{tag}.ref", workdir)
    sent = produce_scenario(scenario, reference).readings
    report(f"{SCENARIO}: {sent:,} readings in {reference.readings_topic}; reference run (-p 2, uninterrupted)")
    ref = _supervised_run(reference, registry, workdir / "reference.log", kills=0, rng=rng)
    report(f"{SCENARIO}: reference done in {ref.seconds:.1f} s; run with {plan['kills']} kill(s)")
    killed_settings = _settings(services, f"{tag}.kill", workdir, readings_topic=reference.readings_topic)
    killed = _supervised_run(killed_settings, registry, workdir / "killed.log", kills=plan["kills"], rng=rng)
    report(f"{SCENARIO}: killed run done in {killed.seconds:.1f} s, {killed.kills} kill(s), "
           f"{killed.restarts} restart(s)")  # fmt: skip
    return Outcome(SCENARIO, _figures(ref, killed), _problems(ref, killed, plan["kills"], workdir))


def _settings(services: Settings, tag: str, workdir: Path, **extra: Any) -> Settings:
    """Own topics, tables and recovery store; otherwise the defaults (alerts never depend on read speed)."""
    overrides: dict[str, Any] = {
        "readings_topic": f"{tag}.readings", "alerts_topic": f"{tag}.alerts", "dlq_topic": f"{tag}.dlq",
        "questdb_table_prefix": f"{tag.replace('.', '_')}_", "recovery_dir": workdir / f"recovery-{tag}",
        "metrics_port": 0, "epoch_interval_s": 1.0, "store_readings": "all",
        "supervise_backoff_s": 0.5,
    }  # fmt: skip
    settings = services.with_overrides(**(overrides | extra))
    apply_schema(settings)
    return settings


def _supervised_run(settings: Settings, registry: Path, log: Path, *, kills: int, rng: random.Random) -> _Run:
    """``lifeline run -p 2 --stop-at-end`` to its end, SIGKILLing a cluster process ``kills`` times."""
    argv = [sys.executable, "-m", "lifeline.cli", "run", "--registry", str(registry), "-p", "2", "--stop-at-end"]
    started = time.monotonic()
    done = 0
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=settings.environment(), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            seen: set[int] = set()
            while done < kills and _kill_one(proc, settings, seen, rng=rng):
                done += 1
            code = proc.wait(timeout=900)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    seconds = time.monotonic() - started
    restarts = log.read_text(encoding="utf-8", errors="replace").count("cluster restart ")
    return _Run(code, seconds, done, restarts, _tables(settings), _alerts(settings))


def _kill_one(proc: subprocess.Popen[bytes], settings: Settings, seen: set[int], *, rng: random.Random) -> bool:
    """Wait for a fresh cluster to make progress (more stored readings than when it appeared), then
    SIGKILL one of its processes at a random moment up to 2 s later. False if the run ended first."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        fresh = [pid for pid in child_pids(proc.pid) if pid not in seen]
        if len(fresh) == 2:
            seen.update(fresh)
            if not _wait_for_progress(settings, proc):
                return False
            time.sleep(rng.uniform(0.0, 2.0))
            try:
                os.kill(rng.choice(fresh), signal.SIGKILL)
            except ProcessLookupError:
                return False
            return True
        time.sleep(0.05)
    return False


def _wait_for_progress(settings: Settings, proc: subprocess.Popen[bytes]) -> bool:
    """True once the readings table holds more rows than now (the cluster has committed an epoch of new
    work); False if the run ends first."""
    with QuestDB(settings) as db:
        before = db.count("readings")
        while proc.poll() is None:
            if db.count("readings") > before:
                return True
            time.sleep(0.1)
    return False


def child_pids(pid: int) -> list[int]:
    """The direct children of process ``pid`` (Linux ``/proc``)."""
    path = Path("/proc") / str(pid) / "task" / str(pid) / "children"
    try:
        return [int(p) for p in path.read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def _tables(settings: Settings) -> dict[str, Counter[tuple[Any, ...]]]:
    out: dict[str, Counter[tuple[Any, ...]]] = {}
    with QuestDB(settings) as db:
        for table, sql in TABLE_QUERIES.items():
            db.wait_for_wal(table, timeout_s=60)
            out[table] = Counter(tuple(r) for r in db.exec(sql.format(t=db.table(table)) + " LIMIT 5000000").rows)
    return out


def _alerts(settings: Settings) -> set[tuple[Any, ...]]:
    from lifeline.codec import decode_alert_event

    events = (decode_alert_event(v) for v in read_to_end(settings, settings.alerts_topic))
    return {(a.alert_id, a.event.value, a.ts, int(a.tier)) for a in events}


def _figures(ref: _Run, killed: _Run) -> dict[str, int | float | str]:
    return {
        "kills": killed.kills,
        "restarts": killed.restarts,
        "seconds": round(killed.seconds, 1),
        "reference_s": round(ref.seconds, 1),
        "rows": sum(sum(t.values()) for t in ref.tables.values()),
        "alert_events": len(ref.alerts),
        "rows_equal": "yes" if ref.tables == killed.tables else "no",
        "alerts_equal": "yes" if ref.alerts == killed.alerts else "no",
    }


def _problems(ref: _Run, killed: _Run, kills: int, workdir: Path) -> list[str]:
    problems = [f"{name} run exited with {run.code} (log: {workdir / name}.log)"
                for name, run in (("reference", ref), ("killed", killed)) if run.code != 0]  # fmt: skip
    if killed.kills < kills:
        problems.append(f"only {killed.kills} of {kills} kill(s) landed before the run ended")
    if killed.restarts < killed.kills:
        problems.append(f"{killed.kills} kill(s) but {killed.restarts} cluster restart(s) logged")
    if not ref.alerts or sum(ref.tables["readings"].values()) == 0:
        problems.append("the reference produced no alerts or no readings: nothing to compare")
    for table, rows in ref.tables.items():
        missing, extra = rows - killed.tables[table], killed.tables[table] - rows
        if missing or extra:
            problems.append(f"{table}: {sum(missing.values())} missing, {sum(extra.values())} extra, "
                            f"e.g. {sorted(missing)[:2]} / {sorted(extra)[:2]}")  # fmt: skip
    if ref.alerts != killed.alerts:
        problems.append(f"alert events differ: {len(ref.alerts - killed.alerts)} missing, "
                        f"{len(killed.alerts - ref.alerts)} extra")  # fmt: skip
    return problems
