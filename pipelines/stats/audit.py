"""The audit of published count tables by linear programming (:func:`audit`) and the
report both the audit and :func:`pipelines.stats.disclosure.protect` write
(:func:`audit_report`, for ``publication_audit.json``).

For every hidden sensitive cell, the attacker's feasible interval is computed
(:mod:`pipelines.stats.attacker`) with every shown cell of every table as an equality
and every hidden cell at least 1; the conventions are those of
:mod:`pipelines.stats.disclosure`, which names :func:`audit` for its callers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from pipelines.stats.attacker import Intervals, feasible_intervals
from pipelines.stats.primary import (
    COMITE,
    FLAG_HIDDEN,
    REASON_DOMINANCE,
    REASON_PRIMARY,
    REASONS,
    DisclosureRule,
    cell_table,
    check_input,
    on_cells,
    technical_cells,
)
from pipelines.stats.proof import Proof, proven, with_proven
from pipelines.stats.system import EPS, LinearSystem, Table, linear_system


def audit(
    reports: pd.DataFrame,
    published: Mapping[Table, pd.DataFrame],
    *,
    rule: DisclosureRule = COMITE,
    proof: Proof | None = None,
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
    proof
        What :func:`pipelines.stats.disclosure.protect` proved of these tables
        (:attr:`pipelines.stats.disclosure.Protection.proof`): the intervals it proved
        stand where the tables hide at least the cells it hid
        (:func:`pipelines.stats.proof.proven`) and are not solved again.

    Returns
    -------
    dict
        JSON-able: ``passed``, the rule, and per table ``dims``, ``n_cells``,
        ``n_hidden`` (by reason, when a ``reason`` column is given, and ``total``),
        ``n_sensitive_shown`` (cells the primary rule hides but the table shows),
        ``n_unprotected`` (hidden sensitive cells whose attacker interval is narrower
        than the protection width) and ``worst`` (the narrowest proven interval, its
        cell, bounds and ``exact``; never the true value), and with ``rule.technical``,
        for a table of ``rule.category_dim``, ``n_hidden_technical`` (``total``, ``own``:
        primary or dominance, ``secondary``). Plus ``n_components`` and ``n_lp`` (the
        linear programs HiGHS solved for the proof: ``Intervals.n_lp`` of
        :mod:`pipelines.stats.attacker`), and with ``proof``, ``n_proven`` (the cells
        whose interval came from it).
    """
    tables = [tuple(t) for t in published]
    check_input(reports, tables)
    cells = cell_table(reports, tables, rule)
    hidden = np.zeros(len(cells), dtype=bool)
    for i, t in enumerate(tables):
        pub = published[t]
        sel = cells["table"] == i
        if t:
            flags = on_cells(cells.loc[sel, [*t, "cell"]], pub[[*t, "flag"]], list(t))
            hid = (flags["flag"] == FLAG_HIDDEN).to_numpy()
            hidden[flags["cell"].to_numpy()[hid]] = True
        elif sel.any() and len(pub) and (pub["flag"] == FLAG_HIDDEN).any():
            hidden[cells.loc[sel, "cell"].to_numpy()] = True
    system = linear_system(reports, tables, cells)
    primary = (cells["reason"] != "").to_numpy()
    targets = np.flatnonzero(primary & hidden & cells["sensitive"].to_numpy())
    covered, lo, hi = proven(proof, cells, tables, hidden, targets, rule.width)
    solved = feasible_intervals(system, hidden, targets[~covered], width=rule.width)
    iv = with_proven(solved, covered, lo, hi)
    result = audit_report(tables, published, cells, system, hidden, targets, iv, rule)
    return result if proof is None else {**result, "n_proven": int(covered.sum())}


def audit_report(
    tables: Sequence[Table],
    published: Mapping[Table, pd.DataFrame],
    cells: pd.DataFrame,
    system: LinearSystem,
    hidden: npt.NDArray[np.bool_],
    targets: npt.NDArray[np.int64],
    iv: Intervals,
    rule: DisclosureRule,
) -> dict[str, Any]:
    """The audit dict from the targets' intervals (exact or certified)."""
    primary = (cells["reason"] != "").to_numpy()
    own = cells["reason"].isin([REASON_PRIMARY, REASON_DOMINANCE]).to_numpy()
    technical = technical_cells(cells, tables, rule) & hidden
    width = rule.width
    n_lp = iv.n_lp
    per_table = []
    passed = True
    for i, t in enumerate(tables):
        in_table = (cells["table"] == i).to_numpy()
        in_t = np.flatnonzero(in_table[targets])
        w = (iv.hi - iv.lo)[in_t]
        unprotected = int((w < width - EPS).sum())
        shown_bad = int((primary & ~hidden & in_table).sum())
        n_hidden: dict[str, int] = {"total": int((hidden & in_table).sum())}
        pub = published[t]
        if "reason" in pub.columns:
            for r in REASONS:
                n_hidden[r] = int(((pub["flag"] == FLAG_HIDDEN) & (pub["reason"] == r)).sum())
        worst = None
        if len(in_t):
            # The narrowest proven interval: exact, or inside the exact one (certified).
            j = int(in_t[np.argmin(w)])
            lo_j, hi_j = float(iv.lo[j]), float(iv.hi[j])
            worst = {
                "cell": {d: jsonable(cells.at[int(targets[j]), d]) for d in t},
                "lo": lo_j,
                "hi": None if math.isinf(hi_j) else hi_j,
                "width": None if math.isinf(hi_j) else hi_j - lo_j,
                "exact": bool(iv.exact[j]),
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
        if rule.technical and rule.category_dim in t:
            # hidden cells of the categories shown exactly: for themselves (a report
            # naming a dwelling makes them person-related), or to protect another
            per_table[-1]["n_hidden_technical"] = {
                "total": int((technical & in_table).sum()),
                "own": int((technical & in_table & own).sum()),
                "secondary": int((technical & in_table & ~own).sum()),
            }
    return {
        "passed": bool(passed),
        "rule": {
            "min_households": rule.min_households,
            "dominance_share": rule.dominance_share,
            "all_sensitive": rule.all_sensitive,
            "protection_width": width,
            "round_base": rule.round_base,
        },
        "method": f"HiGHS (highspy), {system.method}",
        "n_unknowns": int(system.value.size),
        "tables": per_table,
        "n_components": iv.n_components,
        "n_lp": n_lp,
    }


def jsonable(v: object) -> object:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, str | int | float | bool) or v is None:
        return v
    return str(v)
