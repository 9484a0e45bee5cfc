"""The publication step, pure part: the analysis stages' outputs assembled into the tables
every reader uses (:mod:`pipelines.published`), each number computed once.

Today's rules: a reader sees no personal data (text from residents or files is scrubbed
here, whatever the stage that wrote it did), no deleted note, no likely duplicate among
the markers; where an analysis stage found too few reports to conclude (the hotspot
stage's ``sample``, the zones stage's ``has_enough_reports``), ``site.json`` carries its
decision and its words (:func:`too_few_reports_of`), so that no reader draws a
conclusion there. Escaping for HTML stays the renderer's job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import geopandas as gpd
import pandas as pd

from pipelines.annotations import (
    DELETED_STATUS,
    GONE_BUILDING_FLAG,
    STATUSES,
)
from pipelines.crs import WGS84
from pipelines.hotspots import reports_per_building
from pipelines.publish.actions import actions_facts, actions_table
from pipelines.publish.tables import (
    category_series_table,
    closing_delays_table,
    monthly_table,
    notes_table,
    points_table,
    scrubbed,
    top_buildings_table,
    zones_table,
)
from pipelines.published import Published
from pipelines.reports import counted as is_counted
from pipelines.reports import naive_dates, site_months
from pipelines.stats import EMERGING_CATEGORIES, EMERGING_LABELS_FR
from pipelines.trends import Window, comparison_windows, window_counts
from pipelines.zones import zone_of_buildings

#: The before/after columns of ``before_after.parquet`` kept in the building profile.
BEFORE_AFTER = ("n_reports_before", "n_reports_after", "n_reports_change")
#: OSM tags the profile carries as free text (fact sheets, GeoPackage): anyone can type a
#: name or a phone into ``name`` or ``addr:street``, so they are scrubbed as the labels are.
OSM_TEXT_COLUMNS = ("name", "addr_housenumber", "addr_street", "addr_city", "operator")


def _residents(reports: pd.DataFrame) -> pd.DataFrame:
    kind = reports.get("source_kind")
    return reports if kind is None else reports[kind != "observations"]


# ----------------------------------------------------------------------------- buildings
def with_trend_results(
    buildings: gpd.GeoDataFrame,
    *,
    emerging: pd.DataFrame | None = None,
    followup: pd.DataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Add the trends stage's per-building results to ``buildings``.

    Parameters
    ----------
    buildings
        ``buildings.parquet``; columns it already has are kept as they are.
    emerging
        ``emerging.parquet``: ``building_id``, ``emerging_category``,
        ``emerging_label_fr``.
    followup
        ``followup.csv``: rows of ``level`` "building" give ``n_open`` (→
        ``open_backlog``) and ``median_delay_h`` per building (``key``).

    Returns
    -------
    GeoDataFrame
        A new frame aligned on ``buildings.index`` (joins are many-to-one on
        ``building_id``).
    """
    out = buildings.copy()
    ids = out["building_id"].astype(str)
    if emerging is not None and "emerging_category" in emerging and "emerging_category" not in out:
        e = emerging.assign(building_id=emerging["building_id"].astype(str))
        e = e.drop_duplicates("building_id").set_index("building_id")
        for column in ("emerging_category", "emerging_label_fr"):
            if column in e:
                out[column] = ids.map(e[column]).to_numpy()
        if out["emerging_category"].isna().all():
            dropped = [c for c in ("emerging_category", "emerging_label_fr") if c in out]
            out = out.drop(columns=dropped)
    if followup is not None and {"level", "key"} <= set(followup.columns):
        f = followup[followup["level"] == "building"].drop_duplicates("key")
        f = f.set_index(f["key"].astype(str))
        if "open_backlog" not in out and "n_open" in f and len(f):
            out["open_backlog"] = pd.to_numeric(ids.map(f["n_open"]), errors="coerce").to_numpy()
        if "median_delay_h" not in out and "median_delay_h" in f and len(f):
            delay = pd.to_numeric(ids.map(f["median_delay_h"]), errors="coerce")
            out["median_delay_h"] = delay.to_numpy()
    return out


def emerging_labels(codes: pd.Series, labels: pd.Series | None) -> pd.Series:
    """The French label of each emerging category: the trends stage's own when given,
    else that of :data:`pipelines.stats.EMERGING_LABELS_FR`; null without a category."""
    default = codes.map(lambda c: EMERGING_LABELS_FR.get(c) if isinstance(c, str) else None)
    if labels is None:
        return default.astype(object)
    return labels.where(labels.notna() & codes.notna(), default).astype(object)


def _most_given(reports: pd.DataFrame, column: str) -> dict[str, str]:
    """Per building, the value of ``column`` its reports give most often (ties: the
    first seen)."""
    r = reports[reports["building_id"].notna() & reports[column].notna()]
    if r.empty:
        return {}
    values = r[column].astype(str).str.strip()
    pairs = pd.DataFrame({"building_id": r["building_id"].astype(str), "value": values})
    pairs = pairs[pairs["value"] != ""]
    top = pairs.value_counts().reset_index()  # sorted by count, then first seen
    first = top.drop_duplicates("building_id")
    return dict(zip(first["building_id"], first["value"], strict=True))


def building_labels(buildings: pd.DataFrame, reports: pd.DataFrame | None = None) -> dict[str, str]:
    """A readable name per building, for the map and the charts, from vetted sources
    only: its OSM name, else its OSM address (« 12 rue X »), else the known address or
    building code its reports matched most often (``match_label`` of the geocoding stage:
    an OSM or BAN address « 8 Rue Bossuet », a gazetteer key « Bâtiment BL-23 »), else
    its id.

    Never the reports' own text (``address``, ``building_ref``): a resident or a
    landlord's agent can type anything there, a name, a floor, a phone (« Mme Jeanne
    DUPONTEL 3e étage porte 34 »), and no scrubber recognises every name.
    """
    matched: dict[str, str] = {}
    if reports is not None and "match_label" in reports:
        matched = _most_given(reports, "match_label")

    def text(value: Any) -> str:
        return value.strip() if isinstance(value, str) else ""

    out: dict[str, str] = {}
    for row in buildings.itertuples(index=False):
        bid = str(row.building_id)
        name = text(getattr(row, "name", None))
        street = text(getattr(row, "addr_street", None))
        number = text(getattr(row, "addr_housenumber", None))
        if name:
            out[bid] = name
        elif street:
            out[bid] = f"{number} {street}".strip()
        elif bid in matched:
            out[bid] = matched[bid]
        else:
            out[bid] = bid
    return out


def label_of_buildings(buildings: pd.DataFrame, reports: pd.DataFrame) -> pd.Series:
    """The name of each building on the map and the charts (:func:`building_labels`),
    scrubbed; null when a building is known by its id only. Aligned on ``buildings.index``.

    The labels come from OSM, the BAN and the analyst's gazetteer, not from residents;
    every rule of the scrubber still runs over them (``text`` mode, names included), as a
    second guard against a name typed into the gazetteer or an OSM tag. Its name rules
    leave street names be (« Rue Madame », « Place Monsieur le Prince »): on the demo they
    change none of the 264 labels of Bondy and Paris 10e.
    """
    labels = building_labels(buildings, reports)
    ids = buildings["building_id"].astype(str)
    values = pd.Series([labels.get(b, b) for b in ids], index=buildings.index, dtype=object)
    values = values.where(values != ids, None)
    return scrubbed(values, mode="text")


def before_after_of(
    buildings: pd.DataFrame,
    reports: pd.DataFrame,
    *,
    table: pd.DataFrame | None = None,
    windows: tuple[Window, Window] | None = None,
    compare_months: int = 3,
    before: Sequence[str | date] | None = None,
    after: Sequence[str | date] | None = None,
) -> tuple[pd.DataFrame | None, tuple[Window, Window] | None]:
    """Counted reports per building in the two periods of the before/after comparison.

    Parameters
    ----------
    table, windows
        ``before_after.parquet`` and its windows (``trend_summary.json``), as the trends
        stage wrote them. Without them the counts are made here with the trends stage's
        functions (:func:`pipelines.trends.comparison_windows` over the residents' report
        months, :func:`pipelines.trends.window_counts` of the counted reports).
    compare_months, before, after
        ``params.trends`` (``compare_months``, ``compare_before``, ``compare_after``),
        used without ``table``.

    Returns
    -------
    tuple
        ``n_reports_before``, ``n_reports_after``, ``n_reports_change`` aligned on
        ``buildings.index`` (int64), and the windows; ``(None, None)`` with fewer than two
        months of residents' reports.
    """
    if len(site_months(_residents(reports)["reported_at"])) < 2:
        return None, None
    ids = buildings["building_id"].astype(str)
    if table is not None and windows is not None:
        t = table.assign(building_id=table["building_id"].astype(str))
        t = t.drop_duplicates("building_id").set_index("building_id")
        out = pd.DataFrame(index=buildings.index)
        for c in BEFORE_AFTER[:2]:
            out[c] = pd.to_numeric(ids.map(t[c]), errors="coerce").fillna(0).astype("int64")
        out["n_reports_change"] = out["n_reports_after"] - out["n_reports_before"]
        return out, windows
    months = site_months(_residents(reports)["reported_at"])
    w = comparison_windows(months, months=compare_months, before=before, after=after)
    counted = reports[is_counted(reports, on_building=True)]
    counted = counted.assign(reported_at=naive_dates(counted["reported_at"]))
    index = pd.Index(ids.to_numpy(), name="building_id")
    out = pd.DataFrame(index=buildings.index)
    for c, window in zip(BEFORE_AFTER[:2], w, strict=True):
        out[c] = window_counts(counted, index, window).to_numpy().astype("int64")
    out["n_reports_change"] = out["n_reports_after"] - out["n_reports_before"]
    return out, w


def building_profile(
    buildings: gpd.GeoDataFrame,
    reports: pd.DataFrame,
    *,
    emerging: pd.DataFrame | None = None,
    followup: pd.DataFrame | None = None,
    zones: pd.DataFrame | None = None,
    chronic: pd.DataFrame | None = None,
    before_after: pd.DataFrame | None = None,
) -> gpd.GeoDataFrame:
    """One row per building with everything a reader shows about it (see
    :mod:`pipelines.published`), EPSG:4326, index reset (row order kept).

    ``before_after`` is the output of :func:`before_after_of` (or ``None``).
    """
    b = buildings.to_crs(WGS84).reset_index(drop=True)
    if "n_reports" not in b:
        b = b.join(reports_per_building(reports, b))
    b = with_trend_results(b, emerging=emerging, followup=followup)
    if "emerging_category" in b:
        b["emerging_label_fr"] = emerging_labels(b["emerging_category"], b.get("emerging_label_fr"))
    b["building_label"] = label_of_buildings(b, _residents(reports)).to_numpy()
    for column in OSM_TEXT_COLUMNS:
        if column in b:
            b[column] = scrubbed(b[column], mode="text").to_numpy()
    if zones is not None and len(zones):
        b["zone_id"] = zone_of_buildings(b, zones).to_numpy()
    else:
        b["zone_id"] = pd.Series(pd.NA, index=b.index, dtype="string")
    if "is_chronic" in b:
        b["is_chronic"] = b["is_chronic"].fillna(False).astype(bool)
    elif chronic is not None and not chronic.empty and "building_id" in chronic:
        b["is_chronic"] = b["building_id"].astype(str).isin(set(chronic["building_id"].astype(str)))
    if before_after is not None:
        for c in BEFORE_AFTER:
            b[c] = before_after[c].to_numpy()
    return b


# ----------------------------------------------------------------------------- site
def too_few_reports_of(
    hotspot_summary: Mapping[str, Any] | None, zone_summary: Mapping[str, Any] | None
) -> dict[str, Any]:
    """What the analysis stages found too few reports to conclude on, for ``site.json``.

    Parameters
    ----------
    hotspot_summary, zone_summary
        ``hotspot_summary.json`` and ``zone_summary.json``; ``None`` when their stage has
        not run (or ran before it decided this).

    Returns
    -------
    dict
        ``site``: the hotspot stage's ``sample`` as it wrote it (``reports_counted``,
        ``min_reports``, ``too_few_reports``, ``note_fr`` « trop peu de signalements pour
        conclure (…) »): when true, no reader shows a hotspot, a zone or a hotspot trend.
        ``zones``: the zones stage's ``too_few_reports`` (``min_reports``, ``zone_ids``
        of the zones built from too few reports, ``note_fr``): those zones are not drawn.
        Either is ``None`` when its summary does not say.
    """
    sample = (hotspot_summary or {}).get("sample")
    zones = (zone_summary or {}).get("too_few_reports")
    return {
        "site": dict(sample) if isinstance(sample, Mapping) else None,
        "zones": dict(zones) if isinstance(zones, Mapping) else None,
    }


def site_facts(
    profile: pd.DataFrame,
    reports: pd.DataFrame,
    *,
    windows: tuple[Window, Window] | None = None,
    perimeter: Sequence[float] | None = None,
    kde_bandwidth_m: float | None = None,
    annotation_tags: Sequence[str] = (),
    has: Mapping[str, bool] | None = None,
    too_few_reports: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The site's facts for ``site.json``: JSON-ready (ISO dates, no frame).

    Keys: ``period`` (first and last report or observation, local ISO), ``months``
    (``YYYY-MM``, every month of that period), ``compare`` (the before/after windows,
    ISO dates, end included; ``None`` when not compared), ``totals``, ``perimeter``
    (west, south, east, north), ``kde_bandwidth_m``, ``emerging_labels_fr`` ((code,
    label) pairs in the order of the statistic), ``annotation_tags`` (scrubbed),
    ``note_statuses``, ``deleted_status``, ``gone_building_flag``, ``has`` (which
    optional tables exist), ``too_few_reports`` (:func:`too_few_reports_of`; nothing
    found too few when not given) and whatever ``extra`` holds.
    """
    dates = naive_dates(reports["reported_at"]).dropna()
    months = site_months(reports["reported_at"])
    n = pd.to_numeric(profile["n_reports"], errors="coerce").fillna(0)
    bins = pd.to_numeric(profile["gi_bin"], errors="coerce") if "gi_bin" in profile else None
    tags = scrubbed(pd.Series(list(annotation_tags), dtype=object)).tolist()
    return {
        "period": (
            {"start": dates.min().isoformat(), "end": dates.max().isoformat()}
            if len(dates)
            else None
        ),
        "months": [str(m) for m in months],
        "compare": (
            {"before": windows[0].as_dict(), "after": windows[1].as_dict()} if windows else None
        ),
        "totals": {
            "reports_counted": int(n.sum()),
            "buildings_with_reports": int((n > 0).sum()),
            "hotspots_95": int((bins >= 2).sum()) if bins is not None else None,
        },
        "perimeter": [float(x) for x in perimeter] if perimeter else None,
        "kde_bandwidth_m": kde_bandwidth_m,
        "emerging_labels_fr": [[c, EMERGING_LABELS_FR[c]] for c in EMERGING_CATEGORIES],
        "annotation_tags": tags,
        "note_statuses": list(STATUSES),
        "deleted_status": DELETED_STATUS,
        "gone_building_flag": GONE_BUILDING_FLAG,
        "has": dict(has or {}),
        "too_few_reports": dict(too_few_reports or too_few_reports_of(None, None)),
        **dict(extra or {}),
    }


def publish_site(
    buildings: gpd.GeoDataFrame,
    reports: gpd.GeoDataFrame,
    *,
    emerging: pd.DataFrame | None = None,
    followup: pd.DataFrame | None = None,
    before_after: pd.DataFrame | None = None,
    windows: tuple[Window, Window] | None = None,
    compare_months: int = 3,
    compare_before: Sequence[str | date] | None = None,
    compare_after: Sequence[str | date] | None = None,
    zones: gpd.GeoDataFrame | None = None,
    notes: gpd.GeoDataFrame | None = None,
    chronic: pd.DataFrame | None = None,
    kde: gpd.GeoDataFrame | None = None,
    perimeter: Sequence[float] | None = None,
    kde_bandwidth_m: float | None = None,
    annotation_tags: Sequence[str] = (),
    hotspot_summary: Mapping[str, Any] | None = None,
    zone_summary: Mapping[str, Any] | None = None,
    series: pd.DataFrame | None = None,
    tests: pd.DataFrame | None = None,
    freq: str = "M",
    top_buildings: int = 6,
    actions: gpd.GeoDataFrame | None = None,
    actions_summary: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Published:
    """Every published table of a site from the analysis stages' outputs.

    Parameters
    ----------
    buildings, reports
        ``buildings.parquet`` (hotspot stage) and ``reports.parquet`` (geocoding).
    emerging, followup, before_after, windows
        ``emerging.parquet``, ``followup.csv``, ``before_after.parquet`` and its windows
        (trends stage); ``None`` when it has not run (the before/after is then counted
        with the trends stage's functions, see :func:`before_after_of`).
    compare_months, compare_before, compare_after
        ``params.trends``, for the before/after without ``before_after``.
    zones, notes, chronic, kde
        ``zones.parquet``, ``annotations.parquet``, ``chronic.csv``, ``kde.parquet``;
        ``None`` when their stage has not run.
    perimeter, kde_bandwidth_m, annotation_tags, extra
        Shown by the readers (see :func:`site_facts`).
    hotspot_summary, zone_summary
        ``hotspot_summary.json`` and ``zone_summary.json`` (``None`` when absent): what
        they found too few reports to conclude on goes into ``site.json``
        (:func:`too_few_reports_of`); the published zones keep ``has_enough_reports``.
    series, tests, freq, top_buildings
        ``trends.parquet``, ``trend_tests.parquet``, their period (``freq``) and
        ``params.trends.top_buildings``: the charts' tables (:func:`category_series_table`,
        :func:`top_buildings_table`, :func:`closing_delays_table`); empty without them.
    actions, actions_summary
        ``actions.parquet`` and ``actions_summary.json`` of the actions stage (``None``
        when it has not run): the action table (:func:`pipelines.publish.actions.actions_table`,
        exact; the profile is applied by the publication step) and ``site.json``'s
        ``actions`` object.
    """
    ba, w = before_after_of(
        buildings, reports, table=before_after, windows=windows, compare_months=compare_months,
        before=compare_before, after=compare_after,
    )  # fmt: skip
    profile = building_profile(
        buildings, reports, emerging=emerging, followup=followup, zones=zones,
        chronic=chronic, before_after=ba.reset_index(drop=True) if ba is not None else None,
    )  # fmt: skip
    has = {
        "zones": zones is not None,
        "notes": notes is not None,
        "chronic": chronic is not None,
        "density": kde is not None,
        "actions": actions is not None,
    }
    more: dict[str, Any] = {}
    if actions is not None:
        more["actions"] = actions_facts(actions_summary or {})
    return Published(
        profile=profile,
        monthly=monthly_table(reports),
        points=points_table(reports),
        site=site_facts(
            profile,
            reports,
            windows=w,
            perimeter=perimeter,
            kde_bandwidth_m=kde_bandwidth_m,
            annotation_tags=annotation_tags,
            has=has,
            too_few_reports=too_few_reports_of(hotspot_summary, zone_summary),
            extra={"series": {"freq": freq}, **more, **dict(extra or {})},
        ),
        zones=zones_table(zones) if zones is not None else None,
        notes=notes_table(notes) if notes is not None else None,
        chronic=chronic.reset_index(drop=True) if chronic is not None else None,
        density=kde.to_crs(WGS84) if kde is not None else None,
        category_series=category_series_table(series),
        top_buildings=top_buildings_table(
            series, tests, profile, n=top_buildings, emerging=emerging
        ),
        closing_delays=closing_delays_table(followup),
        actions=actions_table(actions) if actions is not None else None,
    )
