"""The publication step's tables drawn straight from one stage's output each: the
report markers (:func:`points_table`), the monthly counts, the category series and the
top buildings' series, the closing delays, the zones and the planners' notes.

Pure functions; :func:`pipelines.publish.build.publish_site` calls them. Text from
residents or files is scrubbed of personal data here (:func:`scrubbed`), whatever the
stage that wrote it did; escaping for HTML stays the renderer's job.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from pipelines.annotations import (
    DELETED_STATUS,
    notes_geojson,
    orphan_flag,
)
from pipelines.crs import WGS84
from pipelines.ingest import scrub_series
from pipelines.io import list_cell
from pipelines.reports import counted as is_counted
from pipelines.reports import household_of, naive_dates
from pipelines.zones import zone_sort_key

#: Columns of ``points.parquet``.
POINT_COLUMNS = [
    "source_kind", "source", "category", "building_id", "reported_at", "description",
    "person_related",
]  # fmt: skip


def scrubbed(values: pd.Series, *, mode: str = "text") -> pd.Series:
    """``values`` scrubbed of personal data, missing values kept missing."""
    if values.empty:
        return values
    text, _ = scrub_series(values.astype("string"), mode=mode)
    return text.where(values.notna(), None).astype(object)


# ----------------------------------------------------------------------------- months, points
def monthly_table(reports: pd.DataFrame) -> pd.DataFrame:
    """Counted reports (:func:`pipelines.reports.counted`, on a building) per building, calendar
    month (``YYYY-MM``) and category: ``building_id``, ``month``, ``category``,
    ``n_reports`` (no zero row) and ``n_households`` (distinct households among them,
    :func:`pipelines.reports.household_of`; the keys themselves are not published),
    sorted."""
    counted = reports[is_counted(reports, on_building=True)]
    month = naive_dates(counted["reported_at"]).dt.to_period("M")
    frame = pd.DataFrame(
        {
            "building_id": counted["building_id"].astype(str).to_numpy(),
            "month": month.astype(str).to_numpy(),
            "category": counted["category"].astype(str).to_numpy(),
            "household": household_of(counted).to_numpy(),
        }
    )
    frame = frame[month.notna().to_numpy()]
    cells = frame.groupby(["building_id", "month", "category"], sort=True)["household"]
    out = pd.DataFrame({"n_reports": cells.size(), "n_households": cells.nunique()})
    return out.reset_index().astype({"n_reports": "int64", "n_households": "int64"})


def points_table(reports: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The markers a reader sees: reports with a position, likely duplicates of residents'
    reports left out, in EPSG:4326, dates local and naive, descriptions scrubbed;
    ``person_related`` (ingestion's flag: a person-related category, or a text naming a
    dwelling or a floor; false without it) decides which a committee sees
    (:mod:`pipelines.publish.points`)."""
    keep = reports.geometry.notna() & ~reports.geometry.is_empty
    kind = (
        reports["source_kind"]
        if "source_kind" in reports
        else pd.Series("reports", index=reports.index)
    )
    if "duplicate_of" in reports:
        keep &= (kind == "observations") | reports["duplicate_of"].isna()
    pts = reports[keep].to_crs(WGS84)
    out = gpd.GeoDataFrame(
        {
            "source_kind": kind[keep].astype(str).to_numpy(),
            "source": (
                pts["source"].astype(object)
                if "source" in pts
                else pd.Series("terrain", index=pts.index)
            ).to_numpy(),
            "category": pts["category"].astype(str).to_numpy(),
            "building_id": pts["building_id"].astype("string").to_numpy(),
            "reported_at": naive_dates(pts["reported_at"]).to_numpy(),
            "description": scrubbed(
                pts["description"] if "description" in pts else pd.Series(None, index=pts.index)
            ).to_numpy(),
            "person_related": (
                pts["person_related"].astype("boolean").fillna(False).astype(bool)
                if "person_related" in pts
                else pd.Series(False, index=pts.index)
            ).to_numpy(),
        },
        geometry=pts.geometry.to_numpy(),
        crs=WGS84,
    )
    return out


# ----------------------------------------------------------------------------- charts
#: Columns of ``closing_delays.parquet`` (``followup.csv``'s, ``key`` as ``category``);
#: ``n_due`` (the share's denominator) only for a profile's rounding: the published
#: tables of a profile drop it (:func:`pipelines.publish.charts.closing_delays_of`).
DELAY_COLUMNS = [
    "category", "n_closed", "median_delay_h", "p90_delay_h", "target_h",
    "share_closed_within_target", "n_due",
]  # fmt: skip


#: The trend test columns of ``top_buildings.parquet`` (``trend_tests.parquet``'s).
TEST_COLUMNS = ["sens_slope_per_period", "trend", "trend_fr", "mk_p"]


def category_series_table(series: pd.DataFrame | None) -> pd.DataFrame:
    """The trends stage's category series (``trends.parquet``, ``level`` "category"):
    ``period_start``, ``category``, ``n_reports`` and ``n_period_reports`` (the site's
    series, ``level`` "site": the period's total, the same on each of its rows), sorted
    by period then category."""
    if series is None or series.empty:
        return pd.DataFrame(
            {
                "period_start": pd.Series(dtype="datetime64[ns]"),
                "category": pd.Series(dtype=object),
                "n_reports": pd.Series(dtype="int64"),
                "n_period_reports": pd.Series(dtype="int64"),
            }
        )
    cats = series[series["level"] == "category"]
    site = series[series["level"] == "site"]
    total = pd.Series(
        site["n_reports"].to_numpy(), index=pd.to_datetime(site["period_start"]).to_numpy()
    )
    starts = pd.to_datetime(cats["period_start"])
    out = pd.DataFrame(
        {
            "period_start": starts.to_numpy(),
            "category": cats["key"].astype(str).to_numpy(),
            "n_reports": cats["n_reports"].astype("int64").to_numpy(),
            "n_period_reports": total.reindex(starts.to_numpy()).fillna(0).to_numpy("int64"),
        }
    )
    return out.sort_values(["period_start", "category"], kind="stable").reset_index(drop=True)


def top_building_ids(tests: pd.DataFrame, n: int) -> list[str]:
    """The ``n`` buildings with the most reports (``trend_tests.parquet``, ties: by id)."""
    b = tests[tests["level"] == "building"]
    b = b.sort_values(["n_reports", "key"], ascending=[False, True], kind="stable")
    return b["key"].astype(str).head(n).tolist()


def top_buildings_table(
    series: pd.DataFrame | None,
    tests: pd.DataFrame | None,
    profile: pd.DataFrame,
    *,
    n: int,
    emerging: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The ``n`` buildings with the most reports, their series and trend test, long (see
    :mod:`pipelines.published`): one row per building and period, panels in ``rank``
    order. ``building_label`` is the profile's (the id where it has none);
    ``emerging_label_fr`` only when ``emerging`` (``emerging.parquet``) has rows."""
    columns = ["rank", "building_id", "building_label", "period_start", "n_reports", *TEST_COLUMNS]
    with_emerging = emerging is not None and len(emerging) > 0
    if with_emerging:
        columns.append("emerging_label_fr")
    if series is None or tests is None or series.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    top = top_building_ids(tests, n)
    ids = profile["building_id"].astype(str)
    labels = dict(zip(ids, profile["building_label"], strict=True))
    t = tests[tests["level"] == "building"].assign(key=lambda f: f["key"].astype(str))
    t = t.drop_duplicates("key").set_index("key")
    b = series[series["level"] == "building"].assign(key=lambda f: f["key"].astype(str))
    emerging_of = None
    if emerging is not None and with_emerging:
        e = emerging.assign(building_id=emerging["building_id"].astype(str))
        emerging_of = e.drop_duplicates("building_id").set_index("building_id")["emerging_label_fr"]
    rows = []
    for rank, bid in enumerate(top, start=1):
        s = b[b["key"] == bid].sort_values("period_start", kind="stable")
        label = labels.get(bid)
        frame = pd.DataFrame(
            {
                "rank": rank,
                "building_id": bid,
                "building_label": label if isinstance(label, str) and label else bid,
                "period_start": pd.to_datetime(s["period_start"]).to_numpy(),
                "n_reports": s["n_reports"].astype("int64").to_numpy(),
                **{c: t.at[bid, c] for c in TEST_COLUMNS},
            }
        )
        if emerging_of is not None:
            value = emerging_of.get(bid)
            frame["emerging_label_fr"] = value if isinstance(value, str) else None
        rows.append(frame)
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.concat(rows, ignore_index=True)[columns]


def closing_delays_table(followup: pd.DataFrame | None) -> pd.DataFrame:
    """The trends stage's closing delays per category (``followup.csv``, ``level``
    "category"); no row when the sources give no closing date."""
    if followup is None or followup.empty or "level" not in followup:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in DELAY_COLUMNS})
    f = followup[followup["level"] == "category"].rename(columns={"key": "category"})
    out = f.reindex(columns=DELAY_COLUMNS).reset_index(drop=True)
    out["category"] = out["category"].astype(str)
    out["n_closed"] = out["n_closed"].astype("int64")
    for c in DELAY_COLUMNS[2:]:
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
    return out


# ----------------------------------------------------------------------------- zones, notes
def zones_table(zones: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The hotspot zones a reader sees, EPSG:4326, ``parent_zone_ids`` (the zone itself
    left out) in natural order."""
    z = zones.to_crs(WGS84).reset_index(drop=True)
    if "parent_zone_ids" in z:
        z["parent_zone_ids"] = [
            sorted((p for p in list_cell(v) if p != str(zid)), key=zone_sort_key)
            for zid, v in zip(z["zone_id"], z["parent_zone_ids"], strict=True)
        ]
    return z


def notes_table(notes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The planners' notes a reader sees: deleted ones left out, EPSG:4326, one column per
    field of :func:`pipelines.annotations.notes_geojson` (dates ISO in UTC, id lists),
    plus ``orphan_flag`` (« bâtiment disparu », « sans position » or null)."""
    live = notes[notes["status"].astype("string") != DELETED_STATUS] if len(notes) else notes
    live = live.to_crs(WGS84) if live.crs is not None else live.set_crs(WGS84)
    features = notes_geojson(live)["features"]
    rows = [
        {**f["properties"], "orphan_flag": orphan_flag(row) or None}
        for f, (_, row) in zip(features, live.iterrows(), strict=True)
    ]
    geoms = [shapely.geometry.shape(f["geometry"]) if f["geometry"] else None for f in features]
    frame = pd.DataFrame(rows) if rows else pd.DataFrame({"note_id": pd.Series(dtype=object)})
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84)
