"""Reliability scenarios on real servers: kills, outages, poison input, lost hosts, slow clients.

Each scenario is one module with a ``run(...)`` function returning an :class:`Outcome`. The tests in
``tests/reliability/`` run every scenario at ``size="ci"`` (small enough for CI) and assert it passed;
``python -m benchmarks.bench_reliability`` runs them at ``size="full"`` and prints one table.
"""

from benchmarks.reliability.outcome import Outcome, Size

__all__ = ["Outcome", "Size"]
