"""The reports a site's pack leaves out of its tables, and the indicator cells that
would count them (:mod:`pipelines.publish.indicators`).

The publication step leaves out of every table it publishes the late reports (dated in
a period its ledger froze, :func:`pipelines.publish.ledger.late_reports`); the
indicators stage counts every report. A quarter × category count shown beside the sum of
the months ``category_series`` shows for it gave their number exactly (under ``public``,
two roundings of nearby counts narrowed it): such a cell is not shown.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.publication import ProfileRule
from pipelines.indicators import quarter_of
from pipelines.publish.cells import FLAG
from pipelines.publish.ledger import late_reports, ledger_level
from pipelines.publish.levels import level_of


def unequal_cells(
    categories: pd.DataFrame, series: pd.DataFrame | None, *, freq: str
) -> set[tuple[str, str]]:
    """(quarter, category) of the counts of ``categories`` shown (``cell_flag`` empty)
    that differ from the sum of the periods ``category_series`` shows for them, when the
    series is by month or quarter (``freq``, ``M`` or ``Q``) and exact (a series by
    year, or rounded: nothing compared). A cell one of whose months is hidden is hidden
    already (:func:`pipelines.publish.indicators.consistent_with_published`) and not
    compared.

    The pack leaves reports out of its tables (late ones, :func:`left_out_cells`): a
    shown count beside the sum of its months gave their number exactly."""
    if series is None or series.empty or freq not in ("M", "Q"):
        return set()
    # a month's or a quarter's first day lies in its quarter
    quarter = quarter_of(pd.to_datetime(series["period_start"]))
    key = quarter.astype(str) + "|" + series["category"].astype(str)
    hidden = set(key[(series["n_reports_flag"] == FLAG).to_numpy()])
    sums = pd.to_numeric(series["n_reports"], errors="coerce").groupby(key.to_numpy()).sum()
    shown = categories[(categories["cell_flag"] != FLAG).to_numpy()]
    cells = shown["quarter"].astype(str) + "|" + shown["category"].astype(str)
    counts = pd.to_numeric(shown["n_reports"], errors="coerce").to_numpy(dtype=float)
    return {
        (c.split("|")[0], c.split("|")[1])
        for c, n in zip(cells, counts, strict=True)
        if c not in hidden and not np.isnan(n) and float(sums.get(c, 0.0)) != n
    }


def left_out_cells(micro: pd.DataFrame, ledger: pd.DataFrame | None) -> set[tuple[str, str]]:
    """(quarter, category) of the reports of ``micro`` the publication step left out of
    every table as late (:func:`pipelines.publish.ledger.late_reports`, read on the
    profile's ``ledger`` it kept, at the period of its monthly level).

    The indicators count every report; a shown count holding one of these, beside the
    pack's months (or, under ``public``, beside their rounded figures), gave back or
    narrowed how many reports the pack left out of that cell."""
    level = level_of(ledger_level(ledger))
    late = late_reports(micro, ledger, level[1] if level else "month")
    rows = micro[late.to_numpy()]
    return set(zip(rows["quarter"].astype(str), rows["category"].astype(str), strict=True))


def left_out_audit(left_out: set[tuple[str, str]], rule: ProfileRule) -> dict[str, Any]:
    """The audit's word on the cells hidden because the pack leaves some of their
    reports out: the reason, in French, and how many cells (under an exact profile
    only: the open-data pack says what it withholds, not how much)."""
    return {
        "reason_fr": (
            "indicateur masqué : il compterait des signalements que les tableaux du site "
            "laissent de côté (signalements tardifs, datés d'une période déjà publiée), "
            "ou son nombre n'est pas la somme des mois publiés"
        ),
        "cells_hidden": len(left_out) if rule.round_base <= 1 else None,
    }
