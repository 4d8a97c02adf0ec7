"""Two hosts, one link cut: a two-process Bytewax cluster across network namespaces (issue #12).

Two ``lifeline run`` processes, one per "host" (a Linux network namespace with its own address, see
``_namespaces``), form one Bytewax cluster (``-a A:port,B:port -i 0|1``, one worker each, a recovery
folder per host); Kafka and QuestDB run in the root namespace, listening on the root namespace's
address on the same private network. The reference is the same job uninterrupted, same layout.
In the measured run host B's cable is pulled mid-run (``ip link set … down``) for ``cut_s`` seconds
(10 s for ``ci``, 30 s for ``full``) and plugged back in. Then the cluster is supervised the way an
operator's supervisor on each host would: every process that exits with an error is noted, and when
one has, the remaining ones are stopped and the same command is started again on every host (a
Bytewax cluster cannot take back one lost process; all resume together from their recovery folders).
Passed when the job completes and the QuestDB rows (count and content hash per table) and the set
of ``(alert_id, event, ts, tier)`` on the alerts topic equal the reference's.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bytewax.recovery import init_db_dir

from benchmarks._servers import real_servers
from benchmarks.reliability._namespaces import Lan, lan
from benchmarks.reliability.outcome import Outcome, Size
from lifeline.codec import decode_alert_event
from lifeline.connectors.bootstrap import apply_schema
from lifeline.connectors.kafka import read_to_end
from lifeline.connectors.questdb import QuestDB
from lifeline.settings import Settings
from lifeline.simulators.output import produce_scenario
from lifeline.simulators.scenarios import build

__all__ = ["run"]

Report = Callable[[str], None]

HOSTS = ("a", "b")
CUT_HOST = "b"
CLUSTER_PORT = 2101  # each host has its own namespace, so one fixed port serves both
MAX_RESTARTS = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """How big the scenario is."""

    hours: float
    cut_s: float
    timeout_s: float


PLANS: dict[str, Plan] = {
    # 6 h: enough readings that the flow is still writing when the first rows become visible (with 2 h a fast
    # flow could store all of them in its first flush, and the cut came after the run)
    "ci": Plan(hours=6.0, cut_s=10.0, timeout_s=300.0),
    "full": Plan(hours=12.0, cut_s=30.0, timeout_s=900.0),
}

_QUERIES = {
    "readings": "SELECT sensor_id, ts, value FROM {t}",
    "sensor_stats": "SELECT sensor_id, ts, window_s, count, round(mean, 9), round(max, 9), round(min, 9) FROM {t}",
    "alert_events": "SELECT alert_id, event, ts, tier, kind, asset_id FROM {t}",
    "rejects": "SELECT reason, sensor_id, kafka_partition, kafka_offset, item FROM {t}",
}


@dataclass(frozen=True, slots=True)
class Outputs:
    """What a run left behind, comparable between runs."""

    tables: dict[str, tuple[int, str]]  # rows and a content hash per table
    alerts: frozenset[tuple[str, str, int, int]]  # (alert_id, event, ts, tier)


@dataclass(slots=True)
class ClusterRun:
    """How one cluster run went: wall time, every process exit seen, restarts made."""

    seconds: float = 0.0
    exits: list[str] = field(default_factory=list)
    restarts: int = 0
    completed: bool = False
    rows_at_cut: int = -1  # readings stored when the link went down / came back (-1: no cut)
    rows_at_restore: int = -1
    resume_s: float = -1.0  # from the link's return to the next readings stored (-1: none seen)


def run(*, size: Size, workdir: Path, report: Report = print) -> Outcome:
    """Run the reference and the cut run on private servers reachable from two host namespaces."""
    plan = PLANS[size]
    workdir.mkdir(parents=True, exist_ok=True)
    with lan(HOSTS) as net:
        report(f"netns: hosts {net.addresses}, servers on {net.root_address}")
        with real_servers(
            kafka_host=net.root_address, questdb_host=net.root_address, kafka_heap="512m", questdb_heap="768m",
        ) as servers:  # fmt: skip
            return _scenario(net, servers, plan, workdir, report)


def _scenario(net: Lan, servers: Settings, plan: Plan, workdir: Path, report: Report) -> Outcome:
    scenario = build("storm-day", seed=11, duration_s=plan.hours * 3600)
    registry = workdir / "registry.csv"
    scenario.write_registry(registry)
    base = servers.with_overrides(
        readings_topic="netns.readings", epoch_interval_s=1.0,
        store_readings="all", metrics_port=0,
    )  # fmt: skip
    apply_schema(base)
    readings = produce_scenario(scenario, base).readings
    report(f"netns: {readings} readings of storm-day ({plan.hours:g} h) produced")
    reference_settings = _isolated(base, "ref")
    reference = _run_cluster(net, reference_settings, registry, workdir / "ref", plan, cut=False, report=report)
    report(f"netns: reference run {reference.seconds:.1f} s, exits {reference.exits}")
    cut_settings = _isolated(base, "cut")
    cut = _run_cluster(net, cut_settings, registry, workdir / "cut", plan, cut=True, report=report)
    report(f"netns: cut run {cut.seconds:.1f} s, exits {cut.exits}, restarts {cut.restarts}")
    figures: dict[str, int | float | str] = {
        "readings": readings, "cut_s": plan.cut_s, "reference_s": round(reference.seconds, 1),
        "cut_run_s": round(cut.seconds, 1), "restarts": cut.restarts, "exits": "; ".join(cut.exits) or "none",
        "rows_at_cut": cut.rows_at_cut, "rows_at_restore": cut.rows_at_restore, "resume_s": round(cut.resume_s, 1),
    }  # fmt: skip
    problems = [f"reference run: {p}" for p in _run_problems(reference)] + [f"cut run: {p}" for p in _run_problems(cut)]
    problems += [f"cut run: {p}" for p in _recovery_problems(workdir / "cut")]
    if not problems:
        expected, got = _outputs(reference_settings), _outputs(cut_settings)
        figures["alerts"] = len(expected.alerts)
        figures.update({f"rows_{table}": rows for table, (rows, _) in expected.tables.items()})
        problems += _differences(expected, got)
    return Outcome("netns", figures, problems)


def _isolated(base: Settings, tag: str) -> Settings:
    settings = base.with_overrides(
        alerts_topic=f"netns.{tag}.alerts", dlq_topic=f"netns.{tag}.dlq", questdb_table_prefix=f"netns_{tag}_"
    )
    apply_schema(settings)
    return settings


def _run_problems(run: ClusterRun) -> list[str]:
    if run.completed:
        return []
    return [f"the job did not complete (exits: {'; '.join(run.exits) or 'none'}, restarts: {run.restarts})"]


def _run_cluster(
    net: Lan, settings: Settings, registry: Path, folder: Path, plan: Plan, *, cut: bool, report: Report
) -> ClusterRun:
    """Run the two-host job to completion, cutting host B's link once mid-run when ``cut``."""
    folder.mkdir(parents=True, exist_ok=True)
    _split_recovery_store(folder)
    outcome = ClusterRun()
    started = time.monotonic()
    deadline = started + plan.timeout_s
    for attempt in range(MAX_RESTARTS + 1):
        procs = {host: _start_host(net, host, settings, registry, folder, attempt) for host in HOSTS}
        if cut and attempt == 0:
            _cut_mid_run(net, settings, procs, plan, outcome, started, report)
        codes = _wait_cluster(procs, deadline, outcome, started)
        if all(code == 0 for code in codes.values()):
            outcome.completed = True
            break
        if time.monotonic() >= deadline:
            break
        outcome.restarts += 1
        report(f"netns: exit codes {codes}: restarting every host's process (restart {outcome.restarts})")
    outcome.seconds = time.monotonic() - started
    return outcome


def _split_recovery_store(folder: Path) -> None:
    """One recovery store of one partition per host, each host keeping its own partition in its own folder.

    What an operator does once before the first start: ``lifeline run`` on each host would otherwise
    create a complete one-partition store of its own, every host would hold "partition 0", and Bytewax
    would keep all state in just one of them (the other host's folder stays empty).
    """
    whole = folder / "recovery-store"
    whole.mkdir()
    init_db_dir(whole, len(HOSTS))
    for index, host in enumerate(HOSTS):
        own = folder / host / "recovery"
        own.mkdir(parents=True)
        (whole / f"part-{index}.sqlite3").rename(own / f"part-{index}.sqlite3")
    whole.rmdir()


def _recovery_problems(folder: Path) -> list[str]:
    """Every host's recovery folder must hold snapshots: state survives the loss of any one host's disk."""
    problems = []
    for host in HOSTS:
        parts = sorted((folder / host / "recovery").glob("part-*.sqlite3"))
        snapshots = sum(_snapshot_count(part) for part in parts)
        if snapshots == 0:
            names = [p.name for p in parts]
            problems.append(f"host {host}'s recovery folder ({names}) holds no snapshot: its state lives elsewhere")
    return problems


def _snapshot_count(part: Path) -> int:
    with contextlib.closing(sqlite3.connect(part)) as db:
        return int(db.execute("SELECT count(*) FROM snaps").fetchone()[0])


def _start_host(
    net: Lan, host: str, settings: Settings, registry: Path, folder: Path, attempt: int
) -> subprocess.Popen[bytes]:
    """``lifeline run`` inside ``host``'s namespace, as the operator would start it on that host."""
    index = HOSTS.index(host)
    addresses = ",".join(f"{net.addresses[h]}:{CLUSTER_PORT}" for h in HOSTS)
    env = settings.with_overrides(recovery_dir=folder / host / "recovery").environment()
    argv = [*net.exec_prefix(host), sys.executable, "-m", "lifeline.cli", "run", "--registry", str(registry),
            "-w", "1", "-a", addresses, "-i", str(index), "--stop-at-end"]  # fmt: skip
    with (folder / f"{host}-{attempt}.log").open("wb") as log:
        return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)


def _cut_mid_run(
    net: Lan, settings: Settings, procs: dict[str, subprocess.Popen[bytes]], plan: Plan, outcome: ClusterRun,
    started: float, report: Report,
) -> None:  # fmt: skip
    """Once the job writes rows, pull host B's cable for ``plan.cut_s`` and plug it back in."""
    _wait_until_rows_arrive(settings, procs, started + plan.timeout_s)
    outcome.rows_at_cut = _stored_readings(settings)
    report(f"netns: cutting host {CUT_HOST}'s link for {plan.cut_s:g} s ({outcome.rows_at_cut} readings stored)")
    net.cut(CUT_HOST)
    try:
        until = time.monotonic() + plan.cut_s
        while time.monotonic() < until:
            time.sleep(0.2)
    finally:
        net.restore(CUT_HOST)
    restored = time.monotonic()
    outcome.rows_at_restore = _stored_readings(settings)
    if _wait_for_progress(settings, procs, outcome.rows_at_restore, restored + plan.timeout_s / 2):
        outcome.resume_s = time.monotonic() - restored
    during = {host: proc.poll() for host, proc in procs.items() if proc.poll() is not None}
    outcome.exits += [f"{host} exited {code} during the cut" for host, code in during.items()]
    report(f"netns: link back ({outcome.rows_at_restore} readings stored); exited meanwhile: {during or 'none'}")


def _wait_for_progress(
    settings: Settings, procs: dict[str, subprocess.Popen[bytes]], rows: int, deadline: float
) -> bool:
    """True once more than ``rows`` readings are stored; False if a process exits or time runs out first."""
    while time.monotonic() < deadline and all(proc.poll() is None for proc in procs.values()):
        if _stored_readings(settings) > rows:
            return True
        time.sleep(0.2)
    return False


def _stored_readings(settings: Settings) -> int:
    with QuestDB(settings) as db:
        return db.count("readings")


def _wait_until_rows_arrive(settings: Settings, procs: dict[str, subprocess.Popen[bytes]], deadline: float) -> None:
    """Return once the job has stored readings (it is mid-run, writing)."""
    with QuestDB(settings) as db:
        while time.monotonic() < deadline:
            if any(proc.poll() is not None for proc in procs.values()):
                return  # a process finished or died before the cut: the caller's supervision notes it
            if db.count("readings") > 0:
                return
            time.sleep(0.1)


def _wait_cluster(
    procs: dict[str, subprocess.Popen[bytes]], deadline: float, outcome: ClusterRun, started: float
) -> dict[str, int | None]:
    """Wait until every process has exited; when one fails, stop the others (they cannot go on)."""
    failed_at: float | None = None
    while time.monotonic() < deadline:
        codes = {host: proc.poll() for host, proc in procs.items()}
        for host, code in codes.items():
            if code not in (None, 0) and failed_at is None:
                failed_at = time.monotonic()
                outcome.exits.append(f"{host} exited {code} at {failed_at - started:.1f} s")
        if all(code is not None for code in codes.values()):
            return codes
        if failed_at is not None and time.monotonic() - failed_at > 10.0:
            break  # the survivors did not stop by themselves: the supervisor stops them
        time.sleep(0.2)
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    return {host: proc.returncode for host, proc in procs.items()}


def _outputs(settings: Settings) -> Outputs:
    """Rows and content hash per table, and the alert events, of one run."""
    tables: dict[str, tuple[int, str]] = {}
    with QuestDB(settings) as db:
        for table, sql in _QUERIES.items():
            db.wait_for_wal(table, timeout_s=60)
            rows = db.exec(sql.format(t=db.table(table)) + " LIMIT 5000000").rows
            tables[table] = (len(rows), _content_hash(rows))
    alerts = frozenset(
        (a.alert_id, a.event.value, a.ts, int(a.tier))
        for a in map(decode_alert_event, read_to_end(settings, settings.alerts_topic))
    )
    return Outputs(tables, alerts)


def _content_hash(rows: list[list[Any]]) -> str:
    digest = hashlib.sha256()
    for line in sorted(repr(tuple(row)) for row in rows):
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()[:16]


def _differences(expected: Outputs, got: Outputs) -> list[str]:
    problems = [
        f"{table}: {got.tables[table][0]} rows (hash {got.tables[table][1]}), reference {rows} rows (hash {digest})"
        for table, (rows, digest) in expected.tables.items()
        if got.tables[table] != (rows, digest)
    ]
    if got.alerts != expected.alerts:
        missing, extra = sorted(expected.alerts - got.alerts), sorted(got.alerts - expected.alerts)
        problems.append(f"alerts differ: {len(missing)} missing {missing[:3]}, {len(extra)} extra {extra[:3]}")
    return problems
