"""Inline SVG charts written in Python (no scripts, no fonts or files fetched): hourly mean of a channel as
a line over its min–max band, with dashed threshold lines and day ticks in local time."""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from lifeline.reports.model import ChartSeries

__all__ = ["line_chart"]

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 96, 16, 28
_LINE_COLOURS = {"t3": "#d4a017", "t2": "#e67e22", "t1": "#c0392b"}


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def line_chart(series: ChartSeries, start_ms: int, end_ms: int, zone: str) -> str:
    """The chart as an ``<svg>`` element (an empty frame with a note when there is no data)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [*series.low, *series.high, *(v for v, _ in series.lines)]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(series.sensor.sensor_id)}">',
             f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fbfbfd" '
             'stroke="#c8ccd4"/>']  # fmt: skip
    if not series.ts_ms:
        parts.append(f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" font-size="13" '
                     'fill="#888">本期无数据 / no data</text></svg>')  # fmt: skip
        return "".join(parts)
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.1 or 1.0
    lo, hi = lo - pad, hi + pad

    def x(ms: int) -> float:
        return LEFT + (ms - start_ms) / (end_ms - start_ms) * plot_w

    def y(value: float) -> float:
        return TOP + (hi - value) / (hi - lo) * plot_h

    tz = ZoneInfo(zone)
    day_ms = 86_400_000
    tick = start_ms
    while tick <= end_ms:
        label = datetime.fromtimestamp(tick / 1000, tz).strftime("%m-%d")
        parts.append(f'<line x1="{x(tick):.1f}" y1="{TOP}" x2="{x(tick):.1f}" y2="{TOP + plot_h}" stroke="#e3e6ec"/>'
                     f'<text x="{x(tick):.1f}" y="{HEIGHT - 10}" text-anchor="middle" font-size="11" fill="#555">'
                     f"{label}</text>")  # fmt: skip
        tick += day_ms
    for value in (lo + pad, hi - pad):
        parts.append(f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11" fill="#555">'
                     f"{_fmt(value)}</text>")  # fmt: skip
    band = [f"{x(t):.1f},{y(v):.1f}" for t, v in zip(series.ts_ms, series.high, strict=True)]
    band += [f"{x(t):.1f},{y(v):.1f}" for t, v in reversed(list(zip(series.ts_ms, series.low, strict=True)))]
    parts.append(f'<polygon points="{" ".join(band)}" fill="#9ec5fe" fill-opacity="0.45" stroke="none"/>')
    mean = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(series.ts_ms, series.mean, strict=True))
    parts.append(f'<polyline points="{mean}" fill="none" stroke="#1f5fbf" stroke-width="1.6"/>')
    for value, label in series.lines:
        colour = _LINE_COLOURS.get(label[:2], "#888")
        parts.append(f'<line x1="{LEFT}" y1="{y(value):.1f}" x2="{LEFT + plot_w}" y2="{y(value):.1f}" '
                     f'stroke="{colour}" stroke-dasharray="6 4" stroke-width="1.2"/>'
                     f'<text x="{LEFT + plot_w + 4}" y="{y(value) + 4:.1f}" font-size="10" fill="{colour}">'
                     f"{escape(label)} {_fmt(value)}</text>")  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)
