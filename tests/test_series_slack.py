"""The building cells hidden first so that the site's series need not hide its own
(:func:`pipelines.publish.levels.series_slack`)."""

from __future__ import annotations

import pandas as pd

from pipelines.publish.cells import FLAG, TECHNICAL
from pipelines.publish.levels import series_slack
from tests.profiles import COMITE


def _micro(rows: list[tuple[str, str, str, int, int]]) -> pd.DataFrame:
    """One report per row of (building, month, category, reports, households), the
    households numbered apart per building."""
    out = []
    for building, month, category, n, households in rows:
        for i in range(n):
            out.append(
                {
                    "zone": "Z1",
                    "building_id": building,
                    "month": month,
                    "category": category,
                    "household": f"{building}-{i % households}",
                    "person_related": category == "nuisibles",
                    TECHNICAL: category != "nuisibles",
                }
            )
    return pd.DataFrame(out)


def test_the_cells_of_most_reports_under_a_pinning_total_are_hidden_first() -> None:
    """January's pests: A's single report is hidden (one household); shown, the month's
    total (10) less B's 4 and C's 5 gave it back. B (4 reports, 3 more than its least
    value 1) is hidden first: the total then allows A 1 to 4. C has more reports but no
    other month hidden: hidden, its building × category total would give it back.
    February's A (5 reports of 2 households, hidden) has slack enough: nothing more;
    the lifts hold no sensitive cell: nothing."""
    micro = _micro(
        [("A", "2024-01", "nuisibles", 1, 1), ("B", "2024-01", "nuisibles", 4, 4),
         ("C", "2024-01", "nuisibles", 5, 5), ("A", "2024-02", "nuisibles", 5, 2),
         ("B", "2024-02", "nuisibles", 1, 1), ("A", "2024-01", "ascenseur", 1, 1),
         ("B", "2024-01", "ascenseur", 4, 4)]
    )  # fmt: skip
    table = ("zone", "building_id", "month", "category")
    out = series_slack(micro, table, COMITE, "month")
    hidden = {
        (b, m, c) for b, m, c, f in zip(
            out["building_id"], out["month"], out["category"], out["flag"], strict=True
        ) if f == FLAG
    }  # fmt: skip
    assert hidden == {("B", "2024-01", "nuisibles")}
    assert not out["locked"].any()
    assert len(out) == 7
