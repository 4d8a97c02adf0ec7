"""A table created by an older release gains the columns a newer one defines (real QuestDB)."""

from lifeline.connectors.questdb import QuestDB
from lifeline.schema import TABLES, Table
from lifeline.settings import Settings


def test_schema_apply_adds_a_column_missing_from_an_older_table(services: Settings, unique: str) -> None:
    settings = services.with_overrides(questdb_table_prefix=f"mig_{unique.replace('-', '_')}_")
    current = next(t for t in TABLES if t.name == "notifications")
    assert "sent_at" in current.column_names
    older = Table(
        name=current.name,
        columns=tuple(c for c in current.columns if c[0] != "sent_at"),
        timestamp=current.timestamp,
        dedup_keys=current.dedup_keys,
        description=current.description,
    )
    with QuestDB(settings) as db:
        db.exec(older.create_sql(settings.questdb_table_prefix))
        db.create_tables([current])
        name = f"{settings.questdb_table_prefix}notifications"
        columns = {str(r[0]) for r in db.exec(f"SELECT \"column\" FROM table_columns('{name}')").rows}  # noqa: S608
        assert "sent_at" in columns
        assert db.add_missing_columns(current) == []  # a second apply adds nothing
