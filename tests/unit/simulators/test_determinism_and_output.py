"""Same seed → byte-identical files; wire messages decode with lifeline.codec; replay reads back what was written."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from lifeline.codec import decode_reading_message
from lifeline.exceptions import MessageError
from lifeline.models import Reading, ReadingBatch
from lifeline.registry import load_registry
from lifeline.simulators.groundtruth import read_ground_truth
from lifeline.simulators.output import Pacer, scenario_blocks, write_files
from lifeline.simulators.replay import read_blocks
from lifeline.simulators.scenarios import build


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    write_files(build("smoke", seed=11), tmp_path / "a", "both")
    write_files(build("smoke", seed=11), tmp_path / "b", "both")
    write_files(build("smoke", seed=12), tmp_path / "c", "both")
    a, b, c = _digest(tmp_path / "a"), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert {"readings.parquet", "readings.jsonl", "registry.csv", "ground_truth.csv", "bad_messages.jsonl"} <= set(a)
    assert a == b
    assert a["readings.parquet"] != c["readings.parquet"]
    assert a["readings.jsonl"] != c["readings.jsonl"]


def test_high_rate_batches_are_deterministic_too() -> None:
    first = next(build("bridge", seed=3, duration_s=600).chunks())
    second = next(build("bridge", seed=3, duration_s=600).chunks())
    assert first.batches and len(first.batches) == len(second.batches)
    for x, y in zip(first.batches, second.batches, strict=True):
        assert (x.sensor, x.t0_ms, x.dt_ms) == (y.sensor, y.t0_ms, y.dt_ms)
        assert np.array_equal(x.values, y.values)


def test_chunks_are_in_event_time_order_within_the_scenario() -> None:
    scenario = build("storm-day", duration_s=3 * 3600)
    last = scenario.start_ms
    for chunk in scenario.chunks():
        assert chunk.ts_ms.size > 0
        assert chunk.ts_ms[0] >= last
        assert np.all(np.diff(chunk.ts_ms) >= 0)
        assert chunk.ts_ms[-1] < scenario.end_ms
        last = int(chunk.ts_ms[-1])


def test_every_message_is_what_the_codec_decodes() -> None:
    scenario = build("bridge", seed=5, duration_s=1200)
    sensors = set(scenario.sensor_ids)
    singles = batches = 0
    for block in scenario_blocks(scenario):
        assert np.all(np.diff(block.times_ms) >= 0)
        for key, payload in zip(block.keys, block.payloads, strict=True):
            message = decode_reading_message(payload)
            assert message.sensor_id == key.decode() and message.sensor_id in sensors
            if isinstance(message, ReadingBatch):
                batches += 1
                assert message.dt_ms == 20 and len(message.values) == 500
            else:
                assert isinstance(message, Reading)
                singles += 1
    assert singles > 0 and batches > 0


def test_files_replay_to_the_same_messages(tmp_path: Path) -> None:
    scenario = build("smoke", seed=2)
    expected = [(k, p) for block in scenario_blocks(scenario) for k, p in zip(block.keys, block.payloads, strict=True)]
    for fmt in ("parquet", "jsonl"):
        write_files(scenario, tmp_path / fmt, fmt)
        got = [(k, p) for block in read_blocks(tmp_path / fmt) for k, p in zip(block.keys, block.payloads, strict=True)]
        assert sorted(got) == sorted(expected), fmt
        bad = {m.payload for m in scenario.bad_messages}
        readings = [decode_reading_message(p) for _, p in got if p not in bad]
        assert len(readings) > 3000


def test_questdb_csv_export_replays_in_time_order(tmp_path: Path) -> None:
    export = tmp_path / "readings.csv"
    export.write_text(
        "sensor_id,asset_id,lifeline,value,quality,ts\n"
        "B,x,gas,2.5,,2024-07-15T00:00:05.000000Z\n"
        "A,x,gas,1.25,0,2024-07-15T00:00:00.000000Z\n"
        "C,x,gas,,,2024-07-15T00:00:07.000000Z\n",
        encoding="utf-8",
    )
    blocks = list(read_blocks(export))
    messages = [decode_reading_message(p) for b in blocks for p in b.payloads]
    assert messages == [Reading("A", 1721001600000, 1.25), Reading("B", 1721001605000, 2.5)]


def test_registry_and_ground_truth_files_read_back(tmp_path: Path) -> None:
    scenario = build("smoke")
    write_files(scenario, tmp_path, "parquet")
    registry = load_registry(tmp_path / "registry.csv")
    assert list(registry) == scenario.sensor_ids
    assert registry[scenario.sensor_ids[0]] == scenario.sensors[0]
    assert read_ground_truth(tmp_path / "ground_truth.csv") == scenario.ground_truth


def test_pacer_releases_messages_on_event_time() -> None:
    times = np.array([0, 1000, 2000, 60_000], dtype=np.int64)
    assert Pacer(None).due_count(times, 0) == (4, 0.0)
    due, wait = Pacer(1000.0).due_count(times, 0)  # 1000x: one second of event time per millisecond
    assert 1 <= due <= 3
    assert wait <= 0.06
    with pytest.raises(ValueError, match="positive"):
        Pacer(0.0)


def test_malformed_payload_really_is_malformed() -> None:
    bad = {m.reason: m for m in build("smoke").bad_messages}
    with pytest.raises(MessageError):
        decode_reading_message(bad["malformed"].payload)
