"""The Kafka broker SIGKILLed in the middle of a replay and restarted: outputs must not change.

While the broker is down the flow's consumers get transport errors and reconnect, and its idempotent
producer holds the alert and DLQ messages it could not deliver; the snapshot flush waits for them,
so no offset is committed past an undelivered output. After the restart everything must equal an
uninterrupted run (rows, content hashes, alert and DLQ sets), with repeated messages counted.
On private servers (the broker is killed), never on shared ones.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from benchmarks.reliability._outage import OutagePlan, run_outage
from benchmarks.reliability.outcome import Outcome, Size

__all__ = ["run"]

PLANS: dict[str, OutagePlan] = {"ci": OutagePlan(hours=6, outage_s=10), "full": OutagePlan(hours=54, outage_s=60)}


def run(*, size: Size, workdir: Path, report: Callable[[str], None] = print) -> Outcome:
    """Replay storm-day, kill the Kafka broker mid-run for a while, compare with the reference run."""
    return run_outage(scenario="kafka_outage", server="kafka", plan=PLANS[size], workdir=workdir, report=report)
