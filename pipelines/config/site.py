"""The configuration's objects: a source, a site and the whole file (what
:func:`pipelines.config.load_config` returns)."""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.config.publication import PublicationSettings
from pipelines.config.settings import SiteSettings, site_settings
from pipelines.errors import ConfigError

if TYPE_CHECKING:
    from pipelines.config.portfolio import PortfolioConfig

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
    #: :attr:`params` as one frozen, typed settings object per stage, built once when
    #: the site is made (a bad value raises :class:`ConfigError` naming the key).
    settings: SiteSettings = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A frozen dataclass sets a derived field through object.__setattr__.
        object.__setattr__(self, "settings", site_settings(self.params))


@dataclass(frozen=True)
class Config:
    """The whole configuration file."""

    path: str
    sites: tuple[SiteConfig, ...]
    processed_dir: str = "data/processed"
    maps_dir: str = "maps"
    annotations_dir: str = "data/annotations"
    secrets_dir: str = "data/secrets"  # per-site secrets (pipelines.ingest.household)
    # The action registers, one folder per site (pipelines.actions).
    actions_dir: str = "data/actions"
    # A note tagged « action » becomes a draft action (pipelines.actions.drafts).
    annotation_tags: tuple[str, ...] = (
        "priorité avant travaux",
        "à surveiller",
        "traité",
        "action",
    )
    #: From this many sites on, ``maps/index.html`` is the portfolio page (a sortable
    #: table of the sites' indicators and a map of their perimeters, issue 18).
    portfolio_page_from: int = 5
    #: The sites declared by a perimeter layer (``[portfolio]``), if any: their sites
    #: are in :attr:`sites` too, after the sites declared one by one.
    portfolio: PortfolioConfig | None = None

    def site(self, site_id: str) -> SiteConfig:
        """Return the site with this id, or raise a :class:`ConfigError` listing them."""
        for site in self.sites:
            if site.id == site_id:
                return site
        known = ", ".join(s.id for s in self.sites)
        raise ConfigError(self.path, f"site « {site_id} » inconnu (sites : {known}).")
