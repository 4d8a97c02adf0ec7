"""``lifeline run -p N`` on one host: start the N Bytewax processes and supervise them.

The decisions (when to stop the others, restart, give up) live in ``flows/supervisor.py``; this
module does the I/O: it picks free cluster addresses, spawns the processes, polls them, sends
signals, logs every restart with the exit reason, and forwards SIGTERM/SIGINT sent to the supervisor.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType

from lifeline.flows.supervisor import Action, Clock, Decision, MonotonicClock, SupervisePolicy, Supervisor

__all__ = ["ChildCommand", "cluster_addresses", "forwarded_stop_signals", "supervise_cluster"]

log = logging.getLogger("lifeline.flow.supervisor")

ChildCommand = Callable[[int, str], list[str]]
"""The command line of cluster process ``index`` given the comma-separated address list."""

FIRST_PORT = 2101


def cluster_addresses(processes: int, start: int) -> tuple[str, int]:
    """``processes`` consecutive free loopback ports from ``start`` on, as Bytewax's address list,
    and the port to search from next time."""
    from lifeline.connectors.services.process import port_open

    base = start
    while any(port_open("127.0.0.1", base + i) for i in range(processes)):
        base += processes
    return ",".join(f"127.0.0.1:{base + i}" for i in range(processes)), base + processes


@contextmanager
def forwarded_stop_signals(on_signal: Callable[[int], None]) -> Iterator[None]:
    """Within the block, SIGTERM and SIGINT call ``on_signal(signum)`` instead of ending this process.
    Outside the main thread (where Python cannot install handlers) the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        on_signal(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def supervise_cluster(
    command: ChildCommand,
    *,
    processes: int,
    policy: SupervisePolicy,
    env: dict[str, str] | None = None,
    clock: Clock | None = None,
    poll_s: float = 0.1,
) -> Decision:
    """Run and supervise a local cluster until it ends, gives up or is stopped; the final decision
    (``exit_code`` 0: every process ended with 0; 2: gave up; 128 + signal: stopped)."""
    supervisor = Supervisor(processes=processes, policy=policy, clock=clock or MonotonicClock())
    children: list[subprocess.Popen[bytes]] = []
    next_port = FIRST_PORT
    with forwarded_stop_signals(supervisor.request_stop):
        while True:
            decision = supervisor.decide([child.poll() for child in children])
            if decision.action is Action.EXIT:
                _log_exit(decision, supervisor.restarts_total)
                return decision
            if decision.action is Action.START:
                children, next_port = _start(command, processes, env, next_port, decision, supervisor.restarts_total)
            elif decision.action is Action.TERMINATE:
                log.warning("%s; stopping the cluster (%s)", decision.reason, signal.Signals(decision.signal).name)
                _signal_running(children, decision.signal)
            elif decision.action is Action.KILL:
                log.warning("cluster processes %s; killing them (SIGKILL)", decision.reason)
                _signal_running(children, signal.SIGKILL)
            elif decision.action is Action.BACK_OFF:
                log.warning("%s", decision.reason)
            else:
                time.sleep(poll_s)


def _start(
    command: ChildCommand, processes: int, env: dict[str, str] | None, port: int, decision: Decision, restarts: int
) -> tuple[list[subprocess.Popen[bytes]], int]:
    addresses, next_port = cluster_addresses(processes, port)
    children = [subprocess.Popen(command(index, addresses), env=env) for index in range(processes)]
    pids = ", ".join(str(child.pid) for child in children)
    if decision.reason:
        log.warning("cluster restart %d: %d processes started (pids %s) at %s", restarts, processes, pids, addresses)
    else:
        log.info("cluster started: %d processes (pids %s) at %s", processes, pids, addresses)
    return children, next_port


def _signal_running(children: list[subprocess.Popen[bytes]], signum: int) -> None:
    for child in children:
        if child.poll() is None:
            with suppress(ProcessLookupError):  # it ended between poll and kill
                os.kill(child.pid, signum)


def _log_exit(decision: Decision, restarts: int) -> None:
    if decision.exit_code == 0:
        log.info("cluster done: %s (%d restart(s))", decision.reason, restarts)
    elif decision.exit_code == 2:
        log.error("cluster supervisor gives up: %s", decision.reason)
    else:
        log.warning("cluster %s (%d restart(s))", decision.reason, restarts)
