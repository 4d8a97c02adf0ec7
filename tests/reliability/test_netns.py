"""Two hosts in network namespaces, host B's link cut mid-run and restored: the job completes with the
reference's rows and alerts (issue #12). Runs as root (CI does); skipped, saying why, only where the
kernel refuses to create a network namespace. A missing ``ip`` command fails: install iproute2."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.reliability._namespaces import namespaces_refused
from benchmarks.reliability.netns import run

pytestmark = [pytest.mark.fault, pytest.mark.slow]


def test_a_link_cut_between_two_hosts_changes_no_output(tmp_path: Path) -> None:
    refused = namespaces_refused()
    if refused is not None:
        pytest.skip(f"{refused}; this test needs root (CAP_NET_ADMIN) to build its own network namespaces")
    outcome = run(size="ci", workdir=tmp_path)
    assert outcome.passed, outcome.problems
    assert outcome.figures["rows_readings"] == outcome.figures["readings"]  # every produced reading stored
    assert int(outcome.figures["alerts"]) > 0
    assert 0 < int(outcome.figures["rows_at_cut"]) < int(outcome.figures["readings"]), "the cut was not mid-run"
