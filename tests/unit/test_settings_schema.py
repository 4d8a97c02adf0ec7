from pathlib import Path

import pytest
from pydantic import ValidationError

from lifeline.schema import TABLES
from lifeline.settings import Settings


def test_defaults_work_without_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LIFELINE_CONFIG", raising=False)
    s = Settings()
    assert s.bootstrap_servers == "127.0.0.1:9092"
    assert s.questdb_http_url == "http://127.0.0.1:9000"
    assert s.readings_topic == "lifeline.readings"


def test_environment_overrides_file_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "conf.toml"
    config.write_text("kafka_port = 19092\nquestdb_http_port = 19000\nreadings_partitions = 8\n", encoding="utf-8")
    monkeypatch.setenv("LIFELINE_CONFIG", str(config))
    monkeypatch.setenv("LIFELINE_QUESTDB_HTTP_PORT", "29000")
    s = Settings()
    assert s.kafka_port == 19092
    assert s.readings_partitions == 8
    assert s.questdb_http_port == 29000  # environment beats the file


def test_explicit_bootstrap_wins_and_bad_values_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFELINE_KAFKA_BOOTSTRAP", "kafka-a:9092,kafka-b:9092")
    assert Settings().bootstrap_servers == "kafka-a:9092,kafka-b:9092"
    monkeypatch.setenv("LIFELINE_KAFKA_PORT", "70000")
    with pytest.raises(ValidationError, match="kafka_port"):
        Settings()


def test_unknown_setting_in_file_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "conf.toml"
    config.write_text("kafak_port = 1\n", encoding="utf-8")
    monkeypatch.setenv("LIFELINE_CONFIG", str(config))
    with pytest.raises(ValidationError, match="kafak_port"):
        Settings()


def test_every_table_is_idempotent_wal_and_partitioned() -> None:
    names = [t.name for t in TABLES]
    assert len(names) == len(set(names))
    for table in TABLES:
        sql = table.create_sql()
        assert table.timestamp in table.column_names
        assert table.timestamp in table.dedup_keys
        assert set(table.dedup_keys) <= set(table.column_names)
        assert "WAL DEDUP UPSERT KEYS" in sql
        assert sql.startswith("CREATE TABLE IF NOT EXISTS")
