"""The report microdata of the publication profiles (:mod:`pipelines.publish.protect`)
and the engine's call on them: one row per counted report with its household
(:func:`microdata`), the tables of the building hierarchy, and the engine of
:mod:`pipelines.stats.disclosure` on a set of tables (:func:`protect_tables`). Also the
one convention of every published count: a hidden value is null and its companion
``_flag`` column holds :data:`FLAG` (:func:`flagged`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.publication import ProfileRule
from pipelines.reports import counted as is_counted
from pipelines.reports import naive_dates
from pipelines.stats import disclosure
from pipelines.stats.proof import Proof
from pipelines.taxonomy import CODES

#: The marker of a hidden value in a ``_flag`` column.
FLAG = "s"

#: The microdata column telling a report of a technical category (class « technique »,
#: :mod:`pipelines.taxonomy`), even when its text names a dwelling: under ``comite``
#: these categories are shown exactly, so the engine hides one of their cells only where
#: no other cell would do (``technical`` of :class:`pipelines.stats.disclosure.DisclosureRule`).
TECHNICAL = "technical_category"

#: The zone of a building outside every zone (its reports count in the site only).
NO_ZONE = "—"

#: The tables of the building hierarchy, by name.
BUILDING_TABLES: dict[str, tuple[str, ...]] = {
    "site": (),
    "zone": ("zone",),
    "building": ("zone", "building_id"),
    "building_category": ("zone", "building_id", "category"),
}


def among(values: pd.Series, pool: Iterable[object]) -> pd.Series:
    """``values.isin(pool)``, the values compared as Python objects (bool, ``values``'
    index). Speed only: on a text column pandas' ``isin`` makes one arrow scalar per
    value of ``pool`` (80 ms for the 20,000 report ids of a bench site's ledger, 4 ms
    this way)."""
    return values.astype(object).isin(pool)


def households(reports: pd.DataFrame) -> pd.Series:
    """The household of each report: ``household_key`` (ingestion's keyed hash) when
    the column exists and is filled, else the report itself (its ``report_id`` or row)."""
    own = (
        reports["report_id"].astype(str)
        if "report_id" in reports
        else pd.Series(reports.index.astype(str), index=reports.index)
    )
    own = "r:" + own
    if "household_key" in reports:
        key = reports["household_key"].astype("string")
        return key.where(key.notna() & (key != ""), own).astype(str)
    return own


def microdata(
    reports: pd.DataFrame,
    *,
    zone_of: Mapping[str, str],
    person_related: frozenset[str] | set[str],
) -> pd.DataFrame:
    """One row per counted report on a building (:func:`pipelines.reports.counted`):
    ``building_id``, ``zone`` (:data:`NO_ZONE` outside every zone), ``category``,
    ``month`` (``YYYY-MM``), ``quarter`` (``YYYY-Tn``), ``year``, ``household``,
    ``person_related``, :data:`TECHNICAL` (the category's class is not person-related,
    whatever the report's text), ``reported_at`` (naive) and ``report_id`` (the row's
    position where the column is missing), which the ledger keeps to tell late reports
    apart."""
    counted = reports[micro_rows(reports)]
    when = naive_dates(counted["reported_at"])
    category = counted["category"].astype(str)
    category = category.where(category.isin(CODES), "autre")
    ids = counted["building_id"].astype(str)
    period = when.dt.to_period("M")
    person = counted.get("person_related")
    is_person = category.isin(person_related)
    if person is not None:
        is_person = is_person | person.fillna(False).astype(bool)
    return pd.DataFrame(
        {
            "building_id": ids.to_numpy(),
            "zone": ids.map(lambda b: zone_of.get(b) or NO_ZONE).to_numpy(),
            "category": category.to_numpy(),
            "month": period.astype(str).to_numpy(),
            "quarter": (when.dt.year.astype(str) + "-T" + when.dt.quarter.astype(str)).to_numpy(),
            "year": when.dt.year.astype(str).to_numpy(),
            "household": households(counted).to_numpy(),
            "person_related": is_person.to_numpy(),
            TECHNICAL: (~category.isin(person_related)).to_numpy(),
            "reported_at": when.to_numpy(),
            "report_id": (
                counted["report_id"].astype(str)
                if "report_id" in counted
                else pd.Series(counted.index.astype(str), index=counted.index)
            ).to_numpy(),
        }
    )


def zone_of_building(micro: pd.DataFrame) -> dict[str, str]:
    """The zone :func:`microdata` counts each of its buildings in (the same on every row
    of a building)."""
    last = micro.drop_duplicates("building_id", keep="last")
    return dict(zip(last["building_id"], last["zone"], strict=True))


def micro_rows(reports: pd.DataFrame) -> np.ndarray:
    """Per row of ``reports``, whether it is one of :func:`microdata`'s rows (which keeps
    them in order): a counted report on a building, dated."""
    mask = is_counted(reports, on_building=True) & naive_dates(reports["reported_at"]).notna()
    return mask.to_numpy(dtype=bool)


def unpublished_zone(micro: pd.DataFrame) -> pd.DataFrame:
    """The zone table as given to the engine (``given`` of
    :func:`pipelines.stats.disclosure.protect`): the buildings outside every zone
    (:data:`NO_ZONE`) make a cell no file publishes, locked hidden, so that it links no
    building to another; the real zones are left to the engine."""
    zones = sorted(set(micro["zone"].unique()))
    outside = [z == NO_ZONE for z in zones]
    return pd.DataFrame(
        {
            "zone": zones,
            "flag": [FLAG if o else "" for o in outside],
            "locked": outside,
            "reason": [disclosure.REASON_UNPUBLISHED if o else "" for o in outside],
        }
    )


def engine_rule(
    rule: ProfileRule, technical: frozenset[str] = frozenset()
) -> disclosure.DisclosureRule:
    """The engine's rule for a profile (:class:`pipelines.stats.disclosure.DisclosureRule`):
    its threshold, dominance share and rounding; every cell sensitive when the profile
    protects all cells (``public``), else only those holding a person-related report,
    and then the ``technical`` categories shown exactly (hidden only where no other cell
    would do: the issue's « technical categories are shown exactly »). ``public`` prefers
    no category: every cell there needs its households."""
    return disclosure.DisclosureRule(
        min_households=rule.min_households,
        dominance_share=rule.dominance_share,
        all_sensitive=rule.protect == "all",
        round_base=rule.round_base,
        technical=frozenset() if rule.protect == "all" else technical,
    )


def technical_categories(micro: pd.DataFrame) -> frozenset[str]:
    """The technical categories among the microdata's (:data:`TECHNICAL`; none when
    the column is missing)."""
    if TECHNICAL not in micro:
        return frozenset()
    return frozenset(micro.loc[micro[TECHNICAL].astype(bool), "category"].astype(str).unique())


#: Dimensions that are a function of another (derived, source): a building's RPLS
#: part (``rpls``, « oui » or « non ») is its building's, a month's quarter its month's,
#: a quarter's year its quarter's, a month's key-figure window its month's (the
#: months of each window are in ``site.json``'s ``key_window``) and a category's group
#: its category's (:mod:`pipelines.publish.keyfigures`). The engine knows none of
#: this: to its linear programs, ``("quarter", "category")`` and
#: ``("month", "category")`` only share the category, so a shown quarter minus its
#: shown months would not give a hidden month back there, where a reader does it by
#: hand. :func:`refined` writes the link into the tables themselves.
DERIVED: tuple[tuple[str, str], ...] = (
    ("rpls", "building_id"),
    ("quarter", "month"),
    ("year", "quarter"),
    ("window", "month"),
    ("group", "category"),
)


def refined(
    tables: Sequence[tuple[str, ...]],
) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Each table with the :data:`DERIVED` dimensions of its own that another table of
    ``tables`` has (after its source): the same cells, keyed by one more column.

    With the indicators' ``("quarter", "category")`` beside the monthly table
    ``("zone", "building_id", "month", "category")``, the latter becomes
    ``("zone", "building_id", "rpls", "month", "quarter", "category")``: the indicators'
    tables are then its margins, which the engine's programs hold exactly (one maximal
    table), and a quarter's cell is the sum of its months' as a reader adds it up.
    A set of tables where no derived dimension meets its source is left as it is.
    """
    wanted = {d for t in tables for d in t}
    out = {}
    for t in tables:
        dims = list(t)
        changed = True
        while changed:
            changed = False
            for derived, source in DERIVED:
                if source in dims and derived in wanted and derived not in dims:
                    dims.insert(dims.index(source) + 1, derived)
                    changed = True
        out[tuple(t)] = tuple(dims)
    return out


def _derived_lookups(
    micro: pd.DataFrame, tables: Iterable[tuple[str, ...]]
) -> dict[str, dict[str, Any]]:
    """Per :data:`DERIVED` dimension of ``tables``, its value for each value of its
    source in ``micro`` (made once for every table of a call: 0.03 s less on a bench
    site than once per table)."""
    wanted = {d for t in tables for d in t}
    out = {}
    for derived, source in DERIVED:
        if derived in wanted and derived in micro and source in micro:
            pairs = micro[[source, derived]].drop_duplicates(source)
            out[derived] = dict(zip(pairs[source].astype(str), pairs[derived], strict=True))
    return out


def _with_derived(
    frame: pd.DataFrame, dims: tuple[str, ...], lookups: Mapping[str, Mapping[str, Any]]
) -> pd.DataFrame:
    """``frame`` (a table's cells) with the derived columns of ``dims`` it lacks, each
    looked up from its source (``lookups``: :func:`_derived_lookups`; null where the
    source is not there)."""
    out = frame
    for derived, source in DERIVED:
        if derived in dims and derived not in out.columns:
            out = out.assign(**{derived: out[source].astype(str).map(lookups[derived])})
    return out


def _restored_audit(
    audit: Mapping[str, Any], back: Mapping[tuple[str, ...], tuple[str, ...]]
) -> dict[str, Any]:
    """The engine's audit with each table named by its dimensions as published."""

    def named(dims: Sequence[str]) -> list[str]:
        return list(back.get(tuple(dims), tuple(dims)))

    out = dict(audit)
    out["tables"] = [{**t, "dims": named(t["dims"])} for t in audit.get("tables", [])]
    if "technical_hidden" in audit:
        out["technical_hidden"] = [
            {
                **h,
                "table": named(h["table"]),
                **{
                    k: {**h[k], "table": named(h[k]["table"])}
                    for k in ("total", "target")
                    if isinstance(h.get(k), dict) and "table" in h[k]
                },
            }
            for h in audit["technical_hidden"]
        ]
    return out


def engine_protect(
    micro: pd.DataFrame,
    tables: Sequence[tuple[str, ...]],
    engine: disclosure.DisclosureRule,
    *,
    given: Mapping[tuple[str, ...], pd.DataFrame] | None = None,
) -> disclosure.Protection:
    """:func:`pipelines.stats.disclosure.protect` on :func:`refined` tables: its tables
    (keyed by their own dimensions, the derived columns dropped) and audit given back as
    the caller named them, and its proof (over the refined tables, as
    :func:`engine_audit` poses them)."""
    given = dict(given or {})
    names = refined([*tables, *(t for t in given if t not in tables)])
    back = {r: t for t, r in names.items()}
    lookups = _derived_lookups(micro, [names[t] for t in given])
    result = disclosure.protect(
        micro,
        [names[tuple(t)] for t in tables],
        rule=engine,
        given={names[t]: _with_derived(f, names[t], lookups) for t, f in given.items()},
    )
    out = {
        back[tuple(r)]: f.drop(columns=[d for d in r if d not in back[tuple(r)]])
        for r, f in result.tables.items()
    }
    return disclosure.Protection(out, _restored_audit(result.audit, back), result.proof)


def engine_audit(
    micro: pd.DataFrame,
    published: Mapping[tuple[str, ...], pd.DataFrame],
    engine: disclosure.DisclosureRule,
    *,
    proof: Proof | None = None,
) -> dict[str, Any]:
    """:func:`pipelines.stats.disclosure.audit` on :func:`refined` tables, the audit's
    tables named as the caller named them; ``proof``: what :func:`engine_protect`
    proved of them, not solved again where it stands."""
    names = refined(list(published))
    back = {r: t for t, r in names.items()}
    lookups = _derived_lookups(micro, names.values())
    frames = {names[t]: _with_derived(f, names[t], lookups) for t, f in published.items()}
    return _restored_audit(disclosure.audit(micro, frames, rule=engine, proof=proof), back)


def protect_tables(
    micro: pd.DataFrame,
    tables: Sequence[tuple[str, ...]],
    rule: ProfileRule,
    *,
    given: Mapping[tuple[str, ...], pd.DataFrame] | None = None,
) -> disclosure.Protection:
    """The engine on ``tables`` (tuples of columns of ``micro``), around the ``given``
    tables already protected (kept as they are, see
    :func:`pipelines.stats.disclosure.protect`): its ``tables``, each one (``given``
    ones included) with its dimensions, ``n_reports``, ``n_households`` (null when
    hidden), ``flag`` and ``reason``; its ``audit`` (linear programming over every table
    at once) and ``proof`` (for :func:`engine_audit`). Tables whose dimensions derive
    from one another (a quarter from its month, the RPLS part from its building:
    :data:`DERIVED`) are linked in the engine's programs (:func:`refined`)."""
    engine = engine_rule(rule, technical_categories(micro))
    return engine_protect(micro, tables, engine, given=given)


def flagged(values: pd.Series, hidden: pd.Series) -> tuple[pd.Series, pd.Series]:
    shown = ~hidden.fillna(False).astype(bool)
    out = pd.to_numeric(values, errors="coerce").astype("Float64").where(shown)
    return out.round().astype("Int64"), pd.Series(np.where(shown, "", FLAG), index=values.index)
