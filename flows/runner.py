"""Run the dataflow: recovery store, workers, processes, cluster addresses, metrics endpoint.

Scale-out is Bytewax's own cluster execution: ``workers`` threads per process, ``processes``
processes (spawned and supervised here on one host, or started by hand on several hosts with
``process_id`` and the full ``addresses`` list). Kafka partitions are spread over all workers by Bytewax.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from datetime import timedelta
from pathlib import Path

from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.run import cli_main

from lifeline.flows.cluster_join import wait_for_lower_processes
from lifeline.flows.exceptions import FlowError
from lifeline.registry import load_registry
from lifeline.settings import Settings

__all__ = ["FlowError", "ensure_recovery_store", "run_flow", "supervise_local_cluster", "tune_gc"]

log = logging.getLogger("lifeline.flow")


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
    warm_start: str | None = None,
) -> int:
    """Run the flow in this process, or, when ``processes > 1`` and no ``process_id`` is given, run and
    supervise a local cluster of that many processes. Returns the exit code (0 unless stopped by a signal).

    ``warm_start`` (``14d``, ``36h``): initialise sensors and group models met for the first time from that
    much of ``sensor_stats`` in QuestDB (flows/warm.py)."""
    registry_file = registry_path or settings.registry_path
    if registry_file is None:
        raise FlowError("no sensor registry: pass --registry FILE or set LIFELINE_REGISTRY_PATH")
    if warm_start:
        from lifeline.flows.warm import parse_duration

        parse_duration(warm_start)  # a typo fails here, not in every cluster process
    if processes > 1 and process_id is None:
        return supervise_local_cluster(settings, registry_file, workers=workers, processes=processes,
                                       recovery=recovery, stop_at_end=stop_at_end, warm_start=warm_start)  # fmt: skip
    registry = load_registry(registry_file)
    from lifeline.flows.dataflow import build_flow, make_detectors

    detectors = make_detectors(settings, registry)
    warm = None
    if warm_start:
        from lifeline.flows.warm import load_warm_history, parse_duration

        span = parse_duration(warm_start)
        warm = load_warm_history(settings, registry, span, getattr(detectors, "group_models", None), echo=log.info,
                                 dma_feeds=getattr(detectors, "dma_feeds", None),
                                 peer_means=getattr(detectors, "peer_means", None))  # fmt: skip
    flow = build_flow(settings, registry, detectors=detectors, stop_at_end=stop_at_end, warm=warm)
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
    if process_id and addresses and not wait_for_lower_processes(process_id, addresses):
        log.info("process %d: the lower cluster processes are not listening yet; joining anyway", process_id)
    cli_main(
        flow,
        workers_per_process=workers,
        process_id=process_id,
        addresses=addresses,
        epoch_interval=timedelta(seconds=settings.epoch_interval_s),
        recovery_config=recovery_config,
    )
    return 0


def tune_gc() -> None:
    """Python's cyclic GC costs 35-60 % on the per-reading path (docs/architecture.md): freeze the start-up
    objects and collect young objects less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def supervise_local_cluster(
    settings: Settings, registry: Path, *, workers: int, processes: int, recovery: bool, stop_at_end: bool,
    warm_start: str | None = None,
) -> int:  # fmt: skip
    """Run ``processes`` local cluster processes under the supervisor (``flows/cluster.py``): a process
    that dies takes the cluster down and the whole cluster restarts from the last snapshot, at most
    ``LIFELINE_SUPERVISE_RETRIES`` times. Returns 0 (done) or 128 + signal (stopped); raises
    ``FlowError`` when it gives up."""
    from lifeline.flows.cluster import supervise_cluster
    from lifeline.flows.supervisor import SupervisePolicy

    if recovery:  # create the store once here, not concurrently in every child
        ensure_recovery_store(settings.recovery_path, settings.recovery_partitions)
    else:
        log.warning("recovery is off: if a cluster process dies the others are stopped and nothing is restarted")

    def command(index: int, addresses: str) -> list[str]:
        argv = [sys.executable, "-m", "lifeline.cli", "run", "--registry", str(registry), "--workers", str(workers),
                "--processes", str(processes), "--process-id", str(index), "--addresses", addresses]  # fmt: skip
        argv += ["--warm-start", warm_start] if warm_start else []
        return argv + (["--no-recovery"] if not recovery else []) + (["--stop-at-end"] if stop_at_end else [])

    policy = SupervisePolicy(
        retries=settings.supervise_retries, backoff_s=settings.supervise_backoff_s,
        grace_s=settings.supervise_grace_s, restarts_allowed=recovery,
    )  # fmt: skip
    final = supervise_cluster(command, processes=processes, policy=policy, env=os.environ.copy())
    if final.exit_code == 2:
        raise FlowError(f"the supervised cluster failed: {final.reason}")
    return final.exit_code
