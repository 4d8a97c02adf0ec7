"""The supervisor's I/O half with tiny stand-in child processes (plain Python, no Bytewax, no server)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from lifeline.flows.cluster import supervise_cluster
from lifeline.flows.demo import stop_children
from lifeline.flows.supervisor import SupervisePolicy


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def test_a_cluster_whose_process_fails_once_is_restarted_whole_and_ends_with_0(tmp_path: Path) -> None:
    starts = tmp_path / "starts"

    def command(index: int, addresses: str) -> list[str]:
        # process 1 fails on the first start, once process 0 of the same start has counted itself (under load,
        # process 0 could otherwise be stopped before its interpreter got that far); every start is counted
        return _python(f"""
            import sys
            import time
            from pathlib import Path
            log = Path({str(starts)!r})
            with log.open("a") as f:
                f.write("{index} {addresses}\\n")
            first = sum(1 for line in log.read_text().splitlines() if line.startswith("{index} ")) == 1
            if {index} == 1 and first:
                deadline = time.monotonic() + 30
                while "0 {addresses}" not in log.read_text().splitlines() and time.monotonic() < deadline:
                    time.sleep(0.01)
                sys.exit(3)
        """)

    final = supervise_cluster(command, processes=2, policy=SupervisePolicy(backoff_s=0.0), poll_s=0.01)
    assert final.exit_code == 0
    lines = starts.read_text().splitlines()
    assert sorted(line.split()[0] for line in lines) == ["0", "0", "1", "1"]  # both processes, twice
    assert len({line.split()[1] for line in lines}) == 2  # each start of the cluster on fresh addresses


def test_the_supervisor_gives_up_after_its_retries(tmp_path: Path) -> None:
    final = supervise_cluster(lambda _i, _a: _python("import sys; sys.exit(5)"), processes=2,
                              policy=SupervisePolicy(retries=2, backoff_s=0.0), poll_s=0.01)  # fmt: skip
    assert final.exit_code == 2
    assert "exit code 5" in final.reason and "giving up after 2 restart(s)" in final.reason


def test_sigterm_to_the_supervisor_is_forwarded_to_every_process_and_waited_for(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"""
        import sys
        from lifeline.flows.cluster import supervise_cluster
        from lifeline.flows.supervisor import SupervisePolicy
        child = [sys.executable, "-c", "import os, time; open({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\\\n'); time.sleep(120)"]
        final = supervise_cluster(lambda i, a: child, processes=2, policy=SupervisePolicy(grace_s=5.0), poll_s=0.01)
        sys.exit(final.exit_code)
    """  # noqa: E501
    supervisor = subprocess.Popen(_python(script))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not pids.exists() or len(pids.read_text().split()) < 2):
            time.sleep(0.05)
        children = [int(p) for p in pids.read_text().split()]
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 128 + signal.SIGTERM
        assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]
    finally:
        stop_children([supervisor], grace_s=1.0)


def test_stop_children_kills_a_child_that_ignores_sigterm_after_the_grace_period() -> None:
    stubborn = subprocess.Popen(_python("""
        import signal, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(120)
    """), stdout=subprocess.PIPE)  # fmt: skip
    polite = subprocess.Popen(_python("import time; time.sleep(120)"))
    assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
    started = time.monotonic()
    stop_children([stubborn, polite], grace_s=1.0)
    assert polite.returncode == -signal.SIGTERM
    assert stubborn.returncode == -signal.SIGKILL
    assert 1.0 <= time.monotonic() - started < 10.0
