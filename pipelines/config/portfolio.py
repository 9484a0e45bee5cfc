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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.config.files import input_problem
from pipelines.config.perimeter_layer import (
    PORTFOLIO_DIR,
    Perimeter,
    perimeter_layer,
    read_perimeter_sites,
)
from pipelines.config.site import SourceConfig
from pipelines.config.sources import read_source
from pipelines.config.values import (
    check_known,
    shared_site_keys,
    site_id_problem,
    site_id_text,
    take,
    toml_type,
)
from pipelines.errors import ConfigError

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
