"""What an attacker can deduce from linked count tables: the linear system the shown
cells impose on the unknown ones, and the feasible interval of each hidden cell by
linear programming (HiGHS, through highspy).

The disclosure-control rules live in :mod:`pipelines.stats.disclosure`; this module is
the proof it relies on. Its input is a *cell table*: one row per non-zero cell of every
published table, with ``table`` (the table's position in ``tables``), ``cell`` (the
row's position), the table's dimension columns and ``n_reports`` (true counts), as
:func:`pipelines.stats.disclosure.cell_table` builds it. Cells absent from it are zeros,
which the attacker sees as such.

A hidden cell is never a zero (a zero is published as 0, the marker « s » only stands
for a count of at least one report), so the attacker knows every hidden cell is at
least 1: the linear programs hold that bound (:attr:`LinearSystem.lower` on the
unknowns, and an inequality per hidden cell where the unknowns' bounds do not imply
it). Without it, a hidden cell can look protected over ``[0, 3]`` while the
attacker, knowing its neighbours are at least 1, pins it exactly.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

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
            ids = units.iloc[sel][keys].merge(ct, on=keys, how="left", validate="m:1")["cell"]
            ok = ids.notna().to_numpy()
            rows.append(ids.to_numpy()[ok].astype(np.int64))
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
            key = pd.concat([units.loc[ua, sep], units.loc[ub, sep]]).drop_duplicates()
            key = key.reset_index(drop=True).assign(_link=lambda f: np.arange(len(f)))
            la = units.loc[ua, sep].merge(key, on=sep, how="left", validate="m:1")["_link"]
            lb = units.loc[ub, sep].merge(key, on=sep, how="left", validate="m:1")["_link"]
            la_arr, lb_arr, n = la.to_numpy(), lb.to_numpy(), len(key)
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


@dataclass
class Intervals:
    lo: npt.NDArray[np.float64]
    hi: npt.NDArray[np.float64]
    # True where [lo, hi] is the attacker's exact interval; False where it is a
    # narrower interval already wide enough (a certificate, see feasible_intervals).
    exact: npt.NDArray[np.bool_]
    # For each cell solved exactly, shown cells whose equality binds its interval.
    binding: dict[int, set[int]]
    n_components: int
    # Linear programs solved (by HiGHS): a program is solved once per call, its answer
    # kept for the target's exact interval after its push up and for a later target
    # adding up the same unknowns.
    n_lp: int


#: HiGHS' ``simplex_strategy`` for the primal simplex (``kSimplexStrategyPrimal``, not
#: exported by highspy 1.12).
_PRIMAL_SIMPLEX = 4

#: One program's answer: its optimum, its equality duals and its solution (None, None
#: with an infinite optimum when unbounded).
Answer = tuple[float, npt.NDArray[np.float64] | None, npt.NDArray[np.float64] | None]


def _solve(
    block: _Component,
    obj: npt.NDArray[np.float64],
    senses: tuple[float, ...] = (1.0, -1.0),
) -> list[Answer]:
    """min (sense 1) then max (sense −1) of ``obj·x`` over the block (its equalities,
    its hidden cells' ``≥`` rows and its unknowns' lower bounds; HiGHS), each with its
    equality duals and solution (None when unbounded, which only the max can be).

    The duals are ``d(min)/d(b)`` of the minimised ``sign·obj·x``, as
    ``scipy.optimize.linprog``'s ``eqlin.marginals``."""
    cost = np.ascontiguousarray(obj, dtype=np.float64)
    return [_run(block, cost, sign) for sign in senses]


def _run(block: _Component, obj: npt.NDArray[np.float64], sign: float) -> Answer:
    """One solve of ``min sign·obj·x`` over the block by HiGHS, by the primal simplex
    from the block's first feasible basis (:meth:`_Component.model`)."""
    h = block.model()
    n_ub = block.a_ub.shape[0]
    h.changeColsCost(obj.size, np.arange(obj.size, dtype=np.int32), sign * obj)
    # Every solve starts from the same basis, never from the last solve's: the answer
    # (the vertex, so the duals that choose the cells protect() hides) depends on the
    # objective alone, not on the order the targets are met in nor on which answers
    # were kept, and a parallel run gives what a sequential one gives.
    h.clearSolver()
    h.setBasis(block.basis)
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kUnbounded:
        return (math.inf, None, None)
    if status != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(
            f"Audit : programme linéaire non résolu ({h.modelStatusToString(status)})."
        )
    sol = h.getSolution()
    duals = np.asarray(sol.row_dual)[n_ub:]
    x = np.asarray(sol.col_value)
    return (sign * float(h.getInfo().objective_function_value), duals, x)


@dataclass
class _Component:
    """One independent block of the attacker's system, and the range of values each
    target has taken over the feasible points seen so far (all LP solutions)."""

    a: sparse.csr_matrix  # equalities (shown cells, links)
    b: npt.NDArray[np.float64]
    rows: npt.NDArray[np.int64]  # positions in the reduced system's equality rows
    a_ub: sparse.csr_matrix  # hidden cells: a_ub x ≥ b_ub
    b_ub: npt.NDArray[np.float64]
    lower: npt.NDArray[np.float64]  # the unknowns' least values
    members: sparse.csr_matrix  # targets × this block's unknowns
    seen_lo: npt.NDArray[np.float64]
    seen_hi: npt.NDArray[np.float64]
    highs: highspy.Highs | None = None
    basis: highspy.HighsBasis | None = None

    def model(self) -> highspy.Highs:
        """The block's HiGHS model (built once, re-solved per objective): the ``≥`` rows
        as ``−a_ub·x ≤ −b_ub``, then the equalities, as linprog poses them; and
        :attr:`basis`, a feasible basis every solve starts from.

        Only the objective changes from one solve to the next, so a feasible basis stays
        feasible and the primal simplex goes on from it (phase 2 only), where a cold
        start first searched a feasible point again for every program. Measured on
        the publish stage (committee profile, same programs): Bondy 31 s → 10 s, a
        bench site of 6,250 reports 35 s → 9 s (its 2,200 programs over 1,314 unknowns
        from 10.8 to 1.0 ms each)."""
        # highspy, not linprog, which rebuilt and re-checked the model for every solve:
        # Bondy's publish stage (66,954 LPs, same ones) went from 758 to 406 s of CPU.
        if self.highs is None:
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
            # Presolve off: on these small 0/±1 systems it costs more than it saves.
            h.setOptionValue("presolve", "off")
            h.setOptionValue("simplex_strategy", _PRIMAL_SIMPLEX)
            m = sparse.vstack([-self.a_ub, self.a], format="csc")
            m.sort_indices()
            lp = highspy.HighsLp()
            lp.num_col_, lp.num_row_ = m.shape[1], m.shape[0]
            lp.col_cost_ = np.zeros(m.shape[1])
            lp.col_lower_ = self.lower
            lp.col_upper_ = np.full(m.shape[1], highspy.kHighsInf)
            lp.row_lower_ = np.concatenate([np.full(self.b_ub.size, -highspy.kHighsInf), self.b])
            lp.row_upper_ = np.concatenate([-self.b_ub, self.b])
            lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
            lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = m.shape[1], m.shape[0]
            lp.a_matrix_.start_ = m.indptr
            lp.a_matrix_.index_ = m.indices
            lp.a_matrix_.value_ = m.data
            h.passModel(lp)
            h.run()  # zero objective: any feasible point, the start of every solve
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                raise RuntimeError(
                    "Audit : programme linéaire non résolu "
                    f"({h.modelStatusToString(h.getModelStatus())})."
                )
            self.basis = h.getBasis()
            self.highs = h
        return self.highs

    def observe(self, x: npt.NDArray[np.float64] | None) -> None:
        if x is not None:
            v = self.members @ x
            np.minimum(self.seen_lo, v, out=self.seen_lo)
            np.maximum(self.seen_hi, v, out=self.seen_hi)


def feasible_intervals(
    system: LinearSystem,
    hidden: npt.NDArray[np.bool_],
    targets: npt.NDArray[np.int64],
    *,
    width: float | None = None,
) -> Intervals:
    """The attacker's interval on each target cell, and what binds it.

    Shown cells (and the system's links) are equalities over the unknowns; every hidden
    cell is at least 1 (a zero is published as 0, never hidden): an inequality where the
    unknowns' own lower bounds (:attr:`LinearSystem.lower`) do not already imply it.
    Unknowns fixed by an equality holding a single unknown are substituted
    (repeatedly); the rest splits into independent components (unknowns linked by an
    equality or an inequality), and each target's exact interval is the sum of its
    per-component LP bounds (its minimum and maximum, two LPs per component).

    With ``width``, solving is skipped for targets already *certified*: every LP
    solution (and the true table) is a point the attacker cannot rule out, so the
    range of values a target has taken over the points seen so far lies inside its
    interval; once that range is ``width`` wide, the cell is protected (``exact`` is
    False for it, and its ``lo``/``hi`` are that inner range). Each component starts
    with the minimum and maximum of the sum of its targets, which usually certifies
    most of them at once.
    """
    inc = system.incidence
    n_base = inc.shape[1]
    lower_all = system.lower_bounds()
    shown_cells = np.flatnonzero(~hidden)
    a_shown = sparse.vstack([inc[shown_cells], system.links], format="csr")
    shown_rows = np.concatenate([shown_cells, np.full(system.links.shape[0], -1)])
    pattern = (a_shown != 0).astype(np.float64).tocsr()
    unknown = np.ones(n_base, dtype=bool)
    while True:
        cnt = pattern @ unknown.astype(np.float64)
        single = np.flatnonzero(np.abs(cnt - 1) < 0.5)
        if not len(single):
            break
        fixed = pattern[single].multiply(unknown[None, :]).tocsr().indices
        unknown[fixed] = False
    free_idx = np.flatnonzero(unknown)
    fixed_value = np.where(unknown, 0.0, system.value)
    a = a_shown[:, free_idx].tocsr()
    keep = np.flatnonzero(a.getnnz(axis=1) > 0)
    a = a[keep].tocsr()
    rows_cell = shown_rows[keep]
    true = system.value[free_idx]
    lower = lower_all[free_idx]
    b = a @ true
    # Hidden cells whose unknowns' lower bounds do not make them ≥ 1 already.
    hid = inc[np.flatnonzero(hidden)].tocsr()
    implied = (hid.multiply(lower_all[None, :]).tocsr().sum(axis=1).A1) >= 1 - EPS
    hid = hid[~implied]
    a_ub = hid[:, free_idx].tocsr()
    b_ub = 1.0 - hid @ fixed_value
    need = b_ub - a_ub.multiply(lower[None, :]).tocsr().sum(axis=1).A1 > EPS
    a_ub, b_ub = a_ub[need].tocsr(), b_ub[need]
    n_rows, n_var = a.shape
    both = sparse.vstack([a, a_ub], format="csr")
    if both.shape[0]:
        graph = sparse.bmat([[None, both.T], [both, None]], format="csr")
        n_comp, label = connected_components(graph, directed=False)
        var_comp, row_comp = label[:n_var], label[n_var:]
    else:
        n_comp, var_comp, row_comp = n_var, np.arange(n_var), np.empty(0, np.int64)
    rows_by_comp = _groups(row_comp[:n_rows])
    ub_by_comp = _groups(row_comp[n_rows:])
    vars_by_comp = _groups(var_comp)
    # Targets over the free unknowns, and the part of each the substitution fixed.
    tin = inc[targets].tocsr()
    fixed_part = tin @ fixed_value
    members = tin[:, free_idx].tocsr()
    empty_rows = np.empty(0, np.int64)
    blocks: dict[int, _Component] = {}

    def block(comp: int) -> _Component:
        if comp not in blocks:
            crows, cvars = rows_by_comp.get(comp, empty_rows), vars_by_comp[comp]
            urows = ub_by_comp.get(comp, empty_rows)
            m = members[:, cvars].tocsr()
            start = m @ true[cvars]
            blocks[comp] = _Component(
                a[crows][:, cvars].tocsr(), b[crows], crows,
                a_ub[urows][:, cvars].tocsr(), b_ub[urows], lower[cvars],
                m, start, start.copy(),
            )  # fmt: skip
            if width is not None and blocks[comp].members.getnnz(axis=1).astype(bool).sum() >= 8:
                _push(blocks[comp], width, lp_count)  # worth it for many targets only
        return blocks[comp]

    lo = np.zeros(len(targets))
    hi = np.zeros(len(targets))
    exact = np.ones(len(targets), dtype=bool)
    binding: dict[int, set[int]] = {}
    lp_count = [0]
    n_lp = 0
    # Targets adding up the same unknowns (a zone of one building and that building)
    # pose the same programs: a target's answers are kept while a later one shares its
    # row, so each program is solved once (every solve starts from the same basis, so
    # it would answer the same again).
    row_key = [
        members.indices[s:e].tobytes() + members.data[s:e].tobytes()
        for s, e in zip(members.indptr[:-1], members.indptr[1:], strict=True)
    ]
    later = Counter(row_key)
    kept: dict[tuple[bytes, int, float], Answer] = {}

    def answer(k: int, comp: int, sign: float) -> Answer:
        nonlocal n_lp
        key = (row_key[k], comp, sign)
        if key in kept:  # let go with the row's last target (the call's end at most)
            return kept[key] if later[row_key[k]] else kept.pop(key)
        bl = block(comp)
        got = _solve(bl, _dense_row(bl.members, k), (sign,))[0]
        n_lp += 1
        if later[row_key[k]]:
            kept[key] = got
        return got

    for k, cell in enumerate(targets):
        later[row_key[k]] -= 1
        cols = members.indices[members.indptr[k] : members.indptr[k + 1]]  # row k's
        comps = [int(c) for c in np.unique(var_comp[cols])] if len(cols) else []
        bounded = [c for c in comps if c in rows_by_comp or c in ub_by_comp]
        # an unknown nothing holds: its least value, no maximum
        rowless = ~np.isin(var_comp[cols], bounded)
        floor_free = float(lower[cols[rowless]].sum())
        up: dict[int, Answer] = {}  # this target's maximum per component, once solved
        if width is not None:
            if len(bounded) < len(comps):  # an unknown nothing holds: protected
                lo[k], hi[k], exact[k] = fixed_part[k] + floor_free, math.inf, False
                binding[int(cell)] = set()
                continue
            for attempt in range(2):
                if attempt:  # push this target up (its minimum is often already seen)
                    for c in bounded:
                        up[c] = answer(k, c, -1.0)
                        block(c).observe(up[c][2])
                lo_s = fixed_part[k] + sum(block(c).seen_lo[k] for c in bounded)
                hi_s = fixed_part[k] + sum(block(c).seen_hi[k] for c in bounded)
                lo_s, hi_s = math.ceil(lo_s - EPS), math.floor(hi_s + EPS)
                if hi_s - lo_s >= width - EPS:
                    lo[k], hi[k], exact[k] = lo_s, hi_s, False
                    break
            if not exact[k]:
                continue
        lo_k = hi_k = float(fixed_part[k]) + floor_free
        if len(bounded) < len(comps):  # no maximum there
            hi_k = math.inf
        binds: set[int] = set()
        for comp in bounded:
            bl = block(comp)
            row = slice(bl.members.indptr[k], bl.members.indptr[k + 1])
            least = float(bl.members.data[row] @ bl.lower[bl.members.indices[row]])
            if bl.seen_lo[k] <= least + EPS:
                # a point seen gives the target its least value, so that is its
                # minimum, which no shown cell binds: no program (the programs' duals
                # were zero there on the bench site's 1,884 such minima, and added
                # no cell on Bondy's 2,499)
                c_lo, d_lo, x_lo = least, None, None
            else:
                c_lo, d_lo, x_lo = answer(k, comp, 1.0)
            # its maximum: solved by the push up above, when there was one
            c_hi, d_hi, x_hi = up[comp] if comp in up else answer(k, comp, -1.0)
            bl.observe(x_lo)
            bl.observe(x_hi)
            lo_k, hi_k = lo_k + c_lo, hi_k + c_hi
            for d in (d_lo, d_hi):
                if d is not None:
                    binds.update(int(x) for x in rows_cell[bl.rows[np.abs(d) > 1e-9]] if x >= 0)
        lo[k] = math.ceil(lo_k - EPS)
        hi[k] = math.floor(hi_k + EPS) if math.isfinite(hi_k) else math.inf
        binding[int(cell)] = binds
    return Intervals(lo, hi, exact, binding, int(n_comp), n_lp + lp_count[0])


#: An equality over more unknowns than this (a month's total over every building) leaves
#: room for all the targets it holds to rise at once: it does not keep two targets of a
#: round of :func:`_push` apart.
_WIDE_ROW = 32

#: Rounds of :func:`_push` a target may be in before it is solved alone.
_PUSH_TRIES = 2


def _push(block: _Component, width: float, lp_count: list[int]) -> None:
    """Gather feasible points that certify many targets of a block at once.

    First the minimum and maximum of the sum of all its targets; then rounds, each the
    maximum of the sum of the targets still narrower than ``width`` that share no
    narrow equality (a building's total of a category, a month's: at most
    :data:`_WIDE_ROW` unknowns), taken in order, a target sharing one with a target
    already taken waiting for a later round. Targets that do not share a total do not
    compete for it, so each one can rise, where the maximum of the sum of all the open
    targets raised a few of them only (on a bench site of 25,000 reports, the programs
    solved to protect the site's tables went from 2,457 to 1,658, the same cells
    hidden). A target goes into at most :data:`_PUSH_TRIES` rounds (one that truly
    fails never rises enough), and the rounds stop when one certifies fewer than two
    targets: solving each target alone costs one program per target.
    """
    in_block = np.asarray(block.members.getnnz(axis=1) > 0)
    obj = np.asarray(block.members[in_block].sum(axis=0)).ravel()
    for _, _, x in _solve(block, obj):
        block.observe(x)
    lp_count[0] += 2
    narrow = block.a[np.flatnonzero(block.a.getnnz(axis=1) <= _WIDE_ROW)].tocsc()
    tries = np.where(in_block, 0, _PUSH_TRIES)
    members = block.members

    def certified() -> npt.NDArray[np.bool_]:
        return np.asarray(block.seen_hi - block.seen_lo >= width - EPS)

    while True:
        open_ = ~certified() & (tries < _PUSH_TRIES)
        if not open_.any():
            return
        taken = np.zeros(narrow.shape[0], dtype=bool)
        pick = np.zeros(len(open_), dtype=bool)
        for k in np.flatnonzero(open_):
            cols = members.indices[members.indptr[k] : members.indptr[k + 1]]
            rows = np.concatenate(
                [narrow.indices[narrow.indptr[c] : narrow.indptr[c + 1]] for c in cols]
            )
            if not taken[rows].any():
                taken[rows] = True
                pick[k] = True
        tries[pick] += 1
        before = int(certified().sum())
        obj = np.asarray(members[pick].sum(axis=0)).ravel()
        block.observe(_solve(block, obj, senses=(-1.0,))[0][2])
        lp_count[0] += 1
        if int(certified().sum()) - before < 2:
            return


def _dense_row(m: sparse.csr_matrix, k: int) -> npt.NDArray[np.float64]:
    """Row ``k`` of ``m`` as a dense vector: ``m[k].todense()`` (its entries added in
    the order stored, duplicates summed) without building the one-row matrix, which
    cost about as much as solving one of the buildings' small programs."""
    start, end = m.indptr[k], m.indptr[k + 1]
    out = np.zeros(m.shape[1])
    np.add.at(out, m.indices[start:end], m.data[start:end])
    return out


def _groups(label: npt.NDArray[np.int64]) -> dict[int, npt.NDArray[np.int64]]:
    """Positions of each label value."""
    if not len(label):
        return {}
    order = np.argsort(label, kind="stable")
    splits = np.flatnonzero(np.diff(label[order])) + 1
    return {int(label[g[0]]): g for g in np.split(order, splits)}
