"""The read-only QuestDB user's password: configured, or generated once into the state folder."""

from __future__ import annotations

import stat
from pathlib import Path

from lifeline.connectors.readonly import SECRET_FILE, readonly_credentials, readonly_password
from lifeline.settings import Settings


def test_generated_once_private_and_stable(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    first = readonly_password(settings)
    assert len(first) >= 20 and first not in ("quest", "")
    assert readonly_password(settings) == first
    assert stat.S_IMODE((tmp_path / SECRET_FILE).stat().st_mode) == 0o600
    assert readonly_credentials(settings) == ("analyst", first)


def test_configured_password_wins(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, questdb_readonly_password="s3cret-given", questdb_readonly_user="bi")
    assert readonly_credentials(settings) == ("bi", "s3cret-given")
    assert not (tmp_path / SECRET_FILE).exists()
