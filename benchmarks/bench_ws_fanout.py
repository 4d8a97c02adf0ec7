"""Websocket fan-out benchmark: N concurrent clients, p50/p99 latency from Kafka to the client.

Run: ``.venv/bin/python -m benchmarks.bench_ws_fanout [--clients 1000] [--rate 100] [--seconds 20] [--runs 3]``

It starts its own Kafka and QuestDB (project launcher, free loopback ports, temporary state folder),
the API in a subprocess on 127.0.0.1 (served exactly as ``lifeline api`` serves it), opens the
clients in ``--client-procs`` processes (asyncio ``websockets`` clients; each frame's bytes are
scanned for the envelopes' ``kafka_ts`` rather than parsed, so the client side stays cheap), produces
alert events at ``--rate`` per second, and measures, for every event at every client, the time from
the Kafka message timestamp (set by the producer, the moment the event enters Kafka) to the moment
the client's ``recv()`` returns the frame. It checks that every client received every event (drops
reported by the server are counted too). ``--runs`` measurement rounds share one setup; the figures
of each round and their median are printed. Target: p99 ≤ 200 ms at 100 events/s with 1,000 clients.
Every client subscribes to everything (the worst case for fan-out). For 10,000 clients:
``--clients 10000 --client-procs 4`` (handshakes are paced: at most 32 in flight per client process).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from array import array
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

SECRET = "bench-secret-" + "z" * 24
KAFKA_TS = b'"kafka_ts":'
OPENING_PER_PROC = 32  # websocket handshakes in flight per client process


def _connect_timeout_s(clients: int) -> float:
    """How long connecting ``clients`` may take: 120 s, plus 20 ms per client beyond the first 5,000."""
    return 120.0 + max(0, clients - 5000) * 0.02


def _raise_fd_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, wanted), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def _serve(port: int) -> None:
    """Subprocess mode: serve the API as ``lifeline api`` does (other settings from the environment)."""
    _raise_fd_limit(8192)
    import uvicorn

    from lifeline.api.app import create_app, uvicorn_options
    from lifeline.api.settings import ApiSettings

    api = ApiSettings(port=port)
    uvicorn.run(create_app(api_settings=api), log_level="warning", **uvicorn_options(api))


class _Clients:
    """One client process's share of the clients and what they received."""

    def __init__(self, url: str, count: int) -> None:
        self.url = url
        self.count = count
        self.connected = 0
        self.all_connected = asyncio.Event()
        self.latencies = array("d")
        self.per_client = [0] * count
        self.dropped = 0
        self.frames = 0
        self.measuring = False

    async def client(self, index: int, opening: asyncio.Semaphore) -> None:
        from websockets.asyncio.client import connect

        async with opening:  # a bounded number of handshakes at a time: a burst of thousands overflows the backlog
            ws = await connect(self.url, open_timeout=120, max_queue=None, ping_interval=None, compression=None)
            await ws.recv(decode=False)  # snapshot
        async with ws:
            self.connected += 1
            if self.connected == self.count:
                self.all_connected.set()
            append = self.latencies.append
            while True:
                data = await ws.recv(decode=False)
                now = time.time() * 1000.0
                if not data.startswith(b'{"type":"events"'):
                    continue
                self.frames += self.measuring
                if not self.measuring:
                    self.per_client[index] += 1  # warm-up frames: just count that they came
                    continue
                head = data.find(b'"dropped":', 0, 60)
                if head >= 0:
                    self.dropped += int(data[head + 10 : data.index(b",", head)])
                n = 0
                pos = data.find(KAFKA_TS)
                while pos >= 0:
                    end = data.index(b",", pos)
                    append(now - int(data[pos + 11 : end]))
                    n += 1
                    pos = data.find(KAFKA_TS, end)
                self.per_client[index] += n


def _client_proc(url: str, count: int, conn: Connection) -> None:
    """Client process: connect ``count`` clients, then obey the parent: measure rounds, report."""
    _raise_fd_limit(count + 1024)
    with asyncio.Runner(loop_factory=_uvloop()) as runner:
        runner.run(_client_main(url, count, conn))


def _uvloop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop factory when it is installed (uvicorn's ``loop="auto"`` picks it up too)."""
    try:
        module = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = module.new_event_loop
    return factory


async def _client_main(url: str, count: int, conn: Connection) -> None:
    clients = _Clients(url, count)
    opening = asyncio.Semaphore(OPENING_PER_PROC)
    tasks = [asyncio.create_task(clients.client(i, opening)) for i in range(count)]
    try:
        await asyncio.wait_for(clients.all_connected.wait(), _connect_timeout_s(count))
    except TimeoutError:
        conn.send(f"only {clients.connected} of {count} clients connected in {_connect_timeout_s(count):.0f} s")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return
    loop = asyncio.get_running_loop()
    conn.send("connected")
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command == "warm":  # wait until every client has the warm-up event
            deadline = time.monotonic() + 60
            while min(clients.per_client) < 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            conn.send(min(clients.per_client))
        elif command == "start":
            del clients.latencies[:]  # in place: the clients hold its append method
            clients.per_client = [0] * count
            clients.dropped = 0
            clients.frames = 0
            clients.measuring = True
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        elif isinstance(command, int):  # events produced in this round: wait for them, then report
            deadline = time.monotonic() + 30
            while sum(clients.per_client) + clients.dropped < command * count and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            clients.measuring = False
            cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
            conn.send((clients.latencies.tobytes(), min(clients.per_client), max(clients.per_client),
                       clients.dropped, cpu, clients.frames))  # fmt: skip
        else:
            break
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _cpu_s(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def _lag_buckets(http_base: str) -> dict[float, float]:
    """The server's Kafka→hub ingest-lag histogram: cumulative count per upper bound (seconds)."""
    import httpx

    buckets: dict[float, float] = {}
    for line in httpx.get(f"{http_base}/metrics", timeout=10).text.splitlines():
        if line.startswith("lifeline_api_alert_ingest_lag_seconds_bucket"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(bound)] = float(line.rsplit(" ", 1)[1])
    return buckets


def _lag_quantile(before: dict[float, float], after: dict[float, float], q: float) -> str:
    """The bucket bound under which a fraction ``q`` of this round's events were ingested ("≤ 20 ms")."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    if not counts or counts[-1] <= 0:
        return "n/a"
    for bound, count in zip(bounds, counts, strict=True):
        if count >= q * counts[-1]:
            return f"≤ {bound * 1000:.0f} ms" if bound != float("inf") else "> 300 s"
    return "n/a"


def _pct(lat: list[float], p: float) -> float:
    return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] if lat else float("nan")


def _run(args: argparse.Namespace, base_ws: str, settings: object, topic: str, server_pid: int) -> None:
    from lifeline.api.auth import Role, issue_jwt
    from lifeline.codec import encode
    from lifeline.connectors.kafka import make_producer
    from lifeline.models import AlertEvent, AlertEventType, AlertKind, Lifeline, Tier

    token = issue_jwt(SECRET, role=Role.OPERATOR, subject="bench")
    url = f"{base_ws}/ws/alerts?token={token}"
    ctx = multiprocessing.get_context("spawn")
    procs, pipes = [], []
    started = time.perf_counter()
    shares = [args.clients // args.client_procs + (i < args.clients % args.client_procs)
              for i in range(args.client_procs)]  # fmt: skip
    for share in shares:
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(target=_client_proc, args=(url, share, theirs), daemon=True)
        proc.start()
        procs.append(proc)
        pipes.append(mine)
    try:
        for pipe in pipes:
            if not pipe.poll(_connect_timeout_s(args.clients) + 60):
                raise TimeoutError("clients did not connect")
            status = pipe.recv()
            if status != "connected":
                raise TimeoutError(f"a client process reports: {status}")
        loop = "uvloop" if _uvloop() else "asyncio"
        print(f"{args.clients} clients connected in {time.perf_counter() - started:.1f} s "
              f"({len(procs)} client processes; event loop: {loop} in the clients and the server)")  # fmt: skip
        producer = make_producer(settings, **{"linger.ms": 0})  # type: ignore[arg-type]
        warm = AlertEvent(
            alert_id="warmup", event=AlertEventType.OPENED, tier=Tier.T3, lifeline=Lifeline.GAS,
            kind=AlertKind.ANOMALY, asset_id="-", owner="-", district="-", sensor_ids=(), started_at=0, ts=0,
            value=0.0, score=0.0, evidence="",
        )  # fmt: skip
        producer.produce(topic, key=b"warmup", value=encode(warm))
        producer.flush(30)
        for pipe in pipes:
            pipe.send("warm")
        if min(pipe.recv() for pipe in pipes) < 1:
            raise TimeoutError("some clients never received the warm-up event")
        total = int(args.rate * args.seconds)
        expected = total * args.clients
        rounds: list[dict[str, float]] = []
        for run in range(args.runs):
            for pipe in pipes:
                pipe.send("start")
            time.sleep(0.5)
            http_base = base_ws.replace("ws://", "http://", 1)
            lag0 = _lag_buckets(http_base)
            cpu0 = (_cpu_s(server_pid), time.perf_counter(), os.getloadavg()[0])
            took = _produce(producer, topic, total, args.rate, run)
            for pipe in pipes:
                pipe.send(total)
            results = [pipe.recv() for pipe in pipes]
            cpu1 = (_cpu_s(server_pid), time.perf_counter())
            lag1 = _lag_buckets(http_base)
            lat_arr = array("d")
            for raw, *_ in results:
                lat_arr.frombytes(raw)
            lat = sorted(lat_arr)
            dropped = sum(r[3] for r in results)
            fig = {"p50": _pct(lat, 50), "p95": _pct(lat, 95), "p99": _pct(lat, 99), "max": lat[-1] if lat else 0.0,
                   "delivered": float(len(lat)), "dropped": float(dropped), "rate": total / took}  # fmt: skip
            rounds.append(fig)
            wall = cpu1[1] - cpu0[1]
            print(
                f"\n-- run {run + 1}: {total} events at {fig['rate']:.0f}/s to {args.clients} clients; "
                f"load average {cpu0[2]:.1f} before, {os.getloadavg()[0]:.1f} after, {os.cpu_count()} cores"
            )
            print(
                f"   deliveries {len(lat):,} of {expected:,} expected; per client min {min(r[1] for r in results)} "
                f"max {max(r[2] for r in results)} of {total}; dropped by the server (slow clients): {dropped:,}"
            )
            print(
                f"   latency Kafka→client ms: p50 {fig['p50']:.1f}  p95 {fig['p95']:.1f}  p99 {fig['p99']:.1f}  "
                f"max {fig['max']:.1f}  mean {statistics.fmean(lat) if lat else float('nan'):.1f}"
            )
            print(
                f"   of which Kafka→hub (server histogram): p50 {_lag_quantile(lag0, lag1, 0.5)}, "
                f"p99 {_lag_quantile(lag0, lag1, 0.99)}"
            )
            user, system = cpu1[0][0] - cpu0[0][0], cpu1[0][1] - cpu0[0][1]
            print(f"   CPU ({wall:.1f} s wall): API server {user + system:.1f} s ({user:.1f} user {system:.1f} sys), "
                  f"clients {sum(r[4] for r in results):.1f} s; {sum(r[5] for r in results):,} event frames "
                  f"received")  # fmt: skip
            busy = (user + system) / wall if wall > 0 else 0.0
            load, cores = os.getloadavg()[0], os.cpu_count() or 1
            if load > 1.5 * cores:
                limit = f"the machine: load average {load:.1f} on {cores} cores starves every process (not meaningful)"
            elif busy >= 0.9:
                limit = "the API server's one event loop (≥ 90 % of a core busy)"
            else:
                limit = "not the server's CPU: see Kafka→hub lag above and the clients' CPU"
            print(f"   what limits it: {limit}; server busy {busy:.0%} of one core")
        med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
        print(
            f"\n== websocket fan-out, median of {len(rounds)} runs: {args.clients} clients, {total} events at "
            f"{med['rate']:.0f}/s"
        )
        print(f"deliveries {med['delivered']:,.0f} of {expected:,} expected; dropped {med['dropped']:,.0f}")
        print(f"latency Kafka→client ms: p50 {med['p50']:.1f}  p95 {med['p95']:.1f}  p99 {med['p99']:.1f}  "
              f"max {med['max']:.1f}")  # fmt: skip
        met = med["p99"] <= 200 and all(r["delivered"] == expected for r in rounds)
        print(f"target p99 ≤ 200 ms with every event delivered: {'MET' if met else 'NOT MET'}")
    finally:
        for pipe in pipes:
            with contextlib.suppress(OSError):
                pipe.send("stop")
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()


def _produce(producer: Any, topic: str, total: int, rate: float, run: int = 0) -> float:
    """Produce ``total`` alert events at ``rate``/s from a thread; return the seconds it took."""
    from lifeline.codec import encode
    from lifeline.models import AlertEvent, AlertEventType, AlertKind, Lifeline, Tier

    t0 = time.perf_counter()
    for i in range(total):
        now = time.time_ns() // 1_000_000
        event = AlertEvent(
            alert_id=f"bench-{run}-{i}", event=AlertEventType.OPENED, tier=Tier(1 + i % 3), lifeline=Lifeline.GAS,
            kind=AlertKind.GAS_LEAK, asset_id=f"GW-{i % 500}", owner=f"owner-{i % 7}", district="shushan",
            sensor_ids=("G-1-CH4",), started_at=now, ts=now, value=55.0, score=3.0, evidence="bench",
        )  # fmt: skip
        producer.produce(topic, key=event.alert_id.encode(), value=encode(event))
        producer.poll(0)
        delay = t0 + (i + 1) / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    producer.flush(30)
    return time.perf_counter() - t0


def main() -> None:
    """Start servers, the API, the clients; produce; print the latency figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="alert events per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3, help="measurement rounds (median reported)")
    parser.add_argument("--client-procs", type=int, default=2, help="processes the clients are spread over")
    parser.add_argument("--coalesce-ms", type=float, default=50.0, help="server frame coalescing window")
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        _serve(args.serve)
        return
    limit = _raise_fd_limit(args.clients * 2 + 1024)
    print(f"RLIMIT_NOFILE {limit}")

    from benchmarks._servers import free_ports
    from lifeline.api.testing import wait_for_api
    from lifeline.connectors.bootstrap import apply_schema
    from lifeline.connectors.services import manager
    from lifeline.settings import Settings

    kafka, controller, http, pg, ilp, min_http, api_port = free_ports(7)
    with tempfile.TemporaryDirectory(prefix="lifeline-bench-") as state:
        settings = Settings(state_dir=Path(state), kafka_port=kafka, kafka_controller_port=controller,
                            questdb_http_port=http, questdb_pg_port=pg, questdb_ilp_port=ilp,
                            questdb_min_http_port=min_http, kafka_heap="512m", questdb_heap="768m")  # fmt: skip
        manager.up(settings, report=lambda line: print(f"  {line}"))
        server: subprocess.Popen[bytes] | None = None
        try:
            apply_schema(settings)
            topic = f"bench-alerts-{uuid.uuid4().hex[:8]}"
            env = {**os.environ, "LIFELINE_STATE_DIR": state, "LIFELINE_KAFKA_PORT": str(kafka),
                   "LIFELINE_KAFKA_CONTROLLER_PORT": str(controller), "LIFELINE_QUESTDB_HTTP_PORT": str(http),
                   "LIFELINE_QUESTDB_PG_PORT": str(pg), "LIFELINE_QUESTDB_ILP_PORT": str(ilp),
                   "LIFELINE_QUESTDB_MIN_HTTP_PORT": str(min_http), "LIFELINE_API_ALERTS_TOPIC": topic,
                   "LIFELINE_API_JWT_SECRET": SECRET, "LIFELINE_API_WS_COALESCE_MS": str(args.coalesce_ms)}  # fmt: skip
            server = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_ws_fanout", "--serve", str(api_port)],
                                      env=env)  # fmt: skip
            wait_for_api(f"http://127.0.0.1:{api_port}", 60)
            _run(args, f"ws://127.0.0.1:{api_port}", settings, topic, server.pid)
        finally:
            try:
                if server is not None:
                    server.terminate()
                    try:
                        server.wait(30)
                    except subprocess.TimeoutExpired:
                        server.kill()
                        server.wait(30)
            finally:
                manager.down(settings, report=lambda _line: None)


if __name__ == "__main__":
    main()
