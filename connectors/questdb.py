"""QuestDB access: schema creation, ILP ingest (questdb client) and SQL queries.

Queries that carry user input go through PG-wire with bound parameters (:meth:`QuestDB.query`);
DDL and fixed statements may use the HTTP ``/exec`` endpoint (:meth:`QuestDB.exec`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
from questdb import Sender, TimestampNanos

from lifeline.connectors.exceptions import QuestDBError
from lifeline.models import AlertEvent
from lifeline.schema import TABLES, Table
from lifeline.settings import Settings

__all__ = [
    "STATS_COLUMNS",
    "QueryResult",
    "QuestDB",
    "newest_stats_ms",
    "parse_exec_body",
    "read_sensor_stats",
    "write_alert_event",
]


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Column names and rows of a query."""

    columns: list[str]
    rows: list[list[Any]]

    def dicts(self) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column name."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def parse_exec_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of an ``/exec`` response body.

    QuestDB writes control characters inside strings (a stored payload with a NUL or a newline) raw,
    which strict JSON forbids, so the body is parsed leniently (``strict=False``); bytes that are not
    UTF-8 are replaced rather than refused.
    """
    try:
        body = json.loads(raw.decode("utf-8", "replace"), strict=False)
    except ValueError as exc:
        raise QuestDBError(f"QuestDB answered with a body that is not JSON: {raw[:200]!r}") from exc
    if not isinstance(body, dict):
        raise QuestDBError(f"QuestDB answered with JSON that is not an object: {raw[:200]!r}")
    return body


def write_alert_event(sender: Sender, table: str, event: AlertEvent) -> None:
    """Add one ``alert_events`` row for ``event`` to ``sender`` (the one place that row is built: the
    flow's sink and the API's acknowledge/resolve both write through it). ``table`` is the real table name
    (:meth:`QuestDB.table`); times are epoch ms in, nanoseconds on the wire."""
    sender.row(
        table,
        symbols={"alert_id": event.alert_id, "event": event.event.value, "lifeline": event.lifeline.value,
                 "kind": event.kind.value, "asset_id": event.asset_id, "owner": event.owner,
                 "district": event.district},
        columns={"tier": int(event.tier), "sensor_ids": ",".join(event.sensor_ids),
                 "started_at": TimestampNanos(event.started_at * 1_000_000), "value": event.value,
                 "score": event.score, "evidence": event.evidence, "actor": event.actor, "comment": event.comment,
                 "location": event.location},
        at=TimestampNanos(event.ts * 1_000_000),
    )  # fmt: skip


class QuestDB:
    """A small client over QuestDB's HTTP and PG-wire interfaces."""

    def __init__(self, settings: Settings, *, timeout_s: float = 30.0) -> None:
        self.settings = settings
        self._http = httpx.Client(
            base_url=settings.questdb_http_url, timeout=timeout_s, auth=settings.questdb_credentials()
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> QuestDB:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def exec(self, sql: str) -> QueryResult:
        """Run one fixed SQL statement over HTTP ``/exec``. Never pass user text here."""
        try:
            response = self._http.get("/exec", params={"query": sql})
        except httpx.HTTPError as exc:
            raise QuestDBError(f"QuestDB at {self.settings.questdb_http_url} is unreachable: {exc}") from exc
        body = parse_exec_body(response.content)
        if response.status_code != 200 or "error" in body:
            raise QuestDBError(f"QuestDB rejected {sql[:200]!r}: {body.get('error', response.text)}")
        columns = [c["name"] for c in body.get("columns", [])]
        return QueryResult(columns, body.get("dataset", []))

    def query(self, sql: str, params: Sequence[Any] = ()) -> QueryResult:
        """Run a parameterised query over PG-wire (``%s`` placeholders)."""
        s = self.settings
        user, password = s.questdb_credentials()
        try:
            with psycopg.connect(
                host=s.questdb_host, port=s.questdb_pg_port, user=user,
                password=password, dbname="qdb", autocommit=True,
            ) as conn, conn.cursor() as cur:  # fmt: skip
                cur.execute(sql.encode(), params)
                columns = [d.name for d in cur.description or []]
                return QueryResult(columns, [list(r) for r in cur.fetchall()])
        except psycopg.Error as exc:
            raise QuestDBError(f"QuestDB query failed: {exc}") from exc

    def table(self, name: str) -> str:
        """The real name of project table ``name`` (with the configured prefix); refuses other names."""
        if name not in {t.name for t in TABLES}:
            raise QuestDBError(f"unknown table {name!r}; known: {', '.join(t.name for t in TABLES)}")
        return self.settings.questdb_table_prefix + name

    def create_tables(self, tables: Sequence[Table] = TABLES) -> None:
        """Create every project table if missing (idempotent)."""
        for table in tables:
            self.exec(table.create_sql(self.settings.questdb_table_prefix))
            self.add_missing_columns(table)

    def add_missing_columns(self, table: Table) -> list[str]:
        """Add the columns a newer release defines to a table an older one created; return their names.

        ``CREATE TABLE IF NOT EXISTS`` leaves an existing table alone, so a column added later (for
        example ``notifications.sent_at``) would be missing on a server that ran an older schema.
        """
        name = self.table(table.name)
        present = {str(row[0]) for row in self.exec(f"SELECT \"column\" FROM table_columns('{name}')").rows}  # noqa: S608
        missing = [(col, sql_type) for col, sql_type in table.columns if col not in present]
        for col, sql_type in missing:
            self.exec(f"ALTER TABLE {name} ADD COLUMN IF NOT EXISTS {col} {sql_type}")
        if missing:  # a WAL table applies the change asynchronously
            self.wait_for_wal(table.name)
        return [col for col, _ in missing]

    def count(self, table: str) -> int:
        """Row count of a project table (name must be one of :data:`lifeline.schema.TABLES`)."""
        return int(self.exec(f"SELECT count() FROM {self.table(table)}").rows[0][0])  # noqa: S608 (validated name)

    def wait_for_wal(self, table: str, timeout_s: float = 30.0) -> None:
        """Wait until every committed WAL transaction of ``table`` is applied (rows visible to SQL)."""
        table = self.table(table)
        deadline = time.monotonic() + timeout_s
        sql = f"SELECT writerTxn, sequencerTxn, suspended FROM wal_tables() WHERE name = '{table}'"  # noqa: S608
        while True:
            rows = self.exec(sql).rows
            if rows and rows[0][2]:
                raise QuestDBError(f"WAL apply is suspended for table {table}; see the QuestDB log")
            if rows and rows[0][0] >= rows[0][1]:
                return
            if time.monotonic() > deadline:
                raise QuestDBError(f"WAL of {table} not applied within {timeout_s} s: {rows}")
            time.sleep(0.05)

    def sender(self, **options: Any) -> Sender:
        """An ILP-over-HTTP sender (use as a context manager; flush explicitly for transactions)."""
        conf = self.settings.questdb_ilp_conf
        extra = "".join(f"{k}={v};" for k, v in options.items())
        return Sender.from_conf(conf + extra)


#: the columns :func:`read_sensor_stats` returns, in this order (``ts`` = window start, epoch ms)
STATS_COLUMNS = ("sensor_id", "ts", "window_s", "count", "mean", "min", "max", "std", "slope_per_h", "last")
_DAY_MS = 86_400_000


def _epoch_ms(value: Any) -> int:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return round(aware.timestamp() * 1000)
    return int(value)


def read_sensor_stats(
    db: QuestDB, since_ms: int, until_ms: int, *, chunk_ms: int = _DAY_MS,
    progress: Callable[[int, int, int], None] | None = None,
) -> Iterator[list[tuple[Any, ...]]]:  # fmt: skip
    """The ``sensor_stats`` rows with ``since_ms <= ts < until_ms``, one list per ``chunk_ms`` of event time
    (oldest chunk first, rows in time order), as tuples in :data:`STATS_COLUMNS` order with ``ts`` in epoch ms.

    ``progress(chunk_end_ms, rows_so_far, until_ms)`` is called after each chunk. Reading by time chunks
    keeps memory to one chunk of query results and lets a warm start report how far it is.
    """
    table = db.table("sensor_stats")
    sql = f"SELECT {', '.join(STATS_COLUMNS)} FROM {table} WHERE ts >= %s AND ts < %s ORDER BY ts"  # noqa: S608
    total = 0
    start = since_ms
    while start < until_ms:
        end = min(start + chunk_ms, until_ms)
        bounds = (datetime.fromtimestamp(start / 1000, tz=UTC), datetime.fromtimestamp(end / 1000, tz=UTC))
        result = db.query(sql, bounds)
        rows = [(r[0], _epoch_ms(r[1]), *r[2:]) for r in result.rows]
        total += len(rows)
        if progress is not None:
            progress(end, total, until_ms)
        yield rows
        start = end


def newest_stats_ms(db: QuestDB) -> int | None:
    """The window start of the newest ``sensor_stats`` row (epoch ms), or ``None`` when the table is empty."""
    rows = db.query(f"SELECT max(ts) FROM {db.table('sensor_stats')}").rows  # noqa: S608 (validated name)
    return _epoch_ms(rows[0][0]) if rows and rows[0][0] is not None else None
