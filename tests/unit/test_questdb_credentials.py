"""QuestDB's admin credentials: generated once per state folder unless configured, and in every client conf."""

from __future__ import annotations

import stat
from pathlib import Path

from lifeline.settings import QUESTDB_SECRET_FILE, Settings


def test_an_empty_password_means_a_generated_secret_kept_in_the_state_folder(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    user, password = settings.questdb_credentials()
    assert user == "admin"
    assert password not in ("", "quest")  # never QuestDB's well-known default
    secret = tmp_path / QUESTDB_SECRET_FILE
    assert secret.read_text(encoding="utf-8").strip() == password
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert Settings(state_dir=tmp_path).questdb_credentials() == (user, password)  # stable across processes


def test_a_configured_password_is_used_and_escaped_in_the_ilp_conf(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, questdb_user="ops", questdb_password="a;b")
    assert settings.questdb_credentials() == ("ops", "a;b")
    assert settings.questdb_ilp_conf == "http::addr=127.0.0.1:9000;username=ops;password=a;;b;"
    assert not (tmp_path / QUESTDB_SECRET_FILE).exists()
