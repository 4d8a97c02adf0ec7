"""The README's main command, minus the interactive part: `lifeline demo --no-serve` on real servers."""

import io

from rich.console import Console

from lifeline.flows.demo import run_demo
from lifeline.settings import Settings


def test_demo_detects_the_smoke_incidents_and_routes_every_bad_message(services: Settings) -> None:
    output = io.StringIO()
    result = run_demo(services, Console(file=output, width=160), scenario_name="smoke", serve=False)
    text = output.getvalue()
    assert result.readings > 3000
    assert result.incidents >= 2
    assert result.incidents_found == result.incidents
    assert result.faults_high_tier == 0
    assert result.bad_messages >= 6
    assert result.bad_in_dlq == result.bad_messages
    assert "alerts vs ground truth" in text
    assert "MISSING" not in text and "FALSE ALARM" not in text
