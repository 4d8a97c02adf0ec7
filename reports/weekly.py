"""Writing reports: one target and period to HTML (and PDF), or — the scheduled mode — one report per
bridge for the last full week (Monday to Sunday, local time) into a folder, each owner told where it is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from lifeline.connectors.questdb import QuestDB
from lifeline.models import Lifeline
from lifeline.registry import Registry
from lifeline.reports.data import load_report_data
from lifeline.reports.html import render_html
from lifeline.reports.model import Period, verdict
from lifeline.reports.pdf import html_to_pdf

__all__ = ["WrittenReport", "bridge_targets", "last_full_week", "write_report"]


@dataclass(frozen=True, slots=True)
class WrittenReport:
    """Files written for one target, its owner and its verdict."""

    target: str
    owner: str
    html: Path
    pdf: Path | None
    verdict_zh: str


def last_full_week(now_ms: int, zone: str) -> Period:
    """The Monday-to-Sunday week before the one containing ``now_ms`` (local days in ``zone``)."""
    today = datetime.fromtimestamp(now_ms / 1000, ZoneInfo(zone)).date()
    monday = today - timedelta(days=today.weekday() + 7)
    return Period(monday, monday + timedelta(days=6), zone)


def bridge_targets(registry: Registry) -> list[str]:
    """Each bridge once: its group id (or asset id when it has no group)."""
    return sorted({s.group_id or s.asset_id for s in registry.values() if s.kind.lifeline is Lifeline.BRIDGE})


def _stem(target: str, period: Period) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in target)
    return f"{safe}_{period.first:%Y%m%d}" + ("" if period.first == period.last else f"-{period.last:%Y%m%d}")


def write_report(
    db: QuestDB, registry: Registry, target: str, period: Period, out_dir: Path, *, pdf: bool = True
) -> WrittenReport:
    """Query, render and write ``<target>_<first>-<last>.html`` (and ``.pdf``) under ``out_dir``."""
    data = load_report_data(db, registry, target, period)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / f"{_stem(target, period)}.html"
    html_path.write_text(render_html(data), encoding="utf-8")
    pdf_path = html_to_pdf(html_path, html_path.with_suffix(".pdf")) if pdf else None
    return WrittenReport(target, data.owner, html_path, pdf_path, verdict(data)[0])


def week_of(text: str | None, now_ms: int, zone: str) -> Period:
    """The Monday-to-Sunday week containing the day ``text`` (YYYY-MM-DD), or the last full week."""
    if text is None:
        return last_full_week(now_ms, zone)
    day = date.fromisoformat(text)
    monday = day - timedelta(days=day.weekday())
    return Period(monday, monday + timedelta(days=6), zone)
