"""Errors of the service launcher. Each names the fix."""

from __future__ import annotations

from lifeline.exceptions import LifelineError

__all__ = ["PortInUseError", "ServiceError", "ServiceStartError", "ToolMissingError"]


class ServiceError(LifelineError):
    """A local server could not be fetched, started, checked or stopped."""


class ToolMissingError(ServiceError):
    """Java or Maven is missing or too old."""


class PortInUseError(ServiceError):
    """A port we need is taken by a process we did not start."""


class ServiceStartError(ServiceError):
    """A server was started but did not become healthy in time."""
