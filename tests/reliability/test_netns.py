"""Two hosts in network namespaces, host B's link cut mid-run and restored: the job completes with the
reference's rows and alerts (issue #12). Runs as root (CI does); skipped, saying why, only where the
kernel refuses to create a network namespace. A missing ``ip`` command fails: install iproute2."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.reliability._namespaces import NamespacesUnavailable, lan, namespaces_refused
from benchmarks.reliability.netns import run


@pytest.mark.fault
@pytest.mark.slow
def test_a_link_cut_between_two_hosts_changes_no_output(tmp_path: Path) -> None:
    refused = namespaces_refused()
    if refused is not None:
        pytest.skip(f"{refused}; this test needs root (CAP_NET_ADMIN) to build its own network namespaces")
    outcome = run(size="ci", workdir=tmp_path)
    assert outcome.passed, outcome.problems
    assert outcome.figures["rows_readings"] == outcome.figures["readings"]  # every produced reading stored
    assert int(outcome.figures["alerts"]) > 0
    assert 0 < int(outcome.figures["rows_at_cut"]) < int(outcome.figures["readings"]), "the cut was not mid-run"


def test_the_network_is_torn_down_on_failure_with_its_processes() -> None:
    refused = namespaces_refused()
    if refused is not None:
        pytest.skip(f"{refused}; this test needs root (CAP_NET_ADMIN) to build its own network namespaces")
    started: list[subprocess.Popen[bytes]] = []
    with pytest.raises(RuntimeError, match="scenario failed"), lan(["a", "b"]) as net:
        started.append(subprocess.Popen([*net.exec_prefix("b"), sys.executable, "-c", "import time; time.sleep(600)"]))
        namespaces = list(net.namespaces.values())
        assert set(namespaces) <= _namespaces_now()
        raise RuntimeError("scenario failed")
    assert started[0].wait(timeout=10) == -signal.SIGKILL
    assert not set(namespaces) & _namespaces_now()


def test_a_missing_ip_command_fails_and_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(NamespacesUnavailable, match="iproute2"):
        namespaces_refused()


def _namespaces_now() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in listed.splitlines() if line.strip()}
