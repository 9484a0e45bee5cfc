"""The TOML configuration: sites, their sources and the parameters of every stage.

Relative paths in the file are resolved against the current working directory (the
project root, where ``make`` runs). The whole file is checked when it is loaded: unknown
keys (with the closest known one suggested), types, values and ranges, the study area,
and every input file (it exists, a glob matches, it is a regular file: a folder, a pipe
or a device is refused from its status alone, without opening it). Every problem is
reported as a :class:`ConfigError` naming the file and the key, never the content of a
data file. The keys allowed are those of :data:`DEFAULT_PARAMS` and of the dataclasses
below.

Example
-------
::

    [[sites]]
    id = "bondy"
    name = "Bondy Nord"
    osm = "data/raw/bondy/bondy_nord.osm"

    [[sites.sources]]
    id = "ticketing"
    kind = "reports"
    path = "data/raw/bondy/signalements_*.csv"
    [sites.sources.columns]
    id = "N° ticket"
    date = "Date de création"
"""

from __future__ import annotations

import copy
import difflib
import glob
import math
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pipelines.config.hotspots import HotspotParams
from pipelines.config.publication import PublicationSettings, publication_settings
from pipelines.errors import ConfigError, os_reason
from pipelines.taxonomy import CODES, check_category_classes

SOURCE_KINDS = ("reports", "observations")
SOURCE_FORMATS = ("auto", "csv", "xlsx", "geojson", "open311", "kobo", "odk")
COLUMN_ROLES = (
    "id",
    "date",
    "category",
    "subcategory",
    "description",
    "address",
    "number",
    "street",
    "postcode",
    "city",
    "building_ref",
    "lat",
    "lon",
    "x",
    "y",
    "geo_point",
    "status",
    "closed_at",
    "channel",
    "updated_at",
)

#: Defaults of every stage's parameters; ``[params]`` at the top of the file and
#: ``[sites.params]`` per site override them, section by section.
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "ingest": {
        "start_date": "2015-01-01",
        "today": None,  # ISO date; None means the day of the run
        "duplicate_distance_m": 30.0,
        "duplicate_window_h": 48.0,
    },
    "geocode": {
        "tolerance_m": 25.0,
        "disagreement_m": 50.0,
        "fuzzy_threshold": 88.0,
        "ban_online": False,
        # A point shared by this many reports with this many distinct addresses is a
        # placeholder (a city's "no location" point): its coordinates are ignored.
        "placeholder_min_reports": 5,
        "placeholder_min_addresses": 3,
    },
    "hotspots": {
        "distance_band_m": None,  # None: automatic band (DOMAIN.md)
        "band_search_steps": 10,  # distances tried by the automatic band
        "band_increment_m": None,  # None: mean nearest-neighbour distance
        "hex_size_m": 50.0,  # edge; 100 m left Bondy Nord (0.65 km²) under 30 hexagons
        "kde_bandwidth_m": 150.0,
        "kde_cell_m": 20.0,
        "kde_levels": None,  # None: round levels from the maximum density
        "permutations": 0,
        "seed": 20240601,
        "category_min_reports": 30,  # fewer reports: no Gi* for that category
        "blank_check_shuffles": 20,  # Gi* on shuffled counts, to check the p-values
        "chronic": {"default": [3, 90], "ascenseur": [3, 90]},  # [N reports, in D days]
    },
    "trends": {
        "freq": "M",  # M (months), W (weeks, Monday to Sunday) or Q (quarters)
        "start": None,  # ISO date in the first period; None: the first report's
        "end": None,  # ISO date in the last period; None: the last report's
        "alpha": 0.05,  # two-sided level of the Mann-Kendall tests
        "time_window": 0,  # previous periods added to each space-time Gi* neighbourhood
        "min_level": 1,  # FDR bin counted as hot/cold: 1 (90 %), 2 (95 %), 3 (99 %)
        "compare_months": 3,  # before/after: the last N months against the N before
        "compare_before": None,  # or ["2025-04-01", "2025-06-30"] (ISO, end included)
        "compare_after": None,
        "targets_h": {"ascenseur": 48, "eau_fuite": 72, "chauffage": 48},  # closing, hours
        "as_of": None,  # date of the export; None: the latest report or closure time
        "top_buildings": 6,  # buildings drawn in the small multiples
    },
    "maps": {"online_tiles": False, "max_report_points": 20000},
    # A zone built from fewer reports than min_reports is kept, flagged, and not drawn.
    "zones": {"min_bin": 2, "gap_m": 15.0, "min_reports": 10},
}


@dataclass(frozen=True)
class SourceConfig:
    """One input source of a site (one file, or a glob of monthly files)."""

    id: str
    kind: str
    path: str
    format: str = "auto"
    encoding: str | None = None
    separator: str | None = None
    decimal: str | None = None
    date_format: str | None = None
    sheet: str | None = None
    crs: str = "EPSG:4326"
    columns: dict[str, str] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)
    personal_columns: tuple[str, ...] = ()
    default_category: str | None = None

    def files(self) -> list[Path]:
        """The files matched by :attr:`path`, sorted (a glob may match several)."""
        if any(ch in self.path for ch in "*?["):
            return sorted(Path(p) for p in glob.glob(self.path))
        return [Path(self.path)]


@dataclass(frozen=True)
class SiteConfig:
    """One study site: its OSM extract, optional reference files and sources."""

    id: str
    name: str
    osm: str
    sources: tuple[SourceConfig, ...]
    ban: str | None = None
    rpls: str | None = None
    gazetteer: str | None = None
    simulated: bool = False
    study_area_bbox: tuple[float, float, float, float] | None = None
    attribution: tuple[str, ...] = ()
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    publication: PublicationSettings = field(default_factory=PublicationSettings)
    # Category code → "personne" | "technique" (pipelines.taxonomy.check_category_classes).
    category_classes: dict[str, str] = field(default_factory=dict)

    @property
    def settings(self) -> SiteSettings:
        """:attr:`params` as one frozen, typed settings object per stage."""
        return site_settings(self.params)


@dataclass(frozen=True)
class Config:
    """The whole configuration file."""

    path: str
    sites: tuple[SiteConfig, ...]
    processed_dir: str = "data/processed"
    maps_dir: str = "maps"
    annotations_dir: str = "data/annotations"
    secrets_dir: str = "data/secrets"  # per-site secrets (pipelines.ingest.household)
    annotation_tags: tuple[str, ...] = ("priorité avant travaux", "à surveiller", "traité")

    def site(self, site_id: str) -> SiteConfig:
        """Return the site with this id, or raise a :class:`ConfigError` listing them."""
        for site in self.sites:
            if site.id == site_id:
                return site
        known = ", ".join(s.id for s in self.sites)
        raise ConfigError(self.path, f"site « {site_id} » inconnu (sites : {known}).")


# --------------------------------------------------------------------------- keys
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


#: Keys allowed in each table, from the dataclasses they fill.
SOURCE_KEYS = _field_names(SourceConfig)
SITE_KEYS = _field_names(SiteConfig)
PROJECT_KEYS = tuple(k for k in _field_names(Config) if k not in ("path", "sites"))
TOP_KEYS = ("project", "params", "sites", "publication")

#: What a parameter takes where its default does not say it (``None``, or a date written
#: as text); every other parameter takes the type of its default in :data:`DEFAULT_PARAMS`.
PARAM_KINDS = {
    "ingest.start_date": "date",
    "ingest.today": "date",
    "hotspots.distance_band_m": "number",
    "hotspots.band_increment_m": "number",
    "hotspots.kde_levels": "list",
    "trends.start": "date",
    "trends.end": "date",
    "trends.as_of": "date",
    "trends.compare_before": "list",
    "trends.compare_after": "list",
}

#: Ranges of the numeric parameters, ends included (the hotspot stage's own are checked
#: by :class:`~pipelines.config.hotspots.HotspotParams`; ``trends.alpha`` excludes both).
PARAM_RANGES: dict[str, tuple[float, float | None]] = {
    "ingest.duplicate_distance_m": (0, None),
    "ingest.duplicate_window_h": (0, None),
    "geocode.tolerance_m": (0, None),
    "geocode.disagreement_m": (0, None),
    "geocode.fuzzy_threshold": (0, 100),
    "geocode.placeholder_min_reports": (2, None),
    "geocode.placeholder_min_addresses": (2, None),
    "trends.alpha": (0, 1),
    "trends.time_window": (0, None),
    "trends.min_level": (1, 3),
    "trends.compare_months": (1, None),
    "trends.top_buildings": (1, None),
    "maps.max_report_points": (0, None),
    "zones.min_bin": (1, 3),
    "zones.gap_m": (0, None),
    "zones.min_reports": (0, None),
}
_OPEN_RANGES = {"trends.alpha"}

_KIND_NAMES = {
    "bool": "vrai ou faux (true/false)",
    "int": "un nombre entier",
    "number": "un nombre fini",
    "str": "un texte",
    "date": "une date AAAA-MM-JJ",
    "list": "une liste [ … ]",
    "table": "une table",
}


def _what(value: object) -> str:
    """The TOML type of ``value``, in French, for messages (never the value of a file)."""
    if isinstance(value, bool):
        return "un booléen"
    if isinstance(value, int):
        return "un entier"
    if isinstance(value, float):
        return "un nombre décimal"
    if isinstance(value, str):
        return "un texte"
    if isinstance(value, datetime):
        return "une date et heure"
    if isinstance(value, date):
        return "une date"
    if isinstance(value, list):
        return "une liste"
    if isinstance(value, dict):
        return "une table"
    return type(value).__name__


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _check_known(table: Mapping[str, Any], allowed: tuple[str, ...], path: str, where: str) -> None:
    """Refuse a key not in ``allowed``, suggesting the closest one (a typo)."""
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" Vouliez-vous dire « {close[0]} » ?" if close else ""
            raise ConfigError(
                path,
                f"clé inconnue.{hint} Clés possibles : {', '.join(sorted(allowed))}.",
                key=_join(where, key),
            )


# --------------------------------------------------------------------------- values
def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


_PY_KINDS: dict[type, str] = {
    bool: "bool",
    int: "int",
    float: "number",
    str: "str",
    list: "list",
    dict: "table",
}


def _is_kind(value: object, kind: str) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    if kind == "str":
        return isinstance(value, str)
    if kind == "date":
        if isinstance(value, date) and not isinstance(value, datetime):
            return True
        if not isinstance(value, str):
            return False
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
        return True
    if kind == "list":
        return isinstance(value, list)
    return isinstance(value, dict)


def _take(
    table: dict[str, Any], key: str, kind: type, path: str, where: str, default: Any = ...
) -> Any:
    if key not in table:
        if default is ...:
            raise ConfigError(path, "clé obligatoire manquante.", key=_join(where, key))
        return default
    value = table[key]
    if not _is_kind(value, _PY_KINDS[kind]):
        raise ConfigError(
            path,
            f"attendu {_KIND_NAMES[_PY_KINDS[kind]]}, trouvé {_what(value)}.",
            key=_join(where, key),
        )
    return value


def _strings(table: dict[str, Any], key: str, path: str, where: str) -> tuple[str, ...]:
    """A list of texts (``personal_columns``, ``attribution``, ``annotation_tags``)."""
    values = _take(table, key, list, path, where, [])
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(
                path,
                f"attendu une liste de textes non vides, trouvé {_what(value)}.",
                key=f"{_join(where, key)}[{i}]",
            )
    return tuple(values)


def _check_params(raw: Any, path: str, where: str) -> None:
    """Check one ``[params]`` table (top level or a site's): sections and keys known,
    each value of its parameter's type and in its range."""
    if not isinstance(raw, dict):
        raise ConfigError(path, f"attendu une table, trouvé {_what(raw)}.", key=where)
    _check_known(raw, tuple(DEFAULT_PARAMS), path, where)
    for section, values in raw.items():
        swhere = f"{where}.{section}"
        if not isinstance(values, dict):
            raise ConfigError(
                path, f"attendu une table [{swhere}], trouvé {_what(values)}.", key=swhere
            )
        defaults = DEFAULT_PARAMS[section]
        _check_known(values, tuple(defaults), path, swhere)
        for key, value in values.items():
            name = f"{section}.{key}"
            default = defaults[key]
            kind = PARAM_KINDS.get(name) or (None if default is None else _PY_KINDS[type(default)])
            if value is None or kind is None:  # TOML has no null; only a caller's dict
                continue
            if not _is_kind(value, kind):
                raise ConfigError(
                    path,
                    f"attendu {_KIND_NAMES[kind]}, trouvé {_what(value)}.",
                    key=f"{swhere}.{key}",
                )
            if name in PARAM_RANGES:
                low, high = PARAM_RANGES[name]
                strict = name in _OPEN_RANGES
                below = value <= low if strict else value < low
                above = high is not None and (value >= high if strict else value > high)
                if below or above:
                    bounds = f"entre {low} et {high}" if high is not None else f"≥ {low}"
                    if strict:
                        bounds = f"strictement {bounds}"
                    raise ConfigError(
                        path,
                        f"attendu une valeur {bounds}, trouvé {value!r}.",
                        key=f"{swhere}.{key}",
                    )


def _check_site_params(
    params: dict[str, Any], site_params: dict[str, Any], path: str, where: str
) -> None:
    """Checks that need a site's merged parameters (``params``): the ingestion dates, the
    hotspot section, the trend targets and windows. A key is named where it was set:
    in the site's ``[sites.params]`` (``site_params``, at ``where``) or at the top."""

    def key_of(section: str, key: str, *rest: str) -> str:
        set_here = key in site_params.get(section, {})
        return ".".join((f"{where}.params" if set_here else "params", section, key, *rest))

    ingest = params["ingest"]
    start, today = ingest.get("start_date"), ingest.get("today")
    as_date = {
        k: v if isinstance(v, date) else date.fromisoformat(v)
        for k, v in (("start_date", start), ("today", today))
        if v is not None
    }
    if len(as_date) == 2 and as_date["start_date"] > as_date["today"]:
        raise ConfigError(
            path,
            "la date de début est postérieure à « today » : aucun signalement ne serait gardé.",
            key=key_of("ingest", "start_date"),
        )
    try:
        HotspotParams.from_dict(params["hotspots"], path)
    except ConfigError as err:
        # HotspotParams names ``params.hotspots.<key>``; say where the key was set.
        parts = (err.key or "params.hotspots").split(".")
        raise ConfigError(path, err.message, key=key_of("hotspots", *(parts[2:] or ["?"]))) from err
    trends = params["trends"]
    for code, hours in (trends.get("targets_h") or {}).items():
        key = key_of("trends", "targets_h", code)
        if code not in CODES:
            raise ConfigError(path, f"catégorie inconnue ; codes : {', '.join(CODES)}.", key=key)
        if not _is_kind(hours, "number") or not hours > 0:
            raise ConfigError(
                path, f"attendu un délai positif en heures, trouvé {_what(hours)}.", key=key
            )
    for name in ("compare_before", "compare_after"):
        window = trends.get(name)
        if window is None:
            continue
        if len(window) != 2 or not all(_is_kind(v, "date") for v in window):
            raise ConfigError(
                path,
                "attendu [début, fin] : deux dates AAAA-MM-JJ (fin incluse).",
                key=key_of("trends", name),
            )
        first, last = (v if isinstance(v, date) else date.fromisoformat(v) for v in window)
        if last < first:
            raise ConfigError(path, "la fin précède le début.", key=key_of("trends", name))


# --------------------------------------------------------------------------- sources
def _check_encoding(value: str, path: str, key: str) -> None:
    name = value.strip().lower().replace("_", "-").replace("-bom", "-sig")
    try:
        b"a".decode(name, errors="replace")  # an empty string would skip the lookup
    except LookupError as err:
        raise ConfigError(
            path,
            f"encodage « {value} » inconnu (exemples : utf-8, cp1252, latin-1).",
            key=key,
        ) from err


def _check_separator(value: str, path: str, key: str) -> None:
    if value in ("tab", "\\t"):
        return
    if len(value) != 1 or value in '\r\n"':
        raise ConfigError(
            path,
            f"séparateur {value!r} : attendu un seul caractère (« ; », « , », « | », "
            "ou « tab »), ni guillemet ni fin de ligne.",
            key=key,
        )


def _check_date_format(value: str, path: str, key: str) -> None:
    """A ``strptime`` format that reads back what it writes (or ``"excel"``)."""
    if value == "excel":
        return
    sample = datetime(2024, 3, 17, 13, 45, 56)
    ok = "%" in value
    if ok:
        try:
            datetime.strptime(sample.strftime(value), value)
        except ValueError:
            ok = False
    if not ok:
        raise ConfigError(
            path,
            f"format de date {value!r} illisible : attendu un format strptime tel que "
            "« %d/%m/%Y %H:%M », ou « excel ».",
            key=key,
        )


def _check_crs(value: str, path: str, key: str) -> None:
    # Imported here, for start-up time: pyproj takes about 0.1-0.3 s to import and only
    # a source with a non-default ``crs`` needs it at load time.
    from pyproj import CRS
    from pyproj.exceptions import CRSError as ProjCRSError

    try:
        CRS.from_user_input(value)
    except ProjCRSError as err:
        raise ConfigError(
            path,
            f"système de coordonnées « {value} » inconnu (exemples : EPSG:4326, EPSG:2154).",
            key=key,
        ) from err


def _source(raw: Any, path: str, where: str) -> SourceConfig:
    if not isinstance(raw, dict):
        raise ConfigError(path, f"attendu une table, trouvé {_what(raw)}.", key=where)
    _check_known(raw, SOURCE_KEYS, path, where)
    sid = _take(raw, "id", str, path, where)
    kind = _take(raw, "kind", str, path, where, "reports")
    if kind not in SOURCE_KINDS:
        raise ConfigError(path, f"« {kind} » : attendu {SOURCE_KINDS}.", key=f"{where}.kind")
    fmt = _take(raw, "format", str, path, where, "auto")
    if fmt not in SOURCE_FORMATS:
        raise ConfigError(path, f"« {fmt} » : attendu {SOURCE_FORMATS}.", key=f"{where}.format")
    src_path = _take(raw, "path", str, path, where)
    if not src_path.strip():
        raise ConfigError(path, "chemin vide.", key=f"{where}.path")
    columns = _take(raw, "columns", dict, path, where, {})
    for role, name in columns.items():
        if role not in COLUMN_ROLES:
            close = difflib.get_close_matches(role, COLUMN_ROLES, n=1)
            hint = f" Vouliez-vous dire « {close[0]} » ?" if close else ""
            raise ConfigError(
                path,
                f"rôle de colonne inconnu.{hint} Rôles possibles : {', '.join(COLUMN_ROLES)}.",
                key=f"{where}.columns.{role}",
            )
        if not isinstance(name, str) or not name:
            raise ConfigError(
                path,
                f"attendu le nom d'une colonne, trouvé {_what(name)}.",
                key=f"{where}.columns.{role}",
            )
    categories = _take(raw, "categories", dict, path, where, {})
    for label, code in categories.items():
        if code not in CODES:
            raise ConfigError(
                path,
                f"catégorie « {code} » inconnue ; codes : {', '.join(CODES)}.",
                key=f"{where}.categories.{label}",
            )
    default_category = _take(raw, "default_category", str, path, where, None)
    if default_category is not None and default_category not in CODES:
        raise ConfigError(
            path, f"catégorie « {default_category} » inconnue.", key=f"{where}.default_category"
        )
    encoding = _take(raw, "encoding", str, path, where, None)
    if encoding is not None:
        _check_encoding(encoding, path, f"{where}.encoding")
    separator = _take(raw, "separator", str, path, where, None)
    if separator is not None:
        _check_separator(separator, path, f"{where}.separator")
    decimal = _take(raw, "decimal", str, path, where, None)
    if decimal is not None and decimal not in (",", "."):
        raise ConfigError(
            path,
            f"séparateur décimal {decimal!r} : attendu « , » ou « . ».",
            key=f"{where}.decimal",
        )
    date_format = _take(raw, "date_format", str, path, where, None)
    if date_format is not None:
        _check_date_format(date_format, path, f"{where}.date_format")
    crs = _take(raw, "crs", str, path, where, "EPSG:4326")
    if crs != "EPSG:4326":
        _check_crs(crs, path, f"{where}.crs")
    return SourceConfig(
        id=sid,
        kind=kind,
        path=src_path,
        format=fmt,
        encoding=encoding,
        separator=separator,
        decimal=decimal,
        date_format=date_format,
        sheet=_take(raw, "sheet", str, path, where, None),
        crs=crs,
        columns=dict(columns),
        categories={str(k): str(v) for k, v in categories.items()},
        personal_columns=_strings(raw, "personal_columns", path, where),
        default_category=default_category,
    )


# --------------------------------------------------------------------------- sites
def _bbox(raw: dict[str, Any], path: str, where: str) -> tuple[float, float, float, float] | None:
    """``study_area_bbox``: [west, south, east, north] in degrees, west < east and
    south < north."""
    key = f"{where}.study_area_bbox"
    bbox = _take(raw, "study_area_bbox", list, path, where, None)
    if bbox is None:
        return None
    if len(bbox) != 4 or not all(_is_kind(v, "number") for v in bbox):
        raise ConfigError(
            path, "attendu [ouest, sud, est, nord] : quatre nombres en degrés.", key=key
        )
    west, south, east, north = (float(v) for v in bbox)
    if not (
        -180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90 and -90 <= north <= 90
    ):
        raise ConfigError(
            path,
            "hors des limites des degrés (longitude entre -180 et 180, latitude entre -90 et 90) ; "
            "attendu [ouest, sud, est, nord] en degrés (EPSG:4326).",
            key=key,
        )
    if not (west < east and south < north):
        raise ConfigError(
            path,
            "emprise inversée ou vide : attendu [ouest, sud, est, nord] avec ouest < est et "
            "sud < nord.",
            key=key,
        )
    return west, south, east, north


def _site(raw: Any, path: str, where: str, params: dict[str, Any]) -> SiteConfig:
    if not isinstance(raw, dict):
        raise ConfigError(path, f"attendu une table [[sites]], trouvé {_what(raw)}.", key=where)
    _check_known(raw, SITE_KEYS, path, where)
    sid = _take(raw, "id", str, path, where)
    if not sid or not sid.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(
            path, "identifiant de site : lettres, chiffres, - et _ seulement.", key=f"{where}.id"
        )
    raw_sources = _take(raw, "sources", list, path, where)
    if not raw_sources:
        raise ConfigError(path, "au moins une source est nécessaire.", key=f"{where}.sources")
    sources = tuple(_source(s, path, f"{where}.sources[{i}]") for i, s in enumerate(raw_sources))
    ids = [s.id for s in sources]
    if len(set(ids)) != len(ids):
        raise ConfigError(path, "identifiants de source en double.", key=f"{where}.sources")
    bbox = _bbox(raw, path, where)
    site_params = _take(raw, "params", dict, path, where, {})
    _check_params(site_params, path, f"{where}.params")
    merged = _merge(params, site_params)
    _check_site_params(merged, site_params, path, where)
    osm = _take(raw, "osm", str, path, where)
    if not osm.strip():
        raise ConfigError(path, "chemin vide.", key=f"{where}.osm")
    return SiteConfig(
        id=sid,
        name=_take(raw, "name", str, path, where, sid),
        osm=osm,
        sources=sources,
        ban=_take(raw, "ban", str, path, where, None),
        rpls=_take(raw, "rpls", str, path, where, None),
        gazetteer=_take(raw, "gazetteer", str, path, where, None),
        simulated=_take(raw, "simulated", bool, path, where, False),
        study_area_bbox=bbox,
        attribution=_strings(raw, "attribution", path, where),
        params=merged,
        category_classes=check_category_classes(
            raw.get("category_classes", {}), path, f"{where}.category_classes"
        ),
    )


# --------------------------------------------------------------------------- files
def input_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be read as an input file (in French), or ``None``.

    Only the file's status is read (``os.stat``): a named pipe, a device or a folder is
    refused without being opened, so that a pipe cannot hang the run.
    """
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "fichier introuvable"
    except ValueError:  # a NUL character in the path
        return "chemin invalide"
    except OSError as err:
        return os_reason(err)
    if stat.S_ISDIR(mode):
        return "c'est un dossier, pas un fichier"
    if not stat.S_ISREG(mode):
        return (
            "ce n'est pas un fichier ordinaire (tube, périphérique ou socket) ; "
            "Vigie ne lit que des fichiers"
        )
    if not os.access(path, os.R_OK):
        return "lecture refusée par les droits du fichier"
    return None


def _output_dir_problem(path: Path) -> str | None:
    """Why ``path`` cannot be an output folder: it, or the first of its parents that
    exists, is not a folder."""
    for p in (path, *path.parents):
        try:
            mode = os.stat(p).st_mode
        except (FileNotFoundError, NotADirectoryError):
            continue
        except ValueError:
            return "chemin invalide"
        except OSError as err:
            return os_reason(err)
        if not stat.S_ISDIR(mode):
            return f"« {p} » existe et n'est pas un dossier"
        return None
    return None


def _site_files(site: SiteConfig, where: str) -> list[tuple[str, str, list[Path] | None]]:
    """Each input of ``site``: its key, its configured path, and the files it names
    (``None`` for a glob: the matches are listed by the caller)."""
    out: list[tuple[str, str, list[Path] | None]] = []
    if not site.osm.startswith("overpass:"):
        out.append((f"{where}.osm", site.osm, [Path(site.osm)]))
    for key in ("ban", "rpls", "gazetteer"):
        value = getattr(site, key)
        if value is not None:
            out.append((f"{where}.{key}", value, [Path(value)]))
    for i, source in enumerate(site.sources):
        out.append((f"{where}.sources[{i}].path", source.path, source.files()))
    return out


def check_inputs(
    config: Config, site_id: str, *, osm: bool = True, simulated_exports: bool = True
) -> None:
    """Check the input files of one site: each exists, each glob matches at least one
    file, each is a regular file that can be read (a folder, a pipe or a device is
    refused from its status, without being opened).

    Parameters
    ----------
    config, site_id
        The configuration and the site.
    osm
        Whether the OSM extract must exist (the stages that read it); when ``False`` it is
        still refused if it exists but is no regular file.
    simulated_exports
        Whether a simulated site's exports must exist; when ``False`` (before ``make``
        has run ``vigie simulate``), those missing from the folder of the site's OSM
        extract, where the simulator writes them, are no error yet.

    Raises
    ------
    ConfigError
        Naming the configuration file, the key and the path at fault.
    """
    site = config.site(site_id)
    where = f"sites[{config.sites.index(site)}]"
    made_here = (
        os.path.abspath(Path(site.osm).parent) if site.simulated and not simulated_exports else None
    )
    for key, text, files in _site_files(site, where):
        may_wait = (key.endswith(".osm") and not osm) or (
            made_here is not None and os.path.abspath(Path(text).parent) == made_here
        )
        if not files:
            if may_wait:
                continue
            raise ConfigError(
                config.path,
                f"aucun fichier ne correspond au motif « {text} » ; vérifiez le chemin "
                "(relatif au dossier où l'on lance Vigie).",
                key=key,
            )
        for file in files:
            problem = input_problem(file)
            if problem is None or (may_wait and problem == "fichier introuvable"):
                continue
            raise ConfigError(config.path, f"« {file} » : {problem}.", key=key)


# --------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class IngestSettings:
    """``[params.ingest]``, checked and typed."""

    start_date: date
    today: date | None  # None: the day of the run
    duplicate_distance_m: float
    duplicate_window_h: float


@dataclass(frozen=True)
class GeocodeSettings:
    """``[params.geocode]``, checked and typed."""

    tolerance_m: float
    disagreement_m: float
    fuzzy_threshold: float
    ban_online: bool
    placeholder_min_reports: int
    placeholder_min_addresses: int


@dataclass(frozen=True)
class MapSettings:
    """``[params.maps]``, checked and typed."""

    online_tiles: bool
    max_report_points: int


@dataclass(frozen=True)
class ZoneSettings:
    """``[params.zones]``, checked and typed."""

    min_bin: int
    gap_m: float
    min_reports: int


@dataclass(frozen=True)
class SiteSettings:
    """A site's parameters, one frozen object per stage, built from ``SiteConfig.params``
    (already checked by :func:`load_config`). ``trends`` stays the checked mapping: its
    periods and windows are read with pandas by :func:`pipelines.trends.stage.trend_params`.
    """

    ingest: IngestSettings
    geocode: GeocodeSettings
    hotspots: HotspotParams
    maps: MapSettings
    zones: ZoneSettings
    trends: Mapping[str, Any]


def _typed(cls: type, values: Mapping[str, Any]) -> Any:
    """An instance of the settings dataclass ``cls`` from checked ``values``: dates
    written as text become dates, integers given for decimals become floats."""
    out: dict[str, Any] = {}
    for f in fields(cls):
        value = values[f.name]
        kind = str(f.type)
        if kind.startswith("date") and isinstance(value, str):
            value = date.fromisoformat(value)
        elif kind == "float" and value is not None:
            value = float(value)
        out[f.name] = value
    return cls(**out)


def site_settings(params: Mapping[str, Mapping[str, Any]]) -> SiteSettings:
    """The frozen settings of a site's ``params`` (defaults fill what is not set)."""
    merged = _merge(DEFAULT_PARAMS, {k: dict(v) for k, v in params.items()})
    return SiteSettings(
        ingest=_typed(IngestSettings, merged["ingest"]),
        geocode=_typed(GeocodeSettings, merged["geocode"]),
        hotspots=HotspotParams.from_dict(merged["hotspots"]),
        maps=_typed(MapSettings, merged["maps"]),
        zones=_typed(ZoneSettings, merged["zones"]),
        trends=MappingProxyType(merged["trends"]),
    )


# --------------------------------------------------------------------------- load
#: What each output folder holds, in the messages that name it.
_DIR_ROLES = {
    "processed_dir": "dossier des données traitées",
    "maps_dir": "dossier des cartes",
    "annotations_dir": "dossier des notes des urbanistes",
    "secrets_dir": "dossier des secrets des sites",
}


def _check_dirs_apart(dirs: dict[str, str], path: str) -> None:
    """Refuse output folders that are the same or one inside another: each is written
    (and cleaned by ``make clean``) on its own, so a shared folder would have one
    stage's outputs, or ``make clean``, delete another's files (maps, annotations).

    Raises
    ------
    ConfigError
        Two of the folders coincide or are nested, naming both keys.
    """
    resolved = {key: Path(os.path.abspath(value)).resolve() for key, value in dirs.items()}
    keys = list(resolved)
    for i, first in enumerate(keys):
        for second in keys[i + 1 :]:
            a, b = resolved[first], resolved[second]
            if a == b:
                how = "désignent le même dossier"
            elif a.is_relative_to(b) or b.is_relative_to(a):
                inner, outer = (first, second) if a.is_relative_to(b) else (second, first)
                how = f"sont imbriqués (project.{inner} est dans project.{outer})"
            else:
                continue
            raise ConfigError(
                path,
                f"project.{first} ({_DIR_ROLES.get(first, 'dossier')}, « {dirs[first]} ») et "
                f"project.{second} ({_DIR_ROLES.get(second, 'dossier')}, « {dirs[second]} ») "
                f"{how} : chaque dossier de sortie doit être distinct, sans quoi une étape ou "
                "« make clean » effacerait les fichiers d'un autre.",
                key=f"project.{first}, project.{second}",
            )


def load_config(path: str | Path) -> Config:
    """Read and validate a configuration file, and check the files it names.

    Raises
    ------
    ConfigError
        When the file is missing or not valid TOML, when a key is unknown, missing or of
        the wrong type, a value is out of range, an input file is missing or is not a
        regular file, or an output folder is a file. The message names the file and the
        key.
    """
    path = Path(path)
    problem = input_problem(path)
    if problem == "fichier introuvable":
        raise ConfigError(path, "fichier de configuration introuvable.")
    if problem is not None:
        raise ConfigError(path, f"{problem}.")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(path, f"TOML invalide : {err}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(path, "le fichier doit être encodé en UTF-8.") from err
    except OSError as err:
        raise ConfigError(path, f"lecture impossible : {os_reason(err)}.") from err
    spath = str(path)
    _check_known(raw, TOP_KEYS, spath, "")
    raw_params = _take(raw, "params", dict, spath, "", {})
    _check_params(raw_params, spath, "params")
    params = _merge(DEFAULT_PARAMS, raw_params)
    project = _take(raw, "project", dict, spath, "", {})
    _check_known(project, PROJECT_KEYS, spath, "project")
    raw_sites = _take(raw, "sites", list, spath, "")
    if not raw_sites:
        raise ConfigError(spath, "au moins un site est nécessaire.", key="sites")
    sites = tuple(_site(s, spath, f"sites[{i}]", params) for i, s in enumerate(raw_sites))
    ids = [s.id for s in sites]
    if len(set(ids)) != len(ids):
        raise ConfigError(spath, "identifiants de site en double.", key="sites")
    sites = tuple(  # [publication], then each site's [sites.publication] over it
        replace(s, publication=publication_settings(
            raw.get("publication"), r.get("publication"), spath, f"sites[{i}]"))
        for i, (s, r) in enumerate(zip(sites, raw_sites, strict=True))
    )  # fmt: skip
    defaults = Config(path=spath, sites=sites)
    dirs = {
        key: _take(project, key, str, spath, "project", getattr(defaults, key))
        for key in ("processed_dir", "maps_dir", "annotations_dir", "secrets_dir")
    }
    for key, value in dirs.items():
        dir_problem = _output_dir_problem(Path(value)) if value.strip() else "chemin vide"
        if dir_problem is not None:
            raise ConfigError(spath, f"dossier « {value} » : {dir_problem}.", key=f"project.{key}")
    _check_dirs_apart(dirs, spath)
    tags = (
        _strings(project, "annotation_tags", spath, "project")
        if "annotation_tags" in project
        else defaults.annotation_tags
    )
    config = Config(path=spath, sites=sites, annotation_tags=tags, **dirs)
    for site in sites:
        # The extract and a simulated site's exports are required by the commands that
        # read them (see :func:`check_inputs`); here they are checked when they exist.
        check_inputs(config, site.id, osm=False, simulated_exports=False)
    return config
