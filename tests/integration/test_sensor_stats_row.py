"""Window statistics written by the flow's QuestDB sink read back with every column as written: the sink
writes them as one frame per flush, with the sensor's asset and lifeline from the registry."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from lifeline.connectors.questdb import QuestDB
from lifeline.detectors.results import WindowStats
from lifeline.flows.sinks import QuestDBBatch, QuestDBSink
from lifeline.flows.validate import SensorIndex
from lifeline.models import SensorKind, SensorSpec
from lifeline.registry import Registry
from lifeline.settings import Settings

REGISTRY = Registry([
    SensorSpec("W-1-P", SensorKind.WATER_PRESSURE, "DMA-0001", "hefei-water", "baohe", 31.8, 117.2),
    SensorSpec("G-7-CH4", SensorKind.CH4_LEL, "WELL-0007", "hefei-gas", "shushan", 31.9, 117.3),
])  # fmt: skip
WINDOWS = [
    WindowStats("W-1-P", 1_767_225_600_000, 600, 3, 0.3125, 0.301, 0.33, 0.0125, -0.004, 0.305),
    WindowStats("G-7-CH4", 1_767_225_600_000, 900, 1, 2.5, 2.5, 2.5, 0.0, 0.0, 2.5),
    WindowStats("W-1-P", 1_767_226_200_000, 600, 2, 0.29, 0.28, 0.3, float("nan"), 1.5, 0.28),
]


def test_window_statistics_read_back_as_written(services: Settings, unique: str) -> None:
    settings = services.with_overrides(questdb_table_prefix=f"stats_{unique}_")
    with QuestDB(settings) as db:
        db.create_tables()
    sink = QuestDBSink(settings.questdb_ilp_conf, SensorIndex(REGISTRY), table_prefix=settings.questdb_table_prefix)
    part = sink.build_part("questdb", "questdb", None)
    part.write_batch([QuestDBBatch(stats=WINDOWS[:2]), QuestDBBatch(stats=WINDOWS[2:])])
    part.close()
    with QuestDB(settings) as db:
        db.wait_for_wal("sensor_stats")
        columns = "sensor_id, asset_id, lifeline, window_s, count, mean, min, max, std, slope_per_h, last, ts"
        sql = f"SELECT {columns} FROM {db.table('sensor_stats')} ORDER BY ts, sensor_id"  # noqa: S608 (fixed names)
        rows = db.query(sql).rows
    expected = [
        ("G-7-CH4", "WELL-0007", "gas", 900, 1, 2.5, 2.5, 2.5, 0.0, 0.0, 2.5, datetime(2026, 1, 1, tzinfo=UTC)),
        ("W-1-P", "DMA-0001", "water", 600, 3, 0.3125, 0.301, 0.33, 0.0125, -0.004, 0.305,
         datetime(2026, 1, 1, tzinfo=UTC)),
        ("W-1-P", "DMA-0001", "water", 600, 2, 0.29, 0.28, 0.3, None, 1.5, 0.28,
         datetime(2026, 1, 1, 0, 10, tzinfo=UTC)),
    ]  # fmt: skip
    assert len(rows) == len(expected)
    for got, want in zip(rows, expected, strict=True):
        got = tuple(None if isinstance(v, float) and math.isnan(v) else v for v in got)
        ts = got[-1] if got[-1].tzinfo is not None else got[-1].replace(tzinfo=UTC)
        assert (*got[:-1], ts) == want
