"""The simulate / replay / scenarios commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from lifeline.cli import app
from lifeline.simulators.exceptions import BadDurationError, UnknownScenarioError
from lifeline.simulators.scenarios import SCENARIOS

runner = CliRunner()


def test_scenarios_lists_every_scenario_with_its_size() -> None:
    result = runner.invoke(app, ["scenarios"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for name in (
        "smoke",
        "gas",
        "water",
        "drainage",
        "bridge",
        "storm-day",
        "quiet-day-with-faults",
        "hefei-scale-load",
    ):
        assert name in result.output
    assert f"{SCENARIOS['hefei-scale-load'].plan.sensor_count:,}" in result.output


def test_simulate_writes_files_and_is_deterministic(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        result = runner.invoke(app, ["simulate", "--scenario", "smoke", "--duration", "20m", "--seed", "4",
                                     "--out", str(tmp_path / folder), "--format", "jsonl"])  # fmt: skip
        assert result.exit_code == 0, result.output
    first = (tmp_path / "a" / "readings.jsonl").read_bytes()
    assert first == (tmp_path / "b" / "readings.jsonl").read_bytes()
    assert first.count(b"\n") > 500
    assert (tmp_path / "a" / "ground_truth.csv").is_file() and (tmp_path / "a" / "registry.csv").is_file()


def test_errors_raise_lifeline_errors() -> None:
    result = runner.invoke(app, ["simulate", "--scenario", "nope", "--out", "x"])
    assert isinstance(result.exception, UnknownScenarioError)
    result = runner.invoke(app, ["simulate", "--duration", "6 hours", "--out", "x"])
    assert isinstance(result.exception, BadDurationError)
    result = runner.invoke(app, ["simulate", "--scenario", "smoke"])
    assert result.exit_code == 2 and "--out" in result.output


def test_the_real_entry_point_exits_2_with_a_clear_message() -> None:
    code = (
        "import sys; sys.argv=['lifeline','simulate','--scenario','nope','--out','x']; "
        "from lifeline.cli import main; main()"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "unknown scenario 'nope'" in done.stderr


def test_replay_of_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["replay", "--input", str(tmp_path / "missing")])
    assert result.exit_code != 0
    assert "does not exist" in str(result.exception)
