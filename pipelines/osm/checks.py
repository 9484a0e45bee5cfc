"""Files given as a site's OSM extract that are none, or not whole: refused in French
before or after osmium reads them (:mod:`pipelines.osm.reader`), where osmium said
nothing or said it in English."""

from __future__ import annotations

import bz2
import gzip
import re
from pathlib import Path

from pipelines.errors import InputError

#: The first bytes of files given as an OSM extract that are none, and what they are:
#: refused by name, where osmium's words said « XML parsing error at line 1, column 0:
#: not well-formed (invalid token) » or « Unknown top-level element: html ».
_NOT_OSM: tuple[tuple[bytes, str], ...] = (
    (b"{", "du JSON (un GeoJSON des bâtiments ?)"),
    (b"[", "du JSON"),
    (b"<!doctype html", "une page web (HTML)"),
    (b"<html", "une page web (HTML)"),
    (b"sqlite format 3\x00", "une base SQLite (un GeoPackage ?)"),
    (b"pk\x03\x04", "une archive zip"),
)


def refuse_not_osm(path: Path) -> None:
    """Refuse a file whose first bytes are those of another kind (:data:`_NOT_OSM`).

    Raises
    ------
    InputError
        What the file looks like, and what Vigie reads.
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    except OSError:
        return
    for magic, kind in _NOT_OSM:
        if head.startswith(magic):
            raise InputError(
                path,
                f"ce fichier est {kind}, pas un extrait OpenStreetMap : Vigie lit les "
                "bâtiments d'un extrait .osm, .osm.bz2 ou .osm.pbf (export du site "
                "d'OpenStreetMap, d'Overpass ou de Geofabrik).",
            )


#: Bytes read at the end of an XML extract for the remark of an interrupted Overpass
#: query (written after the elements output until then, before ``</osm>``).
_REMARK_TAIL_BYTES = 64 * 1024

_REMARK = re.compile(rb"<remark>\s*(.{0,300}?)\s*</remark>", re.DOTALL)


def refuse_overpass_error(path: Path, fmt: str) -> None:
    """Refuse an XML extract that is Overpass' answer to a query it stopped (time out,
    memory): its elements are those output until then, the others are missing, and only
    a ``<remark> runtime error: … </remark>`` at its end says so (osmium reads past it).
    ``fmt`` is the file's format (:func:`pipelines.osm.reader.osm_file_format`): XML,
    plain or compressed (``osm.bz2``, ``osm.gz``: decompressed again to its end, where
    only plain XML was searched and a compressed answer read as whole); PBF is not XML.

    Raises
    ------
    InputError
        The remark of an error, quoted (Overpass' own words).
    """
    tail = _xml_tail(path, fmt)
    found = _REMARK.search(tail)
    if found is None or b"error" not in found.group(1).lower():
        return
    remark = found.group(1).decode("utf-8", "replace")
    raise InputError(
        path,
        f"cet extrait est la réponse d'Overpass à une requête interrompue (« {remark} ») : "
        "il n'en a que les premiers objets, les autres manquent. Relancez la requête avec "
        "un délai plus long ([timeout:…]) ou sur une emprise plus petite.",
    )


def _xml_tail(path: Path, fmt: str) -> bytes:
    """The last :data:`_REMARK_TAIL_BYTES` bytes of an XML extract, decompressed when
    ``fmt`` is ``osm.bz2`` or ``osm.gz`` (read through to the end: a compressed stream
    cannot be entered at its end); empty for another format or an unreadable stream."""
    if fmt == "osm":
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - _REMARK_TAIL_BYTES))
            return fh.read()
    if fmt not in ("osm.bz2", "osm.gz"):
        return b""
    tail = b""
    try:
        stream: bz2.BZ2File | gzip.GzipFile = (
            bz2.BZ2File(path) if fmt == "osm.bz2" else gzip.GzipFile(path)
        )
        with stream:
            while block := stream.read(1 << 20):
                tail = (tail + block)[-_REMARK_TAIL_BYTES:]
    except (OSError, EOFError):  # osmium read it; a damaged end is its business
        return tail
    return tail
