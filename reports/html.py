"""The report as one self-contained HTML page (inline CSS and SVG, no scripts, nothing fetched), Chinese
first with English beside it; A4 print styles so Chromium's PDF matches the screen."""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from lifeline.models import KIND_INFO, Tier
from lifeline.reports.model import COVERAGE_OK, ReportData, verdict
from lifeline.reports.svg import line_chart

__all__ = ["render_html"]

_CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei",
       sans-serif; color: #1d2330; font-size: 12.5px; margin: 0 auto; max-width: 760px; }
h1 { font-size: 21px; margin: 4px 0; }
h2 { font-size: 15px; margin: 18px 0 6px; border-bottom: 2px solid #1f5fbf; }
.meta { color: #555; } .en { color: #667; font-size: 11.5px; }
.verdict { padding: 10px 12px; border-radius: 6px; margin: 10px 0; font-size: 14px; }
.v1 { background: #fdecea; border-left: 6px solid #c0392b; }
.v2 { background: #fff4e5; border-left: 6px solid #e67e22; }
.v3 { background: #fffbe6; border-left: 6px solid #d4a017; }
.v0 { background: #eaf7ee; border-left: 6px solid #2e8b57; }
table { border-collapse: collapse; width: 100%; margin: 4px 0; }
th, td { border: 1px solid #d5d9e0; padding: 3px 5px; }
th { background: #eef1f6; text-align: left; }
table.stats { font-size: 11px; } td.id { white-space: nowrap; }
td.num { text-align: right; } .bad { color: #c0392b; font-weight: bold; }
.chart { page-break-inside: avoid; margin: 6px 0 10px; } .chart h3 { font-size: 13px; margin: 4px 0; }
"""


def _time(ms: int, zone: str) -> str:
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def _sensor_rows(data: ReportData) -> str:
    rows = []
    for s in data.sensors:
        unit = KIND_INFO[s.sensor.kind].unit
        cov = f'<td class="num{" bad" if s.coverage < COVERAGE_OK else ""}">{s.coverage:.1%}</td>'
        ratio = "—" if s.peak_ratio is None else f"{s.peak_ratio:.2f}"
        reached = s.threshold_reached()
        thresholds = ", ".join(f"{k}={v:g}" for k, v in sorted(s.sensor.thresholds.items())) or "—"
        rows.append(
            f'<tr><td class="id">{escape(s.sensor.sensor_id)}</td><td>{escape(s.sensor.kind.value)}</td>'
            f"<td>{escape(unit)}</td>"
            f'<td class="num">{s.readings}/{s.expected}</td>{cov}<td class="num">{_num(s.mean)}</td>'
            f'<td class="num">{_num(s.low)}</td><td class="num">{_num(s.high)}</td>'
            f'<td class="num">{_num(s.sensor.design_value)}</td><td class="num">{ratio}</td>'
            f"<td>{escape(thresholds)}</td><td{' class=bad' if reached else ''}>{reached or '—'}</td></tr>"
        )
    return "".join(rows)


def _alert_rows(data: ReportData, faults: bool, zone: str) -> str:
    rows = [
        f"<tr><td>{Tier(a.max_tier).label_zh}</td><td>{escape(a.kind)}</td><td>{_time(a.opened_ms, zone)}</td>"
        f"<td>{escape(a.last_event)} {_time(a.last_ms, zone)}</td><td>{escape(', '.join(a.sensor_ids))}</td>"
        f"<td>{escape(a.evidence)}</td></tr>"
        for a in data.alerts
        if a.is_fault == faults
    ]
    return "".join(rows) or '<tr><td colspan="6">无 / none</td></tr>'


def render_html(data: ReportData) -> str:
    """The whole page."""
    zone = data.period.zone
    zh, en = verdict(data)
    worst = min((a.max_tier for a in data.alerts if not a.is_fault), default=0)
    what = "桥梁/设施组" if data.is_group else "设施"
    charts = "".join(
        f'<div class="chart"><h3>{escape(c.sensor.sensor_id)} · {escape(c.sensor.kind.value)} '
        f"({escape(KIND_INFO[c.sensor.kind].unit)}) — 小时均值与最小/最大区间 / hourly mean, min–max band</h3>"
        f"{line_chart(c, data.period.start_ms, data.period.end_ms, zone)}</div>"
        for c in data.charts
    )
    head = "<tr><th>测点 Sensor</th><th>类型 Kind</th><th>单位</th><th>读数/应有</th><th>完整率</th><th>均值</th>"
    head += "<th>最小</th><th>最大</th><th>设计值</th><th>峰值/设计值</th><th>阈值 Thresholds</th><th>达到</th></tr>"
    alert_head = "<tr><th>等级</th><th>类型</th><th>开始</th><th>最新事件</th><th>测点</th><th>依据 Evidence</th></tr>"
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>健康报告 {escape(data.target)} {data.period.label}</title>
<style>{_CSS}</style></head><body>
<h1>{what}健康监测报告:{escape(data.target)}</h1>
<div class="en">Structural health report: {escape(data.target)}</div>
<p class="meta">统计时段 Period:{_time(data.period.start_ms, zone)} – {_time(data.period.end_ms, zone)}({escape(zone)})
· 权属单位 Owner:{escape(data.owner)} · 区域 District:{escape(data.district)} · 测点 {len(data.sensors)} 个
· 生成 Generated:{_time(data.generated_ms, zone)}</p>
<h2>结论 Verdict</h2>
<div class="verdict v{worst}">{escape(zh)}<div class="en">{escape(en)}</div></div>
<h2>数据完整率与统计 Coverage and window statistics vs design values</h2>
<table class="stats">{head}{_sensor_rows(data)}</table>
<h2>告警 Alerts</h2>
<table>{alert_head}{_alert_rows(data, False, zone)}</table>
<h2>设备故障 Sensor faults</h2>
<table>{alert_head}{_alert_rows(data, True, zone)}</table>
<h2>关键测点曲线 Key channels</h2>
{charts}
</body></html>
"""
