"""The ``lifeline report`` command (registered on the ``lifeline`` app by :mod:`lifeline.cli`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def report(
    asset: Annotated[str | None, typer.Option(help="asset id or group id (a bridge) from the registry")] = None,
    period: Annotated[str | None, typer.Option(help="YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD (local days)")] = None,
    out: Annotated[Path, typer.Option(help="folder for the report files")] = Path("reports-out"),
    pdf: Annotated[bool, typer.Option(help="also print a PDF with the system Chromium")] = True,
    registry: Annotated[Path | None, typer.Option(help="sensor registry (default: LIFELINE_REGISTRY_PATH)")] = None,
    tz: Annotated[str, typer.Option(help="local time zone of the days and times")] = "Asia/Shanghai",
    weekly: Annotated[bool, typer.Option(help="scheduled mode: one report per bridge for the last full week")] = False,
    week_of: Annotated[str | None, typer.Option(help="with --weekly: the week containing this day instead")] = None,
    routes: Annotated[
        Path | None, typer.Option(help="with --weekly: notify each owner (\\[daily_digest] owners)")
    ] = None,
    link_base: Annotated[str, typer.Option(help="with --routes: URL prefix under which the folder is served")] = "",
) -> None:
    """Write an asset health report (HTML, and PDF through Chromium): coverage, statistics vs design values
    and thresholds, alerts and faults, charts of the key channels, a plain-language verdict (Chinese first).

    \b
    Examples:
      lifeline report --asset BR-001 --period 2026-12-01..2026-12-07 --out reports/
      lifeline report --weekly --out /srv/reports --routes routes.toml    # e.g. from cron, Mondays 06:00
    """
    from lifeline.connectors.questdb import QuestDB
    from lifeline.registry import load_registry
    from lifeline.reports.exceptions import ReportError
    from lifeline.reports.model import parse_period
    from lifeline.reports.weekly import bridge_targets, write_report
    from lifeline.reports.weekly import week_of as week_period
    from lifeline.settings import get_settings

    settings = get_settings()
    path = registry or settings.registry_path
    if path is None:
        raise typer.BadParameter("name the registry (or set LIFELINE_REGISTRY_PATH)", param_hint="--registry")
    reg = load_registry(path)
    with QuestDB(settings) as db:
        if weekly:
            import time

            chosen = week_period(week_of, time.time_ns() // 1_000_000, tz)
            written = [write_report(db, reg, t, chosen, out, pdf=pdf) for t in bridge_targets(reg)]
        else:
            if asset is None or period is None:
                raise ReportError("give --asset and --period (or --weekly)")
            written = [write_report(db, reg, asset, parse_period(period, tz), out, pdf=pdf)]
    for w in written:
        typer.echo(f"{w.target}: {w.html}" + (f" + {w.pdf}" if w.pdf else "") + f" — {w.verdict_zh}")
    if weekly and routes is not None:
        _notify_owners(routes, written, link_base)


def _notify_owners(routes: Path, written: Sequence[object], link_base: str) -> None:
    from lifeline.notify.core import Message
    from lifeline.notify.exceptions import DeliveryError
    from lifeline.notify.notifier import default_channels
    from lifeline.notify.routes import load_rules
    from lifeline.reports.weekly import WrittenReport

    rules = load_rules(routes)
    channels = default_channels(rules, 10.0)
    owners = rules.daily_digest.owners if rules.daily_digest else {}
    for w in written:
        assert isinstance(w, WrittenReport)
        where = f"{link_base.rstrip('/')}/{w.html.name}" if link_base else str(w.html)
        title = f"{w.target} 健康周报已生成"
        for name in owners.get(w.owner, ()):
            contact = rules.contacts[name]
            try:
                channels[contact.channel].send(
                    contact, Message(name, (), text=(title, f"{w.verdict_zh}\n\n报告:{where}"))
                )
                typer.echo(f"  told {name} ({contact.channel.value})")
            except (DeliveryError, KeyError) as exc:
                typer.echo(f"  could not tell {name}: {exc}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``report`` to ``app``. Heavy imports stay in the command body."""
    app.command("report")(report)
