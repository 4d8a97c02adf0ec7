"""CSV for Excel: optional UTF-8 BOM, time columns named with their zone and written in it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from lifeline.api.exceptions import UserInputError
from lifeline.api.export import CsvOptions, ExportFormat, export_response

ROWS = [{"alert_id": "a1", "asset_id": "桥-01", "ts": datetime(2026, 12, 3, 2, 5, tzinfo=UTC),
         "started_at": datetime(2026, 12, 2, 23, 59, 30, 250_000, tzinfo=UTC), "value": 1.5}]  # fmt: skip
COLUMNS = ("alert_id", "asset_id", "ts", "started_at", "value")


def test_bom_and_shanghai_time_columns() -> None:
    body = export_response(ROWS, COLUMNS, ExportFormat.CSV, "alerts", CsvOptions(bom=True, tz="Asia/Shanghai")).body
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["alert_id", "asset_id", "ts (Asia/Shanghai)", "started_at (Asia/Shanghai)", "value"]
    # 02:05 UTC = 10:05 in Shanghai; 23:59:30.250 UTC on the 2nd = 07:59:30.250 on the 3rd
    assert rows[1] == ["a1", "桥-01", "2026-12-03 10:05:00", "2026-12-03 07:59:30.250", "1.5"]


def test_default_is_utc_without_bom() -> None:
    body = export_response(ROWS, COLUMNS, ExportFormat.CSV, "alerts").body
    assert not body.startswith(b"\xef\xbb\xbf")
    lines = body.decode().splitlines()
    assert lines[0] == "alert_id,asset_id,ts (UTC),started_at (UTC),value"
    assert lines[1] == "a1,桥-01,2026-12-03 02:05:00,2026-12-02 23:59:30.250,1.5"


def test_unknown_zone_is_a_user_error() -> None:
    with pytest.raises(UserInputError, match="Asia/Shanghai"):
        export_response(ROWS, COLUMNS, ExportFormat.CSV, "alerts", CsvOptions(tz="Mars/Olympus"))
