"""Errors raised by the core package. Every message says what is wrong and what to do."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LifelineError", "MessageError", "RegistryError", "RegistryProblem", "SettingsError"]


class LifelineError(Exception):
    """Base class of every error this project raises on purpose."""


class SettingsError(LifelineError):
    """The configuration (environment or config file) cannot be used."""


class MessageError(LifelineError, ValueError):
    """A wire message could not be decoded. ``reason`` is a short DLQ reason code.

    Also a ``ValueError`` (it is one: a bad value on the wire), so generic handlers still catch it.
    """

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


@dataclass(frozen=True, slots=True)
class RegistryProblem:
    """One problem found in a registry file: where it is and what is wrong."""

    file: str
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.row}: {self.field}: {self.message}"


class RegistryError(LifelineError):
    """A registry file has problems. ``problems`` lists *all* of them, not just the first."""

    def __init__(self, problems: list[RegistryProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"sensor registry rejected: {len(problems)} problem(s)\n{lines}")
