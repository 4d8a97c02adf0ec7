"""Comparable digests of what a flow run produced, and the differences between two of them.

* every QuestDB table of the run (:data:`lifeline.schema.TABLES`): its row count and a SHA-256 over
  all its columns, rows sorted by their dedup keys (the designated timestamp first, then the whole
  row), plus the same per hour of ``ts`` so a difference can be located;
* the alerts topic: the set of ``(alert_id, event, ts, tier)`` and how many messages repeat one;
* the DLQ topic: the set of messages (each is a whole reject, with partition and offset) and repeats.

Floats are hashed at 12 significant digits: window statistics summed over differently split
batches may differ in the last bits of a double, which is not a difference anybody could see.
When a table's hash differs, :func:`table_differences` compares the two tables row by row (by
dedup key, floats within a relative 1e-9) and names the missing, extra and changed rows.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from lifeline.codec import decode_alert_event
from lifeline.connectors.kafka import read_to_end
from lifeline.connectors.questdb import QuestDB
from lifeline.schema import TABLES, Table
from lifeline.settings import Settings

__all__ = [
    "RunDigest",
    "TableDigest",
    "TopicDigest",
    "compare_runs",
    "digest_run",
    "questdb_digest",
    "table_differences",
]

AlertKey = tuple[str, str, int, int]
_HOUR_US = 3_600_000_000


@dataclass(frozen=True)
class TableDigest:
    """Row count and content hash of one table, overall and per hour of ``ts``."""

    rows: int
    sha256: str
    hours: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicDigest:
    """The distinct keys of a topic's messages, how many messages it holds, how many repeat a key."""

    keys: frozenset[Any]
    messages: int

    @property
    def duplicates(self) -> int:
        """Messages beyond the first of each key (at-least-once delivery after a crash)."""
        return self.messages - len(self.keys)


@dataclass(frozen=True)
class RunDigest:
    """Everything a run produced, comparable with another run of the same input."""

    tables: dict[str, TableDigest]
    alerts: TopicDigest
    dlq: TopicDigest


def digest_run(settings: Settings) -> RunDigest:
    """Digest the QuestDB tables and the alerts and DLQ topics named by ``settings``."""
    return RunDigest(questdb_digest(settings), alerts_digest(settings), dlq_digest(settings))


def questdb_digest(settings: Settings) -> dict[str, TableDigest]:
    """A :class:`TableDigest` of every project table (after all committed WAL is applied)."""
    with QuestDB(settings) as db:
        for table in TABLES:
            db.wait_for_wal(table.name, timeout_s=120)
    return {table.name: _table_digest(settings, table) for table in TABLES}


def alerts_digest(settings: Settings) -> TopicDigest:
    """The alerts topic as a set of ``(alert_id, event, ts, tier)`` with its message count."""
    events = [decode_alert_event(v) for v in read_to_end(settings, settings.alerts_topic, timeout_s=120)]
    keys: list[AlertKey] = [(e.alert_id, e.event.value, e.ts, int(e.tier)) for e in events]
    return TopicDigest(frozenset(keys), len(keys))


def dlq_digest(settings: Settings) -> TopicDigest:
    """The DLQ topic as a set of message values (each names its input's partition and offset)."""
    values = read_to_end(settings, settings.dlq_topic, timeout_s=120)
    return TopicDigest(frozenset(values), len(values))


def compare_runs(
    reference: RunDigest, candidate: RunDigest, *, reference_settings: Settings, candidate_settings: Settings
) -> list[str]:
    """Every difference between two runs of the same input; empty when they are equal.

    Duplicated Kafka messages are not differences (the sinks are at-least-once); the caller
    reports ``candidate.alerts.duplicates`` and ``candidate.dlq.duplicates`` as figures.
    """
    problems: list[str] = []
    for name, expected in reference.tables.items():
        got = candidate.tables[name]
        if got.rows == expected.rows and got.sha256 == expected.sha256:
            continue
        rows = table_differences(reference_settings, candidate_settings, _table(name))
        if rows:
            hours = sorted(
                h for h in expected.hours.keys() | got.hours.keys() if expected.hours.get(h) != got.hours.get(h)
            )
            problems.append(
                f"table {name}: {got.rows:,} rows (reference {expected.rows:,}); {'; '.join(rows)}; "
                f"hours that differ: {len(hours)} (first {hours[:3]})"
            )
    problems += _topic_problems("alerts", reference.alerts, candidate.alerts)
    problems += _topic_problems("dlq", reference.dlq, candidate.dlq)
    return problems


def _topic_problems(name: str, expected: TopicDigest, got: TopicDigest) -> list[str]:
    missing, extra = expected.keys - got.keys, got.keys - expected.keys
    if not missing and not extra:
        return []
    return [
        f"topic {name}: {len(missing)} missing (e.g. {_sample(missing)}), {len(extra)} extra (e.g. {_sample(extra)})"
    ]


def _sample(keys: frozenset[Any]) -> list[Any]:
    return sorted(keys, key=repr)[:2]


def _table(name: str) -> Table:
    return next(t for t in TABLES if t.name == name)


def _table_digest(settings: Settings, table: Table) -> TableDigest:
    """Hash every row of ``table`` in dedup-key order, overall and per hour."""
    total = hashlib.sha256()
    hours: dict[str, tuple[int, Any]] = {}
    count = 0
    for ts, lines in _rows_by_ts(settings, table):
        block = b"".join(lines)
        total.update(block)
        count += len(lines)
        hour = _hour(ts)
        n, h = hours.get(hour, (0, hashlib.sha256()))
        h.update(block)
        hours[hour] = (n + len(lines), h)
    return TableDigest(count, total.hexdigest(), {k: (n, h.hexdigest()) for k, (n, h) in hours.items()})


def _rows_by_ts(settings: Settings, table: Table) -> Iterator[tuple[Any, list[bytes]]]:
    """Each ``ts`` in order with its rows as normalised lines (``ts`` last), sorted.

    Sorting within one timestamp here, not by SYMBOL columns in SQL, keeps the order independent of
    the order in which each run happened to create its symbols.
    """
    columns = [c for c in table.column_names if c != table.timestamp] + [table.timestamp]
    name = settings.questdb_table_prefix + table.name
    sql = f"SELECT {', '.join(columns)} FROM {name} ORDER BY {table.timestamp}"  # noqa: S608 (schema names)
    same_ts: list[bytes] = []
    current: Any = None
    for row in _stream(settings, sql):
        ts = row[-1]
        if ts != current:
            if same_ts:
                yield current, sorted(same_ts)
            same_ts = []
            current = ts
        same_ts.append(_normalised(row).encode())
    if same_ts:
        yield current, sorted(same_ts)


def _stream(settings: Settings, sql: str, *, chunk: int = 50_000) -> Iterator[tuple[Any, ...]]:
    """Rows of a query over PG-wire, converted ``chunk`` rows at a time (far faster than row by row)."""
    s = settings
    user, password = s.questdb_credentials()
    with psycopg.connect(
        host=s.questdb_host, port=s.questdb_pg_port, user=user, password=password,
        dbname="qdb", autocommit=True,
    ) as conn, conn.cursor() as cursor:  # fmt: skip
        cursor.execute(sql.encode())
        while rows := cursor.fetchmany(chunk):
            yield from rows


def _normalised(row: tuple[Any, ...]) -> str:
    return "\x1f".join([_TEXT.get(type(v), str)(v) for v in row]) + "\n"


def _float_text(value: float) -> str:
    # 12 significant digits; + 0.0 makes -0.0 and 0.0 alike; NaN prints as "nan"
    return format(value + 0.0, ".12g")


_TEXT: dict[type, Callable[[Any], str]] = {
    float: _float_text,
    datetime: datetime.isoformat,
    type(None): lambda _none: "\x00",
}


def _hour(ts: Any) -> str:
    return ts.strftime("%Y-%m-%dT%H") if isinstance(ts, datetime) else str(ts)


def table_differences(reference: Settings, candidate: Settings, table: Table, *, rel_tol: float = 1e-9) -> list[str]:
    """Rows of ``table`` missing, extra or changed (beyond ``rel_tol`` for floats) between two runs.

    Empty when the tables agree within the tolerance. Loads both tables; use after a digest differed.
    """
    expected, got = _keyed_rows(reference, table), _keyed_rows(candidate, table)
    missing = sorted(expected.keys() - got.keys(), key=repr)
    extra = sorted(got.keys() - expected.keys(), key=repr)
    changed = sorted((k for k in expected.keys() & got.keys() if not _close(expected[k], got[k], rel_tol)), key=repr)
    out = []
    if missing:
        out.append(f"{len(missing)} missing, e.g. {missing[:2]}")
    if extra:
        out.append(f"{len(extra)} extra, e.g. {extra[:2]}")
    if changed:
        out.append(f"{len(changed)} changed, e.g. {changed[0]}: {expected[changed[0]]} → {got[changed[0]]}")
    return out


def _keyed_rows(settings: Settings, table: Table) -> dict[tuple[str, ...], tuple[Any, ...]]:
    name = settings.questdb_table_prefix + table.name
    keys = table.dedup_keys
    sql = f"SELECT {', '.join(keys + table.column_names)} FROM {name}"  # noqa: S608 (schema names)
    return {
        tuple(_TEXT.get(type(v), str)(v) for v in row[: len(keys)]): row[len(keys) :] for row in _stream(settings, sql)
    }


def _close(a: tuple[Any, ...], b: tuple[Any, ...], rel_tol: float) -> bool:
    for x, y in zip(a, b, strict=True):
        if isinstance(x, float) and isinstance(y, float):
            if not (math.isclose(x, y, rel_tol=rel_tol, abs_tol=1e-12) or (math.isnan(x) and math.isnan(y))):
                return False
        elif x != y:
            return False
    return True
