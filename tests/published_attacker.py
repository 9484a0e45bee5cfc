"""An attacker who reads only what a pack publishes, for the tests of issue 16.

It is written apart from :mod:`pipelines.stats.attacker` on purpose (no import of the
engine, of its cell tables or of the microdata): it rebuilds the figures from the
published files of one site and profile (``published/`` or ``published_public/``:
``monthly.parquet``, ``building_profile.parquet``, ``zones.parquet``,
``category_series.parquet``, ``site.json`` and the categories' totals of
``method_note.md``), and bounds every hidden figure by **integer** programming
(``scipy.optimize.milp``, HiGHS), where the engine proves its intervals by linear
programming on the true values.

What the attacker knows, from the files alone:

- the unknowns are the counts of the finest published grid: building × period ×
  category when the monthly table is by building, else building × period × category
  inside each published zone × period × category (or site × period × category) row;
- a shown figure is exact, or within ``[v − ⌊b/2⌋, v + ⌊(b−1)/2⌋]`` when counts are
  rounded to base ``b``; a published 0 is exact (a cell with reports is shown rounded
  or hidden, never 0);
- a hidden figure (« s ») holds at least one report (zeros are published as 0), except
  the category cells of a building the profile counts in its zone or the site (the
  ``public`` profile blanks all of them, zeros too) and the categories' totals of the
  method note (a person-related one is hidden whatever its count);
- a figure absent from a table is 0.

The sums derived from shown monthly cells only (the top buildings' series, the
before/after counts) and the households' counts (distinct counts, not sums) are left
out: the first add nothing to the monthly cells, the second no linear equality.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse.csgraph import connected_components

from pipelines.taxonomy import CATEGORIES

#: The French name of each time level, and the period label of a date at that level.
TIME_FR = {"mois": "M", "trimestre": "Q", "année": "Y"}


@dataclass
class Figure:
    """One published count: where it sits, what it adds up, what the reader knows."""

    table: str
    key: dict[str, str | None]
    members: np.ndarray  # the unknowns it adds up
    lo: float
    hi: float
    hidden: bool
    reason: str = ""  # as published, where the table says why a cell is hidden


@dataclass
class Pack:
    """The attacker's system for one pack."""

    n_var: int
    figures: list[Figure] = field(default_factory=list)
    level: str = ""
    round_base: int = 1


def _period(when: pd.Series, freq: str) -> pd.Series:
    when = pd.to_datetime(when)
    if freq == "M":
        return when.dt.strftime("%Y-%m")
    if freq == "Q":
        return when.dt.year.astype(str) + "-T" + when.dt.quarter.astype(str)
    return when.dt.year.astype(str)


def _known(value: object, flag: object, base: int, *, lower: float = 1.0) -> tuple[float, float]:
    """What a reader knows of one count from its published value and flag."""
    if flag == "s":
        return lower, math.inf
    v = float(value)  # type: ignore[arg-type]
    if v == 0 or base <= 1:
        return v, v
    return max(0.0, v - base // 2), v + (base - 1) // 2


def _note_totals(text: str) -> dict[str, str]:
    """The categories' totals of the method note (« Signalements » column), by code."""
    label_code = {c.label: c.code for c in CATEGORIES}
    out: dict[str, str] = {}
    header: list[str] = []
    for line in text.splitlines():
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|"):
            header = []
            continue
        if not header:
            header = cols
            continue
        if header[:2] != ["Catégorie", "Signalements"]:
            continue
        if len(cols) >= 2 and cols[0] in label_code and re.fullmatch(r"[\d  ]+|s", cols[1]):
            out[label_code[cols[0]]] = cols[1].replace(" ", "").replace(" ", "")
    return out


def read_pack(directory: Path) -> Pack:
    """The attacker's unknowns and figures from a published folder."""
    site = json.loads((directory / "site.json").read_text(encoding="utf-8"))
    pub = site.get("publication", {})
    base = int(pub.get("round_base") or 1)
    coarsen = bool(pub.get("coarsen"))
    monthly = pd.read_parquet(directory / "monthly.parquet")
    profile = pd.read_parquet(directory / "building_profile.parquet", columns=None)
    level = str(monthly["level"].iloc[0])
    space, time = (p.strip() for p in level.split("×"))
    freq = TIME_FR[time]
    ids = profile["building_id"].astype(str)
    zone_of = dict(zip(ids, profile["zone_id"].astype(object), strict=True))
    zone_of = {b: (None if pd.isna(z) else str(z)) for b, z in zone_of.items()}
    codes = [c.code for c in CATEGORIES if f"n_{c.code}" in profile]
    p = profile.set_index(ids)

    # The unknowns: (building, period, category).
    def zero(b: str, c: str) -> bool:
        return p.at[b, f"n_{c}_flag"] != "s" and float(p.at[b, f"n_{c}"]) == 0

    keys: list[tuple[str, str, str]] = []
    row_vars: list[list[int]] = []
    for r in monthly.itertuples():
        c, per = str(r.category), str(r.month)
        if space == "bâtiment":
            buildings = [str(r.building_id)]
        elif space == "zone":
            z = None if pd.isna(r.zone_id) else str(r.zone_id)
            buildings = [b for b in ids if zone_of[b] == z]
        else:
            buildings = list(ids)
        mine = []
        for b in buildings:
            if space != "bâtiment" and (c not in codes or zero(b, c)):
                continue
            mine.append(len(keys))
            keys.append((b, per, c))
        row_vars.append(mine)
    pack = Pack(n_var=len(keys), level=level, round_base=base)
    kb = np.array([k[0] for k in keys], dtype=object)
    kp = np.array([k[1] for k in keys], dtype=object)
    kc = np.array([k[2] for k in keys], dtype=object)
    by_b = pd.Series(np.arange(len(keys))).groupby(kb).apply(np.asarray).to_dict()
    by_bc = pd.Series(np.arange(len(keys))).groupby([kb, kc]).apply(np.asarray).to_dict()
    by_pc = pd.Series(np.arange(len(keys))).groupby([kp, kc]).apply(np.asarray).to_dict()
    by_p = pd.Series(np.arange(len(keys))).groupby(kp).apply(np.asarray).to_dict()
    none = np.empty(0, dtype=np.int64)

    def add(
        table: str,
        key: dict,
        members: np.ndarray,
        known: tuple[float, float],
        *,
        hidden: bool,
        reason: str = "",
    ) -> None:
        pack.figures.append(
            Figure(
                table,
                key,
                np.asarray(members, dtype=np.int64),
                *known,
                hidden=hidden,
                reason=reason,
            )
        )

    for r, mine in zip(monthly.itertuples(), row_vars, strict=True):
        hidden = r.n_reports_flag == "s"
        key = {
            "building_id": None if pd.isna(r.building_id) else str(r.building_id),
            "zone_id": None if pd.isna(r.zone_id) else str(r.zone_id),
            "period": str(r.month),
            "category": str(r.category),
        }
        add(
            "monthly",
            key,
            np.array(mine),
            _known(r.n_reports, r.n_reports_flag, base),
            hidden=hidden,
            reason=str(r.reason or ""),
        )
    for b in ids:
        blank = coarsen and p.at[b, "level"] != "bâtiment"
        add(
            "building",
            {"building_id": b},
            by_b.get(b, none),
            _known(p.at[b, "n_reports"], p.at[b, "n_reports_flag"], base),
            hidden=p.at[b, "n_reports_flag"] == "s",
        )
        for c in codes:
            flag = p.at[b, f"n_{c}_flag"]
            add(
                "building_category",
                {"building_id": b, "category": c},
                by_bc.get((b, c), none),
                _known(p.at[b, f"n_{c}"], flag, base, lower=0.0 if blank else 1.0),
                hidden=flag == "s",
            )
    zones_file = directory / "zones.parquet"
    if zones_file.exists():
        zones = pd.read_parquet(zones_file, columns=["zone_id", "n_reports", "n_reports_flag"])
        for r in zones.itertuples():
            members = np.concatenate(
                [by_b.get(b, none) for b in ids if zone_of[b] == str(r.zone_id)] or [none]
            )
            add(
                "zone",
                {"zone_id": str(r.zone_id)},
                members,
                _known(r.n_reports, r.n_reports_flag, base),
                hidden=r.n_reports_flag == "s",
            )
    series = pd.read_parquet(directory / "category_series.parquet")
    if len(series):
        series = series.assign(period=_period(series["period_start"], freq))
        for r in series.itertuples():
            add(
                "series",
                {"period": r.period, "category": str(r.category)},
                by_pc.get((r.period, str(r.category)), none),
                _known(r.n_reports, r.n_reports_flag, base),
                hidden=r.n_reports_flag == "s",
            )
        for per, r in series.groupby("period").first().iterrows():
            add(
                "period",
                {"period": str(per)},
                by_p.get(per, none),
                _known(r["n_period_reports"], r["n_period_reports_flag"], base),
                hidden=r["n_period_reports_flag"] == "s",
            )
    totals = site.get("totals", {})
    if totals.get("reports_counted_flag") is not None:
        add(
            "site",
            {},
            np.arange(len(keys)),
            _known(totals.get("reports_counted"), totals.get("reports_counted_flag"), base),
            hidden=totals.get("reports_counted_flag") == "s",
        )
    note = directory / "method_note.md"
    if note.exists():
        for c, text in _note_totals(note.read_text(encoding="utf-8")).items():
            members = np.flatnonzero(kc == c)
            add(
                "category",
                {"category": c},
                members,
                # the note hides a person-related category whatever its count, 0 too
                _known(
                    None if text == "s" else int(text), "s" if text == "s" else "", base, lower=0.0
                ),
                hidden=text == "s",
            )
    return pack


@dataclass
class _Block:
    a: sparse.csr_matrix
    lo: np.ndarray
    hi: np.ndarray
    vlo: np.ndarray
    vhi: np.ndarray


def _solve(block: _Block, obj: np.ndarray) -> tuple[float, np.ndarray] | None:
    """min obj·x over the block's integer points (None when unbounded below).

    The linear relaxation first (``linprog``, fast): when its optimum is an integer
    point it is the integer optimum too (no integer point does better than the
    relaxation); else ``milp``."""
    n = len(obj)
    has_rows = block.a.shape[0] > 0
    upper = np.isfinite(block.hi)
    a_ub = sparse.vstack([block.a[upper], -block.a]).tocsr()
    rel = linprog(
        obj,
        A_ub=a_ub if has_rows else None,
        b_ub=np.concatenate([block.hi[upper], -block.lo]) if has_rows else None,
        bounds=np.column_stack([block.vlo, block.vhi]),
        method="highs",
    )
    if rel.status == 3:
        return None
    if rel.status == 0 and np.allclose(rel.x, np.round(rel.x), atol=1e-9):
        return float(rel.fun), np.round(rel.x)
    res = milp(
        obj,
        integrality=np.ones(n),
        bounds=Bounds(block.vlo, block.vhi),
        constraints=LinearConstraint(block.a, block.lo, block.hi) if has_rows else (),
    )
    if res.status == 0:
        return float(res.fun), np.round(res.x)
    if res.status == 2:
        raise AssertionError(f"the published figures admit no table ({res.message})")
    return None  # unbounded (or no answer: counted as no bound)


#: Rounds of certificates (min and max of the sum of the targets still open).
_ROUNDS = 4


def attack(pack: Pack, *, width: float) -> pd.DataFrame:
    """The integer interval ``[lo, hi]`` of every hidden figure of the pack.

    Unknowns a figure of one unknown pins are fixed first (repeatedly); the rest splits
    into independent blocks. Integer points that minimise and maximise the sum of the
    targets still open certify most targets at once (``certified``: their range over
    those points, inside the attacker's interval, is already ``width`` wide); the
    others are solved exactly (a minimum and a maximum each)."""
    figs = pack.figures
    n_var = pack.n_var
    rows = np.concatenate([np.full(len(f.members), i) for i, f in enumerate(figs)] or [[]])
    cols = np.concatenate([f.members for f in figs] or [[]])
    m = sparse.csr_matrix(
        (np.ones(len(cols)), (rows.astype(int), cols.astype(int))), shape=(len(figs), n_var)
    )
    lo = np.array([f.lo for f in figs])
    hi = np.array([f.hi for f in figs])
    # a figure with no unknown is 0: a published non-zero there is a contradiction
    empty = m.getnnz(axis=1) == 0
    assert not (lo[empty] > 0).any(), [figs[i].key for i in np.flatnonzero(empty & (lo > 0))]
    vlo, vhi = np.zeros(n_var), np.full(n_var, np.inf)
    free = np.ones(n_var, dtype=bool)
    fixed = np.zeros(n_var)
    while True:
        mf = m[:, free]
        part = m @ np.where(free, 0.0, fixed)
        single = np.flatnonzero(mf.getnnz(axis=1) == 1)
        if not len(single):
            break
        idx = np.flatnonzero(free)
        var = idx[mf[single].tocsr().indices]
        np.maximum.at(vlo, var, lo[single] - part[single])
        np.minimum.at(vhi, var, hi[single] - part[single])
        assert (np.ceil(vlo[var] - 1e-9) <= np.floor(vhi[var] + 1e-9)).all()
        pinned = var[np.ceil(vlo[var] - 1e-9) == np.floor(vhi[var] + 1e-9)]
        if not len(pinned):
            break
        fixed[pinned] = np.ceil(vlo[pinned] - 1e-9)
        free[pinned] = False
    idx = np.flatnonzero(free)
    part = m @ np.where(free, 0.0, fixed)
    mf = m[:, idx].tocsr()
    live = mf.getnnz(axis=1) > 1
    assert (
        (part[~live & (mf.getnnz(axis=1) == 0)] >= lo[~live & (mf.getnnz(axis=1) == 0)] - 1e-9)
        & (part[~live & (mf.getnnz(axis=1) == 0)] <= hi[~live & (mf.getnnz(axis=1) == 0)] + 1e-9)
    ).all()
    a = mf[live]
    r_lo, r_hi = lo[live] - part[live], hi[live] - part[live]
    if a.shape[0]:
        graph = sparse.bmat([[None, a.T], [a, None]], format="csr")
        _, label = connected_components(graph, directed=False)
        var_label, row_label = label[: len(idx)], label[len(idx) :]
    else:
        var_label, row_label = np.arange(len(idx)), np.empty(0, int)
    targets = np.array([i for i, f in enumerate(figs) if f.hidden and len(f.members)], dtype=int)
    t_free = mf[targets].tocsr()
    t_fixed = part[targets]
    blocks: dict[int, tuple[_Block, np.ndarray]] = {}

    def block(lab: int) -> tuple[_Block, np.ndarray]:
        if lab not in blocks:
            var = np.flatnonzero(var_label == lab)
            r = np.flatnonzero(row_label == lab)
            bl = _Block(a[r][:, var].tocsr(), r_lo[r], r_hi[r], vlo[idx[var]], vhi[idx[var]])
            blocks[lab] = (bl, var)
        return blocks[lab]

    labs_of = [np.unique(var_label[t_free[k].indices]) for k in range(len(targets))]
    partial = {}  # (k, lab) -> [lo, hi] seen in that block
    by_block: dict[int, list[int]] = {}
    for k, labs in enumerate(labs_of):
        for lab in labs:
            by_block.setdefault(int(lab), []).append(k)

    sub: dict[int, sparse.csr_matrix] = {}

    def observe(lab: int, x: np.ndarray) -> None:
        if lab not in sub:
            sub[lab] = t_free[by_block[lab]][:, block(lab)[1]].tocsr()
        v = sub[lab] @ x
        for k, val in zip(by_block[lab], v, strict=True):
            old = partial.get((k, lab), (math.inf, -math.inf))
            partial[(k, lab)] = (min(old[0], val), max(old[1], val))

    def span(k: int) -> tuple[float, float]:
        got = [partial.get((k, int(lab)), (math.inf, -math.inf)) for lab in labs_of[k]]
        return t_fixed[k] + sum(g[0] for g in got), t_fixed[k] + sum(g[1] for g in got)

    for lab, ks in by_block.items():
        bl, var = block(lab)
        open_ = list(ks)
        for _ in range(_ROUNDS):
            obj = np.asarray(t_free[open_][:, var].sum(axis=0)).ravel()
            for sign in (1.0, -1.0):
                got = _solve(bl, sign * obj)
                if got is not None:
                    observe(lab, got[1])
            open_ = [k for k in open_ if (lambda s: s[1] - s[0])(span(k)) < width]
            if not open_:
                break
    records = []
    for k, i in enumerate(targets):
        s_lo, s_hi = span(k)
        certified = s_hi - s_lo >= width
        bounds = {"lo": float(t_fixed[k]), "hi": float(t_fixed[k])}
        # its maximum first (its minimum is often already seen), then its minimum; every
        # solution is a point of the other targets too
        for sign, side in ((-1.0, "hi"), (1.0, "lo")):
            if certified:
                break
            for lab in labs_of[k]:
                bl, var = block(int(lab))
                obj = np.asarray(t_free[k][:, var].todense()).ravel()
                got = _solve(bl, sign * obj)
                if got is None:
                    bounds[side] = math.inf
                else:
                    bounds[side] += sign * got[0]
                    observe(int(lab), got[1])
            s_lo, s_hi = span(k)
            certified = s_hi - s_lo >= width
        if certified:
            records.append({**_row(figs[i]), "lo": s_lo, "hi": s_hi, "certified": True})
        else:
            records.append({**_row(figs[i]), **bounds, "certified": False})
    out = pd.DataFrame(records)
    if len(out):
        out["width"] = out["hi"] - out["lo"]
        out["exact"] = out["width"] == 0
    return out


def _row(f: Figure) -> dict[str, object]:
    return {"table": f.table, "key": json.dumps(f.key, sort_keys=True), "reason": f.reason}
