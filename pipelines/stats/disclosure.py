"""TEMPORARY stand-in for the disclosure-control engine of branch w4-sdc (issue 16).

Replaced by that branch's module when it is merged; only the calls the publication
step makes are here: primary suppression (fewest households), dominance (one household's
share of a cell) and a greedy secondary suppression over the margins between the
published tables, then an audit that no hidden cell equals a shown margin minus shown
cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

HIDDEN_FLAG = "s"


@dataclass(frozen=True)
class Rule:
    """``min_households``, ``dominance_share``, ``protection`` (``person_related``,
    ``all`` or ``none``) and ``round_base``."""

    min_households: int = 3
    dominance_share: float = 0.85
    protection: str = "person_related"
    round_base: int = 1


@dataclass
class Protected:
    """The protected tables, by their dimensions."""

    tables: dict[tuple[str, ...], pd.DataFrame]
    rule: Rule
    checks: list[dict[str, Any]] = field(default_factory=list)

    def audit(self) -> dict[str, Any]:
        problems = []
        for dims, t in self.tables.items():
            for parent in self.tables:
                if len(parent) + 1 != len(dims) or not set(parent) < set(dims):
                    continue
                p = self.tables[parent]
                by = parent[0] if len(parent) == 1 else list(parent)
                groups = t.groupby(by, dropna=False) if parent else [((), t)]
                pk = p.set_index(list(parent)) if parent else p
                for key, g in groups:
                    hidden = (g["flag"] == HIDDEN_FLAG).sum()
                    if parent:
                        key = key if isinstance(key, tuple) else (key,)
                        prow = pk.loc[key[0] if len(key) == 1 else key]  # type: ignore[call-overload]
                    else:
                        prow = pk.iloc[0]
                    if hidden == 1 and prow["flag"] != HIDDEN_FLAG:
                        problems.append({"table": list(dims), "margin": list(parent)})
        return {
            "passed": not problems,
            "rule": self.rule.__dict__,
            "tables": [
                {
                    "dims": list(d),
                    "cells": len(t),
                    "hidden": int((t["flag"] == HIDDEN_FLAG).sum()),
                }
                for d, t in self.tables.items()
            ],
            "problems": problems,
        }


def _cells(micro: pd.DataFrame, dims: Sequence[str], rule: Rule) -> pd.DataFrame:
    keys = list(dims)
    g = micro.groupby(keys, dropna=False) if keys else micro.assign(_a=0).groupby("_a")
    per_household = micro.groupby([*keys, "household"], dropna=False).size()
    top = per_household.groupby(level=list(range(len(keys)))).max() if keys else None
    out = g.agg(
        n_reports=("household", "size"),
        n_households=("household", "nunique"),
        person_related=("person_related", "any"),
    )
    if keys:
        out["top"] = top.reindex(out.index).to_numpy()  # type: ignore[union-attr]
        out = out.reset_index()
    else:
        out["top"] = int(per_household.max()) if len(per_household) else 0
        out = out.reset_index(drop=True)
    protected = (
        pd.Series(True, index=out.index)
        if rule.protection == "all"
        else out["person_related"]
        if rule.protection == "person_related"
        else pd.Series(False, index=out.index)
    )
    primary = protected & (out["n_households"] < rule.min_households)
    dominance = protected & (out["top"] >= rule.dominance_share * out["n_reports"]) & ~primary
    dominance &= out["n_reports"] > 1
    out["reason"] = np.where(primary, "primary", np.where(dominance, "dominance", ""))
    return out.drop(columns=["top"])


def protect(micro: pd.DataFrame, tables: Sequence[tuple[str, ...]], rule: Rule) -> Protected:
    """Protect ``tables`` (each a tuple of dimension columns of ``micro``)."""
    cells = {tuple(d): _cells(micro, d, rule) for d in tables}
    changed = True
    while changed:
        changed = False
        for dims, t in cells.items():
            for parent in cells:
                if len(parent) + 1 != len(dims) or not set(parent) < set(dims):
                    continue
                p = cells[parent]
                hidden = t["reason"] != ""
                by = parent[0] if len(parent) == 1 else list(parent)
                groups = t.groupby(by, dropna=False).groups if parent else {(): t.index}
                pidx = (
                    {(k if isinstance(k, tuple) else (k,)): i for i, k in enumerate(
                        zip(*[p[c] for c in parent], strict=True))}
                    if parent
                    else {(): 0}
                )  # fmt: skip
                for key, idx in groups.items():
                    key = key if isinstance(key, tuple) else (key,)
                    prow = p.index[pidx[key]]
                    nh = hidden[idx].sum()
                    if nh == 0 and p.at[prow, "reason"] != "" and len(idx):
                        j = min(idx, key=lambda i: int(t.at[i, "n_reports"]))  # type: ignore[arg-type]
                        t.at[j, "reason"] = "secondary"
                        changed = True
                        hidden = t["reason"] != ""
                        continue
                    if nh != 1 or p.at[prow, "reason"] != "":
                        continue
                    others = [i for i in idx if not hidden[i]]
                    if others:
                        j = min(others, key=lambda i: int(t.at[i, "n_reports"]))  # type: ignore[arg-type]
                        t.at[j, "reason"] = "secondary"
                    else:
                        p.at[prow, "reason"] = "secondary"
                    changed = True
                    hidden = t["reason"] != ""
    out = {}
    for dims, t in cells.items():
        t = t.copy()
        shown = t["reason"] == ""
        n = t["n_reports"].astype("Float64")
        if rule.round_base > 1:
            n = (n / rule.round_base).round() * rule.round_base
        t["n_reports"] = n.where(shown).astype("Int64")
        t["n_households"] = t["n_households"].astype("Int64").where(shown)
        t["flag"] = np.where(shown, "", HIDDEN_FLAG)
        out[dims] = t
    return Protected(out, rule)
