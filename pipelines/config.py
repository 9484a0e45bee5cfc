"""The TOML configuration: sites, their sources and the parameters of every stage.

Relative paths in the file are resolved against the current working directory (the
project root, where ``make`` runs). Every problem is reported as a :class:`ConfigError`
naming the file and the key.

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
import glob
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.errors import ConfigError
from pipelines.taxonomy import CODES

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
    "zones": {"min_bin": 2, "gap_m": 15.0},
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


@dataclass(frozen=True)
class Config:
    """The whole configuration file."""

    path: str
    sites: tuple[SiteConfig, ...]
    processed_dir: str = "data/processed"
    maps_dir: str = "maps"
    annotations_dir: str = "data/annotations"
    annotation_tags: tuple[str, ...] = ("priorité avant travaux", "à surveiller", "traité")

    def site(self, site_id: str) -> SiteConfig:
        """Return the site with this id, or raise a :class:`ConfigError` listing them."""
        for site in self.sites:
            if site.id == site_id:
                return site
        known = ", ".join(s.id for s in self.sites)
        raise ConfigError(self.path, f"site « {site_id} » inconnu (sites : {known}).")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _take(
    table: dict[str, Any], key: str, kind: type, path: str, where: str, default: Any = ...
) -> Any:
    if key not in table:
        if default is ...:
            raise ConfigError(path, "clé obligatoire manquante.", key=f"{where}.{key}")
        return default
    value = table[key]
    if not isinstance(value, kind):
        raise ConfigError(
            path, f"attendu {kind.__name__}, trouvé {type(value).__name__}.", key=f"{where}.{key}"
        )
    return value


def _source(raw: dict[str, Any], path: str, where: str) -> SourceConfig:
    sid = _take(raw, "id", str, path, where)
    kind = _take(raw, "kind", str, path, where, "reports")
    if kind not in SOURCE_KINDS:
        raise ConfigError(path, f"« {kind} » : attendu {SOURCE_KINDS}.", key=f"{where}.kind")
    fmt = _take(raw, "format", str, path, where, "auto")
    if fmt not in SOURCE_FORMATS:
        raise ConfigError(path, f"« {fmt} » : attendu {SOURCE_FORMATS}.", key=f"{where}.format")
    columns = _take(raw, "columns", dict, path, where, {})
    for role in columns:
        if role not in COLUMN_ROLES:
            raise ConfigError(
                path,
                f"rôle de colonne inconnu ; rôles possibles : {', '.join(COLUMN_ROLES)}.",
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
    known = {
        "id",
        "kind",
        "path",
        "format",
        "encoding",
        "separator",
        "decimal",
        "date_format",
        "sheet",
        "crs",
        "columns",
        "categories",
        "personal_columns",
        "default_category",
    }
    for key in raw:
        if key not in known:
            raise ConfigError(
                path,
                f"clé inconnue ; clés possibles : {', '.join(sorted(known))}.",
                key=f"{where}.{key}",
            )
    return SourceConfig(
        id=sid,
        kind=kind,
        path=_take(raw, "path", str, path, where),
        format=fmt,
        encoding=_take(raw, "encoding", str, path, where, None),
        separator=_take(raw, "separator", str, path, where, None),
        decimal=_take(raw, "decimal", str, path, where, None),
        date_format=_take(raw, "date_format", str, path, where, None),
        sheet=_take(raw, "sheet", str, path, where, None),
        crs=_take(raw, "crs", str, path, where, "EPSG:4326"),
        columns={str(k): str(v) for k, v in columns.items()},
        categories={str(k): str(v) for k, v in categories.items()},
        personal_columns=tuple(_take(raw, "personal_columns", list, path, where, [])),
        default_category=default_category,
    )


def _site(raw: dict[str, Any], path: str, where: str, params: dict[str, Any]) -> SiteConfig:
    sid = _take(raw, "id", str, path, where)
    if not sid.replace("_", "").replace("-", "").isalnum():
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
    bbox = _take(raw, "study_area_bbox", list, path, where, None)
    if bbox is not None and len(bbox) != 4:
        raise ConfigError(
            path, "attendu [ouest, sud, est, nord] en degrés.", key=f"{where}.study_area_bbox"
        )
    site_params = _take(raw, "params", dict, path, where, {})
    return SiteConfig(
        id=sid,
        name=_take(raw, "name", str, path, where, sid),
        osm=_take(raw, "osm", str, path, where),
        sources=sources,
        ban=_take(raw, "ban", str, path, where, None),
        rpls=_take(raw, "rpls", str, path, where, None),
        gazetteer=_take(raw, "gazetteer", str, path, where, None),
        simulated=_take(raw, "simulated", bool, path, where, False),
        study_area_bbox=tuple(float(v) for v in bbox) if bbox else None,  # type: ignore[arg-type]
        attribution=tuple(_take(raw, "attribution", list, path, where, [])),
        params=_merge(params, site_params),
    )


def load_config(path: str | Path) -> Config:
    """Read and validate a configuration file.

    Raises
    ------
    ConfigError
        When the file is missing, is not valid TOML, or a key is missing or wrong.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(path, "fichier de configuration introuvable.")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(path, f"TOML invalide : {err}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(path, "le fichier doit être encodé en UTF-8.") from err
    spath = str(path)
    params = _merge(DEFAULT_PARAMS, _take(raw, "params", dict, spath, "", {}))
    project = _take(raw, "project", dict, spath, "", {})
    raw_sites = _take(raw, "sites", list, spath, "")
    if not raw_sites:
        raise ConfigError(spath, "au moins un site est nécessaire.", key="sites")
    sites = tuple(_site(s, spath, f"sites[{i}]", params) for i, s in enumerate(raw_sites))
    ids = [s.id for s in sites]
    if len(set(ids)) != len(ids):
        raise ConfigError(spath, "identifiants de site en double.", key="sites")
    return Config(
        path=spath,
        sites=sites,
        processed_dir=_take(project, "processed_dir", str, spath, "project", "data/processed"),
        maps_dir=_take(project, "maps_dir", str, spath, "project", "maps"),
        annotations_dir=_take(
            project, "annotations_dir", str, spath, "project", "data/annotations"
        ),
        annotation_tags=tuple(
            _take(
                project,
                "annotation_tags",
                list,
                spath,
                "project",
                ["priorité avant travaux", "à surveiller", "traité"],
            )
        ),
    )
