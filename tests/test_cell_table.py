"""The engine's cell table (:func:`pipelines.stats.primary.cell_table`), counted on the
dimensions' codes since session 22 (for speed), against a plain pandas count of the same
cells: same cells, same order, same counts and dtypes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.stats.primary import COMITE, PUBLIC, DisclosureRule, cell_table

TABLES = [
    (),
    ("zone",),
    ("zone", "building_id"),
    ("zone", "building_id", "category"),
    ("month", "category"),
    ("month",),
    ("category",),
    ("floor", "category"),
]


def _reports(n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "zone": rng.choice(["Z1", "Z2", "—"], n),
            "building_id": rng.choice([f"B{i:02d}" for i in range(25)], n),
            "category": rng.choice(["eau", "ascenseur", "squat", "chauffage"], n),
            "month": rng.choice([f"2025-{m:02d}" for m in range(1, 13)], n),
            "floor": rng.integers(0, 4, n),
            "household": rng.choice([f"h{i}" for i in range(120)], n),
            "person_related": rng.random(n) < 0.15,
        }
    )


def _plain(reports: pd.DataFrame, tables: list[tuple[str, ...]]) -> pd.DataFrame:
    """The cells as a groupby per table counts them (the engine's former way)."""
    frames = []
    for i, t in enumerate(tables):
        keys = list(t)
        if keys:
            g = reports.groupby(keys, sort=True, observed=True)
            cells = g.agg(
                n_reports=("household", "size"),
                n_households=("household", "nunique"),
                any_person=("person_related", "any"),
            )
            top = reports.groupby([*keys, "household"]).size().groupby(level=keys).max()
            cells["top"] = top.reindex(cells.index).to_numpy()
            cells = cells.reset_index()
        else:
            cells = pd.DataFrame(
                {
                    "n_reports": [len(reports)],
                    "n_households": [reports["household"].nunique()],
                    "any_person": [bool(reports["person_related"].any())],
                    "top": [int(reports["household"].value_counts().max()) if len(reports) else 0],
                }
            )
        cells.insert(0, "table", i)
        frames.append(cells[cells["n_reports"] > 0])
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("rule", [COMITE, PUBLIC], ids=["comite", "public"])
@pytest.mark.parametrize("text", ["str", "object"])
def test_cell_table_counts_as_a_groupby(rule: DisclosureRule, text: str) -> None:
    reports = _reports()
    if text == "object":  # text held as Python objects: read as text, as a groupby does
        reports = reports.astype({"building_id": object, "category": object})
    got = cell_table(reports, TABLES, rule)
    want = _plain(reports, TABLES)
    for col in ["table", *dict.fromkeys(d for t in TABLES for d in t)]:
        pd.testing.assert_series_equal(got[col], want[col], check_exact=True)
    for col in ("n_reports", "n_households"):
        assert got[col].dtype == np.int64
        assert got[col].tolist() == want[col].tolist()
    assert got["top_share"].tolist() == (want["top"] / want["n_reports"]).tolist()
    assert got["cell"].tolist() == list(range(len(want)))
    assert (got["reason"] != "").any()


def test_cell_table_without_reports() -> None:
    empty = _reports().iloc[0:0]
    got = cell_table(empty, TABLES, COMITE)
    assert got.empty  # no cell holds a report, not even the site total
    assert list(got.columns[:2]) == ["table", "cell"]
