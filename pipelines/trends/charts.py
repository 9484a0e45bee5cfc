"""The charts of a site for the trends stage: which chart shows what, from a
:class:`~pipelines.trends.stage.TrendResult`; the drawing itself is
:mod:`pipelines.trends.plots`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipelines.trends import plots as charts
from pipelines.trends.series import FREQ_FR

if TYPE_CHECKING:
    from pipelines.trends.stage import TrendResult


def _most_given(reports: pd.DataFrame, column: str) -> dict[str, str]:
    """Per building, the value of ``column`` its reports give most often."""
    r = reports[reports["building_id"].notna() & reports[column].notna()]
    if r.empty:
        return {}
    values = r[column].astype(str).str.split(",").str[0].str.strip()
    pairs = pd.DataFrame({"building_id": r["building_id"].astype(str), "value": values})
    pairs = pairs[pairs["value"] != ""]
    top = pairs.value_counts().reset_index()  # sorted by count, then first seen
    first = top.drop_duplicates("building_id")
    return dict(zip(first["building_id"], first["value"], strict=True))


def building_labels(buildings: pd.DataFrame, reports: pd.DataFrame | None = None) -> dict[str, str]:
    """A readable name per building, for charts: its OSM name, else its OSM address
    (« 12 rue X »), else the landlord's building code most often given in its reports
    (``building_ref``: « Bâtiment BL-23 »), else the address its reports give most often
    (the part before the first comma), else its id."""
    refs: dict[str, str] = {}
    addresses: dict[str, str] = {}
    if reports is not None and "building_ref" in reports:
        refs = _most_given(reports, "building_ref")
    if reports is not None and "address" in reports:
        addresses = _most_given(reports, "address")

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
        elif bid in refs:
            out[bid] = f"Bâtiment {refs[bid]}"
        elif bid in addresses:
            out[bid] = addresses[bid]
        else:
            out[bid] = bid
    return out


def top_building_ids(tests: pd.DataFrame, n: int) -> list[str]:
    """The ``n`` buildings with the most reports (ties: by id)."""
    b = tests[tests["level"] == "building"]
    b = b.sort_values(["n_reports", "key"], ascending=[False, True], kind="stable")
    return b["key"].head(n).tolist()


def site_charts(
    result: TrendResult,
    *,
    site_name: str,
    labels: Mapping[str, str],
    note: str | None = None,
) -> dict[str, Any]:
    """The three charts of a site (:mod:`pipelines.trends.plots`), by file basename."""

    p = result.summary["parameters"]
    freq = p["freq"]
    unit = FREQ_FR.get(freq, "période")
    out: dict[str, Any] = {}
    cats = result.series[result.series["level"] == "category"]
    if len(cats):
        wide = cats.pivot(index="period_start", columns="key", values="n_reports")
        out["reports_by_category"] = charts.category_bars(
            wide,
            title=f"{site_name} — signalements par {unit} et par catégorie",
            freq=freq,
            note=note,
        )
    else:
        out["reports_by_category"] = charts.empty_chart(
            f"{site_name} — signalements par {unit}", "Aucun signalement à compter.", note=note
        )

    top = top_building_ids(result.tests, p["top_buildings"])
    if top:
        tests = result.tests[result.tests["level"] == "building"].set_index("key")
        table = result.emerging.table
        emerging = (
            None
            if table is None
            else {str(k): str(v) for k, v in table["emerging_label_fr"].reindex(top).items()}
        )
        out["top_buildings"] = charts.building_trends(
            result.cube.loc[top],
            tests.loc[top],
            labels=labels,
            emerging=emerging,
            title=f"{site_name} — les {len(top)} bâtiments les plus signalés : tendance",
            freq=freq,
            note=note,
        )
    else:
        out["top_buildings"] = charts.empty_chart(
            f"{site_name} — bâtiments les plus signalés",
            "Aucun signalement rattaché à un bâtiment.",
            note=note,
        )

    followup = result.followup
    if followup is not None and (followup["level"] == "category").any():
        by_cat = followup[followup["level"] == "category"].set_index("key")
        out["closing_delays"] = charts.closing_delay_bars(
            by_cat,
            title=f"{site_name} — délais de clôture par catégorie",
            note=note,
        )
    else:
        out["closing_delays"] = charts.empty_chart(
            f"{site_name} — délais de clôture",
            "Les sources de ce site ne donnent pas de date de clôture :\ndélais non calculés.",
            note=note,
        )
    return out
