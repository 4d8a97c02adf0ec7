"""Health-report pieces without a server: periods in local days, threshold checks, the verdict, the SVG,
the week of the scheduled mode."""

from __future__ import annotations

from datetime import UTC, date, datetime

import msgspec
import pytest

from lifeline.models import SensorKind, SensorSpec
from lifeline.reports.exceptions import ReportError
from lifeline.reports.html import render_html
from lifeline.reports.model import AlertSummary, ChartSeries, ReportData, SensorSummary, parse_period, verdict
from lifeline.reports.svg import line_chart
from lifeline.reports.weekly import last_full_week


def _ms(*args: int) -> int:
    return round(datetime(*args, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


STRAIN = SensorSpec(sensor_id="BR-1-STR01", kind=SensorKind.STRAIN, asset_id="BR-1", owner="bridges", district="d",
                    lat=31.8, lon=117.2, group_id="BR-1", interval_s=600, design_value=80.0,
                    thresholds={"t3": 0.7, "t2": 0.85, "t1": 1.0})  # fmt: skip


def test_period_is_whole_local_days_in_shanghai() -> None:
    period = parse_period("2026-12-01..2026-12-07")
    assert period.start_ms == _ms(2026, 11, 30, 16)  # 00:00 +08:00 on Dec 1
    assert period.end_ms == _ms(2026, 12, 7, 16)  # 00:00 +08:00 on Dec 8
    assert parse_period("2026-12-03").seconds == 86400
    for bad in ("2026-12-07..2026-12-01", "last week", "2026-13-01"):
        with pytest.raises(ReportError):
            parse_period(bad)


def test_threshold_reached_uses_ratio_of_design_value_for_strain() -> None:
    peak_72 = SensorSummary(STRAIN, 1000, 1008, 40.0, 10.0, 72.0)  # 72 / 80 = 0.9 -> t2
    assert peak_72.peak_ratio == 0.9 and peak_72.threshold_reached() == "t2"
    assert SensorSummary(STRAIN, 1008, 1008, 40.0, 10.0, 50.0).threshold_reached() == ""
    assert peak_72.coverage == pytest.approx(1000 / 1008)


def _data(alerts: tuple[AlertSummary, ...], readings: int = 1008) -> ReportData:
    chart = ChartSeries(STRAIN, (_ms(2026, 12, 1), _ms(2026, 12, 1, 1)), (40.0, 45.0), (30.0, 35.0), (50.0, 60.0),
                        ((56.0, "t3"), (80.0, "t1")))  # fmt: skip
    summary = SensorSummary(STRAIN, readings, 1008, 40.0, 30.0, 60.0)
    period = parse_period("2026-12-01..2026-12-07")
    return ReportData("BR-1", True, "bridges", "d", period, (summary,), alerts, (chart,), _ms(2026, 12, 8))


def _alert(kind: str, tier: int, sensors: tuple[str, ...] = ("BR-1-STR01",)) -> AlertSummary:
    return AlertSummary("a", kind, tier, tier, _ms(2026, 12, 2), "cleared", _ms(2026, 12, 2, 1), sensors, "why")


def test_verdict_from_worst_alert_faults_and_coverage() -> None:
    assert verdict(_data(()))[0].startswith("运行正常")
    assert verdict(_data((_alert("bridge_overload", 1),)))[0].startswith("需立即关注:本期出现一级告警 1 起")
    zh, en = verdict(_data((_alert("bridge_overload", 2), _alert("sensor_fault", 3, ("BR-1-CRK01",))), readings=500))
    assert zh.startswith("需关注") and "1 个传感器故障待维修(BR-1-CRK01)" in zh and "低于 90%" in zh
    assert en.startswith("Needs attention") and "1 sensor(s) need repair" in en


def test_svg_chart_has_band_line_and_threshold_lines() -> None:
    svg = line_chart(_data(()).charts[0], _ms(2026, 11, 30, 16), _ms(2026, 12, 7, 16), "Asia/Shanghai")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<polygon") == 1 and svg.count("<polyline") == 1 and "stroke-dasharray" in svg
    assert ">12-01<" in svg and ">12-08<" in svg  # local day ticks, first and closing midnight


def test_html_is_self_contained() -> None:
    html = render_html(_data((_alert("bridge_overload", 1),)))
    assert "<script" not in html and "<link" not in html and "https://" not in html
    assert html.index("健康监测报告") < html.index("Structural health report")  # Chinese first


def test_last_full_week_is_monday_to_sunday_before_this_week() -> None:
    week = last_full_week(_ms(2026, 12, 9, 2), "Asia/Shanghai")  # Wednesday Dec 9, 10:00 local
    assert (week.first, week.last) == (date(2026, 11, 30), date(2026, 12, 6))


def test_weekly_mode_reports_each_bridge_once() -> None:
    from lifeline.registry import Registry
    from lifeline.reports.weekly import bridge_targets

    gas = SensorSpec(sensor_id="G-1", kind=SensorKind.CH4_LEL, asset_id="GW-1", owner="gas", district="d", lat=0,
                     lon=0)  # fmt: skip
    lone = SensorSpec(sensor_id="BR-9-CRK01", kind=SensorKind.CRACK_WIDTH, asset_id="BR-9", owner="b", district="d",
                      lat=0, lon=0)  # fmt: skip
    registry = Registry([STRAIN, msgspec.structs.replace(STRAIN, sensor_id="BR-1-STR02"), gas, lone])
    assert bridge_targets(registry) == ["BR-1", "BR-9"]
