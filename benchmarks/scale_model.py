"""A capacity model on paper: how many hosts a city of N sensors needs, and what breaks first.

Arithmetic only (no servers, no timing): it scales the figures measured on the 2-core development
machine to a fleet of hosts. Every input is an option whose default is a measured figure or a documented
assumption, and says where it comes from (docs/scale-out.md explains each one)::

    python -m benchmarks.scale_model                       # 10 M sensors on 8, 16, 32 and 64 hosts
    python -m benchmarks.scale_model --storm               # storm: water/drainage every minute, more findings
    python -m benchmarks.scale_model --sensors 85000 --hosts 1 2 --cores-per-host 2

How it counts, per host:

* messages and readings from the sensor mix of docs/domain.md (load model): each class has a share,
  a reporting interval and readings per message (50 Hz raw bridge channels send 1-s batches of 50);
* partition-stage CPU = readings in batches / (b) batch rate per core + single-reading messages /
  single-reading rate per core — the flow is about 65x cheaper per reading in batches than on single readings;
* state = active sensors x stored snapshot bytes per sensor (compressed, dead entries included); every
  epoch each worker pickles and compresses only the sensors touched since its last snapshot (at most a
  reading and a window closed by a sweep per reporting interval), plus as many entries again for
  compaction (flows/sensor_pickles.py), so snapshot CPU per epoch = touched sensors x 2 x the cost per
  sensor; Bytewax still writes each partition's whole state to the recovery store every epoch;
* the group stage is ONE key on ONE worker for the whole cluster: it takes every finding and one
  watermark per consume batch of every partition; its CPU = findings/s x cost per finding + batches/s x
  cost per call + groups x cost per group visit / minute (every minute of event time it visits every group);
* a worker reads nothing while it pickles: the snapshot pause per worker = its touched sensors x 2 x the
  cost per sensor, to be kept under the latency target (p99 250 ms);
* QuestDB rows/s = window statistics + alert events + readings down-sampled to one per sensor per second.

Reading the output: "cores needed" against the host's cores (headroom keeps half free); "snapshot per
worker" against the latency target; "group stage: share of its one core" must stay well under 100 % and
its "tick pass" is how long every alert of the cluster waits once a minute. The last two lines give the
fewest hosts for CPU and for the snapshot pause, and the partition count at which the single group-stage
key runs out of its core. Broker and QuestDB capacity are outside the model.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

# ------------------------------------------------------------------------------------------ inputs


@dataclass(frozen=True, kw_only=True)
class SensorClass:
    """One line of the load mix: ``share`` of all sensors, each sending a message every ``interval_s``."""

    name: str
    share: float
    interval_s: float
    readings_per_message: int = 1


#: docs/domain.md "Load model" (Hefei mix, project estimates): gas wells 50 % at 15 min; water and
#: drainage 35 % at 5-15 min (5 min taken: the simulator's default for pressure, flow, level, rain);
#: bridges 15 %, of which about 10 % raw 50 Hz accelerometers batched at the edge (1-s batches as in
#: the load-10k scenario), the rest 10-min aggregates.
DEFAULT_MIX: tuple[SensorClass, ...] = (
    SensorClass(name="gas wells", share=0.50, interval_s=900),
    SensorClass(name="water + drainage", share=0.35, interval_s=300),
    SensorClass(name="bridge 10-min channels", share=0.135, interval_s=600),
    SensorClass(name="bridge raw 50 Hz", share=0.015, interval_s=1, readings_per_message=50),
)
#: docs/domain.md "Load model": water and drainage report every minute in a storm.
STORM_INTERVAL_S = 60.0


@dataclass(frozen=True, kw_only=True)
class ModelInputs:
    """Everything the model rests on; the defaults are the project's measured figures (see the module doc)."""

    sensors: int = 10_000_000
    cores_per_host: int = 8
    mix: tuple[SensorClass, ...] = DEFAULT_MIX
    #: README figures table, (b) full flow on load-10k (99.8 % of readings in 50-value batches), 1 worker,
    #: 2026-12-03, 2-core shared machine: 2.15-3.22 M readings/s; 2.40 M taken (docs/scale-out.md).
    batch_readings_per_core_s: float = 2.40e6
    #: bench_flow (b) full flow on storm-day (one reading per message), 2-core shared machine; docs/scale-out.md.
    single_messages_per_core_s: float = 36.6e3
    #: bench_flow's snapshot line, storm-day, LIFELINE_SNAPSHOT_COMPRESSION=1 (the default), after 30 min
    #: of live epochs (dead entries included), 2026-12-05: 573 B per active sensor.
    state_bytes_per_sensor: float = 573.0
    #: the same line: a snapshot after every sensor changed, pickled and compressed, 61 ms for 3,021 sensors
    #: (2026-12-05, quiet machine).
    snapshot_s_per_sensor: float = 0.061 / 3021
    #: each snapshot rewrites at most as many compacted entries as it pickled fresh (flows/sensor_pickles.py)
    compaction_factor: float = 2.0
    #: LIFELINE_EPOCH_INTERVAL_S default: every worker snapshots its state this often.
    epoch_interval_s: float = 5.0
    #: LIFELINE_SOURCE_LINGER_MS default 50 ms: a live partition hands at most 1/linger batches a second
    #: to the group stage (each with its watermark) when its batches are short, as they are here.
    source_linger_s: float = 0.05
    #: Kafka partitions per worker (1 worker per core): 2 leaves room to add hosts without re-partitioning.
    partitions_per_core: int = 2
    #: measured on quiet-day-with-faults (3,021 sensors, 24 h, seed 7; docs/scale-out.md): 217 findings, 45 alert
    #: events (2026-12-03), and the notes sensors send their group once an hour (2026-12-06): 26,197 level moves
    #: (the offset veto) and 38,775 hourly means (the drift against peers); --storm takes storm-day's.
    findings_per_sensor_hour: float = (217 + 26_197 + 38_775) / (3021 * 24)
    #: 4.51 window statistics per sensor-hour for the 5-15 min sensors (quiet-day-with-faults); the raw 50 Hz
    #: channels close a 60-s window a minute (RulesConfig.subminute_window_s): 0.985 x 4.51 + 0.015 x 60.
    stats_per_sensor_hour: float = 0.985 * 4.51 + 0.015 * 60
    alert_events_per_sensor_hour: float = 0.00062
    #: CPU time of GroupStage.process on the shared machine, quiet-day-with-faults (order of magnitude only).
    group_s_per_finding: float = 20e-6
    group_s_per_call: float = 31e-6
    #: per group visited by the per-minute tick: 14 us on the quiet day, 70 us on storm-day (open alarms).
    group_s_per_group_tick: float = 14e-6
    #: groups per sensor: 199 groups for 3,021 sensors in quiet-day-with-faults, 727 for 11,238 in load-10k.
    #: A group enters the tick once it has state (after its first finding) and is never dropped: on the
    #: first day 17 (quiet) and 63 (storm) of the 199 had state; a long-running city tends to all of them.
    groups_per_sensor: float = 199 / 3021
    #: GroupStage tick_interval_ms default: every minute of event time the group stage visits every group with
    #: work (not at rest: a pending finding, a contribution or an alert).
    group_tick_interval_s: float = 60.0
    #: share of the groups not at rest at a tick, quiet-day-with-faults, seed 7, 2026-12-05: 1.7 of 199 on average
    #: over the day's ticks (storm-day: 19.6 of 199); groups at rest are skipped by the tick
    active_group_share: float = 1.7 / 199
    #: LIFELINE_DOWNSAMPLE_MS default 1000: one stored reading per sensor per second at most.
    downsample_s: float = 1.0
    #: share of a core kept free for catch-up after an outage, GC and snapshots' bursts.
    target_utilisation: float = 0.5
    #: a worker reads nothing while it pickles its snapshot: keep it under
    #: the p99 latency target of 250 ms (docs/scale-out.md).
    max_snapshot_pause_s: float = 0.25


# ------------------------------------------------------------------------------------------ results


@dataclass(frozen=True, kw_only=True)
class HostPlan:
    """The model's answer for one host count."""

    hosts: int
    sensors_per_host: float
    messages_per_host_s: float
    readings_per_host_s: float
    partition_cores_per_host: float
    snapshot_cores_per_host: float
    cores_needed_per_host: float
    headroom: float
    kafka_partitions: int
    state_mib_per_host: float
    snapshot_s_per_worker: float
    recovery_write_mib_s_per_host: float
    findings_s: float
    group_calls_s: float
    group_core_share: float
    group_tick_pass_s: float
    questdb_rows_s: float


def messages_per_sensor_s(mix: Sequence[SensorClass]) -> float:
    """Messages per second per sensor, averaged over the mix."""
    return sum(c.share / c.interval_s for c in mix)


def batch_and_single_rates(mix: Sequence[SensorClass], sensors: float) -> tuple[float, float]:
    """(readings/s that arrive in multi-reading batches, single-reading messages/s) for ``sensors``."""
    batched = sum(sensors * c.share / c.interval_s * c.readings_per_message for c in mix if c.readings_per_message > 1)
    single = sum(sensors * c.share / c.interval_s for c in mix if c.readings_per_message == 1)
    return batched, single


def stored_readings_s(mix: Sequence[SensorClass], sensors: float, downsample_s: float) -> float:
    """Reading rows/s written to QuestDB: at most one per sensor per ``downsample_s``."""
    return sum(sensors * c.share * min(c.readings_per_message / c.interval_s, 1.0 / downsample_s) for c in mix)


def touched_share(mix: Sequence[SensorClass], epoch_interval_s: float) -> float:
    """Share of the sensors whose state changes in one epoch: a reading and a window closed by a sweep per
    reporting interval at most (every epoch for sensors that report faster than twice an epoch)."""
    return sum(c.share * min(1.0, 2.0 * epoch_interval_s / c.interval_s) for c in mix)


def storm_mix(mix: Sequence[SensorClass], interval_s: float = STORM_INTERVAL_S) -> tuple[SensorClass, ...]:
    """The mix with water and drainage reporting every ``interval_s`` (docs/domain.md: 1 min in storms)."""
    return tuple(replace(c, interval_s=interval_s) if c.name == "water + drainage" else c for c in mix)


def storm_inputs(inputs: ModelInputs) -> ModelInputs:
    """A storm: water and drainage every minute, and storm-day's measured finding and alert rates
    (14,182 findings, 26,608 level-move and 38,784 hourly-mean notes and 1,949 alert events from 3,021 sensors in
    24 h; 70 us per group in the tick)."""
    return replace(
        inputs,
        mix=storm_mix(inputs.mix),
        findings_per_sensor_hour=(14_182 + 26_608 + 38_784) / (3021 * 24),
        alert_events_per_sensor_hour=0.0269,
        group_s_per_group_tick=70e-6,
        active_group_share=19.6 / 199,
    )


def plan(inputs: ModelInputs, hosts: int) -> HostPlan:
    """Scale the inputs to ``hosts`` hosts of ``inputs.cores_per_host`` cores (one worker per core)."""
    per_host = inputs.sensors / hosts
    batched, single = batch_and_single_rates(inputs.mix, per_host)
    partition_cores = batched / inputs.batch_readings_per_core_s + single / inputs.single_messages_per_core_s
    snapshot_s = (
        inputs.snapshot_s_per_sensor * inputs.compaction_factor * touched_share(inputs.mix, inputs.epoch_interval_s)
    )
    snapshot_cores = per_host * snapshot_s / inputs.epoch_interval_s
    needed = partition_cores + snapshot_cores
    partitions = hosts * inputs.cores_per_host * inputs.partitions_per_core
    findings_s = inputs.sensors * inputs.findings_per_sensor_hour / 3600
    tick_pass_s = inputs.sensors * inputs.groups_per_sensor * inputs.active_group_share * inputs.group_s_per_group_tick
    group_calls_s = partitions / inputs.source_linger_s
    group_core = (
        findings_s * inputs.group_s_per_finding
        + group_calls_s * inputs.group_s_per_call
        + tick_pass_s / inputs.group_tick_interval_s
    )
    rows_s = inputs.sensors * (
        inputs.stats_per_sensor_hour + inputs.alert_events_per_sensor_hour
    ) / 3600 + stored_readings_s(inputs.mix, inputs.sensors, inputs.downsample_s)
    state_bytes = per_host * inputs.state_bytes_per_sensor
    return HostPlan(
        hosts=hosts,
        sensors_per_host=per_host,
        messages_per_host_s=per_host * messages_per_sensor_s(inputs.mix),
        readings_per_host_s=batched + single,
        partition_cores_per_host=partition_cores,
        snapshot_cores_per_host=snapshot_cores,
        cores_needed_per_host=needed,
        headroom=1.0 - needed / (inputs.cores_per_host * inputs.target_utilisation),
        kafka_partitions=partitions,
        state_mib_per_host=state_bytes / 2**20,
        snapshot_s_per_worker=per_host / inputs.cores_per_host * snapshot_s,
        recovery_write_mib_s_per_host=state_bytes / 2**20 / inputs.epoch_interval_s,
        findings_s=findings_s,
        group_calls_s=group_calls_s,
        group_core_share=group_core,
        group_tick_pass_s=tick_pass_s,
        questdb_rows_s=rows_s,
    )


def group_stage_limit_partitions(inputs: ModelInputs) -> float:
    """Kafka partitions at which the single group-stage key needs a whole core (findings and ticks included)."""
    findings_core = plan(replace(inputs, group_s_per_call=0.0), 1).group_core_share  # findings + ticks
    per_partition = inputs.group_s_per_call / inputs.source_linger_s
    return math.inf if per_partition == 0 else max(0.0, (1.0 - findings_core) / per_partition)


def min_hosts(inputs: ModelInputs) -> int:
    """Fewest hosts whose cores stay within ``target_utilisation`` (partition stage + snapshots)."""
    one = plan(inputs, 1)
    return max(1, math.ceil(one.cores_needed_per_host / (inputs.cores_per_host * inputs.target_utilisation)))


def min_hosts_for_pause(inputs: ModelInputs) -> int:
    """Fewest hosts whose workers each pickle their snapshot within ``max_snapshot_pause_s``."""
    return max(1, math.ceil(plan(inputs, 1).snapshot_s_per_worker / inputs.max_snapshot_pause_s))


# ------------------------------------------------------------------------------------------ command line


def _table(inputs: ModelInputs, host_counts: Sequence[int]) -> str:
    """The plans for each host count as a Markdown table (one column per host count)."""
    plans = [plan(inputs, h) for h in host_counts]
    rows: list[tuple[str, Sequence[str]]] = [
        ("sensors per host", [f"{p.sensors_per_host:,.0f}" for p in plans]),
        ("messages/s per host", [f"{p.messages_per_host_s:,.0f}" for p in plans]),
        ("readings/s per host", [f"{p.readings_per_host_s:,.0f}" for p in plans]),
        ("cores: partition stage", [f"{p.partition_cores_per_host:.2f}" for p in plans]),
        ("cores: snapshots", [f"{p.snapshot_cores_per_host:.2f}" for p in plans]),
        (f"cores needed (of {inputs.cores_per_host})", [f"{p.cores_needed_per_host:.2f}" for p in plans]),
        (f"headroom at {inputs.target_utilisation:.0%} target", [f"{p.headroom:+.0%}" for p in plans]),
        ("Kafka partitions", [f"{p.kafka_partitions:,}" for p in plans]),
        ("state per host (MiB)", [f"{p.state_mib_per_host:,.0f}" for p in plans]),
        ("snapshot per worker (s)", [f"{p.snapshot_s_per_worker:.2f}" for p in plans]),
        ("recovery writes (MiB/s per host)", [f"{p.recovery_write_mib_s_per_host:,.1f}" for p in plans]),
        ("findings/s to the group stage", [f"{p.findings_s:,.0f}" for p in plans]),
        ("batches/s to the group stage", [f"{p.group_calls_s:,.0f}" for p in plans]),
        ("group stage: share of its one core", [f"{p.group_core_share:.0%}" for p in plans]),
        ("group stage: tick pass once a minute (s)", [f"{p.group_tick_pass_s:.1f}" for p in plans]),
        ("QuestDB rows/s (whole cluster)", [f"{p.questdb_rows_s:,.0f}" for p in plans]),
    ]
    head = "| per host | " + " | ".join(f"{h} hosts" for h in host_counts) + " |"
    rule = "| --- |" + " ---: |" * len(host_counts)
    return "\n".join([head, rule, *(f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows)])


def _parser() -> argparse.ArgumentParser:
    defaults = ModelInputs()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scale_model", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    add = parser.add_argument
    add("--sensors", type=int, default=defaults.sensors, help="sensors in the city (default %(default)s)")
    add("--hosts", type=int, nargs="+", default=[8, 16, 32, 64], help="host counts to compare (default %(default)s)")
    add("--cores-per-host", type=int, default=defaults.cores_per_host, help="one worker per core (default %(default)s)")
    add(
        "--storm",
        action="store_true",
        help="water and drainage every minute (docs/domain.md), storm-day's finding rates",
    )
    add("--batch-rate", type=float, default=defaults.batch_readings_per_core_s,
        help="readings/s per core when readings come in 50-value batches; README figures table, (b) full flow, "
             "load-10k, 2026-12-03 (default %(default).3g)")  # fmt: skip
    add(
        "--single-rate",
        type=float,
        default=defaults.single_messages_per_core_s,
        help="messages/s per core, one reading per message; bench_flow (b), storm-day (default %(default).3g)",
    )
    add(
        "--state-bytes",
        type=float,
        default=defaults.state_bytes_per_sensor,
        help="stored snapshot bytes per active sensor (compressed, dead entries included); bench_flow, storm-day, "
        "2026-12-05 (default %(default)s)",
    )
    add(
        "--snapshot-us",
        type=float,
        default=defaults.snapshot_s_per_sensor * 1e6,
        help="pickling and compressing one touched sensor's state, microseconds; bench_flow, storm-day, 2026-12-05 "
        "(default %(default).2f)",
    )
    add(
        "--epoch-s",
        type=float,
        default=defaults.epoch_interval_s,
        help="snapshot interval, LIFELINE_EPOCH_INTERVAL_S (default %(default)s)",
    )
    add("--partitions-per-core", type=int, default=defaults.partitions_per_core, help="(default %(default)s)")
    add(
        "--findings-per-sensor-hour",
        type=float,
        default=defaults.findings_per_sensor_hour,
        help="benchmarks.scale_inputs on quiet-day-with-faults (default %(default)s)",
    )
    add(
        "--stats-per-sensor-hour",
        type=float,
        default=defaults.stats_per_sensor_hour,
        help="window statistics rows; benchmarks.scale_inputs (default %(default)s)",
    )
    add(
        "--alerts-per-sensor-hour",
        type=float,
        default=defaults.alert_events_per_sensor_hour,
        help="alert lifecycle events; benchmarks.scale_inputs (default %(default)s)",
    )
    add(
        "--group-us-per-finding",
        type=float,
        default=defaults.group_s_per_finding * 1e6,
        help="group-stage CPU per finding; benchmarks.scale_inputs (default %(default).1f)",
    )
    add(
        "--group-us-per-batch",
        type=float,
        default=defaults.group_s_per_call * 1e6,
        help="group-stage CPU per watermark-only batch; benchmarks.scale_inputs (default %(default).1f)",
    )
    add(
        "--group-us-per-group-tick",
        type=float,
        default=defaults.group_s_per_group_tick * 1e6,
        help="group-stage CPU per group in the per-minute tick; benchmarks.scale_inputs (default %(default).1f)",
    )
    add(
        "--active-group-share",
        type=float,
        default=defaults.active_group_share,
        help="share of the groups with work (not at rest) at a tick; quiet-day-with-faults 2026-12-05 "
        "(default %(default).4f)",
    )
    add(
        "--target-utilisation",
        type=float,
        default=defaults.target_utilisation,
        help="share of the cores the plan may use (default %(default)s)",
    )
    add(
        "--max-pause-ms",
        type=float,
        default=defaults.max_snapshot_pause_s * 1000,
        help="longest snapshot pause of a worker; the p99 latency target (default %(default)s)",
    )
    return parser


def inputs_from_args(args: argparse.Namespace) -> ModelInputs:
    """The model's inputs from parsed command-line options."""
    return ModelInputs(
        sensors=args.sensors,
        cores_per_host=args.cores_per_host,
        mix=DEFAULT_MIX,
        batch_readings_per_core_s=args.batch_rate,
        single_messages_per_core_s=args.single_rate,
        state_bytes_per_sensor=args.state_bytes,
        snapshot_s_per_sensor=args.snapshot_us / 1e6,
        epoch_interval_s=args.epoch_s,
        partitions_per_core=args.partitions_per_core,
        findings_per_sensor_hour=args.findings_per_sensor_hour,
        stats_per_sensor_hour=args.stats_per_sensor_hour,
        alert_events_per_sensor_hour=args.alerts_per_sensor_hour,
        group_s_per_finding=args.group_us_per_finding / 1e6,
        group_s_per_call=args.group_us_per_batch / 1e6,
        group_s_per_group_tick=args.group_us_per_group_tick / 1e6,
        active_group_share=args.active_group_share,
        target_utilisation=args.target_utilisation,
        max_snapshot_pause_s=args.max_pause_ms / 1000,
    )


def main(argv: list[str] | None = None) -> None:
    """Print the plan table, the fewest hosts, and where the single group stage gives out."""
    args = _parser().parse_args(argv)
    inputs = storm_inputs(inputs_from_args(args)) if args.storm else inputs_from_args(args)
    batched, single = batch_and_single_rates(inputs.mix, inputs.sensors)
    print(f"{inputs.sensors:,} sensors: {single:,.0f} single-reading messages/s + {batched:,.0f} batched readings/s"
          f"{' (storm: water and drainage every minute)' if inputs.mix != DEFAULT_MIX else ''}\n")  # fmt: skip
    print(_table(inputs, sorted(args.hosts)))
    limit = group_stage_limit_partitions(inputs)
    print(f"\nfewest hosts of {inputs.cores_per_host} cores within {inputs.target_utilisation:.0%} of their cores: "
          f"{min_hosts(inputs)}; with each worker's snapshot pause <= {inputs.max_snapshot_pause_s * 1000:.0f} ms: "
          f"{min_hosts_for_pause(inputs)}")  # fmt: skip
    print(f"single group-stage key needs a whole core at {limit:,.0f} Kafka partitions "
          f"(= {limit / (inputs.cores_per_host * inputs.partitions_per_core):,.0f} hosts)")  # fmt: skip


if __name__ == "__main__":
    main()
