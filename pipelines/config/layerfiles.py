"""The files a perimeter layer is made of and the formats it may be in.

A layer is one file (GeoPackage, GeoJSON, KML, FlatGeobuf) or, for a Shapefile, the
``.shp`` and the files beside it: ``.shx`` (the index, without which GDAL does not
open it), ``.dbf`` (the fields), ``.prj`` (the coordinate system) and ``.cpg`` (the
encoding of the fields' text).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: The formats a perimeter layer is read in (GDAL through pyogrio), as the errors say.
ACCEPTED_FORMATS_FR = (
    "GeoPackage (.gpkg), GeoJSON (.geojson), Shapefile (.shp, avec ses .shx, .dbf et "
    ".prj à côté), KML (.kml) ou FlatGeobuf (.fgb)"
)
#: The files of a Shapefile beside its ``.shp``, and what each holds (French).
SHAPEFILE_PARTS = {
    ".shx": "l'index des géométries",
    ".dbf": "les champs",
    ".prj": "le système de coordonnées",
    ".cpg": "l'encodage du texte",
}


def _part(path: Path, suffix: str) -> Path | None:
    """The file of ``path``'s Shapefile with ``suffix`` (either case), or ``None``."""
    for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if candidate.is_file():
            return candidate
    return None


def is_shapefile(path: str) -> bool:
    """Whether ``path`` names a Shapefile's ``.shp``."""
    return Path(path).suffix.lower() == ".shp"


def layer_files(path: str) -> list[str]:
    """Every file of the layer at ``path`` that exists: the file itself and, for a
    Shapefile, its parts beside it (a change of its ``.dbf`` is a change of the sites)."""
    if not is_shapefile(path):
        return [path]
    parts = (_part(Path(path), suffix) for suffix in SHAPEFILE_PARTS)
    return [path, *(str(p) for p in parts if p is not None)]


def missing_parts(path: str, suffixes: tuple[str, ...] = (".shx", ".dbf")) -> str:
    """The parts of the Shapefile at ``path`` among ``suffixes`` that are not beside it,
    in French (« son .shx (l'index des géométries) »), or "" (none missing, or no
    Shapefile)."""
    if not is_shapefile(path):
        return ""
    gone = [s for s in suffixes if _part(Path(path), s) is None]
    return " et ".join(f"son {s} ({SHAPEFILE_PARTS[s]})" for s in gone)


def unreadable_fr(path: str) -> str:
    """Why the layer at ``path``, which GDAL does not open, cannot be read, in French."""
    gone = missing_parts(path)
    if gone:
        verb = "manquent" if " et " in gone else "manque"
        return (
            f"Shapefile incomplet : {gone} {verb} à côté de « {Path(path).name} » ; copiez "
            "tous les fichiers du même nom (.shp, .shx, .dbf, .prj), ou donnez la couche "
            "en GeoPackage"
        )
    return f"formats lus : {ACCEPTED_FORMATS_FR}"


def utf8_text_of_shapefile(path: str, values: list[Any]) -> list[Any]:
    """The fields' ``values`` of a Shapefile without ``.cpg``, which GDAL decodes as
    Latin-1, decoded as UTF-8 instead when every text of them is UTF-8 (QGIS writes
    UTF-8; « Cité » read as Latin-1 was « CitÃ© » in every title). Text in Latin-1 with
    accents is almost never valid UTF-8, so it is kept as GDAL read it."""
    if not is_shapefile(path) or _part(Path(path), ".cpg") is not None:
        return values
    out = []
    for column in values:
        cells = list(column)
        try:
            decoded = [
                c.encode("latin-1").decode("utf-8") if isinstance(c, str) else c for c in cells
            ]
        except UnicodeError:
            return values
        out.append(decoded)
    return out
