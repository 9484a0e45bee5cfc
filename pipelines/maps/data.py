"""The data block of a site map: every value the page draws, already escaped.

:func:`map_data` turns the processed frames of a site into one JSON-ready dictionary,
read by the inline script ``pipelines/templates/map.js``. Each optional layer is built when
its columns or file exist, else a French note says why it is missing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd

from pipelines.config import MapSettings
from pipelines.crs import WGS84
from pipelines.fr import fr_month, fr_number, fr_period, plural
from pipelines.maps.actions import actions_block, actions_by_building, actions_section_html
from pipelines.maps.html import (
    OSM_CREDIT,
    TOO_FEW_FR,
    as_number,
    building_fact_sheet,
    building_title,
    esc,
    present,
)
from pipelines.maps.layers import (
    annotations_block,
    basemap_block,
    features,
    kde_block,
    notes_by,
    observations_block,
    reports_block,
    round_geometries,
    zones_block,
)
from pipelines.maps.views import (
    NICE_MANTISSAS,
    PALETTE,
    ZERO_COLOUR,
    View,
    by_building_month,
    change_view,
    emerging_view,
    gi_view,
    monthly_counts,
)
from pipelines.published import Publication, Published, has_hidden, hidden
from pipelines.taxonomy import label_of

log = logging.getLogger(__name__)

#: Optional web tile layers (only with ``params.maps.online_tiles = true``).
ONLINE_TILES = (
    {
        "name": "Fond OpenStreetMap (en ligne)",
        "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attribution": "© contributeurs OpenStreetMap (ODbL)",
    },
    {
        "name": "Plan IGN (en ligne)",
        "url": "https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
        "&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2&STYLE=normal&TILEMATRIXSET=PM"
        "&FORMAT=image/png&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}",
        "attribution": "© IGN – Plan IGN (Licence Ouverte 2.0)",
    },
)


def _chronic_by_building(chronic: pd.DataFrame | None) -> dict[str, list[str]]:
    """One French sentence per row of ``chronic.csv``, grouped by building (unescaped).

    Uses ``category``/``category_label``, ``n_reports_in_window``, ``window_days``,
    ``first_date`` and ``last_date`` when present.
    """
    if chronic is None or chronic.empty or "building_id" not in chronic:
        return {}
    out: dict[str, list[str]] = {}
    for _, r in chronic.iterrows():
        code = str(r.get("category", ""))
        label = r.get("category_label")
        text = str(label) if present(label) else label_of(code)
        n, days = as_number(r.get("n_reports_in_window")), as_number(r.get("window_days"))
        if n is not None and days is not None:
            text += f" : {plural(n, 'signalement')} en {fr_number(days)} jours"
        first, last = r.get("first_date"), r.get("last_date")
        if isinstance(first, str) and isinstance(last, str):
            with contextlib.suppress(ValueError):
                text += f" ({fr_period(pd.Timestamp(first), pd.Timestamp(last))})"
        out.setdefault(str(r["building_id"]), []).append(text)
    return out


def counts_or_null(frame: pd.DataFrame, column: str) -> Sequence[int | None]:
    """The counts of ``frame[column]`` for the page, null where hidden (never a zero)."""
    flags = hidden(frame, column).to_numpy()
    values = frame[column]
    if not flags.any():
        return values.astype(int).tolist()
    return [None if h else int(v) for v, h in zip(values, flags, strict=True)]


def hidden_monthly(
    monthly: pd.DataFrame, buildings: pd.DataFrame, months: pd.PeriodIndex
) -> pd.DataFrame | None:
    """Per building and month (as :func:`pipelines.maps.views.monthly_counts`), whether a
    published cell of that month is hidden (secret statistique); ``None`` when none is."""
    flags = hidden(monthly, "n_reports")
    if not flags.any():
        return None
    out = by_building_month(monthly, buildings, months, flags.astype(int), "max")
    return out.astype(bool)


# ----------------------------------------------------------------------------- data
#: Options of a site map: the checked ``params.maps`` of the configuration
#: (``SiteConfig.settings.maps``). The before/after periods and the density bandwidth
#: are the published ones (``published/site.json``).
MapOptions = MapSettings


@dataclass(frozen=True)
class TooFewReports:
    """What the analysis stages found too few reports to conclude on, in their words, as
    publish carried it (``too_few_reports`` of ``published/site.json``).

    The map draws no conclusion there and its legend says why; it decides nothing itself
    (a number drawn on a map is a number from a published table).

    Attributes
    ----------
    site
        The hotspot stage's ``sample`` note: the whole site has too few reports, so no
        hotspot colours, zones or hotspot trends are drawn.
    zones
        The zones stage's note on the zones built from too few reports
        (``has_enough_reports`` false in the published zones), which are not drawn.
    """

    site: str | None = None
    zones: str | None = None

    @classmethod
    def from_site(cls, facts: Mapping[str, Any]) -> TooFewReports:
        """Read ``facts["too_few_reports"]`` (``published/site.json``; absent: nothing
        found too few)."""
        block = facts.get("too_few_reports") or {}
        sample = block.get("site") or {}
        flagged = block.get("zones") or {}
        return cls(
            site=str(sample["note_fr"]) if sample.get("too_few_reports") else None,
            zones=str(flagged["note_fr"]) if flagged.get("note_fr") else None,
        )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` (geometry left out) as plain dictionaries, in row order.

    For speed: the fact sheets read some thirty cells of each of thousands of buildings,
    and a pandas row's lookup costs ~30 µs where a dictionary's costs ~0.1 µs. On
    ``bench maps``' 100,000-report site (4,316 buildings) the map build went from 15.9 s
    to 3.8 s with this and :func:`pipelines.maps.views.by_building_month`, both measured
    on the same loaded machine (the bench figure unloaded: 4.1 s before).
    """
    rows = frame.drop(columns="geometry", errors="ignore").to_dict("records")
    return cast(list[dict[str, Any]], rows)  # published column names are texts


def building_titles(profile: pd.DataFrame) -> list[str]:
    """The name of each building in the popups and tooltips (unescaped), in row order.

    The published ``building_label`` (the name of the trend charts: OSM name, OSM
    address, else the known address or gazetteer code the reports matched; never a
    resident's own text), so that a building has the same name on the map and the charts; a
    ``residence_name`` wins, and a building known by its id only is named by its size
    (:func:`pipelines.maps.html.building_title`).
    """
    out = []
    for row in _records(profile):
        label = row.get("building_label")
        if present(row.get("residence_name")) or not present(label):
            out.append(building_title(row))
        else:
            out.append(str(label))
    return out


def map_data(
    published: Published,
    *,
    site_name: str,
    basemap: gpd.GeoDataFrame | None = None,
    options: MapOptions | None = None,
) -> dict[str, Any]:
    """Everything the page draws, as one JSON-ready dictionary (texts already escaped).

    Parameters
    ----------
    published
        The site's published tables (:mod:`pipelines.published`): the building
        profile (``building_id``, ``n_reports``, ``n_<category>``, and optionally
        ``dwellings``, ``reports_per_100_dwellings``, ``gi_bin``, ``emerging_category``,
        ``emerging_label_fr``, ``is_chronic``, ``open_backlog``, ``zone_id``,
        ``n_reports_before``/``n_reports_after``/``n_reports_change``…), the monthly
        counts, the markers, the zones (drawn under the buildings), the notes (their own
        layer, and in the fact sheets of their buildings and zones), the actions of the
        register (their own layer, and in the fact sheets of the buildings they target;
        none without the table), the chronic problems, the density contours and
        ``site.json``. Where ``site.json`` says the site has too few reports
        (:class:`TooFewReports`), no Gi* view, emerging-hotspot view or zone is drawn and
        the legend and fact sheets say « trop peu de
        signalements pour conclure »; a zone whose ``has_enough_reports`` is false is not
        drawn (nor named on its buildings), and the legend names it.
    basemap
        ``basemap.parquet`` (:mod:`pipelines.osm`), or ``None``.
    options
        :class:`MapOptions`.

    Returns
    -------
    dict
        The data block read by ``pipelines/templates/map.js``. Every building feature
        carries ``i`` (its row), ``building_id`` and, when in a zone, ``zone_id``.
    """
    options = options or MapOptions()
    facts = published.site
    too_few = TooFewReports.from_site(facts)
    b = published.profile.to_crs(WGS84).reset_index(drop=True)
    legend_notes: list[str] = []
    points = published.points
    kind = points["source_kind"]
    resident = points[kind != "observations"]
    observations = points[kind == "observations"]
    period_of = facts.get("period") or {}
    start = pd.Timestamp(period_of["start"]) if period_of else None
    end = pd.Timestamp(period_of["end"]) if period_of else None
    months = pd.PeriodIndex(facts.get("months", []), freq="M")
    period = fr_period(start, end)
    day0 = months[0].start_time if len(months) else pd.Timestamp("2000-01-01")

    # Per-building monthly counts (period selector) and the 12-month sparkline. A month
    # holding a hidden cell (secret statistique) is null: the page never sums it.
    publication = Publication.of(facts)
    monthly = monthly_counts(published.monthly, b, months)
    hidden_months = hidden_monthly(published.monthly, b, months)
    spark_months = list(months[-12:])
    chronic_map = _chronic_by_building(published.chronic)
    titles = building_titles(b)
    planner_notes = (
        published.notes if published.notes is not None and len(published.notes) else None
    )
    building_notes = notes_by(planner_notes, "building_ids")
    building_actions = actions_by_building(published.actions, b)
    fiches = []
    last_year = monthly.to_numpy()[:, -12:]
    last_year_hidden: list[bool] | None = (
        [bool(x) for x in hidden_months.iloc[:, -12:].any(axis=1)]
        if hidden_months is not None
        else None
    )
    for i, row in enumerate(_records(b)):
        hidden_here = last_year_hidden is not None and bool(last_year_hidden[i])
        series = last_year[i] if len(months) else None
        if hidden_here:
            series = None  # not drawn with a hidden month (the fact sheet says so)
        fiches.append(
            building_fact_sheet(
                row,
                title=titles[i],
                period=period,
                months=spark_months,
                monthly=series,
                chronic=chronic_map.get(str(row["building_id"]), ()),
                notes=building_notes.get(str(row["building_id"]), ()),
                # The reason in a few words (the legend gives it whole), not 1,000 copies.
                hotspot_note=TOO_FEW_FR if too_few.site else None,
                publication=publication,
                hidden_months=hidden_here,
                actions_html=actions_section_html(
                    building_actions.get(str(row["building_id"]), ())
                ),
            )
        )
    dwellings = (
        pd.to_numeric(b["dwellings"], errors="coerce")
        if "dwellings" in b
        else pd.Series(np.nan, index=b.index)
    )
    is_chronic = b["is_chronic"].fillna(False).astype(bool) if "is_chronic" in b else None
    hidden_n = hidden(b, "n_reports")
    n_shown = b["n_reports"].fillna(0).astype(int).tolist()
    if hidden_n.any():  # null: hidden, never a zero
        n_shown = [None if h else n for n, h in zip(n_shown, hidden_n, strict=True)]
    block_b: dict[str, Any] = {
        "title": [esc(t) for t in titles],
        "n": n_shown,
        "dw": [float(x) if pd.notna(x) and x > 0 else None for x in dwellings],
        "fiche": fiches,
        "chronic": is_chronic.astype(int).tolist() if is_chronic is not None else None,
    }
    if hidden_months is None:
        nz = monthly.index[monthly.sum(axis=1) > 0]
        block_monthly = {"i": [int(i) for i in nz], "c": monthly.loc[nz].to_numpy().tolist()}
    else:
        nz = monthly.index[(monthly.sum(axis=1) > 0) | hidden_months.any(axis=1)]
        cells = monthly.loc[nz].astype(object).mask(hidden_months.loc[nz], None)
        block_monthly = {"i": [int(i) for i in nz], "c": cells.to_numpy().tolist()}
    any_hidden = (
        bool(hidden_n.any())
        or hidden_months is not None
        or has_hidden(b)
        or has_hidden(published.monthly)
    )
    if any_hidden:
        legend_notes.append(f"« {publication.marker_fr} » : {publication.reason_fr}.")
    n_obs = pd.to_numeric(b.get("n_observations", pd.Series(dtype=float)), errors="coerce")
    if publication.profile == "comite" and n_obs.fillna(0).sum() > 0:
        legend_notes.append(
            "Observations de terrain liées aux personnes (occupation, nuisibles, logement "
            "ou étage nommé) : dessinées seulement là où la même catégorie compte au moins "
            f"{publication.threshold} ménages dans le bâtiment ; sinon comptées dans sa fiche."
        )

    # Views.
    views = [
        View(
            "count",
            "Nombre de signalements",
            "Signalements par bâtiment",
            "Plus la couleur est foncée, plus le bâtiment a reçu de signalements "
            "(doublons probables et observations de terrain non comptés).",
            dynamic="count",
        )
    ]
    if dwellings.notna().any():
        views.append(
            View(
                "rate",
                "Signalements pour 100 logements",
                "Signalements pour 100 logements",
                "Rapporte les signalements à la taille du bâtiment. Hachuré : nombre de "
                "logements inconnu, pas de taux.",
                dynamic="rate",
            )
        )
    else:
        legend_notes.append("Taux pour 100 logements : non disponible (logements inconnus).")
    if too_few.site:
        # No hotspot view, no hotspot trend view (and no zone, below): the hotspot stage
        # concluded nothing, and the legend says why.
        legend_notes.append(
            f"Points chauds, zones et tendances des points chauds : {too_few.site}."
        )
    else:
        if "gi_bin" in b:
            views.append(gi_view(b))
        else:
            legend_notes.append("Points chauds (Gi*) : non calculés pour ce site.")
        if "emerging_category" in b:
            views.append(emerging_view(b, facts.get("emerging_labels_fr", [])))
        else:
            legend_notes.append("Tendances des points chauds : non calculées pour ce site.")
    compare = facts.get("compare")
    has_change = compare is not None and "n_reports_change" in b
    if compare is not None and has_change:
        change = b["n_reports_change"].mask(hidden(b, "n_reports_change"))
        views.append(
            change_view(
                change, compare["before"], compare["after"],
                hidden_label=f"{publication.marker_fr} : {publication.reason_fr}",
            )
        )  # fmt: skip
    else:
        legend_notes.append("Évolution avant / après : moins de deux mois de données.")

    # Overlays.
    block_reports, categories = reports_block(
        resident, {str(x): i for i, x in enumerate(b["building_id"])},
        months=months, day0=day0, max_points=options.max_report_points,
    )  # fmt: skip
    block_obs = (
        observations_block(observations, months=months, day0=day0) if len(observations) else None
    )
    block_kde = kde_block(published.density, facts.get("kde_bandwidth_m"))
    if block_kde is None:
        legend_notes.append("Densité (noyau quartique) : non calculée pour ce site.")
    if is_chronic is None:
        legend_notes.append("Problèmes chroniques : non calculés pour ce site.")
    block_basemap = basemap_block(basemap)
    if block_basemap is None:
        legend_notes.append("Fond de plan : indisponible (extrait OSM non lu).")
    zones = published.zones
    # The zones the zones stage found enough reports in (all of them, for zones written
    # before the flag); none when the site has too few reports.
    shown = None if too_few.site else zones
    n_hidden = 0
    if shown is not None and "has_enough_reports" in shown:
        enough = shown["has_enough_reports"].astype("boolean").fillna(True).astype(bool)
        shown, n_hidden = shown[enough], int((~enough).sum())
    block_zones = zones_block(
        shown, notes_by(planner_notes, "zone_ids"), hidden_marker=publication.marker_fr
    )
    if too_few.site:
        pass  # said with the views
    elif zones is None:
        legend_notes.append("Zones de points chauds : non calculées pour ce site.")
    elif n_hidden:
        legend_notes.append(
            "Zones de points chauds : "
            + (
                too_few.zones
                or f"{plural(n_hidden, 'zone')} non dessinée(s) : trop peu de signalements "
                "pour conclure."
            )
        )
    elif block_zones is None:
        legend_notes.append(
            "Zones de points chauds : aucune (pas de bâtiment point chaud à 95 % ou plus)."
        )
    block_actions = actions_block(published.actions, months=months)
    block_notes = annotations_block(
        planner_notes, gone_building_flag=str(facts.get("gone_building_flag", ""))
    )
    zone_of = b["zone_id"] if "zone_id" in b else pd.Series(pd.NA, index=b.index, dtype="string")
    # A building carries the id of a zone the map draws only.
    drawn = set(shown["zone_id"].astype(str)) if shown is not None and len(shown) else set()
    zone_of = zone_of.where(zone_of.astype("string").isin(drawn).fillna(False).astype(bool))
    props: list[dict[str, Any]] = []
    for i, (bid, zid) in enumerate(zip(b["building_id"].astype(str), zone_of, strict=True)):
        p: dict[str, Any] = {"i": i, "building_id": bid}
        if present(zid):
            p["zone_id"] = str(zid)
        props.append(p)

    geoms = round_geometries(b.geometry, 6, tolerance=0.0000015)
    perimeter = facts.get("perimeter")
    west, south, east, north = perimeter if perimeter else b.total_bounds
    fit = [[float(south), float(west)], [float(north), float(east)]]
    # The texts here are HTML already (esc): map.js writes the period and the months into
    # innerHTML; the site's name, which it does not show, follows the same rule.
    return {
        "site": esc(site_name),
        "credit": esc(OSM_CREDIT),  # the buildings and the basemap
        "period": esc(period),
        "months": [esc(fr_month(m)) for m in months],
        "day0": f"{day0:%Y-%m-%d}",
        "bounds": fit,
        "perimeter": {
            "name": "Périmètre étudié",
            "bounds": [[float(south), float(west)], [float(north), float(east)]],
        },
        "palette": list(PALETTE),
        "zero": ZERO_COLOUR,
        "nice": list(NICE_MANTISSAS),
        "buildings": features(geoms, props),
        "b": block_b,
        "monthly": block_monthly,
        "views": [v.as_json() for v in views],
        "change": (
            {
                "nb": counts_or_null(b, "n_reports_before"),
                "na": counts_or_null(b, "n_reports_after"),
            }
            if has_change
            else None
        ),
        "categories": categories,
        "categoriesTitle": esc(
            f"Signalements (points), {fr_number(block_reports['total'])} — par catégorie"
        ),
        "reports": block_reports,
        "obs": block_obs,
        "kde": block_kde,
        "chronic": (
            {"name": "Bâtiments aux problèmes chroniques (contour épais)"}
            if is_chronic is not None and bool(is_chronic.any())
            else None
        ),
        "basemap": block_basemap,
        "zones": block_zones,
        "annotations": block_notes,
        "actions": block_actions,
        "notes": [esc(n) for n in legend_notes],
        "tiles": [dict(t) for t in ONLINE_TILES] if options.online_tiles else None,
        "hidden": (
            {"marker": esc(publication.marker_fr), "reason": esc(publication.reason_fr)}
            if any_hidden
            else None
        ),
    }  # fmt: skip
