"""Websocket fan-out benchmark: N concurrent clients, p50/p99 latency from Kafka to the client.

Run: ``.venv/bin/python -m benchmarks.bench_ws_fanout [--clients 1000] [--rate 100] [--seconds 20]``

It starts its own Kafka and QuestDB (project launcher, free loopback ports, temporary state folder),
the API in a subprocess on 127.0.0.1, opens the clients in this process (asyncio), produces alert
events at ``--rate`` per second, and measures, for every event at every client, the time from the
Kafka message timestamp (set by the producer) to its arrival. Target: p99 ≤ 200 ms at 100 events/s
with 1,000 clients. Every client subscribes to everything (the worst case for fan-out).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

SECRET = "bench-secret-" + "z" * 24


def _free_ports(count: int) -> list[int]:
    sockets = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _raise_fd_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, wanted), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def _serve(port: int) -> None:
    """Subprocess mode: serve the API (settings from the environment)."""
    _raise_fd_limit(8192)
    import uvicorn

    from lifeline.api.app import create_app

    uvicorn.run(create_app(), host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio", backlog=4096)


async def _client(
    url: str, ready: asyncio.Event, latencies: list[float], counts: list[int], stop: asyncio.Event
) -> None:
    import orjson
    from websockets.asyncio.client import connect

    async with connect(url, open_timeout=120, max_queue=None, ping_interval=None) as ws:
        await ws.recv()  # snapshot
        counts[0] += 1
        if counts[0] >= counts[1]:
            ready.set()
        while not stop.is_set():
            try:
                text = await ws.recv()
            except TimeoutError:
                continue
            now = time.time() * 1000.0
            frame = orjson.loads(text)
            if frame.get("type") != "events":
                continue
            counts[2] += frame.get("dropped", 0)
            for envelope in frame["events"]:
                latencies.append(now - envelope["kafka_ts"])


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _run(args: argparse.Namespace, base_ws: str, settings: object, topic: str, server_pid: int) -> None:
    from lifeline.api.auth import Role, issue_jwt
    from lifeline.codec import encode
    from lifeline.connectors.kafka import make_producer
    from lifeline.models import AlertEvent, AlertEventType, AlertKind, Lifeline, Tier

    token = issue_jwt(SECRET, role=Role.OPERATOR, subject="bench")
    url = f"{base_ws}/ws/alerts?token={token}"
    latencies: list[float] = []
    counts = [0, args.clients, 0]  # connected, wanted, dropped
    ready, stop = asyncio.Event(), asyncio.Event()
    tasks = []
    started = time.perf_counter()
    for i in range(args.clients):
        tasks.append(asyncio.create_task(_client(url, ready, latencies, counts, stop)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)
    await asyncio.wait_for(ready.wait(), 120)
    print(f"{args.clients} clients connected in {time.perf_counter() - started:.1f} s")
    producer = make_producer(settings, **{"linger.ms": 0})  # type: ignore[arg-type]
    warm = AlertEvent(
        alert_id="warmup", event=AlertEventType.OPENED, tier=Tier.T3, lifeline=Lifeline.GAS, kind=AlertKind.ANOMALY,
        asset_id="-", owner="-", district="-", sensor_ids=(), started_at=0, ts=0, value=0.0, score=0.0, evidence="",
    )  # fmt: skip
    producer.produce(topic, key=b"warmup", value=encode(warm))
    producer.flush(30)
    deadline = time.monotonic() + 60
    while len(latencies) < args.clients and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    latencies.clear()
    total = int(args.rate * args.seconds)
    cpu0 = (_cpu_s(server_pid), _cpu_s(os.getpid()), time.perf_counter())
    produced = await asyncio.to_thread(_produce, producer, topic, total, args.rate)
    sent_s = produced
    expected = total * args.clients
    deadline = time.monotonic() + 30
    while len(latencies) + counts[2] < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    cpu1 = (_cpu_s(server_pid), _cpu_s(os.getpid()), time.perf_counter())
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    lat = sorted(latencies)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] if lat else float("nan")

    print(f"\n== websocket fan-out: {args.clients} clients, {total} events at {total / sent_s:.0f}/s")
    print(f"deliveries: {len(lat):,} of {expected:,} expected; dropped (slow clients): {counts[2]:,}")
    if lat:
        print(f"latency Kafka→client ms: p50 {pct(50):.1f}  p90 {pct(90):.1f}  p99 {pct(99):.1f}  "
              f"max {lat[-1]:.1f}  mean {statistics.fmean(lat):.1f}")  # fmt: skip
        wall = cpu1[2] - cpu0[2]
        print(
            f"CPU during the run ({wall:.1f} s wall): API server {cpu1[0] - cpu0[0]:.1f} s, "
            f"clients+producer {cpu1[1] - cpu0[1]:.1f} s; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        verdict = "MET" if pct(99) <= 200 and len(lat) == expected else "NOT MET"
        print(f"target p99 ≤ 200 ms at 100 events/s: {verdict}")


def _produce(producer: Any, topic: str, total: int, rate: float) -> float:
    """Produce ``total`` alert events at ``rate``/s from a thread; return the seconds it took."""
    from lifeline.codec import encode
    from lifeline.models import AlertEvent, AlertEventType, AlertKind, Lifeline, Tier

    t0 = time.perf_counter()
    for i in range(total):
        now = time.time_ns() // 1_000_000
        event = AlertEvent(
            alert_id=f"bench-{i}", event=AlertEventType.OPENED, tier=Tier(1 + i % 3), lifeline=Lifeline.GAS,
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
    parser.add_argument("--coalesce-ms", type=float, default=50.0, help="server frame coalescing window")
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        _serve(args.serve)
        return
    limit = _raise_fd_limit(args.clients * 2 + 1024)
    print(f"RLIMIT_NOFILE {limit}")

    from lifeline.api.testing import wait_until
    from lifeline.connectors.bootstrap import apply_schema
    from lifeline.connectors.services import manager
    from lifeline.settings import Settings

    kafka, controller, http, pg, ilp, min_http, api_port = _free_ports(7)
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
            import httpx

            def healthy() -> bool:
                try:
                    return httpx.get(f"http://127.0.0.1:{api_port}/healthz", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(healthy, 60, 0.2, "the API to become ready")
            asyncio.run(_run(args, f"ws://127.0.0.1:{api_port}", settings, topic, server.pid))
        finally:
            if server is not None:
                server.terminate()
                server.wait(30)
            manager.down(settings, report=lambda _line: None)


if __name__ == "__main__":
    main()
