"""REST: read-only SQL over QuestDB for analysts, with saved example queries and CSV/Parquet download.

Only the ``analyst`` and ``admin`` roles may send SQL text, and it runs as QuestDB's **read-only** PG-wire
user (``LIFELINE_QUESTDB_READONLY_USER``; see :mod:`lifeline.connectors.readonly`), so no statement can
write, alter or drop anything whatever the text says. Each query returns at most ``limit`` rows (≤
:data:`MAX_ROWS`; ``truncated`` tells when more existed) and is cancelled after :data:`TIME_LIMIT_S`.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from lifeline.api.auth import Permission, Principal, Role
from lifeline.api.context import ApiContext, Ctx, need
from lifeline.api.exceptions import ForbiddenError, UserInputError
from lifeline.api.export import ExportFormat, export_response
from lifeline.api.views import ErrorOut
from lifeline.connectors.readonly import readonly_credentials

__all__ = ["MAX_ROWS", "TIME_LIMIT_S", "AnalystQuery", "AnalystResult", "Example", "router"]

MAX_ROWS = 10_000
TIME_LIMIT_S = 10.0
_ANALYSTS = frozenset({Role.ANALYST, Role.ADMIN})

router = APIRouter(tags=["analyst"], responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}})
Reader = Annotated[Principal, need(Permission.READ_DATA)]


class AnalystQuery(BaseModel):
    """One SQL statement (QuestDB dialect) and how many rows to return at most."""

    sql: str = Field(min_length=1, max_length=10_000, examples=["SELECT count() FROM alert_events"])
    limit: int = Field(default=1000, ge=1, le=MAX_ROWS)


class AnalystResult(BaseModel):
    """Column names and rows (times as ISO 8601); ``truncated`` when the query had more rows than ``limit``."""

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    elapsed_ms: float


class Example(BaseModel):
    """A saved example query."""

    key: str
    title_zh: str
    title_en: str
    sql: str


def _analyst(principal: Principal) -> Principal:
    if principal.role not in _ANALYSTS:
        raise ForbiddenError(f"role {principal.role.value!r} may not run SQL; the analyst and admin roles may")
    return principal


def _cell(value: Any) -> Any:
    """JSON-ready value; QuestDB's timestamps are UTC (PG-wire sends them without a zone)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return value


def run_readonly(ctx: ApiContext, sql: str, limit: int, time_limit_s: float = TIME_LIMIT_S) -> AnalystResult:
    """Run ``sql`` as the read-only user; cancel it after ``time_limit_s``; at most ``limit`` rows."""
    user, password = readonly_credentials(ctx.settings)
    s = ctx.settings
    started = time.perf_counter()
    try:
        with psycopg.connect(host=s.questdb_host, port=s.questdb_pg_port, user=user, password=password,
                             dbname="qdb", autocommit=True, connect_timeout=10) as conn:  # fmt: skip
            timer = threading.Timer(time_limit_s, conn.cancel)
            timer.start()
            try:
                with conn.cursor() as cur:
                    cur.execute(sql.encode())  # an analyst's own statement, run by the read-only user
                    columns = [d.name for d in cur.description or []]
                    rows = cur.fetchmany(limit + 1) if cur.description else []
            finally:
                timer.cancel()
    except psycopg.errors.QueryCanceled:
        raise UserInputError(f"the query ran longer than {time_limit_s:g} s and was cancelled") from None
    except psycopg.Error as exc:
        raise UserInputError(f"QuestDB refused the query: {str(exc).strip()[:500]}") from None
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    return AnalystResult(columns=columns, rows=[[_cell(v) for v in r] for r in rows[:limit]],
                         truncated=len(rows) > limit, elapsed_ms=elapsed_ms)  # fmt: skip


#: (key, title in Chinese, title in English, statement with ``{table}`` names filled in from the settings)
_EXAMPLES = (
    ("hourly_means", "各传感器小时均值（近 24 小时）", "Hourly mean per sensor (last 24 h)",
     "SELECT ts, sensor_id, avg(value) mean FROM {readings} WHERE ts > dateadd('d', -1, now()) "
     "SAMPLE BY 1h ALIGN TO CALENDAR ORDER BY ts, sensor_id"),
    ("alerts_per_tier_day", "每日各级告警数", "Alerts per tier per day",
     "SELECT ts, tier, count() alerts FROM {alert_events} WHERE event = 'opened' "
     "SAMPLE BY 1d ALIGN TO CALENDAR ORDER BY ts, tier"),
    ("alerts_per_district", "各区域告警数", "Alerts per district",
     "SELECT district, count() alerts FROM {alert_events} WHERE event = 'opened' "
     "GROUP BY district ORDER BY alerts DESC"),
    ("noisy_sensors", "数据异常最多的传感器", "Top noisy sensors (rejected inputs)",
     "SELECT sensor_id, count() rejects FROM {rejects} GROUP BY sensor_id ORDER BY rejects DESC LIMIT 10"),
)  # fmt: skip


def examples(ctx: ApiContext) -> list[Example]:
    """The saved example queries, with the configured table names."""
    tables = {name: ctx.db.table(name) for name in ("readings", "alert_events", "rejects")}
    return [Example(key=key, title_zh=zh, title_en=en, sql=sql.format(**tables)) for key, zh, en, sql in _EXAMPLES]


@router.get("/analyst/examples", response_model=list[Example], summary="Saved example queries")
def example_queries(ctx: Ctx, principal: Reader) -> list[Example]:
    """Example statements for the analyst page (analyst and admin roles)."""
    _analyst(principal)
    return examples(ctx)


@router.post("/analyst/query", response_model=AnalystResult, summary="Read-only SQL (analyst role)",
             responses={400: {"model": ErrorOut, "description": "QuestDB refused it, or it ran too long"}})  # fmt: skip
def analyst_query(ctx: Ctx, principal: Reader, body: AnalystQuery) -> AnalystResult:
    """Run one statement as QuestDB's read-only user: at most ``limit`` rows and ``TIME_LIMIT_S`` seconds."""
    _analyst(principal)
    return run_readonly(ctx, body.sql, body.limit)


@router.post("/analyst/query.{fmt}", summary="Read-only SQL as a CSV or Parquet file", response_class=Response,
             responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}})  # fmt: skip
def analyst_download(ctx: Ctx, principal: Reader, fmt: ExportFormat, body: AnalystQuery) -> Response:
    """The same rows as ``POST /analyst/query``, as a file."""
    _analyst(principal)
    result = run_readonly(ctx, body.sql, body.limit)
    rows = [dict(zip(result.columns, r, strict=True)) for r in result.rows]
    return export_response(rows, result.columns, fmt, "query")
