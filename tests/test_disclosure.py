"""Tests of statistical disclosure control (issue #16): primary, dominance and secondary
suppression on hand-made tables whose answers can be worked by hand or by brute force,
linked tables, zeros, rounding, and the real Paris and Bondy reports."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from pipelines.stats import attacker
from pipelines.stats import disclosure as sdc
from pipelines.stats.system import base_cell_system, linear_system

RAW = Path("data/raw")
BC: tuple[sdc.Table, ...] = (("building_id", "category"), ("building_id",), ("category",), ())


def reports(spec: list[tuple[str, str, int]], *, person: set[str], households=None):
    """Microdata from (building, category, n reports) triples; one household per report
    unless ``households`` maps (building, category) to the household of each report."""
    rows = []
    for b, c, n in spec:
        hh = (households or {}).get((b, c)) or [f"{b}-{c}-{i}" for i in range(n)]
        for i in range(n):
            rows.append(
                {"building_id": b, "category": c, "household": hh[i], "person_related": c in person}
            )
    return pd.DataFrame(rows)


def cell(table: pd.DataFrame, **key: str) -> pd.Series:
    sel = np.logical_and.reduce([table[k] == v for k, v in key.items()])
    assert sel.sum() == 1, key
    return table[sel].iloc[0]


def brute_force_values(
    df: pd.DataFrame, published: dict, tables, target: dict, *, top: int
) -> set[int]:
    """Every value the target (building, category) cell can take over all integer
    building × category tables (1…top per hidden cell: a zero is published as 0, never
    hidden; shown cells exact) that reproduce every shown cell of every table: the
    attacker's knowledge, enumerated."""
    counts = df.groupby(["building_id", "category"]).size()
    full = published[("building_id", "category")]
    hidden = [(r.building_id, r.category) for r in full.itertuples() if r.flag == sdc.FLAG_HIDDEN]
    buildings = sorted(df["building_id"].unique())
    cats = sorted(df["category"].unique())
    # Shown values (exact, not rounded) of every cell of every table, from the microdata.
    checks = []
    for t in tables:
        pub = published[t]
        for r in pub.itertuples():
            if r.flag == sdc.FLAG_HIDDEN:
                continue
            key = {d: getattr(r, d) for d in t}
            true = (
                int(df[np.logical_and.reduce([df[d] == v for d, v in key.items()])].shape[0])
                if t
                else len(df)
            )
            checks.append((key, true))
    seen: set[int] = set()
    base = {(b, c): int(counts.get((b, c), 0)) for b in buildings for c in cats}
    for values in itertools.product(range(1, top + 1), repeat=len(hidden)):
        x = dict(base)
        x.update(dict(zip(hidden, values, strict=True)))
        ok = all(
            sum(
                v
                for (b, c), v in x.items()
                if key.get("building_id", b) == b and key.get("category", c) == c
            )
            == true
            for key, true in checks
        )
        if ok:
            seen.add(x[(target["building_id"], target["category"])])
    return seen


# A 3 × 3 table whose only sensitive cell (A, nuisibles: 1 report) would be recomputed
# from its building total once hidden alone.
SMALL = [
    ("A", "ascenseur", 3), ("A", "nuisibles", 1), ("A", "eclairage", 2),
    ("B", "ascenseur", 4), ("B", "nuisibles", 3), ("B", "eclairage", 2),
    ("C", "ascenseur", 2), ("C", "nuisibles", 3), ("C", "eclairage", 4),
]  # fmt: skip


def test_primary_hides_small_person_related_cells_only() -> None:
    df = reports(
        [
            ("A", "nuisibles", 2),
            ("A", "ascenseur", 1),
            ("B", "nuisibles", 3),
            ("B", "ascenseur", 2),
        ],
        person={"nuisibles"},
    )
    t = sdc.primary_suppression(df, [("building_id", "category")])[("building_id", "category")]
    a = cell(t, building_id="A", category="nuisibles")
    assert (a.flag, a.reason) == ("s", "primary")
    assert pd.isna(a.n_reports)
    assert pd.isna(a.n_households)
    # Technical cells are shown exactly, even from one household.
    lift = cell(t, building_id="A", category="ascenseur")
    assert (lift.flag, lift.n_reports, lift.n_households) == ("", 1, 1)
    assert cell(t, building_id="B", category="nuisibles").flag == ""
    # In the public profile every cell below 11 households is hidden.
    pub = sdc.primary_suppression(df, [("building_id",)], rule=sdc.PUBLIC)[("building_id",)]
    assert (pub["flag"] == "s").all()


def test_households_not_reports_are_counted() -> None:
    """Five reports by two households are below three households: hidden."""
    df = reports(
        [("A", "nuisibles", 5)],
        person={"nuisibles"},
        households={("A", "nuisibles"): ["h1", "h1", "h2", "h2", "h2"]},
    )
    t = sdc.primary_suppression(df, [("building_id", "category")])[("building_id", "category")]
    assert cell(t, building_id="A", category="nuisibles").reason == "primary"


def test_dominance_hides_a_serial_reporter() -> None:
    hh = {
        ("A", "occupation"): ["h1"] * 9 + ["h2", "h3"],  # 9 / 11 = 82 %: shown
        ("B", "occupation"): ["h1"] * 17 + ["h2", "h3"],  # 17 / 19 = 89 %: hidden
        ("C", "ascenseur"): ["h1"] * 17 + ["h2", "h3"],  # technical: shown
    }
    df = reports(
        [("A", "occupation", 11), ("B", "occupation", 19), ("C", "ascenseur", 19)],
        person={"occupation"},
        households=hh,
    )
    t = sdc.primary_suppression(df, [("building_id", "category")])[("building_id", "category")]
    assert cell(t, building_id="A", category="occupation").flag == ""
    b = cell(t, building_id="B", category="occupation")
    assert (b.flag, b.reason) == ("s", "dominance")
    assert cell(t, building_id="C", category="ascenseur").flag == ""
    every = sdc.DisclosureRule(dominance_all_cells=True)
    t2 = sdc.primary_suppression(df, [("building_id", "category")], rule=every)
    assert cell(t2[("building_id", "category")], building_id="C", category="ascenseur").reason == (
        "dominance"
    )


def test_naive_primary_suppression_is_recomputed_from_margins() -> None:
    """Hiding only (A, nuisibles) leaves it equal to A's total minus A's other cells:
    the audit finds the interval [1, 1] and fails; protect() hides more and passes."""
    df = reports(SMALL, person={"nuisibles"})
    naive = sdc.primary_suppression(df, BC)
    result = sdc.audit(df, naive)
    assert result["passed"] is False
    worst = result["tables"][0]["worst"]
    assert worst["cell"] == {"building_id": "A", "category": "nuisibles"}
    assert (worst["lo"], worst["hi"]) == (1.0, 1.0)
    assert brute_force_values(
        df, naive, BC, {"building_id": "A", "category": "nuisibles"}, top=8
    ) == {1}

    protected = sdc.protect(df, BC)
    assert protected.audit["passed"] is True
    table = protected.tables[("building_id", "category")]
    assert (table["reason"] == "secondary").sum() >= 3  # at least a rectangle
    assert cell(table, building_id="A", category="nuisibles").reason == "primary"
    # The attacker's values, enumerated without any LP, span at least 3 reports.
    values = brute_force_values(
        df, protected.tables, BC, {"building_id": "A", "category": "nuisibles"}, top=8
    )
    assert max(values) - min(values) >= 3
    worst = protected.audit["tables"][0]["worst"]
    assert (worst["lo"], worst["hi"]) == (min(values), max(values))
    json.dumps(protected.audit)  # JSON-able as written to publication_audit.json


def enumerated_ranges(df: pd.DataFrame, published: dict, *, top: int) -> dict:
    """For each hidden building × category cell, the least and greatest value it takes
    over every integer building × category table (hidden cells 0…top) that reproduces
    every shown cell of every published table: the attacker's knowledge, enumerated
    without any LP (vectorised :func:`brute_force_values`; hidden cells from 1, since a
    zero is never hidden)."""
    full = published[("building_id", "category")]
    hidden = [(r.building_id, r.category) for r in full.itertuples() if r.flag == "s"]
    sizes = df.groupby(["building_id", "category"]).size().reset_index(name="n")
    counts = {(str(r.building_id), str(r.category)): int(str(r.n)) for r in sizes.itertuples()}
    checks: list[tuple[np.ndarray, int]] = []
    for t, table in published.items():
        for r in table[table["flag"] == ""].itertuples():
            key = {d: getattr(r, d) for d in t}

            def within(b: str, c: str, key: dict = key) -> bool:
                return key.get("building_id", b) == b and key.get("category", c) == c

            inside = np.array([within(b, c) for b, c in hidden], dtype=int)
            known = sum(n for (b, c), n in counts.items() if (b, c) not in hidden and within(b, c))
            true = sum(n for (b, c), n in counts.items() if within(b, c))
            checks.append((inside, true - known))
    # Each hidden cell is at most a shown total containing it minus its other hidden
    # cells (each at least 1).
    tops = [
        min([rhs - int(ins.sum()) + 1 for ins, rhs in checks if ins[i]], default=top)
        for i in range(len(hidden))
    ]
    assert np.prod(tops) <= 2_000_000
    axes = [np.arange(1, t + 1) for t in tops]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(hidden))
    ok = np.ones(len(grid), dtype=bool)
    for inside, rhs in checks:
        ok &= np.asarray(grid @ inside == rhs)
    seen = grid[ok]
    # A cell no shown total holds has no maximum (the enumeration only stopped at top).
    free = [not any(ins[i] for ins, _ in checks) for i in range(len(hidden))]
    return {
        cell: (int(seen[:, i].min()), float("inf") if free[i] else int(seen[:, i].max()))
        for i, cell in enumerate(hidden)
    }


@pytest.mark.parametrize("seed", range(6))
def test_protected_random_tables_hold_against_enumeration(seed: int) -> None:
    """Small random building × category tables with all margins: every hidden
    person-related cell takes values at least 3 apart over the integer tables an
    attacker can rebuild, and the audit's narrowest interval is the enumerated one."""
    rng = np.random.default_rng(seed)
    spec = [
        (b, c, int(rng.integers(0, 4)))
        for b in "ABC"
        for c in ("ascenseur", "nuisibles", "eclairage")
    ]
    spec[1] = ("A", "nuisibles", 1)  # at least one primary cell
    df = reports([x for x in spec if x[2]], person={"nuisibles"})
    out = sdc.protect(df, BC)
    table = out.tables[("building_id", "category")]
    n_hidden = int((table["flag"] == "s").sum())
    assert n_hidden <= 7
    ranges = enumerated_ranges(df, out.tables, top=len(df))
    sensitive = table[table["reason"].isin(["primary", "dominance"])]
    for r in sensitive.itertuples():
        lo, hi = ranges[(r.building_id, r.category)]
        assert hi - lo >= 3, (seed, r.building_id, r.category, lo, hi)
    # The LP's exact intervals are the enumerated ranges (a 2-D table with margins is
    # totally unimodular: no gap between the LP and the integers).
    cells = sdc.cell_table(df, BC, sdc.COMITE)
    hidden = np.zeros(len(cells), dtype=bool)
    for i, t in enumerate(BC):
        mine = cells[cells["table"] == i]
        if t:
            mine = mine.merge(out.tables[t][[*t, "flag"]], on=list(t), validate="1:1")
        else:
            mine = mine.assign(flag=out.tables[t]["flag"].to_numpy())
        hidden[mine.loc[mine["flag"] == "s", "cell"].to_numpy()] = True
    targets = np.flatnonzero(hidden & (cells["table"] == 0).to_numpy())
    exact = attacker.feasible_intervals(linear_system(df, BC, cells), hidden, targets)
    for k, cell in enumerate(targets):
        key = (cells.at[cell, "building_id"], cells.at[cell, "category"])
        assert ranges[key] == (exact.lo[k], exact.hi[k])
    worst = out.audit["tables"][0]["worst"]
    lo, hi = ranges[(worst["cell"]["building_id"], worst["cell"]["category"])]
    w_hi = float("inf") if worst["hi"] is None else worst["hi"]  # None: no maximum
    assert lo <= worst["lo"] <= w_hi <= hi  # proven inside the attacker's range
    assert w_hi - worst["lo"] >= 3


def milp_interval(df: pd.DataFrame, published: dict, target: dict) -> tuple[float, float]:
    """The least and greatest integer value of the target building × category cell over
    every building × category table whose hidden cells hold at least one report (a zero
    is published as 0) and which reproduces every shown cell of every table, by integer
    programming (``scipy.optimize.milp``), with none of the engine's code."""
    full = published[("building_id", "category")]
    keys = list(zip(full["building_id"], full["category"], strict=True))
    true = df.groupby(["building_id", "category"]).size()
    hidden = (full["flag"] == "s").to_numpy()
    exact = np.array([float(true[k]) for k in keys])
    lo, hi = np.where(hidden, 1.0, exact), np.where(hidden, np.inf, exact)
    rows, row_lo, row_hi = [], [], []
    for t, table in published.items():
        if t == ("building_id", "category"):
            continue
        for r in table.itertuples():
            key = {d: getattr(r, d) for d in t}
            inside = np.array(
                [all({"building_id": b, "category": c}[d] == v for d, v in key.items())
                 for b, c in keys], dtype=float,
            )  # fmt: skip
            rows.append(inside)
            row_lo.append(1.0 if r.flag == "s" else float(inside @ exact))
            row_hi.append(np.inf if r.flag == "s" else float(inside @ exact))
    cons = LinearConstraint(np.array(rows), row_lo, row_hi)
    obj = np.array([float(k == (target["building_id"], target["category"])) for k in keys])
    out = []
    for sign in (1.0, -1.0):
        res = milp(sign * obj, integrality=np.ones(len(keys)), bounds=Bounds(lo, hi),
                   constraints=cons)  # fmt: skip
        out.append(sign * res.fun if res.status == 0 else np.inf)
    return out[0], out[1]


def test_a_technical_cell_is_hidden_last_a_margin_first() -> None:
    """Issue 16's ``comite``: technical categories are shown exactly. In ``SMALL``, the
    hidden (A, nuisibles) would come back as A's total minus its two technical cells:
    without a technical class, the cheapest way is a technical cell (A, eclairage: 2
    reports); with it, margins go first (A's total, then the site total that would give
    A's total back), and no technical cell is hidden nor listed."""
    df = reports(SMALL, person={"nuisibles"})
    tables = [("building_id", "category"), ("building_id",), ()]
    plain = sdc.protect(df, tables, rule=sdc.COMITE).tables[("building_id", "category")]
    assert (plain.loc[plain["category"] != "nuisibles", "flag"] == sdc.FLAG_HIDDEN).any()
    rule = sdc.DisclosureRule(technical=frozenset({"ascenseur", "eclairage"}))
    out = sdc.protect(df, tables, rule=rule)
    bc = out.tables[("building_id", "category")]
    assert cell(bc, building_id="A", category="nuisibles")["flag"] == sdc.FLAG_HIDDEN
    assert (bc.loc[bc["category"] != "nuisibles", "flag"] == sdc.FLAG_SHOWN).all()
    assert cell(out.tables[("building_id",)], building_id="A")["flag"] == sdc.FLAG_HIDDEN
    assert out.audit["passed"]
    assert out.audit["technical_hidden"] == []


def test_a_technical_cell_hidden_for_want_of_another_is_listed_with_why() -> None:
    """A lift report naming a flat (person-related) is A's only January lift report:
    hidden for itself. A's lift total over the months is shown beside it, so one more
    cell must go, and every choice is a lift cell: February's (4 reports) or the total
    itself. The cheaper, February's, is hidden and listed with the total it protects."""
    rows = [("A", "01", "h1", True)] + [("A", "02", f"a{i}", False) for i in range(4)]
    rows += [("B", m, f"b{m}{i}", False) for m in ("01", "02") for i in range(3)]
    df = pd.DataFrame(rows, columns=["building_id", "month", "household", "person_related"])
    df["category"] = "ascenseur"
    tables = [("building_id", "month", "category"), ("building_id", "category"),
              ("building_id",), ()]  # fmt: skip
    rule = sdc.DisclosureRule(technical=frozenset({"ascenseur"}))
    out = sdc.protect(df, tables, rule=rule)
    monthly = out.tables[("building_id", "month", "category")]
    assert cell(monthly, building_id="A", month="01")["reason"] == sdc.REASON_PRIMARY
    assert cell(monthly, building_id="A", month="02")["reason"] == sdc.REASON_SECONDARY
    assert (monthly.loc[monthly["building_id"] == "B", "flag"] == sdc.FLAG_SHOWN).all()
    assert out.audit["passed"]
    assert out.audit["technical_hidden"] == [
        {
            "table": ["building_id", "month", "category"],
            "cell": {"building_id": "A", "month": "02", "category": "ascenseur"},
            "step": "relation",
            "total": {
                "table": ["building_id", "category"],
                "cell": {"building_id": "A", "category": "ascenseur"},
            },
        }
    ]


def test_a_hidden_cell_is_known_to_be_at_least_one() -> None:
    """Building A: one pests report (one household: hidden), one lift and one lighting
    report, both hidden beside it, and A's total shown: 3. Were hidden cells possibly
    zeros, the pests cell could be anything from 0 to 3 (4 values: protected). But a
    zero is published as 0, never « s »: each hidden cell holds at least one report,
    three hidden cells add up to 3, so each is 1. The audit must see it and protect()
    must hide more."""
    spec = [("A", "nuisibles", 1), ("A", "ascenseur", 1), ("A", "eclairage", 1),
            ("B", "nuisibles", 3), ("B", "ascenseur", 4), ("B", "eclairage", 2)]  # fmt: skip
    df = reports(spec, person={"nuisibles"})
    tables = [("building_id", "category"), ("building_id",)]
    naive = sdc.primary_suppression(df, tables)
    bc = naive[("building_id", "category")]
    bc.loc[bc["building_id"] == "A", "flag"] = sdc.FLAG_HIDDEN
    target = {"building_id": "A", "category": "nuisibles"}
    assert milp_interval(df, naive, target) == (1, 1)  # an independent attacker
    assert brute_force_values(df, naive, tables, target, top=6) == {1}
    result = sdc.audit(df, naive)
    assert result["passed"] is False
    worst = result["tables"][0]["worst"]
    assert (worst["cell"], worst["lo"], worst["hi"]) == (target, 1.0, 1.0)
    protected = sdc.protect(df, tables)
    assert protected.audit["passed"]
    lo, hi = milp_interval(df, protected.tables, target)
    assert hi - lo >= 3, (lo, hi)


def test_a_locked_hidden_cell_stays_hidden_though_its_terms_are_shown() -> None:
    """A building total published hidden before (given, locked) stays hidden when the
    engine shows again the cells a reader adds up: it is already published as hidden."""
    df = reports([("A", "ascenseur", 2), ("A", "eclairage", 3), ("B", "ascenseur", 4)],
                 person=set())  # fmt: skip
    given = {("building_id",): pd.DataFrame(
        {"building_id": ["A", "B"], "flag": ["s", ""], "locked": [True, True]})}  # fmt: skip
    out = sdc.protect(df, [("building_id", "category")], given=given)
    a = cell(out.tables[("building_id",)], building_id="A")
    assert a.flag == sdc.FLAG_HIDDEN
    bc = out.tables[("building_id", "category")]
    assert (bc["flag"] == sdc.FLAG_SHOWN).all()  # nothing sensitive: all shown


def test_linked_tables_are_audited_together() -> None:
    """Protected alone, the building × category table needs no secondary cell (nothing
    adds it up); published beside its category totals, the same pattern is recomputable."""
    df = reports(SMALL, person={"nuisibles"})
    alone = sdc.protect(df, [("building_id", "category")])
    assert (alone.tables[("building_id", "category")]["reason"] == "secondary").sum() == 0
    with_margins = {
        **sdc.primary_suppression(df, BC),
        ("building_id", "category"): alone.tables[("building_id", "category")],
    }
    assert sdc.audit(df, with_margins)["passed"] is False
    linked = sdc.protect(df, BC)
    assert linked.audit["passed"]
    assert {t["dims"][0] if t["dims"] else "" for t in linked.audit["tables"]} >= {"building_id"}


def month_reports(spec: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    """Microdata from (building, category, month, n reports) quadruples, one household
    per report; nuisibles is the person-related category."""
    rows = [
        {"building_id": b, "category": c, "month": m, "household": f"{b}{c}{m}{i}",
         "person_related": c == "nuisibles"}
        for b, c, m, n in spec
        for i in range(n)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_month_and_category_tables_are_linked_through_category_totals() -> None:
    """Three tables sharing the category: a hidden month × category cell must not be
    recomputable from the category total the building table shows."""
    df = month_reports(
        [("A", "nuisibles", "2024-01", 1), ("A", "ascenseur", "2024-01", 4),
         ("B", "nuisibles", "2024-02", 4), ("B", "ascenseur", "2024-02", 5),
         ("C", "nuisibles", "2024-02", 3), ("C", "ascenseur", "2024-01", 6)]
    )  # fmt: skip
    tables = [("building_id", "category"), ("month", "category"), ("category",), ("month",), ()]
    out = sdc.protect(df, tables)
    assert out.audit["passed"]
    bc = out.tables[("building_id", "category")]
    assert cell(bc, building_id="A", category="nuisibles").reason == "primary"
    assert len(out.audit["tables"]) == len(tables)


def test_a_group_protected_around_another_holds_the_links_between_them() -> None:
    """The site's series (month × category, month, site) beside building tables
    protected before: A's one pests report of January is hidden there, B's four are
    shown, so January's pests at the site (5) would give A's back. Protected alone, the
    series shows that cell and the joint audit fails; protected around the building
    tables (``given``), the engine hides more site cells, leaves the building tables as
    they were, and the joint audit passes."""
    df = month_reports(
        [("A", "nuisibles", "2024-01", 1), ("A", "ascenseur", "2024-01", 4),
         ("A", "ascenseur", "2024-02", 3), ("B", "nuisibles", "2024-01", 4),
         ("B", "ascenseur", "2024-02", 5), ("C", "ascenseur", "2024-01", 3),
         ("C", "nuisibles", "2024-02", 3)]
    )  # fmt: skip
    local = [("building_id", "month", "category"), ("building_id", "category"), ("building_id",)]
    site = [("month", "category"), ("month",), ()]
    buildings = sdc.protect(df, local)
    alone = sdc.protect(df, site)
    jan = cell(alone.tables[("month", "category")], month="2024-01", category="nuisibles")
    assert jan.flag == sdc.FLAG_SHOWN  # five households: nothing to hide for itself
    assert not sdc.audit(df, {**buildings.tables, **alone.tables})["passed"]
    around = sdc.protect(df, site, given=buildings.tables)
    assert around.audit["passed"]
    assert sdc.audit(df, around.tables)["passed"]  # re-read from the flags
    assert len(around.audit["tables"]) == len(local) + len(site)
    for t in local:
        pd.testing.assert_frame_equal(around.tables[t], buildings.tables[t])
    jan = cell(around.tables[("month", "category")], month="2024-01", category="nuisibles")
    assert jan.flag == sdc.FLAG_HIDDEN
    assert jan.reason == sdc.REASON_SECONDARY
    # unlocked given cells may be hidden more; locked ones never are
    free = {t: f.assign(locked=t != ("building_id",)) for t, f in buildings.tables.items()}
    again = sdc.protect(df, site, given=free)
    assert again.audit["passed"]
    for t in local[:2]:
        pd.testing.assert_frame_equal(again.tables[t], buildings.tables[t])


def month_microdata() -> pd.DataFrame:
    return month_reports(
        [("A", "nuisibles", "2024-01", 1), ("A", "ascenseur", "2024-01", 4),
         ("A", "ascenseur", "2024-02", 2), ("B", "nuisibles", "2024-02", 4),
         ("B", "ascenseur", "2024-02", 5), ("C", "nuisibles", "2024-02", 2),
         ("C", "nuisibles", "2024-01", 1), ("C", "ascenseur", "2024-01", 6)]
    )  # fmt: skip


@pytest.mark.parametrize(
    "tables",
    [
        [("building_id", "category"), ("month", "category"), ("category",), ("month",), ()],
        [("building_id", "category"), ("month",), ("building_id",), ()],
    ],
)
def test_junction_tree_gives_the_base_cell_intervals(tables) -> None:
    """The reduced unknowns (cells of the maximal tables, linked on their shared
    margins) give the attacker exactly the intervals of the full base-cell system, for
    every cell hidden in any table, at several stages of suppression."""
    df = month_microdata()
    tables = [tuple(t) for t in tables]
    cells = sdc.cell_table(df, tables, sdc.COMITE)
    tree = linear_system(df, tables, cells)
    base = base_cell_system(df, tables, cells)
    assert tree.method == "junction-tree"
    assert tree.value.size < base.value.size
    rng = np.random.default_rng(16)
    for _ in range(6):
        hidden = rng.random(len(cells)) < 0.4
        targets = np.flatnonzero(hidden)
        a = attacker.feasible_intervals(tree, hidden, targets)
        b = attacker.feasible_intervals(base, hidden, targets)
        np.testing.assert_array_equal(a.lo, b.lo)
        np.testing.assert_array_equal(a.hi, b.hi)


def test_cyclic_tables_use_base_cells_and_pass() -> None:
    """Building × category, month × category and building × month form a cycle: no
    junction tree, so the audit works on base cells, and protect() still passes."""
    df = month_microdata()
    tables = [("building_id", "category"), ("month", "category"), ("building_id", "month")]
    out = sdc.protect(df, tables)
    assert "base-cells" in out.audit["method"]
    assert out.audit["passed"]
    assert sdc.audit(df, out.tables)["passed"]
    naive = sdc.audit(df, sdc.primary_suppression(df, tables))
    assert "base-cells" in naive["method"]


def test_protect_is_deterministic() -> None:
    df = month_microdata()
    tables = [("building_id", "category"), ("month", "category"), ("category",), ()]
    one, two = sdc.protect(df, tables), sdc.protect(df.sample(frac=1, random_state=3), tables)
    for t in tables:
        pd.testing.assert_frame_equal(one.tables[t], two.tables[t])
    assert one.audit == two.audit


def test_zero_cells_are_never_hidden_and_pin_their_base_cells() -> None:
    """A has no lift report (a zero cell, absent from the table): its nuisibles cell
    equals A's total minus its lighting, and protect() must hide a non-zero cell."""
    spec = [("A", "nuisibles", 1), ("A", "eclairage", 5), ("B", "ascenseur", 4),
            ("B", "nuisibles", 4), ("B", "eclairage", 6)]  # fmt: skip
    df = reports(spec, person={"nuisibles"})
    tables = [("building_id", "category"), ("building_id",)]
    naive = sdc.primary_suppression(df, tables)
    assert not sdc.audit(df, naive)["passed"]
    out = sdc.protect(df, tables)
    assert out.audit["passed"]
    bc = out.tables[("building_id", "category")]
    assert len(bc) == len(spec)  # no row for (A, ascenseur): zeros are not listed
    assert (bc["n_reports"].dropna() > 0).all()


def test_public_rounds_shown_counts_to_base_five() -> None:
    spec = [("A", "ascenseur", 12), ("A", "eclairage", 13), ("B", "ascenseur", 15),
            ("B", "eclairage", 3), ("C", "ascenseur", 22), ("C", "eclairage", 17)]  # fmt: skip
    df = reports(spec, person=set())
    naive = sdc.primary_suppression(df, [("building_id", "category")], rule=sdc.PUBLIC)
    bc = naive[("building_id", "category")]
    assert cell(bc, building_id="A", category="ascenseur").n_reports == 10
    assert cell(bc, building_id="A", category="eclairage").n_reports == 15
    assert cell(bc, building_id="B", category="ascenseur").n_households == 15
    assert cell(bc, building_id="B", category="eclairage").reason == "primary"
    out = sdc.protect(df, BC, rule=sdc.PUBLIC)
    assert out.audit["passed"]
    # Every shown count is its exact value rounded half up to base 5, margins included.
    for t, table in out.tables.items():
        shown = table[table["flag"] == ""]
        true = (
            shown[list(t)].merge(df.groupby(list(t)).size().rename("n").reset_index(), on=list(t))[
                "n"
            ]
            if t
            else pd.Series([len(df)] * len(shown))
        )
        assert (shown["n_reports"].to_numpy() == 5 * np.floor(true.to_numpy() / 5 + 0.5)).all()
    assert out.audit["rule"]["round_base"] == 5


def test_bad_input_is_refused() -> None:
    df = reports(SMALL, person={"nuisibles"})
    with pytest.raises(ValueError, match="household"):
        sdc.protect(df.drop(columns="household"), BC)
    with pytest.raises(ValueError, match="building_id"):
        sdc.protect(df.assign(building_id=df["building_id"].where(df.index > 0)), BC)
    with pytest.raises(ValueError, match="Aucun tableau"):
        sdc.protect(df, [])
    with pytest.raises(ValueError, match="min_households"):
        sdc.DisclosureRule(min_households=0)


# --------------------------------------------------------------------------------------
# Real reports
# --------------------------------------------------------------------------------------


def paris_microdata() -> pd.DataFrame:
    """DansMaRue's 10,000 real Paris reports: neighbourhood council × type × month, one
    household per report (no personal column), and a made-up person-related class."""
    d = pd.read_csv(RAW / "paris10" / "dansmarue_paris_2023-08_2024-09.csv")
    person = {
        "Propreté",
        "Arbres, végétaux et animaux",
        "Activités commerciales et professionnelles",
    }
    return pd.DataFrame(
        {
            "building_id": d["conseilquartier"].fillna("(sans conseil de quartier)").astype(str),
            "category": d["type"].astype(str),
            "month": d["mois_annee_decla"].astype(str),
            "household": d["numero"].astype(str),
            "person_related": d["type"].isin(person).to_numpy(),
        }
    )


def shown_person_cells_from_few_households(df: pd.DataFrame, out: sdc.Protection, k: int) -> int:
    """Shown cells, recounted from the microdata, holding a person-related report from
    1 to k − 1 households."""
    bad = 0
    for t, table in out.tables.items():
        shown = table[table["flag"] == ""]
        if t:
            g = df.groupby(list(t)).agg(
                hh=("household", "nunique"), person=("person_related", "any")
            )
            stats = shown.merge(g.reset_index(), on=list(t), validate="1:1")
        else:
            stats = pd.DataFrame(
                {"hh": [df["household"].nunique()], "person": [df["person_related"].any()]}
            ).iloc[: len(shown)]
        bad += int((stats["person"] & stats["hh"].between(1, k - 1)).sum())
    return bad


def secondary_cells_given_back(tables: dict) -> int:
    """Cells hidden as secondary that a reader adds up or subtracts from one relation
    between two tables: a hidden total whose terms are all shown, or the one hidden term
    of a shown total. They protect nothing."""
    n = 0
    for (tp, total), (tc, terms) in itertools.permutations(tables.items(), 2):
        if not set(tp) < set(tc):
            continue
        of_total = [tuple(r) for r in total[list(tp)].itertuples(index=False)]
        of_term = [tuple(r) for r in terms[list(tp)].itertuples(index=False)]
        hidden = {k: [] for k in of_total}
        for k, flag, reason in zip(of_term, terms["flag"], terms["reason"], strict=True):
            if flag == sdc.FLAG_HIDDEN:
                hidden[k].append(reason)
        for k, flag, reason in zip(of_total, total["flag"], total["reason"], strict=True):
            if flag == sdc.FLAG_HIDDEN and reason == "secondary" and not hidden[k]:
                n += 1
            if flag == sdc.FLAG_SHOWN and hidden[k] == ["secondary"]:
                n += 1
    return n


@pytest.mark.parametrize("rule", [sdc.COMITE, sdc.PUBLIC], ids=["comite", "public"])
def test_real_paris_reports_pass_their_own_audit(rule: sdc.DisclosureRule) -> None:
    df = paris_microdata()
    tables = [
        ("building_id", "category"),
        ("building_id",),
        ("category",),
        ("month", "category"),
        ("month",),
        (),
    ]
    out = sdc.protect(df, tables, rule=rule)
    assert out.audit["passed"]
    if not rule.all_sensitive:  # (public solves ~700 LPs per audit: once is enough)
        assert sdc.audit(df, out.tables, rule=rule)["passed"]  # re-read from the flags
        # Primary suppression alone: the margins would have given hidden cells away.
        assert not sdc.audit(df, sdc.primary_suppression(df, tables, rule=rule))["passed"]
    if rule.all_sensitive:
        df = df.assign(person_related=True)
    assert shown_person_cells_from_few_households(df, out, rule.min_households) == 0
    assert secondary_cells_given_back(out.tables) == 0
    hidden = sum(int((t["flag"] == "s").sum()) for t in out.tables.values())
    assert 0 < hidden < sum(len(t) for t in out.tables.values())
