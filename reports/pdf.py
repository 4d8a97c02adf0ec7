"""HTML → PDF through the system Chromium, headless, with a fresh profile each time.

Chromium is found as ``LIFELINE_CHROMIUM`` (a path) or ``chromium`` / ``chromium-browser`` /
``google-chrome`` on ``PATH``. On Debian or Ubuntu install it with ``apt-get install -y chromium`` (and
``fonts-noto-cjk`` for Chinese text); without it ``lifeline report --no-pdf`` still writes the HTML.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from lifeline.reports.exceptions import PdfError

__all__ = ["chromium_path", "html_to_pdf"]

INSTALL_HINT = "install it with `apt-get install -y chromium fonts-noto-cjk` (Debian/Ubuntu) or set LIFELINE_CHROMIUM"


def chromium_path() -> str:
    """The Chromium executable; :class:`PdfError` naming what to install when there is none."""
    configured = os.environ.get("LIFELINE_CHROMIUM")
    if configured:
        if not Path(configured).is_file():
            raise PdfError(f"LIFELINE_CHROMIUM={configured} does not exist; {INSTALL_HINT}")
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise PdfError(f"Chromium was not found for the PDF; {INSTALL_HINT}")


def html_to_pdf(html_path: Path, pdf_path: Path, *, timeout_s: float = 120.0) -> Path:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium; :class:`PdfError` on failure."""
    with tempfile.TemporaryDirectory(prefix="lifeline-chromium-") as profile:
        argv = [
            chromium_path(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--no-pdf-header-footer", f"--print-to-pdf={pdf_path}",
            html_path.resolve().as_uri(),
        ]  # fmt: skip
        try:
            done = subprocess.run(argv, capture_output=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium did not finish printing {html_path} within {timeout_s:g} s") from None
    if done.returncode != 0 or not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        tail = done.stderr.decode(errors="replace")[-500:]
        raise PdfError(f"Chromium failed to print {html_path} (exit {done.returncode}): {tail}")
    return pdf_path
