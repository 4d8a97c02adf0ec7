"""Small helpers shared by the benchmarks: repeated timing, medians, ratios, a printed table.

Every benchmark reports the median of several runs and, where it has one, the ratio to a
baseline measured in the same process run (machines drift ±40 %, so only same-run ratios compare).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Measurement", "measure", "print_table", "rate"]


@dataclass
class Measurement:
    """Figures of one benchmarked thing: items per run and the seconds each run took."""

    name: str
    items: int
    seconds: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        """Median wall time of the runs."""
        return statistics.median(self.seconds)

    @property
    def per_s(self) -> float:
        """Median throughput, items per second."""
        return self.items / self.median_s if self.median_s > 0 else float("inf")

    @property
    def spread(self) -> str:
        """Min–max throughput across runs, for honesty about noise."""
        rates = sorted(self.items / s for s in self.seconds if s > 0)
        return f"{rates[0]:,.0f}–{rates[-1]:,.0f}" if rates else "-"


def measure(name: str, items: int, run: Callable[[], object], repeats: int = 5, warmup: int = 1) -> Measurement:
    """Call ``run`` ``warmup + repeats`` times; keep the timings of the last ``repeats``."""
    result = Measurement(name, items)
    for i in range(warmup + repeats):
        gc.collect()
        start = time.perf_counter()
        run()
        elapsed = time.perf_counter() - start
        if i >= warmup:
            result.seconds.append(elapsed)
    return result


def rate(value: float) -> str:
    """Format a rate with thousands separators."""
    return f"{value:,.0f}/s"


def print_table(title: str, rows: list[Measurement], baseline: Measurement | None = None) -> None:
    """Print median throughput, spread, and ratio to the baseline if given."""
    print(f"\n== {title}")
    print(f"{'what':<44} {'items':>10} {'median/s':>14} {'spread/s':>24} {'ratio':>7}")
    for m in rows:
        ratio = f"{m.per_s / baseline.per_s:.2f}" if baseline else "-"
        print(f"{m.name:<44} {m.items:>10,} {m.per_s:>14,.0f} {m.spread:>24} {ratio:>7}")
