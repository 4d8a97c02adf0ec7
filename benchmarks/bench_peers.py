"""The product beside its peers on one job, one pre-filled topic, one broker, in one run.

Run: ``python -m benchmarks.bench_peers [--size default|ci] [--sensors 10000] [--readings 3000000] [--rounds 3]``

The job (``benchmarks/_peers_job.py``): N sensors, one reading per message, 10 s tumbling event-time
windows (count, mean, min, max, std) and a flag when a window mean leaves the sensor's EW mean by more
than 4 EW standard deviations. Implementations, each timed from start to its last output:

* **plain loop** — confluent-kafka ``consume(1000)`` + msgspec + numpy (vectorised windows and flags):
  the physical limit of the machine, the reference the others are compared with;
* **Bytewax** — per-item, as its documentation teaches: ``KafkaSource`` → ``map(json.loads)`` →
  ``key_on`` → ``fold_window`` (``EventClock`` with no waiting, ``TumblingWindower``) → ``stateful_map``
  for the flag. Readings it classifies as late (its one event-time clock runs ahead of partitions read
  more slowly) are counted and reported; only windows they did not touch must match;
* **Quix Streams** — ``tumbling_window(...).agg(...).final()`` then a stateful ``apply`` for the flag, in
  its own virtual environment (it pins an older confluent-kafka than the project), created on first use
  under ``LIFELINE_CACHE_DIR``;
* **product** — the whole ``lifeline run`` flow (validation, fault checks, rules, windows, QuestDB and
  Kafka sinks, recovery snapshots) over a registry of these sensors with their window set to 10 s; its
  windows are read back from ``sensor_stats`` and flagged with the same EW function afterwards
  (the flag is not a product feature; the read-back and flagging are not timed).

Every implementation's windows and flags are compared with the plain loop's (count, min, max exact,
mean and std within 1e-9, flags equal) and with the injected level shifts (each must be flagged).
Figures: readings/s, medians over ``--rounds`` rounds (after one untimed warm-up round), and each as a
ratio to the plain loop of the same round.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
from bytewax.recovery import RecoveryConfig
from bytewax.testing import run_main
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from benchmarks import _peers_job as job
from benchmarks._peers_job import BASE_MS, FLAG_WARMUP, WINDOW_MS, Comparison, EwState, WindowRow
from benchmarks._servers import real_servers
from lifeline.connectors.bootstrap import apply_schema
from lifeline.connectors.kafka import consumer_config, make_producer
from lifeline.connectors.questdb import QuestDB
from lifeline.connectors.services import manager
from lifeline.detectors.config import RulesConfig
from lifeline.detectors.engine import Detectors
from lifeline.flows.dataflow import build_flow
from lifeline.flows.runner import ensure_recovery_store, tune_gc
from lifeline.models import SensorKind, SensorSpec
from lifeline.registry import Registry, write_registry
from lifeline.settings import Settings

QUIX_VERSION = "3.28.1"
SIZES = {"default": (10_000, 3_000_000), "ci": (200, 24_000)}  # (sensors, readings)
PARTITIONS = 4  # default; --partitions
SCALE_OUT = (("-p 1", ["-p", "1"]), ("-p 2", ["-p", "2"]), ("-w 2", ["-w", "2"]))  # `lifeline run` options compared
KIND = SensorKind.WELL_TEMPERATURE


@dataclass(frozen=True)
class Topic:
    """The pre-filled topic: its sensors, how many readings, where the injected level shifts are."""

    name: str
    sensor_ids: list[str]
    readings: int
    last_start: int  # start of the data's last window (compared: windows starting before it)
    shifts: set[tuple[str, int]]  # (sensor, window start) of every injected level shift
    partitions: int


@dataclass
class Implementation:
    """Timings and the last output of one implementation."""

    name: str
    seconds: list[float] = field(default_factory=list)
    windows: dict[tuple[str, int], WindowRow] = field(default_factory=dict)
    late: int = 0
    late_windows: set[tuple[str, int]] = field(default_factory=set)  # (sensor, start) of windows a late reading missed


class PeerReading(msgspec.Struct):
    """One reading as the plain loop decodes it."""

    sensor_id: str
    ts: int
    value: float


# ------------------------------------------------------------------------------------------------ data


def sensor_ids(sensors: int) -> list[str]:
    """The benchmark's sensor ids."""
    return [f"PEER-{i:05d}-T" for i in range(sensors)]


def registry_for(ids: list[str]) -> Registry:
    """Well-temperature sensors reporting every second, for the product's flow."""
    specs = [SensorSpec(sid, KIND, f"PEER-W-{sid[5:10]}", "bench", "bench", 31.8, 117.2, interval_s=1.0) for sid in ids]
    return Registry(specs, source="bench_peers")


def fill_topic(settings: Settings, sensors: int, readings: int, seed: int = 11, partitions: int = PARTITIONS) -> Topic:
    """Create a topic and send ``readings`` single readings, one per sensor per second, in event-time order.

    About 1 % of the sensors get one window shifted by +8 (about 50 EW std of their window means).
    """
    name = f"peers.readings.{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result()
    ids = sensor_ids(sensors)
    steps = max(readings // sensors, 2 * WINDOW_MS // 1000)
    rng = np.random.default_rng(seed)
    offsets_ms = rng.integers(0, 1000, size=sensors)  # each sensor reports at its own phase within a second
    level = rng.normal(20.0, 2.0, size=sensors)
    windows = steps * 1000 // WINDOW_MS
    shifted = rng.random(sensors) < 0.01
    shift_window = rng.integers(FLAG_WARMUP + 3, max(FLAG_WARMUP + 4, windows - 1), size=sensors)
    shifted &= shift_window < windows  # (too little data for a warm-up: no shifts)
    shifts = {(ids[i], BASE_MS + int(shift_window[i]) * WINDOW_MS) for i in np.flatnonzero(shifted)}
    producer = make_producer(settings, **{"linger.ms": 50, "batch.size": 1_000_000})
    keys = [sid.encode() for sid in ids]
    for step in range(steps):
        ts = BASE_MS + step * 1000 + offsets_ms
        values = level + rng.normal(0.0, 0.5, size=sensors)
        values[shifted & (shift_window == (step * 1000) // WINDOW_MS)] += 8.0
        for key, sid, t, v in zip(keys, ids, ts.tolist(), values.round(4).tolist(), strict=True):
            payload = b'{"sensor_id":"%s","ts":%d,"value":%r}' % (sid.encode(), t, v)
            while True:
                try:
                    producer.produce(name, payload, key)
                    break
                except BufferError:
                    producer.poll(0.05)
        producer.poll(0)
    producer.flush(120)
    last_start = BASE_MS + ((steps - 1) * 1000 + 999) // WINDOW_MS * WINDOW_MS
    return Topic(name, ids, steps * sensors, last_start, shifts, partitions)


def empty_topic(settings: Settings, like: Topic) -> Topic:
    """A topic with ``like``'s partitions and sensors and no readings: ``lifeline run --stop-at-end`` on it
    takes only what starting and stopping the processes take."""
    name = f"peers.empty.{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    admin.create_topics([NewTopic(name, num_partitions=like.partitions, replication_factor=1)])[name].result()
    return Topic(name, like.sensor_ids, 0, like.last_start, set(), like.partitions)


# ------------------------------------------------------------------------------------------ plain loop


class PlainWindows:
    """Vectorised tumbling windows and EW flags over arrays of sensor numbers, times and values."""

    def __init__(self, sensors: int) -> None:
        self.start = np.full(sensors, -1, dtype=np.int64)
        self.count = np.zeros(sensors, dtype=np.int64)
        self.total = np.zeros(sensors)
        self.total_sq = np.zeros(sensors)
        self.low = np.zeros(sensors)
        self.high = np.zeros(sensors)
        self.ew_n = np.zeros(sensors, dtype=np.int64)
        self.ew_mean = np.zeros(sensors)
        self.ew_var = np.zeros(sensors)
        self.closed: list[tuple[npt.NDArray[Any], ...]] = []
        self.late = 0

    def add(self, sensor: npt.NDArray[np.int64], ts: npt.NDArray[np.int64], value: npt.NDArray[np.float64]) -> None:
        """Fold one batch of readings into the open windows, closing those they leave behind."""
        start = ts - ts % WINDOW_MS
        order = np.lexsort((ts, sensor))
        sensor, start, value = sensor[order], start[order], value[order]
        new = np.ones(len(sensor), dtype=bool)
        new[1:] = (sensor[1:] != sensor[:-1]) | (start[1:] != start[:-1])
        cuts = np.flatnonzero(new)
        seg_sensor, seg_start = sensor[cuts], start[cuts]
        seg_count = np.diff(np.append(cuts, len(sensor)))
        seg_total = np.add.reduceat(value, cuts)
        seg_total_sq = np.add.reduceat(value * value, cuts)
        seg_low = np.minimum.reduceat(value, cuts)
        seg_high = np.maximum.reduceat(value, cuts)
        first_of_sensor = np.ones(len(cuts), dtype=bool)
        first_of_sensor[1:] = seg_sensor[1:] != seg_sensor[:-1]
        rank = np.arange(len(cuts)) - np.maximum.accumulate(np.where(first_of_sensor, np.arange(len(cuts)), 0))
        for level in range(int(rank.max()) + 1 if len(rank) else 0):  # each level: at most one segment per sensor
            pick = np.flatnonzero(rank == level)
            s, w = seg_sensor[pick], seg_start[pick]
            open_start = self.start[s]
            late = w < open_start
            self.late += int(seg_count[pick][late].sum())
            merge = w == open_start
            fresh = w > open_start
            m = s[merge]
            self.count[m] += seg_count[pick][merge]
            self.total[m] += seg_total[pick][merge]
            self.total_sq[m] += seg_total_sq[pick][merge]
            self.low[m] = np.minimum(self.low[m], seg_low[pick][merge])
            self.high[m] = np.maximum(self.high[m], seg_high[pick][merge])
            f = s[fresh]
            self._close(f[self.start[f] >= 0])
            self.start[f] = w[fresh]
            self.count[f] = seg_count[pick][fresh]
            self.total[f] = seg_total[pick][fresh]
            self.total_sq[f] = seg_total_sq[pick][fresh]
            self.low[f] = seg_low[pick][fresh]
            self.high[f] = seg_high[pick][fresh]

    def finish(self) -> None:
        """Close every open window (the input is over)."""
        self._close(np.flatnonzero(self.start >= 0))

    def _close(self, s: npt.NDArray[np.int64]) -> None:
        if not len(s):
            return
        n = self.count[s]
        mean = self.total[s] / n
        var = self.total_sq[s] / n - mean * mean
        std = np.sqrt(np.where(var > 0.0, var, 0.0))
        ew_n, ew_mean, ew_var = self.ew_n[s], self.ew_mean[s], self.ew_var[s]
        flag = (ew_n >= FLAG_WARMUP) & (np.abs(mean - ew_mean) > job.FLAG_K * np.sqrt(ew_var))
        deviation = mean - ew_mean
        first = ew_n == 0
        self.ew_mean[s] = np.where(first, mean, ew_mean + job.EW_ALPHA * deviation)
        self.ew_var[s] = np.where(first, 0.0, (1.0 - job.EW_ALPHA) * (ew_var + job.EW_ALPHA * deviation * deviation))
        self.ew_n[s] = ew_n + 1
        self.closed.append((s.copy(), self.start[s].copy(), n.copy(), mean, self.low[s].copy(),
                            self.high[s].copy(), std, flag))  # fmt: skip
        self.start[s] = -1

    def rows(self, ids: list[str]) -> dict[tuple[str, int], WindowRow]:
        """Every closed window by (sensor id, start)."""
        out: dict[tuple[str, int], WindowRow] = {}
        for s, start, n, mean, low, high, std, flag in self.closed:
            for row in zip(s.tolist(), start.tolist(), n.tolist(), mean.tolist(), low.tolist(), high.tolist(),
                           std.tolist(), flag.tolist(), strict=True):  # fmt: skip
                out[(ids[row[0]], row[1])] = (row[2], row[3], row[4], row[5], row[6], row[7])
        return out


def run_plain(settings: Settings, topic: Topic) -> tuple[float, PlainWindows]:
    """The plain confluent-kafka + msgspec + numpy loop over the whole topic."""
    number = {sid.encode(): i for i, sid in enumerate(topic.sensor_ids)}
    consumer = Consumer(consumer_config(settings, group_id=f"plain-{uuid.uuid4().hex[:8]}"))
    consumer.assign([TopicPartition(topic.name, p, 0) for p in range(topic.partitions)])
    decode = msgspec.json.Decoder(PeerReading).decode
    windows = PlainWindows(len(topic.sensor_ids))
    started = time.perf_counter()
    seen = 0
    while seen < topic.readings:
        batch = consumer.consume(1000, timeout=0.1)
        if not batch:
            continue
        sensors, times, values = [], [], []
        for message in batch:
            reading = decode(message.value())  # type: ignore[arg-type]
            sensors.append(number[message.key()])  # type: ignore[index]
            times.append(reading.ts)
            values.append(reading.value)
        windows.add(np.array(sensors, dtype=np.int64), np.array(times, dtype=np.int64), np.array(values))
        seen += len(batch)
    windows.finish()
    seconds = time.perf_counter() - started
    consumer.close()
    return seconds, windows


# -------------------------------------------------------------------------------------------- Bytewax


def run_bytewax(settings: Settings, topic: Topic, wait_s: float) -> tuple[float, list[Any], list[Any]]:
    """The job in Bytewax, per item, as its windowing documentation teaches."""
    import bytewax.operators as op
    import bytewax.operators.windowing as win
    from bytewax.connectors.kafka import KafkaSource
    from bytewax.dataflow import Dataflow
    from bytewax.testing import TestingSink

    align = datetime.fromtimestamp(BASE_MS / 1000, tz=UTC)
    out: list[Any] = []
    late: list[Any] = []
    flow = Dataflow("peers_bytewax")
    messages = op.input("kafka", flow, KafkaSource([settings.bootstrap_servers], [topic.name], tail=False))
    readings = op.map("decode", messages, lambda message: json.loads(message.value))
    keyed = op.key_on("by_sensor", readings, lambda reading: reading["sensor_id"])
    clock = win.EventClock(
        lambda reading: datetime.fromtimestamp(reading["ts"] / 1000, tz=UTC),
        wait_for_system_duration=timedelta(seconds=wait_s),
    )
    windower = win.TumblingWindower(length=timedelta(milliseconds=WINDOW_MS), align_to=align)

    def fold(acc: list[float], reading: dict[str, Any]) -> list[float]:
        value = reading["value"]
        return [acc[0] + 1, acc[1] + value, acc[2] + value * value, min(acc[3], value), max(acc[4], value)]

    def merge(a: list[float], b: list[float]) -> list[float]:
        return [a[0] + b[0], a[1] + b[1], a[2] + b[2], min(a[3], b[3]), max(a[4], b[4])]

    stats = win.fold_window(
        "window", keyed, clock, windower, lambda: [0, 0.0, 0.0, float("inf"), float("-inf")], fold, merge
    )

    def flag(state: EwState | None, item: tuple[int, list[float]]) -> tuple[EwState, tuple[Any, ...]]:
        state = state or EwState()
        window_id, (count, total, total_sq, low, high) = item
        mean, std = job.moments_to_stats(int(count), total, total_sq)
        return state, (BASE_MS + window_id * WINDOW_MS, int(count), mean, low, high, std, job.ew_flag(state, mean))

    flagged = op.stateful_map("flag", stats.down, flag)
    op.output("out", flagged, TestingSink(out))
    op.output("late", stats.late, TestingSink(late))
    started = time.perf_counter()
    run_main(flow)
    return time.perf_counter() - started, out, late


def bytewax_rows(out: list[Any]) -> dict[tuple[str, int], WindowRow]:
    """Bytewax's output by (sensor id, start)."""
    return {(sensor, row[0]): tuple(row[1:]) for sensor, row in out}  # type: ignore[misc]


# ------------------------------------------------------------------------------------------ Quix Streams


def quix_python(settings: Settings) -> Path:
    """The Python of the Quix Streams virtual environment, created on first use."""
    venv = settings.cache_dir / f"peers-quixstreams-{QUIX_VERSION}"
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists():
        print(f"  creating {venv} for Quix Streams {QUIX_VERSION} (first use)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"quixstreams=={QUIX_VERSION}"], check=True)
        (venv / ".installed").touch()
    return python


def run_quix(
    settings: Settings, topic: Topic, expected: int, tmp: Path
) -> tuple[float, dict[tuple[str, int], WindowRow]]:
    """The job in Quix Streams (in its own venv); returns its own timing of ``app.run`` and its windows."""
    out = tmp / f"quix-{uuid.uuid4().hex[:6]}.json"
    project = Path(__file__).resolve().parent.parent
    subprocess.run(
        [str(quix_python(settings)), "-m", "benchmarks._peers_quix", settings.bootstrap_servers, topic.name,
         str(expected), str(tmp / f"quix-state-{uuid.uuid4().hex[:6]}"), str(out)],
        check=True, cwd=project, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(project)},
    )  # fmt: skip
    result = json.loads(out.read_text())
    rows = {(w[0], w[1]): (w[2], w[3], w[4], w[5], w[6], w[7]) for w in result["windows"]}
    return float(result["seconds"]), rows


# -------------------------------------------------------------------------------------------- product


def product_detectors(registry: Registry) -> Detectors:
    """The flow's detectors with this registry's windows set to 10 s (and no settle delay, as the flow runs them)."""
    config = RulesConfig()
    config = replace(
        config, windows=replace(config.windows, per_kind_s={KIND.value: WINDOW_MS // 1000}),
        alarm=replace(config.alarm, settle_delay_ms=0),
    )  # fmt: skip
    return Detectors(registry, config)


def run_product(settings: Settings, topic: Topic, registry: Registry, tmp: Path) -> tuple[float, str]:
    """The whole flow over the topic, finite; returns seconds and the table prefix it wrote to."""
    tag = uuid.uuid4().hex[:8]
    run_settings = settings.with_overrides(
        readings_topic=topic.name, store_readings="none", questdb_table_prefix=f"p{tag}_",
        alerts_topic=f"peers.alerts.{tag}", dlq_topic=f"peers.dlq.{tag}", recovery_dir=tmp / f"recovery-{tag}",
    )  # fmt: skip
    apply_schema(run_settings)
    ensure_recovery_store(run_settings.recovery_path, 1)
    flow = build_flow(run_settings, registry, detectors=product_detectors(registry), stop_at_end=True,
                      flow_id=f"peers-{tag}")  # fmt: skip
    started = time.perf_counter()
    run_main(flow, epoch_interval=timedelta(seconds=settings.epoch_interval_s),
             recovery_config=RecoveryConfig(str(run_settings.recovery_path)))  # fmt: skip
    return time.perf_counter() - started, run_settings.questdb_table_prefix


def product_rows(settings: Settings, prefix: str, expected: int) -> dict[tuple[str, int], WindowRow]:
    """The product's 10 s windows read back from ``sensor_stats``, flagged with the job's EW function."""
    run_settings = settings.with_overrides(questdb_table_prefix=prefix)
    with QuestDB(run_settings) as db:
        table = db.table("sensor_stats")
        deadline = time.monotonic() + 120
        while db.count("sensor_stats") < expected and time.monotonic() < deadline:
            time.sleep(0.5)
        db.wait_for_wal("sensor_stats")
        result = db.query(
            f"SELECT sensor_id, ts, count, mean, min, max, std FROM {table} WHERE window_s = %s",  # noqa: S608
            (WINDOW_MS // 1000,),
        )
    windows = [(r[0], int(r[1].timestamp() * 1000), int(r[2]), r[3], r[4], r[5], r[6]) for r in result.rows]
    return job.flag_windows(windows)


# ------------------------------------------------------------------------------------------- scale-out


def run_cli(settings: Settings, topic: Topic, registry: Registry, options: list[str], tmp: Path) -> tuple[float, float]:
    """``lifeline run --stop-at-end`` with ``options`` over the topic in a subprocess; (wall seconds, CPU seconds).

    Wall time includes starting the processes (a few seconds), so the topic should be large."""
    tag = uuid.uuid4().hex[:8]
    registry_file, rules_file = tmp / f"registry-{tag}.csv", tmp / f"rules-{tag}.toml"
    write_registry(registry.values(), registry_file)
    rules_file.write_text(f"[windows.per_kind_s]\n{KIND.value} = {WINDOW_MS // 1000}\n")
    run_settings = settings.with_overrides(
        readings_topic=topic.name, store_readings="none", questdb_table_prefix=f"c{tag}_",
        alerts_topic=f"peers.alerts.{tag}", dlq_topic=f"peers.dlq.{tag}", recovery_dir=tmp / f"recovery-{tag}",
        detector_rules_path=rules_file, metrics_port=0,
    )  # fmt: skip
    apply_schema(run_settings)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    servers_before = server_cpu_s(settings)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "lifeline.cli", "run", "--registry", str(registry_file), "--stop-at-end", *options],
        check=True, env=run_settings.environment(),
    )  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    flow_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, flow_cpu, server_cpu_s(settings) - servers_before


def server_cpu_s(settings: Settings) -> float:
    """CPU seconds used so far by the Kafka and QuestDB processes (0 where a pid cannot be read)."""
    total = 0.0
    for server in manager.servers(settings):
        pid = server.process.pid()
        if pid is None:
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return total


def scale_out(settings: Settings, topic: Topic, registry: Registry, rounds: int, tmp: Path) -> None:
    """``lifeline run`` with one worker, two processes and two workers on the same topic; speed-ups, and
    where the CPU went: the flow's processes and the two servers (Kafka serving the fetches, QuestDB).

    Every round also runs each setting on an empty topic of the same partitions: that wall time is what
    starting and stopping the processes cost. The table gives the speed-up both with it (the whole wall
    time) and without it (the wall time less the same round's empty run), the processing speed alone."""
    empty = empty_topic(settings, topic)
    walls: dict[str, list[float]] = {name: [] for name, _ in SCALE_OUT}
    startups: dict[str, list[float]] = {name: [] for name, _ in SCALE_OUT}
    cpus: dict[str, list[float]] = {name: [] for name, _ in SCALE_OUT}
    server_cpus: dict[str, list[float]] = {name: [] for name, _ in SCALE_OUT}
    for round_no in range(rounds):
        for name, options in SCALE_OUT:
            wall, cpu, server_cpu = run_cli(settings, topic, registry, options, tmp)
            walls[name].append(wall)
            cpus[name].append(cpu)
            server_cpus[name].append(server_cpu)
            startups[name].append(run_cli(settings, empty, registry, options, tmp)[0])
        print(f"  scale-out round {round_no + 1}/{rounds} done", flush=True)
    one = walls[SCALE_OUT[0][0]]
    one_processing = [w - s for w, s in zip(one, startups[SCALE_OUT[0][0]], strict=True)]
    print(f"\n== scale-out: `lifeline run --stop-at-end` on {topic.readings:,} readings, {topic.partitions} "
          f"partitions, median of {rounds}; start-up = the same run on an empty topic (starting and stopping "
          f"the processes); "
          f"cores in use = CPU s / wall s, of {os.cpu_count()} on this machine")  # fmt: skip
    print(f"{'run':<8} {'readings/s':>12} {'speed-up':>9} {'start-up s':>11} {'w/o start-up':>13} {'speed-up':>9} "
          f"{'flow CPU s':>11} {'flow cores':>11} {'servers CPU s':>14} {'servers cores':>14}")  # fmt: skip
    for name, _ in SCALE_OUT:
        processing = [w - s for w, s in zip(walls[name], startups[name], strict=True)]
        speedup = statistics.median([a / b for a, b in zip(one, walls[name], strict=True)])
        speedup_processing = statistics.median([a / b for a, b in zip(one_processing, processing, strict=True)])
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        server_cpu = statistics.median(server_cpus[name])
        print(f"{name:<8} {topic.readings / wall:>12,.0f} {speedup:>9.2f} {statistics.median(startups[name]):>11.1f} "
              f"{topic.readings / statistics.median(processing):>13,.0f} {speedup_processing:>9.2f} "
              f"{cpu:>11.1f} {cpu / wall:>11.2f} {server_cpu:>14.1f} {server_cpu / wall:>14.2f}")  # fmt: skip


# ---------------------------------------------------------------------------------------------- main


def check(name: str, reference: dict[tuple[str, int], WindowRow], rows: dict[tuple[str, int], WindowRow],
          topic: Topic, late: int = 0) -> Comparison:  # fmt: skip
    """Print how ``rows`` compare with the reference; returns the comparison."""
    result = job.compare(reference, rows, topic.last_start)
    shifts = [s for s in topic.shifts if s in reference and s[1] < topic.last_start]
    missed = [s for s in shifts if not rows.get(s, (0, 0, 0, 0, 0, False))[5]]
    verdict = "IDENTICAL" if result.identical else "DIFFERENT"
    if not result.identical and late:
        verdict += f" (it dropped {late:,} late readings)"
    print(f"  {name:<14} {verdict}: {result.compared:,} windows compared, missing {result.missing:,}, extra "
          f"{result.extra:,}, values differ {result.different:,}, flags differ {result.flags_different:,}; "
          f"injected shifts not flagged: {len(missed)}/{len(shifts)}")  # fmt: skip
    for example in result.examples:
        print(f"      {example}")
    return result


def main() -> None:
    """Fill the topic, run every implementation ``--rounds`` times, check outputs, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--size", choices=sorted(SIZES), default="default", help="default: 10,000 sensors, 3 M readings"
    )
    parser.add_argument("--sensors", type=int, help="override the size's sensors")
    parser.add_argument("--readings", type=int, help="override the size's readings")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (medians reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--skip", action="append", default=[], choices=["bytewax", "quix", "product"])
    parser.add_argument("--bytewax-wait-s", type=float, default=0.0, help="Bytewax EventClock waiting duration")
    parser.add_argument("--partitions", type=int, default=PARTITIONS, help="partitions of the pre-filled topic")
    parser.add_argument("--scale-out", action="store_true", help="also time `lifeline run` -p 1 / -p 2 / -w 2")
    parser.add_argument("--scale-out-only", action="store_true", help="only the scale-out runs")
    args = parser.parse_args()
    sensors, readings = SIZES[args.size]
    sensors, readings = args.sensors or sensors, args.readings or readings
    with real_servers(readings_partitions=args.partitions, epoch_interval_s=5.0) as settings, \
            tempfile.TemporaryDirectory() as t:  # fmt: skip
        tmp = Path(t)
        started = time.perf_counter()
        topic = fill_topic(settings, sensors, readings, partitions=args.partitions)
        print(f"pre-filled {topic.name}: {topic.readings:,} readings of {sensors:,} sensors, "
              f"{topic.partitions} partitions ({time.perf_counter() - started:.0f} s); "
              f"{len(topic.shifts)} injected level shifts")  # fmt: skip
        registry = registry_for(topic.sensor_ids)
        if args.scale_out_only:
            scale_out(settings, topic, registry, args.rounds, tmp)
            return
        if "quix" not in args.skip:
            quix_python(settings)
        tune_gc()
        plain, bytewax = Implementation("plain loop"), Implementation("Bytewax")
        quix, product = Implementation("Quix Streams"), Implementation("product flow")
        for round_no in range(args.warmup + args.rounds):
            timed = round_no >= args.warmup
            seconds, plain_windows = run_plain(settings, topic)
            plain.windows, plain.late = plain_windows.rows(topic.sensor_ids), plain_windows.late
            plain.seconds.append(seconds)
            expected = sum(1 for key in plain.windows if key[1] < topic.last_start)
            if "bytewax" not in args.skip:
                seconds, out, late = run_bytewax(settings, topic, args.bytewax_wait_s)
                bytewax.late = len(late)
                bytewax.late_windows = {(sensor, BASE_MS + wid * WINDOW_MS) for sensor, (wid, _reading) in late}
                bytewax.seconds.append(seconds)
                bytewax.windows = bytewax_rows(out)
            if "quix" not in args.skip:
                seconds, quix.windows = run_quix(settings, topic, expected, tmp)
                quix.seconds.append(seconds)
            if "product" not in args.skip:
                seconds, prefix = run_product(settings, topic, registry, tmp)
                product.seconds.append(seconds)
                product.windows = product_rows(settings, prefix, expected)
            if not timed:
                for impl in (plain, bytewax, quix, product):
                    impl.seconds.clear()
            label = f"round {round_no - args.warmup + 1}/{args.rounds}" if timed else "warm-up round (not counted)"
            print(f"  {label} done", flush=True)
        print("\n== outputs (last round) against the plain loop")
        check(plain.name, plain.windows, plain.windows, topic)
        ran = [impl for impl in (bytewax, quix, product) if impl.seconds]
        for impl in ran:
            check(impl.name, plain.windows, impl.windows, topic, impl.late)
            if impl.late_windows:
                touched = impl.late_windows
                sensors = {key[0] for key in touched}
                untouched = {k: v for k, v in plain.windows.items() if k[0] not in sensors}
                mine = {k: v for k, v in impl.windows.items() if k[0] not in sensors}
                print(f"  {impl.name}: {len(touched):,} windows of {len(sensors):,} sensors missed late readings; "
                      f"the other sensors' windows:")  # fmt: skip
                check(impl.name, untouched, mine, topic)
        if bytewax.seconds:
            print(f"  Bytewax classified {bytewax.late:,} of {topic.readings:,} readings as late "
                  f"({bytewax.late / topic.readings:.1%}) and dropped them from its windows")  # fmt: skip
        print(f"\n== throughput: {topic.readings:,} readings, median of {args.rounds} rounds; ratios per round")
        print(f"{'implementation':<16} {'readings/s':>12} {'range/s':>24} {'÷ plain loop':>13}")
        for impl in (plain, *ran):
            rates = sorted(topic.readings / s for s in impl.seconds)
            ratios = [p / s for p, s in zip(plain.seconds, impl.seconds, strict=True)]
            print(f"{impl.name:<16} {statistics.median(rates):>12,.0f} {f'{rates[0]:,.0f}–{rates[-1]:,.0f}':>24} "
                  f"{statistics.median(ratios):>13.3f}")  # fmt: skip
        if product.seconds:
            for peer in (bytewax, quix):
                if peer.seconds:
                    ratio = statistics.median([p / s for p, s in zip(peer.seconds, product.seconds, strict=True)])
                    print(f"product ÷ {peer.name}: {ratio:.2f}×")
        if args.scale_out:
            scale_out(settings, topic, registry, args.rounds, tmp)


if __name__ == "__main__":
    main()
