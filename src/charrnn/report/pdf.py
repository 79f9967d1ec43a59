"""Notebook -> PDF: nbconvert HTML without code, printed by headless Chromium.

Route (see ../shared/TOOLCHAIN.md): ``HTMLExporter`` with the ``print`` template (A4 page, long
lines wrapped), inputs and prompts hidden, MathJax from Debian's ``libjs-mathjax`` (a CDN cannot be
reached); then ``chromium --headless --print-to-pdf`` with ``--virtual-time-budget`` so MathJax
finishes before printing. Both outputs are written to a temporary name and renamed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..util.files import write_text

__all__ = ["MATHJAX_URL", "find_chromium", "notebook_to_html", "html_to_pdf", "notebook_to_pdf"]

MATHJAX_FILE = Path("/usr/share/javascript/mathjax/MathJax.js")
MATHJAX_URL = f"file://{MATHJAX_FILE}?config=TeX-AMS_CHTML-full,Safe"
TEMPLATES = Path(__file__).parent / "templates"


def find_chromium() -> str:
    """Path of a Chromium executable; ``RuntimeError`` naming the fix if there is none."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError("Chromium is needed to print the report: "
                       "apt-get install --no-install-recommends chromium (or run `make setup`)")


def notebook_to_html(ipynb, html, title: str = "DD2424 Assignment 4: a character-level RNN"
                     ) -> Path:
    """Convert an executed notebook to print-ready HTML without code cells; ``title`` becomes
    the page title (and so the PDF's title)."""
    import nbformat  # noqa: PLC0415 (nbconvert: only the pdf command needs it)
    from nbconvert import HTMLExporter  # noqa: PLC0415 (nbconvert: only the pdf command needs it)

    if not MATHJAX_FILE.is_file():
        raise RuntimeError(f"MathJax not found at {MATHJAX_FILE}: apt-get install libjs-mathjax "
                           "(or run `make setup`)")
    nb = nbformat.read(os.fspath(ipynb), as_version=4)
    exporter = HTMLExporter(template_name="print", extra_template_basedirs=[str(TEMPLATES)],
                            exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, mathjax_url=MATHJAX_URL)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})

    write_text(html, body)
    return Path(html)


def html_to_pdf(html, pdf, budget_ms: int = 15000, timeout_s: float = 120) -> Path:
    """Print ``html`` to ``pdf`` with headless Chromium (A4, no header/footer)."""
    chromium = find_chromium()
    pdf = Path(pdf)
    pdf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="charrnn-chromium-") as profile:
        tmp = pdf.with_name(f".{pdf.name}.{os.getpid()}.tmp")
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-pdf-header-footer", f"--virtual-time-budget={budget_ms}",
               f"--user-data-dir={profile}", f"--print-to-pdf={tmp}",
               Path(html).resolve().as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        if proc.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            tmp.unlink(missing_ok=True)
            raise RuntimeError(f"chromium failed to print {html} (exit {proc.returncode}): "
                               + proc.stderr.strip()[-800:])
        os.replace(tmp, pdf)
    return pdf


def notebook_to_pdf(ipynb, pdf, html=None) -> Path:
    """Executed notebook -> HTML -> PDF. The HTML is kept beside the PDF (same name, ``.html``)
    unless ``html`` names another path; it is the same report for a browser."""
    pdf = Path(pdf)
    html = Path(html) if html else pdf.with_suffix(".html")
    notebook_to_html(ipynb, html)
    return html_to_pdf(html, pdf)
