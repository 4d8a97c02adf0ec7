"""The credentials of QuestDB's read-only PG-wire user, which the analyst page queries through.

``LIFELINE_QUESTDB_READONLY_USER`` (default ``analyst``) and ``LIFELINE_QUESTDB_READONLY_PASSWORD``. When the
password is empty (the default) the local launcher generates a random one on first start and keeps it in
``<state dir>/questdb-readonly.secret`` (mode 600); the API reads it from there. Set the password
explicitly for a QuestDB the launcher does not start.
"""

from __future__ import annotations

from lifeline.credentials import generated_secret
from lifeline.settings import Settings

__all__ = ["SECRET_FILE", "readonly_credentials", "readonly_password"]

SECRET_FILE = "questdb-readonly.secret"


def readonly_password(settings: Settings) -> str:
    """The configured read-only password, else the launcher's generated one (created on first use)."""
    if settings.questdb_readonly_password:
        return settings.questdb_readonly_password
    return generated_secret(settings.state_dir / SECRET_FILE)


def readonly_credentials(settings: Settings) -> tuple[str, str]:
    """``(user, password)`` of QuestDB's read-only user."""
    return settings.questdb_readonly_user, readonly_password(settings)
