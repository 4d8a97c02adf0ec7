"""Scale-out: with several workers, every worker runs the detection of the partitions it reads.

Before, the per-partition detector state sat in a step keyed by partition number, which Bytewax places
by a hash of the key: with four partitions and two workers all four landed on one worker, which did
all the detection while the other only read Kafka (``lifeline run -p 2`` ran slower than ``-p 1``).
"""

from __future__ import annotations

import threading
import zlib
from typing import Any

from bytewax.testing import cluster_main

from lifeline.detectors.engine import Detectors
from lifeline.detectors.results import SensorResult
from lifeline.flows.dataflow import build_flow, make_detectors
from lifeline.flows.testing import memory_io, split_into_batches
from lifeline.settings import Settings
from lifeline.simulators.output import scenario_blocks
from lifeline.simulators.scenarios import build

PARTITIONS = 4


class _RecordingDetectors(Detectors):
    """The flow's detectors, noting which worker thread processed each sensor."""

    def __init__(self, inner: Detectors) -> None:
        super().__init__(inner.registry, inner.config)
        self.threads: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def process_sensor(self, state: Any, ts_ms: Any, values: Any, quiet: Any = None) -> SensorResult:
        with self._lock:
            self.threads.setdefault(state.sensor_id, set()).add(threading.current_thread().name)
        return super().process_sensor(state, ts_ms, values, quiet)


def test_two_workers_each_detect_the_partitions_they_read() -> None:
    scenario = build("smoke", seed=5)
    messages = [
        (key, payload, t)
        for block in scenario_blocks(scenario)
        for key, payload, t in zip(block.keys, block.payloads, block.times_ms.tolist(), strict=True)
    ]
    partitions = split_into_batches(messages, PARTITIONS, [200])
    settings = Settings()
    detectors = _RecordingDetectors(make_detectors(settings, scenario.registry))  # type: ignore[arg-type]
    io, _collected = memory_io(partitions)
    flow = build_flow(settings, scenario.registry, detectors=detectors, io=io)
    cluster_main(flow, [], 0, worker_count_per_proc=2)

    by_partition: dict[int, set[str]] = {}
    for sensor_id, threads in detectors.threads.items():
        by_partition.setdefault(zlib.crc32(sensor_id.encode()) % PARTITIONS, set()).update(threads)
    assert sorted(by_partition) == list(range(PARTITIONS))  # every partition had sensors to detect
    assert all(len(threads) == 1 for threads in by_partition.values())  # a partition stays on one worker
    workers = {next(iter(threads)) for threads in by_partition.values()}
    assert len(workers) == 2, f"all partitions were detected on {workers}"
