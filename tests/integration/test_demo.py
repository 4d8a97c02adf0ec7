"""The README's main command on real servers: `lifeline demo --no-serve`, and `lifeline demo` stopped by
SIGTERM while it serves (its API and notifier must not outlive it)."""

import io
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from rich.console import Console

from lifeline.connectors.services.process import free_ports
from lifeline.flows.demo import run_demo
from lifeline.settings import Settings


def test_demo_detects_the_smoke_incidents_and_routes_every_bad_message(services: Settings) -> None:
    output = io.StringIO()
    result = run_demo(services, Console(file=output, width=160), scenario_name="smoke", serve=False)
    text = output.getvalue()
    assert result.readings > 3000
    assert result.incidents >= 2
    assert result.incidents_found == result.incidents
    assert result.faults_high_tier == 0
    # the smoke scenario injects a stuck sensor and a spike (ground truth); the demo reports each one, and both
    # must be flagged as tier-3 sensor faults: the stuck sensor (frozen for most of the hour, 5-min readings)
    # within the hour, the spike (one reading of a 1-min pressure logger, 47 sigma, after its 8th reading)
    # within two readings of it
    delays = {kind: delay for _, kind, delay in result.fault_delays}
    assert sorted(delays) == ["spike", "stuck"]
    assert delays["stuck"] is not None and 0 < delays["stuck"] <= 3600
    assert delays["spike"] is not None and 0 < delays["spike"] <= 600
    assert result.faults == 2 and result.faults_flagged == 2
    assert "not flagged" not in text
    assert "fault T3 after" in text
    assert result.bad_messages >= 6
    assert result.bad_in_dlq == result.bad_messages
    assert "alerts vs ground truth" in text
    assert "MISSING" not in text and "FALSE ALARM" not in text


@pytest.mark.slow
def test_sigterm_to_the_demo_stops_its_api_and_notifier(services: Settings, tmp_path: Path) -> None:
    (port,) = free_ports(1)
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen([sys.executable, "-m", "lifeline.cli", "demo", "--api-port", str(port)],
                                env=services.environment(), stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    children: list[int] = []
    try:
        _wait_for_api(port, demo, log)
        children = _child_pids(demo.pid)
        commands = sorted(_command(pid) for pid in children)
        assert len(commands) == 2 and "api" in commands[0] and "notify" in commands[1], commands
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=15)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(pid) for pid in children):
            time.sleep(0.1)
        orphans = [pid for pid in children if _alive(pid)]
        assert not orphans, f"still running after the demo ended: {[_command(p) for p in orphans]}"
    finally:
        for pid in [*children, demo.pid]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        demo.wait()


def _wait_for_api(port: int, demo: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert demo.poll() is None, log.read_text(encoding="utf-8", errors="replace")[-2000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError("the demo's API did not answer within 240 s")


def _child_pids(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
