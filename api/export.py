"""Export of query results as CSV or Parquet."""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import Response

__all__ = ["ExportFormat", "export_response"]


class ExportFormat(enum.StrEnum):
    """File format of an export."""

    CSV = "csv"
    PARQUET = "parquet"


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def export_response(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: ExportFormat, name: str) -> Response:
    """A download of ``rows`` (dicts with ``columns``) as CSV (UTF-8, header row) or Parquet."""
    if fmt is ExportFormat.CSV:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
        body: bytes = buffer.getvalue().encode()
        media = "text/csv; charset=utf-8"
    else:
        data = {c: [_parquet_cell(row.get(c)) for row in rows] for c in columns}
        table = pa.table(data) if rows else pa.table({c: pa.array([], type=pa.string()) for c in columns})
        sink = io.BytesIO()
        pq.write_table(table, sink)
        body = sink.getvalue()
        media = "application/vnd.apache.parquet"
    headers = {"Content-Disposition": f'attachment; filename="{name}.{fmt.value}"'}
    return Response(content=body, media_type=media, headers=headers)


def _parquet_cell(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, enum.Enum):
        return value.value
    return value
