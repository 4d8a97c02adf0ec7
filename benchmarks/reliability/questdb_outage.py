"""QuestDB SIGKILLed in the middle of a replay and kept down (60 s at full size): outputs must not change.

While QuestDB is down the flow's writer retries with back-off and the snapshot waits for it, so the
flow stalls instead of dropping rows; after the restart every table, the alerts and the DLQ must
equal an uninterrupted run. On private servers (QuestDB is killed), never on shared ones.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from benchmarks.reliability._outage import OutagePlan, run_outage
from benchmarks.reliability.outcome import Outcome, Size

__all__ = ["run"]

PLANS: dict[str, OutagePlan] = {"ci": OutagePlan(hours=6, outage_s=10), "full": OutagePlan(hours=54, outage_s=60)}


def run(*, size: Size, workdir: Path, report: Callable[[str], None] = print) -> Outcome:
    """Replay storm-day, kill QuestDB mid-run for ``outage_s``, compare with the reference run."""
    return run_outage(scenario="questdb_outage", server="questdb", plan=PLANS[size], workdir=workdir, report=report)
