"""What a health report says, free of I/O: the period, per-sensor coverage and statistics against design
values and thresholds, the alerts, and the verdict in plain words (Chinese first, then English)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from lifeline.models import SensorKind, SensorSpec
from lifeline.reports.exceptions import ReportError

__all__ = [
    "AlertSummary",
    "ChartSeries",
    "Period",
    "ReportData",
    "SensorSummary",
    "parse_period",
    "verdict",
]

#: kinds whose thresholds are ratios of the design value (live-load ratio); others are absolute values
RATIO_KINDS = frozenset({SensorKind.STRAIN, SensorKind.DEFLECTION})
#: coverage below this share of the expected readings is called out
COVERAGE_OK = 0.9


@dataclass(frozen=True, slots=True)
class Period:
    """Whole local days ``[first, last]`` in ``zone``; ``start_ms``/``end_ms`` bound them (end exclusive)."""

    first: date
    last: date
    zone: str

    @property
    def start_ms(self) -> int:
        """Local midnight at the start of ``first``, epoch ms."""
        return round(
            datetime(self.first.year, self.first.month, self.first.day, tzinfo=ZoneInfo(self.zone)).timestamp() * 1000
        )

    @property
    def end_ms(self) -> int:
        """Local midnight after ``last``, epoch ms."""
        after = self.last + timedelta(days=1)
        return round(datetime(after.year, after.month, after.day, tzinfo=ZoneInfo(self.zone)).timestamp() * 1000)

    @property
    def label(self) -> str:
        """``2026-12-01..2026-12-07`` (or one day)."""
        return self.first.isoformat() if self.first == self.last else f"{self.first}..{self.last}"

    @property
    def seconds(self) -> float:
        """Length in seconds."""
        return (self.end_ms - self.start_ms) / 1000


def parse_period(text: str, zone: str = "Asia/Shanghai") -> Period:
    """``2026-12-01`` (one day) or ``2026-12-01..2026-12-07`` (inclusive), local days in ``zone``."""
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:\.\.(\d{4}-\d{2}-\d{2}))?", text.strip())
    if match is None:
        raise ReportError(f"period {text!r}: use YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD")
    try:
        first = date.fromisoformat(match.group(1))
        last = date.fromisoformat(match.group(2) or match.group(1))
    except ValueError as exc:
        raise ReportError(f"period {text!r}: {exc}") from None
    if last < first:
        raise ReportError(f"period {text!r}: the last day is before the first")
    return Period(first, last, zone)


@dataclass(frozen=True, slots=True)
class SensorSummary:
    """One sensor over the period: coverage and window statistics, against its design value/thresholds."""

    sensor: SensorSpec
    readings: int
    expected: int
    mean: float | None
    low: float | None
    high: float | None

    @property
    def coverage(self) -> float:
        """Readings received / expected (1.0 = complete)."""
        return min(self.readings / self.expected, 1.0) if self.expected else 0.0

    @property
    def peak_ratio(self) -> float | None:
        """Peak / design value for ratio kinds (strain, deflection), else None."""
        design = self.sensor.design_value
        if self.sensor.kind not in RATIO_KINDS or not design or self.high is None:
            return None
        return self.high / design

    def threshold_reached(self) -> str:
        """The most severe of ``t1``/``t2``/``t3`` the peak reached, or ``""``."""
        t = self.sensor.thresholds
        value = self.peak_ratio if self.sensor.kind in RATIO_KINDS else self.high
        if value is None:
            return ""
        for name in ("t1", "t2", "t3"):
            if name in t and value >= t[name]:
                return name
        return ""


@dataclass(frozen=True, slots=True)
class AlertSummary:
    """One alert with events in the period, as of its latest event there."""

    alert_id: str
    kind: str
    tier: int
    max_tier: int
    opened_ms: int
    last_event: str
    last_ms: int
    sensor_ids: tuple[str, ...]
    evidence: str

    @property
    def is_fault(self) -> bool:
        """A sensor fault (for the maintainer) rather than a structural alert."""
        return self.kind == "sensor_fault"


@dataclass(frozen=True, slots=True)
class ChartSeries:
    """Hourly mean, min and max of one key channel, with its threshold lines (value, label)."""

    sensor: SensorSpec
    ts_ms: tuple[int, ...]
    mean: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    lines: tuple[tuple[float, str], ...]


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything one report shows."""

    target: str
    is_group: bool
    owner: str
    district: str
    period: Period
    sensors: tuple[SensorSummary, ...]
    alerts: tuple[AlertSummary, ...]
    charts: tuple[ChartSeries, ...]
    generated_ms: int


def verdict(data: ReportData) -> tuple[str, str]:
    """The plain-language verdict (Chinese, English), from the worst alert, the faults and the coverage."""
    incidents = [a for a in data.alerts if not a.is_fault]
    faults = sorted({s for a in data.alerts if a.is_fault for s in a.sensor_ids})
    worst = min((a.max_tier for a in incidents), default=None)
    low_coverage = [s.sensor.sensor_id for s in data.sensors if s.coverage < COVERAGE_OK]
    if worst == 1:
        count = sum(a.max_tier == 1 for a in incidents)
        zh = f"需立即关注:本期出现一级告警 {count} 起,建议尽快组织现场检查并复核结构状态。"
        en = "Needs immediate attention: tier-1 alerts this period; inspect on site and review the structure."
    elif worst == 2:
        zh = "需关注:本期出现二级告警,建议安排专项检查。"
        en = "Needs attention: tier-2 alerts this period; schedule a targeted inspection."
    elif worst == 3:
        zh = "基本正常:本期仅有三级告警,建议持续观察。"
        en = "Mostly normal: only tier-3 alerts this period; keep watching."
    else:
        zh = "运行正常:本期无结构告警,各测点均在阈值以内。"
        en = "Normal: no structural alerts this period; all channels within their thresholds."
    if faults:
        zh += f"另有 {len(faults)} 个传感器故障待维修({'、'.join(faults)})。"
        en += f" {len(faults)} sensor(s) need repair ({', '.join(faults)})."
    if low_coverage:
        zh += f"{len(low_coverage)} 个测点数据完整率低于 {COVERAGE_OK:.0%}。"
        en += f" {len(low_coverage)} channel(s) below {COVERAGE_OK:.0%} data coverage."
    return zh, en
