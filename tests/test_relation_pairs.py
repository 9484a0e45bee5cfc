"""The relations between published tables (:func:`relation_pairs`, on integer codes)
against a plain pandas merge of each total's table with its finer one."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.stats.relations import relation_pairs
from pipelines.stats.system import linear_system


def _merged(cells: pd.DataFrame, tables: list[tuple[str, ...]]) -> list[tuple[list, list]]:
    out = []
    for p, tp in enumerate(tables):
        for c, tc in enumerate(tables):
            if p != c and set(tp) < set(tc):
                parent = cells.loc[cells["table"] == p, [*tp, "cell"]]
                child = cells.loc[cells["table"] == c, [*tp, "cell"]]
                if tp:
                    m = child.merge(parent, on=list(tp), suffixes=("", "_p"), validate="m:1")
                    out.append((m["cell_p"].tolist(), m["cell"].tolist()))
                elif len(parent):
                    out.append(([parent["cell"].iloc[0]] * len(child), child["cell"].tolist()))
    return out


def test_relation_pairs_match_a_merge_of_the_tables() -> None:
    tables = [(), ("building_id",), ("category",), ("building_id", "category")]
    fine = pd.DataFrame(
        {
            "building_id": ["b2", "b1", "b2", None, "b3", "b1"],
            "category": ["eau", "eau", "bruit", "eau", None, "bruit"],
        }
    )
    parts = [
        pd.DataFrame({"table": [0]}),
        # b3's total is not published: its term has no total and is left out
        pd.DataFrame({"table": 1, "building_id": ["b1", None, "b2"]}),
        pd.DataFrame({"table": 2, "category": ["bruit", None, "eau"]}),
        fine.assign(table=3),
    ]
    cells = pd.concat(parts, ignore_index=True).astype(
        {"building_id": "string", "category": "string"}
    )
    cells["cell"] = np.arange(len(cells))
    got = [(p.tolist(), c.tolist()) for p, c in relation_pairs(cells, tables)]
    assert got == _merged(cells, tables)
    # the building total of each term (a missing building its own value), b3's left out
    assert got[3] == ([3, 1, 3, 2, 1], [7, 8, 9, 10, 12])


def test_links_number_the_shared_values_as_first_met() -> None:
    """The junction tree's links (building × category and month × category agree on
    each category's total), numbered as drop_duplicates() met the categories."""
    tables = [("building_id", "category"), ("month", "category")]
    cells = pd.DataFrame(
        {
            "table": [0, 0, 0, 1, 1, 1],
            "building_id": ["b1", "b2", "b1", None, None, None],
            "month": [None, None, None, "2024-01", "2024-02", "2024-01"],
            "category": ["eau", "bruit", None, "bruit", None, "gaz"],
            "n_reports": [2, 1, 1, 1, 1, 3],
        }
    ).astype({"building_id": "string", "month": "string", "category": "string"})
    cells["cell"] = np.arange(len(cells))
    system = linear_system(cells, tables, cells)
    sep = ["category"]
    units = cells.reset_index(drop=True)
    key = pd.concat([units.loc[:2, sep], units.loc[3:, sep]]).drop_duplicates()
    key = key.reset_index(drop=True).assign(_link=lambda f: np.arange(len(f)))
    link = units[sep].merge(key, on=sep, how="left", validate="m:1")["_link"].to_numpy()
    sign = np.where(units["table"] == 0, 1.0, -1.0)
    expected = np.zeros((len(key), len(units)))
    expected[link, np.arange(len(units))] = sign
    assert system.method == "junction-tree"
    assert system.links.toarray().tolist() == expected.tolist()
    # eau, bruit, the missing category (its own value, as merge has it), gaz
    assert link.tolist() == [0, 1, 2, 1, 2, 3]
