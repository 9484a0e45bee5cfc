"""PLACEHOLDER of the effect estimates (issue 17, contract §2), replaced by branch
w5-effect: every action is « non mesurable ». No statistics here."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The columns of :func:`action_effects`, in order (contract §2).
EFFECT_COLUMNS = (
    "action_id",
    "window_months",
    "before_start",
    "after_end",
    "n_before",
    "n_after",
    "n_households_before",
    "n_households_after",
    "rate_unit",
    "rate_before",
    "rate_after",
    "rate_ratio",
    "rr_ci_low",
    "rr_ci_high",
    "rest_n_before",
    "rest_n_after",
    "rest_rate_ratio",
    "did_ratio",
    "did_ci_low",
    "did_ci_high",
    "verdict",
    "effect_fr",
)


def action_effects(
    actions: pd.DataFrame,
    reports: pd.DataFrame,
    buildings: pd.DataFrame,
    *,
    window_months: int,
    period_end: pd.Timestamp,
    min_reports: int,
) -> pd.DataFrame:
    """One row per action (input order), verdict « non mesurable » for all (placeholder)."""
    n = len(actions)
    out = pd.DataFrame({c: pd.Series([np.nan] * n, dtype=float) for c in EFFECT_COLUMNS})
    out["action_id"] = actions["action_id"].astype(str).to_numpy()
    out["window_months"] = window_months
    for c in ("before_start", "after_end"):
        out[c] = pd.Series([pd.NaT] * n, dtype="datetime64[ns]")
    out["rate_unit"] = None
    out["verdict"] = "non mesurable"
    out["effect_fr"] = "effet non mesurable (estimation pas encore disponible)"
    return out
