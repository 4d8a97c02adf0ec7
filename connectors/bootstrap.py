"""Create everything the pipeline needs on the servers: Kafka topics and QuestDB tables."""

from __future__ import annotations

from dataclasses import dataclass

from lifeline.connectors.kafka import ensure_topics
from lifeline.connectors.questdb import QuestDB
from lifeline.schema import TABLES
from lifeline.settings import Settings

__all__ = ["SchemaReport", "apply_schema"]


@dataclass(frozen=True, slots=True)
class SchemaReport:
    """What :func:`apply_schema` created (existing topics and tables are left untouched)."""

    topics_created: list[str]
    tables: list[str]


def apply_schema(settings: Settings) -> SchemaReport:
    """Create the topics and tables if they are missing. Safe to run any number of times."""
    created = ensure_topics(settings)
    with QuestDB(settings) as db:
        db.create_tables()
    return SchemaReport(created, [t.name for t in TABLES])
