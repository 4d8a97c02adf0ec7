"""Errors of the health reports, all under :class:`~lifeline.exceptions.LifelineError`."""

from __future__ import annotations

from lifeline.exceptions import LifelineError

__all__ = ["PdfError", "ReportError"]


class ReportError(LifelineError):
    """A report cannot be made (unknown asset, bad period); the message says what to fix."""


class PdfError(ReportError):
    """Chromium is missing or failed to print the PDF; the message says what to install or check."""
