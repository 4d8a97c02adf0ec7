"""Slow websocket clients (20 of 100 never read) while 400 alert events/s flow through real Kafka into a
real API server: readers get every event once, p99 is reported, the server's memory stops growing."""

from __future__ import annotations

from pathlib import Path

from benchmarks.reliability import slow_clients
from lifeline.settings import Settings


def test_slow_clients_do_not_cost_the_readers_an_event(services: Settings, tmp_path: Path) -> None:
    outcome = slow_clients.run(size="ci", workdir=tmp_path, services=services)
    assert outcome.passed, outcome.problems
    events = int(outcome.figures["events"])
    readers = int(outcome.figures["clients"]) - int(outcome.figures["slow_clients"])
    assert outcome.figures["delivered_to_readers"] == f"{events * readers}/{events * readers}"
    assert float(outcome.figures["p99_ms"]) >= float(outcome.figures["p50_ms"]) > 0
