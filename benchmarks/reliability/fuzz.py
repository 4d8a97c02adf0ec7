"""Poison input: fuzzed payloads of every bad kind mixed with valid readings, through real Kafka and the flow.

Every payload is built so that its fate is known in advance: a valid message is accepted whole, a bad
one yields exactly one reject with a known reason (a batch with one bad value: one reject, the other
values accepted). The flow (``lifeline run --stop-at-end`` in a subprocess) must exit 0, the DLQ
topic and the ``rejects`` table must hold exactly one entry per bad payload with the expected reason,
and ``readings`` every valid reading.
"""

from __future__ import annotations

import contextlib
import json
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
from confluent_kafka import Producer

from benchmarks.reliability.outcome import Outcome, Size
from lifeline.connectors.bootstrap import apply_schema
from lifeline.connectors.kafka import producer_config, read_to_end
from lifeline.connectors.questdb import QuestDB
from lifeline.models import Reject, SensorKind, SensorSpec
from lifeline.registry import write_registry
from lifeline.settings import Settings

__all__ = ["FuzzPayload", "fuzz_payloads", "run"]

PAYLOADS: dict[str, int] = {"ci": 20_000, "full": 200_000}
BAD_SHARE = 0.4
GAS = [f"FZ-G{i:02d}-CH4" for i in range(8)]  # single readings, 0..100 %LEL
BRIDGE = [f"FZ-B{i:02d}-ACC" for i in range(4)]  # batch messages, -50..50 m/s2
STEP_MS = 1000  # between single readings of a sensor; batch samples are 10 ms apart (all multiples of 10)

# bad kind → expected reject reason; the rare heavy ones (hundreds of kB each) are drawn separately
_BAD: dict[str, str] = {
    "truncated_json": "malformed", "wrong_type": "malformed", "missing_field": "malformed",
    "unknown_sensor": "unknown_sensor", "nan": "non_finite", "infinity": "non_finite", "1e999": "non_finite",
    "out_of_range": "out_of_range", "bad_in_batch": "out_of_range", "bad_timestamp": "bad_timestamp",
    "huge_ts": "bad_timestamp", "future": "future", "late": "late", "duplicate": "duplicate",
    "oversize_batch": "oversize", "empty_batch": "malformed", "deep_nesting": "malformed",
    "invalid_utf8": "malformed", "huge_quality": "malformed", "garbage": "malformed", "nul_bytes": "malformed",
}  # fmt: skip
_HEAVY: dict[str, str] = {"oversize_message": "oversize", "deep_nesting_100k": "malformed"}
_HEAVY_EVERY = 2_000  # one heavy payload per this many payloads


@dataclass(frozen=True, slots=True)
class FuzzPayload:
    """One message to send: key, bytes, its kind, the expected reject reason ("" if none) and valid readings."""

    key: bytes
    value: bytes
    kind: str
    reason: str
    readings: int


class _Cursor:
    """Per sensor: the newest event time sent in a valid reading, so the next ones stay in order."""

    def __init__(self, start_ms: int) -> None:
        self.newest = {sid: start_ms + i * 10 for i, sid in enumerate(GAS + BRIDGE)}

    def single(self, sensor_id: str) -> int:
        self.newest[sensor_id] += STEP_MS
        return self.newest[sensor_id]

    def batch(self, sensor_id: str, count: int) -> int:
        t0 = self.newest[sensor_id] + 10
        self.newest[sensor_id] = t0 + 10 * (count - 1)
        return t0


def _single(sensor_id: str, ts: int | str, value: float | str, extra: str = "") -> bytes:
    return f'{{"sensor_id":"{sensor_id}","ts":{ts},"value":{value}{extra}}}'.encode()


def _batch(sensor_id: str, t0: int, values: list[float]) -> bytes:
    compact = json.dumps(values, separators=(",", ":"))
    return f'{{"sensor_id":"{sensor_id}","t0":{t0},"dt_ms":10,"values":{compact}}}'.encode()


def _valid(rng: random.Random, cursor: _Cursor) -> FuzzPayload:
    if rng.random() < 0.7:
        sid = rng.choice(GAS)
        return FuzzPayload(sid.encode(), _single(sid, cursor.single(sid), round(rng.uniform(0, 8), 3)), "valid", "", 1)
    sid, count = rng.choice(BRIDGE), rng.randint(1, 40)
    values = [round(rng.uniform(-0.5, 0.5), 4) for _ in range(count)]
    return FuzzPayload(sid.encode(), _batch(sid, cursor.batch(sid, count), values), "valid", "", count)


def _bad(kind: str, rng: random.Random, cursor: _Cursor, kafka_ts: int) -> tuple[bytes, bytes, int]:
    """Key, payload and the valid readings it still carries, for one bad payload of ``kind``."""
    sid = rng.choice(GAS)
    newest = cursor.newest[sid]
    good = _single(sid, newest + 1, 1.0)  # never sent as such: the base the corruptions start from
    payloads: dict[str, Callable[[], bytes]] = {
        "truncated_json": lambda: good[: rng.randint(1, len(good) - 1)],
        "wrong_type": lambda: _single(sid, newest + 1, '"high"'),
        "missing_field": lambda: f'{{"sensor_id":"{sid}","ts":{newest + 1}}}'.encode(),
        "unknown_sensor": lambda: _single(f"NOPE-{rng.randint(0, 10**6)}", newest + 1, 1.0),
        "nan": lambda: _single(sid, newest + 1, "NaN"),
        "infinity": lambda: _single(sid, newest + 1, rng.choice(["Infinity", "-Infinity"])),
        "1e999": lambda: _single(sid, newest + 1, "1e999"),
        "out_of_range": lambda: _single(sid, newest + 1, rng.choice([1e6, -3.0, 100.5])),
        "bad_timestamp": lambda: _single(sid, rng.randint(0, 10**9), 1.0),
        "huge_ts": lambda: _single(sid, 10 ** rng.randint(19, 40), 1.0),
        "future": lambda: _single(sid, kafka_ts + 86_400_000, 1.0),
        "late": lambda: _single(sid, newest - 1, 1.0),  # never a valid time (those are multiples of 10)
        "duplicate": lambda: _single(sid, newest, 1.0),
        "empty_batch": lambda: _batch(rng.choice(BRIDGE), newest + 1, []),
        "deep_nesting": lambda: good[:-1] + b',"x":' + b"[" * 3_000 + b"]" * 3_000 + b"}",
        "huge_quality": lambda: _single(sid, newest + 1, 1.0, f',"quality":{2 ** rng.randint(31, 80)}'),
        "garbage": lambda: b"\x00" + rng.randbytes(rng.randint(0, 64)),
        "nul_bytes": lambda: good.replace(b'"ts"', b'"t\x00s"'),
        "oversize_message": lambda: good[:-1] + b',"pad":"' + b"x" * 300_000 + b'"}',
        "deep_nesting_100k": lambda: good[:-1] + b',"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    }
    if kind == "invalid_utf8":
        return b"", f'{{"sensor_id":"\xff\xfe","ts":{newest + 1},"value":1}}'.encode("latin-1"), 0
    if kind == "bad_in_batch":
        bsid = rng.choice(BRIDGE)
        values = [0.1, 0.2, 999.0, 0.3]  # the third value is out of range, the other three are accepted
        return bsid.encode(), _batch(bsid, cursor.batch(bsid, len(values)), values), 3
    if kind == "oversize_batch":
        bsid = rng.choice(BRIDGE)
        return bsid.encode(), _batch(bsid, cursor.newest[bsid] + 10, [0] * 10_001), 0
    return sid.encode(), payloads[kind](), 0


def fuzz_payloads(count: int, *, kafka_ts: int, seed: int = 12) -> Iterator[FuzzPayload]:
    """``count`` payloads: first one valid reading per sensor, then valid and bad ones mixed (deterministic)."""
    rng = random.Random(seed)
    cursor = _Cursor(kafka_ts - 7 * 86_400_000)
    kinds = list(_BAD)
    for sid in GAS:
        yield FuzzPayload(sid.encode(), _single(sid, cursor.single(sid), 1.0), "valid", "", 1)
    for sid in BRIDGE:
        yield FuzzPayload(sid.encode(), _batch(sid, cursor.batch(sid, 2), [0.1, 0.2]), "valid", "", 2)
    for i in range(len(GAS) + len(BRIDGE), count):
        if i % _HEAVY_EVERY == 0:
            kind = list(_HEAVY)[(i // _HEAVY_EVERY) % len(_HEAVY)]
            key, value, readings = _bad(kind, rng, cursor, kafka_ts)
            yield FuzzPayload(key, value, kind, _HEAVY[kind], readings)
        elif rng.random() < BAD_SHARE:
            kind = rng.choice(kinds)
            key, value, readings = _bad(kind, rng, cursor, kafka_ts)
            yield FuzzPayload(key, value, kind, _BAD[kind], readings)
        else:
            yield _valid(rng, cursor)


def _registry(path: Path) -> Path:
    specs = [SensorSpec(s, SensorKind.CH4_LEL, f"W-{s}", "gas", "d1", 31.8, 117.2, group_id="GM") for s in GAS]
    specs += [SensorSpec(s, SensorKind.ACCELERATION, "BR-1", "bridge", "d2", 31.8, 117.2) for s in BRIDGE]
    write_registry(specs, path)
    return path


def _send(settings: Settings, payloads: list[FuzzPayload], kafka_ts: int) -> None:
    producer = Producer(producer_config(settings, **{"message.max.bytes": 1_000_000}))
    errors: list[str] = []

    def delivered(err: object, _msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    for p in payloads:
        while True:
            try:
                producer.produce(settings.readings_topic, key=p.key, value=p.value, timestamp=kafka_ts,
                                 on_delivery=delivered)  # fmt: skip
                break
            except BufferError:
                producer.poll(0.1)
    while producer.flush(10) > 0:
        pass
    if errors:
        raise RuntimeError(f"{len(errors)} payload(s) not delivered to Kafka: {errors[:3]}")


def _run_flow(settings: Settings, registry: Path, log_path: Path, timeout_s: float) -> int:
    argv = [sys.executable, "-m", "lifeline.cli", "run", "--registry", str(registry), "-w", "1", "--stop-at-end"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, env=settings.environment(), stdout=log, stderr=subprocess.STDOUT)
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return -9


def _stored(settings: Settings) -> tuple[Counter[str], int]:
    """Rejects per reason and readings in QuestDB, once every WAL transaction is applied."""
    with QuestDB(settings) as db:
        db.wait_for_wal("rejects", timeout_s=120)
        db.wait_for_wal("readings", timeout_s=120)
        reasons = db.exec(f"SELECT reason, count() FROM {db.table('rejects')}").rows  # noqa: S608 (validated)
        return Counter({str(r): int(n) for r, n in reasons}), db.count("readings")


@contextlib.contextmanager
def _servers(services: Settings | None) -> Iterator[Settings]:
    if services is not None:
        yield services
        return
    from benchmarks._servers import real_servers

    with real_servers() as started:
        yield started


def run(*, size: Size, workdir: Path, report: Callable[[str], None] = print, services: Settings | None = None,
        seed: int = 12) -> Outcome:  # fmt: skip
    """Send the fuzzed payloads, run the flow to the end, and compare the DLQ, ``rejects`` and ``readings``."""
    workdir.mkdir(parents=True, exist_ok=True)
    kafka_ts = int(time.time() * 1000)
    payloads = list(fuzz_payloads(PAYLOADS[size], kafka_ts=kafka_ts, seed=seed))
    expected = Counter(p.reason for p in payloads if p.reason)
    bad, valid_readings = sum(expected.values()), sum(p.readings for p in payloads)
    report(f"fuzz: {len(payloads):,} payloads, {bad:,} bad ({len(set(p.kind for p in payloads)) - 1} kinds)")
    with _servers(services) as servers:
        tag = f"fuzz{kafka_ts % 10**9}"
        settings = servers.with_overrides(
            readings_topic=f"{tag}.readings", alerts_topic=f"{tag}.alerts", dlq_topic=f"{tag}.dlq",
            readings_partitions=2, questdb_table_prefix=f"{tag}_", recovery_dir=workdir / f"recovery-{tag}",
            metrics_port=0, store_readings="all",
        )  # fmt: skip
        apply_schema(settings)
        started = time.monotonic()
        _send(settings, payloads, kafka_ts)
        sent_s = time.monotonic() - started
        report(f"fuzz: sent in {sent_s:.1f} s; running the flow")
        started = time.monotonic()
        code = _run_flow(settings, _registry(workdir / "fuzz-registry.csv"), workdir / f"{tag}-flow.log",
                         timeout_s=600 if size == "full" else 240)  # fmt: skip
        flow_s = time.monotonic() - started
        report(f"fuzz: flow exited {code} after {flow_s:.1f} s; checking the DLQ and QuestDB")
        dlq = Counter(
            msgspec.json.decode(v, type=Reject).reason.value for v in read_to_end(settings, settings.dlq_topic)
        )
        rejects, readings = _stored(settings)
    problems = _compare(code, expected, dlq, rejects, valid_readings, readings)
    figures: dict[str, int | float | str] = {
        "payloads": len(payloads), "bad": bad, "dlq": sum(dlq.values()), "rejects_rows": sum(rejects.values()),
        "readings_expected": valid_readings, "readings_stored": readings, "send_s": round(sent_s, 1),
        "flow_s": round(flow_s, 1), "flow_exit": code,
    }  # fmt: skip
    return Outcome("fuzz", figures, problems)


def _compare(code: int, expected: Counter[str], dlq: Counter[str], rejects: Counter[str], valid_readings: int,
             readings: int) -> list[str]:  # fmt: skip
    problems: list[str] = []
    if code != 0:
        problems.append(f"the flow exited with {code} (see its log in the work folder)")
    for name, seen in (("DLQ", dlq), ("rejects table", rejects)):
        for reason in sorted(set(expected) | set(seen)):
            if seen[reason] != expected[reason]:
                problems.append(f"{name}: {seen[reason]} {reason} rejects, expected {expected[reason]}")
    if readings != valid_readings:
        problems.append(f"readings table: {readings} rows, expected {valid_readings} valid readings")
    return problems
