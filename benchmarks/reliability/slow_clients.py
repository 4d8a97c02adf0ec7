"""Reliability scenario ``slow_clients``: 100 websocket clients, 20 of which never read, while alert
events flow at 400/s through real Kafka into a real API server.

The API runs in a subprocess (uvicorn on 127.0.0.1, served as ``lifeline api`` serves it); the clients
in another (asyncio ``websockets``). A slow client opens its socket with a 4 KiB receive buffer, reads
the first frame and then nothing: the server's sends to it block within a second, as for a frozen
browser tab on a real network. Alert lifecycles (opened, then cleared 1 s later) are produced at
400 events/s for 15 s (``ci``) or 60 s (``full``); the API's replay window is set to 2,000 events so
that it fills early in the run and the memory plateau is visible.

What a slow client costs depends on where its backlog waits: the kernel keeps up to ``tcp_wmem`` max
(4 MiB on Linux by default) per socket before the server's send blocks, which is more than 15 s at
400 events/s (about 3.6 MiB); so in ``ci`` the slow clients are absorbed by kernel buffers and get
everything once they read, while in ``full`` (about 14 MiB each) the hub's per-client bounded queue
(drop oldest) and the send timeout (close 4008) take over. Either way the server's own memory stays flat.

Reported: events delivered to the readers against expected (must be all, each once, none dropped),
p50/p99 latency from the Kafka timestamp to the reader's ``recv``, the server's RSS before, a third
into and after the load (must stop growing once the window is full), and what happened to the slow
clients (closed with 4008 ``slow consumer``, events dropped for them).

Run alone: ``python -m benchmarks.reliability.slow_clients [--size full]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.reliability.outcome import Outcome, Size
from lifeline.settings import Settings

__all__ = ["run"]

SCENARIO = "slow_clients"
SECRET = "reliability-slow-clients-" + "s" * 16
RATE = 400.0
CLIENTS = 100
SLOW = 20
REPLAY_SIZE = 2_000
SECONDS: dict[str, float] = {"ci": 15.0, "full": 60.0}
RSS_PLATEAU_MB = 48.0  # most the server may grow after the first third of the load (window full by then)


# ---- the API server (subprocess) ----------------------------------------------------------
def _serve(port: int) -> None:
    """Subprocess mode: the API as ``lifeline api`` serves it, settings from the environment."""
    import uvicorn

    from lifeline.api.app import create_app, uvicorn_options
    from lifeline.api.settings import ApiSettings

    api = ApiSettings(port=port)
    uvicorn.run(create_app(api_settings=api), log_level="warning", **uvicorn_options(api))


def _rss_mb(pid: int) -> float:
    """Resident set size of a process in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


# ---- the clients (subprocess) -------------------------------------------------------------
def _scan(frame: bytes, ids: set[int], latencies: list[float], now_ms: int) -> tuple[int, int]:
    """Envelope ids and latencies of an ``events`` frame; returns (duplicates, dropped)."""
    if not frame.startswith(b'{"type":"events"'):
        return 0, 0
    dropped = 0
    head_end = frame.find(b'"events":[')
    mark = frame.find(b'"dropped":', 0, head_end)
    if mark >= 0:
        dropped = int(frame[mark + 10 : frame.find(b",", mark)])
    duplicates = 0
    pos = frame.find(b'{"id":', head_end)
    while pos >= 0:
        comma = frame.find(b",", pos)
        event_id = int(frame[pos + 6 : comma])
        ts_end = frame.find(b",", comma + 1)
        kafka_ts = int(frame[comma + 12 : ts_end])  # ,"kafka_ts":
        if event_id in ids:
            duplicates += 1
        ids.add(event_id)
        latencies.append(now_ms - kafka_ts)
        pos = frame.find(b'{"id":', ts_end)
    return duplicates, dropped


async def _reader(url: str, expected: int, deadline: float, out: dict[str, Any]) -> None:
    from websockets.asyncio.client import connect

    ids: set[int] = set()
    latencies: list[float] = []
    duplicates = dropped = 0
    async with connect(url, open_timeout=120, max_queue=None, ping_interval=None, compression=None) as ws:
        await ws.recv(decode=False)
        out["connected"] += 1
        while len(ids) < expected and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.01, deadline - time.monotonic())):
                    frame = await ws.recv(decode=False)
                    assert isinstance(frame, bytes)
                    d, k = _scan(frame, ids, latencies, time.time_ns() // 1_000_000)
                    duplicates, dropped = duplicates + d, dropped + k
    out["readers"].append({"events": len(ids), "duplicates": duplicates, "dropped": dropped})
    out["latencies"].extend(latencies)


async def _slow(url: str, port: int, release: asyncio.Event, out: dict[str, Any]) -> None:
    """Read the first frame, then nothing until ``release``; then drain to see how the server ended it."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    events = 0
    code: int | None = None
    async with connect(url, sock=sock, open_timeout=120, max_queue=1, ping_interval=None, compression=None) as ws:
        await ws.recv(decode=False)
        out["connected"] += 1
        await release.wait()
        try:
            async with asyncio.timeout(30):
                while True:
                    frame = await ws.recv(decode=False)
                    assert isinstance(frame, bytes)
                    events += frame.count(b'{"id":') if frame.startswith(b'{"type":"events"') else 0
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
        except TimeoutError:
            code = None
    out["slow"].append({"events": events, "close_code": code})


async def _clients_main(url: str, port: int, expected: int, wait_s: float) -> dict[str, Any]:
    out: dict[str, Any] = {"connected": 0, "readers": [], "slow": [], "latencies": []}
    release = asyncio.Event()
    deadline = time.monotonic() + wait_s
    tasks = []
    for i in range(CLIENTS):
        if i < SLOW:
            tasks.append(asyncio.create_task(_slow(url, port, release, out)))
        else:
            tasks.append(asyncio.create_task(_reader(url, expected, deadline, out)))
        if i % 20 == 19:
            await asyncio.sleep(0.05)
    while out["connected"] < CLIENTS:
        await asyncio.sleep(0.05)
    print("connected", flush=True)
    readers = tasks[SLOW:]
    await asyncio.gather(*readers, return_exceptions=True)
    release.set()
    await asyncio.gather(*tasks[:SLOW], return_exceptions=True)
    return out


def _clients(url: str, port: int, expected: int, wait_s: float, result: Path) -> None:
    """Subprocess mode: run the clients, write what they saw to ``result`` (JSON)."""
    out = asyncio.run(_clients_main(url, port, expected, wait_s))
    lat = sorted(out.pop("latencies"))
    out["p50_ms"] = statistics.median(lat) if lat else float("nan")
    out["p99_ms"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
    result.write_text(json.dumps(out))


# ---- the load -----------------------------------------------------------------------------
def _produce(settings: Settings, topic: str, total: int, rate: float) -> None:
    """Alert lifecycles at ``rate`` events/s: each alert opened, then cleared about a second later."""
    import msgspec

    from lifeline.codec import encode
    from lifeline.connectors.kafka import make_producer
    from lifeline.models import AlertEvent, AlertEventType, AlertKind, Lifeline, Tier

    producer = make_producer(settings, **{"linger.ms": 0})
    opened: deque[AlertEvent] = deque()
    t0 = time.perf_counter()
    for i in range(total):
        now = time.time_ns() // 1_000_000
        if opened and (opened[0].ts <= now - 1000 or len(opened) > rate):
            first = opened.popleft()
            event = msgspec.structs.replace(first, event=AlertEventType.CLEARED, ts=max(now, first.ts + 1))
        else:
            event = AlertEvent(
                alert_id=f"slow-{i}", event=AlertEventType.OPENED, tier=Tier(1 + i % 3), lifeline=Lifeline.GAS,
                kind=AlertKind.GAS_LEAK, asset_id=f"GW-{i % 500}", owner=f"owner-{i % 7}", district="shushan",
                sensor_ids=("G-1-CH4",), started_at=now, ts=now, value=55.0, score=3.0, evidence="slow clients",
            )  # fmt: skip
            opened.append(event)
        producer.produce(topic, key=event.alert_id.encode(), value=encode(event))
        producer.poll(0)
        delay = t0 + (i + 1) / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    producer.flush(30)


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "_total "):
            return float(line.split()[1])
    return float("nan")


@contextlib.contextmanager
def _servers(services: Settings | None) -> Iterator[Settings]:
    if services is not None:
        yield services
        return
    from benchmarks._servers import real_servers

    with real_servers() as settings:
        yield settings


def run(
    *,
    size: Size,
    workdir: Path,
    report: Callable[[str], None] = print,
    services: Settings | None = None,
    p99_limit_ms: float | None = None,
) -> Outcome:
    """Run the scenario; ``services`` reuses running Kafka/QuestDB (nothing here stops them).

    The readers' p99 is always reported; it is a problem only above ``p99_limit_ms`` when given (latency
    on a shared 2-core box says more about the neighbours than about the hub).
    """
    import httpx
    from confluent_kafka.admin import NewTopic

    from benchmarks._servers import free_ports
    from lifeline.api.testing import wait_for_api
    from lifeline.connectors.kafka import ensure_topics

    seconds = SECONDS[size]
    total = int(RATE * seconds)
    problems: list[str] = []
    workdir.mkdir(parents=True, exist_ok=True)
    with _servers(services) as settings:
        topic = f"rel-slow-{uuid.uuid4().hex[:8]}"
        ensure_topics(settings, [NewTopic(topic, num_partitions=1, replication_factor=1)])
        (port,) = free_ports(1)
        env = settings.environment(dict(os.environ))
        env.update({"LIFELINE_API_ALERTS_TOPIC": topic, "LIFELINE_API_JWT_SECRET": SECRET,
                    "LIFELINE_API_REPLAY_SIZE": str(REPLAY_SIZE)})  # fmt: skip
        server = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.reliability.slow_clients", "--serve", str(port)],
            env=env, stdout=(workdir / "api.log").open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        clients: subprocess.Popen[str] | None = None
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for_api(base, 90)
            from lifeline.api.auth import Role, issue_jwt

            token = issue_jwt(SECRET, role=Role.OPERATOR, subject="reliability")
            url = f"ws://127.0.0.1:{port}/ws/alerts?token={token}"
            result = workdir / "clients.json"
            clients = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.reliability.slow_clients", "--clients", url, str(port), str(total),
                 str(seconds + 60), str(result)],
                env=env, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert clients.stdout is not None
            if clients.stdout.readline().strip() != "connected":
                raise RuntimeError("the websocket clients did not connect")
            report(f"{SCENARIO}: {CLIENTS} clients ({SLOW} never read) connected; {total} events at {RATE:.0f}/s")
            rss_before = _rss_mb(server.pid)
            rss_mid: list[float] = []
            load = threading.Thread(target=_produce, args=(settings, topic, total, RATE), daemon=True)
            load.start()
            load.join(seconds / 3)
            rss_mid.append(_rss_mb(server.pid))
            load.join()
            report(f"{SCENARIO}: load produced; waiting for the readers")
            clients.wait(seconds + 120)
            rss_after = _rss_mb(server.pid)
            metrics = httpx.get(f"{base}/metrics", timeout=10).text
            seen = json.loads(result.read_text())
        finally:
            if clients is not None and clients.poll() is None:
                clients.kill()
                clients.wait(10)
            server.terminate()
            server.wait(30)
    readers = seen["readers"]
    delivered = sum(r["events"] for r in readers)
    expected = total * (CLIENTS - SLOW)
    short = [r for r in readers if r["events"] < total]
    if len(readers) != CLIENTS - SLOW:
        problems.append(f"{CLIENTS - SLOW - len(readers)} readers ended without a result")
    if short:
        problems.append(f"{len(short)} readers missed events (fewest: {min(r['events'] for r in short)}/{total})")
    if any(r["duplicates"] for r in readers):
        problems.append(f"readers got {sum(r['duplicates'] for r in readers)} duplicate events")
    if any(r["dropped"] for r in readers):
        problems.append(f"the server dropped {sum(r['dropped'] for r in readers)} events for readers")
    if p99_limit_ms is not None and seen["p99_ms"] > p99_limit_ms:
        problems.append(f"reader p99 {seen['p99_ms']:.0f} ms > {p99_limit_ms:.0f} ms")
    if rss_after - rss_mid[0] > RSS_PLATEAU_MB:
        problems.append(f"server RSS kept growing after the window filled: {rss_mid[0]:.0f} → {rss_after:.0f} MiB")
    slow = seen["slow"]
    figures: dict[str, int | float | str] = {
        "events": total, "clients": CLIENTS, "slow_clients": SLOW,
        "delivered_to_readers": f"{delivered}/{expected}",
        "p50_ms": round(seen["p50_ms"], 1), "p99_ms": round(seen["p99_ms"], 1),
        "rss_before_mb": round(rss_before, 1), "rss_third_mb": round(rss_mid[0], 1),
        "rss_after_mb": round(rss_after, 1),
        "slow_closed_4008": sum(1 for s in slow if s["close_code"] == 4008),
        "slow_events_received": sum(s["events"] for s in slow),
        "server_slow_disconnects": _metric(metrics, "lifeline_api_ws_slow_disconnects"),
        "server_events_dropped": _metric(metrics, "lifeline_api_ws_events_dropped"),
    }  # fmt: skip
    report(f"{SCENARIO}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
    return Outcome(SCENARIO, figures, problems)


def main() -> None:
    """Command line: run the scenario and print its outcome (or serve / run clients as a subprocess)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=("ci", "full"), default="ci")
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--clients", nargs=5, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        _serve(args.serve)
        return
    if args.clients is not None:
        url, port, expected, wait_s, result = args.clients
        _clients(url, int(port), int(expected), float(wait_s), Path(result))
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lifeline-slow-clients-") as folder:
        outcome = run(size=args.size, workdir=Path(folder))
    print("passed" if outcome.passed else "FAILED: " + "; ".join(outcome.problems))


if __name__ == "__main__":
    main()
