"""A report's content from QuestDB: ``readings`` (coverage, hourly chart series), ``sensor_stats``
(window statistics) and ``alert_events`` (alerts and faults), for the sensors the registry lists under an
asset or a group (a bridge is a group)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from lifeline.connectors.questdb import QuestDB
from lifeline.models import SensorKind, SensorSpec, datetime_to_ms, ms_to_datetime
from lifeline.registry import Registry
from lifeline.reports.exceptions import ReportError
from lifeline.reports.model import RATIO_KINDS, AlertSummary, ChartSeries, Period, ReportData, SensorSummary

__all__ = ["KEY_KINDS", "load_report_data", "sensors_for"]

#: the channels charted, in order (the first sensor of each kind present)
KEY_KINDS = (
    SensorKind.STRAIN, SensorKind.DEFLECTION, SensorKind.CRACK_WIDTH, SensorKind.BEARING_DISPLACEMENT,
    SensorKind.PIER_TILT, SensorKind.STRUCTURE_TEMPERATURE, SensorKind.ACCELERATION, SensorKind.MODAL_FREQUENCY,
)  # fmt: skip
MAX_CHARTS = 6


def sensors_for(registry: Registry, target: str) -> tuple[list[SensorSpec], bool]:
    """The sensors of group ``target`` (True) or else of asset ``target`` (False); ReportError if none."""
    group = registry.sensors_of_group(target)
    if group:
        return group, True
    asset = registry.sensors_of_asset(target)
    if asset:
        return asset, False
    raise ReportError(f"{target!r} is neither an asset nor a group in the registry ({registry.source})")


def _ms(value: Any) -> int:
    assert isinstance(value, datetime)
    return datetime_to_ms(value if value.tzinfo else value.replace(tzinfo=UTC))


def _placeholders(values: list[str]) -> str:
    return ", ".join(["%s"] * len(values))


def _threshold_lines(sensor: SensorSpec) -> tuple[tuple[float, str], ...]:
    t = sensor.thresholds
    names = [n for n in ("t3", "t2", "t1") if n in t]
    if sensor.kind in RATIO_KINDS and sensor.design_value:
        return tuple((t[n] * sensor.design_value, f"{n} ({t[n]:g}×设计值)") for n in names)
    return tuple((t[n], n) for n in names)


def load_report_data(db: QuestDB, registry: Registry, target: str, period: Period) -> ReportData:
    """Query the three tables for ``target`` over ``period``."""
    sensors, is_group = sensors_for(registry, target)
    ids = [s.sensor_id for s in sensors]
    span = [ms_to_datetime(period.start_ms), ms_to_datetime(period.end_ms)]
    where = f"sensor_id IN ({_placeholders(ids)}) AND ts >= %s AND ts < %s"
    readings, stats, alerts_t = db.table("readings"), db.table("sensor_stats"), db.table("alert_events")
    count_sql = f"SELECT sensor_id, count() FROM {readings} WHERE {where} GROUP BY sensor_id"  # noqa: S608
    counts = {str(r[0]): int(r[1]) for r in db.query(count_sql, [*ids, *span]).rows}
    by_window: dict[str, dict[int, tuple[float, float, float]]] = defaultdict(dict)
    stat_sql = (f"SELECT sensor_id, window_s, sum(count) n, min(min) lo, max(max) hi, sum(mean * count) s "  # noqa: S608
                f"FROM {stats} WHERE {where} GROUP BY sensor_id, window_s")  # fmt: skip
    for sid, window_s, n, lo, hi, total in db.query(stat_sql, [*ids, *span]).rows:
        if n:
            by_window[str(sid)][int(window_s)] = (float(total) / float(n), float(lo), float(hi))
    summaries = []
    for s in sensors:
        windows = by_window.get(s.sensor_id, {})
        mean, lo, hi = windows[min(windows)] if windows else (None, None, None)
        expected = round(period.seconds / s.interval_s) if s.interval_s > 0 else 0
        summaries.append(SensorSummary(s, counts.get(s.sensor_id, 0), expected, mean, lo, hi))
    return ReportData(
        target=target, is_group=is_group, owner=sensors[0].owner, district=sensors[0].district, period=period,
        sensors=tuple(summaries), alerts=_alerts(db, alerts_t, sensors, target, span),
        charts=_charts(db, readings, sensors, span), generated_ms=datetime_to_ms(datetime.now(UTC)),
    )  # fmt: skip


def _alerts(
    db: QuestDB, table: str, sensors: list[SensorSpec], target: str, span: list[datetime]
) -> tuple[AlertSummary, ...]:
    assets = sorted({s.asset_id for s in sensors} | {target})
    sql = (f"SELECT alert_id, event, tier, kind, sensor_ids, evidence, ts FROM {table} "  # noqa: S608 (fixed names)
           f"WHERE asset_id IN ({_placeholders(assets)}) AND ts >= %s AND ts < %s ORDER BY ts")  # fmt: skip
    found: dict[str, AlertSummary] = {}
    for alert_id, event, tier, kind, sensor_ids, evidence, ts in db.query(sql, [*assets, *span]).rows:
        key, at = str(alert_id), _ms(ts)
        known = found.get(key)
        ids = tuple(x for x in str(sensor_ids or "").split(",") if x)
        found[key] = AlertSummary(
            alert_id=key, kind=str(kind), tier=int(tier), max_tier=min(int(tier), known.max_tier if known else 3),
            opened_ms=known.opened_ms if known else at, last_event=str(event), last_ms=at,
            sensor_ids=ids or (known.sensor_ids if known else ()), evidence=str(evidence) if event in (
                "opened", "escalated") or known is None else known.evidence,
        )  # fmt: skip
    return tuple(sorted(found.values(), key=lambda a: (a.max_tier, a.opened_ms)))


def _charts(db: QuestDB, table: str, sensors: list[SensorSpec], span: list[datetime]) -> tuple[ChartSeries, ...]:
    picked: list[SensorSpec] = []
    for kind in KEY_KINDS:
        first = next((s for s in sensors if s.kind is kind), None)
        if first is not None and len(picked) < MAX_CHARTS:
            picked.append(first)
    out = []
    for s in picked:
        sql = (f"SELECT ts, avg(value), min(value), max(value) FROM {table} "  # noqa: S608 (fixed names)
               "WHERE sensor_id = %s AND ts >= %s AND ts < %s SAMPLE BY 1h ALIGN TO CALENDAR")  # fmt: skip
        rows = sorted(db.query(sql, [s.sensor_id, *span]).rows, key=lambda r: _ms(r[0]))
        out.append(ChartSeries(s, tuple(_ms(r[0]) for r in rows), tuple(float(r[1]) for r in rows),
                               tuple(float(r[2]) for r in rows), tuple(float(r[3]) for r in rows),
                               _threshold_lines(s)))  # fmt: skip
    return tuple(out)
