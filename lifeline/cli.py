"""The ``lifeline`` command line. Every command has ``--help``.

The CLI is the composition root: commands import the packages they drive lazily, inside their
bodies, so ``lifeline --help`` stays fast and the domain package stays free of server clients.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from lifeline.exceptions import LifelineError
from lifeline.settings import Settings, get_settings

if TYPE_CHECKING:
    from lifeline.connectors.services.manager import ServiceStatus

__all__ = ["app", "main"]

app = typer.Typer(
    name="lifeline",
    help=(
        "Real-time stream processor for city lifeline monitoring (城市生命线): gas, water, drainage, bridges.\n\n"
        "Configuration comes from LIFELINE_* environment variables and an optional TOML file "
        "(LIFELINE_CONFIG or ./lifeline.toml). Start with `lifeline demo`."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
services_app = typer.Typer(
    help="Fetch, start, check and stop the local Kafka and QuestDB servers.", no_args_is_help=True
)
schema_app = typer.Typer(help="Kafka topics and QuestDB tables.", no_args_is_help=True)
registry_app = typer.Typer(help="The sensor registry file.", no_args_is_help=True)
app.add_typer(services_app, name="services")
app.add_typer(schema_app, name="schema")
app.add_typer(registry_app, name="registry")
config_app = typer.Typer(help="Settings: environment, config file and defaults.", no_args_is_help=True)
app.add_typer(config_app, name="config")

console = Console()
err_console = Console(stderr=True)


def _settings() -> Settings:
    return get_settings()


@services_app.command("up")
def services_up() -> None:
    """Start Kafka (KRaft) and QuestDB on 127.0.0.1; fetch their jars with mvn on first use.

    Idempotent: servers already running are left alone. Ports, folders and versions come from the
    settings (LIFELINE_KAFKA_PORT, LIFELINE_QUESTDB_HTTP_PORT, LIFELINE_CACHE_DIR, LIFELINE_STATE_DIR, ...).
    """
    from lifeline.connectors.services import manager

    settings = _settings()
    statuses = manager.up(settings, report=lambda line: console.print(f"[dim]•[/] {line}"))
    _print_status(statuses)


@services_app.command("down")
def services_down() -> None:
    """Stop the servers this launcher started (found by pid file). Data stays in the state folder."""
    from lifeline.connectors.services import manager

    manager.down(_settings(), report=lambda line: console.print(f"[dim]•[/] {line}"))


@services_app.command("status")
def services_status() -> None:
    """Show each server's state, pid, endpoints and log file. Exit code 1 if any is not healthy."""
    from lifeline.connectors.services import manager

    statuses = manager.status(_settings())
    _print_status(statuses)
    if not all(s.healthy for s in statuses):
        raise typer.Exit(1)


def _print_status(statuses: Sequence[ServiceStatus]) -> None:
    table = Table(title="lifeline services")
    for col in ("service", "state", "pid", "endpoints", "log"):
        table.add_column(col)
    for s in statuses:
        colour = {"running": "green", "external": "cyan", "starting": "yellow"}.get(s.state, "red")
        endpoints = "\n".join(f"{k}: {v}" for k, v in s.endpoints.items())
        table.add_row(s.name, f"[{colour}]{s.state}[/]", str(s.pid or "-"), endpoints, s.log_file)
    console.print(table)


@schema_app.command("apply")
def schema_apply() -> None:
    """Create the Kafka topics and QuestDB tables if missing (safe to repeat)."""
    from lifeline.connectors.bootstrap import apply_schema

    settings = _settings()
    report = apply_schema(settings)
    created = ", ".join(report.topics_created) or "none (all existed)"
    console.print(f"topics created: {created}")
    console.print(f"tables ensured: {', '.join(report.tables)}")


@schema_app.command("show")
def schema_show() -> None:
    """Print the topic names and the QuestDB DDL, as defined in code."""
    from lifeline.schema import TABLES

    s = _settings()
    console.print(f"topics: {s.readings_topic} ({s.readings_partitions} partitions), {s.alerts_topic}, {s.dlq_topic}")
    for table in TABLES:
        console.print(f"\n[bold]{table.name}[/] — {table.description}")
        console.print(table.create_sql(), soft_wrap=True, highlight=False)


@config_app.command("show")
def config_show(
    part: Annotated[str, typer.Option("--part", help="core, api, notify or all")] = "all",
    changed: Annotated[bool, typer.Option("--changed", help="only settings not at their default")] = False,
) -> None:
    """List every setting with its value and where it came from (default, file or env).

    The file is LIFELINE_CONFIG, else ./lifeline.toml: top-level keys for the core settings, tables
    \\[api], \\[notify] and \\[rules] for the API, the notifier and the detector rules. Secrets are masked.

    Examples:

        lifeline config show --changed
        LIFELINE_API_PORT=8090 lifeline config show --part api
    """
    from lifeline.api.settings import ApiSettings
    from lifeline.notify.settings import NotifySettings
    from lifeline.settings import LifelineSettings, describe

    parts: dict[str, Callable[[], LifelineSettings]] = {"core": _settings, "api": ApiSettings, "notify": NotifySettings}
    if part != "all" and part not in parts:
        raise typer.BadParameter(f"unknown part {part!r}; use one of core, api, notify, all", param_hint="--part")
    for name, make in parts.items():
        if part not in ("all", name):
            continue
        table = Table(title=f"{name} settings", title_justify="left")
        for column in ("setting", "environment variable", "value", "source", "meaning"):
            table.add_column(column, overflow="fold")
        for row in describe(make()):
            if changed and row.source == "default":
                continue
            style = {"env": "bold", "file": "cyan"}.get(row.source, "dim")
            table.add_row(row.name, row.env, row.value, f"[{style}]{row.source}[/]", row.description)
        console.print(table)


@registry_app.command("check")
def registry_check(path: Annotated[Path, typer.Argument(help="registry CSV file")]) -> None:
    """Validate a registry file and report every problem with file, row and field."""
    from collections import Counter

    from lifeline.registry import load_registry

    registry = load_registry(path)
    kinds = Counter(spec.kind.value for spec in registry.values())
    console.print(f"[green]ok[/]: {len(registry)} sensors on {len(registry.asset_ids)} assets")
    for kind, n in sorted(kinds.items()):
        console.print(f"  {kind:<24} {n}")


@app.command("demo")
def demo(
    scenario: Annotated[str, typer.Option(help="simulator scenario (see `lifeline scenarios`)")] = "smoke",
    seed: Annotated[int, typer.Option(help="simulator seed")] = 7,
    serve: Annotated[bool, typer.Option(help="then keep the API and notifier running until Ctrl-C")] = True,
    api_port: Annotated[int, typer.Option(help="API port (the next free one is used if taken)")] = 8080,
) -> None:
    """Run the local demo: servers, schema, a simulated city into Kafka, the dataflow, alerts scored
    against ground truth, then the API and notifier until Ctrl-C or SIGTERM (either stops them too).

    Examples:

      lifeline demo                          # the smoke city, then serve the API until Ctrl-C

      lifeline demo --scenario storm-day --no-serve
    """
    from lifeline.flows.demo import run_demo
    from lifeline.simulators.exceptions import UnknownScenarioError
    from lifeline.simulators.scenarios import scenario_definition

    try:
        scenario_definition(scenario)
    except UnknownScenarioError as exc:
        raise typer.BadParameter(str(exc)) from exc
    run_demo(_settings(), console, scenario_name=scenario, seed=seed, serve=serve, api_port=api_port)


# Commands owned by other packages register themselves here. Each module keeps its heavy imports
# inside command bodies, so `lifeline --help` stays fast.
_COMMAND_MODULES = (
    "lifeline.simulators.cli",  # simulate, replay
    "lifeline.flows.detect_cli",  # detect
    "lifeline.flows.cli",  # run
    "lifeline.api.cli",  # api
    "lifeline.notify.cli",  # notify
    "lifeline.reports.cli",  # report
)


def _register_commands() -> None:
    import importlib

    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(app)


_register_commands()


def main() -> None:
    """Entry point: run the CLI and turn our errors into a clear message and exit code 2."""
    try:
        app()
    except LifelineError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
