"""A simulated bridge week through real Kafka, the flow and QuestDB, then ``lifeline report`` → HTML and a
PDF printed by Chromium, whose first page is rasterised (pdftoppm) and must not be blank."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lifeline.connectors.questdb import QuestDB
from lifeline.settings import Settings
from lifeline.simulators import scenarios
from tests.integration.flow_harness import ROOT, environment, isolated, produce_scenario, run_flow

pytestmark = [pytest.mark.e2e]


def _bridge_week() -> scenarios.Scenario:
    """The ``bridge`` scenario's recipe on one bridge of 10-min channels, for the week 2026-11-23..29 (in the
    past: the flow refuses readings from the future)."""
    base = scenarios.SCENARIOS["bridge"]
    plan = dataclasses.replace(base.plan, bridges=1, high_rate_channels_per_bridge=0)
    week = dataclasses.replace(base, name="bridge-week", plan=plan, duration_s=7 * 86400)
    scenarios.SCENARIOS["bridge-week"] = week
    try:
        return scenarios.build("bridge-week", seed=7, start="2026-11-23T00:00:00+08:00")
    finally:
        del scenarios.SCENARIOS["bridge-week"]


def _pgm_pixels(path: Path) -> np.ndarray:
    """Pixels of a binary PGM (P5, 8-bit) as written by ``pdftoppm -gray``."""
    raw = path.read_bytes()
    header = re.match(rb"P5\s+(\d+)\s+(\d+)\s+(\d+)\s", raw)
    assert header is not None, raw[:20]
    width, height = int(header.group(1)), int(header.group(2))
    return np.frombuffer(raw[header.end() : header.end() + width * height], dtype=np.uint8).reshape(height, width)


def test_bridge_week_report_html_pdf_and_a_non_blank_first_page(services: Settings, tmp_path: Path) -> None:
    pdftoppm = shutil.which("pdftoppm")
    assert pdftoppm, "pdftoppm is needed to look at the PDF: apt-get install -y poppler-utils"
    scenario = _bridge_week()
    registry = tmp_path / "registry.csv"
    scenario.write_registry(registry)
    settings = isolated(services, "report-week", tmp_path)
    produce_scenario(settings, scenario)
    run_flow(settings, registry, workers=1, timeout_s=600)
    with QuestDB(settings) as db:
        for table in ("readings", "sensor_stats", "alert_events"):
            db.wait_for_wal(table, timeout_s=60)

    out = tmp_path / "reports"
    argv = [sys.executable, "-m", "lifeline.cli", "report", "--asset", "BR-001", "--period", "2026-11-23..2026-11-29",
            "--out", str(out), "--registry", str(registry)]  # fmt: skip
    done = subprocess.run(argv, env=environment(settings), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    html_path, pdf_path = out / "BR-001_20261123-20261129.html", out / "BR-001_20261123-20261129.pdf"
    html = html_path.read_text(encoding="utf-8")

    # ground truth: the recipe injects tier-1 overloads and a bearing jam on BR-001 -> the verdict says tier 1
    assert any(r.expected_tier == "1" and r.asset_id == "BR-001" for r in scenario.ground_truth)
    assert "需立即关注:本期出现一级告警" in html and "Needs immediate attention" in html
    assert "桥梁/设施组健康监测报告:BR-001" in html
    # one chart per key kind present: strain, deflection, crack, bearing, temperature, acceleration
    assert (
        html.count("<svg") == 6
        and "<script" not in html
        and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    # every one of the 16 channels is in the table; a 10-min channel expects 7 * 144 = 1008 readings
    assert len(scenario.sensors) == 16 and html.count("/1008</td>") == 16
    received = [int(n) for n in re.findall(r'<td class="num">(\d+)/1008</td>', html)]
    assert sum(received) >= 0.9 * scenario.estimated_readings(), received  # dropouts and silences aside

    assert pdf_path.stat().st_size > 10_000 and pdf_path.read_bytes().startswith(b"%PDF")
    subprocess.run([pdftoppm, "-f", "1", "-l", "1", "-r", "60", "-gray", str(pdf_path), str(tmp_path / "page")],
                   check=True, timeout=120)  # fmt: skip
    subprocess.run([pdftoppm, "-f", "1", "-l", "1", "-r", "80", "-png", str(pdf_path), str(tmp_path / "page")],
                   check=True, timeout=120)  # fmt: skip
    [pgm] = list(tmp_path.glob("page*.pgm"))
    pixels = _pgm_pixels(pgm).astype(float)
    dark_share = float((pixels < 128).mean())
    assert pixels.var() > 100.0, f"first page looks blank (variance {pixels.var():.1f})"
    assert 0.005 < dark_share < 0.6, dark_share
    [png] = list(tmp_path.glob("page*.png"))
    assert png.read_bytes().startswith(b"\x89PNG")
