"""The job every implementation in ``bench_peers`` runs, and the check that their outputs agree.

Standard library only: the Quix Streams runner imports it from its own virtual environment.

The job: per sensor, 10 s tumbling event-time windows (count, mean, min, max, population std) and a
flag when a window's mean leaves the sensor's exponentially weighted (EW) mean of window means by
more than ``FLAG_K`` EW standard deviations. The EW statistics start at the first window's mean and
take every window (flagged or not); windows before the ``FLAG_WARMUP``-th are never flagged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

WINDOW_MS = 10_000
EW_ALPHA = 0.1
FLAG_K = 4.0
FLAG_WARMUP = 5
BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a multiple of WINDOW_MS

# a window's key: (sensor id, window start in epoch ms); its value: (count, mean, min, max, std, flag)
WindowRow = tuple[int, float, float, float, float, bool]


@dataclass
class EwState:
    """EW mean and variance of one sensor's window means, and how many windows it has seen."""

    windows: int = 0
    mean: float = 0.0
    var: float = 0.0


def ew_flag(state: EwState, window_mean: float) -> bool:
    """Flag ``window_mean`` against the sensor's EW statistics, then fold it into them."""
    flagged = state.windows >= FLAG_WARMUP and abs(window_mean - state.mean) > FLAG_K * math.sqrt(state.var)
    if state.windows == 0:
        state.mean, state.var = window_mean, 0.0
    else:
        deviation = window_mean - state.mean
        state.mean += EW_ALPHA * deviation
        state.var = (1.0 - EW_ALPHA) * (state.var + EW_ALPHA * deviation * deviation)
    state.windows += 1
    return flagged


def moments_to_stats(count: int, total: float, total_sq: float) -> tuple[float, float]:
    """Mean and population std of a window from its count, sum and sum of squares."""
    mean = total / count
    var = total_sq / count - mean * mean
    return mean, math.sqrt(var) if var > 0.0 else 0.0


def flag_windows(
    windows: Iterable[tuple[str, int, int, float, float, float, float]],
) -> dict[tuple[str, int], WindowRow]:
    """Attach EW flags to (sensor, start, count, mean, min, max, std) windows, in start order per sensor."""
    states: dict[str, EwState] = {}
    out: dict[tuple[str, int], WindowRow] = {}
    for sensor, start, count, mean, low, high, std in sorted(windows, key=lambda w: (w[0], w[1])):
        state = states.setdefault(sensor, EwState())
        out[(sensor, start)] = (count, mean, low, high, std, ew_flag(state, mean))
    return out


@dataclass(frozen=True)
class Comparison:
    """How one implementation's windows compare with the reference's."""

    compared: int
    missing: int
    extra: int
    different: int
    flags_different: int
    examples: Sequence[str]

    @property
    def identical(self) -> bool:
        """Every reference window present with the same count/min/max, mean and std within 1e-9, same flag."""
        return not (self.missing or self.extra or self.different or self.flags_different)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def compare(
    reference: dict[tuple[str, int], WindowRow], other: dict[tuple[str, int], WindowRow], last_start: int
) -> Comparison:
    """Compare the windows that start before ``last_start`` (the last window may still be open in some)."""
    ref = {k: v for k, v in reference.items() if k[1] < last_start}
    got = {k: v for k, v in other.items() if k[1] < last_start}
    missing = [k for k in ref if k not in got]
    extra = [k for k in got if k not in ref]
    different, flags, examples = 0, 0, [f"missing {k}" for k in missing[:3]] + [f"extra {k}" for k in extra[:3]]
    for key, (count, mean, low, high, std, flag) in ref.items():
        row = got.get(key)
        if row is None:
            continue
        if row[0] != count or row[2] != low or row[3] != high or not _close(row[1], mean) or not _close(row[4], std):
            different += 1
            if len(examples) < 6:
                examples.append(f"{key}: reference {ref[key]} got {row}")
        elif row[5] != flag:
            flags += 1
            if len(examples) < 6:
                examples.append(f"{key}: flag reference {flag} got {row[5]}")
    return Comparison(len(ref), len(missing), len(extra), different, flags, examples)
