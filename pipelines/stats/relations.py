"""The combinatorial part of the secondary suppression of
:func:`pipelines.stats.disclosure.protect`: what hiding a cell costs (:func:`cost`), the
relations between the published tables (a total and the finer table adding it up:
:func:`relation_pairs`), the pass that leaves no shown total with a single hidden term
(:func:`relation_pass`) and the one that shows again what the shown cells give exactly
(:func:`reveal_determined`). Cells are those of :func:`pipelines.stats.disclosure.cell_table`
(``table``, ``cell``, the dimensions, ``n_reports``); the linear programs that prove the
protection are :mod:`pipelines.stats.attacker`'s."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from pipelines.stats.system import Table, find_rows, row_keys


def cost(
    cells: pd.DataFrame, tables: Sequence[Table], technical: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]:
    """Information lost by hiding a cell: its reports + 1, doubled per dimension it
    lacks relative to the most detailed table (prefer small cells, cells over margins);
    a ``technical`` cell (:func:`pipelines.stats.disclosure.technical_cells`) costs more
    than every other cell together, so that the greedy steps of
    :func:`pipelines.stats.disclosure.protect` hide one only where every other way (a
    margin, a person-related cell, a cell of another group) is locked or already hidden:
    the order is lexicographic, technical cells last, and among them the same size
    rule."""
    depth = max((len(t) for t in tables), default=0)
    missing = depth - np.array([len(tables[i]) for i in cells["table"]])
    cost = (cells["n_reports"].to_numpy(dtype=float) + 1.0) * 2.0**missing
    if technical.any():
        cost = cost + np.where(technical, cost[~technical].sum() + 1.0, 0.0)
    return cost


#: Per relation between two published tables (a total and the finer table adding it
#: up), the total's cell and the term's cell, one pair of arrays per relation.
Pairs = list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]


def relation_pairs(cells: pd.DataFrame, tables: Sequence[Table]) -> Pairs:
    """Every relation between the published tables: for each table and each finer one
    (its dimensions and more), the cell of each term and the cell of its total.

    The terms in the finer table's order, those without a total left out: an inner
    merge of the two tables on the total's dimensions, done on integer codes of the
    values (:func:`~pipelines.stats.system.row_keys`). Speed only: on the bench site
    t000 (committee profile, 33 relations), pandas' merges on the text columns took
    0.198 s of CPU, the codes 0.045 s, the same pairs."""
    table, cell = cells["table"].to_numpy(), cells["cell"].to_numpy()
    # each dimension's values as integers once, the relations' keys made of those
    dims = dict.fromkeys(d for t in tables for d in t)
    coded = pd.DataFrame({d: row_keys([cells], [d])[0] for d in dims}, index=cells.index)
    rows = [np.flatnonzero(table == i) for i in range(len(tables))]
    pairs = []
    for p, tp in enumerate(tables):
        for c, tc in enumerate(tables):
            if p != c and set(tp) < set(tc):
                parent, child = rows[p], rows[c]
                if tp:
                    k_par, k_chi = row_keys([coded.iloc[parent], coded.iloc[child]], tp)
                    at = find_rows(k_par, k_chi)
                    hit = at >= 0
                    pairs.append((cell[parent[at[hit]]], cell[child[hit]]))
                elif len(parent):
                    pairs.append((np.full(len(child), cell[parent[0]]), cell[child]))
    return pairs


#: Why a technical cell was hidden as secondary
#: (:func:`pipelines.stats.disclosure.protect`), per cell: the step (``"relation"`` or
#: ``"lp"``) and the cell it protects (``total``: the shown total that had one hidden
#: term; ``target``: the hidden cell whose interval was too narrow).
Why = dict[int, dict[str, Any]]


def relation_pass(
    pairs: Pairs,
    hidden: npt.NDArray[np.bool_],
    cost: npt.NDArray[np.float64],
    free: npt.NDArray[np.bool_],
    unpublished: npt.NDArray[np.bool_] | None = None,
    technical: npt.NDArray[np.bool_] | None = None,
) -> tuple[npt.NDArray[np.bool_], Why]:
    """Quick combinatorial pass before the LPs: no shown total may have exactly one
    hidden non-zero term among the published cells it sums (else it is recomputed by
    subtraction). Hides the cheapest of the total and its shown terms (a term on equal
    cost); only ``free`` cells are hidden, a total left as it is when neither it nor any
    term is free (the LPs judge it). ``unpublished`` cells (:data:`REASON_UNPUBLISHED`)
    do not count as hidden terms. Returns the cells hidden and, for each ``technical``
    cell hidden, why (:data:`Why`): every other choice was technical too, or locked."""
    hidden = hidden.copy()
    quiet = np.zeros(len(hidden), dtype=bool) if unpublished is None else unpublished
    technical = np.zeros(len(hidden), dtype=bool) if technical is None else technical
    why: Why = {}
    changed = True
    while changed:
        changed = False
        for par, chi in pairs:
            n_hidden = np.bincount(par, weights=(hidden & ~quiet)[chi], minlength=len(hidden))
            lonely = np.flatnonzero((n_hidden == 1) & ~hidden)
            for q in lonely:
                kids = chi[(par == q) & ~hidden[chi] & free[chi]]
                options = np.append(kids, q) if free[q] else kids
                if not len(options):
                    continue
                pick = int(options[np.argmin(cost[options])])
                hidden[pick] = True
                if technical[pick]:
                    why[pick] = {"step": "relation", "total": int(q)}
                changed = True
    return hidden, why


def reveal_determined(
    pairs: Pairs, hidden: npt.NDArray[np.bool_], keep: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """Show again the hidden cells that the shown ones give exactly: a total whose terms
    are all shown (their sum), the one hidden term of a shown total (the total minus
    the others). Such a cell protects nothing (a reader recomputes it) and showing it
    tells nothing new: the attacker's system keeps the same solutions, so every
    interval of the audit stands. The greedy steps leave some (a term hidden for one
    total, then its own terms all shown). ``keep``: cells left hidden whatever (primary
    ones, whose recomputation the audit reports, and the locked hidden cells of
    ``given`` tables, published before as hidden)."""
    hidden = hidden.copy()
    changed = True
    while changed:
        changed = False
        for par, chi in pairs:
            is_total = np.zeros(len(hidden), dtype=bool)
            is_total[par] = True
            n_hidden = np.bincount(par, weights=hidden[chi], minlength=len(hidden))
            whole = is_total & hidden & (n_hidden == 0) & ~keep
            lonely = is_total & ~hidden & (n_hidden == 1)
            last = chi[lonely[par] & hidden[chi] & ~keep[chi]]
            if whole.any() or len(last):
                hidden[whole] = False
                hidden[last] = False
                changed = True
    return hidden
