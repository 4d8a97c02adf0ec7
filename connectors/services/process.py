"""A background server process tracked by a pid file, and loopback port checks."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ManagedProcess", "free_ports", "port_open"]


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports that are free on 127.0.0.1 right now."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass(frozen=True, slots=True)
class ManagedProcess:
    """A server we start in the background: its pid file, log file and a marker in its command line.

    The marker (a ``-Dlifeline.service=NAME`` JVM flag) lets :meth:`pid` refuse a stale pid file
    whose number now belongs to an unrelated process.
    """

    name: str
    run_dir: Path
    log_dir: Path

    @property
    def pid_file(self) -> Path:
        """Where the pid is written."""
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        """Where stdout and stderr go."""
        return self.log_dir / f"{self.name}.log"

    @property
    def marker(self) -> str:
        """The JVM flag that identifies our process."""
        return f"-Dlifeline.service={self.name}"

    def pid(self) -> int | None:
        """The pid if our process is alive, else None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            cmdline = []
        if self.marker.encode() in cmdline:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                stat = ""
            if ") Z " not in stat:
                return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(self, argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
        """Start the process detached from our session; return its pid."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        return proc.pid

    def stop(self, timeout_s: float = 30.0) -> bool:
        """SIGTERM, wait up to ``timeout_s``, then SIGKILL. True if a process was stopped."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.pid() is None or not _alive(pid):
                break
            _reap(pid)
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
        _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
