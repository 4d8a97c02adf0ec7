"""``lifeline run``: start the dataflow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def run(
    registry: Annotated[Path | None, typer.Option(help="sensor registry CSV (else LIFELINE_REGISTRY_PATH)")] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="worker threads per process")] = 1,
    processes: Annotated[int, typer.Option("--processes", "-p", min=1, help="processes in the cluster")] = 1,
    process_id: Annotated[
        int | None, typer.Option("--process-id", "-i", help="this process's index (multi-host clusters)")
    ] = None,
    addresses: Annotated[
        str | None, typer.Option("--addresses", "-a", help="host:port of every process, comma separated")
    ] = None,
    recovery: Annotated[bool, typer.Option(help="snapshot state + offsets to the recovery store")] = True,
    stop_at_end: Annotated[bool, typer.Option(help="stop at the end of the topic as it was at start")] = False,
    warm_start: Annotated[
        str | None,
        typer.Option(
            help="initialise baselines of sensors and groups not in a snapshot from the last N of "
            "sensor_stats in QuestDB (e.g. 14d, 36h)"
        ),
    ] = None,
) -> None:
    """Run the detection dataflow: lifeline.readings → validation → detectors → QuestDB + lifeline.alerts.

    Examples:

      lifeline run --registry city/registry.csv             # one worker, recovery on

      lifeline run -w 2                                      # two worker threads

      lifeline run -p 2                                      # two local processes, supervised

      lifeline run --warm-start 14d                          # baselines from 14 days of sensor_stats

      # two hosts: run on each, with its own --process-id
      lifeline run -a hostA:2101,hostB:2101 -i 0 -w 2

    After a crash, run the same command again: the flow resumes from its last snapshot
    (LIFELINE_RECOVERY_DIR, default <state dir>/recovery). Metrics: http://127.0.0.1:9108/metrics.

    -p N without --process-id supervises the N processes: if one dies, the others are stopped and the
    whole cluster restarts from the last snapshot, at most LIFELINE_SUPERVISE_RETRIES (3) times in a row,
    after LIFELINE_SUPERVISE_BACKOFF_S (1 s, doubling); SIGTERM/SIGINT are forwarded to every process.
    With --no-recovery nothing is restarted.

    Logs name the sensor, step, partition and offset of every error; LIFELINE_LOG_FORMAT=json for JSON lines.
    """
    from lifeline.flows.runner import run_flow
    from lifeline.logs import configure_logging
    from lifeline.settings import get_settings

    configure_logging()
    code = run_flow(
        get_settings(),
        registry_path=registry,
        workers=workers,
        processes=processes,
        process_id=process_id,
        addresses=addresses.split(",") if addresses else None,
        recovery=recovery,
        stop_at_end=stop_at_end,
        warm_start=warm_start,
    )
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``run`` to the ``lifeline`` app."""
    app.command("run")(run)
