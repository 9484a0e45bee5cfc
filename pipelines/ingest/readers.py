"""Readers for the formats residents' reports come in: which format a file is
(:func:`detect_format`), and :func:`read_file`, which checks it is a readable table and
dispatches to its reader.

Every reader returns a :class:`RawFile`: all cells as strings (empty string for an empty
cell), the 1-based line of each row in the file (header = line 1; the feature index for
GeoJSON and JSON), and the rows that could not be split into the header's columns.

Formats: CSV (any of UTF-8, UTF-8 with BOM, UTF-16 with BOM, cp1252, latin-1; ``,`` ``;``
tab or ``|``; any line endings; :mod:`pipelines.ingest.csvfile`), KoboToolbox and ODK
Central CSV, XLSX (:mod:`pipelines.ingest.xlsx`), GeoJSON and Open311 GeoReport v2
service requests (:mod:`pipelines.ingest.jsonfile`). The values are parsed later, by
:mod:`pipelines.ingest.values`.
"""

from __future__ import annotations

import csv
import errno
import logging
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

from pipelines.errors import InputError
from pipelines.ingest.csvfile import read_csv
from pipelines.ingest.filekind import binary_kind
from pipelines.ingest.jsonfile import read_geojson, read_open311, too_deep
from pipelines.ingest.rawfile import Malformed, RawFile
from pipelines.ingest.xlsx import read_xlsx, workbook_sheets

log = logging.getLogger(__name__)

__all__ = [
    "CATEGORY_FALLBACK",
    "FORMAT_DEFAULTS",
    "FORMAT_PERSONAL",
    "Malformed",
    "NotATableError",
    "RawFile",
    "detect_format",
    "read_file",
    "workbook_sheets",
]


#: Columns a format provides when the configuration does not name them (role -> column,
#: candidates in order of preference).
FORMAT_DEFAULTS: dict[str, dict[str, tuple[str, ...]]] = {
    "kobo": {
        "id": ("_uuid", "_id", "meta/instanceID"),
        "date": ("_submission_time", "end", "start"),
        "geo_point": ("_geolocation",),
    },
    # ODK Central's CSV export: KEY is the submission's uuid, SubmissionDate is UTC with
    # a "Z"; a geopoint is split into <group>-<field>-Latitude, -Longitude (found by
    # suffix, like Kobo's), or kept whole as "lat lon altitude accuracy".
    "odk": {
        "id": ("KEY", "meta-instanceID", "instanceID"),
        "date": ("SubmissionDate", "end", "start"),
    },
    "open311": {
        "id": ("service_request_id", "token"),
        "date": ("requested_datetime",),
        "category": ("service_code",),
        "subcategory": ("service_name",),
        "description": ("description",),
        "address": ("address",),
        "lat": ("lat",),
        "lon": ("long", "lon"),
        "status": ("status",),
        "closed_at": ("__closed_at",),
        "channel": ("agency_responsible",),
    },
    "geojson": {"lat": ("__lat",), "lon": ("__lon",)},
}


#: Columns a format always holds about people (who submitted, from which device): as
#: personal as the ones the configuration declares.
FORMAT_PERSONAL: dict[str, tuple[str, ...]] = {
    "kobo": ("_submitted_by", "username", "deviceid", "phonenumber", "simserial", "subscriberid"),
    "odk": ("SubmitterID", "SubmitterName", "DeviceID", "deviceid", "username", "phonenumber"),
}


#: Extra label column tried when the category column's label is unknown (Open311 names).
CATEGORY_FALLBACK: dict[str, str] = {"open311": "service_name"}


def detect_format(path: Path, declared: str) -> str:
    """The format of ``path``: the declared one, else guessed from the extension (and,
    for ``.json``, from the first bytes). KoboToolbox and ODK Central CSV exports are
    recognised after reading, by their columns."""
    if declared != "auto":
        return declared
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".ods"):  # an .ods is named as such by read_xlsx
        return "xlsx"
    if suffix == ".geojson":
        return "geojson"
    if suffix == ".json":
        with path.open("rb") as fh:
            head = fh.read(4096)
        return "geojson" if b"FeatureCollection" in head or b'"Feature"' in head else "open311"
    return "csv"


def read_file(
    path: Path,
    fmt: str,
    *,
    encoding: str | None = None,
    separator: str | None = None,
    sheet: str | None = None,
    labels: Callable[[str], bool] | None = None,
    personal: Callable[[str], bool] | None = None,
) -> RawFile:
    """Read one file of a source in the format declared (``auto``: detected).

    ``labels(name)``: which CSV columns hold labels; ``personal(name)``: which CSV
    columns hold personal data, not read when they need not be (see
    :func:`pipelines.ingest.csvfile.read_csv`).

    Raises
    ------
    OSError
        The file cannot be opened (missing, a folder, no permission).
    InputError
        The file cannot be parsed at all (invalid JSON, corrupt workbook…).
    """
    _check_regular_file(path)
    detected = detect_format(path, fmt)
    if detected in ("csv", "kobo", "odk"):
        _check_not_binary(path)
        try:
            raw = read_csv(
                path, encoding=encoding, separator=separator, labels=labels, personal=personal
            )
        except csv.Error:  # a carriage return inside a field of a binary file's first line
            raise not_csv_error(path) from None
        _check_table_like(raw)
        raw.format = delimited_format(raw.columns, detected, fmt)
        return raw
    if detected == "xlsx":
        return read_xlsx(path, sheet=sheet)
    try:
        if detected == "geojson":
            return read_geojson(path, encoding=encoding)
        if detected == "open311":
            return read_open311(path, encoding=encoding)
    except RecursionError as err:  # a value nested deep inside a feature or a request
        raise too_deep(path) from err
    raise InputError(path, f"format « {fmt} » inconnu.")


def not_csv_error(path: Path) -> InputError:
    """A file given as CSV that Python's ``csv`` module cannot read as a table."""
    return InputError(
        path,
        "ce fichier ne ressemble pas à un fichier texte CSV (illisible comme tableau) : "
        "vérifiez le chemin et le format de la source.",
    )


def delimited_format(columns: list[str], detected: str, fmt: str) -> str:
    """A delimited file's format: KoboToolbox or ODK Central when declared so, or when
    ``auto`` and its ``columns`` are theirs; else plain ``csv``."""
    names = set(columns)
    kobo_columns = {"_uuid", "_submission_time"} <= names
    odk_columns = "SubmissionDate" in names and bool({"KEY", "meta-instanceID"} & names)
    if detected == "kobo" or (fmt == "auto" and kobo_columns):
        return "kobo"
    if detected == "odk" or (fmt == "auto" and odk_columns):
        return "odk"
    return "csv"


def _check_regular_file(path: Path) -> None:
    """Refuse what is not a regular file before opening it: reading a named pipe (FIFO)
    waits for a writer forever, and a device (``/dev/zero``) never ends.

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        As opening it would (the caller reports them as file issues).
    InputError
        A named pipe, a device or a socket.
    """
    mode = path.stat().st_mode  # follows symbolic links, as opening would
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if not stat.S_ISREG(mode):
        kind = (
            "un tube nommé (FIFO)"
            if stat.S_ISFIFO(mode)
            else "un périphérique"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "une socket"
            if stat.S_ISSOCK(mode)
            else "un fichier spécial"
        )
        raise InputError(
            path,
            f"ce n'est pas un fichier ordinaire mais {kind} : Vigie ne lit que des fichiers "
            "de données ; vérifiez le chemin de la source.",
        )


def _check_not_binary(path: Path) -> None:
    """Refuse a file given as delimited text whose first bytes are those of a
    compressed file, an archive or a binary document
    (:func:`~pipelines.ingest.filekind.binary_kind`); the message says what it looks
    like, never quoting its content.

    Raises
    ------
    InputError
        The file is binary or compressed.
    """
    with path.open("rb") as fh:
        head = fh.read(16)
    kind = binary_kind(head)
    if kind is not None:
        raise InputError(
            path,
            f"fichier binaire ou compressé ({kind}), pas un fichier texte CSV : "
            "décompressez-le ou exportez-le en CSV, et vérifiez le chemin et le format "
            "de la source.",
        )


#: C0 control characters other than tab: a header holding them is not text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
#: What a header is written with: letters of any script, digits, spaces, punctuation.
_HEADER_CHARACTER = re.compile(r"[\w\s.,;:|'\"()/\[\]#%&*+\-°«»’]")


class NotATableError(InputError):
    """A file given as delimited text that is no table (:func:`_check_table_like`).

    ``reason`` is the message without the advice about the source's configuration (the
    path, the format and ``separator`` in ``sites.toml``), for the readers of files
    that have none: the planners' notes.
    """

    def __init__(self, path: str | Path, reason: str, advice: str) -> None:
        super().__init__(path, f"{reason} : {advice}")
        self.reason = reason


def _check_table_like(raw: RawFile) -> None:
    """Refuse a delimited file that is not a table, saying why when its first line shows
    it: a quote opened there and never closed (the rest of the file read as one name),
    text in an encoding not recognised (UTF-16 or UTF-32 without their mark, EBCDIC…),
    control characters (a binary file), no separator (one column). Such a file may be
    none of the exports meant (a wrong path: a system file, an archive…), so the message
    never quotes its content, which may be anything.

    Raises
    ------
    NotATableError
        The file is not a table.
    """
    if not raw.has_header:
        return
    names = raw.columns
    header = "".join(names)
    check = "vérifiez le chemin et le format de la source."
    if "\x00" in header and header.count("\x00") * 5 >= len(header) * 2:
        # UTF-16 text without its byte order mark: a NUL beside every ASCII letter.
        raise NotATableError(
            raw.path,
            "texte illisible, un caractère nul entre chaque lettre : le fichier est en "
            "UTF-16 ou UTF-32 sans marque d'ordre des octets (BOM) ; enregistrez-le en "
            "« CSV UTF-8 »",
            check,
        )
    if any(_CONTROL.search(name) for name in names):
        raise NotATableError(
            raw.path,
            "ce fichier ne ressemble pas à un fichier texte (caractères de contrôle dans sa "
            "première ligne)",
            check,
        )
    sep = raw.separator or ""
    if any((sep and sep in name) or not raw.table.num_rows for name in raw.names_over_lines):
        # A column name over several lines that holds the separator or left no row
        # under it: the header's quote was never closed, and the lines after it were
        # read into that name (a name written on two lines, quoted, is neither).
        raise NotATableError(
            raw.path,
            "guillemet ouvert et jamais fermé dans la ligne d'en-tête : la suite "
            "du fichier y est lue comme un seul nom de colonne ; fermez ou retirez ce "
            "guillemet",
            check,
        )
    if len(names) < 2:
        if len(_HEADER_CHARACTER.findall(header)) * 2 < len(header):
            raise NotATableError(
                raw.path,
                f"texte illisible dans l'encodage lu ({raw.encoding}) : le fichier n'est ni "
                "en UTF-8, ni en UTF-16 avec marque (BOM), ni en Windows-1252 ou Latin-1 ; "
                "enregistrez-le en « CSV UTF-8 »",
                check,
            )
        shown = {"\t": "tabulation"}.get(sep, sep)
        raise NotATableError(
            raw.path,
            f"une seule colonne lue (séparateur « {shown} ») : ce fichier ne ressemble pas à un "
            "tableau CSV (séparateurs reconnus : « ; », « , », tabulation, « | »)",
            "vérifiez le chemin de la source, son format et, s'il y a lieu, son séparateur "
            "(separator).",
        )
