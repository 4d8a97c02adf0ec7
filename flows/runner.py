"""Run the dataflow: recovery store, workers, processes, cluster addresses, metrics endpoint.

Scale-out is Bytewax's own cluster execution: ``workers`` threads per process, ``processes``
processes (spawned here on one host, or started by hand on several hosts with ``process_id`` and
the full ``addresses`` list). Kafka partitions are spread over all workers by Bytewax.
"""

from __future__ import annotations

import gc
import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.run import cli_main

from lifeline.exceptions import LifelineError
from lifeline.registry import load_registry
from lifeline.settings import Settings

__all__ = ["FlowError", "ensure_recovery_store", "run_flow", "tune_gc"]

log = logging.getLogger("lifeline.flow")


class FlowError(LifelineError):
    """The dataflow cannot start as configured."""


def ensure_recovery_store(path: Path, partitions: int) -> None:
    """Create the Bytewax recovery partitions once (an existing store is resumed, not reset)."""
    if path.is_dir() and any(path.glob("part-*.sqlite3")):
        return
    path.mkdir(parents=True, exist_ok=True)
    init_db_dir(path, partitions)


def run_flow(
    settings: Settings,
    *,
    registry_path: Path | None = None,
    workers: int = 1,
    processes: int = 1,
    process_id: int | None = None,
    addresses: list[str] | None = None,
    recovery: bool = True,
    stop_at_end: bool = False,
) -> None:
    """Run the flow in this process (and spawn sibling processes when ``processes > 1``)."""
    registry_file = registry_path or settings.registry_path
    if registry_file is None:
        raise FlowError("no sensor registry: pass --registry FILE or set LIFELINE_REGISTRY_PATH")
    if processes > 1 and process_id is None:
        _spawn_local_cluster(settings, registry_file, workers, processes, recovery, stop_at_end)
        return
    registry = load_registry(registry_file)
    from lifeline.flows.dataflow import build_flow

    flow = build_flow(settings, registry, stop_at_end=stop_at_end)
    recovery_config = None
    if recovery:
        ensure_recovery_store(settings.recovery_path, settings.recovery_partitions)
        recovery_config = RecoveryConfig(str(settings.recovery_path))
    if settings.metrics_port and (process_id in (None, 0)):
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr="127.0.0.1")
    tune_gc()
    log.info("flow starting: %d worker(s), process %s, addresses %s, recovery %s",
             workers, process_id, addresses, settings.recovery_path if recovery else "off")  # fmt: skip
    cli_main(
        flow,
        workers_per_process=workers,
        process_id=process_id,
        addresses=addresses,
        epoch_interval=timedelta(seconds=settings.epoch_interval_s),
        recovery_config=recovery_config,
    )


def tune_gc() -> None:
    """Python's cyclic GC costs 35-60 % on the per-reading path (DESIGN.md): freeze the start-up
    objects and collect young objects less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def _spawn_local_cluster(
    settings: Settings, registry: Path, workers: int, processes: int, recovery: bool, stop_at_end: bool
) -> None:
    from lifeline.connectors.services.process import port_open

    if recovery:  # create the store once here, not concurrently in every child
        ensure_recovery_store(settings.recovery_path, settings.recovery_partitions)
    base = 2101
    while any(port_open("127.0.0.1", base + i) for i in range(processes)):
        base += processes
    addresses = ",".join(f"127.0.0.1:{base + i}" for i in range(processes))
    children = []
    for pid in range(processes):
        argv = [sys.executable, "-m", "lifeline.cli", "run", "--registry", str(registry), "--workers", str(workers),
                "--processes", str(processes), "--process-id", str(pid), "--addresses", addresses]  # fmt: skip
        if not recovery:
            argv.append("--no-recovery")
        if stop_at_end:
            argv.append("--stop-at-end")
        children.append(subprocess.Popen(argv, env=os.environ.copy()))
    codes = [child.wait() for child in children]
    if any(codes):
        raise FlowError(f"cluster process exit codes: {codes}")
