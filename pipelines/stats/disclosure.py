"""Statistical disclosure control of count tables: primary and secondary cell
suppression, rounding, and an audit by linear programming (issue #16).

What it does
------------
The input is report microdata (one row per report) with dimension columns
(``building_id``, ``category``, ``month``…), a pseudonymous ``household`` key and a
boolean ``person_related``. The caller names the tables it publishes, each a tuple of
dimensions (``("building_id", "category")``, ``("category",)``, ``()`` for the site
total…). Every published number is a sum of *base cells*, the finest combination of all
dimensions, so tables that share base cells (a cross table and its margins, or two cross
tables sharing a dimension) are protected and audited **together**.

- **Primary suppression** (:func:`primary_suppression`): a *sensitive* cell (one holding
  at least one person-related report, or every cell when ``all_sensitive``) is hidden
  when it comes from 1 to ``min_households − 1`` distinct households (reason
  ``"primary"``), or when one household makes at least ``dominance_share`` of its
  reports (reason ``"dominance"``, the serial reporter). Zero cells are never sensitive.
- **Secondary suppression** (:func:`protect`): more cells are hidden (reason
  ``"secondary"``) until no hidden sensitive cell can be recomputed, to within the
  protection width, from what is shown. Greedy, documented in :func:`protect`. Cells of
  the rule's ``technical`` categories (``comite``: shown exactly, issue #16) come last:
  a margin or a person-related cell is hidden instead wherever one would do, and each
  technical cell hidden all the same is listed with why (``technical_hidden``).
- **Audit** (:func:`audit`): for every hidden sensitive cell, the attacker's feasible
  interval ``[lo, hi]`` is computed by linear programming (HiGHS, through ``highspy``)
  with every shown cell of every table as an equality over the unknowns and
  every hidden cell at least 1 (a zero is published as 0, so « s » says "one report or
  more"), in :mod:`pipelines.stats.attacker`. The result is a JSON-able dict meant for
  ``publication_audit.json``.

Usage::

    from pipelines.stats import disclosure as sdc

    tables = [("building_id", "category"), ("building_id",), ("category",),
              ("month", "category"), ("month",), ()]
    out = sdc.protect(reports, tables, rule=sdc.COMITE)   # or sdc.PUBLIC
    out.tables[("building_id", "category")]  # dims, n_reports, n_households, flag, reason
    out.audit                                # -> publication_audit.json
    sdc.audit(reports, published_tables, rule=sdc.COMITE)  # re-check what is written

Why this module rather than a library (the issue asks to evaluate two)
----------------------------------------------------------------------
- **ACRO** (``acro`` 1.0.2, AI-SDC): an output checker for trusted research
  environments. It flags and masks cells of one pandas crosstab by threshold / dominance
  rules and recomputes margins, but does **no secondary suppression** and knows no
  linked tables, so a hidden cell stays recomputable from the totals beside it (exactly
  the failure the issue names). It also pins ``pandas<=2.3.3`` (Vigie is on pandas 3)
  and pulls statsmodels, matplotlib, rdflib, lxml. Rejected.
- **pytauargus** (0.6.0): a Python port of τ-Argus with its solvers rebuilt on HiGHS;
  its Linux wheel runs headless, with no licensed solver, and it does real secondary
  suppression (``OPT``/``MOD``) and an interval audit. Tried on 2 Dec 2026 on a
  synthetic 60 buildings × 12 categories × 12 months table of 1,500 reports
  (``FREQ(3,10)``, ``OPT(1)``): 18–19 s to protect, and its audit did not finish within
  a 5-minute run. Beyond speed: our rule counts *households* (holding files in
  τ-Argus' batch grammar) and makes only person-related cells sensitive (a-priori status
  files), both reachable only through generated legacy ``.arb``/``.rda``/``.hst``
  files; its ``protect()`` does not expose linked tables; it is a 0.x beta
  (trygu/pytauargus) whose README says replays are not guaranteed identical; and it
  would add a 5 MB native binary to the lock. Not adopted.
- So this module and :mod:`~pipelines.stats.attacker` are our own (~1,000 lines over
  numpy, pandas and scipy), and deliberately keep the part that *proves* protection on a
  well-kept solver (HiGHS, through ``highspy``), not on home-made code:
  the greedy suppression may hide more cells than τ-Argus' optimum, but it cannot pass a
  table the audit has not checked.

Conventions (read before wiring it in)
--------------------------------------
- **Absent cells are zeros.** Output tables list the cells that hold at least one
  report; a reader (and the attacker) infers that any other combination is 0. Zero
  cells are never hidden; a base cell inside a shown zero cell is fixed at 0 in the
  audit (which keeps the linear programs small). So a hidden cell is at least 1, and
  the audit and the secondary suppression both hold that bound: with ``≥ 0`` a hidden
  "1" beside two hidden "1" under a shown total of 3 looked protected (0…3) while the
  attacker pins all three (on Bondy's comité pack, 1,325 small monthly cells were
  within fewer than 3 reports, 770 exactly, before the bound).
- **Protection** (default): every hidden sensitive cell must have an attacker interval
  at least ``protection_width`` reports wide (``hi − lo ≥ protection_width``, default
  ``min_households``), so the attacker cannot pin its count to fewer values than the
  threshold: a hidden "1" must stay compatible with e.g. 0…3 or 1…4.
- The audit bounds the **report counts** (additive). Household counts of shown cells are
  distinct counts, not sums: they only give inequalities (a margin has at least as many
  households as each of its cells), which the audit does not use; a hidden cell's
  household count is hidden with it.
- LP bounds are rounded inwards to integers (``ceil(lo)``, ``floor(hi)``), since counts
  are integers; the integer hull may be narrower than the LP for 3-way structures, a
  limit shared with τ-Argus' audit.
- **Rounding** (``round_base``, 5 for ``public``) applies to shown values *after* the
  audit, which is run on the exact values: rounding only widens the attacker's
  intervals, so a table that passes exactly passes rounded. Rounded margins need not
  equal the sum of their rounded cells.
- **Margins are cells too**: a building total or a month total holding a person-related
  report is sensitive like any cell (counted over all its reports' households).
- The audit proves ``hi − lo ≥ width`` for every hidden sensitive cell, either by its
  two LPs or by two feasible tables already met (LP solutions) whose values for the cell
  are that far apart; per table it reports the narrowest interval so proven
  (``worst``, with ``exact`` False when it is a certified inner interval: the attacker's
  own is at least as wide).
- **Coarsening** (month → quarter, building → zone) is the caller's: recode the
  dimension columns and call again; the tables given are protected as given.
- Every dimension value must be set (no missing value): a report without a building
  must carry an explicit level (e.g. ``"(sans bâtiment)"``), or the margins would not
  add up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from pipelines.stats import relations
from pipelines.stats.attacker import (
    EPS,
    Intervals,
    LinearSystem,
    Table,
    feasible_intervals,
    linear_system,
)
from pipelines.stats.proof import Proof, proof_of, proven, with_proven

#: Flags and reasons written in the output tables.
FLAG_SHOWN = ""
FLAG_HIDDEN = "s"
REASON_PRIMARY = "primary"
REASON_DOMINANCE = "dominance"
REASON_SECONDARY = "secondary"
REASONS = (REASON_PRIMARY, REASON_DOMINANCE, REASON_SECONDARY)
#: The reason of a ``given`` cell hidden because no file publishes it (a grouping the
#: tables need, such as the buildings outside every zone): it protects no cell, so a
#: total whose only hidden term it is needs nothing hidden for it (the LPs still judge).
REASON_UNPUBLISHED = "unpublished"

#: Column names the microdata must carry besides the dimensions.
HOUSEHOLD = "household"
PERSON_RELATED = "person_related"


@dataclass(frozen=True)
class DisclosureRule:
    """The rule a profile applies.

    Parameters
    ----------
    min_households
        A sensitive cell from 1 to ``min_households − 1`` distinct households is
        hidden (3 for ``comite``, 11 for ``public``).
    dominance_share
        A sensitive cell where one household makes at least this share of the reports
        is hidden (0.85). ``None`` or ≥ 1 switches the rule off… except for 1.0 itself,
        which hides cells made by a single household (already caught by the size rule).
    all_sensitive
        Every cell is sensitive, not only those holding a person-related report
        (``public``).
    dominance_all_cells
        Apply the dominance rule to every non-zero cell, technical ones included. Off by
        default: the issue shows technical categories exactly in ``comite``.
    protection_width
        Width (in reports) the attacker's interval on a hidden sensitive cell must
        reach; ``None`` means ``min_households``.
    round_base
        Shown counts are rounded to a multiple of this (half up); 1 leaves them exact.
    technical
        Values of ``category_dim`` shown exactly (``comite``'s technical categories): the
        secondary suppression hides a cell of one of them (a cell of a table that has
        ``category_dim``) only where no other cell would do (:func:`cost`), and says why
        (``technical_hidden`` of the result). Empty: no category is preferred.
    category_dim
        The dimension whose values ``technical`` names.
    """

    min_households: int = 3
    dominance_share: float | None = 0.85
    all_sensitive: bool = False
    dominance_all_cells: bool = False
    protection_width: float | None = None
    round_base: int = 1
    technical: frozenset[str] = frozenset()
    category_dim: str = "category"

    def __post_init__(self) -> None:
        if self.min_households < 1:
            raise ValueError(f"min_households doit être ≥ 1 (reçu {self.min_households}).")
        if self.dominance_share is not None and not 0 < self.dominance_share <= 1:
            raise ValueError(
                f"dominance_share doit être dans ]0, 1] (reçu {self.dominance_share})."
            )
        if self.round_base < 1:
            raise ValueError(f"round_base doit être ≥ 1 (reçu {self.round_base}).")
        if self.protection_width is not None and self.protection_width < 0:
            raise ValueError(f"protection_width doit être ≥ 0 (reçu {self.protection_width}).")

    @property
    def width(self) -> float:
        """The protection width actually required, in reports."""
        return float(
            self.min_households if self.protection_width is None else self.protection_width
        )


#: The issue's defaults for the two protected profiles (``interne`` applies no rule).
COMITE = DisclosureRule(min_households=3, dominance_share=0.85)
PUBLIC = DisclosureRule(min_households=11, dominance_share=0.85, all_sensitive=True, round_base=5)


@dataclass(frozen=True)
class Protection:
    """What :func:`protect` returns.

    Attributes
    ----------
    tables
        One DataFrame per published table, keyed by its dimension tuple: the dimension
        columns, ``n_reports`` and ``n_households`` (nullable ``Int64``, ``<NA>`` when
        hidden, rounded to ``round_base`` when shown), ``flag`` (``""`` shown, ``"s"``
        hidden) and ``reason`` (``""``, ``"primary"``, ``"dominance"``,
        ``"secondary"``). Cells with no report are absent (they are zeros).
    audit
        The :func:`audit` result of these tables (JSON-able).
    proof
        The intervals it proved (:mod:`pipelines.stats.proof`), for :func:`audit`'s
        ``proof`` (None unless :func:`protect` made these tables).
    """

    tables: dict[Table, pd.DataFrame]
    audit: dict[str, Any] = field(repr=False)
    proof: Proof | None = field(default=None, repr=False)


# ---------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------


def _check_input(reports: pd.DataFrame, tables: Sequence[Table]) -> list[str]:
    """The dimensions in first-seen order; refuse missing columns or values."""
    if not tables:
        raise ValueError("Aucun tableau à protéger : la liste des tableaux est vide.")
    dims: list[str] = []
    for t in tables:
        for d in t:
            if d not in dims:
                dims.append(d)
    missing = [c for c in [*dims, HOUSEHOLD, PERSON_RELATED] if c not in reports.columns]
    if missing:
        raise ValueError(f"Colonnes absentes des signalements : {', '.join(missing)}.")
    for c in [*dims, HOUSEHOLD]:
        if reports[c].isna().any():
            raise ValueError(
                f"La colonne {c!r} a des valeurs manquantes : donnez-leur un niveau explicite."
            )
    if len(set(map(tuple, tables))) != len(tables):
        raise ValueError("Un même tableau est demandé deux fois.")
    return dims


def cell_table(
    reports: pd.DataFrame, tables: Sequence[Table], rule: DisclosureRule
) -> pd.DataFrame:
    """Every non-zero cell of every table, with its counts and primary status.

    Columns: ``table`` (index in ``tables``), ``cell`` (global id), the table's
    dimensions (others NaN), ``n_reports``, ``n_households``, ``top_share``,
    ``sensitive``, ``reason`` (primary reason or ``""``).
    """
    frames = []
    data = reports.assign(_one=1)
    for i, t in enumerate(tables):
        keys = list(t)
        if keys:
            g = data.groupby(keys, sort=True, observed=True)
            cells = g.agg(
                n_reports=("_one", "size"),
                n_households=(HOUSEHOLD, "nunique"),
                any_person=(PERSON_RELATED, "any"),
            )
            top = (
                data.groupby([*keys, HOUSEHOLD], sort=False, observed=True)
                .size()
                .groupby(level=list(range(len(keys))), observed=True)
                .max()
            )
            cells["top"] = top.reindex(cells.index).to_numpy()
            cells = cells.reset_index()
        else:
            cells = pd.DataFrame(
                {
                    "n_reports": [len(data)],
                    "n_households": [data[HOUSEHOLD].nunique()],
                    "any_person": [bool(data[PERSON_RELATED].any())],
                    "top": [int(data[HOUSEHOLD].value_counts().max()) if len(data) else 0],
                }
            )
        cells = cells[cells["n_reports"] > 0]
        cells.insert(0, "table", i)
        frames.append(cells)
    out = pd.concat(frames, ignore_index=True)
    out.insert(1, "cell", np.arange(len(out)))
    out["top_share"] = out["top"] / out["n_reports"]
    sensitive = out["any_person"].astype(bool) | rule.all_sensitive
    out["sensitive"] = sensitive
    small = sensitive & (out["n_households"] < rule.min_households)
    dominated = pd.Series(False, index=out.index)
    if rule.dominance_share is not None:
        scope = pd.Series(True, index=out.index) if rule.dominance_all_cells else sensitive
        dominated = scope & (out["top_share"] >= rule.dominance_share - 1e-12) & ~small
    out["reason"] = np.where(small, REASON_PRIMARY, np.where(dominated, REASON_DOMINANCE, ""))
    # A dominance cell is protected like a sensitive one, even when technical.
    out["sensitive"] = sensitive | dominated
    return out.drop(columns=["any_person", "top"])


# ---------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------


def round_half_up(x: pd.Series, base: int) -> pd.Series:
    """``x`` rounded half up to a multiple of ``base`` (``Int64``, missing kept), as the
    engine rounds the counts it shows; ``x`` as it is when ``base`` ≤ 1."""
    if base <= 1:
        return x
    return (np.floor(x / base + 0.5) * base).astype("Int64")


def _frames(
    cells: pd.DataFrame,
    tables: Sequence[Table],
    rule: DisclosureRule,
    *,
    hidden: npt.NDArray[np.bool_] | None = None,
) -> dict[Table, pd.DataFrame]:
    """Per table, its cells as the reader sees them (hidden values set to NA): those
    with a reason, or the ``hidden`` ones when given (their ``reason`` kept as it is)."""
    out: dict[Table, pd.DataFrame] = {}
    hidden = (cells["reason"] != "").to_numpy() if hidden is None else hidden
    for i, t in enumerate(tables):
        sel = (cells["table"] == i).to_numpy()
        df = cells.loc[sel, list(t)].reset_index(drop=True)
        h = hidden[sel]
        for col in ("n_reports", "n_households"):
            v = round_half_up(cells.loc[sel, col].astype("Int64"), rule.round_base)
            df[col] = v.reset_index(drop=True).astype("Int64").mask(h)
        df["flag"] = np.where(h, FLAG_HIDDEN, FLAG_SHOWN)
        df["reason"] = cells.loc[sel, "reason"].to_numpy()
        out[tuple(t)] = df
    return out


def primary_suppression(
    reports: pd.DataFrame, tables: Sequence[Table], *, rule: DisclosureRule = COMITE
) -> dict[Table, pd.DataFrame]:
    """The tables with primary suppression only (no secondary): a naive publication.

    Useful to show what the audit catches; publish with :func:`protect`.
    """
    tables = [tuple(t) for t in tables]
    _check_input(reports, tables)
    return _frames(cell_table(reports, tables, rule), tables, rule)


def technical_cells(
    cells: pd.DataFrame, tables: Sequence[Table], rule: DisclosureRule
) -> npt.NDArray[np.bool_]:
    """Per cell of :func:`cell_table`: a cell of a category the rule shows exactly (its
    table has ``rule.category_dim`` and its value is in ``rule.technical``). Margins
    (tables without the category) are never technical: a building or a month total is
    the cheaper thing to hide."""
    out = np.zeros(len(cells), dtype=bool)
    if not rule.technical:
        return out
    for i, t in enumerate(tables):
        if rule.category_dim in t:
            sel = (cells["table"] == i).to_numpy()
            out[sel] = cells.loc[sel, rule.category_dim].isin(rule.technical).to_numpy()
    return out


def _on_cells(cells: pd.DataFrame, published: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``cells`` (``[*keys, "cell"]``) left-joined 1:1 with the ``published`` rows of the
    same keys (the other columns of ``published`` beside them, null where unlisted).

    A key column takes the other side's dtype when it is empty: a table with no row
    (a site without reports) has no values to tell text from numbers, and pandas gives
    an empty list the float dtype, which it then refuses to join with text."""
    published = published.copy()
    cells = cells.copy()
    for key in keys:
        if cells[key].dtype == published[key].dtype:
            continue
        if published.empty:
            published[key] = published[key].astype(cells[key].dtype)
        elif cells.empty:
            cells[key] = cells[key].astype(published[key].dtype)
    return cells.merge(published, on=keys, how="left", validate="1:1")


def _given_flags(
    cells: pd.DataFrame, tables: Sequence[Table], given: Mapping[Table, pd.DataFrame]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.object_]]:
    """Per cell of ``cells``: hidden as ``given`` publishes it, locked (kept as given),
    and the reason given (``""`` where none); cells of other tables are free."""
    hidden = np.zeros(len(cells), dtype=bool)
    locked = np.zeros(len(cells), dtype=bool)
    reason = np.full(len(cells), "", dtype=object)
    for i, t in enumerate(tables):
        if t not in given:
            continue
        pub = given[t]
        pub = pub.assign(
            locked=pub["locked"].astype(bool) if "locked" in pub else True,
            reason=pub["reason"].fillna("").astype(str) if "reason" in pub else "",
        )
        sel = cells.loc[cells["table"] == i, [*t, "cell"]]
        if t:
            rows = _on_cells(sel, pub[[*t, "flag", "locked", "reason"]], list(t))
        else:
            rows = sel.assign(**{c: pub[c].iloc[0] if len(pub) else None
                                 for c in ("flag", "locked", "reason")})  # fmt: skip
        at = rows["cell"].to_numpy()
        hidden[at] = (rows["flag"].fillna(FLAG_HIDDEN) == FLAG_HIDDEN).to_numpy()  # unlisted
        locked[at] = rows["locked"].fillna(True).astype(bool).to_numpy()
        reason[at] = rows["reason"].fillna("").astype(str).to_numpy()
    return hidden, locked, reason


def protect(
    reports: pd.DataFrame,
    tables: Sequence[Table],
    *,
    rule: DisclosureRule = COMITE,
    max_rounds: int = 200,
    given: Mapping[Table, pd.DataFrame] | None = None,
) -> Protection:
    """Primary then secondary suppression of linked count tables, audited.

    Parameters
    ----------
    reports
        One row per report: the dimension columns, ``household`` (pseudonymous key; the
        report id where no key exists) and ``person_related`` (bool).
    tables
        The published tables, each a tuple of dimension names; ``()`` is the site
        total. All are protected together.
    rule
        :data:`COMITE`, :data:`PUBLIC` or any :class:`DisclosureRule`.
    max_rounds
        Safety bound on the LP-guided rounds (each hides at least one more cell).
    given
        Tables already protected and published beside ``tables`` (another group of
        tables, protected before): per table, its cells with the dimension columns,
        ``flag`` and optionally ``reason`` and ``locked`` (bool, true by default). They
        join the attacker's system and the audit; a locked cell keeps its flag, an
        unlocked one may be hidden more. So a group of tables is protected *around* the
        others, the links between them included, without reopening them.

    Returns
    -------
    Protection
        The tables (``given`` ones included) and their audit (``audit["passed"]`` is
        True by construction; a failure raises instead, except with ``given``: its
        locked cells may leave no way, and the audit then says so).

    Notes
    -----
    Secondary suppression is greedy, in two steps, both choosing among shown non-zero
    cells by the cost of :func:`cost` (reports + 1, doubled per missing dimension; a
    cell of a ``rule.technical`` category after every other cell):

    1. a combinatorial pass: while a shown total has exactly one hidden term among the
       published cells it adds up, hide the cheapest of its shown terms and itself;
    2. LP-guided rounds: audit; for each hidden sensitive cell whose interval is
       narrower than the protection width, hide the cheapest shown cell whose equality
       binds its interval (non-zero dual in HiGHS' solution), falling back to the
       cheapest shown cell sharing a base cell with it, then to the cheapest one in the
       table; repeat until the audit passes.

    Hiding everything non-zero always passes (no equality left), so this terminates.
    Each technical cell hidden as secondary is listed with why in the result's
    ``technical_hidden`` (:func:`_technical_hidden`): in both steps it was the cheapest
    choice only because every other one was technical too, locked or already hidden.
    """
    given = {tuple(t): frame for t, frame in (given or {}).items()}
    tables = [tuple(t) for t in tables]
    tables += [t for t in given if t not in tables]
    _check_input(reports, tables)
    cells = cell_table(reports, tables, rule)
    system = linear_system(reports, tables, cells)
    technical = technical_cells(cells, tables, rule)
    cost = relations.cost(cells, tables, technical)
    primary = (cells["reason"] != "").to_numpy()
    was_hidden, locked, given_reason = _given_flags(cells, tables, given)
    free = ~locked
    start = np.where(locked, was_hidden, primary | was_hidden)
    pairs = relations.relation_pairs(cells, tables)
    unpublished = locked & was_hidden & (given_reason == REASON_UNPUBLISHED)
    hidden, why = relations.relation_pass(pairs, start, cost, free, unpublished, technical)
    targets = np.flatnonzero(primary & hidden & cells["sensitive"].to_numpy())
    width = rule.width
    pending = np.arange(len(targets))
    lo = np.zeros(len(targets))
    hi = np.zeros(len(targets))
    n_lp = 0
    for _ in range(max_rounds):
        # Hiding a cell only removes equalities, so an interval can only widen: a cell
        # protected once stays protected and only the others are checked again.
        iv = feasible_intervals(system, hidden, targets[pending], width=width)
        lo[pending], hi[pending] = iv.lo, iv.hi
        n_lp += iv.n_lp
        failing = (iv.hi - iv.lo) < width - EPS
        bad = targets[pending[failing]]
        pending = pending[failing]
        if not len(bad):
            break
        inc = system.incidence
        picks: dict[int, dict[str, Any]] = {}
        for cell in bad:
            among = "binding"
            cands = [c for c in iv.binding.get(int(cell), ()) if not hidden[c] and free[c]]
            if not cands:
                among = "sharing"
                share = inc[:, inc[cell].indices].getnnz(axis=1) > 0
                cands = list(np.flatnonzero(share & ~hidden & free))
            if not cands:
                among = "table"
                same = (cells["table"] == cells.at[cell, "table"]).to_numpy()
                cands = list(np.flatnonzero(same & ~hidden & free))
            if not cands:
                among = "any"
                cands = list(np.flatnonzero(~hidden & free))
            if cands:
                pick = int(min(cands, key=lambda c: (cost[c], c)))
                picks.setdefault(pick, {"step": "lp", "target": int(cell), "among": among})
        if not picks:
            break
        hidden[list(picks)] = True
        why.update({c: w for c, w in picks.items() if technical[c]})
        hidden, more = relations.relation_pass(pairs, hidden, cost, free, unpublished, technical)
        why.update({c: w for c, w in more.items() if c not in why})
    # A locked cell keeps its flag: hidden as given, even where the others now give it.
    hidden = relations.reveal_determined(pairs, hidden, primary | (locked & was_hidden))
    reason = cells["reason"].to_numpy().astype(object)
    reason = np.where(hidden & locked & (given_reason != ""), given_reason, reason)
    reason[hidden & (reason == "")] = REASON_SECONDARY
    cells = cells.assign(reason=reason)
    frames = _frames(cells, tables, rule, hidden=hidden)
    # The intervals last computed for each cell are certificates of the final state
    # (intervals only widen as cells are hidden): no need to solve them all again.
    final = Intervals(lo, hi, np.zeros(len(targets), bool), {}, iv.n_components, n_lp)
    result = _report(tables, frames, cells, system, hidden, targets, final, rule)
    result["technical_hidden"] = _technical_hidden(
        cells, tables, hidden & free & technical & (reason == REASON_SECONDARY), why
    )
    if not result["passed"] and not given:
        raise RuntimeError("La suppression secondaire n'a pas abouti (audit en échec).")
    return Protection(frames, result, proof_of(cells, tables, hidden, targets, final))


def _technical_hidden(
    cells: pd.DataFrame, tables: Sequence[Table], chosen: npt.NDArray[np.bool_], why: relations.Why
) -> list[dict[str, Any]]:
    """The technical cells :func:`protect` hid as secondary (``chosen``), each with why
    (JSON-able): ``step`` ``"relation"`` and the ``total`` it keeps from being
    recomputed by subtraction (the total and its other shown terms were technical too,
    or locked), ``"lp"`` and the ``target`` whose interval was too narrow, ``among`` the
    cells binding it (``"binding"``) or the fallbacks, all technical or locked; or
    ``"given"`` (hidden in a ``given`` table left free)."""

    table = cells["table"].to_numpy()

    def where(c: int) -> dict[str, Any]:
        t = tables[int(table[c])]
        return {"table": list(t), "cell": {d: _jsonable(cells.at[c, d]) for d in t}}

    out = []
    for c in np.flatnonzero(chosen):
        w = why.get(int(c), {"step": "given"})
        other = {k: where(v) if k in ("total", "target") else v for k, v in w.items()}
        out.append({**where(int(c)), **other})
    return out


def audit(
    reports: pd.DataFrame,
    published: Mapping[Table, pd.DataFrame],
    *,
    rule: DisclosureRule = COMITE,
    proof: Proof | None = None,
) -> dict[str, Any]:
    """Check published tables against the rule, by linear programming.

    Parameters
    ----------
    reports
        The microdata the tables were built from (true values come from here, not from
        the published, possibly rounded, numbers).
    published
        Per table (dimension tuple), the published cells with at least the dimension
        columns and ``flag`` (``"s"`` = hidden); cells absent are zeros.
    rule
        The rule they must satisfy.
    proof
        What :func:`protect` proved of these tables (:attr:`Protection.proof`): the
        intervals it proved stand where the tables hide at least the cells it hid
        (:func:`pipelines.stats.proof.proven`) and are not solved again.

    Returns
    -------
    dict
        JSON-able: ``passed``, the rule, and per table ``dims``, ``n_cells``,
        ``n_hidden`` (by reason, when a ``reason`` column is given, and ``total``),
        ``n_sensitive_shown`` (cells the primary rule hides but the table shows),
        ``n_unprotected`` (hidden sensitive cells whose attacker interval is narrower
        than the protection width) and ``worst`` (the narrowest proven interval, its
        cell, bounds and ``exact``; never the true value), and with ``rule.technical``,
        for a table of ``rule.category_dim``, ``n_hidden_technical`` (``total``, ``own``:
        primary or dominance, ``secondary``). Plus ``n_components`` and ``n_lp`` (the
        linear programs HiGHS solved for the proof: ``Intervals.n_lp`` of
        :mod:`pipelines.stats.attacker`), and with ``proof``, ``n_proven`` (the cells
        whose interval came from it).
    """
    tables = [tuple(t) for t in published]
    _check_input(reports, tables)
    cells = cell_table(reports, tables, rule)
    hidden = np.zeros(len(cells), dtype=bool)
    for i, t in enumerate(tables):
        pub = published[t]
        sel = cells["table"] == i
        if t:
            flags = _on_cells(cells.loc[sel, [*t, "cell"]], pub[[*t, "flag"]], list(t))
            hid = (flags["flag"] == FLAG_HIDDEN).to_numpy()
            hidden[flags["cell"].to_numpy()[hid]] = True
        elif sel.any() and len(pub) and (pub["flag"] == FLAG_HIDDEN).any():
            hidden[cells.loc[sel, "cell"].to_numpy()] = True
    system = linear_system(reports, tables, cells)
    primary = (cells["reason"] != "").to_numpy()
    targets = np.flatnonzero(primary & hidden & cells["sensitive"].to_numpy())
    if proof is None:
        iv = feasible_intervals(system, hidden, targets, width=rule.width)
        return _report(tables, published, cells, system, hidden, targets, iv, rule)
    covered, lo, hi = proven(proof, cells, tables, hidden, targets, rule.width)
    solved = feasible_intervals(system, hidden, targets[~covered], width=rule.width)
    iv = with_proven(solved, covered, lo, hi)
    result = _report(tables, published, cells, system, hidden, targets, iv, rule)
    return {**result, "n_proven": int(covered.sum())}


def _report(
    tables: Sequence[Table],
    published: Mapping[Table, pd.DataFrame],
    cells: pd.DataFrame,
    system: LinearSystem,
    hidden: npt.NDArray[np.bool_],
    targets: npt.NDArray[np.int64],
    iv: Intervals,
    rule: DisclosureRule,
) -> dict[str, Any]:
    """The audit dict from the targets' intervals (exact or certified)."""
    primary = (cells["reason"] != "").to_numpy()
    own = cells["reason"].isin([REASON_PRIMARY, REASON_DOMINANCE]).to_numpy()
    technical = technical_cells(cells, tables, rule) & hidden
    width = rule.width
    n_lp = iv.n_lp
    per_table = []
    passed = True
    for i, t in enumerate(tables):
        in_table = (cells["table"] == i).to_numpy()
        in_t = np.flatnonzero(in_table[targets])
        w = (iv.hi - iv.lo)[in_t]
        unprotected = int((w < width - EPS).sum())
        shown_bad = int((primary & ~hidden & in_table).sum())
        n_hidden: dict[str, int] = {"total": int((hidden & in_table).sum())}
        pub = published[t]
        if "reason" in pub.columns:
            for r in REASONS:
                n_hidden[r] = int(((pub["flag"] == FLAG_HIDDEN) & (pub["reason"] == r)).sum())
        worst = None
        if len(in_t):
            # The narrowest proven interval: exact, or inside the exact one (certified).
            j = int(in_t[np.argmin(w)])
            lo_j, hi_j = float(iv.lo[j]), float(iv.hi[j])
            worst = {
                "cell": {d: _jsonable(cells.at[int(targets[j]), d]) for d in t},
                "lo": lo_j,
                "hi": None if math.isinf(hi_j) else hi_j,
                "width": None if math.isinf(hi_j) else hi_j - lo_j,
                "exact": bool(iv.exact[j]),
            }
        passed = passed and unprotected == 0 and shown_bad == 0
        per_table.append(
            {
                "dims": list(t),
                "n_cells": int(in_table.sum()),
                "n_hidden": n_hidden,
                "n_sensitive_shown": shown_bad,
                "n_unprotected": unprotected,
                "worst": worst,
            }
        )
        if rule.technical and rule.category_dim in t:
            # hidden cells of the categories shown exactly: for themselves (a report
            # naming a dwelling makes them person-related), or to protect another
            per_table[-1]["n_hidden_technical"] = {
                "total": int((technical & in_table).sum()),
                "own": int((technical & in_table & own).sum()),
                "secondary": int((technical & in_table & ~own).sum()),
            }
    return {
        "passed": bool(passed),
        "rule": {
            "min_households": rule.min_households,
            "dominance_share": rule.dominance_share,
            "all_sensitive": rule.all_sensitive,
            "protection_width": width,
            "round_base": rule.round_base,
        },
        "method": f"HiGHS (highspy), {system.method}",
        "n_unknowns": int(system.value.size),
        "tables": per_table,
        "n_components": iv.n_components,
        "n_lp": n_lp,
    }


def _jsonable(v: object) -> object:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, str | int | float | bool) or v is None:
        return v
    return str(v)
