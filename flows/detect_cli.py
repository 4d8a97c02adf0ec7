"""CLI commands of this package (registered on the ``lifeline`` app by :mod:`lifeline.cli`): ``detect``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]

_HELP = (
    "Score one time series offline with the same online detectors the stream uses.\n\n"
    "Reads a CSV or Parquet file, streams it in file order (one pass, no look-ahead: each reading is scored "
    "before it is learned) and writes timestamp,value,score,tier. score is the generic anomaly score in [0, 1]; "
    "tier is 1 (most severe) .. 3 from the threshold step, empty when none.\n\n"
    "Examples:\n\n"
    "  lifeline detect --input nyc_taxi.csv --out scores.csv\n\n"
    "  lifeline detect --input pump.parquet --time-column ts --value-column pressure_mpa "
    "--sensor-kind water_pressure --out pump_scores.csv\n\n"
    "Timestamps may be ISO-8601 text (naive = UTC), Parquet timestamps, or epoch seconds / milliseconds. "
    "Missing columns or unparseable timestamps stop with exit code 2."
)


def register(app: typer.Typer) -> None:
    """Add the ``detect`` command to ``app``. Heavy imports stay inside the command body."""

    @app.command("detect", help=_HELP)
    def detect(
        input: Annotated[Path, typer.Option("--input", "-i", help="CSV or Parquet file to score")],
        out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write (timestamp,value,score,tier)")],
        time_column: Annotated[str, typer.Option(help="name of the timestamp column")] = "timestamp",
        value_column: Annotated[str, typer.Option(help="name of the value column")] = "value",
        sensor_kind: Annotated[
            str | None, typer.Option(help="sensor kind (e.g. gas_pressure); checked against the known kinds")
        ] = None,
        warmup: Annotated[int, typer.Option(help="readings learned before scores are reported")] = 100,
    ) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from lifeline.detectors.anomaly_composite import DETECT_CUTS, CompositeScorer
        from lifeline.detectors.anomaly_filter import TierFilter
        from lifeline.flows.exceptions import DetectInputError
        from lifeline.flows.offline import detect_series, read_series, write_scores
        from lifeline.models import SensorKind

        if sensor_kind is not None and sensor_kind not in {k.value for k in SensorKind}:
            known = ", ".join(k.value for k in SensorKind)
            raise DetectInputError(f"unknown --sensor-kind {sensor_kind!r}; known kinds: {known}")
        if warmup < 0:
            raise DetectInputError("--warmup must be >= 0")
        series = read_series(input, time_column, value_column)
        model = CompositeScorer(grace_period=warmup)
        with Progress(
            TextColumn("[bold]detect[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=True,
        ) as progress:
            task = progress.add_task(input.name, total=series.values.size)
            scores, tiers = detect_series(series, model, TierFilter(DETECT_CUTS), lambda n: progress.advance(task, n))
        write_scores(out, series, scores, tiers)
        flagged = int((tiers > 0).sum())
        typer.echo(f"scored {series.values.size} readings from {input} → {out} ({flagged} with a tier)")
