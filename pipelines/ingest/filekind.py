"""What a file is, from its first bytes, for the messages of the readers.

A file given as CSV that is an archive or a binary document, a file given as a
workbook that is no zip archive (a password-protected workbook, an Excel 97-2003 one,
a truncated copy) or another zip archive (a LibreOffice .ods spreadsheet), are refused
by name of what they look like, never quoting them.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

#: The first bytes of files that are not text (archives, compressed files, binary
#: documents), and what they are: such a file given as CSV is refused before it is
#: parsed, its bytes would be read as text with line ends anywhere.
BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "un fichier compressé gzip (.gz)"),
    (b"PK\x03\x04", "une archive zip ou un classeur Excel (.zip, .xlsx)"),
    (b"PK\x05\x06", "une archive zip vide"),
    (b"BZh", "un fichier compressé bzip2 (.bz2)"),
    (b"\xfd7zXZ\x00", "un fichier compressé xz (.xz)"),
    (b"(\xb5/\xfd", "un fichier compressé zstd (.zst)"),
    (b"7z\xbc\xaf'\x1c", "une archive 7-Zip (.7z)"),
    (b"Rar!\x1a\x07", "une archive RAR (.rar)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "un ancien classeur Excel (.xls)"),
    (b"%PDF", "un document PDF"),
    (b"PAR1", "un fichier Parquet"),
    (b"SQLite format 3\x00", "une base SQLite"),
)

#: Microsoft's compound file (OLE2): an Excel 97-2003 workbook, or a workbook of any
#: version saved with a password to open it (Excel then wraps the encrypted .xlsx in one).
_COMPOUND_FILE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

#: The stream an encrypted Office Open XML document keeps its content in (MS-OFFCRYPTO),
#: named in UTF-16 in the compound file's directory.
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")


def binary_kind(head: bytes) -> str | None:
    """What a file starting with ``head`` is (:data:`BINARY_MAGIC`), None for text."""
    for magic, kind in BINARY_MAGIC:
        if head.startswith(magic):
            return kind
    return None


def _holds(path: Path, needle: bytes) -> bool:
    """Whether the bytes of ``path`` hold ``needle`` (read in pieces)."""
    tail = b""
    with path.open("rb") as fh:
        while piece := fh.read(2**20):
            if needle in tail + piece:
                return True
            tail = piece[-len(needle) :]
    return False


def not_a_workbook(path: Path) -> str:
    """Why ``path``, given as an XLSX workbook, is none (it is no zip archive), in French:
    what it looks like and what to do, for an :class:`~pipelines.errors.InputError`."""
    with path.open("rb") as fh:
        head = fh.read(16)
    if head.startswith(_COMPOUND_FILE):
        if _holds(path, _ENCRYPTED_PACKAGE):
            return (
                "classeur Excel protégé par un mot de passe (chiffré) : Vigie ne peut pas "
                "le lire ; enregistrez-en une copie sans mot de passe (Fichier > Informations "
                "> Protéger le classeur), ou exportez la feuille en CSV."
            )
        return (
            "ancien classeur Excel 97-2003 (.xls), pas un classeur .xlsx : enregistrez-le "
            "au format .xlsx depuis le tableur, ou exportez la feuille en CSV."
        )
    if head.startswith(b"PK"):
        return (
            "classeur Excel incomplet ou abîmé (son archive zip est illisible, peut-être "
            "tronquée par une copie interrompue) : copiez-le ou exportez-le à nouveau."
        )
    kind = binary_kind(head)
    return (
        f"ce n'est pas un classeur .xlsx mais {kind}"
        if kind
        else "ce n'est pas un classeur .xlsx (pas une archive zip ; un fichier texte, un CSV ?)"
    ) + " : vérifiez le chemin et le format de la source."


def zip_not_xlsx(archive: zipfile.ZipFile) -> str | None:
    """Why a zip archive given as an XLSX workbook is none (it has no
    ``[Content_Types].xml``), in French; None for a workbook. A LibreOffice or
    OpenDocument file is named by its ``mimetype``, where openpyxl said « There is no
    item named '[Content_Types].xml' in the archive »."""
    names = set(archive.namelist())
    if "[Content_Types].xml" in names:
        return None
    mime = ""
    if "mimetype" in names:
        with archive.open("mimetype") as fh:
            mime = fh.read(100).decode("ascii", "replace").strip()
    if mime == "application/vnd.oasis.opendocument.spreadsheet":
        return (
            "classeur LibreOffice ou OpenDocument (.ods), pas un classeur Excel .xlsx : "
            "enregistrez-le au format .xlsx (Fichier > Enregistrer sous, « Excel "
            "2007-365 »), ou exportez la feuille en CSV."
        )
    what = (
        "un document OpenDocument"
        if mime.startswith("application/vnd.oasis")
        else "une archive zip"
    )
    return (
        f"ce n'est pas un classeur .xlsx mais {what} : vérifiez le chemin et le format de "
        "la source, ou exportez la feuille en CSV."
    )
