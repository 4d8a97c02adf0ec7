"""Dataflow throughput and latency on real Kafka + QuestDB, against the raw consume + decode limit.

Run: ``python -m benchmarks.bench_flow [--scenario load-10k] [--minutes 10] [--runs 5] [--warmup 1]``

In one process run, on one pre-filled topic (a simulator scenario, realistic mix):

(a) the best raw loop confluent-kafka allows: ``consume(1000)`` batches, msgspec typed decode,
    tuned GC and fetch settings — the physical limit of this machine;
(b) the full flow (Bytewax, 1 worker, recovery on): validation, windows, detection, window
    statistics + alerts + rejects written to QuestDB, alerts and DLQ to Kafka;
(b') the same with every raw reading also stored in QuestDB.

Then a latency run: the flow runs live while a producer replays the scenario at 50 % of (b) with
event times shifted to now, and probe ponding gauges rise to tier 1 at known moments; latency is the
time from the reading that completes an alert's evidence entering Kafka (the broker's acknowledgement)
to receiving that alert on ``lifeline.alerts`` (also reported from the ``produce()`` call, which adds
any wait in the producer's queue). Finally the Bytewax snapshot cost: pickling the partition states of the
flow after every sensor changed (a replay's epoch), and again one live epoch of traffic later (only the sensors
touched are re-pickled).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
from bytewax.recovery import RecoveryConfig
from bytewax.testing import run_main
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from benchmarks._harness import Measurement, print_table
from benchmarks._servers import real_servers
from lifeline.codec import WireReading, decode_alert_event
from lifeline.connectors.bootstrap import apply_schema
from lifeline.connectors.kafka import consumer_config, make_producer
from lifeline.flows.batch import RawBatch
from lifeline.flows.dataflow import build_flow, dump_snapshot, make_detectors
from lifeline.flows.runner import ensure_recovery_store, tune_gc
from lifeline.flows.stages import PartitionStage
from lifeline.flows.validate import SensorIndex, ValidationLimits
from lifeline.models import SensorKind, SensorSpec
from lifeline.registry import Registry, write_registry
from lifeline.settings import Settings
from lifeline.simulators.output import produce_scenario, scenario_blocks
from lifeline.simulators.scenarios import build


def raw_consume_decode(settings: Settings, expected_messages: int) -> int:
    """(a): consume every message of the topic and decode it; return readings decoded."""
    decoder = msgspec.json.Decoder(WireReading)  # the flow's own typed decoder shape
    consumer = Consumer(consumer_config(settings, group_id=f"raw-{uuid.uuid4().hex[:8]}"))
    parts = consumer.list_topics(settings.readings_topic, timeout=10).topics[settings.readings_topic].partitions
    consumer.assign([TopicPartition(settings.readings_topic, p, 0) for p in parts])
    messages = readings = 0
    decode = decoder.decode
    while messages < expected_messages:
        batch = consumer.consume(1000, timeout=0.1)
        for message in batch:
            wire = decode(message.value())  # type: ignore[arg-type]
            readings += 1 if wire.values is None else len(wire.values)
        messages += len(batch)
    consumer.close()
    return readings


def prepare_flow_run(settings: Settings, registry: Registry, store: str, tmp: Path) -> Callable[[], None]:
    """(b)/(b'): fresh tables and topics for one finite run of the full flow; returns the run itself.

    Creating the tables is set-up (a flow in service finds them in place), so it is not timed.
    """
    tag = uuid.uuid4().hex[:8]
    run_settings = settings.with_overrides(
        store_readings=store, questdb_table_prefix=f"b{tag}_", alerts_topic=f"bench.alerts.{tag}",
        dlq_topic=f"bench.dlq.{tag}", recovery_dir=tmp / f"recovery-{tag}",
    )  # fmt: skip
    apply_schema(run_settings)
    ensure_recovery_store(run_settings.recovery_path, 1)

    def run() -> None:
        flow = build_flow(run_settings, registry, stop_at_end=True, flow_id=f"bench-{tag}")
        run_main(flow, epoch_interval=timedelta(seconds=settings.epoch_interval_s),
                 recovery_config=RecoveryConfig(str(run_settings.recovery_path)))  # fmt: skip

    return run


@dataclass(frozen=True)
class SnapshotCost:
    """What snapshotting the partition states costs (see :func:`snapshot_cost`)."""

    sensors: int  # sensors with state
    replay_s: float  # a snapshot after every sensor changed (a replay's epoch, or the first after a restart)
    live_s: list[float]  # each live epoch's snapshot, in event-time order
    live_touched: list[int]  # sensors re-pickled for each (touched in the epoch)
    size: int  # bytes of the last snapshot

    def describe(self) -> str:
        """One line: size per sensor, the replay snapshot and the live epochs' distribution."""
        live_ms = sorted(x * 1000 for x in self.live_s)
        p99 = live_ms[min(len(live_ms) - 1, int(0.99 * len(live_ms)))]
        touched = statistics.median(self.live_touched)
        return (f"{self.size / 1e6:.1f} MB, {self.sensors:,} sensors with state → "
                f"{self.size / max(self.sensors, 1):,.0f} B per active sensor; after every sensor changed (a "
                f"replay's epoch) {self.replay_s * 1000:.0f} ms; {len(live_ms)} live epochs (median {touched:.0f} "
                f"sensors touched): median {statistics.median(live_ms):.1f} ms, p99 {p99:.1f} ms, "
                f"max {live_ms[-1]:.1f} ms")  # fmt: skip


def snapshot_cost(scenario: Any, settings: Settings, level: int = 0, live_minutes: float = 30.0) -> SnapshotCost:
    """Run the scenario through the partition stage in-process up to its last ``live_minutes`` of event time and
    time a snapshot of the partition states (``dump_snapshot`` at zlib ``level``, as ``LIFELINE_SNAPSHOT_COMPRESSION``
    does): every sensor changed since the start. Then feed the rest epoch by epoch at the scenario's own pace
    (``settings.epoch_interval_s`` of event time each, sweeps included) and time the snapshot after each, which
    pickles only what the epoch touched (``flows/sensor_pickles.py``)."""
    detectors = make_detectors(settings, scenario.registry)
    stage = PartitionStage(detectors, SensorIndex(scenario.registry), "t", limits=ValidationLimits())
    states = [stage.new_state() for _ in range(settings.readings_partitions)]
    per: list[list[tuple[bytes, int]]] = [[] for _ in states]  # (payload, event or emit time) per partition
    for block in scenario_blocks(scenario):
        for key, payload, t in zip(block.keys, block.payloads, block.times_ms.tolist(), strict=True):
            per[zlib.crc32(key) % len(states)].append((payload, t))
    live_from = scenario.end_ms - round(live_minutes * 60_000)
    epoch_ms = round(settings.epoch_interval_s * 1000)

    def feed(p: int, items: list[tuple[bytes, int]]) -> None:
        for i in range(0, len(items), 1000):
            chunk = items[i : i + 1000]
            stage.process(states[p], RawBatch(p, [c[0] for c in chunk], list(range(len(chunk))), [c[1] for c in chunk]))

    for p, items in enumerate(per):
        feed(p, [item for item in items if item[1] < live_from])
    started = time.perf_counter()
    for state in states:
        dump_snapshot(state, level)
    replay_s = time.perf_counter() - started
    live_s: list[float] = []
    touched: list[int] = []
    size = 0
    for epoch_start in range(live_from, scenario.end_ms, epoch_ms):
        for p, items in enumerate(per):
            feed(p, [item for item in items if epoch_start <= item[1] < epoch_start + epoch_ms])
        touched.append(sum(len(s.sensors) - s._pickles.stored() for s in states))
        started = time.perf_counter()
        size = sum(len(dump_snapshot(state, level)) for state in states)
        live_s.append(time.perf_counter() - started)
    return SnapshotCost(sum(len(s.sensors) for s in states), replay_s, live_s, touched, size)


# --------------------------------------------------------------------------------------------- latency


def _probe_registry(scenario: Any, probes: int) -> Registry:
    extra = [
        SensorSpec(f"PROBE-{i:04d}-POND", SensorKind.PONDING_DEPTH, f"UP-PROBE-{i:04d}", "bench-drainage",
                   "bench", 31.8, 117.2, asset_kind="underpass", interval_s=60.0)
        for i in range(probes)
    ]  # fmt: skip
    return Registry([*scenario.sensors, *extra], source="bench")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process, all threads (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


PROBE_PROFILE_CM = (0.0, 0.0, 0.0, 5.0, 12.0, 20.0, 28.0, 36.0, 44.0, 47.0, 48.0, 48.0, 47.0)


def latency_run(
    settings: Settings, scenario: Any, rate: float, seconds: float, tmp: Path, warmup_s: float = 10.0
) -> dict[str, float]:
    """Run the flow live in a subprocess; replay the scenario at ``rate`` readings/s with event times
    shifted to the present and probe gauges rising to tier 1; measure produce → alert latency.

    Probes start rising only after ``warmup_s`` of replay, so the figure is the steady state, not
    the backlog the replay builds while the flow process is still starting."""
    tag = uuid.uuid4().hex[:8]
    probes = 400
    registry = _probe_registry(scenario, probes)
    registry_file = tmp / f"registry-{tag}.csv"
    write_registry(registry.values(), registry_file)
    live = settings.with_overrides(
        readings_topic=f"lat.readings.{tag}", alerts_topic=f"lat.alerts.{tag}", dlq_topic=f"lat.dlq.{tag}",
        questdb_table_prefix=f"l{tag}_", recovery_dir=tmp / f"recovery-lat-{tag}", store_readings="none",
    )  # fmt: skip
    apply_schema(live)
    flow = subprocess.Popen(
        [sys.executable, "-m", "lifeline.cli", "run", "--registry", str(registry_file)], env=live.environment()
    )
    arrivals: dict[str, tuple[int, float, float]] = {}  # probe asset → (alert time, received, produced by the flow)
    alerts_seen = [0]
    stop = threading.Event()

    listening = threading.Event()

    def listen() -> None:
        # assign the partitions instead of joining a consumer group: a group join on a fresh broker
        # (creating __consumer_offsets) can take seconds, and every alert that arrived meanwhile
        # would be timed at the moment the join finished
        consumer = Consumer({"bootstrap.servers": live.bootstrap_servers, "group.id": f"lat-{tag}",
                             "enable.auto.commit": False, "fetch.wait.max.ms": 100})  # fmt: skip
        topic = consumer.list_topics(live.alerts_topic, timeout=10).topics[live.alerts_topic]
        consumer.assign([TopicPartition(live.alerts_topic, p, OFFSET_BEGINNING) for p in topic.partitions])
        consumer.consume(1, timeout=1.0)  # connected and fetching before the replay starts
        listening.set()
        while not stop.is_set():
            for message in consumer.consume(100, timeout=0.05):
                if message.error():
                    continue
                now = time.time()
                alerts_seen[0] += 1
                event = decode_alert_event(message.value() or b"")
                if event.asset_id.startswith("UP-PROBE-") and int(event.tier) == 1 and event.asset_id not in arrivals:
                    arrivals[event.asset_id] = (event.ts, now, message.timestamp()[1] / 1000)
        consumer.close()

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    flow_started = time.time()
    producer = make_producer(live)  # batches like a gateway would (linger.ms 5); timing starts at the ack
    # a replay runs faster than the clock: anchor it so its last event time is "now", keeping every
    # event time in the past (not rejected as future) while preserving the intervals between readings
    shift = int(flow_started * 1000) - scenario.end_ms
    # the load generator must not take CPU from the flow it measures: shift every message's event
    # time before the clock starts, so the replay loop below only paces and produces
    blocks = [(block, [_shift(p, shift) for p in block.payloads]) for block in scenario_blocks(scenario)]
    time.sleep(max(0.0, 6.0 - (time.time() - flow_started)))  # let the flow start and join its partitions
    if not listening.wait(30):
        raise RuntimeError("the alert listener did not start")
    print(f"  replaying {scenario.end_ms - scenario.start_ms:,} ms of event time at {rate:,.0f} readings/s", flush=True)
    wall_start = time.time()
    cpu_start = _cpu_seconds(flow.pid)
    event_start = scenario.start_ms
    produced_at: dict[tuple[str, int], float] = {}  # probe reading → when produce() was called
    acked_at: dict[tuple[str, int], float] = {}  # probe reading → when the broker acknowledged it (in Kafka)

    def on_ack(key: tuple[str, int]) -> Any:
        def report(err: Any, _message: Any) -> None:
            if err is None:
                acked_at[key] = time.time()

        return report

    started: list[int] = []  # event time at which probe i started rising; a new probe every event-minute
    next_minute: int | None = None
    sent = 0
    speed = None
    produce, topic = producer.produce, live.readings_topic
    pace_ms = 2.0  # the generator wakes every 2 ms of wall time and sends what became due: per message
    # it only calls produce(), so it takes as little CPU from the flow it measures as it can
    for block, shifted in blocks:
        if speed is None:
            speed = max(rate / max(block.readings / ((block.times_ms[-1] - block.times_ms[0]) / 1000 + 1), 1e-9), 1e-3)
        times, keys, first, count = block.times_ms, block.keys, 0, len(shifted)
        while first < count:
            event_now = event_start + (time.time() - wall_start) * 1000 * speed
            due = int(np.searchsorted(times, event_now, side="right"))
            if due <= first:
                time.sleep(min(pace_ms / 1000, (int(times[first]) - event_now) / 1000 / speed))
                continue
            for key, payload in zip(keys[first:due], shifted[first:due], strict=True):
                produce(topic, payload, key)
            sent += due - first
            producer.poll(0)  # serve delivery reports promptly: they time the probes' arrival in Kafka
            live_ts = int(times[due - 1]) + shift
            first = due
            if next_minute is None:
                next_minute = live_ts
            while live_ts >= next_minute:  # an event-minute passed: every active probe takes its next step
                if len(started) < probes and time.time() - wall_start >= warmup_s:
                    started.append(next_minute)
                for i, probe_start in enumerate(started):
                    step = (next_minute - probe_start) // 60_000
                    if step >= len(PROBE_PROFILE_CM):
                        continue
                    sid, key = f"PROBE-{i:04d}-POND", (f"UP-PROBE-{i:04d}", next_minute)
                    depth = PROBE_PROFILE_CM[step]
                    value = b'{"sensor_id":"%s","ts":%d,"value":%r}' % (sid.encode(), next_minute, depth)
                    produce(topic, value, sid.encode(), on_delivery=on_ack(key))
                    produced_at[key] = time.time()
                producer.poll(0)
                next_minute += 60_000
        if time.time() - wall_start > seconds:
            break
    producer.flush(30)
    print(f"  latency run: sent {sent:,} messages, {len(produced_at)} probe readings on {len(started)} probes")
    time.sleep(5.0)
    flow_cpu_s = _cpu_seconds(flow.pid) - cpu_start
    stop.set()
    listener.join(5)
    flow.terminate()
    flow.wait(30)
    in_kafka, from_produce, in_flow = [], [], []  # from the broker's ack / from produce() / ack → flow's alert
    for asset, (alert_ts, arrived, emitted) in arrivals.items():
        candidates = [key for key in produced_at if key[0] == asset and key[1] <= alert_ts]
        if candidates:
            last = max(candidates)  # the reading that completed the alert's evidence
            from_produce.append((arrived - produced_at[last]) * 1000)
            if last in acked_at:
                in_kafka.append((arrived - acked_at[last]) * 1000)
                in_flow.append((emitted - acked_at[last]) * 1000)
    if not in_kafka:
        return {"probes": 0}
    in_kafka.sort()
    from_produce.sort()
    in_flow.sort()
    return {
        "probes": len(in_kafka),
        "p50_ms": statistics.median(in_kafka),
        "p90_ms": in_kafka[min(len(in_kafka) - 1, int(0.90 * len(in_kafka)))],
        "p99_ms": in_kafka[min(len(in_kafka) - 1, int(0.99 * len(in_kafka)))],
        "max_ms": in_kafka[-1],
        "p50_from_produce_ms": statistics.median(from_produce),
        "p99_from_produce_ms": from_produce[min(len(from_produce) - 1, int(0.99 * len(from_produce)))],
        "p50_until_flow_produced_ms": statistics.median(in_flow),
        "p99_until_flow_produced_ms": in_flow[min(len(in_flow) - 1, int(0.99 * len(in_flow)))],
        "rate": rate,
        "sent": sent,
        # the flow process's CPU (all threads) from the replay's start to 5 s after its end, per message sent:
        # against 1 / (b) it shows what live batches cost more than a replay's full ones
        "flow_cpu_s": round(flow_cpu_s, 1),
        "flow_cpu_us_per_msg": round(flow_cpu_s / max(1, sent) * 1e6, 1),
        "alerts_received": alerts_seen[0],
    }


def describe_latency_runs(rate: float, results: list[dict[str, float]]) -> str:
    """One line over several latency runs at ``rate``: the median p50 and p99 and each run's (p50, p99) in ms
    (runs of one machine can differ several-fold, so one run's figure says little on its own)."""
    timed = [r for r in results if "p50_ms" in r]
    if not timed:
        runs = "1 run" if len(results) == 1 else f"{len(results)} runs"
        return f"latency at {rate:,.0f} readings/s over {runs}: no probe alert arrived"
    p50 = statistics.median(r["p50_ms"] for r in timed)
    p99 = statistics.median(r["p99_ms"] for r in timed)
    pairs = ", ".join(f"{r['p50_ms']:.0f}/{r['p99_ms']:.0f}" for r in timed)
    return (f"latency at {rate:,.0f} readings/s over {len(timed)} runs: median p50 {p50:.0f} ms, "
            f"median p99 {p99:.0f} ms; per run (p50/p99): {pairs}")  # fmt: skip


def _shift(payload: bytes, shift_ms: int) -> bytes:
    """Move a wire message's event time (``ts`` or ``t0``) by ``shift_ms``."""
    message = msgspec.json.decode(payload)
    if "ts" in message:
        message["ts"] += shift_ms
    if "t0" in message:
        message["t0"] += shift_ms
    return msgspec.json.encode(message)


def main() -> None:
    """Run every measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="load-10k")
    parser.add_argument("--minutes", type=float, default=10.0, help="event time of the scenario to replay")
    parser.add_argument("--runs", type=int, default=5, help="timed rounds of (a), (b), (b')")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (JIT warm-up of both servers)")
    parser.add_argument("--latency-seconds", type=float, default=40.0)
    parser.add_argument("--latency-minutes", type=float, default=120.0, help="event time available to the latency run")
    parser.add_argument("--latency-warmup", type=float, default=10.0, help="seconds of replay before probes start")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--latency-rate", type=float, action="append", default=[],
                        help="readings/s; repeat for several (default: 50 %% of (b))")  # fmt: skip
    parser.add_argument("--latency-only", action="store_true", help="skip the throughput runs")
    parser.add_argument("--latency-runs", type=int, default=1,
                        help="latency runs per rate, each with a fresh flow process; with more than one, the "
                             "median of their p50 and p99 and every run's pair are printed too")  # fmt: skip
    args = parser.parse_args()

    scenario = build(args.scenario, seed=7, duration_s=args.minutes * 60)
    print(f"scenario {args.scenario}: {len(scenario.registry):,} sensors, {args.minutes:g} min of event time")
    with real_servers(readings_partitions=4, epoch_interval_s=5.0) as settings, tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        topic = f"bench.readings.{uuid.uuid4().hex[:6]}"
        settings = settings.with_overrides(readings_topic=topic)
        apply_schema(settings)
        report = produce_scenario(scenario, settings)
        readings, messages = report.readings, report.messages
        print(f"pre-filled {topic}: {readings:,} readings in {messages:,} messages ({report.readings_per_s:,.0f}/s)")
        tune_gc()

        raw = Measurement("(a) raw consume + msgspec decode", readings)
        full = Measurement("(b) full flow, stats+alerts to QuestDB", readings)
        stored = Measurement("(b') full flow + every reading stored", readings)
        rounds = 0 if args.latency_only else args.warmup + args.runs
        for round_no in range(rounds):
            # warm-up rounds are run and thrown away: both servers are JVMs whose JIT compilers
            # otherwise take CPU from the first timed runs (a long-running deployment is warm)
            warm_up = round_no < args.warmup
            for measurement, action in (  # each action sets up (untimed) and returns the timed part
                (raw, lambda: partial(raw_consume_decode, settings, messages)),
                (full, lambda: prepare_flow_run(settings, scenario.registry, "none", tmp)),
                (stored, lambda: prepare_flow_run(settings, scenario.registry, "all", tmp)),
            ):
                timed = action()
                gc.collect()
                started = time.perf_counter()
                timed()
                if not warm_up:
                    measurement.seconds.append(time.perf_counter() - started)
            state = "warm-up round (not counted)" if warm_up else f"round {round_no - args.warmup + 1}/{args.runs}"
            print(f"  {state} done", flush=True)
        if not args.latency_only:
            print_table(
                "throughput (readings/s, median of runs; ratio to (a) in the same run)", [raw, full, stored], raw
            )
            # this machine's speed drifts between minutes: the ratio of each round's (b) to the (a)
            # measured just before it compares like with like
            per_round = sorted(a / b for a, b in zip(raw.seconds, full.seconds, strict=True))
            print(f"(b)/(a) per round: median {statistics.median(per_round):.2f}, "
                  f"range {per_round[0]:.2f}–{per_round[-1]:.2f} over {len(per_round)} rounds")  # fmt: skip
            for level in (0, 1):
                cost = snapshot_cost(scenario, settings, level)
                print(f"\nsnapshot of all partition states (LIFELINE_SNAPSHOT_COMPRESSION={level}): {cost.describe()}")
        if not args.skip_latency:
            longer = build(args.scenario, seed=8, duration_s=args.latency_minutes * 60)
            for rate in args.latency_rate or [full.per_s * 0.5]:
                share = f" = {rate / full.per_s:.0%} of (b)" if full.seconds else ""
                results = []
                for _ in range(max(1, args.latency_runs)):
                    result = latency_run(settings, longer, rate, args.latency_seconds, tmp, args.latency_warmup)
                    print(f"\nlatency at a steady {rate:,.0f} readings/s{share}: {result}", flush=True)
                    results.append(result)
                if len(results) > 1:
                    print(describe_latency_runs(rate, results))


if __name__ == "__main__":
    main()
