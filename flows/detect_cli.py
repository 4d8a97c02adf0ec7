"""CLI commands of this package (registered on the ``lifeline`` app by :mod:`lifeline.cli`)."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add this package's commands to ``app``. Heavy imports belong inside the command bodies."""
    del app  # no commands yet
