"""A portfolio: sites declared by a layer of perimeters rather than one by one.

::

    [portfolio]
    perimeters = "data/raw/portfolio/residences_bondy.geojson"   # or a GeoPackage
    layer = "residences"          # the GeoPackage's layer (when it has several with geometries)
    id_field = "code"             # each feature's site id
    name_field = "nom"            # each feature's site name
    osm = "data/raw/bondy/bondy_nord.osm"   # one extract (.osm, .osm.bz2, .osm.pbf), cut per site
    ban = "data/raw/bondy/ban_adresses_bondy.csv"

    [[portfolio.sources]]         # one export covering every site, split per site
    id = "bailleur"
    path = "data/raw/bondy/signalements_bailleur*.csv"
    site_column = "Résidence"     # optional: the landlord's residence code of each row
    [portfolio.sources.site_codes]
    "R01" = "noue-caillet"        # code → site id (default: the code is the site id)

Each feature becomes a site whose extract and sources are files that ``vigie split``
(:mod:`pipelines.portfolio`) writes under ``processed_dir/_portfolio/``: the extract cut
to the perimeter's bounding box (plus a margin), and each source's rows that fall in the
perimeter. Reading the layer here takes its attributes and its features' bounds only
(pyogrio), not its geometries (but to say why a feature has no bounds: no geometry, or a
coordinate that is no number): the geometries are checked (repaired, overlaps listed)
by the split itself.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.config.coordinates import (
    crs_mismatch,
    geojson_text_coordinate,
    nonnumeric_coordinate,
    quiet_open_rings,
)
from pipelines.config.files import input_problem
from pipelines.config.layerfiles import missing_parts, unreadable_fr, utf8_text_of_shapefile
from pipelines.config.site import SourceConfig
from pipelines.config.sources import read_source
from pipelines.config.values import (
    check_known,
    decimal_hint,
    shared_site_keys,
    shown_name,
    site_id_problem,
    site_id_text,
    site_name_problem,
    take,
    toml_type,
)
from pipelines.errors import ConfigError

#: The portfolio's folder under ``processed_dir``: never a site's id.
PORTFOLIO_DIR = "_portfolio"
#: Keys of ``[portfolio]``.
PORTFOLIO_KEYS = (
    "perimeters",
    "layer",
    "id_field",
    "name_field",
    "osm",
    "osm_margin_m",
    "ban",
    "rpls",
    "gazetteer",
    "simulated",
    "attribution",
    "sources",
)
#: Keys a portfolio source adds to a site's source.
SPLIT_KEYS = ("site_column", "site_codes")
#: The only format a portfolio source may have for now: its rows are written per site
#: as CSV, cell for cell.
SPLIT_FORMATS = ("csv", "auto")


@dataclass(frozen=True)
class PortfolioSource:
    """One export covering several sites.

    Attributes
    ----------
    source
        The source as declared (its path: the whole export).
    site_column
        A column holding each row's residence or building code; a row with a code is
        given to the code's site, whatever its coordinates.
    site_codes
        Code → site id; a code absent from it is taken as a site id itself.
    """

    source: SourceConfig
    site_column: str | None = None
    site_codes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Perimeter:
    """One feature of the perimeter layer: a site."""

    id: str
    name: str
    feature: int  # 1-based, in the layer's order
    bbox: tuple[float, float, float, float]  # west, south, east, north, degrees


@dataclass(frozen=True)
class PortfolioConfig:
    """The ``[portfolio]`` table, its layer's sites read."""

    perimeters: str
    id_field: str
    name_field: str
    osm: str
    folder: str  # processed_dir/_portfolio
    sites: tuple[Perimeter, ...]
    sources: tuple[PortfolioSource, ...]
    layer: str | None = None
    osm_margin_m: float = 100.0
    ban: str | None = None
    rpls: str | None = None
    gazetteer: str | None = None
    simulated: bool = False
    attribution: tuple[str, ...] = ()

    @property
    def site_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.sites)

    def site_osm(self, site_id: str) -> Path:
        """The extract cut for ``site_id``."""
        return Path(self.folder) / "osm" / f"{site_id}.osm"

    def site_source(self, source_id: str, site_id: str) -> Path:
        """The rows of source ``source_id`` given to ``site_id``."""
        return Path(self.folder) / "sources" / source_id / f"{site_id}.csv"

    @property
    def summary(self) -> Path:
        """The split's summary: rows per source and site, overlaps, repairs."""
        return Path(self.folder) / "split_summary.json"

    @property
    def outside(self) -> Path:
        """The rows given to no site (``outside_every_site``), for the analyst."""
        return Path(self.folder) / "outside_every_site.csv"

    @property
    def overlaps(self) -> Path:
        """The pairs of overlapping perimeters."""
        return Path(self.folder) / "overlaps.csv"

    @property
    def perimeter_table(self) -> Path:
        """The perimeters as read and repaired (EPSG:4326)."""
        return Path(self.folder) / "perimeters.parquet"

    def outputs(self) -> list[Path]:
        """Every file the split writes (the make rule's targets)."""
        files = [self.summary, self.outside, self.overlaps, self.perimeter_table]
        files += [self.site_osm(s) for s in self.site_ids]
        files += [self.site_source(ps.source.id, s) for ps in self.sources for s in self.site_ids]
        return files


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
    crs = CRS.from_user_input(info["crs"]) if info.get("crs") else CRS.from_epsg(4326)
    mismatch = crs_mismatch(crs, bool(info.get("crs")), b)
    if mismatch is not None:
        i, why = mismatch
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


def _portfolio_source(raw: Any, path: str, where: str) -> PortfolioSource:
    if not isinstance(raw, dict):
        raise ConfigError(path, f"attendu une table, trouvé {toml_type(raw)}.", key=where)
    declared = {k: v for k, v in raw.items() if k not in SPLIT_KEYS}
    source = read_source(declared, path, where)
    # The id names the folder of the source's rows per site (site_source): a site's rule.
    problem = site_id_problem(source.id)
    if problem is not None:
        raise ConfigError(
            path,
            f"identifiant de source « {source.id} » : {problem} (il nomme un dossier).",
            key=f"{where}.id",
        )
    if source.format not in SPLIT_FORMATS:
        raise ConfigError(
            path,
            f"format « {source.format} » : une source de portefeuille est partagée entre "
            "les sites ligne à ligne, ce qui n'est possible que pour un fichier CSV.",
            key=f"{where}.format",
        )
    codes = take(raw, "site_codes", dict, path, where, {})
    for code, site in codes.items():
        # An integer is the id of a layer's feature of that number (site_id_text).
        whole = isinstance(site, int | float) and not isinstance(site, bool)
        if not (isinstance(site, str) or whole) or not site_id_text(site):
            raise ConfigError(
                path,
                f"attendu l'identifiant d'un site, trouvé {toml_type(site)}.",
                key=f"{where}.site_codes.{code}",
            )
    mapping = {str(k): site_id_text(v) for k, v in codes.items()}
    folded: dict[str, str] = {}  # the rows' codes are compared so (portfolio.assign)
    for code, site in mapping.items():
        other = folded.setdefault(code.strip().casefold(), code)
        if other != code and mapping[other].casefold() != site.casefold():
            raise ConfigError(
                path,
                f"codes « {other} » et « {code} », égaux à la casse près, vers deux sites "
                f"(« {mapping[other]} », « {site} ») : les codes des lignes sont lus sans "
                "la casse ; gardez-en un.",
                key=f"{where}.site_codes",
            )
    return PortfolioSource(
        source=source,
        site_column=take(raw, "site_column", str, path, where, None),
        site_codes=mapping,
    )


def read_portfolio(raw: Any, path: str, processed_dir: str) -> PortfolioConfig:
    """The ``[portfolio]`` table checked, with its layer's sites."""
    where = "portfolio"
    if not isinstance(raw, dict):
        raise ConfigError(path, f"attendu une table, trouvé {toml_type(raw)}.", key=where)
    check_known(raw, PORTFOLIO_KEYS, path, where)
    perimeters = take(raw, "perimeters", str, path, where)
    problem = input_problem(perimeters)
    if problem is not None:
        raise ConfigError(path, f"« {perimeters} » : {problem}.", key=f"{where}.perimeters")
    layer = perimeter_layer(perimeters, take(raw, "layer", str, path, where, None), where, path)
    id_field = take(raw, "id_field", str, path, where)
    name_field = take(raw, "name_field", str, path, where)
    margin = take(raw, "osm_margin_m", float, path, where, 100.0)
    if not 0 <= margin <= 5000:
        raise ConfigError(path, "attendu entre 0 et 5000 mètres.", key=f"{where}.osm_margin_m")
    raw_sources = take(raw, "sources", list, path, where, [])
    sources = tuple(
        _portfolio_source(s, path, f"{where}.sources[{i}]") for i, s in enumerate(raw_sources)
    )
    if not sources:
        raise ConfigError(path, "au moins une source est nécessaire.", key=f"{where}.sources")
    ids = [s.source.id.casefold() for s in sources]  # one folder on Windows and macOS
    if len(set(ids)) != len(ids):
        raise ConfigError(
            path, "identifiants de source en double (à la casse près).", key=f"{where}.sources"
        )
    sites = read_perimeter_sites(perimeters, layer, id_field, name_field, where, path)
    known = {p.id for p in sites}
    for i, s in enumerate(sources):
        for code, site in s.site_codes.items():
            if site not in known:
                raise ConfigError(
                    path,
                    f"site « {site} » absent de la couche de périmètres « {perimeters} ».",
                    key=f"{where}.sources[{i}].site_codes.{code}",
                )
    return PortfolioConfig(
        perimeters=perimeters,
        layer=layer,
        id_field=id_field,
        name_field=name_field,
        osm=take(raw, "osm", str, path, where),
        osm_margin_m=float(margin),
        folder=str(Path(processed_dir) / PORTFOLIO_DIR),
        sites=sites,
        sources=sources,
        **shared_site_keys(raw, path, where),
    )
