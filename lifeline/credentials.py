"""Secrets the local launcher generates once and keeps in the state folder (mode 600).

The launcher starts QuestDB with credentials that are not its well-known defaults; every component of the
project that talks to that QuestDB reads the same files, so they need no configuration on one host.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["generated_secret"]


def generated_secret(path: Path) -> str:
    """The secret kept in ``path``, created with a random value (mode 600) on first use.

    Safe when several processes start at once: the first creator wins and the others read its value.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it just now
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(secrets.token_urlsafe(18))
    return path.read_text(encoding="utf-8").strip()
