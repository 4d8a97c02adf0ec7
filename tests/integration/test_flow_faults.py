"""Fault and contention tests on real Kafka + QuestDB.

* SIGKILL the flow at least three times at random moments during a replay, restart it each time;
  the final QuestDB rows and alert events equal those of an uninterrupted run: nothing lost, and
  (thanks to DEDUP UPSERT KEYS and deterministic alert ids) nothing duplicated.
* Run the same replay while CPU-bound processes compete for both cores: the same window statistics,
  alerts and rejects as the unhurried run — nothing on time is marked late, because watermarks move
  on event time only.
* Kill QuestDB (SIGKILL) while the flow writes to it and bring it back seconds later: the flow backs
  off, retries and waits instead of dropping rows; the final rows and alerts equal the reference.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lifeline.connectors.questdb import QuestDB
from lifeline.connectors.services import manager
from lifeline.connectors.services.servers import QuestDBServer
from lifeline.settings import Settings
from lifeline.simulators.scenarios import build
from tests.integration.flow_harness import (
    alert_events,
    isolated,
    produce_scenario,
    questdb_contents,
    run_flow,
    start_flow,
)

pytestmark = [pytest.mark.fault, pytest.mark.slow]


@dataclass
class Reference:
    settings: Settings
    registry: Path
    tables: dict[str, Any]
    alerts: set[tuple[str, str, int, int]]
    seconds: float


def _alert_set(settings: Settings) -> set[tuple[str, str, int, int]]:
    return {(a.alert_id, a.event.value, a.ts, int(a.tier)) for a in alert_events(settings)}


@pytest.fixture(scope="module")
def reference(services: Settings, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    tmp = tmp_path_factory.mktemp("faults")
    scenario = build("storm-day", seed=11, duration_s=12 * 3600)
    registry = tmp / "registry.csv"
    scenario.write_registry(registry)
    # Default settings: alerts wait for every partition with unread messages, however far behind.
    settings = isolated(services, "ref", tmp, store_readings="all")
    produce_scenario(settings, scenario)
    started = time.monotonic()
    run_flow(settings, registry)
    seconds = time.monotonic() - started
    return Reference(settings, registry, questdb_contents(settings), _alert_set(settings), seconds)


def test_reference_run_is_substantial(reference: Reference) -> None:
    assert sum(reference.tables["readings"].values()) > 100_000
    assert len(reference.alerts) > 0
    assert all(count == 1 for table in reference.tables.values() for count in table.values())


def test_sigkill_three_times_then_restart_gives_the_same_rows_and_alerts(reference: Reference, tmp_path: Path) -> None:
    # Smaller batches than the reference: more items and snapshots per second of work, and the
    # results must not depend on where batch boundaries fall.
    settings = isolated(reference.settings, "crash", tmp_path, store_readings="all", batch_size=200).with_overrides(
        readings_topic=reference.settings.readings_topic
    )
    startup = _startup_seconds()
    rng = random.Random(20261121)
    kills = 0
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        proc = start_flow(settings, reference.registry)
        if kills < 3:
            time.sleep(startup + rng.uniform(0.5, 2.0))  # a random moment after start-up
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                continue
        assert proc.wait(timeout=600) == 0
        break
    assert kills >= 3, "the flow finished before it could be killed three times"
    recovered = questdb_contents(settings)
    for table, rows in reference.tables.items():
        missing, extra = rows - recovered[table], recovered[table] - rows
        assert not missing and not extra, (table, sorted(missing)[:5], sorted(extra)[:5])
    assert _alert_set(settings) == reference.alerts


def _startup_seconds() -> float:
    """How long a flow process takes to import everything before it reads a message."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import lifeline.flows.dataflow, lifeline.detectors.engine"], check=True)
    return time.monotonic() - started


def test_cpu_contention_changes_nothing(reference: Reference, tmp_path: Path) -> None:
    settings = isolated(reference.settings, "busy", tmp_path, store_readings="all").with_overrides(
        readings_topic=reference.settings.readings_topic
    )
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        run_flow(settings, reference.registry, timeout_s=900)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    contended = questdb_contents(settings)
    assert contended["sensor_stats"] == reference.tables["sensor_stats"]
    assert contended["rejects"] == reference.tables["rejects"]  # nothing on time was called late
    assert contended["readings"] == reference.tables["readings"]
    assert _alert_set(settings) == reference.alerts


def test_questdb_outage_backs_off_and_loses_nothing(reference: Reference, tmp_path: Path) -> None:
    settings = isolated(reference.settings, "qdb-down", tmp_path, store_readings="all", batch_size=200).with_overrides(
        readings_topic=reference.settings.readings_topic
    )
    questdb = QuestDBServer(reference.settings).process
    log_path = tmp_path / "flow.log"
    with log_path.open("wb") as log:
        proc = start_flow(settings, reference.registry, output=log)
        try:
            _wait_until_rows_arrive(settings, proc)
            pid = questdb.pid()
            assert pid is not None
            os.kill(pid, signal.SIGKILL)  # QuestDB crashes in the middle of the flow's writes
            while questdb.pid() is not None:
                time.sleep(0.05)
            time.sleep(4.0)
            assert proc.poll() is None, "the flow must wait for QuestDB, not finish without it"
        finally:
            manager.up(reference.settings, report=lambda _line: None)  # back, for this test and the next
        assert proc.wait(timeout=600) == 0
    assert "questdb flush failed" in log_path.read_text(encoding="utf-8", errors="replace")
    recovered = questdb_contents(settings)
    for table, rows in reference.tables.items():
        missing, extra = rows - recovered[table], recovered[table] - rows
        assert not missing and not extra, (table, sorted(missing)[:5], sorted(extra)[:5])
    assert _alert_set(settings) == reference.alerts


def _wait_until_rows_arrive(settings: Settings, proc: subprocess.Popen[bytes]) -> None:
    """Return once the flow has stored readings in QuestDB (it is mid-run, writing)."""
    deadline = time.monotonic() + 120
    count = "SELECT count() FROM {t}"
    with QuestDB(settings) as db:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "the flow finished before QuestDB could be taken away"
            if db.exec(count.format(t=db.table("readings"))).rows[0][0] > 0:
                return
            time.sleep(0.1)
    raise AssertionError("the flow stored nothing within 120 s")
