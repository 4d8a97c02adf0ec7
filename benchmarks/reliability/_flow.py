"""The replay every kill/outage scenario shares: a storm-day city in Kafka, the flow as a subprocess.

A scenario produces the input once (:func:`prepare_replay`), runs an uninterrupted reference flow
over it, then a disturbed flow over the same topic with its own output topics, tables and recovery
folder (:func:`isolated`), and compares the two with :mod:`benchmarks.reliability._compare`.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from lifeline.connectors.bootstrap import apply_schema
from lifeline.connectors.questdb import QuestDB
from lifeline.settings import Settings
from lifeline.simulators.badmessages import make_bad_messages
from lifeline.simulators.output import produce_scenario
from lifeline.simulators.scenarios import build

__all__ = [
    "Life",
    "Replay",
    "isolated",
    "prepare_replay",
    "run_flow",
    "run_settings",
    "servers_for",
    "start_flow",
    "stop",
    "wait_for_rows",
]

ROOT = Path(__file__).resolve().parents[2]
#: storm-day produces about 19,100 readings per hour of event time
READINGS_PER_HOUR = 19_100


@dataclass(frozen=True)
class Replay:
    """An input in Kafka: the servers' settings with its readings topic, the registry, its size."""

    settings: Settings
    registry: Path
    readings: int
    messages: int
    tag: str


@contextlib.contextmanager
def servers_for(services: Settings | None) -> Iterator[Settings]:
    """``services`` if given (already running, left running), else private servers for the block."""
    if services is not None:
        yield services
        return
    from benchmarks._servers import real_servers

    with real_servers() as settings:
        yield settings


def isolated(servers: Settings, tag: str, workdir: Path, **overrides: object) -> Settings:
    """``servers`` with the run's own topics, table prefix and recovery folder; schema created.

    Nothing else is changed: the flow runs with default settings (epoch interval, group watermark, …)
    unless ``overrides`` or the environment say otherwise.
    """
    settings = servers.with_overrides(
        readings_topic=f"{tag}.readings", alerts_topic=f"{tag}.alerts", dlq_topic=f"{tag}.dlq",
        questdb_table_prefix=f"{tag.replace('.', '_').replace('-', '_')}_", recovery_dir=workdir / f"recovery-{tag}",
        metrics_port=0, **overrides,
    )  # fmt: skip
    apply_schema(settings)
    return settings


def prepare_replay(servers: Settings, *, workdir: Path, hours: float, name: str, seed: int = 11) -> Replay:
    """Produce ``hours`` of the storm-day city, plus one bad message of every DLQ reason, to a new topic.

    Its topics and tables are named after the scenario ``name`` and a random suffix, so several
    scenarios (or the same one twice) can share servers.
    """
    tag = f"{name}-{uuid.uuid4().hex[:8]}"
    scenario = build("storm-day", seed=seed, duration_s=hours * 3600)
    scenario.bad_messages = make_bad_messages(scenario.sensors, scenario.start_ms, scenario.end_ms)[0]
    registry = workdir / "registry.csv"
    scenario.write_registry(registry)
    settings = isolated(servers, f"{tag}-input", workdir)
    sent = produce_scenario(scenario, settings)
    return Replay(settings, registry, sent.readings, sent.messages, tag)


def run_settings(replay: Replay, tag: str, workdir: Path) -> Settings:
    """Settings for one run over ``replay``: its input topic, its own outputs and recovery folder."""
    settings = isolated(replay.settings, f"{replay.tag}-{tag}", workdir)
    return settings.with_overrides(readings_topic=replay.settings.readings_topic)


def start_flow(settings: Settings, registry: Path, log: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start ``lifeline run --stop-at-end`` (recovery on, one worker) with output to ``log``."""
    argv = [sys.executable, "-m", "lifeline.cli", "run", "--registry", str(registry), "--stop-at-end"]
    return subprocess.Popen(argv, env=settings.environment(), cwd=ROOT, stdout=log, stderr=log)


@dataclass
class Life:
    """One flow process: how it ended (None: still running) and its peak resident memory."""

    proc: subprocess.Popen[bytes]
    peak_rss_mb: float = 0.0

    def sample(self) -> None:
        """Update the peak from the kernel's high-water mark of the process (while it lives)."""
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                self.peak_rss_mb = max(self.peak_rss_mb, int(line.split()[1]) / 1024)

    def wait(self, timeout_s: float) -> int | None:
        """Wait up to ``timeout_s`` for the process to end, sampling its memory; its exit code or None."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.sample()
            code = self.proc.poll()
            if code is not None:
                return code
            time.sleep(0.1)
        return self.proc.poll()


def run_flow(settings: Settings, registry: Path, log: IO[bytes], *, timeout_s: float = 1800) -> Life:
    """Run the flow to the end of its input (killed after ``timeout_s``); see ``Life.proc.returncode``."""
    life = Life(start_flow(settings, registry, log))
    try:
        life.wait(timeout_s)
    finally:
        stop(life.proc)
    return life


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a flow process that is still running and reap it."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def wait_for_rows(settings: Settings, proc: subprocess.Popen[bytes], *, table: str = "readings",
                  minimum: int = 1, timeout_s: float = 300) -> bool:  # fmt: skip
    """Wait until ``table`` holds ``minimum`` rows; False if the flow ended first or time ran out."""
    deadline = time.monotonic() + timeout_s
    with QuestDB(settings) as db:
        while time.monotonic() < deadline and proc.poll() is None:
            if db.count(table) >= minimum:
                return True
            time.sleep(0.2)
    return False
