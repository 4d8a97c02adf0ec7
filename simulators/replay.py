"""Replay recorded readings to Kafka at N× speed, preserving event times and order.

Inputs (``--input``):

* a folder written by ``lifeline simulate --out`` (``readings.parquet`` [+ ``batches.parquet``] or
  ``readings.jsonl``, plus ``bad_messages.jsonl`` which is merged back at its place in the stream);
* a single ``.parquet`` or ``.jsonl`` file of the same layout;
* a QuestDB CSV export of the ``readings`` table (``.csv`` with at least ``sensor_id``, ``value``,
  ``ts``; ``ts`` as ISO-8601 ``2024-07-15T00:00:00.000000Z``), as from
  ``curl -G --data-urlencode "query=readings" http://localhost:9000/exp > readings.csv``.

Messages are re-encoded exactly as :mod:`lifeline.codec` decodes them (batches stay batches).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from lifeline.simulators.exceptions import ReplayInputError
from lifeline.simulators.output import MessageBlock, SendReport, make_fast_producer, produce_blocks

if TYPE_CHECKING:
    from lifeline.settings import Settings

__all__ = ["count_readings", "read_blocks", "replay"]

_encoder = msgspec.json.Encoder()
_BLOCK = 200_000


class _TimeOnly(msgspec.Struct, gc=False):
    sensor_id: str = ""
    ts: int | None = None
    t0: int | None = None
    values: list[float] | None = None


class _Bad(msgspec.Struct):
    emit_at_ms: int
    key: str
    payload: str
    reason: str


def _resolve(path: Path) -> tuple[str, Path]:
    if path.is_dir():
        for name, kind in (("readings.parquet", "parquet"), ("readings.jsonl", "jsonl")):
            if (path / name).is_file():
                return kind, path / name
        raise ReplayInputError(
            f"{path} has neither readings.parquet nor readings.jsonl (write one with `lifeline simulate --out`)"
        )
    if not path.is_file():
        raise ReplayInputError(f"{path} does not exist")
    kinds = {".parquet": "parquet", ".jsonl": "jsonl", ".csv": "csv"}
    if path.suffix not in kinds:
        raise ReplayInputError(f"{path}: expected a folder, .parquet, .jsonl or a QuestDB .csv export")
    return kinds[path.suffix], path


def read_blocks(input_path: str | Path, include_bad: bool = True) -> Iterator[MessageBlock]:
    """Message blocks of a recording, in event-time order (bad messages merged back if present)."""
    kind, file = _resolve(Path(input_path))
    bad = _bad_messages(file.parent / "bad_messages.jsonl") if include_bad and kind != "csv" else []
    if kind == "parquet":
        blocks = _parquet_blocks(file)
    elif kind == "jsonl":
        blocks = _jsonl_blocks(file)
    else:
        blocks = _csv_blocks(file)
    yield from _merge_bad(blocks, bad)


def count_readings(input_path: str | Path) -> int | None:
    """Number of single readings in a Parquet recording (for progress bars), or ``None`` if unknown."""
    import pyarrow.parquet as pq

    kind, file = _resolve(Path(input_path))
    if kind != "parquet":
        return None
    total = int(pq.ParquetFile(file).metadata.num_rows)
    batches = file.parent / "batches.parquet"
    if batches.is_file():
        table = pq.read_table(batches, columns=["values"])
        total += int(sum(len(v) for v in table.column("values").to_pylist()))
    return total


def replay(input_path: str | Path, settings: Settings, speed: float | None = 60.0, progress: Any = None) -> SendReport:
    """Send a recording to ``settings.readings_topic`` at ``speed``× real time (``None``: as fast as possible)."""
    from lifeline.connectors.kafka import ensure_topics

    blocks = read_blocks(input_path)
    ensure_topics(settings)
    errors: list[str] = []
    producer = make_fast_producer(settings, errors)
    return produce_blocks(blocks, producer, settings.readings_topic, speed, progress, errors)


def _encode_singles(ids: list[str], ts: list[int], values: list[float]) -> tuple[list[bytes], list[bytes]]:
    encode = _encoder.encode
    payloads = [encode({"sensor_id": s, "ts": t, "value": v}) for s, t, v in zip(ids, ts, values, strict=True)]
    return [s.encode() for s in ids], payloads


def _parquet_blocks(file: Path) -> Iterator[MessageBlock]:
    import pyarrow.parquet as pq

    batches_file = file.parent / "batches.parquet"
    pending: list[tuple[int, bytes, bytes, int]] = []
    if batches_file.is_file():
        table = pq.read_table(batches_file)
        t0s = table.column("t0").cast("int64").to_pylist()
        for sensor, t0, dt, values in zip(table.column("sensor_id").to_pylist(), t0s,
                                          table.column("dt_ms").to_pylist(), table.column("values").to_pylist(),
                                          strict=True):  # fmt: skip
            payload = _encoder.encode({"sensor_id": sensor, "t0": t0, "dt_ms": dt, "values": values})
            pending.append((t0, sensor.encode(), payload, len(values)))
        pending.sort(key=lambda item: item[0])
    reader = pq.ParquetFile(file)
    for group in range(reader.num_row_groups):
        table = reader.read_row_group(group)
        ts = table.column("ts").cast("int64").to_numpy()
        keys, payloads = _encode_singles(
            table.column("sensor_id").cast("string").to_pylist(), ts.tolist(), table.column("value").to_pylist()
        )
        last = group == reader.num_row_groups - 1
        limit = int(ts[-1]) if ts.size and not last else np.iinfo(np.int64).max
        taken = [p for p in pending if p[0] <= limit]
        pending = pending[len(taken) :]
        yield _combine(ts, keys, payloads, int(ts.size), taken)


def _combine(
    ts: np.ndarray[Any, np.dtype[np.int64]], keys: list[bytes], payloads: list[bytes], readings: int,
    extra: list[tuple[int, bytes, bytes, int]],
) -> MessageBlock:  # fmt: skip
    if not extra:
        return MessageBlock(ts, keys, payloads, readings)
    times = np.concatenate([ts, np.array([e[0] for e in extra], np.int64)])
    order = np.argsort(times, kind="stable").tolist()
    all_keys = keys + [e[1] for e in extra]
    all_payloads = payloads + [e[2] for e in extra]
    return MessageBlock(
        times[order],
        [all_keys[i] for i in order],
        [all_payloads[i] for i in order],
        readings + sum(e[3] for e in extra),
    )


def _jsonl_blocks(file: Path) -> Iterator[MessageBlock]:
    decoder = msgspec.json.Decoder(_TimeOnly)
    with file.open("rb") as handle:
        while True:
            lines = [line.rstrip(b"\n") for line in handle.readlines(_BLOCK * 60)]
            if not lines:
                return
            times, keys, readings = [], [], 0
            for line in lines:
                message = decoder.decode(line)
                times.append(message.ts if message.ts is not None else (message.t0 or 0))
                keys.append(message.sensor_id.encode())
                readings += len(message.values) if message.values is not None else 1
            yield MessageBlock(np.array(times, np.int64), keys, lines, readings)


def _csv_blocks(file: Path) -> Iterator[MessageBlock]:
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv

    try:
        table = csv.read_csv(file, convert_options=csv.ConvertOptions(
            include_columns=["sensor_id", "value", "ts"],
            column_types={"sensor_id": pa.string(), "value": pa.float64(), "ts": pa.timestamp("us", tz="UTC")},
        ))  # fmt: skip
    except (pa.ArrowInvalid, KeyError) as exc:
        raise ReplayInputError(f"{file}: not a QuestDB readings export with sensor_id, value, ts: {exc}") from None
    table = table.filter(pc.is_valid(table.column("value"))).sort_by("ts")
    ts_all = table.column("ts").cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_numpy()
    for start in range(0, table.num_rows, _BLOCK):
        piece = table.slice(start, _BLOCK)
        ts = ts_all[start : start + _BLOCK]
        keys, payloads = _encode_singles(
            piece.column("sensor_id").to_pylist(), ts.tolist(), piece.column("value").to_pylist()
        )
        yield MessageBlock(ts, keys, payloads, int(ts.size))


def _bad_messages(path: Path) -> list[tuple[int, bytes, bytes, int]]:
    if not path.is_file():
        return []
    rows = msgspec.json.Decoder(_Bad).decode_lines(path.read_bytes())
    return sorted(((r.emit_at_ms, r.key.encode(), r.payload.encode(), 0) for r in rows), key=lambda item: item[0])


def _merge_bad(blocks: Iterator[MessageBlock], bad: list[tuple[int, bytes, bytes, int]]) -> Iterator[MessageBlock]:
    previous: MessageBlock | None = None
    for block in blocks:
        if previous is not None:
            limit = int(block.times_ms[0]) if block.times_ms.size else int(previous.times_ms[-1])
            taken = [b for b in bad if b[0] < limit]
            bad = bad[len(taken) :]
            yield _combine(previous.times_ms, previous.keys, previous.payloads, previous.readings, taken)
        previous = block
    if previous is not None:
        yield _combine(previous.times_ms, previous.keys, previous.payloads, previous.readings, bad)
    elif bad:
        yield _combine(np.empty(0, np.int64), [], [], 0, bad)
