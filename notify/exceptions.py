"""Errors of the notifier, all under :class:`~lifeline.exceptions.LifelineError`."""

from __future__ import annotations

from lifeline.exceptions import LifelineError

__all__ = ["DeliveryError", "NotifyError", "RoutesError"]


class NotifyError(LifelineError):
    """Base class of the notifier's errors."""


class RoutesError(NotifyError):
    """The routing file (contacts, routes, levels, SMTP) cannot be used; the message names every problem."""


class DeliveryError(NotifyError):
    """A delivery failed. ``retry`` says whether trying again may help."""

    def __init__(self, message: str, *, retry: bool) -> None:
        self.retry = retry
        super().__init__(message)
