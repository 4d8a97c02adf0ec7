"""Export of query results as CSV or Parquet.

CSV is made to open correctly in Excel, including on Chinese Windows: ``bom=true`` prefixes the UTF-8
byte-order mark (without it Excel reads UTF-8 as the local code page and garbles Chinese text), and
every time column says its zone in its header — ``ts (UTC)`` or, with ``tz=Asia/Shanghai``,
``ts (Asia/Shanghai)`` — with values as ``2026-12-03 10:05:00`` in that zone, a form Excel reads as a
date and time. Parquet keeps typed UTC timestamps.
"""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import Depends, Query, Response

from lifeline.api.exceptions import UserInputError

__all__ = ["CsvOptions", "CsvOpts", "ExportFormat", "export_response", "is_time_column"]

UTF8_BOM = b"\xef\xbb\xbf"


@dataclass
class CsvOptions:
    """``bom`` and ``tz`` query parameters of the CSV exports."""

    bom: Annotated[bool, Query(description="prefix a UTF-8 byte-order mark (Excel on Chinese Windows)")] = False
    tz: Annotated[str, Query(max_length=64, description="time zone of time columns, e.g. Asia/Shanghai")] = "UTC"

    def zone(self) -> ZoneInfo:
        """The validated zone; 400 for an unknown name."""
        try:
            return ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise UserInputError(f"unknown time zone {self.tz!r}: use an IANA name such as Asia/Shanghai") from None


#: the CSV options as a FastAPI dependency (query parameters ``bom`` and ``tz``)
CsvOpts = Annotated[CsvOptions, Depends()]


def is_time_column(name: str) -> bool:
    """Time columns by the project's naming: ``ts`` and ``*_at``."""
    return name == "ts" or name.endswith("_at")


def _time_text(value: datetime, zone: ZoneInfo) -> str:
    local = value.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M:%S") + (f".{local.microsecond // 1000:03d}" if local.microsecond else "")


class ExportFormat(enum.StrEnum):
    """File format of an export."""

    CSV = "csv"
    PARQUET = "parquet"


def _cell(value: Any, zone: ZoneInfo) -> Any:
    if isinstance(value, datetime):
        return _time_text(value, zone)
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def export_response(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: ExportFormat, name: str,
    options: CsvOptions | None = None,
) -> Response:  # fmt: skip
    """A download of ``rows`` (dicts with ``columns``) as CSV (UTF-8, header row, time columns in
    ``options.tz`` and named with it, optional BOM) or Parquet."""
    if fmt is ExportFormat.CSV:
        options = options or CsvOptions()
        zone = options.zone()
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow([f"{c} ({options.tz})" if is_time_column(c) else c for c in columns])
        for row in rows:
            writer.writerow([_cell(row.get(c), zone) for c in columns])
        body: bytes = (UTF8_BOM if options.bom else b"") + buffer.getvalue().encode()
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
