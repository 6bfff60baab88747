"""A PDF of each report for circulation: headless Chromium prints the HTML page.

Chromium is Debian's ``chromium`` package (``make browser-deps`` installs it). The page is
printed as it is laid out for print (``@media print`` rules of ``wpeval.css``), without the
browser's own header and footer lines. When no Chromium is installed, no PDF is made and the
report does not link one.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

#: names tried for the browser, in order
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
#: seconds allowed for printing one report
TIMEOUT_S = 120


def browser() -> str | None:
    """Path of a headless-capable Chromium, or None."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def print_pdf(html_path: str | Path, pdf_path: str | Path) -> Path:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium (A4, backgrounds on).

    Raises
    ------
    RuntimeError
        No Chromium, or it failed or wrote no PDF.
    """
    exe = browser()
    if exe is None:
        raise RuntimeError("no chromium found for the PDF (make browser-deps installs it)")
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path).resolve()
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wpeval-pdf-") as profile:
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            "--run-all-compositor-stages-before-draw",
            "--virtual-time-budget=5000",
            f"--print-to-pdf={pdf_path}",
            html_path.as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    if proc.returncode != 0 or not pdf_path.is_file() or pdf_path.stat().st_size < 1000:
        raise RuntimeError(
            f"chromium could not print {html_path.name} to PDF "
            f"(exit {proc.returncode}): {proc.stderr[-500:]}"
        )
    return pdf_path
