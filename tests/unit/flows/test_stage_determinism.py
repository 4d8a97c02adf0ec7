"""The partition and group stages give the same alerts, statistics and rejects however the stream is
cut into batches and however partitions interleave (what recovery and 1-vs-N workers rely on)."""

from __future__ import annotations

import random
import zlib
from typing import Any

import msgspec
import pytest

from lifeline.flows.batch import RawBatch
from lifeline.flows.dataflow import make_detectors
from lifeline.flows.stages import GroupStage, PartitionStage
from lifeline.flows.validate import SensorIndex, ValidationLimits
from lifeline.settings import Settings
from lifeline.simulators.output import scenario_blocks
from lifeline.simulators.scenarios import build

PARTITIONS = 3


Stream = tuple[Any, list[list[tuple[bytes, int]]]]


def _partitioned(scenario: Any) -> Stream:
    """The scenario's messages as (payload, kafka time) per partition, keyed as the producer keys them."""
    per_partition: list[list[tuple[bytes, int]]] = [[] for _ in range(PARTITIONS)]
    for block in scenario_blocks(scenario):
        for key, payload, t in zip(block.keys, block.payloads, block.times_ms.tolist(), strict=True):
            per_partition[zlib.crc32(key) % PARTITIONS].append((payload, t))
    return scenario, per_partition


@pytest.fixture(scope="module")
def stream() -> tuple[Any, list[list[tuple[bytes, int]]]]:
    scenario = build("smoke", seed=3)
    return _partitioned(scenario)


def _run(
    scenario: Any,
    per_partition: list[list[tuple[bytes, int]]],
    batch: int,
    seed: int,
    lateness_ms: int = 0,
    lead: int | None = None,
    counts: dict[str, int] | None = None,
) -> tuple[Any, ...]:
    """Feed every partition through the stages in random batches and a random interleaving; ``lead``: that
    partition is read to its end before any other (as if its reader were much faster); ``counts`` receives
    the group stage's ``late_findings`` and the alert events whole (value, score, evidence: ``events``)."""
    detectors = make_detectors(Settings(), scenario.registry)
    stage = PartitionStage(detectors, SensorIndex(scenario.registry), "t", limits=ValidationLimits(),
                           sweep_interval_ms=300_000, allowed_lateness_ms=lateness_ms)  # fmt: skip
    groups = GroupStage(detectors, partitions=PARTITIONS)
    states = [stage.new_state() for _ in range(PARTITIONS)]
    group_state = groups.new_state()
    cursors = [0] * PARTITIONS
    rng = random.Random(seed)
    alerts, stats, rejects = set(), set(), set()
    idle: set[int] = set()
    whole: list[bytes] = []
    while len(idle) < PARTITIONS:
        p = rng.choice([i for i in range(PARTITIONS) if i not in idle])
        if lead is not None and lead not in idle:
            p = lead
        if cursors[p] >= len(per_partition[p]):  # the source announces a partition that reached its end
            idle.add(p)
            out = stage.process(states[p], RawBatch(p, [], [], [], idle=True, end=True))
            alerts |= {(e.alert_id, e.event.value, e.ts, int(e.tier)) for e in groups.process(
                group_state, p, out.watermark, out.findings, idle=True)}  # fmt: skip
            continue
        size = rng.randint(1, batch)
        chunk = per_partition[p][cursors[p] : cursors[p] + size]
        offsets = list(range(cursors[p], cursors[p] + len(chunk)))
        cursors[p] += len(chunk)
        out = stage.process(states[p], RawBatch(p, [c[0] for c in chunk], offsets, [c[1] for c in chunk]))
        stats |= {(s.sensor_id, s.window_start, s.count, round(s.mean, 9)) for s in out.stats}
        rejects |= {(r.partition, r.offset, r.reason.value) for r in out.rejects}
        events = groups.process(group_state, p, out.watermark, out.findings)
        alerts |= {(e.alert_id, e.event.value, e.ts, int(e.tier)) for e in events}
        whole.extend(msgspec.json.encode(e) for e in events)
    if counts is not None:
        counts["late_findings"] = groups.late_findings
        counts["events"] = hash(tuple(sorted(whole)))
    return alerts, stats, rejects


def test_same_results_for_any_batching_and_interleaving(stream: tuple[Any, list[list[tuple[bytes, int]]]]) -> None:
    scenario, per_partition = stream
    reference = _run(scenario, per_partition, batch=1000, seed=1)
    assert reference[0], "the scenario raises alerts"
    assert reference[2], "the scenario has rejects"
    for batch, seed in ((7, 2), (300, 3), (64, 4)):
        assert _run(scenario, per_partition, batch, seed) == reference


def test_same_results_with_allowed_lateness_on_an_out_of_order_stream(
    stream: tuple[Any, list[list[tuple[bytes, int]]]],
) -> None:
    scenario, per_partition = stream
    rng = random.Random(9)
    shuffled = []
    for messages in per_partition:  # each message arrives up to ~40 positions late
        keyed = sorted(enumerate(messages), key=lambda pair: pair[0] + rng.choice((0, 0, 0, rng.randint(1, 40))))
        shuffled.append([m for _, m in keyed])
    strict = _run(scenario, shuffled, batch=1000, seed=1)
    reference = _run(scenario, shuffled, batch=1000, seed=1, lateness_ms=600_000)
    assert reference[0], "the scenario raises alerts"
    assert len(reference[2]) < len(strict[2]), "an allowed lateness rejects fewer readings as late"
    for batch, seed in ((7, 2), (300, 3)):
        assert _run(scenario, shuffled, batch, seed, lateness_ms=600_000) == reference


@pytest.fixture(scope="module")
def storm_stream() -> tuple[Any, list[list[tuple[bytes, int]]]]:
    # a storm's first hours: drainage sensors of a catchment sample on the same millisecond
    scenario = build("storm-day", seed=7, duration_s=3 * 3600)
    return _partitioned(scenario)


def test_no_finding_of_an_in_order_stream_reaches_the_group_late(
    storm_stream: tuple[Any, list[list[tuple[bytes, int]]]],
) -> None:
    # Readings stamped on the same millisecond by several sensors may be cut over two batches: the group
    # must not evaluate that millisecond after the first half, or the second half's findings arrive late
    # and the alerts' values and evidence depend on where the cut fell (which a crash and replay moves).
    scenario, per_partition = storm_stream
    reference: dict[str, int] = {}
    alerts = _run(scenario, per_partition, batch=1000, seed=1, counts=reference)[0]
    assert len(alerts) >= 5, "the scenario raises alerts"
    counts: dict[str, int] = {}
    _run(scenario, per_partition, batch=64, seed=2, counts=counts)
    assert counts["late_findings"] == 0
    assert counts["events"] == reference["events"], "alert events differ in content (value, score, evidence)"


@pytest.fixture(scope="module")
def long_stream() -> tuple[Any, list[list[tuple[bytes, int]]]]:
    scenario = build("smoke", seed=3, duration_s=4 * 3600)
    return _partitioned(scenario)


@pytest.mark.parametrize("lead", range(PARTITIONS))
def test_a_partition_read_hours_ahead_of_the_others_changes_no_alert(
    long_stream: tuple[Any, list[list[tuple[bytes, int]]]], lead: int
) -> None:
    # A replay whose readers run at different speeds (one catching up faster, one restarted after a
    # crash, a starved consumer): the alerts must not depend on it, however far apart they drift.
    scenario, per_partition = long_stream
    reference = _run(scenario, per_partition, batch=500, seed=11)
    assert len(reference[0]) >= 5, "the scenario raises alerts"
    assert _run(scenario, per_partition, batch=500, seed=12, lead=lead) == reference
