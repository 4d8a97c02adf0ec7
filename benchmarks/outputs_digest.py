"""Fingerprints of everything the detection stages produce, for proving a refactor changed nothing.

Runs named simulator scenarios through the partition and group stages in-process (no servers), with a
fixed partitioning and batching, and prints one SHA-256 per output kind and scenario: window statistics,
findings, alert events, rejects, and the pickled sensor states at the end. As in the flow, the closed windows
of group-model members and DMA sensors cross to the group stage, so the alerts cover the group models and
the DMA leak detectors too. Run it before and after a
change; identical lines mean byte-identical outputs::

    python -m benchmarks.outputs_digest smoke bridge storm-day load-10k:600

``NAME:SECONDS`` shortens a scenario (``load-10k:600`` is its first ten minutes).
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import time
import zlib
from typing import Any

from lifeline.flows.batch import RawBatch
from lifeline.flows.dataflow import GroupWindows, make_detectors
from lifeline.flows.stages import GroupStage, PartitionStage
from lifeline.flows.validate import SensorIndex, ValidationLimits
from lifeline.settings import Settings
from lifeline.simulators.output import scenario_blocks
from lifeline.simulators.scenarios import build

PARTITIONS = 4
BATCH = 1000


def digest(name: str, seed: int = 7, duration_s: float | None = None) -> dict[str, str]:
    """SHA-256 (first 16 hex digits) of each output kind of one scenario run through the stages."""
    scenario = build(name, seed=seed, duration_s=duration_s)
    detectors = make_detectors(Settings(), scenario.registry)
    stage = PartitionStage(detectors, SensorIndex(scenario.registry), "t", limits=ValidationLimits())
    group_models, dma_feeds = getattr(detectors, "group_models", None), getattr(detectors, "dma_feeds", None)
    groups = GroupStage(detectors, partitions=PARTITIONS, group_models=group_models, dma_feeds=dma_feeds)
    group_windows = GroupWindows(group_models, dma_feeds)
    states = [stage.new_state() for _ in range(PARTITIONS)]
    group_state = groups.new_state()
    pending: list[list[tuple[bytes, int]]] = [[] for _ in range(PARTITIONS)]
    hashes = {kind: hashlib.sha256() for kind in ("stats", "findings", "alerts", "rejects", "states")}
    offsets = [0] * PARTITIONS

    def feed(p: int, *, end: bool = False) -> None:
        chunk, pending[p] = pending[p], []
        first = offsets[p]
        offsets[p] += len(chunk)
        batch = RawBatch(p, [c[0] for c in chunk], list(range(first, offsets[p])), [c[1] for c in chunk], end=end)
        out = stage.process(states[p], batch)
        hashes["stats"].update(pickle.dumps(out.stats, protocol=5))
        hashes["findings"].update(pickle.dumps(out.findings, protocol=5))
        hashes["rejects"].update(pickle.dumps(out.rejects, protocol=5))
        events = groups.process(
            group_state, p, out.watermark, out.findings, idle=end, windows=group_windows(out.stats), end=end
        )
        hashes["alerts"].update(pickle.dumps(events, protocol=5))

    for block in scenario_blocks(scenario):
        for key, payload, t in zip(block.keys, block.payloads, block.times_ms.tolist(), strict=True):
            p = zlib.crc32(key) % PARTITIONS
            pending[p].append((payload, t))
            if len(pending[p]) >= BATCH:
                feed(p)
    for p in range(PARTITIONS):
        feed(p, end=True)
    for state in states:
        hashes["states"].update(pickle.dumps(sorted(state.sensors.items()), protocol=5))
    hashes["states"].update(pickle.dumps(sorted(group_state.models.items()), protocol=5))
    return {kind: h.hexdigest()[:16] for kind, h in hashes.items()}


def main(argv: list[str] | None = None) -> None:
    """Print the fingerprints of each named scenario."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="+", help="scenario names, optionally NAME:SECONDS")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    for spec in args.scenarios:
        name, _, seconds = spec.partition(":")
        started = time.perf_counter()
        result: dict[str, Any] = digest(name, args.seed, float(seconds) if seconds else None)
        took = time.perf_counter() - started
        print(f"{spec:<16} " + " ".join(f"{k}={v}" for k, v in result.items()) + f"  ({took:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
