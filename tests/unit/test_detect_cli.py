"""``lifeline detect``: output format, file order, Parquet input, clear errors with exit code 2."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from lifeline.cli import app, main
from lifeline.flows.exceptions import DetectInputError
from lifeline.flows.offline import read_series

runner = CliRunner()


def _write_csv(path: Path, rows: list[tuple[str, str]], header: tuple[str, str] = ("timestamp", "value")) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _series_rows(n: int = 400, spike: int = 300) -> list[tuple[str, str]]:
    rng = np.random.default_rng(5)
    rows = []
    for i in range(n):
        v = 10.0 + rng.normal(0, 0.1) + (50.0 if i == spike else 0.0)
        rows.append((f"2024-01-{1 + i // 288:02d} {(i % 288) // 12:02d}:{(i % 12) * 5:02d}:00", repr(v)))
    return rows


def test_detect_writes_scores_and_tiers_in_file_order(tmp_path: Path) -> None:
    rows = _series_rows()
    rows[10], rows[11] = rows[11], rows[10]  # out of order: kept in file order
    src = _write_csv(tmp_path / "in.csv", rows)
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["detect", "--input", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open() as fh:
        got = list(csv.DictReader(fh))
    assert [r["timestamp"] for r in got] == [r[0] for r in rows]
    scores = [float(r["score"]) for r in got]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert all(s == 0.0 for s in scores[:100])  # default warm-up of 100 readings
    assert max(range(len(scores)), key=scores.__getitem__) == 300
    assert got[300]["tier"] == "1"
    assert got[200]["tier"] == ""


def test_detect_reads_parquet_with_named_columns(tmp_path: Path) -> None:
    ts = np.arange(300, dtype=np.int64) * 60_000 + 1_700_000_000_000
    vals = np.full(300, 3.0)
    vals[250] = 9.0
    table = pa.table({"ts": pa.array(ts.astype("datetime64[ms]")), "p": vals})
    src = tmp_path / "in.parquet"
    pq.write_table(table, src)
    out = tmp_path / "o.csv"
    args = ["detect", "-i", str(src), "-o", str(out), "--time-column", "ts", "--value-column", "p"]
    result = runner.invoke(app, [*args, "--sensor-kind", "water_pressure", "--warmup", "50"])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert len(lines) == 301
    assert lines[251].split(",")[3] == "1"


def test_epoch_seconds_and_milliseconds(tmp_path: Path) -> None:
    sec = _write_csv(tmp_path / "s.csv", [("1700000000", "1"), ("1700000060", "2")])
    ms = _write_csv(tmp_path / "m.csv", [("1700000000000", "1"), ("1700000060000", "2")])
    assert read_series(sec).ts_ms.tolist() == [1_700_000_000_000, 1_700_000_060_000]
    assert read_series(ms).ts_ms.tolist() == [1_700_000_000_000, 1_700_000_060_000]


def test_missing_column_is_a_clear_error(tmp_path: Path) -> None:
    src = _write_csv(tmp_path / "in.csv", _series_rows(5))
    with pytest.raises(DetectInputError, match="'level' not found"):
        read_series(src, value_column="level")


def test_unparseable_timestamp_names_the_row(tmp_path: Path) -> None:
    src = _write_csv(tmp_path / "in.csv", [("2024-01-01 00:00:00", "1"), ("not a time", "2")])
    with pytest.raises(DetectInputError, match=r"row 3: .*'not a time'"):
        read_series(src)


def test_errors_exit_with_code_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _write_csv(tmp_path / "in.csv", _series_rows(5))
    argv = ["lifeline", "detect", "-i", str(src), "-o", str(tmp_path / "o.csv"), "--time-column", "when"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    assert not (tmp_path / "o.csv").exists()


def test_help_has_an_example() -> None:
    result = runner.invoke(app, ["detect", "--help"])
    assert result.exit_code == 0
    assert "lifeline detect --input" in result.output
