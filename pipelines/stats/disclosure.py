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
  protection width, from what is shown. Greedy, documented in :func:`protect`.
- **Audit** (:func:`audit`): for every hidden sensitive cell, the attacker's feasible
  interval ``[lo, hi]`` is computed by linear programming (``scipy.optimize.linprog``,
  HiGHS) over the base cells, with every shown cell of every table as an equality. The
  result is a JSON-able dict meant for ``publication_audit.json``.

Why this module rather than a library (the issue asks to evaluate two)
----------------------------------------------------------------------
- **ACRO** (``acro`` 1.0.2, AI-SDC): an output checker for trusted research
  environments. It flags and masks cells of one pandas crosstab by threshold / dominance
  rules and recomputes margins, but does **no secondary suppression** and knows no
  linked tables, so a hidden cell stays recomputable from the totals beside it (exactly
  the failure the issue names). It also pins ``pandas<=2.3.3`` (Vigie is on pandas 3)
  and pulls statsmodels, matplotlib, rdflib, lxml. Rejected.
- **pytauargus** (0.6.0): a Python port of τ-Argus with its solvers rebuilt on HiGHS;
  its Linux wheel runs headless, no licensed solver, and it does real secondary
  suppression (``OPT``/``MOD``) and an interval audit. Tried on 2 Dec 2026 on a
  synthetic 60 buildings × 12 categories × 12 months table of 1,500 reports
  (``FREQ(3,10)``, ``OPT(1)``): 18–19 s to protect, and its audit had not finished after
  5 min. Beyond speed: our rule is per *household* (holding files in τ-Argus' batch
  grammar) and only person-related cells are sensitive (a-priori status files), both
  reachable only through generated legacy ``.arb``/``.rda``/``.hst`` files; its
  ``protect()`` does not expose linked tables; it is a 0.x beta by one maintainer whose
  README warns that reruns may not give identical suppressions; and it adds a 5 MB
  native binary to a pure-Python lock. Not adopted.
- So this module is our own, ~500 lines over numpy/pandas/scipy, and deliberately keeps
  the part that *proves* protection on a well-kept solver (HiGHS through
  ``scipy.optimize.linprog``), not on home-made code: the greedy suppression may be
  suboptimal (more hidden cells than τ-Argus' optimum), but it cannot pass a table the
  audit has not checked.

Conventions (read before wiring it in)
--------------------------------------
- **Absent cells are zeros.** Output tables list the cells that hold at least one
  report; a reader (and the attacker) infers that any other combination is 0. Zero
  cells are never hidden; a base cell inside a shown zero cell is fixed at 0 in the
  audit (which keeps the linear programs small).
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
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

#: Flags and reasons written in the output tables.
FLAG_SHOWN = ""
FLAG_HIDDEN = "s"
REASON_PRIMARY = "primary"
REASON_DOMINANCE = "dominance"
REASON_SECONDARY = "secondary"
REASONS = (REASON_PRIMARY, REASON_DOMINANCE, REASON_SECONDARY)

#: Column names the microdata must carry besides the dimensions.
HOUSEHOLD = "household"
PERSON_RELATED = "person_related"

Table = tuple[str, ...]

_EPS = 1e-7


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
    """

    min_households: int = 3
    dominance_share: float | None = 0.85
    all_sensitive: bool = False
    dominance_all_cells: bool = False
    protection_width: float | None = None
    round_base: int = 1

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
    """

    tables: dict[Table, pd.DataFrame]
    audit: dict[str, Any] = field(repr=False)


# ---------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------


def _check_input(reports: pd.DataFrame, tables: Sequence[Table]) -> list[str]:
    """The dimensions in first-seen order; refuse missing columns or values."""
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


def _cells(reports: pd.DataFrame, tables: Sequence[Table], rule: DisclosureRule) -> pd.DataFrame:
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
# The attacker's linear system
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _System:
    """The attacker's unknowns (``value`` holds their true report counts), the matrix
    giving each cell as a sum of them, and equalities every publication implies."""

    incidence: sparse.csr_matrix  # n_cells × n_var, 0/1
    value: npt.NDArray[np.float64]  # true report count per unknown
    links: sparse.csr_matrix  # n_links × n_var, known to hold (right-hand side 0)
    method: str  # "junction-tree" or "base-cells"


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


def _system(reports: pd.DataFrame, tables: Sequence[Table], cells: pd.DataFrame) -> _System:
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
    return _base_system(reports, tables, cells)


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
) -> _System:
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
    return _System(inc, value, links, "junction-tree")


def _base_system(reports: pd.DataFrame, tables: Sequence[Table], cells: pd.DataFrame) -> _System:
    dims = _check_input(reports, tables)
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
    return _System(inc, value.to_numpy(dtype=np.float64), links, "base-cells")


@dataclass
class _Intervals:
    lo: npt.NDArray[np.float64]
    hi: npt.NDArray[np.float64]
    # For each audited cell, shown cells whose equality binds its interval (LP duals).
    binding: dict[int, set[int]]
    n_components: int
    n_lp: int


def _intervals(
    system: _System, hidden: npt.NDArray[np.bool_], targets: npt.NDArray[np.int64]
) -> _Intervals:
    """The attacker's interval on each target cell, and what binds it.

    Shown cells (and the system's links) are equalities over the unknowns (≥ 0).
    Unknowns fixed by an equality holding a single unknown are substituted
    (repeatedly); the rest splits into independent components (unknowns linked by an
    equality), and each target's interval is the sum of its per-component LP bounds.
    """
    inc = system.incidence
    n_base = inc.shape[1]
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
    a = a_shown[:, free_idx].tocsr()
    keep = np.flatnonzero(a.getnnz(axis=1) > 0)
    a = a[keep].tocsr()
    rows_cell = shown_rows[keep]
    b = a @ system.value[free_idx]
    n_rows, n_var = a.shape
    graph = sparse.bmat([[None, a.T], [a, None]], format="csr") if n_rows else None
    if graph is not None:
        n_comp, label = connected_components(graph, directed=False)
        var_comp = label[:n_var]
        row_comp = label[n_var:]
    else:
        n_comp, var_comp, row_comp = n_var, np.arange(n_var), np.empty(0, np.int64)
    col_of = np.full(n_base, -1)
    col_of[free_idx] = np.arange(n_var)
    lo = np.zeros(len(targets))
    hi = np.zeros(len(targets))
    binding: dict[int, set[int]] = {}
    n_lp = 0
    rows_by_comp: dict[int, npt.NDArray[np.int64]] = {}
    vars_by_comp: dict[int, npt.NDArray[np.int64]] = {}
    if n_rows:
        order = np.argsort(row_comp, kind="stable")
        splits = np.flatnonzero(np.diff(row_comp[order])) + 1
        for grp in np.split(order, splits):
            rows_by_comp[int(row_comp[grp[0]])] = grp
    vorder = np.argsort(var_comp, kind="stable")
    vsplits = np.flatnonzero(np.diff(var_comp[vorder])) + 1
    for grp in np.split(vorder, vsplits) if n_var else []:
        vars_by_comp[int(var_comp[grp[0]])] = grp
    sub_cache: dict[int, tuple[sparse.csr_matrix, npt.NDArray[np.float64]]] = {}
    for k, cell in enumerate(targets):
        base_cols = inc[cell].indices
        known = base_cols[~unknown[base_cols]]
        fixed_part = float(system.value[known].sum())
        cols = col_of[base_cols[unknown[base_cols]]]
        lo_k, hi_k = fixed_part, fixed_part
        binds: set[int] = set()
        for comp in np.unique(var_comp[cols]) if len(cols) else []:
            comp = int(comp)
            if comp not in rows_by_comp:  # a free base cell no shown cell constrains
                hi_k = math.inf
                continue
            cvars = vars_by_comp[comp]
            crows = rows_by_comp[comp]
            if comp not in sub_cache:
                sub_cache[comp] = (a[crows][:, cvars].tocsr(), b[crows])
            a_c, b_c = sub_cache[comp]
            obj = np.isin(cvars, cols).astype(np.float64)
            for sign in (1.0, -1.0):
                n_lp += 1
                res = linprog(sign * obj, A_eq=a_c, b_eq=b_c, bounds=(0, None), method="highs")
                if res.status == 3:  # unbounded above
                    hi_k = math.inf
                    continue
                if res.status != 0:
                    raise RuntimeError(f"Audit : programme linéaire non résolu ({res.message}).")
                if sign > 0:
                    lo_k += float(res.fun)
                else:
                    hi_k += -float(res.fun)
                duals = np.asarray(res.eqlin.marginals)
                binds.update(int(x) for x in rows_cell[crows[np.abs(duals) > 1e-9]] if x >= 0)
        lo[k] = math.ceil(lo_k - _EPS)
        hi[k] = math.floor(hi_k + _EPS) if math.isfinite(hi_k) else math.inf
        binding[int(cell)] = binds
    return _Intervals(lo, hi, binding, int(n_comp), n_lp)


# ---------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------


def _round_half_up(x: pd.Series, base: int) -> pd.Series:
    if base <= 1:
        return x
    return (np.floor(x / base + 0.5) * base).astype("Int64")


def _frames(
    cells: pd.DataFrame, tables: Sequence[Table], rule: DisclosureRule
) -> dict[Table, pd.DataFrame]:
    """Per table, its cells as the reader sees them (hidden values set to NA)."""
    out: dict[Table, pd.DataFrame] = {}
    hidden = cells["reason"] != ""
    for i, t in enumerate(tables):
        sel = cells["table"] == i
        df = cells.loc[sel, list(t)].reset_index(drop=True)
        h = hidden[sel].to_numpy()
        for col in ("n_reports", "n_households"):
            v = _round_half_up(cells.loc[sel, col].astype("Int64"), rule.round_base)
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
    return _frames(_cells(reports, tables, rule), tables, rule)


def _cost(cells: pd.DataFrame, tables: Sequence[Table]) -> npt.NDArray[np.float64]:
    """Information lost by hiding a cell: its reports + 1, doubled per dimension it
    lacks relative to the most detailed table (prefer small cells, cells over margins)."""
    depth = max((len(t) for t in tables), default=0)
    missing = depth - np.array([len(tables[i]) for i in cells["table"]])
    return (cells["n_reports"].to_numpy(dtype=float) + 1.0) * 2.0**missing


def _relation_pass(
    cells: pd.DataFrame,
    tables: Sequence[Table],
    hidden: npt.NDArray[np.bool_],
    cost: npt.NDArray[np.float64],
) -> npt.NDArray[np.bool_]:
    """Quick combinatorial pass before the LPs: no shown total may have exactly one
    hidden non-zero term among the published cells it sums (else it is recomputed by
    subtraction). Hides the cheapest shown term, or the total when there is none."""
    hidden = hidden.copy()
    pairs = []
    for p, tp in enumerate(tables):
        for c, tc in enumerate(tables):
            if p != c and set(tp) < set(tc):
                parent = cells.loc[cells["table"] == p, [*tp, "cell"]]
                child = cells.loc[cells["table"] == c, [*tp, "cell"]]
                if tp:
                    m = child.merge(parent, on=list(tp), suffixes=("", "_p"), validate="m:1")
                    pairs.append((m["cell_p"].to_numpy(), m["cell"].to_numpy()))
                elif len(parent):
                    pairs.append(
                        (np.full(len(child), parent["cell"].iloc[0]), child["cell"].to_numpy())
                    )
    changed = True
    while changed:
        changed = False
        for par, chi in pairs:
            n_hidden = np.bincount(par, weights=hidden[chi], minlength=len(hidden))
            lonely = np.flatnonzero((n_hidden == 1) & ~hidden)
            for q in lonely:
                kids = chi[(par == q) & ~hidden[chi]]
                if len(kids):
                    hidden[kids[np.argmin(cost[kids])]] = True
                else:
                    hidden[q] = True
                changed = True
    return hidden


def protect(
    reports: pd.DataFrame,
    tables: Sequence[Table],
    *,
    rule: DisclosureRule = COMITE,
    max_rounds: int = 200,
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

    Returns
    -------
    Protection
        The tables and their audit (``audit["passed"]`` is True by construction; a
        failure raises instead).

    Notes
    -----
    Secondary suppression is greedy, in two steps, both choosing among shown non-zero
    cells by the cost of :func:`_cost` (reports + 1, doubled per missing dimension):

    1. a combinatorial pass: while a shown total has exactly one hidden term among the
       published cells it adds up, hide its cheapest shown term (or the total itself);
    2. LP-guided rounds: audit; for each hidden sensitive cell whose interval is
       narrower than the protection width, hide the cheapest shown cell whose equality
       binds its interval (non-zero dual in HiGHS' solution), falling back to the
       cheapest shown cell sharing a base cell with it, then to the cheapest one in the
       table; repeat until the audit passes.

    Hiding everything non-zero always passes (no equality left), so this terminates.
    """
    tables = [tuple(t) for t in tables]
    _check_input(reports, tables)
    cells = _cells(reports, tables, rule)
    system = _system(reports, tables, cells)
    cost = _cost(cells, tables)
    primary = (cells["reason"] != "").to_numpy()
    hidden = _relation_pass(cells, tables, primary, cost)
    targets = np.flatnonzero(primary & cells["sensitive"].to_numpy())
    width = rule.width
    for _ in range(max_rounds):
        iv = _intervals(system, hidden, targets)
        bad = targets[(iv.hi - iv.lo) < width - _EPS]
        if not len(bad):
            break
        inc = system.incidence
        picks: set[int] = set()
        for cell in bad:
            cands = [c for c in iv.binding.get(int(cell), ()) if not hidden[c]]
            if not cands:
                share = inc[:, inc[cell].indices].getnnz(axis=1) > 0
                cands = list(np.flatnonzero(share & ~hidden))
            if not cands:
                same = (cells["table"] == cells.at[cell, "table"]).to_numpy()
                cands = list(np.flatnonzero(same & ~hidden))
            if not cands:
                cands = list(np.flatnonzero(~hidden))
            if cands:
                picks.add(int(min(cands, key=lambda c: (cost[c], c))))
        if not picks:
            break
        hidden[list(picks)] = True
        hidden = _relation_pass(cells, tables, hidden, cost)
    reason = cells["reason"].to_numpy().copy()
    reason[hidden & (reason == "")] = REASON_SECONDARY
    cells = cells.assign(reason=reason)
    frames = _frames(cells, tables, rule)
    result = audit(reports, frames, rule=rule)
    if not result["passed"]:
        raise RuntimeError("La suppression secondaire n'a pas abouti (audit en échec).")
    return Protection(frames, result)


def audit(
    reports: pd.DataFrame,
    published: Mapping[Table, pd.DataFrame],
    *,
    rule: DisclosureRule = COMITE,
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

    Returns
    -------
    dict
        JSON-able: ``passed``, the rule, and per table ``dims``, ``n_cells``,
        ``n_hidden`` (by reason, when a ``reason`` column is given, and ``total``),
        ``n_sensitive_shown`` (cells the primary rule hides but the table shows),
        ``n_unprotected`` (hidden sensitive cells whose attacker interval is narrower
        than the protection width) and ``worst`` (the narrowest such interval, its cell
        and bounds; never the true value). Plus ``n_components`` and ``n_lp``.
    """
    tables = [tuple(t) for t in published]
    _check_input(reports, tables)
    cells = _cells(reports, tables, rule)
    hidden = np.zeros(len(cells), dtype=bool)
    for i, t in enumerate(tables):
        pub = published[t]
        sel = cells["table"] == i
        if t:
            flags = cells.loc[sel, [*t, "cell"]].merge(
                pub[[*t, "flag"]], on=list(t), how="left", validate="1:1"
            )
            hid = (flags["flag"] == FLAG_HIDDEN).to_numpy()
            hidden[flags["cell"].to_numpy()[hid]] = True
        elif sel.any() and len(pub) and (pub["flag"] == FLAG_HIDDEN).any():
            hidden[cells.loc[sel, "cell"].to_numpy()] = True
    system = _system(reports, tables, cells)
    primary = (cells["reason"] != "").to_numpy()
    targets = np.flatnonzero(primary & hidden & cells["sensitive"].to_numpy())
    iv = _intervals(system, hidden, targets)
    width = rule.width
    per_table = []
    passed = True
    for i, t in enumerate(tables):
        in_table = (cells["table"] == i).to_numpy()
        in_t = in_table[targets]
        w = (iv.hi - iv.lo)[in_t]
        unprotected = int((w < width - _EPS).sum())
        shown_bad = int((primary & ~hidden & in_table).sum())
        n_hidden: dict[str, int] = {"total": int((hidden & in_table).sum())}
        pub = published[t]
        if "reason" in pub.columns:
            for r in REASONS:
                n_hidden[r] = int(((pub["flag"] == FLAG_HIDDEN) & (pub["reason"] == r)).sum())
        worst = None
        if in_t.any():
            j = int(np.argmin(w))
            cell = int(targets[in_t][j])
            worst = {
                "cell": {d: _jsonable(cells.at[cell, d]) for d in t},
                "lo": float(iv.lo[in_t][j]),
                "hi": None if math.isinf(iv.hi[in_t][j]) else float(iv.hi[in_t][j]),
                "width": None if math.isinf(w[j]) else float(w[j]),
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
    return {
        "passed": bool(passed),
        "rule": {
            "min_households": rule.min_households,
            "dominance_share": rule.dominance_share,
            "all_sensitive": rule.all_sensitive,
            "protection_width": width,
            "round_base": rule.round_base,
        },
        "method": f"scipy.optimize.linprog (HiGHS), {system.method}",
        "n_unknowns": int(system.value.size),
        "tables": per_table,
        "n_components": iv.n_components,
        "n_lp": iv.n_lp,
    }


def _jsonable(v: object) -> object:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, str | int | float | bool) or v is None:
        return v
    return str(v)
