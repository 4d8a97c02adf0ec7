"""The cluster supervisor's decisions, free of I/O: what to do with N Bytewax processes, given how
they have exited so far and a clock.

Bytewax runs a cluster as N processes that all need each other: when one dies the others panic
(``Send thread panic``), and recovery resumes only when every process restarts from the same snapshot.
So the unit of restart is the whole cluster:

* all processes ended with 0: the run is done (exit 0);
* one ended otherwise (non-zero code or a signal): ask the others to stop (SIGTERM), kill whoever is
  left after ``grace_s`` (SIGKILL), and once all are gone start the whole cluster again after a
  back-off of ``backoff_s`` doubled per consecutive restart (at most ``backoff_max_s``), at most
  ``retries`` times; a cluster that ran ``stable_s`` before failing gets its whole budget back;
* out of retries, or restarts not allowed (recovery off): give up with the reason (exit 2);
* a stop request (SIGTERM/SIGINT to the supervisor): forward it to every process, wait for them
  (SIGKILL after ``grace_s``), and exit ``128 + signal`` without restarting.

The I/O half (``flows/cluster.py``) polls the processes, feeds their exit codes to ``decide`` and
carries out the returned ``Decision``.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

__all__ = ["Action", "Clock", "Decision", "MonotonicClock", "SupervisePolicy", "Supervisor", "exit_reason"]


class Clock(Protocol):
    """Something that tells monotonic time in seconds."""

    def now_s(self) -> float:
        """Current monotonic time, seconds."""
        ...


class MonotonicClock:
    """The system's monotonic clock."""

    def now_s(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()


@dataclass(frozen=True, kw_only=True)
class SupervisePolicy:
    """How the supervisor restarts a failed cluster."""

    retries: int = 3
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    grace_s: float = 10.0
    stable_s: float = 600.0
    restarts_allowed: bool = True

    def backoff(self, restart: int) -> float:
        """The wait before restart number ``restart`` (1-based): ``backoff_s`` doubled each time, capped."""
        return float(min(self.backoff_max_s, self.backoff_s * 2 ** (restart - 1)))


class Action(Enum):
    """What the I/O half must do now."""

    WAIT = "wait"  # nothing to do; poll again
    START = "start"  # start every process of the cluster
    TERMINATE = "terminate"  # send ``Decision.signal`` to every process still running
    KILL = "kill"  # SIGKILL every process still running
    BACK_OFF = "back-off"  # every process is gone after a failure: log the reason, restart later
    EXIT = "exit"  # every process is gone: end with ``Decision.exit_code``


@dataclass(frozen=True, slots=True)
class Decision:
    """One step of the supervisor: the action, and for a restart or an exit, why."""

    action: Action
    reason: str = ""
    signal: int = signal.SIGTERM
    exit_code: int = 0


def exit_reason(code: int) -> str:
    """A process's exit status in words: ``exit code 3`` or ``killed by SIGKILL`` (negative = signal)."""
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


class _Phase(Enum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    BACKING_OFF = "backing-off"
    DONE = "done"


class Supervisor:
    """The state machine of one supervised cluster. Call ``decide`` after every poll of the processes."""

    def __init__(self, *, processes: int, policy: SupervisePolicy, clock: Clock) -> None:
        self._processes = processes
        self._policy = policy
        self._clock = clock
        self._phase = _Phase.STARTING
        self._restarts = 0  # consecutive restarts counted against the budget
        self._started_at = 0.0
        self._kill_at = 0.0
        self._restart_at = 0.0
        self._failure = ""  # why the cluster is stopping (empty: it is not stopping for a failure)
        self._stop_signal: int | None = None
        self._final: Decision | None = None
        self.restarts_total = 0

    def request_stop(self, signum: int) -> None:
        """The supervisor was asked to stop (SIGTERM/SIGINT): the next ``decide`` forwards it."""
        if self._stop_signal is None:
            self._stop_signal = signum

    def decide(self, exits: Sequence[int | None]) -> Decision:
        """The next step, given each process's exit code (``None``: still running; ignored before a start)."""
        now = self._clock.now_s()
        if self._final is not None:
            return self._final
        if self._stop_signal is not None and self._phase is not _Phase.STOPPING:
            return self._begin_shutdown(now, exits)
        if self._phase is _Phase.STARTING:
            return self._start(now)
        if self._phase is _Phase.RUNNING:
            return self._watch(now, exits)
        if self._phase is _Phase.STOPPING:
            return self._drain(now, exits)
        return self._start(now) if now >= self._restart_at else Decision(Action.WAIT)

    def _start(self, now: float) -> Decision:
        self._phase = _Phase.RUNNING
        self._started_at = now
        return Decision(Action.START, reason=self._failure)

    def _watch(self, now: float, exits: Sequence[int | None]) -> Decision:
        failed = [(i, code) for i, code in enumerate(exits) if code is not None and code != 0]
        if failed:
            index, code = failed[0]
            self._failure = f"cluster process {index} ended: {exit_reason(code)}"
            if now - self._started_at >= self._policy.stable_s:
                self._restarts = 0
            return self._stop_all(now, signal.SIGTERM, self._failure)
        if len(exits) == self._processes and all(code == 0 for code in exits):
            return self._exit(0, "every cluster process ended with 0")
        return Decision(Action.WAIT)

    def _begin_shutdown(self, now: float, exits: Sequence[int | None]) -> Decision:
        assert self._stop_signal is not None
        self._failure = ""
        if self._phase in (_Phase.STARTING, _Phase.BACKING_OFF) or all(code is not None for code in exits):
            return self._finish_shutdown()
        return self._stop_all(now, self._stop_signal, f"stop requested ({signal.Signals(self._stop_signal).name})")

    def _stop_all(self, now: float, signum: int, reason: str) -> Decision:
        self._phase = _Phase.STOPPING
        self._kill_at = now + self._policy.grace_s
        return Decision(Action.TERMINATE, reason=reason, signal=signum)

    def _drain(self, now: float, exits: Sequence[int | None]) -> Decision:
        if any(code is None for code in exits):
            if now >= self._kill_at:
                self._kill_at = float("inf")  # once
                return Decision(Action.KILL, reason=f"still running {self._policy.grace_s:g} s after the stop signal")
            return Decision(Action.WAIT)
        if self._stop_signal is not None:
            return self._finish_shutdown()
        return self._after_failure(now, exits)

    def _finish_shutdown(self) -> Decision:
        assert self._stop_signal is not None
        return self._exit(128 + self._stop_signal, f"stopped on {signal.Signals(self._stop_signal).name}")

    def _exit(self, code: int, reason: str) -> Decision:
        self._phase = _Phase.DONE
        self._final = Decision(Action.EXIT, reason=reason, exit_code=code)
        return self._final

    def _after_failure(self, now: float, exits: Sequence[int | None]) -> Decision:
        policy = self._policy
        ends = ", ".join(f"{i}: {exit_reason(code)}" for i, code in enumerate(exits) if code is not None)
        self._failure = f"{self._failure} (all processes: {ends})"
        if not policy.restarts_allowed:
            return self._exit(2, f"{self._failure}; not restarting because recovery is off (a restart would "
                              "start from scratch); run with recovery on to have the cluster restarted from its "
                              "last snapshot")  # fmt: skip
        if self._restarts >= policy.retries:
            return self._exit(2, f"{self._failure}; giving up after {self._restarts} restart(s) "
                              f"(LIFELINE_SUPERVISE_RETRIES={policy.retries})")  # fmt: skip
        self._restarts += 1
        self.restarts_total += 1
        wait = policy.backoff(self._restarts)
        self._restart_at = now + wait
        self._phase = _Phase.BACKING_OFF
        return Decision(Action.BACK_OFF, reason=(
            f"{self._failure}; restarting the cluster from the last snapshot in {wait:g} s "
            f"(restart {self._restarts} of {policy.retries})"))  # fmt: skip
