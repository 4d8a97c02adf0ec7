"""Offline detection: read series from CSV or Parquet, stream them through the live model, write scores.

``lifeline detect`` runs the model the live flow runs on every closed window: the per-sensor learned
baseline (:mod:`lifeline.detectors.sensor_baseline`) with the product's settings (``AnomalyRules``).
Each row is one window of one value (count 1, mean = min = max = last = the value), stamped with the
row's timestamp, and the window length is the median spacing of the timestamps. Rows go in **file
order** (timestamps may repeat or go backwards); each row is scored before it is learned, so there is
no look-ahead. The tier is 3 (an ``anomaly``, like the flow's) where the calibrated threshold is
crossed, empty otherwise. Several value columns are scored as one asset (:class:`AssetBaseline`).

:func:`detect_series` (any :class:`SensorModel` with a :class:`TierFilter`) stays for the river
models and the benchmarks that compare them.

Timestamps: ISO-8601 text (``2014-07-01 00:00:00``; without a zone, a wall-clock time in the rules' local time,
``[rules.anomaly] utc_offset_h``, +8 by default), Arrow timestamps, or
numbers (epoch seconds; values above 1e11 are taken as epoch milliseconds).
"""

from __future__ import annotations

import codecs
import csv
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from lifeline.detectors.anomaly_base import SensorModel
from lifeline.detectors.anomaly_filter import TierFilter
from lifeline.detectors.calendar import WEEKENDS, RestDays
from lifeline.detectors.config import AnomalyRules
from lifeline.detectors.nab_scoring import probation_rows
from lifeline.detectors.results import WindowStats
from lifeline.detectors.sensor_baseline import AssetBaseline, BaselineScore, SensorBaseline, new_baseline
from lifeline.flows.exceptions import DetectInputError

__all__ = [
    "DetectInputError", "Frame", "Series", "csv_delimiter", "csv_encoding", "detect_frame", "detect_series",
    "read_frame", "read_series", "recording_rules", "window_seconds", "write_frame_scores", "write_scores",
]  # fmt: skip

CHUNK = 4096


@dataclass
class Series:
    """One series in file order: epoch-ms timestamps, float values and the original timestamp text."""

    ts_ms: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    ts_text: list[str]


def _read_table(path: Path, columns: list[str]) -> pa.Table:
    if not path.is_file():
        raise DetectInputError(f"input file not found: {path}")
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            import pyarrow.parquet as pq

            names = pq.read_schema(path).names
            _check_columns(path, names, columns)
            return pq.read_table(path, columns=columns)
        import pyarrow.csv as pcsv

        convert = pcsv.ConvertOptions(include_columns=columns, column_types={columns[0]: pa.string()})
        encoding = csv_encoding(path)
        with path.open("rb") as fh:
            header = fh.readline().decode("utf-8-sig" if encoding == "utf8" else encoding, errors="replace")
        delimiter = csv_delimiter(header)
        names = [c.strip() for c in next(csv.reader([header], delimiter=delimiter), [])]
        _check_columns(path, names, columns)
        return pcsv.read_csv(
            path, read_options=pcsv.ReadOptions(encoding=encoding), convert_options=convert,
            parse_options=pcsv.ParseOptions(delimiter=delimiter),
        )  # fmt: skip
    except pa.ArrowInvalid as exc:
        raise DetectInputError(f"{path}: cannot read the file: {exc}") from exc


def csv_encoding(path: Path, probe_bytes: int = 1 << 20) -> str:
    """``utf8``, or ``gb18030`` for a file whose first MiB is not UTF-8: Excel and most platform exports on a
    Chinese Windows write CSV in GBK, which GB18030 contains.

    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     f = os.path.join(d, "x.csv")
    ...     _ = open(f, "wb").write("时间,压力\\n".encode("gbk"))
    ...     g = os.path.join(d, "y.csv")
    ...     _ = open(g, "wb").write("时间,压力\\n".encode("utf-8"))
    ...     csv_encoding(Path(f)), csv_encoding(Path(g))
    ('gb18030', 'utf8')
    """
    with path.open("rb") as fh:
        probe = fh.read(probe_bytes)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(probe, final=False)  # a character cut at the end is fine
    except UnicodeDecodeError:
        return "gb18030"
    return "utf8"


def csv_delimiter(header: str) -> str:
    """The delimiter of a CSV file, from its header line: of comma, semicolon, tab and bar, the one that splits
    it into the most columns (a comma when none splits it). Exports of test rigs and SCADA systems in many
    locales use semicolons.

    >>> csv_delimiter("datetime;Pressure;Flow\\n"), csv_delimiter("timestamp,value"), csv_delimiter("value")
    (';', ',', ',')
    """
    counts = {d: len(next(csv.reader([header], delimiter=d), [])) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])  # ties keep the first, the comma
    return best if counts[best] > 1 else ","


def _check_columns(path: Path, names: list[str], wanted: list[str]) -> None:
    missing = [c for c in wanted if c not in names]
    if missing:
        raise DetectInputError(
            f"{path}: column(s) {', '.join(repr(c) for c in missing)} not found; the file has "
            f"{', '.join(repr(c) for c in names)}. Choose them with --time-column / --value-column."
        )


def _text_to_ms(texts: list[str | None], path: Path, column: str, naive: tzinfo = UTC) -> npt.NDArray[np.int64]:
    out = np.empty(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        try:
            if text is None:
                raise ValueError("empty")
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise DetectInputError(
                f"{path}: row {i + 2}: column {column!r}: cannot parse timestamp {text!r} "
                "(expected ISO-8601 such as 2024-05-01 08:00:00 or epoch seconds/milliseconds)"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=naive)
        out[i] = round(moment.timestamp() * 1000)
    return out


def _to_ms(col: pa.ChunkedArray, path: Path, column: str, naive: tzinfo = UTC) -> npt.NDArray[np.int64]:
    if pa.types.is_timestamp(col.type):
        ms = np.asarray(pc.cast(col, pa.timestamp("ms", tz=col.type.tz)).cast(pa.int64()), dtype=np.int64)
        if col.type.tz is None:  # wall-clock times: in the zone ``naive``
            offset = naive.utcoffset(None)
            ms = ms - (0 if offset is None else round(offset.total_seconds() * 1000))
        return ms
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        if col.null_count:
            raise DetectInputError(f"{path}: column {column!r} has {col.null_count} empty timestamp(s)")
        nums = np.asarray(col, dtype=np.float64)
        scale = 1.0 if np.nanmax(np.abs(nums), initial=0.0) > 1e11 else 1000.0
        return np.round(nums * scale).astype(np.int64)
    texts: list[str | None] = [None if v is None else str(v) for v in col.to_pylist()]
    numeric = [t for t in texts[:5] if t is not None and _is_number(t)]
    if texts and len(numeric) == min(5, len(texts)):
        return _to_ms(pa.chunked_array([pc.cast(col, pa.float64())]), path, column)
    return _text_to_ms(texts, path, column, naive)


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _decimal_commas(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """Text numbers written with a decimal comma (``5,05``, as semicolon-separated exports in many locales
    write them) as floats; ``None`` when the column is not that (a dot or anything else that is no number)."""
    if not pa.types.is_string(column.type) or pc.any(pc.match_substring(column, ".")).as_py():
        return None
    try:
        return pc.cast(pc.replace_substring(column, ",", "."), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _values(table: pa.Table, column: str, path: Path) -> npt.NDArray[np.float64]:
    vcol = table.column(column)
    if not (pa.types.is_integer(vcol.type) or pa.types.is_floating(vcol.type) or pa.types.is_null(vcol.type)):
        try:
            vcol = pc.cast(vcol, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            vcol = _decimal_commas(vcol)
            if vcol is None:
                raise DetectInputError(f"{path}: column {column!r} is not numeric: {exc}") from exc
    return np.asarray(vcol.cast(pa.float64()).fill_null(float("nan")), dtype=np.float64)


def read_series(
    path: str | Path, time_column: str = "timestamp", value_column: str = "value", *, naive_utc_offset_h: float = 0.0
) -> Series:
    """Read the time and value columns of a CSV or Parquet file, keeping file order (see :func:`read_frame`)."""
    frame = read_frame(path, time_column, [value_column], naive_utc_offset_h=naive_utc_offset_h)
    return Series(frame.ts_ms, frame.values[:, 0].copy(), frame.ts_text)


@dataclass
class Frame:
    """Several value columns of one file in file order: epoch-ms timestamps, values (rows × columns)."""

    ts_ms: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    columns: list[str]
    ts_text: list[str]


def read_frame(
    path: str | Path, time_column: str, value_columns: list[str], *, naive_utc_offset_h: float = 0.0
) -> Frame:
    """Read the time column and one or more value columns of a CSV or Parquet file, keeping file order.
    Timestamps without a zone are wall-clock times at ``naive_utc_offset_h`` hours from UTC (``lifeline detect``:
    the rules' local time, China's +8 by default).

    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     f = os.path.join(d, "x.csv")
    ...     _ = open(f, "w").write("timestamp,value\\n2024-01-01 08:00:00,1\\n2024-01-01T08:00:00+00:00,2\\n")
    ...     read_frame(f, "timestamp", ["value"], naive_utc_offset_h=8.0).ts_ms.tolist()
    [1704067200000, 1704096000000]
    """
    p = Path(path)
    if not value_columns or len(set(value_columns)) != len(value_columns):
        raise DetectInputError(f"value columns must be distinct and at least one, got {value_columns}")
    table = _read_table(p, [time_column, *value_columns])
    tcol = table.column(time_column)
    ts_ms = _to_ms(tcol, p, time_column, timezone(timedelta(hours=naive_utc_offset_h)))
    k = len(value_columns)
    values = np.column_stack([_values(table, c, p) for c in value_columns]) if len(table) else np.empty((0, k))
    text = [str(v) for v in tcol.cast(pa.string()).to_pylist()]
    return Frame(ts_ms, values.reshape(len(text), k), list(value_columns), text)


def window_seconds(ts_ms: npt.NDArray[np.int64]) -> int:
    """The window length ``detect`` gives each row: the median positive spacing of the timestamps, in
    whole seconds (at least 1; 600 when there is no spacing to measure).

    >>> window_seconds(np.array([0, 300_000, 600_000, 600_000, 1_200_000]))
    300
    """
    gaps = np.diff(ts_ms)
    gaps = gaps[gaps > 0]
    return max(1, round(float(np.median(gaps)) / 1000.0)) if gaps.size else 600


def _row_window(ts: int, window_s: int, value: float, column: int) -> WindowStats:
    return WindowStats(str(column), ts, window_s, 1, value, value, value, 0.0, 0.0, value)


def recording_rules(rules: AnomalyRules, rows: int) -> AnomalyRules:
    """``rules`` for a recording of ``rows`` rows: the warm-up learns from at most NAB's probationary period, 15 %
    of the rows (and never fewer than ``warmup_windows``), so a short recording is not mostly warm-up: 180 of a
    20-minute test-rig log's 1,200 one-second rows instead of 750.

    >>> [recording_rules(AnomalyRules(), rows).warmup_max_windows for rows in (1200, 20_000)]
    [180, 750]
    """
    return replace(rules, warmup_max_windows=min(rules.warmup_max_windows, probation_rows(rows)))


def detect_frame(
    frame: Frame, rules: AnomalyRules, progress: Callable[[int], None] | None = None, chunk: int = CHUNK,
    *, rest_days: RestDays = WEEKENDS,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:  # fmt: skip
    """Score then learn each row through the live baseline (one per column; several columns as one
    asset); return the scores (0 while warming up) and tiers (3 = anomaly, 0 = none). ``rest_days``: the
    rules' weekends and holidays (``[rules] holidays`` / ``workdays``). The warm-up is that of
    :func:`recording_rules`."""
    window_s = window_seconds(frame.ts_ms)
    rules = recording_rules(rules, int(frame.ts_ms.shape[0]))
    k = frame.values.shape[1]
    models = [new_baseline(config=rules, window_s=window_s) for _ in range(k)]
    asset = AssetBaseline(models, rules, window_s) if k > 1 else None
    single: SensorBaseline = models[0]
    n = frame.ts_ms.shape[0]
    scores = np.zeros(n, dtype=np.float64)
    tiers = np.zeros(n, dtype=np.int64)
    ts_list = frame.ts_ms.tolist()
    rows = frame.values.tolist()
    for i in range(n):
        windows = [_row_window(ts_list[i], window_s, v, c) for c, v in enumerate(rows[i])]
        verdict: BaselineScore | None
        if asset is None:
            verdict = single.score_and_learn(windows[0], rest_days=rest_days)
        else:
            verdict = asset.score_and_learn_windows(windows, rest_days)
        if verdict is not None:
            scores[i] = verdict.score
            tiers[i] = 3 if verdict.is_anomaly else 0
        if progress is not None and (i + 1) % chunk == 0:
            progress(chunk)
    if progress is not None and n % chunk:
        progress(n % chunk)
    return scores, tiers


def write_frame_scores(
    path: str | Path, frame: Frame, scores: npt.NDArray[np.float64], tiers: npt.NDArray[np.int64]
) -> None:
    """Write ``timestamp,value,score,tier`` (one column) or ``timestamp,<columns...>,score,tier``, file order."""
    names = ["value"] if len(frame.columns) == 1 else frame.columns
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["timestamp", *names, "score", "tier"])
        rows = frame.values.tolist()
        for text, vals, s, t in zip(frame.ts_text, rows, scores.tolist(), tiers.tolist(), strict=True):
            writer.writerow([text, *(repr(v) if v == v else "" for v in vals), f"{s:.6f}", t or ""])


def detect_series(
    series: Series,
    model: SensorModel,
    tiers: TierFilter,
    progress: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Stream ``series`` through ``model`` in file order, chunk by chunk; return scores and tiers (0 = none)."""
    n = series.values.size
    scores = np.empty(n, dtype=np.float64)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        scores[start:stop] = model.score_batch(series.ts_ms[start:stop], series.values[start:stop])
        if progress is not None:
            progress(stop - start)
    return scores, tiers.classify_batch(scores)


def write_scores(
    path: str | Path, series: Series, scores: npt.NDArray[np.float64], tiers: npt.NDArray[np.int64]
) -> None:
    """Write ``timestamp,value,score,tier`` (tier empty when no tier) in file order."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["timestamp", "value", "score", "tier"])
        for text, v, s, t in zip(series.ts_text, series.values.tolist(), scores.tolist(), tiers.tolist(), strict=True):
            writer.writerow([text, repr(v) if v == v else "", f"{s:.6f}", t or ""])
