"""Count what the detection stages produce per sensor-hour: the inputs of ``benchmarks.scale_model``.

Runs named simulator scenarios through the partition and group stages in-process (no servers), cut
into 4 partitions and 1,000-message consume batches as ``benchmarks.outputs_digest`` does, and prints
COUNTS, never speeds (so it can run on a busy machine): sensors, messages, readings, window
statistics, findings, alert events, rejects, and the pickled per-sensor state at the end — each also
per sensor-hour, which is what the capacity model scales up::

    python -m benchmarks.scale_inputs storm-day:21600 load-10k:600

``NAME:SECONDS`` shortens a scenario (``load-10k:600`` is its first ten minutes).
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import time
import zlib
from dataclasses import dataclass

from lifeline.flows.batch import RawBatch
from lifeline.flows.dataflow import make_detectors
from lifeline.flows.stages import GroupStage, PartitionStage
from lifeline.flows.validate import SensorIndex, ValidationLimits
from lifeline.settings import Settings
from lifeline.simulators.output import scenario_blocks
from lifeline.simulators.scenarios import build

PARTITIONS = 4
BATCH = 1000


@dataclass(frozen=True, kw_only=True)
class StageCounts:
    """What one scenario run produced, as plain counts."""

    scenario: str
    hours: float
    sensors: int
    messages: int
    readings: int
    stats: int
    findings: int
    alert_events: int
    rejects: int
    state_bytes_median: int
    state_sensors: int
    finding_bytes: int  # pickled size of all findings (what crosses to the group-stage worker)
    group_cpu_s: dict[str, float]  # CPU seconds in GroupStage.process by call kind: empty, findings, tick
    group_calls: dict[str, int]  # calls by kind; "tick" = the call ran the per-minute pass over all groups
    group_tick_findings: int  # findings that came with tick calls
    group_tick_groups: int  # groups visited by all tick passes together
    groups: int  # groups with state at the end

    def per_sensor_hour(self, count: int) -> float:
        """``count`` divided by the sensor-hours of the run."""
        return count / (self.sensors * self.hours)

    def group_s_per_call(self) -> float:
        """CPU seconds for a batch without findings and without the tick (its watermark only)."""
        return self.group_cpu_s["empty"] / max(self.group_calls["empty"], 1)

    def group_s_per_finding(self) -> float:
        """CPU seconds per finding, the watermark part of those calls taken off."""
        extra = self.group_cpu_s["findings"] - self.group_calls["findings"] * self.group_s_per_call()
        return max(extra, 0.0) / max(self.findings - self.group_tick_findings, 1)

    def group_s_per_group_tick(self) -> float:
        """CPU seconds per group visited by the per-minute tick (calls and findings taken off)."""
        extra = (
            self.group_cpu_s["tick"]
            - self.group_calls["tick"] * self.group_s_per_call()
            - self.group_tick_findings * self.group_s_per_finding()
        )
        return max(extra, 0.0) / max(self.group_tick_groups, 1)


def count_outputs(name: str, seed: int = 7, duration_s: float | None = None) -> StageCounts:
    """Run one scenario through the partition and group stages and count every output kind."""
    scenario = build(name, seed=seed, duration_s=duration_s)
    detectors = make_detectors(Settings(), scenario.registry)
    stage = PartitionStage(detectors, SensorIndex(scenario.registry), "t", limits=ValidationLimits())
    groups = GroupStage(detectors, partitions=PARTITIONS)
    states = [stage.new_state() for _ in range(PARTITIONS)]
    group_state = groups.new_state()
    pending: list[list[tuple[bytes, int]]] = [[] for _ in range(PARTITIONS)]
    offsets = [0] * PARTITIONS
    totals = {"messages": 0, "readings": 0, "stats": 0, "findings": 0, "alerts": 0, "rejects": 0, "bytes": 0}
    calls = {"empty": 0, "findings": 0, "tick": 0}
    cpu_s = {"empty": 0.0, "findings": 0.0, "tick": 0.0}
    tick = {"findings": 0, "groups": 0}

    def feed(p: int, *, end: bool = False) -> None:
        chunk, pending[p] = pending[p], []
        first = offsets[p]
        offsets[p] += len(chunk)
        batch = RawBatch(p, [c[0] for c in chunk], list(range(first, offsets[p])), [c[1] for c in chunk], end=end)
        out = stage.process(states[p], batch)
        totals["messages"] += len(chunk)
        totals["readings"] += len(out.accepted)
        totals["stats"] += len(out.stats)
        totals["findings"] += len(out.findings)
        totals["bytes"] += sum(len(pickle.dumps(f, protocol=5)) for f in out.findings)
        totals["rejects"] += len(out.rejects)
        last_tick, groups_before = group_state.last_tick, len(group_state.groups)
        started = time.process_time()
        totals["alerts"] += len(groups.process(group_state, p, out.watermark, out.findings, idle=end))
        took = time.process_time() - started
        kind = "tick" if group_state.last_tick != last_tick else "findings" if out.findings else "empty"
        if kind == "tick":
            tick["findings"] += len(out.findings)
            tick["groups"] += max(groups_before, len(group_state.groups))
        cpu_s[kind] += took
        calls[kind] += 1

    for block in scenario_blocks(scenario):
        for key, payload, t in zip(block.keys, block.payloads, block.times_ms.tolist(), strict=True):
            p = zlib.crc32(key) % PARTITIONS
            pending[p].append((payload, t))
            if len(pending[p]) >= BATCH:
                feed(p)
    for p in range(PARTITIONS):
        feed(p, end=True)
    sizes = [len(pickle.dumps(s, protocol=5)) for state in states for s in state.sensors.values()]
    hours = (duration_s if duration_s is not None else scenario.duration_s) / 3600
    return StageCounts(
        scenario=name if duration_s is None else f"{name}:{duration_s:.0f}",
        hours=hours,
        sensors=len(scenario.registry),
        messages=totals["messages"],
        readings=totals["readings"],
        stats=totals["stats"],
        findings=totals["findings"],
        alert_events=totals["alerts"],
        rejects=totals["rejects"],
        state_bytes_median=int(statistics.median(sizes)) if sizes else 0,
        state_sensors=len(sizes),
        finding_bytes=totals["bytes"],
        group_cpu_s=cpu_s,
        group_calls=calls,
        group_tick_findings=tick["findings"],
        group_tick_groups=tick["groups"],
        groups=len(group_state.groups),
    )


def report(counts: StageCounts) -> str:
    """Counts and per-sensor-hour rates as a few readable lines."""
    rate = counts.per_sensor_hour
    return (
        f"{counts.scenario}: {counts.sensors:,} sensors x {counts.hours:g} h\n"
        f"  messages {counts.messages:,} ({rate(counts.messages):.2f}/sensor-h)  "
        f"readings {counts.readings:,} ({rate(counts.readings):.1f}/sensor-h)\n"
        f"  window stats {counts.stats:,} ({rate(counts.stats):.3f}/sensor-h)  "
        f"findings {counts.findings:,} ({rate(counts.findings):.4f}/sensor-h)  "
        f"alert events {counts.alert_events:,} ({rate(counts.alert_events):.5f}/sensor-h)  "
        f"rejects {counts.rejects:,}\n"
        f"  state: {counts.state_sensors:,} sensors with state, median {counts.state_bytes_median} B pickled\n"
        f"  findings pickled: {counts.finding_bytes / max(counts.findings, 1):.0f} B each\n"
        f"  group stage ({counts.groups:,} groups with state at the end), CPU: "
        f"{1e6 * counts.group_s_per_call():.1f} us per watermark-only batch ({counts.group_calls['empty']:,}), "
        f"{1e6 * counts.group_s_per_finding():.1f} us per finding ({counts.group_calls['findings']:,} batches), "
        f"{1e6 * counts.group_s_per_group_tick():.1f} us per group per tick ({counts.group_calls['tick']:,} ticks)"
    )


def main(argv: list[str] | None = None) -> None:
    """Print the counts of each named scenario."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="+", help="scenario names, optionally NAME:SECONDS")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    for spec in args.scenarios:
        name, _, seconds = spec.partition(":")
        print(report(count_outputs(name, args.seed, float(seconds) if seconds else None)), flush=True)


if __name__ == "__main__":
    main()
