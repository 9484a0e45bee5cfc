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
- **Audit** (:func:`audit`, in :mod:`pipelines.stats.audit`): for every hidden sensitive
  cell, the attacker's feasible interval ``[lo, hi]`` is computed by linear programming
  (HiGHS, through ``highspy``) with every shown cell of every table as an equality over
  the unknowns and every hidden cell at least 1 (a zero is published as 0, so « s » says
  "one report or more"), in :mod:`pipelines.stats.attacker`. The result is a JSON-able
  dict meant for ``publication_audit.json``.

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
- So this module and the ones it stands on (:mod:`~pipelines.stats.primary`,
  :mod:`~pipelines.stats.relations`, :mod:`~pipelines.stats.system`,
  :mod:`~pipelines.stats.attacker`, :mod:`~pipelines.stats.audit`) are our own (over
  numpy, pandas and scipy), and deliberately keep the part that *proves* protection on a
  well-kept solver (HiGHS, through ``highspy``), not on home-made code: the greedy
  suppression may hide more cells than τ-Argus' optimum, but it cannot pass a table the
  audit has not checked.

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from pipelines.stats import relations
from pipelines.stats.attacker import Intervals, feasible_intervals
from pipelines.stats.audit import audit, audit_report, jsonable
from pipelines.stats.primary import (
    COMITE,
    FLAG_HIDDEN,
    FLAG_SHOWN,
    HOUSEHOLD,
    PERSON_RELATED,
    PUBLIC,
    REASON_DOMINANCE,
    REASON_PRIMARY,
    REASON_SECONDARY,
    REASON_UNPUBLISHED,
    REASONS,
    DisclosureRule,
    cell_table,
    check_input,
    on_cells,
    primary_suppression,
    round_half_up,
    table_frames,
    technical_cells,
)
from pipelines.stats.proof import Proof, proof_of
from pipelines.stats.system import EPS, Table, linear_system

# The cells and primary suppression live in pipelines.stats.primary; the callers of this
# module (``sdc.COMITE``, ``sdc.cell_table``…) name them from here.
__all__ = [
    "COMITE",
    "FLAG_HIDDEN",
    "FLAG_SHOWN",
    "HOUSEHOLD",
    "PERSON_RELATED",
    "PUBLIC",
    "REASONS",
    "REASON_DOMINANCE",
    "REASON_PRIMARY",
    "REASON_SECONDARY",
    "REASON_UNPUBLISHED",
    "DisclosureRule",
    "Protection",
    "Table",
    "audit",
    "cell_table",
    "primary_suppression",
    "protect",
    "round_half_up",
    "technical_cells",
]


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
            rows = on_cells(sel, pub[[*t, "flag", "locked", "reason"]], list(t))
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
    check_input(reports, tables)
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
    frames = table_frames(cells, tables, rule, hidden=hidden)
    # The intervals last computed for each cell are certificates of the final state
    # (intervals only widen as cells are hidden): no need to solve them all again.
    final = Intervals(lo, hi, np.zeros(len(targets), bool), {}, iv.n_components, n_lp)
    result = audit_report(tables, frames, cells, system, hidden, targets, final, rule)
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
    chosen_ids = np.flatnonzero(chosen).tolist()
    named = set(chosen_ids)
    for c in chosen_ids:
        named.update(v for k, v in why.get(c, {}).items() if k in ("total", "target"))
    # The dimension values of the cells named, one column at a time: the same values as
    # cells.at[c, d] cell by cell, which took pyarrow a take per value. Speed only: on
    # the bench site t000 (committee profile, 1,579 values) 0.024 -> 0.007 s of CPU.
    dims = dict.fromkeys(d for t in tables for d in t)
    at = sorted(named)
    value = {d: dict(zip(at, cells.loc[at, d], strict=True)) for d in dims}

    def where(c: int) -> dict[str, Any]:
        t = tables[int(table[c])]
        return {"table": list(t), "cell": {d: jsonable(value[d][c]) for d in t}}

    out = []
    for c in chosen_ids:
        w = why.get(int(c), {"step": "given"})
        other = {k: where(v) if k in ("total", "target") else v for k, v in w.items()}
        out.append({**where(int(c)), **other})
    return out
