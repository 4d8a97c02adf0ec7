"""Injectable clocks: the notifier's escalation and digest timing never reads the wall clock directly."""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    """Something that tells the current time in epoch milliseconds (UTC)."""

    def now_ms(self) -> int:
        """Current time, epoch milliseconds."""
        ...


class SystemClock:
    """The wall clock."""

    def now_ms(self) -> int:
        """Current wall-clock time, epoch milliseconds."""
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that only moves when told to: for tests of escalation without waiting."""

    def __init__(self, start_ms: int) -> None:
        self._now = start_ms
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        """The time set so far."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> int:
        """Move forward by ``seconds``; return the new time."""
        with self._lock:
            self._now += round(seconds * 1000)
            return self._now
