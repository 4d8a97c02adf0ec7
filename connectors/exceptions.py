"""Errors of the connectors, all under :class:`~lifeline.exceptions.LifelineError`.

The service launcher's own errors are in :mod:`lifeline.connectors.services.exceptions`.
"""

from __future__ import annotations

from lifeline.exceptions import LifelineError

__all__ = ["QuestDBError"]


class QuestDBError(LifelineError):
    """QuestDB refused a statement or could not be reached."""
