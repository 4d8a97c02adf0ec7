"""SIGKILL the flow at random moments during a replay, with default settings; outputs must not change.

The storm-day city (plus one bad message of every DLQ reason) goes to Kafka once. An uninterrupted
flow runs over it; then a second flow over the same topic, with its own output topics, tables and
recovery folder, is SIGKILLed ``kills`` times at random moments and restarted each time, then left to
finish. A kill lands when the run has stored a random fraction (5–75 %) of the reference's readings,
so it is inside the replay on a fast or a slow machine alike. Every QuestDB table (rows and content
hash), the set of ``(alert_id, event, ts, tier)`` on the alerts topic and the set of DLQ messages
must equal the reference; repeated Kafka messages (at-least-once after a crash) are counted as
``duplicates``.

Nothing but names is overridden: the epoch interval, the group watermark and every other
setting are the defaults (or whatever the environment says, for both runs alike).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.reliability._compare import compare_runs, digest_run
from benchmarks.reliability._flow import (
    Life,
    Replay,
    prepare_replay,
    run_flow,
    run_settings,
    servers_for,
    start_flow,
    stop,
)
from benchmarks.reliability.outcome import Outcome, Size
from lifeline.connectors.questdb import QuestDB
from lifeline.settings import Settings

__all__ = ["run"]


@dataclass(frozen=True, kw_only=True)
class Plan:
    """How big a run is: hours of storm-day (about 19,100 readings each) and how many kills."""

    hours: float
    kills: int


PLANS: dict[str, Plan] = {"ci": Plan(hours=8, kills=4), "full": Plan(hours=54, kills=20)}


def run(
    *, size: Size, workdir: Path, report: Callable[[str], None] = print, services: Settings | None = None,
    seed: int = 20261121,
) -> Outcome:  # fmt: skip
    """Replay, kill the flow ``kills`` times at random moments, compare with an uninterrupted run."""
    plan = PLANS[size]
    started = time.monotonic()
    with servers_for(services) as servers:
        report(f"kills: producing {plan.hours:g} h of storm-day")
        replay = prepare_replay(servers, workdir=workdir, hours=plan.hours, name="kills")
        report(f"kills: {replay.readings:,} readings in {replay.messages:,} messages; reference run")
        reference = run_settings(replay, "reference", workdir)
        with (workdir / "reference.log").open("wb") as log:
            ref_started = time.monotonic()
            ref_life = run_flow(reference, replay.registry, log)
            reference_s = time.monotonic() - ref_started
        problems = [] if ref_life.proc.returncode == 0 else [f"reference flow exited {ref_life.proc.returncode}"]
        report(f"kills: reference took {reference_s:.1f} s; now the run with {plan.kills} kills")
        killed = run_settings(replay, "killed", workdir)
        with QuestDB(reference) as db:
            db.wait_for_wal("readings", timeout_s=120)
            rows = db.count("readings")
        outcome = _killed_run(killed, replay, plan, rows, random.Random(seed), workdir, report)
        problems += outcome.problems
        report("kills: comparing every table and topic")
        expected, got = digest_run(reference), digest_run(killed)
        problems += compare_runs(expected, got, reference_settings=reference, candidate_settings=killed)
    figures: dict[str, int | float | str] = {
        "readings": replay.readings,
        "kills": outcome.kills,
        "restarts": outcome.kills,
        "alert_events": len(expected.alerts.keys),
        "dlq_messages": len(expected.dlq.keys),
        "duplicates": got.alerts.duplicates + got.dlq.duplicates,
        "reference_duplicates": expected.alerts.duplicates + expected.dlq.duplicates,
        "rows": sum(t.rows for t in expected.tables.values()),
        "memory_mb": round(max(ref_life.peak_rss_mb, outcome.peak_rss_mb), 1),
        "reference_s": round(reference_s, 1),
        "seconds": round(time.monotonic() - started, 1),
    }
    if expected.alerts.duplicates or expected.dlq.duplicates:
        problems.append(f"the uninterrupted reference run repeated {figures['reference_duplicates']} Kafka messages")
    return Outcome("kills", figures, problems)


@dataclass
class KilledRun:
    """What the disturbed run did: kills that landed, its peak memory, anything that went wrong."""

    kills: int = 0
    peak_rss_mb: float = 0.0
    problems: list[str] = field(default_factory=list)


def _killed_run(
    settings: Settings, replay: Replay, plan: Plan, rows: int, rng: random.Random, workdir: Path,
    report: Callable[[str], None],
) -> KilledRun:  # fmt: skip
    """Start the flow, SIGKILL it ``plan.kills`` times at random points of the replay, then let it finish.

    The points are random fractions of the reference's ``rows`` readings rows: each life is killed as
    soon as the run has stored that many (and itself 1 % more), so every kill lands inside the replay
    however fast the machine is, and where it lands relative to the last snapshot is left to chance.
    """
    result = KilledRun()
    targets = sorted(rng.uniform(0.05, 0.75) for _ in range(plan.kills))
    with (workdir / "killed.log").open("wb") as log:
        for target in targets:
            life = Life(start_flow(settings, replay.registry, log))
            try:
                reached = _wait_for_fraction(settings, life, round(target * rows), rows // 100)
            finally:
                result.peak_rss_mb = max(result.peak_rss_mb, life.peak_rss_mb)
                stop(life.proc)  # SIGKILL
            if not reached:
                code = life.proc.returncode
                result.problems.append(f"the flow ended (exit {code}) before kill {result.kills + 1} of {plan.kills}")
                return result
            result.kills += 1
            report(f"kills: SIGKILL {result.kills}/{plan.kills} at {target:.0%} of the readings")
        final = Life(start_flow(settings, replay.registry, log))
        try:
            code = final.wait(1800)
        finally:
            stop(final.proc)
        result.peak_rss_mb = max(result.peak_rss_mb, final.peak_rss_mb)
    if code != 0:
        result.problems.append(f"the last restart exited {code} (see killed.log)")
    return result


def _wait_for_fraction(settings: Settings, life: Life, rows: int, step: int) -> bool:
    """Wait until the run's readings table holds ``rows`` rows and this life has added ``step`` more;
    False if the flow ended first.

    The ``step`` keeps two close kill points from killing a process before it did anything: every
    life passes the rows its predecessors wrote (a restart replays from the last snapshot) and more.
    """
    with QuestDB(settings) as db:
        wanted = max(rows, db.count("readings") + step)
        while life.proc.poll() is None:
            life.sample()
            if db.count("readings") >= wanted:
                return life.proc.poll() is None
            time.sleep(0.1)
    return False
