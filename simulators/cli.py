"""CLI commands of this package (registered on the ``lifeline`` app by :mod:`lifeline.cli`).

``lifeline simulate``, ``lifeline replay`` and ``lifeline scenarios``. Heavy imports (numpy, pyarrow,
confluent_kafka, the generators) stay inside the command bodies so ``lifeline --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, Task

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``simulate``, ``replay`` and ``scenarios`` to ``app``."""
    app.command("simulate")(simulate)
    app.command("replay")(replay)
    app.command("scenarios")(scenarios)


_Scenario = Annotated[
    str,
    typer.Option(
        "--scenario", "-s", help="scenario name (see `lifeline scenarios`), or water:FILE.inp for any EPANET model"
    ),
]
_Duration = Annotated[str | None, typer.Option(help="event time to generate: 90m, 6h, 2d, 1h30m; default per scenario")]
_Seed = Annotated[int, typer.Option(help="random seed; the same seed gives byte-identical output")]
_Start = Annotated[str, typer.Option(help="event time of the first reading, aware ISO-8601 UTC")]
_Out = Annotated[Path | None, typer.Option(help="write files into this folder")]
_Format = Annotated[str, typer.Option("--format", help="parquet, jsonl or both")]
_ToKafka = Annotated[bool, typer.Option("--to-kafka", help="produce to the readings topic")]
_Speed = Annotated[float, typer.Option(help="N× real time on event time; 0 = as fast as possible")]
_Input = Annotated[Path, typer.Option("--input", "-i", help="simulate output folder, .parquet/.jsonl or QuestDB .csv")]


def simulate(
    scenario: _Scenario = "smoke",
    duration: _Duration = None,
    seed: _Seed = 7,
    start: _Start = "2024-07-15T00:00:00Z",
    out: _Out = None,
    file_format: _Format = "parquet",
    to_kafka: _ToKafka = False,
    speed: _Speed = 0.0,
) -> None:
    """Generate a synthetic city's readings with ground truth, to files or to Kafka.

    The city's sensors behave like the real ones (docs/domain.md); incidents, look-alikes and sensor faults are
    injected and listed in ground_truth.csv with the tier each should get. Deterministic for a seed.

    Examples:

        lifeline simulate --scenario smoke --out runs/smoke

        lifeline simulate --scenario storm-day --duration 6h --seed 3 --out runs/storm --format both

        lifeline simulate --scenario gas --to-kafka --speed 60      # 1 h of event time per minute

        lifeline simulate --scenario hefei-scale-load --to-kafka    # as fast as possible

        lifeline simulate --scenario water:mytown.inp --out runs/mytown   # 30 days of your own EPANET model
    """
    from lifeline.exceptions import LifelineError
    from lifeline.simulators.output import FORMATS, produce_scenario, write_files
    from lifeline.simulators.scenarios import build
    from lifeline.simulators.timebase import parse_duration

    if out is None and not to_kafka:
        raise typer.BadParameter("say where the readings go: --out DIR and/or --to-kafka")
    if file_format not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
    if speed < 0:
        raise typer.BadParameter("--speed must be ≥ 0 (0 = as fast as possible)")
    seconds = parse_duration(duration) if duration is not None else None
    built = build(scenario, seed=seed, duration_s=seconds, start=start)
    console = _console()
    console.print(
        f"scenario [bold]{built.name}[/]: {len(built.registry):,} sensors, {built.duration_s / 3600:g} h, "
        f"{len(built.ground_truth)} ground-truth rows, ~{built.estimated_readings():,} readings"
    )
    if out is not None:
        with _progress() as bar:
            task = bar.add_task("writing files", total=built.estimated_readings())
            report = write_files(built, out, file_format, lambda n: bar.advance(task, n))
        console.print(f"wrote {report.readings:,} readings to {out} at {report.readings_per_s:,.0f} readings/s")
    if to_kafka:
        from lifeline.settings import get_settings

        settings = get_settings()
        with _progress() as bar:
            task = bar.add_task(f"producing to {settings.readings_topic}", total=built.estimated_readings())
            try:
                report = produce_scenario(built, settings, speed or None, lambda n: bar.advance(task, n))
            except RuntimeError as exc:
                raise LifelineError(f"{exc} (is Kafka running at {settings.bootstrap_servers}?)") from None
        console.print(
            f"produced {report.messages:,} messages ({report.readings:,} readings, "
            f"{report.bad_messages} bad on purpose) at {report.readings_per_s:,.0f} readings/s"
        )


def replay(
    input_path: _Input,
    speed: _Speed = 60.0,
) -> None:
    """Send recorded readings back to Kafka at N× speed, preserving event times and order.

    Examples:

        lifeline replay --input runs/smoke --speed 60         # an hour of readings in a minute

        lifeline replay --input runs/storm/readings.parquet --speed 0

        lifeline replay --input readings_export.csv --speed 10   # QuestDB CSV export
    """
    from lifeline.exceptions import LifelineError
    from lifeline.settings import get_settings
    from lifeline.simulators.replay import count_readings
    from lifeline.simulators.replay import replay as run_replay

    if speed < 0:
        raise typer.BadParameter("--speed must be ≥ 0 (0 = as fast as possible)")
    settings = get_settings()
    total = count_readings(input_path)
    with _progress() as bar:
        task = bar.add_task(f"replaying to {settings.readings_topic}", total=total)
        try:
            report = run_replay(input_path, settings, speed or None, lambda n: bar.advance(task, n))
        except RuntimeError as exc:
            raise LifelineError(f"{exc} (is Kafka running at {settings.bootstrap_servers}?)") from None
    _console().print(
        f"replayed {report.messages:,} messages ({report.readings:,} readings) at {report.readings_per_s:,.0f}/s"
    )


def scenarios() -> None:
    """List the named scenarios with their size, default length and what they inject.

    Example:

        lifeline scenarios
    """
    from rich.table import Table

    from lifeline.simulators.scenarios import SCENARIOS

    table = Table(title="simulator scenarios")
    for column in ("scenario", "sensors", "length"):
        table.add_column(column, no_wrap=True)
    for column in ("description", "injected"):
        table.add_column(column, overflow="fold")
    for definition in SCENARIOS.values():
        sensors = definition.sensor_count or definition.plan.sensor_count
        table.add_row(
            definition.name, f"{sensors:,}", f"{definition.duration_s / 3600:g} h",
            definition.description, definition.injects,
        )  # fmt: skip
    console = _console()
    console.print(table)
    console.print("and water:FILE.inp: 30 days of any EPANET model, with bursts and incipient leaks like water-net3")


def _console() -> Console:
    from rich.console import Console

    return Console()


def _progress() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Readings per second."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} readings/s" if speed else "- readings/s", style="cyan")

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(), TimeElapsedColumn()
    )
