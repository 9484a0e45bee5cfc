"""Checks of a hotspot run, reported in its summary and method note.

- A **blank test**: Gi* on the run's own counts shuffled over its buildings, to see how
  often the normal p-values flag something where there is, by construction, nothing.
- A **size check**: are the hot buildings just the big ones?
- On simulated data, the **recall and precision** of the planted hotspots, read from the
  simulator's truth file.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from pipelines.config import Config
from pipelines.io import read_json
from pipelines.stats import gistar as hs

log = logging.getLogger(__name__)

#: The simulator's truth file (``pipelines.simulate.stage.FILES["truth"]``, checked by a test;
#: not imported, so that this stage does not depend on the simulator's code).
TRUTH_FILE = "simulation_truth.json"


def permutation_check(
    values: np.ndarray, coords_m: np.ndarray, band_m: float, *, seed: int, shuffles: int
) -> dict[str, Any]:
    """A blank test: Gi* on the same values shuffled over the features, ``shuffles`` times.

    Under spatial randomness, with valid p-values, the FDR procedure flags no feature at
    all in at least 95 % of the shuffles at the 95 % level. This checks the whole
    procedure on the run's own layout and value distribution: very skewed counts (a few
    buildings with hundreds of reports among many with none) make the normal
    approximation optimistic, and this check shows by how much.

    Returns
    -------
    dict
        ``shuffles``, ``seed``, ``mean_share_flagged_95`` and ``max_share_flagged_95``
        (share of features with ``|gi_bin| ≥ 2``), ``share_of_shuffles_flagging``
        (shuffles with at least one such feature; ≤ 5 % expected).
    """
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({f"s{k}": rng.permutation(values) for k in range(shuffles)})
    flagged = np.array(
        [
            float((gi["gi_bin"].abs() >= 2).mean())
            for gi in hs.gi_star_many(table, coords_m, band_m).values()
        ]
    )
    return {
        "shuffles": shuffles,
        "seed": seed,
        "mean_share_flagged_95": float(flagged.mean()) if shuffles else None,
        "max_share_flagged_95": float(flagged.max()) if shuffles else None,
        "share_of_shuffles_flagging": float((flagged > 0).mean()) if shuffles else None,
    }


def size_check(table: pd.DataFrame) -> dict[str, Any]:
    """Are the hot buildings just the big ones? Footprint areas of hot vs. all buildings
    and Spearman's correlation between reports and footprint area."""
    area = pd.to_numeric(table["area_m2"], errors="coerce").astype(float)
    hot = table["gi_bin"] >= 2
    with_reports = table["n_reports"] > 0
    rho = np.nan
    if area.nunique() > 1 and table["n_reports"].nunique() > 1:
        rho = float(stats.spearmanr(table["n_reports"], area, nan_policy="omit").statistic)
    return {
        "median_area_m2_hot": float(area[hot].median()) if hot.any() else None,
        "median_area_m2_with_reports": float(area[with_reports].median())
        if with_reports.any()
        else None,
        "median_area_m2_all": float(area.median()) if len(area) else None,
        "spearman_reports_area": None if not np.isfinite(rho) else rho,
    }


def planted_recall(table: pd.DataFrame, truth: Mapping[str, Any]) -> dict[str, Any]:
    """Recall and precision of the 95 % hot bin against the simulator's planted hotspots.

    Recall: planted hotspot buildings with ``gi_bin ≥ 2`` over planted buildings present.
    Precision: of the buildings with ``gi_bin ≥ 2``, the share that are planted; also
    given over flagged buildings that have at least one report (Gi* flags a
    neighbourhood, so report-less sheds beside a hot building are flagged too).
    """
    planted = set(truth.get("hotspot_buildings", []))
    is_planted = table["building_id"].astype(str).isin(planted)
    flagged = table["gi_bin"] >= 2
    with_reports = flagged & (table["n_reports"] > 0)
    found = int((flagged & is_planted).sum())
    n_planted = int(is_planted.sum())
    n_flagged = int(flagged.sum())
    return {
        "n_planted": n_planted,
        "n_planted_missing_from_buildings": len(planted) - n_planted,
        "n_flagged_95": n_flagged,
        "n_found": found,
        "recall": found / n_planted if n_planted else None,
        "precision": found / n_flagged if n_flagged else None,
        "precision_with_reports": int((with_reports & is_planted).sum()) / int(with_reports.sum())
        if with_reports.any()
        else None,
    }


def find_truth(config: Config, site_id: str) -> dict[str, Any] | None:
    """The simulator's truth for a simulated site: ``simulation_truth.json`` beside the
    site's first source file (the simulator writes all its files together), or None."""
    site = config.site(site_id)
    if not site.simulated:
        return None
    for source in site.sources:
        for path in source.files():
            candidate = path.parent / TRUTH_FILE
            if candidate.exists():
                return dict(read_json(candidate))
    log.warning("site %s: simulated, but no %s beside its sources", site_id, TRUTH_FILE)
    return None
