"""The pipeline's graph, declared once: where each stage reads and writes, per site.

:data:`STAGES` gives each stage's inputs, outputs and code folders; the Makefile's
per-site rules (:func:`pipelines.config.make.make_rules`, written by ``vigie deps``) and
``vigie run`` both come from it. :class:`SitePaths` names a site's files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipelines.config import Config
from pipelines.errors import ConfigError
from pipelines.published import CHART_TABLES, INDICATOR_FILES
from pipelines.published import FILES as PUBLISHED_FILES

#: The committee charts (:mod:`pipelines.maps.charts`): ``charts/<name>.png`` and ``.csv``.
CHART_NAMES = ("reports_by_category", "top_buildings", "closing_delays")
#: The French names of the charts' files where a committee or the public opens them: the
#: copies under ``maps_dir/<site>/`` (the map stage's) and the open-data pack's
#: (``maps_dir/public/<site>_<name>``). The processed folder's ``charts/`` keeps the
#: code's names (:data:`CHART_NAMES`), as every table of the pipeline does.
CHART_FILES_FR = {
    "reports_by_category": "signalements_par_categorie",
    "top_buildings": "batiments_les_plus_signales",
    "closing_delays": "delais_de_cloture",
}
#: The committee pack of a site, ``maps_dir/<site>_comite.html`` and ``.pdf``.
PACK_SUFFIX = "_comite"


@dataclass(frozen=True)
class SitePaths:
    """The files of one site under ``processed_dir/<site>/`` and ``maps_dir``."""

    site: str
    processed: Path
    maps: Path
    annotations: Path
    actions: Path

    @classmethod
    def of(cls, config: Config, site: str) -> SitePaths:
        """Paths of ``site`` as laid out by ``config``."""
        return cls(
            site=site,
            processed=Path(config.processed_dir) / site,
            maps=Path(config.maps_dir),
            annotations=Path(config.annotations_dir) / site,
            actions=Path(config.actions_dir) / site,
        )

    # ingestion
    @property
    def ingested(self) -> Path:
        return self.processed / "ingested.parquet"

    @property
    def rejected(self) -> Path:
        return self.processed / "rejected.csv"

    @property
    def outside(self) -> Path:
        return self.processed / "outside_study_area.csv"

    @property
    def ingest_summary(self) -> Path:
        return self.processed / "ingest_summary.json"

    # buildings and geocoding
    @property
    def buildings_osm(self) -> Path:
        return self.processed / "buildings_osm.parquet"

    @property
    def reports(self) -> Path:
        return self.processed / "reports.parquet"

    @property
    def geocode_summary(self) -> Path:
        return self.processed / "geocode_summary.json"

    @property
    def unplaced(self) -> Path:
        return self.processed / "unplaced.csv"

    # statistics
    @property
    def buildings(self) -> Path:
        return self.processed / "buildings.parquet"

    @property
    def hotspot_summary(self) -> Path:
        return self.processed / "hotspot_summary.json"

    # outputs
    @property
    def run_summary(self) -> Path:
        return self.processed / "run_summary.json"

    @property
    def map(self) -> Path:
        return self.maps / f"{self.site}.html"

    @property
    def pack(self) -> Path:
        """The committee pack (:mod:`pipelines.maps.pack`); its PDF has the suffix .pdf."""
        return self.maps / f"{self.site}{PACK_SUFFIX}.html"

    # publication: what every reader reads (pipelines.published.FILES)
    @property
    def charts(self) -> Path:
        return self.processed / "charts"

    @property
    def published(self) -> Path:
        return self.processed / "published"

    @property
    def building_profile(self) -> Path:
        return self.published / "building_profile.parquet"

    @property
    def published_site(self) -> Path:
        return self.published / "site.json"

    # the GeoPackage for QGIS (stage "gpkg")
    @property
    def gpkg(self) -> Path:
        return self.processed / f"vigie_{self.site}.gpkg"


@dataclass(frozen=True)
class Stage:
    """One stage of a site's pipeline, as make and ``vigie run`` see it.

    Attributes
    ----------
    name
        The stage's name (``vigie stage <name>``).
    code
        Folders (or modules) under ``pipelines/`` whose change re-runs the stage: the
        stage's own folder and those of the stages it imports.
    settings
        The site's settings that name input files (``osm``, ``rpls``, ``refs`` = BAN and
        gazetteer, ``sources``, ``annotations`` = the planners' notes folder,
        ``simulated`` = the simulator's files, truth included, ``secret`` = the site's
        secret, ``<secrets_dir>/<site>.key``, made by ``vigie secret`` when missing,
        ``actions`` = the files of the site's action register, ``portfolio`` = the
        split's summary for a site of ``[portfolio]``, nothing for the others).
    reads
        Files it reads: names in the site's processed folder, or ``{maps}/{site}…`` in the
        maps folder.
    writes
        What it writes: names in the site's processed folder (``{site}`` in a name: the
        site's id, as in ``vigie_{site}.gpkg``), or ``{maps}/{site}…`` in the maps folder.
    browser
        Whether it runs the headless Chromium (``make setup`` installs it first).
    """

    name: str
    code: tuple[str, ...]
    settings: tuple[str, ...]
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    browser: bool = False


#: publish/ reads every analysis stage's outputs with those stages' own readers.
_PUBLISH_CODE = (
    "publish", "hotspots", "trends", "zones", "annotations", "actions", "indicators",
    "ingest", "stats",
)  # fmt: skip

#: What publish/ reads (the comité pack and the open-data pack alike).
_PUBLISH_READS = (
    "buildings.parquet",
    "reports.parquet",
    "buildings_summary.json",
    "kde.parquet",
    "chronic.csv",
    "emerging.parquet",
    "followup.csv",
    "before_after.parquet",
    "trends.parquet",
    "trend_tests.parquet",
    "trend_summary.json",
    "zones.parquet",
    "annotations.parquet",
    "actions.parquet",
    "actions_summary.json",
    "hotspot_summary.json",
    "zone_summary.json",
)
#: The folder of the open-data pack's published tables, in the site's processed folder.
PUBLIC_DIR = "published_public"
#: The charts of the open-data pack: not the top buildings' trends (per building, which
#: the public profile never shows: its series are coarsened above the building).
PUBLIC_CHART_NAMES = ("reports_by_category", "closing_delays")
#: The files of the open-data pack in ``maps_dir/public/``, after the site's id: the map
#: and its PNG, the building and monthly tables (CSV), a GeoPackage, and the charts (PNG
#: and their data, CSV). Beside them, the pack's ``index.html`` lists every site's files
#: (rewritten by each site's run: one file for all sites, so no per-site target).
PUBLIC_PACK = (
    ".html", ".png", "_batiments.csv", "_mensuel.csv", ".gpkg",
    *(f"_{CHART_FILES_FR[name]}.{ext}" for name in PUBLIC_CHART_NAMES for ext in ("png", "csv")),
)  # fmt: skip

#: The pipeline of a site, in the order ``vigie run`` runs it. The Makefile's per-site
#: rules are generated from this table (``vigie deps``), so both read one graph.
STAGES: tuple[Stage, ...] = (
    Stage(
        "buildings",
        code=("osm",),
        settings=("osm", "rpls"),
        reads=(),
        writes=(
            "buildings_osm.parquet",
            "buildings_summary.json",
            "buildings_flats_unreadable.csv",
        ),
    ),
    Stage(
        "basemap",
        code=("osm",),
        settings=("osm",),
        reads=(),
        writes=("basemap.parquet", "basemap_summary.json"),
    ),
    Stage(
        "ingest",
        # a portfolio's site: the split's notes of its exports' reading (its summary)
        # added to the ingestion's summary (pipelines.ingest.filenotes.with_split_notes)
        code=("ingest",),
        settings=("sources", "secret", "portfolio"),
        reads=("buildings_summary.json",),
        writes=(
            "ingested.parquet",
            "rejected.csv",
            "outside_study_area.csv",
            "report_history.csv",
            "ingest_summary.json",
        ),
    ),
    Stage(
        "geocode",
        code=("geocode", "osm", "ingest"),
        settings=("osm", "refs"),
        reads=("ingested.parquet", "buildings_osm.parquet"),
        writes=("reports.parquet", "geocode_summary.json", "unplaced.csv"),
    ),
    Stage(
        "hotspots",
        code=("hotspots", "stats", "templates"),
        settings=("simulated",),
        reads=("reports.parquet", "buildings_osm.parquet"),
        writes=(
            "buildings.parquet",
            "hex.parquet",
            "kde.parquet",
            "kde_grid.parquet",
            "chronic.csv",
            "method_note.html",
            "method_note.md",
            "hotspot_summary.json",
        ),
    ),
    Stage(
        "zones",
        code=("zones",),
        settings=(),
        reads=("buildings.parquet",),
        writes=("zones.parquet", "building_zones.csv", "zone_summary.json"),
    ),
    Stage(
        "trends",
        # hotspots: the distance band is the hotspot stage's (hotspots.choose_band).
        code=("trends", "hotspots", "stats"),
        settings=(),
        reads=("reports.parquet", "buildings_osm.parquet"),
        writes=(
            "trends.parquet",
            "trend_tests.parquet",
            "emerging.parquet",
            "before_after.parquet",
            "followup.csv",
            "backlog.csv",
            "trend_summary.json",
        ),
    ),
    Stage(
        "annotations",
        code=("annotations", "zones", "ingest", "templates"),
        settings=("annotations",),
        reads=("buildings.parquet", "zones.parquet"),
        writes=(
            "annotations.parquet",
            "annotations.geojson",
            "annotations.csv",
            "annotation_summary.json",
        ),
    ),
    Stage(
        # The register: a change in its folder re-runs this stage and what reads its
        # outputs (publish, summary, charts, map), never the analysis stages above.
        "actions",
        # stats: the effect estimates (actions/effect.py) use its tests.
        code=("actions", "ingest", "zones", "stats"),
        settings=("actions",),
        reads=("buildings.parquet", "zones.parquet", "reports.parquet", "annotations.parquet"),
        writes=("actions.parquet", "actions_rejected.csv", "actions_summary.json"),
    ),
    # Indicators per site and quarter (issue 18): an analysis stage, tables only.
    Stage(
        "indicators",
        code=("indicators", "stats"),
        # annotations: the analyst's levels (niveaux_veille.csv) in the notes folder.
        settings=("annotations",),
        reads=(
            "reports.parquet",
            "buildings.parquet",
            "followup.csv",
            "backlog.csv",
            "emerging.parquet",
            "actions.parquet",
        ),
        writes=(
            "indicators_site.parquet",
            "indicators_category.parquet",
            "indicators_entrance.parquet",
            "indicators_summary.json",
            "indicators_method.md",
        ),
    ),
    Stage(
        "publish",
        code=_PUBLISH_CODE,
        settings=(),
        reads=_PUBLISH_READS,
        writes=tuple(f"published/{name}" for name in PUBLISHED_FILES.values()),
    ),
    # The indicators under the readers' profile (pipelines.publish.indicators): beside the
    # published tables, read by the index's portfolio page.
    Stage(
        "publish_indicators",
        code=_PUBLISH_CODE,
        settings=(),
        reads=(
            "reports.parquet",
            "buildings.parquet",
            "indicators_site.parquet",
            "indicators_category.parquet",
            "indicators_entrance.parquet",
            "indicators_method.md",
            # What is shown must be a sum of cells these already show; the hotspots,
            # those the profile shows; the trends, of the months shown (site.json: by
            # month or not).
            f"published/{PUBLISHED_FILES['category_series']}",
            f"published/{PUBLISHED_FILES['monthly']}",
            f"published/{PUBLISHED_FILES['profile']}",
            f"published/{PUBLISHED_FILES['site']}",
        ),
        writes=tuple(f"published/{name}" for name in INDICATOR_FILES.values()),
    ),
    Stage(
        "summary",
        code=_PUBLISH_CODE,
        # A portfolio's site: the split's summary, whose rows given to the site must be
        # the rows its ingestion read.
        settings=("portfolio",),
        reads=(
            "buildings_summary.json",
            "basemap_summary.json",
            "ingest_summary.json",
            "geocode_summary.json",
            "hotspot_summary.json",
            "zone_summary.json",
            "trend_summary.json",
            "annotation_summary.json",
            "actions_summary.json",
            "published/publication_audit.json",
        ),
        writes=("run_summary.json",),
    ),
    Stage(
        "charts",
        code=("maps",),
        settings=(),
        reads=tuple(f"published/{PUBLISHED_FILES[n]}" for n in (*CHART_TABLES, "site")),
        writes=tuple(f"charts/{name}.{ext}" for name in CHART_NAMES for ext in ("png", "csv")),
    ),
    # The site's GeoPackage for QGIS, styled (pipelines.maps.gpkg), with its QML files
    # beside it (which layers a site has depends on its data: the GeoPackage is the target).
    Stage(
        "gpkg",
        code=("maps",),
        settings=(),
        reads=tuple(f"published/{name}" for name in PUBLISHED_FILES.values()),
        writes=("vigie_{site}.gpkg",),
    ),
    Stage(
        "map",
        code=("maps", "templates"),
        settings=(),
        # and the pages the index links to, under maps/ so that the folder copied alone
        # opens them (pipelines.maps.method_pages): the notes, the charts
        reads=(
            *(f"published/{name}" for name in PUBLISHED_FILES.values()),
            "basemap.parquet",
            f"published/{INDICATOR_FILES['note']}",
            *(f"charts/{name}.png" for name in CHART_NAMES),
        ),
        writes=(
            "{maps}/{site}.html",
            "{maps}/{site}.png",
            "{maps}/{site}/methode.html",
            "{maps}/{site}/indicateurs.html",
            *(f"{{maps}}/{{site}}/{CHART_FILES_FR[name]}.png" for name in CHART_NAMES),
        ),
    ),
    # The committee pack and its PDF (printed by headless Chromium), from the published
    # tables, the charts and the map's PNG (:mod:`pipelines.maps.pack`).
    Stage(
        "comite",
        code=("maps", "templates"),
        settings=(),
        reads=(
            *(f"published/{name}" for name in PUBLISHED_FILES.values()),
            *(f"charts/{name}.png" for name in CHART_NAMES),
            "{maps}/{site}.png",
        ),
        writes=(f"{{maps}}/{{site}}{PACK_SUFFIX}.html", f"{{maps}}/{{site}}{PACK_SUFFIX}.pdf"),
        browser=True,
    ),
    # The open-data pack (`make public`), under [publication.outputs] exports: not part
    # of `vigie run` nor of `make demo`, which stop at "comite".
    Stage(
        "publish_public",
        code=_PUBLISH_CODE,
        settings=(),
        # and the indicators (issue 18), under the same profile
        reads=(
            *_PUBLISH_READS,
            "indicators_site.parquet",
            "indicators_category.parquet",
            "indicators_entrance.parquet",
            "indicators_method.md",
        ),
        writes=tuple(
            f"{PUBLIC_DIR}/{name}"
            for name in (*PUBLISHED_FILES.values(), *INDICATOR_FILES.values())
        ),
    ),
    Stage(
        "public",
        code=("maps", "templates"),
        settings=(),
        reads=(*(f"{PUBLIC_DIR}/{name}" for name in PUBLISHED_FILES.values()), "basemap.parquet"),
        writes=tuple(f"{{maps}}/public/{{site}}{suffix}" for suffix in PUBLIC_PACK),
    ),
)

STAGE_NAMES = tuple(s.name for s in STAGES)

#: What the index page (``maps_dir/index.html``, ``vigie index``) reads or links, per
#: site, as :attr:`Stage.reads` names them: every file the map and committee stages write
#: in the maps folder (the map, its PNG, the pack and its PDF, and the pages and charts
#: under ``maps_dir/<site>/``), the run summary, and the published tables the index or
#: the portfolio page read. They are the index's prerequisites in the Makefile (variable
#: ``INDEX_INPUTS``, written by ``vigie deps``): a missing or stale one is made again
#: before the index.
INDEX_READS: tuple[str, ...] = (
    *(w for s in STAGES if s.name in ("map", "comite") for w in s.writes),
    "run_summary.json",
    *(f"published/{PUBLISHED_FILES[k]}" for k in ("site", "notes", "profile")),
    *(f"published/{INDICATOR_FILES[k]}" for k in ("site", "entrance", "summary")),
)


def stage(name: str) -> Stage:
    """The stage called ``name``."""
    for s in STAGES:
        if s.name == name:
            return s
    raise KeyError(f"unknown stage {name!r}; stages: {', '.join(STAGE_NAMES)}")


def stage_summaries(processed: Path) -> dict[str, Path]:
    """Each stage's summary file, by the name it takes in ``run_summary.json``."""
    return {
        "buildings": processed / "buildings_summary.json",
        "basemap": processed / "basemap_summary.json",
        "ingest": processed / "ingest_summary.json",
        "geocode": processed / "geocode_summary.json",
        "hotspots": processed / "hotspot_summary.json",
        "zones": processed / "zone_summary.json",
        "trends": processed / "trend_summary.json",
        "annotations": processed / "annotation_summary.json",
        "actions": processed / "actions_summary.json",
        "publication": processed / "published" / "publication_audit.json",
    }


#: The files of the maps folder that belong to no site, and what they are.
SHARED_MAPS_FILES = {
    "index.html": "la page d'accueil des cartes",
    "public/index.html": "la page d'accueil du paquet public",
}


def site_maps_files(site: str) -> tuple[str, ...]:
    """The files ``site`` writes in the maps folder (relative to it), from :data:`STAGES`:
    ``<site>.html``, ``<site>_comite.pdf``, ``public/<site>_mensuel.csv``…"""
    return tuple(
        w.format(maps="", site=site).lstrip("/")
        for s in STAGES
        for w in s.writes
        if w.startswith("{maps}")
    )


def check_site_files(config: Config) -> None:
    """Refuse a site whose files would be another's, or the index page's.

    A site's files are named after its id, so that ids which differ may still name one
    file: site « bondy_comite » writes ``maps/bondy_comite.html``, the committee pack of
    site « bondy »; site « index » writes ``maps/index.html``, the index page; « Bondy »
    and « bondy » name one folder on Windows and macOS. Each would overwrite the other
    without a word. Names are compared case-folded.

    Raises
    ------
    ConfigError
        Naming the site's key (``sites[i].id``, or the perimeter layer's feature) and
        the file both would write.
    """
    portfolio = {p.id: p for p in config.portfolio.sites} if config.portfolio else {}
    owners: dict[str, str | None] = {name: None for name in SHARED_MAPS_FILES}
    for i, site in enumerate(config.sites):
        where, key = "", f"sites[{i}].id"
        if site.id in portfolio and config.portfolio is not None:
            perimeter = portfolio[site.id]
            where = f"« {config.portfolio.perimeters} », entité n° {perimeter.feature}, "
            key = "portfolio.id_field"
        folder = f"{site.id}/"
        for name in (folder, *site_maps_files(site.id)):
            other = owners.setdefault(name.casefold(), site.id)
            if other == site.id:
                continue
            if name == folder:
                clash = (
                    f"« {site.id} » et « {other} » ne diffèrent que par la casse : leurs "
                    f"dossiers ({config.processed_dir}/{site.id}/) et fichiers seraient les "
                    "mêmes sous Windows et macOS"
                )
            else:
                whose = SHARED_MAPS_FILES.get(name) if other is None else None
                clash = f"son fichier « {config.maps_dir}/{name} » serait aussi " + (
                    whose or f"un fichier du site « {other} »"
                )
            raise ConfigError(
                config.path,
                f"{where}site « {site.id} » : {clash} ; donnez-lui un autre identifiant.",
                key=key,
            )
