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

from pipelines.stats import disclosure as sdc

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
    building × category tables (0…top per hidden cell, shown cells exact) that reproduce
    every shown cell of every table: the attacker's knowledge, enumerated."""
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
    for values in itertools.product(range(top + 1), repeat=len(hidden)):
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


def test_month_and_category_tables_are_linked_through_category_totals() -> None:
    """Three tables sharing the category: a hidden month × category cell must not be
    recomputable from the category total the building table shows."""
    rows = []
    for b, c, m, n in [
        ("A", "nuisibles", "2024-01", 1), ("A", "ascenseur", "2024-01", 4),
        ("B", "nuisibles", "2024-02", 4), ("B", "ascenseur", "2024-02", 5),
        ("C", "nuisibles", "2024-02", 3), ("C", "ascenseur", "2024-01", 6),
    ]:  # fmt: skip
        for i in range(n):
            rows.append(
                {
                    "building_id": b,
                    "category": c,
                    "month": m,
                    "household": f"{b}{c}{m}{i}",
                    "person_related": c == "nuisibles",
                }
            )
    df = pd.DataFrame(rows)
    tables = [("building_id", "category"), ("month", "category"), ("category",), ("month",), ()]
    out = sdc.protect(df, tables)
    assert out.audit["passed"]
    bc = out.tables[("building_id", "category")]
    assert cell(bc, building_id="A", category="nuisibles").reason == "primary"
    assert len(out.audit["tables"]) == len(tables)


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
    naive = sdc.audit(df, sdc.primary_suppression(df, tables, rule=rule), rule=rule)
    assert not naive["passed"]  # the margins would have given hidden cells away
    if rule.all_sensitive:
        df = df.assign(person_related=True)
    assert shown_person_cells_from_few_households(df, out, rule.min_households) == 0
    hidden = sum(int((t["flag"] == "s").sum()) for t in out.tables.values())
    assert 0 < hidden < sum(len(t) for t in out.tables.values())
