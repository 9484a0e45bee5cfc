"""Indicators per site and quarter (issue 18): pure functions, DataFrame in, DataFrame out.

Every quarter of the site's reports gets one row of :func:`site_quarters` and, per
category, one row of :func:`category_quarters`. What cannot be computed (no dwellings
in the RPLS, no closing date, no register, a hotspot result that exists for the last
quarter only) is left null, never 0. The lift figures come from
:mod:`pipelines.indicators.lifts`, the quarters' labels from
:mod:`pipelines.indicators.quarters`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipelines.indicators.lifts import LIFT, lift_days_out_of_service, lift_repeats
from pipelines.indicators.quarters import quarter_months, quarter_of, quarters_of
from pipelines.reports import COUNT_COLUMNS, COUNT_OPTIONAL, counted, household_of, naive_dates
from pipelines.stats import closing_delays, mann_kendall, sens_slope
from pipelines.taxonomy import BY_CODE, CODES

#: Recurrence: months with at least one report among the last this many months.
RECURRENCE_MONTHS = 6
#: A building is recurrent when it had reports in at least this many of those months.
RECURRENT_MIN_MONTHS = 3
#: The categories of the proposed watch level (degradation and occupation of the common
#: areas), and the months among the last six a building must have had them in.
WATCH_CATEGORIES = ("degradation", "occupation")
WATCH_MIN_MONTHS = 3
#: Months of the site's monthly series (ending with the quarter) the Mann-Kendall test
#: reads; fewer than :data:`TREND_MIN_MONTHS` available: no test.
TREND_MONTHS = 12
TREND_MIN_MONTHS = 6
#: The columns of ``reports.parquet`` that :func:`counted_reports` (the frame every
#: indicator is computed from) uses, and those it uses when present: the stages that
#: compute or publish the indicators read no other (``read_geoparquet(columns=...)``).
REPORT_COLUMNS = COUNT_COLUMNS
REPORT_OPTIONAL = (*COUNT_OPTIONAL, "closed_at", "match_label")
#: The columns of ``buildings.parquet`` that :func:`dwellings_of` uses when present
#: (with ``building_id``).
DWELLING_COLUMNS = ("dwellings", "dwellings_source")


def window_trend(window: np.ndarray, *, alpha: float = 0.05) -> dict[str, object] | None:
    """The trend of a quarter from the monthly counts of its window (the
    :data:`TREND_MONTHS` months ending with it): ``mk_trend``, ``mk_p`` (None when not
    finite) and ``sens_slope_per_month``; None under :data:`TREND_MIN_MONTHS` months.
    The indicators stage's, of the exact series, and the publication's, of the series
    as published (:func:`pipelines.publish.headline.published_quarter_trends`)."""
    if len(window) < TREND_MIN_MONTHS:
        return None
    mk = mann_kendall(window, alpha=alpha)
    return {
        "mk_trend": mk.trend,
        "mk_p": round(mk.p, 4) if np.isfinite(mk.p) else None,
        "sens_slope_per_month": round(sens_slope(window), 3),
    }


def counted_reports(reports: pd.DataFrame) -> pd.DataFrame:
    """The reports that count and are placed on a building, with ``reported_at`` and
    ``closed_at`` naive, ``category`` (unknown codes: « autre »), ``household``,
    ``month`` (Period), ``quarter`` and ``entrance`` (:func:`entrance_quarters`: the
    address or building code the report matched, as its vetted source spells it, ``""``
    when it matched none); undated reports left out."""
    kept = reports[counted(reports, on_building=True)]
    when = naive_dates(kept["reported_at"])
    kept = kept[when.notna()]
    when = when[when.notna()]
    category = kept["category"].astype(str)
    closed = (
        naive_dates(kept["closed_at"])
        if "closed_at" in kept
        else pd.Series(pd.NaT, index=kept.index, dtype="datetime64[us]")
    )
    label = (
        kept["match_label"].astype("string")
        if "match_label" in kept
        else pd.Series(pd.NA, index=kept.index, dtype="string")
    )
    return pd.DataFrame(
        {
            "building_id": kept["building_id"].astype(str),
            "entrance": label.fillna("").str.strip().to_numpy(),
            "category": category.where(category.isin(CODES), "autre"),
            "household": household_of(kept),
            "reported_at": when,
            "closed_at": closed,
            "month": when.dt.to_period("M"),
            "quarter": quarter_of(when),
        },
        index=kept.index,
    )


def site_mark(reports: pd.DataFrame, buildings: pd.DataFrame) -> str | None:
    """Why the site has no indicator (a key of :data:`pipelines.published.SITE_MARKS`):
    ``"no_buildings"`` when its perimeter holds no OSM building (``buildings`` empty),
    ``"no_reports"`` when no report is counted on its buildings (``reports``: the
    counted reports, or any table with a row per report or per quarter of them, empty
    when there is none); None when it has indicators."""
    if buildings.empty:
        return "no_buildings"
    if reports.empty:
        return "no_reports"
    return None


def dwellings_of(buildings: pd.DataFrame) -> pd.Series:
    """Dwellings per building where the RPLS gives them (``dwellings_source`` « rpls »);
    other buildings are left out (never counted as 0)."""
    if "dwellings" not in buildings:
        return pd.Series(dtype=float)
    known = pd.to_numeric(buildings["dwellings"], errors="coerce")
    if "dwellings_source" in buildings:
        known = known.where(buildings["dwellings_source"].astype("string") == "rpls")
    known = known[known > 0]
    return pd.Series(known.to_numpy(float), index=buildings.loc[known.index, "building_id"])


def _rate(n: pd.Series, d: float) -> pd.Series:
    """``n`` per 100 of ``d``, rounded; null (never 0) without a denominator."""
    return (n * 100.0 / d).round(3) if d > 0 else pd.Series(np.nan, index=n.index)


def recurrence(
    reports: pd.DataFrame, end: pd.Period, *, months: int = RECURRENCE_MONTHS
) -> pd.Series:
    """Per building with reports, the months with at least one report among the
    ``months`` months ending with ``end`` (index ``building_id``)."""
    window = pd.period_range(end - (months - 1), end, freq="M")
    inside = reports[reports["month"].isin(window)]
    return inside.groupby("building_id")["month"].nunique().astype(int)


def category_quarters(
    reports: pd.DataFrame,
    dwellings: pd.Series,
    *,
    targets_h: Mapping[str, float],
    backlog: pd.DataFrame | None,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """Per quarter and category with at least one report: counts, rates per 100
    dwellings (RPLS buildings only), closing delays and the backlog at the quarter's end.

    Parameters
    ----------
    reports
        :func:`counted_reports`.
    dwellings
        :func:`dwellings_of`.
    targets_h
        Service level (hours) per category, as the trends stage used it.
    backlog
        The trends stage's ``backlog.csv`` (monthly, levels site and category), or None.
    as_of
        The export's date (an open report younger than its target is not due).

    Returns
    -------
    pandas.DataFrame
        ``quarter``, ``category``, ``category_label_fr``, ``n_reports``, ``n_households``,
        ``n_reports_rpls``, ``n_households_rpls`` (on buildings with RPLS dwellings),
        ``reports_per_100_dwellings``, ``households_per_100_dwellings`` (null without
        RPLS dwellings), ``reports_per_building``, ``n_closed``, ``median_delay_h``,
        ``p90_delay_h``, ``target_h``, ``share_past_target`` (null without target or
        closing dates) and ``backlog_open_end`` (null without a backlog); ``n_due`` and
        ``n_past_target``, the share's denominator and numerator, for a publication
        that rounds (:func:`pipelines.publish.indicators.rounded`; not published).
    """
    cols = ["quarter", "category"]
    if reports.empty:
        return pd.DataFrame(columns=[*cols, "n_reports"])
    on_rpls = reports["building_id"].isin(dwellings.index)
    n_dw = float(dwellings.sum())
    g = reports.groupby(cols, sort=True)
    out = pd.DataFrame({"n_reports": g.size(), "n_households": g["household"].nunique()})
    gr = reports[on_rpls].groupby(cols)
    out["n_reports_rpls"] = gr.size().reindex(out.index).fillna(0).astype(int)
    out["n_households_rpls"] = gr["household"].nunique().reindex(out.index).fillna(0).astype(int)
    out["reports_per_100_dwellings"] = _rate(out["n_reports_rpls"].astype(float), n_dw)
    out["households_per_100_dwellings"] = _rate(out["n_households_rpls"].astype(float), n_dw)
    out = out.reset_index()
    out.insert(2, "category_label_fr", out["category"].map(lambda c: BY_CODE[c].label))
    out["n_buildings"] = np.nan  # filled by the caller (all the site's buildings)
    if reports["closed_at"].notna().any():
        keyed = reports.assign(key=reports["quarter"] + "|" + reports["category"])
        delays = closing_delays(keyed, targets_h=targets_h, by="key", as_of=as_of)
        delays.index = delays.index.astype(str)
        key = out["quarter"] + "|" + out["category"]
        out["n_closed"] = delays["n_closed"].reindex(key).to_numpy()
        out["median_delay_h"] = delays["median_delay_h"].reindex(key).to_numpy().round(1)
        out["p90_delay_h"] = delays["p90_delay_h"].reindex(key).to_numpy().round(1)
        out["target_h"] = delays["target_h"].reindex(key).to_numpy()
        within = delays["share_closed_within_target"].reindex(key).to_numpy()
        out["share_past_target"] = (1.0 - within).round(3)
        # the share's counts, for a publication that rounds (never published themselves)
        n_due = delays["n_due"].reindex(key).to_numpy(dtype=float)
        out["n_due"] = n_due
        out["n_past_target"] = np.round((1.0 - within) * n_due)
    else:
        for c in ("n_closed", "median_delay_h", "p90_delay_h", "target_h", "share_past_target",
                  "n_due", "n_past_target"):  # fmt: skip
            out[c] = np.nan
    out["backlog_open_end"] = _backlog_at_end(backlog, "category", out["quarter"], out["category"])
    return out


def _backlog_at_end(
    backlog: pd.DataFrame | None, level: str, quarters: pd.Series, keys: pd.Series | None
) -> np.ndarray:
    """The backlog (``n_open``) at the last month of each quarter, for the rows of
    ``level`` (``keys``: the category of each row; the site's single key when None),
    null where the trends stage wrote none."""
    if backlog is None or backlog.empty:
        return np.full(len(quarters), np.nan)
    rows = backlog[backlog["level"] == level]
    months = pd.to_datetime(rows["period_start"]).dt.to_period("M").astype(str)
    key = rows["key"].astype(str) if keys is not None else pd.Series("", index=rows.index)
    table = pd.Series(rows["n_open"].to_numpy(float), index=(key + "|" + months).to_numpy())
    table = table[~table.index.duplicated(keep="last")]
    wanted = [str(k) for k in keys] if keys is not None else [""] * len(quarters)
    lookup = [f"{k}|{quarter_months(str(q))[-1]}" for k, q in zip(wanted, quarters, strict=True)]
    return table.reindex(lookup).to_numpy(float)


def site_quarters(
    reports: pd.DataFrame,
    buildings: pd.DataFrame,
    *,
    backlog: pd.DataFrame | None,
    n_hotspot_buildings: int | None,
    n_emerging_categories: int | None,
    actions_by_status: Mapping[str, int] | None,
    alpha: float = 0.05,
    span: pd.PeriodIndex | None = None,
) -> pd.DataFrame:
    """One row per quarter from the first to the last report's (or of the months
    ``span``: those of the whole export, for a part of its reports).

    The hotspot counts and the actions by status describe the run (the last quarter):
    earlier quarters get null, not a copy. Lift-equipped buildings are those with at
    least one lift report over the whole export (the sources name no lift inventory):
    a lower bound, said in the method note.

    Returns
    -------
    pandas.DataFrame
        ``quarter``, ``n_months`` (months of the quarter within the export),
        ``n_reports``, ``n_households``, ``dwellings_rpls``, ``n_buildings``,
        ``n_buildings_rpls``, ``reports_per_100_dwellings``,
        ``households_per_100_dwellings``, ``reports_per_building``,
        ``n_lift_buildings``, ``lift_breakdowns``, ``lift_breakdowns_per_building_month``,
        ``lift_repeats_30d``, ``lift_days_out_of_service`` and ``lift_days_quarters``
        (:func:`lift_days_out_of_service`), ``recurrence_median_months``,
        ``n_buildings_recurrent``,
        ``backlog_open_end``, ``mk_trend`` / ``mk_trend_fr`` / ``mk_p`` /
        ``sens_slope_per_month`` (12 months ending with the quarter),
        ``n_hotspot_buildings``, ``n_emerging_categories``, ``actions_by_status`` (JSON
        text or null), ``watch_level`` (« vert » / « jaune », proposed),
        ``watch_reason_fr``, ``n_buildings_watch``.
    """
    if reports.empty:
        return pd.DataFrame(columns=["quarter", "n_reports"])
    if span is None:
        span = pd.period_range(reports["month"].min(), reports["month"].max(), freq="M")
    monthly = reports.groupby("month").size().reindex(span, fill_value=0)
    dwellings = dwellings_of(buildings)
    n_dw = float(dwellings.sum())
    n_buildings = int(buildings["building_id"].nunique())
    on_rpls = reports["building_id"].isin(dwellings.index)
    repeats = lift_repeats(reports)
    lift = reports[reports["category"] == LIFT]
    lift_buildings = int(lift["building_id"].nunique())
    watch = reports[reports["category"].isin(WATCH_CATEGORIES)]
    quarters = quarters_of(span)
    lift_days, lift_days_quarters = lift_days_out_of_service(reports, quarters)
    rows = []
    for i, q in enumerate(quarters):
        months = quarter_months(q)
        in_span = months[months.isin(span)]
        end = in_span[-1]
        inq = reports["quarter"] == q
        rec = recurrence(reports, end)
        rec_watch = recurrence(watch, end)
        n_watch = int((rec_watch >= WATCH_MIN_MONTHS).sum())
        trend = window_trend(
            monthly[monthly.index <= end].iloc[-TREND_MONTHS:].to_numpy(float), alpha=alpha
        )
        lift_q = inq & (reports["category"] == LIFT)
        n_lift = int(lift_q.sum())
        last = i == len(quarters) - 1
        rows.append(
            {
                "quarter": q,
                "n_months": len(in_span),
                "n_reports": int(inq.sum()),
                "n_households": int(reports.loc[inq, "household"].nunique()),
                "dwellings_rpls": n_dw if n_dw > 0 else np.nan,
                "n_buildings": n_buildings,
                "n_buildings_rpls": len(dwellings),
                "n_reports_rpls": int((inq & on_rpls).sum()),
                "n_households_rpls": int(reports.loc[inq & on_rpls, "household"].nunique()),
                "reports_per_building": round(int(inq.sum()) / n_buildings, 3)
                if n_buildings
                else np.nan,
                "n_lift_buildings": lift_buildings,
                "lift_breakdowns": n_lift if lift_buildings else np.nan,
                "lift_breakdowns_per_building_month": round(
                    n_lift / (lift_buildings * len(in_span)), 3
                )
                if lift_buildings
                else np.nan,
                "lift_repeats_30d": int(repeats.reindex(lift.index[lift_q[lift.index]]).sum())
                if lift_buildings
                else np.nan,
                "lift_days_out_of_service": lift_days[q],
                "lift_days_quarters": lift_days_quarters[q],
                "recurrence_median_months": float(rec.median()) if len(rec) else np.nan,
                "n_buildings_recurrent": int((rec >= RECURRENT_MIN_MONTHS).sum()),
                "mk_trend": trend["mk_trend"] if trend else None,
                "mk_p": trend["mk_p"] if trend and trend["mk_p"] is not None else np.nan,
                "sens_slope_per_month": trend["sens_slope_per_month"] if trend else np.nan,
                "n_hotspot_buildings": n_hotspot_buildings if last else None,
                "n_emerging_categories": n_emerging_categories if last else None,
                "actions_by_status": _json(actions_by_status) if last else None,
                "watch_level": "jaune" if n_watch else "vert",
                "n_buildings_watch": n_watch,
                "watch_reason_fr": watch_reason_fr(n_watch),
            }
        )
    out = pd.DataFrame(rows)
    out["reports_per_100_dwellings"] = _rate(out["n_reports_rpls"].astype(float), n_dw)
    out["households_per_100_dwellings"] = _rate(out["n_households_rpls"].astype(float), n_dw)
    out["mk_trend_fr"] = out["mk_trend"].map(
        {
            "hausse": "hausse significative",
            "baisse": "baisse significative",
            "aucune": "pas de tendance significative",
        }
    )
    out["backlog_open_end"] = _backlog_at_end(backlog, "site", out["quarter"], None)
    for c in ("n_hotspot_buildings", "n_emerging_categories"):
        out[c] = out[c].astype("Int64")
    return out


#: The label of a building's reports that name no entrance (no address or building
#: code matched): one group, the building as a whole.
ENTRANCE_UNKNOWN_FR = "entrée non précisée"


def entrance_quarters(reports: pd.DataFrame, quarters: list[str]) -> pd.DataFrame:
    """The proposed watch level per entrance and quarter, by the site's rule applied to
    each entrance: « jaune » when its degradation or occupation reports fall in at
    least :data:`WATCH_MIN_MONTHS` of the :data:`RECURRENCE_MONTHS` months ending with
    the quarter (or with the last month of ``reports``, the export's, in a quarter the
    export ends in, as :func:`site_quarters`), else « vert ».

    An entrance (entrée, cage d'escalier) is a building and the address or building
    code its reports matched (``entrance`` of :func:`counted_reports`: the BAN, OSM or
    gazetteer spelling, never the resident's text); a building's reports that matched
    none are one group, :data:`ENTRANCE_UNKNOWN_FR`.

    Returns
    -------
    pandas.DataFrame
        One row per quarter and entrance with at least one such report in the window
        (the others are « vert »): ``quarter``, ``building_id``, ``entrance_label_fr``,
        ``watch_months``, ``n_reports_watch``, ``n_households_watch``,
        ``top_household_share`` (the share of its reports made by its most frequent
        household, which the publication step's dominance rule reads) and
        ``watch_level``.
    """
    columns = [
        "quarter", "building_id", "entrance_label_fr", "watch_months", "n_reports_watch",
        "n_households_watch", "top_household_share", "watch_level",
    ]  # fmt: skip
    watch = reports[reports["category"].isin(WATCH_CATEGORIES)]
    if watch.empty:
        return pd.DataFrame(columns=columns)
    watch = watch.assign(
        entrance_label_fr=watch["entrance"].where(watch["entrance"] != "", ENTRANCE_UNKNOWN_FR)
    )
    keys = ["building_id", "entrance_label_fr"]
    last_month = reports["month"].max()
    frames = []
    for q in quarters:
        # The site's window (site_quarters): a quarter the export ends in ends with it.
        end = min(quarter_months(q)[-1], last_month)
        window = pd.period_range(end - (RECURRENCE_MONTHS - 1), end, freq="M")
        inside = watch[watch["month"].isin(window)]
        if inside.empty:
            continue
        g = inside.groupby(keys, sort=True)
        top = inside.groupby([*keys, "household"]).size().groupby(level=[0, 1]).max()
        out = pd.DataFrame(
            {
                "watch_months": g["month"].nunique(),
                "n_reports_watch": g.size(),
                "n_households_watch": g["household"].nunique(),
            }
        )
        out["top_household_share"] = (top.reindex(out.index) / out["n_reports_watch"]).round(3)
        out = out.reset_index()
        out.insert(0, "quarter", q)
        frames.append(out)
    if not frames:
        return pd.DataFrame(columns=columns)
    table = pd.concat(frames, ignore_index=True)
    table["watch_level"] = np.where(table["watch_months"] >= WATCH_MIN_MONTHS, "jaune", "vert")
    return table[columns]


def _json(counts: Mapping[str, int] | None) -> str | None:
    if counts is None:
        return None
    return pd.Series(dict(counts), dtype="int64").to_json(force_ascii=False)


def watch_reason_fr(
    n_watch: int, *, min_households: int | None = None, dominance: bool = False
) -> str:
    """Why the proposed level is what it is, in French.

    ``min_households`` given, ``n_watch`` counts the buildings with an entrance whose
    reports come from at least that many households (and, ``dominance``, none making
    the most of them): the sentence says so, and that the others are not counted,
    whatever ``n_watch`` (:func:`pipelines.publish.watch.with_shown_watch`).
    """
    what = "dégradations ou occupation des parties communes"
    if min_households is None:
        if n_watch:
            s = "s" if n_watch > 1 else ""
            return (
                f"{n_watch} bâtiment{s} avec des signalements de {what} dans au moins "
                f"{WATCH_MIN_MONTHS} des {RECURRENCE_MONTHS} derniers mois"
            )
        return (
            f"aucun bâtiment avec des signalements de {what} dans {WATCH_MIN_MONTHS} des "
            f"{RECURRENCE_MONTHS} derniers mois"
        )
    count = f"{n_watch} bâtiment{'s' if n_watch > 1 else ''}" if n_watch else "aucun bâtiment"
    alone = ", sans qu'un seul en fasse l'essentiel" if dominance else ""
    return (
        f"{count} dont une entrée a des signalements de {what} dans au moins "
        f"{WATCH_MIN_MONTHS} des {RECURRENCE_MONTHS} derniers mois venant d'au moins "
        f"{min_households} ménages distincts{alone} (une entrée signalée par moins de "
        "ménages n'est pas comptée)"
    )


def hotspot_buildings(buildings: pd.DataFrame) -> int | None:
    """Buildings in a hotspot (Gi* bin > 0, i.e. 90 % or more), null when the hotspot
    stage computed no bin."""
    if "gi_bin" not in buildings or buildings["gi_bin"].isna().all():
        return None
    return int((pd.to_numeric(buildings["gi_bin"], errors="coerce") > 0).sum())


def emerging_categories(emerging: pd.DataFrame | None) -> int | None:
    """Distinct emerging hot-spot categories (new, intensifying…: cold ones and « no
    pattern » left out) among the buildings, null when the trends stage computed none."""
    if emerging is None or "emerging_category" not in emerging:
        return None
    if emerging.empty:  # the trends stage found too few steps or buildings
        return None
    cats = emerging["emerging_category"].dropna().astype(str)
    hot = cats[(cats != "no_pattern") & ~cats.str.endswith("_cold")]
    return int(hot.nunique())


def actions_status_counts(actions: pd.DataFrame | None) -> dict[str, int] | None:
    """Actions of the register by status (removed ones left out), null without one."""
    if actions is None or "status" not in actions:
        return None
    kept = actions
    if "is_removed" in kept:
        kept = kept[~kept["is_removed"].fillna(False).astype(bool)]
    counts = kept["status"].dropna().astype(str).value_counts().sort_index()
    return {str(k): int(v) for k, v in counts.items()}


def targets_of(followup: pd.DataFrame | None) -> dict[str, float]:
    """The service level per category the trends stage used (``followup.csv``'s
    ``target_h`` of its category rows)."""
    if followup is None or followup.empty:
        return {}
    rows = followup[(followup["level"] == "category") & followup["target_h"].notna()]
    return {str(k): float(v) for k, v in zip(rows["key"], rows["target_h"], strict=True)}
