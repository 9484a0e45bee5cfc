"""The published tables of a site: what every reader (map, PNG, charts, index) may read.

The publication step (:mod:`pipelines.publish`) writes them under
``processed/<site>/published/``; :func:`read_published` reads them back. A shared module,
the contract between that step and the renderers: it imports no stage, so ``maps/``
reads the published tables without loading any analysis code.

Files (see :data:`FILES`):

``building_profile.parquet``
    One row per building of ``buildings.parquet`` (same order), EPSG:4326: every column
    of the hotspot stage (``n_reports``, ``n_households``, ``n_<category>``, ``n_observations``,
    ``dwellings``, ``reports_per_100_dwellings``, ``gi_bin``…), the trends stage's
    ``emerging_category`` and ``emerging_label_fr``, ``open_backlog`` and
    ``median_delay_h``, ``n_reports_before``, ``n_reports_after``,
    ``n_reports_change`` (the before/after of ``before_after.parquet``), ``zone_id``,
    ``building_label`` (the name of the trend charts, from vetted sources only: OSM,
    the BAN, the gazetteer, never a resident's text; scrubbed; null when the building is
    known by its id only) and ``is_chronic`` when known.
``monthly.parquet``
    Counted reports per ``building_id``, ``month`` (``YYYY-MM``) and ``category``:
    ``n_reports`` and ``n_households`` (distinct households among them; the household
    keys themselves are never published).
``points.parquet``
    The markers a reader sees, EPSG:4326: residents' reports (likely duplicates left
    out) and walkthrough observations with a position: ``source_kind``, ``source``,
    ``category``, ``building_id``, ``reported_at`` (local time, naive),
    ``description`` (scrubbed), ``person_related`` (ingestion's flag; in ``comite`` such
    an observation is drawn only where its building × category cell meets the threshold).
``zones.parquet``
    Hotspot zones: ``zone_id``, ``n_buildings``, ``n_reports``, ``status``,
    ``parent_zone_ids`` (in natural order), ``has_enough_reports`` (false: built from too
    few reports, not drawn), geometry.
``notes.parquet``
    The planners' notes a reader sees (deleted ones left out), linked to buildings and
    zones, with ``orphan_flag``.
``chronic.parquet``
    One row per chronic problem (``chronic.csv`` of the hotspot stage).
``density.parquet``
    The density contours (``kde.parquet``).
``category_series.parquet``
    Counted reports per period of the trends stage's series (``site.json``'s
    ``series.freq``: month by default) and category, empty periods as zeros:
    ``period_start`` (naive datetime), ``category``, ``n_reports``, and the period's
    total over the site ``n_period_reports`` (repeated on each row of the period).
    Under a profile, a table of its own protected with the others (site × period ×
    category, at the period of the monthly table, which ``series.freq`` then gives).
``top_buildings.parquet``
    The buildings with the most reports (``params.trends.top_buildings`` of them), long:
    ``rank`` (1 = most reports), ``building_id``, ``building_label`` (as in the profile;
    the id when the building is known by its id only), ``period_start``, ``n_reports``,
    the trend test of the building's series (``sens_slope_per_period``, ``trend``
    "hausse"/"baisse"/"aucune", ``trend_fr``, ``mk_p``) and, when the trends stage
    computed emerging hotspots, ``emerging_label_fr``.
``closing_delays.parquet``
    Closing delays per category of the trends stage's follow-up:
    ``category``, ``n_closed``, ``median_delay_h``, ``p90_delay_h``, ``target_h``,
    ``share_closed_within_target`` (0–1); no row when the sources give no closing date.
    Like the profile's ``open_backlog`` and ``median_delay_h``, counted without the late
    reports a profile leaves out (:func:`pipelines.publish.left_out.pack_followup`).
    ``interne`` keeps ``n_due`` (the reports due, the share's denominator); under a
    rounding profile the share is drawn from rounded counts
    (:func:`pipelines.publish.charts.closing_delays_of`).
``key_figures.parquet``
    The committee pack's key figures (:mod:`pipelines.publish.keyfigures`): counted
    reports per ``window`` (« depuis »: from the month of the last committee to the end
    of the data; « avant »: as many months just before; « hors »: the other months) and
    category ``group`` (French; null: the window's total over the site), ``n_reports``,
    ``n_households`` (each with its ``_flag``), ``reason``. A table of its own, protected
    and audited with the site's others; the months of each window are ``site.json``'s
    ``key_window`` (``after``, ``before``, ``committee``, ``fallback_months``).
``actions.parquet``
    The action register (issue 17, :mod:`pipelines.publish.actions`), EPSG:4326, one row
    per action kept (removed from the register included, ``is_removed``): ``action_id``,
    ``origin`` (« registre », or « note de la carte » for a draft from a note),
    ``committee_date``, ``committee_kind``, ``target_label`` (« 3 bâtiments »,
    « zone Z2 », « zone dessinée »), ``building_ids`` (``;``-joined), ``zone_id``,
    ``problem``, ``categories`` (codes, ``;``-joined; empty: all), ``decision``,
    ``level``, ``action_type``, ``responsibility``, ``lead_partner``, ``due_date``,
    ``status`` (canonical French), ``status_date``, ``completed_date`` (dates ISO
    ``YYYY-MM-DD`` or null), ``is_overdue``, ``is_removed``, ``is_reopened``,
    ``status_held`` (a step back of the status refused), ``updated_since_last_committee``,
    ``funding``, the effect's ``verdict`` and ``effect_fr`` (``effect_flag`` « s »:
    hidden), the target's reports in the effect's windows ``n_reports_before`` and
    ``n_reports_after`` with their flags, and the target's geometry (the union of its
    buildings, zones and drawn area).
``site.json``
    The site's figures and the vocabulary readers show: period, months, before/after
    windows, totals, parameters shown in legends, labels, and ``too_few_reports``: what
    the analysis stages found too few reports to conclude on, in their words (see
    :func:`pipelines.publish.build.site_facts`); ``series`` (``freq`` of the series
    tables) and, once publish applies disclosure control, ``publication`` (``profile``
    "comite"/"public"/"interne", ``threshold``).

Hidden values (disclosure control, :class:`Publication`): a published count column
``n_…`` may have a companion string column ``n_…_flag``; where it is ``"s"`` (« secret
statistique ») the count is null and a reader shows « < seuil » (maps, fact sheets,
charts) or « s » (tables), never a blank or a zero, and never adds it into a total. No
companion column: every value of that column is exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from pipelines.io import read_geoparquet, read_json

#: The published files, by their name in :class:`Published`.
FILES: dict[str, str] = {
    "profile": "building_profile.parquet",
    "monthly": "monthly.parquet",
    "points": "points.parquet",
    "zones": "zones.parquet",
    "notes": "notes.parquet",
    "chronic": "chronic.parquet",
    "density": "density.parquet",
    "category_series": "category_series.parquet",
    "top_buildings": "top_buildings.parquet",
    "closing_delays": "closing_delays.parquet",
    "key_figures": "key_figures.parquet",
    "actions": "actions.parquet",
    "site": "site.json",
    "audit": "publication_audit.json",
    "method_note": "method_note.html",
    "method_note_md": "method_note.md",
}
#: Optional tables: written empty when the stage that makes them has not run, and read
#: back as ``None`` then (``site.json`` says which exist under ``has``).
OPTIONAL = ("zones", "notes", "chronic", "density", "actions")
#: The indicators per site and quarter (issue 18), published by their own stage
#: (:mod:`pipelines.publish.indicators`) beside :data:`FILES`: ``site`` (one row per
#: quarter), ``category`` (per quarter and category), each with ``cell_flag`` and
#: ``rpls_flag`` (« s »: the counts and rates of that cell hidden, null), the site's
#: with ``watch_flag`` (« s »: its proposed watch level, count and sentence hidden,
#: :mod:`pipelines.publish.watch`); ``entrance``
#: (the entrances whose watch level may be shown: ``quarter``, ``building_id``,
#: ``entrance_label_fr``, ``watch_level``, ``watch_by``, no count); the engine's
#: ``audit``, the method ``note`` (Markdown, French) and a ``summary`` (the profile,
#: the quarters and the site's ``mark``, :data:`SITE_MARKS`).
INDICATOR_FILES: dict[str, str] = {
    "site": "indicators_site.parquet",
    "category": "indicators_category.parquet",
    "entrance": "indicators_entrance.parquet",
    "audit": "indicators_audit.json",
    "note": "indicators_method.md",
    "summary": "indicators_summary.json",
}
#: Why a site has no indicator to show (``mark`` of the published
#: ``indicators_summary.json``, null when it has some), and the French words the
#: portfolio page shows for it: the site stays in the table, marked.
SITE_MARKS: dict[str, str] = {
    "no_reports": "aucun signalement sur la période",
    "no_buildings": "aucun bâtiment OSM dans le périmètre",
}
#: The tables the charts read (:mod:`pipelines.maps.charts`), with ``site.json``.
CHART_TABLES = ("category_series", "top_buildings", "closing_delays")

#: The value of a companion ``<column>_flag`` marking a hidden cell (secret statistique).
HIDDEN_FLAG = "s"
FLAG_SUFFIX = "_flag"

#: The windows of ``key_figures.parquet`` (its ``window`` column): since the last
#: committee, as many months just before it, and every other month of the data.
KEY_AFTER, KEY_BEFORE, KEY_OTHER = "depuis", "avant", "hors"

# The vocabulary of the actions table (issue 17), defined once: the register's reader and
# the follow-up (:mod:`pipelines.actions`), the publication step, the map, the pack and
# the simulator all take it from here.
#: The statuses of an action, canonical French spellings: the main chain, in order…
MAIN_STATUSES: tuple[str, ...] = ("proposée", "décidée", "en cours", "réalisée", "vérifiée")
#: … then the side statuses.
SIDE_STATUSES: tuple[str, ...] = ("en attente partenaire", "reportée", "refusée", "abandonnée")
#: Every status, in the order of the legends and of the counts.
ACTION_STATUSES: tuple[str, ...] = (*MAIN_STATUSES, *SIDE_STATUSES)
#: Carried out (its completion dates the effect; « vérifiée »: checked on site too).
DONE_STATUSES: tuple[str, ...] = ("réalisée", "vérifiée")
#: Dropped: the action will not be carried out (it covers no hotspot).
DROPPED_STATUSES: tuple[str, ...] = ("refusée", "abandonnée")
#: Closed: no longer due, so never overdue.
CLOSED_STATUSES: tuple[str, ...] = (*DONE_STATUSES, *DROPPED_STATUSES)
#: The columns of an action the register and the published table share, in order.
ACTION_DETAILS: tuple[str, ...] = (
    "problem",
    "categories",
    "decision",
    "level",
    "action_type",
    "responsibility",
    "lead_partner",
    "due_date",
    "status",
    "status_date",
    "completed_date",
)
#: An action's free texts (scrubbed of personal data before anything is written).
ACTION_TEXT_COLUMNS: tuple[str, ...] = ("problem", "decision", "funding")
#: An action's dates.
ACTION_DATE_COLUMNS: tuple[str, ...] = (
    "committee_date",
    "due_date",
    "status_date",
    "completed_date",
)


#: The labels of a published period (``month`` of ``monthly.parquet``, of the series):
#: a month, coarsened by a profile to a quarter or a year (:func:`period_of`). A month
#: may also come as a date of its own (a ``period_start`` read back as text).
_QUARTER_LABEL = re.compile(r"(\d{4})-T([1-4])")
_MONTH_LABEL = re.compile(r"(\d{4})-(0[1-9]|1[0-2])(?:-\d{2}(?:[ T][\d:]+)?)?")
_YEAR_LABEL = re.compile(r"\d{4}")


def period_of(label: str) -> pd.Period:
    """The period a published label names: a month ``YYYY-MM`` (or a date in it,
    ``YYYY-MM-DD`` with or without a time), a quarter ``YYYY-Tn`` (the public profile's
    periods) or a year ``YYYY``. The one reader of these labels: pandas' own guess
    reads « 2024-T1 » as a date of its own.

    Raises
    ------
    ValueError
        For any other label (« période publiée illisible »).
    """
    if quarter := _QUARTER_LABEL.fullmatch(label):
        return pd.Period(year=int(quarter[1]), quarter=int(quarter[2]), freq="Q")
    if month := _MONTH_LABEL.fullmatch(label):
        return pd.Period(year=int(month[1]), month=int(month[2]), freq="M")
    if _YEAR_LABEL.fullmatch(label):
        return pd.Period(year=int(label), freq="Y")
    raise ValueError(f"période publiée illisible : « {label} »")


@dataclass(frozen=True)
class Published:
    """The published tables of one site (see the module's docstring)."""

    profile: gpd.GeoDataFrame
    monthly: pd.DataFrame
    points: gpd.GeoDataFrame
    site: dict[str, Any]
    zones: gpd.GeoDataFrame | None = None
    notes: gpd.GeoDataFrame | None = None
    chronic: pd.DataFrame | None = None
    density: gpd.GeoDataFrame | None = None
    category_series: pd.DataFrame | None = None
    top_buildings: pd.DataFrame | None = None
    closing_delays: pd.DataFrame | None = None
    actions: gpd.GeoDataFrame | None = None
    key_figures: pd.DataFrame | None = None


def hidden(frame: pd.DataFrame, column: str) -> pd.Series:
    """Where ``frame[column]`` is hidden (its companion ``<column>_flag`` is ``"s"``);
    all false without a companion column (every value exact)."""
    flag = frame.get(column + FLAG_SUFFIX)
    if flag is None:
        return pd.Series(False, index=frame.index)
    return (flag.astype("string") == HIDDEN_FLAG).fillna(False).astype(bool)


def has_hidden(frame: pd.DataFrame | None) -> bool:
    """True when any count of ``frame`` is hidden (a quick test for the no-flag path)."""
    if frame is None:
        return False
    flags = [c for c in frame.columns if str(c).endswith(FLAG_SUFFIX)]
    return any(bool((frame[c].astype("string") == HIDDEN_FLAG).any()) for c in flags)


@dataclass(frozen=True)
class Publication:
    """The publication profile a site's tables were published under (``publication`` of
    ``site.json``): how readers show a hidden value and say why.

    Attributes
    ----------
    profile
        ``"comite"``, ``"public"`` or ``"interne"`` (absent: ``"interne"``, nothing hidden).
    threshold
        The profile's minimum of households per cell.
    """

    profile: str = "interne"
    threshold: int = 3

    @classmethod
    def of(cls, site: dict[str, Any]) -> Publication:
        """Read ``site["publication"]`` (absent: nothing hidden)."""
        block = site.get("publication") or {}
        return cls(
            profile=str(block.get("profile", "interne")),
            threshold=int(block.get("threshold", 3)),
        )

    @property
    def marker_fr(self) -> str:
        """How a map, a fact sheet or a chart shows a hidden count: « < 3 »."""
        return f"< {self.threshold}"

    @property
    def reason_fr(self) -> str:
        """Why, for a legend: « masqué (secret statistique) : moins de 3 ménages, ou pour
        ne pas être déduit des totaux ». The marker is the same for both (issue 16: one
        marker), so the reason names both: a cell hidden only to protect another (secondary
        suppression) may hold many reports."""
        return (
            f"masqué (secret statistique) : moins de {self.threshold} ménages, "
            "ou pour ne pas être déduit des totaux"
        )


def _table_or_none(path: Path) -> pd.DataFrame | None:
    """A table written empty when absent (no column) is read back as ``None``."""
    if not path.exists():
        return None
    frame = pd.read_parquet(path)
    return frame if len(frame.columns) else None


def read_published(directory: str | Path) -> Published:
    """Read the published tables of a site from ``directory`` (``processed/<site>/published``)."""
    d = Path(directory)
    site = read_json(d / FILES["site"])
    has = site.get("has", {})

    def geo(name: str) -> gpd.GeoDataFrame | None:
        return read_geoparquet(d / FILES[name]) if has.get(name, True) else None

    chronic = pd.read_parquet(d / FILES["chronic"]) if has.get("chronic") else None
    profile = read_geoparquet(d / FILES["profile"])
    points = read_geoparquet(d / FILES["points"])
    return Published(
        profile=profile,
        monthly=pd.read_parquet(d / FILES["monthly"]),
        points=points,
        site=site,
        zones=geo("zones"),
        notes=geo("notes"),
        chronic=chronic,
        density=geo("density"),
        actions=(
            read_geoparquet(d / FILES["actions"])
            if has.get("actions") and (d / FILES["actions"]).exists()
            else None
        ),
        key_figures=_table_or_none(d / FILES["key_figures"]),
        **{
            name: pd.read_parquet(d / FILES[name])
            for name in CHART_TABLES
            if (d / FILES[name]).exists()
        },
    )
