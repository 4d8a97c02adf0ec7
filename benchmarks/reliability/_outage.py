"""A server outage in the middle of a replay: SIGKILL Kafka or QuestDB, keep it down, start it again.

Always on private servers (:func:`benchmarks._servers.real_servers`), never on shared ones. The
storm-day replay runs once uninterrupted (the reference), then again with its own outputs; once the
second flow has stored a tenth of the input, the server is SIGKILLed, kept down ``outage_s``, and
restarted with the launcher. The flow must ride it out (librdkafka reconnects and the idempotent
producer re-sends; the QuestDB writer backs off and retries) and end with the reference's outputs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from benchmarks._servers import real_servers
from benchmarks.reliability._compare import compare_runs, digest_run
from benchmarks.reliability._flow import Life, prepare_replay, run_flow, run_settings, start_flow, stop, wait_for_rows
from benchmarks.reliability.outcome import Outcome
from lifeline.connectors.services import manager
from lifeline.connectors.services.servers import KafkaServer, QuestDBServer, Server
from lifeline.settings import Settings

__all__ = ["OutagePlan", "run_outage"]

ServerName = Literal["kafka", "questdb"]


@dataclass(frozen=True, kw_only=True)
class OutagePlan:
    """Hours of storm-day to replay and how long the server stays down."""

    hours: float
    outage_s: float


def run_outage(
    *, scenario: str, server: ServerName, plan: OutagePlan, workdir: Path, report: Callable[[str], None]
) -> Outcome:
    """Reference run, then a run during which ``server`` is killed for ``plan.outage_s``; compare."""
    started = time.monotonic()
    problems: list[str] = []
    with real_servers() as servers:
        report(f"{scenario}: producing {plan.hours:g} h of storm-day")
        replay = prepare_replay(servers, workdir=workdir, hours=plan.hours, name=scenario)
        reference = run_settings(replay, "reference", workdir)
        report(f"{scenario}: {replay.readings:,} readings; reference run")
        with (workdir / "reference.log").open("wb") as log:
            ref_life = run_flow(reference, replay.registry, log)
        if ref_life.proc.returncode != 0:
            problems.append(f"reference flow exited {ref_life.proc.returncode}")
        disturbed = run_settings(replay, "outage", workdir)
        log_path = workdir / "outage.log"
        with log_path.open("wb") as log:
            life = Life(start_flow(disturbed, replay.registry, log))
            try:
                problems += _outage(servers, server, disturbed, life, replay.readings // 10, plan, report)
                code = life.wait(1800)
            finally:
                stop(life.proc)
        if code != 0:
            problems.append(f"the flow exited {code} after the {server} outage (see {log_path.name})")
        report(f"{scenario}: comparing every table and topic")
        expected, got = digest_run(reference), digest_run(disturbed)
        problems += compare_runs(expected, got, reference_settings=reference, candidate_settings=disturbed)
    figures: dict[str, int | float | str] = {
        "readings": replay.readings,
        "outages": 1,
        "outage_s": plan.outage_s,
        "alert_events": len(expected.alerts.keys),
        "dlq_messages": len(expected.dlq.keys),
        "duplicates": got.alerts.duplicates + got.dlq.duplicates,
        "memory_mb": round(max(ref_life.peak_rss_mb, life.peak_rss_mb), 1),
        "seconds": round(time.monotonic() - started, 1),
    }
    return Outcome(scenario, figures, problems)


def _outage(
    servers: Settings, name: ServerName, disturbed: Settings, life: Life, rows: int, plan: OutagePlan,
    report: Callable[[str], None],
) -> list[str]:  # fmt: skip
    """Kill ``name`` once the flow stored ``rows`` readings, keep it down, restart it; problems seen."""
    if not wait_for_rows(disturbed, life.proc, minimum=rows):
        return [f"the flow ended or stalled before it stored {rows:,} readings; no outage happened"]
    target: Server = KafkaServer(servers) if name == "kafka" else QuestDBServer(servers)
    pid = target.process.pid()
    if pid is None:
        return [f"{name} is not running; cannot kill it"]
    os.kill(pid, signal.SIGKILL)
    report(f"{name}: SIGKILLed (pid {pid}); down for {plan.outage_s:g} s")
    problems: list[str] = []
    try:
        code = life.wait(plan.outage_s)
        if code is not None:
            problems.append(f"the flow exited {code} while {name} was down; it must wait for it")
    finally:
        _reap(pid)
        manager.up(servers, report=lambda _line: None)
        report(f"{name}: back")
    return problems


def _reap(pid: int) -> None:
    """Collect the killed server if it was our child (it was started by this process's launcher)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
