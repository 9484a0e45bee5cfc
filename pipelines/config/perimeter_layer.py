"""The portfolio's layer of perimeters read as sites (:func:`read_perimeter_sites`): its
file found and its format told (GeoJSON, GeoPackage, Shapefile, KML:
:func:`perimeter_layer`), each feature's id and name read alike whatever their types,
its text read as UTF-8 where a Shapefile does not say, names shared by two sites told
apart; every problem one French error naming the file and the feature.
:mod:`pipelines.config.portfolio` reads the rest of ``[portfolio]``.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.config.coordinates import (
    crs_mismatch,
    geojson_text_coordinate,
    nonnumeric_coordinate,
    quiet_open_rings,
)
from pipelines.config.layerfiles import missing_parts, unreadable_fr, utf8_text_of_shapefile
from pipelines.config.values import (
    decimal_hint,
    shown_name,
    site_id_problem,
    site_id_text,
    site_name_problem,
)
from pipelines.errors import ConfigError

#: The portfolio's folder under ``processed_dir``: never a site's id.
PORTFOLIO_DIR = "_portfolio"


@dataclass(frozen=True)
class Perimeter:
    """One feature of the perimeter layer: a site."""

    id: str
    name: str
    feature: int  # 1-based, in the layer's order
    bbox: tuple[float, float, float, float]  # west, south, east, north, degrees


def _text_value(value: Any) -> str:
    """A feature's name as text (an integer field without ``.0``); "" when it shows
    nothing (spaces, a zero-width space: the site is then named by its id)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    shown = any(unicodedata.category(c)[0] not in "ZC" for c in text)
    return text if shown else ""


def _not_utf8(
    path: str, layer: str | None, fields: tuple[str, str], where: str, config_path: str
) -> ConfigError:
    """The error of a layer whose text is not UTF-8, naming its first such feature and
    field (read again as Latin-1, where every byte is a character, to find them)."""
    import pyogrio

    _, _, _, values = pyogrio.raw.read(
        path, layer=layer, columns=list(fields), read_geometry=False, encoding="latin-1"
    )
    for n, cells in enumerate(zip(*values, strict=True), start=1):
        for name, cell in zip(fields, cells, strict=True):
            try:
                str(cell).encode("latin-1").decode("utf-8")
            except UnicodeError:
                return ConfigError(
                    config_path,
                    f"« {path} », entité n° {n}, champ « {name} » : texte qui n'est pas en "
                    f"UTF-8 (« {shown_name(str(cell))} » lu en Latin-1) : réenregistrez la "
                    "couche en UTF-8 (un GeoJSON l'est toujours).",
                    key=f"{where}.perimeters",
                )
    return ConfigError(
        config_path,
        f"« {path} » : texte qui n'est pas en UTF-8 ; réenregistrez la couche en UTF-8.",
        key=f"{where}.perimeters",
    )


def _what_json(value: Any) -> str:
    """What a JSON value that is no GeoJSON feature is, in French, quoted short."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"un booléen ({'true' if value else 'false'})"
    if isinstance(value, int | float):
        return f"un nombre ({value})"
    if isinstance(value, str):
        return f"du texte « {shown_name(value[:60])} »"
    if isinstance(value, list):
        return "une liste"
    kind = value.get("type")
    if isinstance(kind, str) and kind in _GEOMETRY_TYPES:
        return (
            f'une géométrie ({kind}) sans entité autour (attendu « "type": "Feature" », '
            "sa géométrie sous « geometry »)"
        )
    return 'un objet sans « "type": "Feature" »'


#: The GeoJSON geometry types (RFC 7946, 1.4).
_GEOMETRY_TYPES = frozenset(
    {
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "GeometryCollection",
    }
)


def _geojson_features(data: bytes) -> list[Any] | None:
    """The ``features`` list of a GeoJSON file's bytes, read with :mod:`json`; ``None``
    when they are no JSON (or too deep) or hold no FeatureCollection's list."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    features = doc.get("features") if isinstance(doc, dict) else None
    return features if isinstance(features, list) else None


def skipped_geojson_element(path: str, read: int) -> tuple[int, str] | None:
    """The first element of a GeoJSON's ``features`` that GDAL skips without a word (text,
    a number, ``null``, a list, a bare geometry, an object without ``"type":
    "Feature"``), 1-based, and what it is in French, when GDAL read ``read`` features,
    fewer than the file holds: its site would be missing from the portfolio, its rows
    counted outside every site, the features after it numbered one off. ``None`` when
    GDAL read every element (or :mod:`json` reads no FeatureCollection).

    The file is read again with :mod:`json` (GDAL tells nothing of what it skipped); a
    perimeter layer is small, a few hundred features at most."""
    try:
        features = _geojson_features(Path(path).read_bytes())
    except OSError:
        return None
    if features is None or len(features) == read:
        return None
    for n, element in enumerate(features, start=1):
        if not (isinstance(element, dict) and element.get("type") == "Feature"):
            return n, _what_json(element)
    return None


def geojson_nul_text(path: str, fields: tuple[str, ...]) -> tuple[int, str, str] | None:
    """The first feature (1-based) of a GeoJSON whose text in one of ``fields`` holds a
    NUL character (written ``\\u0000`` in the JSON), the field and the text: GDAL cuts
    a text at its NUL (« merisiers\\u0000-est » read « merisiers »), so the site would
    be named otherwise than the file says, without a word. ``None`` when none does (the
    file's bytes are looked at first: read again with :mod:`json` only when they hold
    the escape)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    features = _geojson_features(data) if b"\\u0000" in data else None
    for n, feature in enumerate(features or [], start=1):
        props = feature.get("properties") if isinstance(feature, dict) else None
        for field in fields:
            value = props.get(field) if isinstance(props, dict) else None
            if isinstance(value, str) and "\x00" in value:
                return n, field, value
    return None


def perimeter_layer(path: str, layer: str | None, where: str, config_path: str) -> str | None:
    """The layer of ``path`` that holds the perimeters: ``layer`` when given, else the
    file's only layer with geometries (a GeoPackage QGIS saved styles in also holds a
    ``layer_styles`` table); ``None`` for a file whose layers are unreadable (then
    :func:`read_perimeter_sites` says why).

    Raises
    ------
    ConfigError
        No layer is given and the file has several with geometries: taking the first
        was a guess (the wrong one gave its sites, the perimeters left out unsaid).
    """
    import pyogrio
    from pyogrio.errors import DataSourceError

    if layer is not None:
        return layer
    try:
        with quiet_open_rings():
            found = pyogrio.list_layers(path)
    except DataSourceError:
        return None
    spatial = [str(name) for name, kind in found if kind is not None]
    if len(spatial) > 1:
        raise ConfigError(
            config_path,
            f"« {path} » a {len(spatial)} couches de géométries ({', '.join(spatial)}) : "
            "dites laquelle porte les périmètres (layer = « … »).",
            key=f"{where}.layer",
        )
    return spatial[0] if spatial and len(found) > 1 else None


def read_perimeter_sites(
    path: str, layer: str | None, id_field: str, name_field: str, where: str, config_path: str
) -> tuple[Perimeter, ...]:
    """The sites of the perimeter layer: id, name, feature number and bounds (degrees).

    Raises
    ------
    ConfigError
        The layer cannot be read, has several layers and none is named, has no
        feature, has text that is not UTF-8 (naming the feature and field,
        :func:`_not_utf8`), a field is missing, an id is empty, malformed or
        repeated (naming the features), or a feature has no geometry or no bounds (a
        coordinate that is no number, :func:`nonnumeric_coordinate`).
    """
    # Imported here, for start-up time (as pyproj in config.sources): only a portfolio
    # needs them at load time, and pyogrio and pyproj only, never geopandas.
    import numpy as np
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError
    from pyproj import CRS, Transformer

    try:
        with quiet_open_rings():  # the GeoJSON driver reads every geometry on opening
            info = pyogrio.read_info(path, layer=layer)
            if not info["features"]:  # before the fields: an empty GeoJSON has none
                raise ConfigError(
                    config_path,
                    f"« {path} » : aucune entité (périmètre).",
                    key=f"{where}.perimeters",
                )
            if info["geometry_type"] is None:  # a GeoPackage's attribute table, a CSV
                raise ConfigError(
                    config_path,
                    f"« {path} », couche « {info['layer_name']} » : aucune géométrie (une "
                    "table sans périmètres) ; donnez la couche des périmètres (layer = « … »).",
                    key=f"{where}.layer",
                )
            meta, _, _, values = pyogrio.raw.read(
                path, layer=layer, columns=[id_field, name_field], read_geometry=False
            )
            _, bounds = pyogrio.read_bounds(path, layer=layer)
    except UnicodeDecodeError as err:  # GDAL reads a GeoJSON's text as UTF-8 (RFC 7946)
        raise _not_utf8(path, layer, (id_field, name_field), where, config_path) from err
    except DataLayerError as err:
        # The file opens but has no such layer: name the layers it has.
        try:
            names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
        except DataSourceError:
            names = []
        raise ConfigError(
            config_path,
            f"« {path} » : pas de couche « {layer} » ; couches : {', '.join(names) or 'aucune'}."
            if layer
            else f"« {path} » : aucune couche lisible.",
            key=f"{where}.layer",
        ) from err
    except DataSourceError as err:
        raise ConfigError(
            config_path,
            f"couche de périmètres « {path} » illisible : {unreadable_fr(path)}.",
            key=f"{where}.perimeters",
        ) from err
    if info.get("driver") == "GeoJSON":
        skipped = skipped_geojson_element(path, int(info["features"]))
        if skipped is not None:
            element, kind = skipped
            raise ConfigError(
                config_path,
                f"« {path} », élément n° {element} de « features » : ce n'est pas une entité "
                f"GeoJSON, c'est {kind} ; GDAL l'ignorerait sans le dire, et le site qu'il "
                "devait être manquerait au portefeuille (ses signalements comptés hors de "
                "tout site). Corrigez-le ou retirez-le de la couche.",
                key=f"{where}.perimeters",
            )
        nul = geojson_nul_text(path, (id_field, name_field))
        if nul is not None:
            feature, field, text = nul
            raise ConfigError(
                config_path,
                f"« {path} », entité n° {feature}, champ « {field} » : caractère nul "
                f"(U+0000) dans « {shown_name(text[:80])} » : GDAL couperait le texte à ce "
                "caractère ; retirez-le.",
                key=f"{where}.id_field" if field == id_field else f"{where}.name_field",
            )
    fields = [str(f) for f in info["fields"]]
    gone = missing_parts(path, (".dbf",))
    for key, wanted in (("id_field", id_field), ("name_field", name_field)):
        if wanted not in fields:
            raise ConfigError(
                config_path,
                f"champ « {wanted} » absent de « {path} » ; champs : "
                f"{', '.join(fields) or 'aucun'}" + (f" ({gone} manque)." if gone else "."),
                key=f"{where}.{key}",
            )
    values = utf8_text_of_shapefile(path, values)
    got = {str(name): column for name, column in zip(meta["fields"], values, strict=True)}
    ids = [site_id_text(v) for v in got[id_field]]
    names = [_text_value(v) for v in got[name_field]]
    for n, sid in enumerate(ids, start=1):
        problem = site_id_problem(sid)
        if problem is not None and sid != PORTFOLIO_DIR:
            raise ConfigError(
                config_path,
                f"« {path} », entité n° {n}, champ « {id_field} » : "
                + (
                    f"identifiant de site « {sid} » invalide ({problem}{decimal_hint(sid)})."
                    if sid
                    else "identifiant de site vide : donnez à chaque périmètre le sien."
                ),
                key=f"{where}.id_field",
            )
        if sid == PORTFOLIO_DIR:
            raise ConfigError(
                config_path,
                f"« {path} », entité n° {n} : « {PORTFOLIO_DIR} » est réservé.",
                key=f"{where}.id_field",
            )
    for n, (sid, name) in enumerate(zip(ids, names, strict=True), start=1):
        problem = site_name_problem(name)
        if problem is not None:
            raise ConfigError(
                config_path,
                f"« {path} », entité n° {n}, champ « {name_field} » : nom du site « {sid} », "
                f"« {shown_name(name)} » : {problem}.",
                key=f"{where}.name_field",
            )
    # Ids equal but for case name the same files on Windows and macOS (maps/<id>.html).
    folded = [sid.casefold() for sid in ids]
    repeated = [sid for sid, k in Counter(folded).items() if k > 1]
    if repeated:
        same = [n for n, s in enumerate(folded, start=1) if s == repeated[0]]
        features = ", ".join(str(n) for n in same)
        spellings = dict.fromkeys(f"« {ids[n - 1]} »" for n in same)
        spelt = " et ".join(spellings)
        case = ", à la casse près" if len(spellings) > 1 else ""
        raise ConfigError(
            config_path,
            f"« {path} », champ « {id_field} » : identifiant de site {spelt} en double "
            f"(entités n° {features}{case}) ; "
            "chaque périmètre doit avoir son propre identifiant.",
            key=f"{where}.id_field",
        )
    b = np.asarray(bounds, dtype=float)  # (4, n): xmin, ymin, xmax, ymax
    empty = ~np.isfinite(b).all(axis=0)
    if empty.any():
        n = int(np.flatnonzero(empty)[0]) + 1
        # No bounds: no geometry, or one whose coordinates are not all numbers (a NaN
        # written in the layer, which GDAL reads); only then are the geometries read.
        with quiet_open_rings():
            _, _, wkb, _ = pyogrio.raw.read(path, layer=layer, columns=[], read_geometry=True)
        if wkb[n - 1] is not None:
            what = nonnumeric_coordinate(wkb[n - 1])
        elif info.get("driver") == "GeoJSON":  # GDAL drops a geometry with text in it
            what = geojson_text_coordinate(path, n)
        else:
            what = None
        raise ConfigError(
            config_path,
            f"« {path} », entité n° {n} (« {ids[n - 1]} ») : {what or 'périmètre sans géométrie'}.",
            key=f"{where}.perimeters",
        )
    # A box of one point: perhaps an empty geometry, which a GeoPackage boxes at 0, 0,
    # taken for degrees in a layer in metres (crs_mismatch); such a feature is left to
    # pipelines.portfolio.perimeters, which names every unusable perimeter at once
    # (« géométrie vide »). Only then are the geometries read.
    void = np.zeros(b.shape[1], bool)
    flat = (b[0] == b[2]) & (b[1] == b[3])
    if flat.any():
        import shapely

        with quiet_open_rings():
            _, _, wkb, _ = pyogrio.raw.read(path, layer=layer, columns=[], read_geometry=True)
        with np.errstate(invalid="ignore"):
            void = flat & shapely.is_empty(shapely.from_wkb(wkb, on_invalid="ignore"))
    crs = CRS.from_user_input(info["crs"]) if info.get("crs") else CRS.from_epsg(4326)
    kept = np.flatnonzero(~void)
    mismatch = crs_mismatch(crs, bool(info.get("crs")), b[:, kept])
    if mismatch is not None:
        i, why = int(kept[mismatch[0]]), mismatch[1]
        raise ConfigError(
            config_path,
            f"« {path} », entité n° {i + 1} (« {ids[i]} ») : {why}",
            key=f"{where}.perimeters",
        )
    if not crs.equals(CRS.from_epsg(4326)):
        tr = Transformer.from_crs(crs, 4326, always_xy=True)
        boxes = [tr.transform_bounds(*b[:, i]) for i in range(b.shape[1])]
    else:
        boxes = [tuple(b[:, i]) for i in range(b.shape[1])]
    return tuple(
        Perimeter(sid, name, n, tuple(float(v) for v in box))  # type: ignore[arg-type]
        for n, (sid, name, box) in enumerate(
            zip(ids, _told_apart(ids, names), boxes, strict=True), start=1
        )
    )


def _told_apart(ids: list[str], names: list[str]) -> list[str]:
    """Each site's shown name: its name, its id when it has none, and the name followed
    by the id when another site of the layer has the same (case and Unicode's two
    spellings of an accent aside): two rows « Les Tilleuls » of the portfolio's table,
    two maps of one title, could not be told apart."""
    shown = [name or sid for sid, name in zip(ids, names, strict=True)]
    key = [unicodedata.normalize("NFC", name).casefold() for name in shown]
    twice = {k for k, n in Counter(key).items() if n > 1}
    return [
        f"{name} ({sid})" if k in twice else name
        for sid, name, k in zip(ids, shown, key, strict=True)
    ]
