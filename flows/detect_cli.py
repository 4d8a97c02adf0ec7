"""CLI commands of this package (registered on the ``lifeline`` app by :mod:`lifeline.cli`): ``detect``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from lifeline.detectors.config import AnomalyRules, RulesConfig

__all__ = ["product_anomaly_rules", "register"]

_HELP = (
    "Score time series offline with the same learned baseline the live flow runs on every closed window.\n\n"
    "Reads a CSV (UTF-8, or GBK as Excel saves it on a Chinese Windows; columns separated by commas, "
    "semicolons, tabs or bars, found from the header line; decimal commas read) or Parquet file, "
    "streams it in file order (one pass, no look-ahead: each row is scored "
    "before it is learned) and writes timestamp,value,score,tier. Each row is one window of one value; the "
    "window length is the median spacing of the timestamps. score is the anomaly score in [0, 1]; tier is 3 "
    "(an anomaly, as in the live flow) where the calibrated threshold (the product's target false-alarm rate "
    "per sensor-day) is crossed, empty otherwise. The defaults are the product's settings: the \\[rules.anomaly] "
    "table of the configuration file, else the documented defaults. Scores start after the warm-up: 100 rows, "
    "and those spanning a day, but at most 750 rows or 15 % of the file (NAB's probationary period), "
    "whichever is fewer (--warmup N sets it in rows).\n\n"
    "Several --value-column names (comma-separated) are scored as one asset: one baseline per column and a "
    "combined score (sum of the columns' squared z); the output then has one column per value.\n\n"
    "Examples:\n\n"
    "  lifeline detect --input nyc_taxi.csv --out scores.csv\n\n"
    "  lifeline detect --input pump.parquet --time-column ts --value-column pressure_mpa "
    "--sensor-kind water_pressure --out pump_scores.csv\n\n"
    "  lifeline detect --input rig.csv --value-column p1,p2,flow --out rig_scores.csv\n\n"
    "Timestamps may be ISO-8601 text (without a zone: local time, \\[rules.anomaly] utc_offset_h, +8 by default), "
    "Parquet timestamps, or epoch seconds / milliseconds. "
    "Missing columns or unparseable timestamps stop with exit code 2."
)


def register(app: typer.Typer) -> None:
    """Add the ``detect`` command to ``app``. Heavy imports stay inside the command body."""

    @app.command("detect", help=_HELP)
    def detect(
        input: Annotated[Path, typer.Option("--input", "-i", help="CSV or Parquet file to score")],
        out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write (timestamp,value,score,tier)")],
        time_column: Annotated[str, typer.Option(help="name of the timestamp column")] = "timestamp",
        value_column: Annotated[
            str, typer.Option(help="name of the value column; several comma-separated names = one asset")
        ] = "value",
        sensor_kind: Annotated[
            str | None,
            typer.Option(help="sensor kind (e.g. gas_pressure): checked, and picks its false-alarm target"),
        ] = None,
        warmup: Annotated[
            int | None,
            typer.Option(help="rows learned before scores are reported (default: the product's warm-up)"),
        ] = None,
    ) -> None:
        from dataclasses import replace

        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from lifeline.detectors.sensor_baseline import warmup_windows
        from lifeline.flows.exceptions import DetectInputError
        from lifeline.flows.offline import detect_frame, read_frame, recording_rules, window_seconds, write_frame_scores
        from lifeline.models import SensorKind

        if sensor_kind is not None and sensor_kind not in {k.value for k in SensorKind}:
            known = ", ".join(k.value for k in SensorKind)
            raise DetectInputError(f"unknown --sensor-kind {sensor_kind!r}; known kinds: {known}")
        if warmup is not None and warmup < 0:
            raise DetectInputError("--warmup must be >= 0")
        product = product_rules()
        rules = product.anomaly
        if sensor_kind is not None:
            target = rules.false_alarms_per_day_by_kind.get(sensor_kind, rules.false_alarms_per_day)
            rules = replace(rules, false_alarms_per_day=target)
        if warmup is not None:
            rules = replace(rules, warmup_windows=warmup, warmup_hours=0.0)
        columns = [c.strip() for c in value_column.split(",") if c.strip()]
        frame = read_frame(input, time_column, columns, naive_utc_offset_h=rules.utc_offset_h)
        with Progress(
            TextColumn("[bold]detect[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=True,
        ) as progress:
            task = progress.add_task(input.name, total=frame.ts_ms.size)
            scores, tiers = detect_frame(frame, rules, lambda n: progress.advance(task, n), rest_days=product.rest_days)
        write_frame_scores(out, frame, scores, tiers)
        flagged = int((tiers > 0).sum())
        typer.echo(f"scored {frame.ts_ms.size} rows from {input} → {out} ({flagged} with a tier)")
        learning = warmup_windows(recording_rules(rules, frame.ts_ms.size), window_seconds(frame.ts_ms))
        if 0 < frame.ts_ms.size <= learning:
            typer.echo(f"note: the model learns from the first {learning} rows before it scores, and this file has "
                       f"{frame.ts_ms.size}: every score is 0; pass --warmup N for fewer", err=True)  # fmt: skip


def product_rules() -> RulesConfig:
    """The rules the live flow uses: the config file's ``[rules]`` table (and the rules file of
    ``LIFELINE_DETECTOR_RULES_PATH``) over the documented defaults."""
    from lifeline.detectors.config import load_rules_config, rules_from_table
    from lifeline.settings import Settings, config_table

    config = rules_from_table(config_table("rules"), "config file [rules]")
    rules_path = Settings().detector_rules_path
    if rules_path:
        config = load_rules_config(rules_path, base=config)
    return config


def product_anomaly_rules() -> AnomalyRules:
    """The anomaly settings the live flow uses (:func:`product_rules`)."""
    return product_rules().anomaly
