from pathlib import Path

import pytest

from lifeline.exceptions import SettingsError
from lifeline.schema import TABLES
from lifeline.settings import Settings, describe


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
    with pytest.raises(SettingsError, match="LIFELINE_KAFKA_PORT"):
        Settings()


def test_unknown_setting_in_file_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "conf.toml"
    config.write_text("kafak_port = 1\n", encoding="utf-8")
    monkeypatch.setenv("LIFELINE_CONFIG", str(config))
    with pytest.raises(SettingsError, match="LIFELINE_KAFAK_PORT"):
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


def test_every_invalid_setting_is_reported_at_once_by_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFELINE_KAFKA_PORT", "abc")
    monkeypatch.setenv("LIFELINE_READINGS_PARTITIONS", "0")
    with pytest.raises(SettingsError) as caught:
        Settings()
    message = str(caught.value)
    assert "2 invalid setting(s)" in message
    assert "LIFELINE_KAFKA_PORT" in message and "LIFELINE_READINGS_PARTITIONS" in message


def _config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str) -> None:
    config = tmp_path / "lifeline.toml"
    config.write_text(text, encoding="utf-8")
    monkeypatch.setenv("LIFELINE_CONFIG", str(config))


def test_one_file_configures_every_part_each_in_its_table(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from lifeline.api.settings import ApiSettings
    from lifeline.notify.settings import NotifySettings

    _config(monkeypatch, tmp_path, "kafka_port = 19092\n[api]\nport = 8099\n[notify]\nmax_attempts = 7\n"
                                   "[rules.gas]\nlel_t1 = 45.0\n")  # fmt: skip
    monkeypatch.setenv("LIFELINE_API_WS_QUEUE_SIZE", "77")
    assert Settings().kafka_port == 19092  # the core settings ignore the other parts' tables
    api = ApiSettings()
    assert (api.port, api.ws_queue_size) == (8099, 77)
    assert NotifySettings().max_attempts == 7


def test_an_unknown_key_in_a_part_table_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from lifeline.api.settings import ApiSettings

    _config(monkeypatch, tmp_path, "[api]\nprot = 8099\n")
    with pytest.raises(SettingsError, match="LIFELINE_API_PROT"):
        ApiSettings()


def test_rules_come_from_the_file_table_then_the_rules_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from lifeline.flows.dataflow import make_detectors
    from lifeline.registry import Registry

    rules = tmp_path / "rules.toml"
    rules.write_text("[water]\nburst_drop_mpa = 0.2\n", encoding="utf-8")
    _config(monkeypatch, tmp_path, "[rules.gas]\nlel_t1 = 45.0\n[rules.water]\nburst_drop_mpa = 0.3\n")
    config = make_detectors(Settings(detector_rules_path=rules), Registry([])).config
    assert config.gas.lel_t1 == 45.0
    assert config.water.burst_drop_mpa == 0.2  # the rules file beats the config file
    _config(monkeypatch, tmp_path, "[rules.gas]\nlel_tone = 45.0\n")
    with pytest.raises(SettingsError, match="lel_tone"):
        make_detectors(Settings(), Registry([]))


def test_config_show_says_where_each_value_came_from(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _config(monkeypatch, tmp_path, "kafka_port = 19092\nquestdb_password = 's3cret'\n")
    monkeypatch.setenv("LIFELINE_READINGS_PARTITIONS", "8")
    rows = {row.name: row for row in describe(Settings())}
    assert (rows["kafka_port"].source, rows["kafka_port"].value) == ("file", "19092")
    assert (rows["readings_partitions"].source, rows["readings_partitions"].env) == (
        "env",
        "LIFELINE_READINGS_PARTITIONS",
    )
    assert rows["dlq_topic"].source == "default"
    assert rows["questdb_password"].value == "******"
