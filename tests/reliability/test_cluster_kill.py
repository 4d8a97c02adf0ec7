"""``lifeline run -p 2 --stop-at-end`` with a cluster process SIGKILLed mid-run: the supervised command
ends with 0 and its rows and alert events equal an uninterrupted run's (scenario ``cluster_kill``)."""

from pathlib import Path

import pytest

from benchmarks.reliability.cluster_kill import run
from lifeline.settings import Settings

pytestmark = [pytest.mark.fault, pytest.mark.slow, pytest.mark.timeout(900)]


def test_a_killed_cluster_process_is_restarted_and_nothing_is_lost(services: Settings, tmp_path: Path) -> None:
    outcome = run(size="ci", workdir=tmp_path, services=services, report=lambda _line: None)
    assert outcome.passed, "\n".join(outcome.problems)
    assert outcome.figures["kills"] == 1
    assert outcome.figures["restarts"] == 1
    assert outcome.figures["rows_equal"] == outcome.figures["alerts_equal"] == "yes"
