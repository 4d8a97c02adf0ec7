"""Offline detection: read one series from CSV or Parquet, stream it through the detectors, write scores.

The loop is the same code the dataflow runs: readings go, in **file order** (timestamps may repeat
or go backwards), through :meth:`SensorModel.score_batch` in chunks; each reading is scored
before it is learned, so there is no look-ahead. Scores are turned into tiers by the separate
threshold step (:class:`lifeline.detectors.anomaly_filter.TierFilter`).

Timestamps: ISO-8601 text (``2014-07-01 00:00:00``; naive means UTC), Arrow timestamps, or
numbers (epoch seconds; values above 1e11 are taken as epoch milliseconds).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from lifeline.detectors.anomaly_base import SensorModel
from lifeline.detectors.anomaly_filter import TierFilter
from lifeline.flows.exceptions import DetectInputError

__all__ = ["DetectInputError", "Series", "detect_series", "read_series", "write_scores"]

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
        with path.open("rb") as fh:
            header = fh.readline().decode("utf-8-sig", errors="replace")
        names = [c.strip() for c in next(csv.reader([header]), [])]
        _check_columns(path, names, columns)
        return pcsv.read_csv(path, convert_options=convert)
    except pa.ArrowInvalid as exc:
        raise DetectInputError(f"{path}: cannot read the file: {exc}") from exc


def _check_columns(path: Path, names: list[str], wanted: list[str]) -> None:
    missing = [c for c in wanted if c not in names]
    if missing:
        raise DetectInputError(
            f"{path}: column(s) {', '.join(repr(c) for c in missing)} not found; the file has "
            f"{', '.join(repr(c) for c in names)}. Choose them with --time-column / --value-column."
        )


def _text_to_ms(texts: list[str | None], path: Path, column: str) -> npt.NDArray[np.int64]:
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
            moment = moment.replace(tzinfo=UTC)
        out[i] = round(moment.timestamp() * 1000)
    return out


def _to_ms(col: pa.ChunkedArray, path: Path, column: str) -> npt.NDArray[np.int64]:
    if pa.types.is_timestamp(col.type):
        return np.asarray(pc.cast(col, pa.timestamp("ms", tz=col.type.tz)).cast(pa.int64()), dtype=np.int64)
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
    return _text_to_ms(texts, path, column)


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def read_series(path: str | Path, time_column: str = "timestamp", value_column: str = "value") -> Series:
    """Read the time and value columns of a CSV or Parquet file, keeping file order."""
    p = Path(path)
    table = _read_table(p, [time_column, value_column])
    tcol, vcol = table.column(time_column), table.column(value_column)
    ts_ms = _to_ms(tcol, p, time_column)
    if not (pa.types.is_integer(vcol.type) or pa.types.is_floating(vcol.type) or pa.types.is_null(vcol.type)):
        try:
            vcol = pc.cast(vcol, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DetectInputError(f"{p}: column {value_column!r} is not numeric: {exc}") from exc
    values = np.asarray(vcol.cast(pa.float64()).fill_null(float("nan")), dtype=np.float64)
    text = [str(v) for v in tcol.cast(pa.string()).to_pylist()]
    return Series(ts_ms, values, text)


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
