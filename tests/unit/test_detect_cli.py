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
    assert got[300]["tier"] == "3"  # an anomaly, as the live flow reports it
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
    assert lines[251].split(",")[3] == "3"


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


def _asset_csv(path: Path, shift: float) -> Path:
    """Three independent noisy columns (σ = 1), one row a minute; rows 1000-1029 all move by ``shift``."""
    rng = np.random.default_rng(21)
    vals = rng.normal(0.0, 1.0, (1400, 3)) + np.array([5.0, 20.0, -3.0])
    vals[1000:1030] += shift
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ts", "a", "b", "c"])
        for i, row in enumerate(vals.tolist()):
            w.writerow([1_700_000_000 + 60 * i, *row])
    return path


def _detect(src: Path, out: Path, columns: str) -> list[dict[str, str]]:
    args = ["detect", "-i", str(src), "-o", str(out), "--time-column", "ts", "--value-column", columns]
    result = runner.invoke(app, [*args, "--warmup", "200"])
    assert result.exit_code == 0, result.output
    with out.open() as fh:
        return list(csv.DictReader(fh))


def test_value_columns_score_one_asset(tmp_path: Path) -> None:
    src = _asset_csv(tmp_path / "asset.csv", shift=3.0)
    got = _detect(src, tmp_path / "asset_scores.csv", "a,b,c")
    assert list(got[0]) == ["timestamp", "a", "b", "c", "score", "tier"]
    assert len(got) == 1400
    asset = {i for i, r in enumerate(got) if r["tier"] == "3"}
    alone: set[int] = set()
    for column in ("a", "b", "c"):
        rows = _detect(src, tmp_path / f"{column}.csv", column)
        alone |= {i for i, r in enumerate(rows) if r["tier"] == "3"}
    # a column anomalous on its own makes the asset anomalous
    assert alone <= asset
    # every column moves 3 σ in rows 1000-1029: the asset is anomalous there
    assert len({i for i in asset if 1000 <= i < 1030}) >= 3, sorted(asset)


def test_combined_score_of_an_asset_by_hand() -> None:
    from lifeline.detectors.config import AnomalyRules
    from lifeline.detectors.sensor_baseline import AssetBaseline, BaselineScore

    asset = AssetBaseline([], AnomalyRules(), 60)
    # z = (3, 3, 3): sum of squares 27 on 3 degrees of freedom; Wilson–Hilferty: c = 2/27,
    # ((27/3)^(1/3) - (1 - c)) / sqrt(c) = (2.0801 - 0.9259) / 0.2722 = 4.240, one-sided p = 1.12e-5,
    # score = -log10(p) / 10 = 0.495
    verdicts = [BaselineScore(0.0, 3.0, 0.0, 1.0, 4.0, "mean", "weekday 00:00-01:00", False)] * 3
    assert abs(asset._combined(verdicts) - 0.495) < 0.002


def test_detect_judges_the_public_holidays_of_the_rules_by_their_day_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime, timedelta

    from lifeline.simulators.holidays import HOLIDAYS, WORKDAYS, is_rest_day

    rng = np.random.default_rng(9)
    first = datetime(2024, 8, 18, 16, tzinfo=UTC)  # Monday 19 August 00:00 China time
    rows, local_dates = [], []
    for h in range(24 * 56):  # eight weeks, National Day (1-7 October) in the seventh
        at = first + timedelta(hours=h)
        local = at + timedelta(hours=8)
        rest = is_rest_day(local.date().isoformat())
        value = 50.0 + 5.0 * np.sin(2 * np.pi * local.hour / 24) - (3.0 if rest else 0.0) + rng.normal(0, 0.2)
        rows.append((at.strftime("%Y-%m-%dT%H:%M:%SZ"), repr(float(value))))
        local_dates.append(local.date().isoformat())
    src = _write_csv(tmp_path / "in.csv", rows)
    holiday_weekdays = {"2024-10-01", "2024-10-02", "2024-10-03", "2024-10-04"}

    def flagged_on_holiday_weekdays(config: Path | None) -> int:
        monkeypatch.chdir(tmp_path)  # no ./lifeline.toml here
        if config is None:
            monkeypatch.delenv("LIFELINE_CONFIG", raising=False)
        else:
            monkeypatch.setenv("LIFELINE_CONFIG", str(config))
        out = tmp_path / "out.csv"
        result = runner.invoke(app, ["detect", "--input", str(src), "--out", str(out)])
        assert result.exit_code == 0, result.output
        with out.open() as fh:
            tiers = [r["tier"] for r in csv.DictReader(fh)]
        return sum(1 for t, d in zip(tiers, local_dates, strict=True) if t and d in holiday_weekdays)

    told = tmp_path / "holidays.toml"
    quoted = lambda dates: ", ".join(f'"{d}"' for d in dates)  # noqa: E731
    told.write_text(f"[rules]\nholidays = [{quoted(HOLIDAYS)}]\nworkdays = [{quoted(WORKDAYS)}]\n")
    assert flagged_on_holiday_weekdays(told) == 0
    assert flagged_on_holiday_weekdays(None) > 0


def test_timestamps_without_a_zone_are_local_time_at_the_given_offset(tmp_path: Path) -> None:
    from lifeline.flows.offline import read_frame

    src = _write_csv(tmp_path / "t.csv", [("2024-05-01 08:00:00", "1"), ("2024-05-01T08:00:00+08:00", "2")])
    local = read_frame(src, "timestamp", ["value"], naive_utc_offset_h=8.0).ts_ms.tolist()
    assert local == [1714521600000, 1714521600000]  # both 00:00 UTC
    assert read_frame(src, "timestamp", ["value"]).ts_ms.tolist()[0] == 1714550400000  # offset 0: read as UTC
    naive = pa.array([1714550400000], type=pa.timestamp("ms"))  # a Parquet wall-clock time, 2024-05-01 08:00
    zoned = pa.array([1714550400000], type=pa.timestamp("ms", tz="UTC"))
    pq.write_table(pa.table({"ts": naive, "z": zoned, "value": [1.0]}), tmp_path / "t.parquet")
    assert read_frame(tmp_path / "t.parquet", "ts", ["value"], naive_utc_offset_h=8.0).ts_ms.tolist() == [1714521600000]
    assert read_frame(tmp_path / "t.parquet", "z", ["value"], naive_utc_offset_h=8.0).ts_ms.tolist() == [1714550400000]


def _second_rows(n: int, spike: int | None) -> list[tuple[str, str]]:
    rng = np.random.default_rng(11)
    rows = []
    for i in range(n):
        v = 5.0 + rng.normal(0, 0.05) + (3.0 if i == spike else 0.0)
        rows.append((f"2024-03-01 10:{i // 60:02d}:{i % 60:02d}", repr(v)))
    return rows


def test_a_recording_shorter_than_a_day_of_one_second_rows_learns_from_its_first_15_percent(tmp_path: Path) -> None:
    # a day of 1-s rows would be 86,400 rows of warm-up (a 20-minute test-rig log got no score at all), and 750
    # rows would be most of it: the warm-up is NAB's probationary period, 15 % of the rows (180 of 1,200)
    src = _write_csv(tmp_path / "rig.csv", _second_rows(1200, spike=1000))
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["detect", "--input", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open() as fh:
        got = list(csv.DictReader(fh))
    scores = [float(r["score"]) for r in got]
    assert all(s == 0.0 for s in scores[:180])
    assert any(s > 0.0 for s in scores[180:200])
    assert max(range(len(scores)), key=scores.__getitem__) == 1000
    assert got[1000]["tier"] == "3"
    assert "note:" not in result.output


def test_a_step_in_the_first_half_of_a_short_recording_is_flagged(tmp_path: Path) -> None:
    # 1-s rows, the level steps by 0.5 (10 noise sd) at row 400 of 1,200: inside the former 750-row warm-up
    rng = np.random.default_rng(3)
    rows = [(f"2024-03-01 10:{i // 60:02d}:{i % 60:02d}", repr(5.0 + rng.normal(0, 0.05) + (0.5 if i >= 400 else 0.0)))
            for i in range(1200)]  # fmt: skip
    src, out = _write_csv(tmp_path / "step.csv", rows), tmp_path / "out.csv"
    result = runner.invoke(app, ["detect", "--input", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open() as fh:
        tiers = [r["tier"] for r in csv.DictReader(fh)]
    assert "3" not in tiers[:400]
    assert "3" in tiers[400:410]


def test_a_file_within_the_warm_up_says_so(tmp_path: Path) -> None:
    src = _write_csv(tmp_path / "short.csv", _second_rows(90, spike=None))
    result = runner.invoke(app, ["detect", "--input", str(src), "--out", str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    assert "learns from the first 100 rows" in result.output and "--warmup" in result.output


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_semicolon_tab_and_bar_separated_files_are_read_like_comma_separated_ones(
    tmp_path: Path, delimiter: str
) -> None:
    # test-rig and SCADA exports in many locales separate columns with semicolons
    rows = _series_rows()
    src = _write_csv(tmp_path / "comma.csv", rows)
    other = tmp_path / "other.csv"
    with other.open("w", newline="") as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerow(("timestamp", "flow rate", "value"))
        w.writerows((ts, "1.5", v) for ts, v in rows)
    outs = []
    for path in (src, other):
        out = tmp_path / f"{path.stem}.out.csv"
        result = runner.invoke(app, ["detect", "--input", str(path), "--out", str(out)])
        assert result.exit_code == 0, result.output
        outs.append(out.read_text())
    assert outs[0] == outs[1]


def test_a_gbk_export_with_chinese_column_names_and_a_decimal_comma_export_read_like_utf8(tmp_path: Path) -> None:
    # Excel on a Chinese Windows saves CSV in GBK; semicolon exports in many locales write 5,05 for 5.05
    rows = _series_rows()
    plain = _write_csv(tmp_path / "plain.csv", rows, header=("时间", "压力"))
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(plain.read_text(encoding="utf-8").encode("gbk"))
    comma = tmp_path / "comma.csv"
    comma.write_text("时间;压力\n" + "".join(f"{ts};{v.replace('.', ',')}\n" for ts, v in rows), encoding="utf-8")
    outs = []
    for path in (plain, gbk, comma):
        out = tmp_path / f"{path.stem}.out.csv"
        args = ["detect", "--input", str(path), "--out", str(out), "--time-column", "时间", "--value-column", "压力"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        outs.append(out.read_text())
    assert outs[0] == outs[1] == outs[2]


def test_a_thousands_separator_is_still_not_a_number(tmp_path: Path) -> None:
    src = tmp_path / "thousands.csv"
    src.write_text("timestamp;value\n2024-01-01 00:00:00;1.234,5\n2024-01-01 00:05:00;1.240,0\n")
    with pytest.raises(DetectInputError, match="'value' is not numeric"):
        read_series(src)


@pytest.mark.parametrize("seed", [1, 2, 5])
def test_a_lasting_change_of_a_test_rig_stays_flagged_while_it_lasts(tmp_path: Path, seed: int) -> None:
    # a pump rig logged at 1 s (8 channels); a valve closes from row 700 to 949: the flow falls 12 sd, the current
    # rises 8 sd, the pressure falls 3 sd, while the motor warms 3 degC and the water 0.8 degC over the log.
    # Before, the asset forgot the change after about 50 rows (the level's spread and the range learned it);
    # holding back every column instead kept the asset flagged after the valve opened (the temperatures had
    # warmed past what they had learned)
    rng = np.random.default_rng(seed)
    names = ["acc1", "acc2", "current", "pressure", "temperature", "thermocouple", "voltage", "flow"]
    base = np.array([0.027, 0.040, 1.3, 0.05, 70.0, 24.0, 230.0, 32.0])
    sd = np.array([0.001, 0.001, 0.05, 0.01, 0.1, 0.05, 1.0, 0.5])
    closed = np.zeros((1200, 8))
    closed[700:950, [2, 3, 7]] = [0.4, -0.03, -6.0]
    warming = np.zeros((1200, 8))
    warming[:, 4] = np.linspace(0.0, 3.0, 1200) + np.cumsum(rng.normal(0.0, 0.02, 1200))  # the motor warms up
    warming[:, 5] = np.linspace(0.0, 0.8, 1200)  # and the water with it
    values = base + rng.normal(0.0, 1.0, (1200, 8)) * sd + closed + warming
    src, out = tmp_path / "valve.csv", tmp_path / "valve_scores.csv"
    with src.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", *names])
        for i, row in enumerate(values.tolist()):
            w.writerow([f"2020-03-09 10:{i // 60:02d}:{i % 60:02d}", *map(repr, row)])
    result = runner.invoke(app, ["detect", "--input", str(src), "--value-column", ",".join(names), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open() as fh:
        flagged = np.array([r["tier"] == "3" for r in csv.DictReader(fh)])
    assert flagged[700:950].mean() >= 0.9  # the whole change, not its first minute
    assert flagged[:700].sum() + flagged[960:].sum() <= 5  # and back to normal once the valve opens
