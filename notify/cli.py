"""The ``lifeline notify`` command (registered on the ``lifeline`` app by :mod:`lifeline.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def notify(
    routes: Annotated[
        Path | None,
        typer.Option(help="routing file: contacts, routes, levels, smtp (default: LIFELINE_NOTIFY_ROUTES_PATH)"),
    ] = None,
    check: Annotated[bool, typer.Option(help="only validate the routing file and print the routes")] = False,
) -> None:
    """Send tiered notifications for alerts on the alerts topic, escalating unacknowledged tier-1 alerts.

    \b
    Tier 1: at once to the route's first level (e.g. the owner's duty officer and the regulator);
            not acknowledged within escalate_after_s (default 300) -> next level, and so on.
    Tier 2: at once to the route's first level (the owner's duty desk).
    Tier 3: collected into a digest sent every digest_interval_s.
    Channels: signed webhooks (X-Lifeline-Signature: HMAC-SHA256), e-mail (SMTP), DingTalk / WeCom /
    Feishu group robots (markdown cards, signed where the platform signs), SMS through an HTTP gateway.
    Per contact: language (zh/en) and quiet hours for tier 3. \\[daily_digest]: each owner's day at 08:00.
    Every delivery is logged in the QuestDB notifications table; a notice is sent once per
    (alert, event, contact), also when alerts are replayed. See notify/routes.example.toml.
    """
    import logging
    import signal
    import threading

    from lifeline.clock import SystemClock
    from lifeline.notify.notifier import build_notifier, run_notifier
    from lifeline.notify.routes import load_rules
    from lifeline.notify.settings import NotifySettings
    from lifeline.settings import get_settings

    settings, notify_settings = get_settings(), NotifySettings()
    path = routes or notify_settings.routes_path
    if path is None:
        raise typer.BadParameter("name the routing file (or set LIFELINE_NOTIFY_ROUTES_PATH)", param_hint="--routes")
    parsed = load_rules(path)
    if check:
        typer.echo(f"ok: {len(parsed.contacts)} contacts, {len(parsed.routes)} routes")
        for r in parsed.routes:
            tiers = ",".join(str(int(t)) for t in sorted(r.tiers))
            typer.echo(f"  owner={r.owner} tiers={tiers} levels={[list(lv) for lv in r.levels]}")
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    notifier = build_notifier(settings, notify_settings, parsed, SystemClock())
    if notify_settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(notify_settings.metrics_port, addr="127.0.0.1", registry=notifier.first_notice.registry)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run_notifier(settings, notify_settings, notifier, stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        notifier.close()


def register(app: typer.Typer) -> None:
    """Add ``notify`` to ``app``. Heavy imports stay in the command body."""
    app.command("notify")(notify)
