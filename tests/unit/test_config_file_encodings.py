"""Configuration files saved by Windows tools: a byte-order mark before UTF-8 (Notepad, Excel's "CSV UTF-8")
is read like plain UTF-8, and a file in another encoding is a clear error of the file, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifeline.api.auth import Principal, Role, load_tokens
from lifeline.detectors.config import load_rules_config
from lifeline.exceptions import SettingsError
from lifeline.notify.routes import RoutesError, load_rules
from lifeline.settings import Settings

BOM = "\ufeff"


def test_a_config_file_with_a_byte_order_mark_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "lifeline.toml"
    config.write_text(BOM + "readings_partitions = 8\n", encoding="utf-8")
    monkeypatch.setenv("LIFELINE_CONFIG", str(config))
    assert Settings().readings_partitions == 8


def test_a_tokens_file_with_a_byte_order_mark_is_read_and_one_in_gbk_is_a_settings_error(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    text = '[[token]]\nname = "燃气"\nrole = "owner"\nowner = "hefei-gas"\nsha256 = "' + "a" * 64 + '"\n'
    path.write_text(BOM + text, encoding="utf-8")
    assert load_tokens(path) == {"a" * 64: Principal("燃气", Role.OWNER, "hefei-gas")}
    path.write_bytes(text.encode("gbk"))
    with pytest.raises(SettingsError, match="not valid UTF-8 TOML"):
        load_tokens(path)


def test_detector_rules_with_a_byte_order_mark_are_read(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(BOM + "[anomaly]\nwarmup_windows = 50\n", encoding="utf-8")
    assert load_rules_config(path).anomaly.warmup_windows == 50


def test_notification_rules_in_gbk_are_a_routes_error(tmp_path: Path) -> None:
    path = tmp_path / "notify.toml"
    path.write_bytes('[contacts.值班]\nwebhook = "http://127.0.0.1:9/x"\n'.encode("gbk"))
    with pytest.raises(RoutesError, match="cannot be read as UTF-8 text"):
        load_rules(path)
