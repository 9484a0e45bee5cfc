"""PDF of a printable page (the committee pack), printed by the headless Chromium the project
installs (``make setup``: Debian's ``/usr/bin/chromium``, as for the screenshots).

Chromium's own ``--print-to-pdf`` prints the page as its print style sheet lays it out
(A4, page breaks, page numbers in the ``@page`` margin boxes): no Python PDF library, and
no playwright, which is a development dependency only. The page is printed from a file,
with every host name resolving to nothing, so printing never reaches the network, and
with a fresh profile folder, so two prints may run side by side (``make -j``).
"""

from __future__ import annotations

import logging
import re
import subprocess
import tempfile
from pathlib import Path

from pipelines.errors import VigieError
from pipelines.io import atomic_path
from pipelines.maps.screenshots import CHROMIUM_ARGS, CHROMIUM_PATH

log = logging.getLogger(__name__)

#: Longest wait for Chromium to print one page, in seconds.
PRINT_TIMEOUT_S = 180
#: A page object of a PDF (``/Type /Page``, not ``/Type /Pages``).
_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


class PdfError(VigieError, RuntimeError):
    """The PDF could not be printed (Chromium missing, failing or silent)."""


def print_pdf(
    html_path: str | Path,
    dst: str | Path,
    *,
    chromium: str | Path = CHROMIUM_PATH,
    timeout_s: float = PRINT_TIMEOUT_S,
) -> Path:
    """Print ``html_path`` to the PDF ``dst`` (atomically) with headless Chromium.

    Parameters
    ----------
    html_path
        A self-contained HTML file (no script is needed: the page is printed once loaded).
    dst
        The PDF to write.
    chromium
        The Chromium executable.
    timeout_s
        Longest wait for the print, in seconds.

    Raises
    ------
    PdfError
        Chromium missing, failing, too slow, or writing something that is not a PDF.
    """
    html_path, dst, chromium = Path(html_path), Path(dst), Path(chromium)
    if not chromium.exists():
        raise PdfError(
            f"{chromium} absent : impossible d'imprimer {dst.name} en PDF. Installez Chromium "
            "(make setup, ou apt-get install chromium)."
        )
    with tempfile.TemporaryDirectory(prefix="vigie-pdf-") as profile, atomic_path(dst) as tmp:
        command = [
            str(chromium), *CHROMIUM_ARGS, f"--user-data-dir={profile}",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--no-pdf-header-footer",
            f"--print-to-pdf={tmp}", html_path.resolve().as_uri(),
        ]  # fmt: skip
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired as err:
            raise PdfError(
                f"{dst} : Chromium n'a pas imprimé la page en {timeout_s:.0f} s."
            ) from err
        head = tmp.read_bytes()[:5] if tmp.exists() else b""
        if done.returncode != 0 or head != b"%PDF-":
            last = (done.stderr.strip().splitlines() or ["aucun message"])[-1]
            raise PdfError(
                f"{dst} : Chromium n'a pas imprimé {html_path.name} "
                f"(code {done.returncode}) : {last}"
            )
    log.info("wrote %s (%d pages)", dst, count_pdf_pages(dst))
    return dst


def count_pdf_pages(path: str | Path) -> int:
    """The number of pages of a PDF, counted from its ``/Type /Page`` objects.

    Written here rather than with a PDF library (none is a dependency): Chromium's PDFs
    keep their object dictionaries uncompressed, one ``/Type /Page`` per page.
    """
    return len(_PAGE.findall(Path(path).read_bytes()))
