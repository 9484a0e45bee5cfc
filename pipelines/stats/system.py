"""The attacker's linear system over linked count tables: its unknowns, the matrix
giving each published cell as a sum of them, and the equalities every publication
implies (:func:`linear_system`). Its input is a *cell table*: one row per non-zero cell
of every published table, with ``table`` (the table's position in ``tables``), ``cell``
(the row's position), the table's dimension columns and ``n_reports`` (true counts), as
:func:`pipelines.stats.primary.cell_table` builds it. Cells absent from it are zeros,
which the attacker sees as such. :mod:`pipelines.stats.attacker` solves it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

#: A published table: the names of its dimensions (``()`` for the site total).
Table = tuple[str, ...]

#: Tolerance of the LP bounds before they are rounded to integers.
EPS = 1e-7


@dataclass(frozen=True)
class LinearSystem:
    """The attacker's unknowns (``value`` holds their true report counts), the matrix
    giving each cell as a sum of them, and equalities every publication implies."""

    incidence: sparse.csr_matrix  # n_cells × n_var, 0/1
    value: npt.NDArray[np.float64]  # true report count per unknown
    links: sparse.csr_matrix  # n_links × n_var, known to hold (right-hand side 0)
    method: str  # "junction-tree" or "base-cells"
    # Least value of each unknown the attacker knows: 1 for a published non-zero cell
    # (the junction tree's unknowns), 0 for a base cell (which may be a zero).
    lower: npt.NDArray[np.float64] | None = None

    def lower_bounds(self) -> npt.NDArray[np.float64]:
        """:attr:`lower`, zeros when unset."""
        return np.zeros(self.value.size) if self.lower is None else self.lower


def _maximal(tables: Sequence[Table]) -> list[int]:
    """The tables no other published table refines."""
    return [i for i, t in enumerate(tables) if not any(set(t) < set(u) for u in tables)]


def _junction_tree(tables: Sequence[Table], maximal: list[int]) -> list[tuple[int, int]] | None:
    """Edges of a junction tree over the maximal tables, or None if there is none.

    A maximum-weight spanning tree on shared dimensions (Prim) is a junction tree when
    the dimension sets are an acyclic hypergraph, which the running intersection
    property checks: the dimensions two tables share lie on every table between them.
    """
    if len(maximal) <= 1:
        return []
    sets = {i: set(tables[i]) for i in maximal}
    inside, edges = {maximal[0]}, []
    while len(inside) < len(maximal):
        i, j = max(
            ((i, j) for i in inside for j in maximal if j not in inside),
            key=lambda e: (len(sets[e[0]] & sets[e[1]]), -e[0], -e[1]),
        )
        edges.append((i, j))
        inside.add(j)
    adj: dict[int, list[int]] = {i: [] for i in maximal}
    for i, j in edges:
        adj[i].append(j)
        adj[j].append(i)

    def path(a: int, b: int) -> list[int]:
        stack, prev = [a], {a: a}
        while stack:
            n = stack.pop()
            for m in adj[n]:
                if m not in prev:
                    prev[m] = n
                    stack.append(m)
        out = [b]
        while out[-1] != a:
            out.append(prev[out[-1]])
        return out

    for a in maximal:
        for b in maximal:
            if a < b and not all(sets[a] & sets[b] <= sets[n] for n in path(a, b)):
                return None
    return edges


def linear_system(
    reports: pd.DataFrame, tables: Sequence[Table], cells: pd.DataFrame
) -> LinearSystem:
    """The attacker's linear system over the published tables.

    Exact in both forms:

    - **junction tree** (the usual case: the maximal tables, such as building ×
      category and month × category, share their dimensions without a cycle): the
      unknowns are the non-zero cells of the maximal tables, every other table's cell is
      a sum of those of a maximal table containing it, and neighbouring maximal tables
      must agree on the cells of the dimensions they share (``links``). For an acyclic
      set of margins, any non-negative tables that agree on their shared margins come
      from some non-negative finest table (for two tables sharing a dimension, it is
      the transportation problem), so nothing the attacker could deduce is lost, and a
      few thousand unknowns replace the base cells' cross product.
    - **base cells** otherwise (cyclic sets such as building × category, month ×
      category and building × month): the unknowns are the base cells (one value of
      every dimension) that no shown zero cell fixes at 0, i.e. the join of the
      observed combinations of every table. Slower, but general.
    """
    maximal = _maximal(tables)
    edges = _junction_tree(tables, maximal)
    if edges is not None:
        return _tree_system(tables, cells, maximal, edges)
    return base_cell_system(reports, tables, cells)


def row_keys(frames: Sequence[pd.DataFrame], keys: Sequence[str]) -> list[npt.NDArray[np.int64]]:
    """One integer per row of each frame, equal where the rows' values of ``keys`` are
    (a missing value equal to a missing one, as :meth:`pandas.DataFrame.merge` has it):
    merges and duplicates on integers instead of text columns. Speed only: on the bench
    site t000 (committee profile), :func:`linear_system` 0.192 -> 0.115 s of CPU, the
    same matrices."""
    sizes = np.cumsum([0, *(len(f) for f in frames)])
    key = np.zeros(int(sizes[-1]), dtype=np.int64)
    for d in keys:
        values = pd.concat([f[d] for f in frames], ignore_index=True)
        code = pd.factorize(values, use_na_sentinel=False)[0].astype(np.int64)
        key = key * (int(code.max(initial=0)) + 1) + code
        key = np.unique(key, return_inverse=True)[1].astype(np.int64).ravel()
    return [key[a:b] for a, b in itertools.pairwise(sizes)]


def find_rows(right: npt.NDArray[np.int64], left: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """For each ``left`` key (:func:`row_keys`), the position of the ``right`` row with
    that key, −1 where none has it: a many-to-one merge (``right``'s keys distinct,
    else :class:`pandas.errors.MergeError`, as ``validate="m:1"``)."""
    order = np.argsort(right, kind="stable")
    ordered = right[order]
    if (ordered[1:] == ordered[:-1]).any():
        raise pd.errors.MergeError("Merge keys are not unique in right dataset.")
    if not len(right):
        return np.full(len(left), -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(ordered, left), len(right) - 1)
    return np.where(ordered[at] == left, order[at], -1).astype(np.int64)


def _sum_matrix(
    tables: Sequence[Table],
    cells: pd.DataFrame,
    units: pd.DataFrame,
    unit_of_table: Mapping[int, int | None],
) -> sparse.csr_matrix:
    """cells × units, 1 where a unit (a row of ``units``, with dimension columns and a
    ``table`` column, or None for all units) falls in a cell."""
    rows, cols = [], []
    for i, t in enumerate(tables):
        keys = list(t)
        ct = cells.loc[cells["table"] == i, [*keys, "cell"]]
        source = unit_of_table[i]
        pos = np.arange(len(units))
        sel = pos if source is None else pos[units["table"].to_numpy() == source]
        if keys:
            k_unit, k_cell = row_keys([units.iloc[sel], ct], keys)
            at = find_rows(k_cell, k_unit)
            ok = at >= 0
            rows.append(ct["cell"].to_numpy()[at[ok]].astype(np.int64))
            cols.append(sel[ok])
        elif len(ct):
            rows.append(np.full(len(sel), int(ct["cell"].iloc[0])))
            cols.append(sel)
    r = np.concatenate(rows) if rows else np.empty(0, np.int64)
    c = np.concatenate(cols) if cols else np.empty(0, np.int64)
    return sparse.csr_matrix(
        (np.ones(len(r)), (r, c)), shape=(len(cells), len(units)), dtype=np.float64
    )


def _tree_system(
    tables: Sequence[Table],
    cells: pd.DataFrame,
    maximal: list[int],
    edges: list[tuple[int, int]],
) -> LinearSystem:
    units = cells[cells["table"].isin(maximal)].reset_index(drop=True)
    home = {
        i: next(m for m in maximal if set(tables[i]) <= set(tables[m])) for i in range(len(tables))
    }
    inc = _sum_matrix(tables, cells, units, home)
    rows, cols, vals = [], [], []
    n_links = 0
    for a, b in edges:
        sep = [d for d in tables[a] if d in tables[b]]
        ua = units.index[units["table"] == a].to_numpy()
        ub = units.index[units["table"] == b].to_numpy()
        if sep:
            # one link per value of ``sep``, numbered in the order first met (a's
            # units, then b's), as drop_duplicates() numbered them
            k_a, k_b = row_keys([units.loc[ua], units.loc[ub]], sep)
            _, first, inverse = np.unique(
                np.concatenate([k_a, k_b]), return_index=True, return_inverse=True
            )
            link = np.argsort(np.argsort(first, kind="stable"), kind="stable")[inverse.ravel()]
            la_arr, lb_arr, n = link[: len(ua)], link[len(ua) :], len(first)
        else:
            la_arr, lb_arr, n = np.zeros(len(ua), int), np.zeros(len(ub), int), 1
        rows += [la_arr + n_links, lb_arr + n_links]
        cols += [ua, ub]
        vals += [np.ones(len(ua)), -np.ones(len(ub))]
        n_links += n
    links = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols)))
        if rows
        else (np.empty(0), (np.empty(0, int), np.empty(0, int))),
        shape=(n_links, len(units)),
    )
    value = units["n_reports"].to_numpy(dtype=np.float64)
    # Every unknown is a non-zero cell of a published table: shown, or hidden and then
    # at least 1 (a zero is never hidden).
    return LinearSystem(inc, value, links, "junction-tree", np.ones(len(units)))


def base_cell_system(
    reports: pd.DataFrame, tables: Sequence[Table], cells: pd.DataFrame
) -> LinearSystem:
    dims = list(dict.fromkeys(d for t in tables for d in t))
    order = sorted(range(len(tables)), key=lambda i: -len(tables[i]))
    base: pd.DataFrame | None = None
    for i in order:
        keys = list(tables[i])
        if not keys:
            continue
        obs = reports[keys].drop_duplicates()
        if base is None:
            base = obs
        else:
            common = [k for k in keys if k in base.columns]
            base = base.merge(obs, on=common) if common else base.merge(obs, how="cross")
    if base is None:  # only the site total is published
        base = pd.DataFrame(index=[0])
    base = base.reset_index(drop=True)
    if dims:
        counts = reports.groupby(dims, observed=True).size().rename("_n").reset_index()
        value = base.merge(counts, on=dims, how="left", validate="1:1")["_n"].fillna(0)
    else:
        value = pd.Series([float(len(reports))])
    inc = _sum_matrix(tables, cells, base, dict.fromkeys(range(len(tables))))
    links = sparse.csr_matrix((0, len(base)))
    lower = np.zeros(len(base))
    return LinearSystem(inc, value.to_numpy(dtype=np.float64), links, "base-cells", lower)
