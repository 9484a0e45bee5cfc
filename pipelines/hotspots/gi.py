"""Getis-Ord Gi* layers of the hotspot stage: the distance band, the Gi* and FDR bins of
a count (or a rate) per building, per category, and the sample-size rule under which no
Gi* is drawn (see :mod:`pipelines.hotspots.stage` for the choices)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pipelines.config import HotspotParams
from pipelines.errors import NotEnoughFeaturesError
from pipelines.stats import gistar as hs
from pipelines.stats.band import BandChoice, auto_distance_band, configured_band
from pipelines.stats.fdr import fdr_bins
from pipelines.taxonomy import CODES

_BIN_LABELS = {
    3: "Point chaud (confiance 99 %)",
    2: "Point chaud (confiance 95 %)",
    1: "Point chaud (confiance 90 %)",
    0: "Non significatif",
    -1: "Point froid (confiance 90 %)",
    -2: "Point froid (confiance 95 %)",
    -3: "Point froid (confiance 99 %)",
}
NOT_COMPUTED = "Non calculé"


# --------------------------------------------------------------------------------------
# Gi*
# --------------------------------------------------------------------------------------


def choose_band(coords_m: np.ndarray, values: np.ndarray, params: HotspotParams) -> BandChoice:
    """The Gi* distance band: ``params.distance_band_m`` when set, else the automatic
    band of :func:`pipelines.stats.band.auto_distance_band` on ``values`` (each
    feature's report count), with ``band_search_steps`` and ``band_increment_m``
    (DOMAIN.md). The trends stage uses it too. Raises :class:`NotEnoughFeaturesError`
    below :data:`pipelines.stats.gistar.MIN_FEATURES` features."""
    if params.distance_band_m is not None:
        if len(coords_m) < hs.MIN_FEATURES:
            raise NotEnoughFeaturesError(len(coords_m), hs.MIN_FEATURES)
        return configured_band(params.distance_band_m, n_features=len(coords_m))
    return auto_distance_band(
        coords_m,
        values,
        n_steps=params.band_search_steps,
        increment_m=params.band_increment_m,
    )


def gi_labels(gi_bin: pd.Series, gi_z: pd.Series) -> pd.Series:
    """French label of each Gi* result: « Point chaud (confiance 95 %) », …, « Non
    calculé » where z is missing (island, too few features, constant values)."""
    labels = gi_bin.map(_BIN_LABELS).astype("string")
    return labels.where(gi_z.notna(), NOT_COMPUTED)


def not_computed(index: pd.Index, note: str) -> pd.DataFrame:
    """The Gi* columns when no Gi* is computed: NaN z and p, bin 0, the reason."""
    n = len(index)
    return pd.DataFrame(
        {
            "gi_z": np.full(n, np.nan),
            "gi_p": np.full(n, np.nan),
            "gi_bin": np.zeros(n, dtype=np.int64),
            "n_neighbours": pd.array([pd.NA] * n, dtype="Int64"),
            "is_island": np.zeros(n, dtype=bool),
            "gi_note": pd.array([note] * n, dtype="string"),
        },
        index=index,
    )


#: Status of a Gi* layer left out because the site has too few reports (:func:`sample_size`).
TOO_FEW_REPORTS = "too_few_reports"


def sample_size(n_reports: int, *, min_reports: int) -> dict[str, Any]:
    """Whether a site has enough reports for a hotspot analysis, as the summary says it.

    The minimum is the one a category needs (``category_min_reports``, 30 by default):
    below it, the z-scores of a whole neighbourhood hinge on one or two buildings, and a
    "hotspot" is a single report or two.

    Returns
    -------
    dict
        ``reports_counted``, ``min_reports``, ``too_few_reports`` (bool) and ``note_fr``
        (``None`` when there are enough reports; else a French reason starting with
        « trop peu de signalements pour conclure », which the map shows as it is).
    """
    too_few = n_reports < min_reports
    return {
        "reports_counted": int(n_reports),
        "min_reports": int(min_reports),
        "too_few_reports": too_few,
        "note_fr": too_few_note_fr(min_reports, n_reports) if too_few else None,
    }


def too_few_note_fr(min_reports: int, n_reports: int | None = None) -> str:
    """The reason no hotspot is concluded, « trop peu de signalements pour conclure
    (…) »: with the count of reports on the buildings, or without it (``None``: the
    words a publication profile that protects counts publishes, its site total being
    rounded or hidden)."""
    if n_reports is None:
        return (
            f"trop peu de signalements pour conclure (moins de {min_reports} sur les "
            "bâtiments, le minimum d'une analyse des points chauds)"
        )
    counted = f"{n_reports} signalement{'s' if n_reports > 1 else ''}"
    return (
        f"trop peu de signalements pour conclure ({counted} sur les bâtiments, il en "
        f"faut au moins {min_reports} pour une analyse des points chauds)"
    )


def gi_info(gi: pd.DataFrame) -> dict[str, Any]:
    """Counts for the summary: features tested, islands, features per bin."""
    bins = gi["gi_bin"].value_counts()
    return {
        "n_features": len(gi),
        "n_tested": int(gi["gi_z"].notna().sum()),
        "n_islands": int(gi["is_island"].sum()),
        "bins": {str(b): int(bins.get(b, 0)) for b in range(-3, 4)},
        "n_hot_95": int((gi["gi_bin"] >= 2).sum()),
        "n_cold_95": int((gi["gi_bin"] <= -2).sum()),
    }


def hotspot_layer(
    features_m: gpd.GeoDataFrame,
    value_column: str,
    params: HotspotParams,
    *,
    band: BandChoice | None = None,
    what: str = "bâtiments",
    too_few_reports: str | None = None,
) -> tuple[pd.DataFrame, BandChoice | None, dict[str, Any]]:
    """Gi* on one value column of one layer, with its band, or the reason why not.

    Parameters
    ----------
    features_m
        Features in a metric CRS (polygons stand by their centroid).
    value_column
        Finite values (counts or rates).
    band
        A band already chosen (e.g. on the total counts); default: :func:`choose_band`.
    what
        What the features are, in French, for the message when there are too few.
    too_few_reports
        The site's ``sample`` note (:func:`sample_size`) when it has too few reports:
        nothing is computed, and the layer says why (unless it has too few features as
        well, the reason it gave before).

    Returns
    -------
    (DataFrame, BandChoice or None, dict)
        The columns of :func:`~pipelines.stats.gistar.gi_star` plus ``gi_label``,
        aligned on ``features_m.index``; the band used; a summary (``status``
        ``computed``, ``not_enough_features`` or ``too_few_reports`` with its French
        ``message``).
    """
    values = features_m[value_column].to_numpy(dtype=float)
    if too_few_reports is not None and len(features_m) >= hs.MIN_FEATURES:
        message = f"Gi* non calculé : {too_few_reports}."
        gi = not_computed(features_m.index, message)
        gi["gi_label"] = gi_labels(gi["gi_bin"], gi["gi_z"])
        return gi, None, {"status": TOO_FEW_REPORTS, "message": message, **gi_info(gi)}
    try:
        coords = hs.feature_points(features_m) if len(features_m) else np.empty((0, 2))
        if band is None:
            band = choose_band(coords, values, params)
        gi = hs.gi_star(
            values,
            coords,
            band.band_m,
            permutations=params.permutations,
            seed=params.seed,
            index=features_m.index,
        )
        info: dict[str, Any] = {"status": "computed", "band_m": band.band_m, **gi_info(gi)}
    except NotEnoughFeaturesError as err:
        message = str(NotEnoughFeaturesError(err.n_features, err.minimum, what))
        gi = not_computed(features_m.index, message)
        info = {"status": "not_enough_features", "message": message, **gi_info(gi)}
        band = None
    gi["n_neighbours"] = gi["n_neighbours"].astype("Int64")
    if "gi_p_sim" in gi:
        # Bins from the permutation p-values as well, for runs where the normal
        # approximation is doubtful (see the blank check); gi_bin stays DOMAIN.md's.
        gi["gi_bin_sim"] = fdr_bins(gi["gi_z"], gi["gi_p_sim"])
        info["n_hot_95_sim"] = int((gi["gi_bin_sim"] >= 2).sum())
    gi["gi_label"] = gi_labels(gi["gi_bin"], gi["gi_z"])
    return gi, band, info


def band_info(band: BandChoice | None) -> dict[str, Any] | None:
    """A band choice as JSON for the summary."""
    if band is None:
        return None
    return {
        "band_m": band.band_m,
        "method": band.method,
        "reason": band.reason,
        "distances_m": list(band.distances_m),
        "moran_z": [None if not np.isfinite(z) else z for z in band.moran_z],
        "n_features": band.n_features,
        "n_locational_outliers": band.n_locational_outliers,
        "k_neighbours": band.k_neighbours,
    }


def category_hotspots(
    table_m: gpd.GeoDataFrame,
    band: BandChoice | None,
    params: HotspotParams,
    *,
    categories: Sequence[str] = CODES,
) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """Gi* per category on the buildings' ``n_<code>`` counts, at the total's band.

    A category is analysed when it has at least ``params.category_min_reports``
    reports and the total's Gi* could be computed (``band`` not None).

    Returns
    -------
    (DataFrame, dict)
        ``gi_z_<code>`` (NaN when not analysed) and ``gi_bin_<code>`` (0) for every
        code, aligned on ``table_m.index``; per code, ``n_reports``, ``status``
        (``analysed`` / ``skipped``), the French ``reason`` when skipped, the bins.
    """
    n = len(table_m)
    columns: dict[str, Any] = {}
    info: dict[str, dict[str, Any]] = {}
    analysed = []
    for code in categories:
        total = int(table_m[f"n_{code}"].sum())
        columns[f"gi_z_{code}"] = np.full(n, np.nan)
        columns[f"gi_bin_{code}"] = np.zeros(n, dtype=np.int64)
        if total < params.category_min_reports:
            reason = (
                f"{total} signalement(s), moins que le minimum de {params.category_min_reports}"
            )
        elif band is None:
            reason = "pas d'analyse Gi* du total (trop peu de bâtiments)"
        else:
            analysed.append(code)
            continue
        info[code] = {"n_reports": total, "status": "skipped", "reason": reason}
    if analysed and band is not None:
        values = table_m[[f"n_{c}" for c in analysed]]
        results = hs.gi_star_many(values, hs.feature_points(table_m), band.band_m)
        for code in analysed:
            gi = results[f"n_{code}"]
            columns[f"gi_z_{code}"] = gi["gi_z"].to_numpy()
            columns[f"gi_bin_{code}"] = gi["gi_bin"].to_numpy()
            total = int(table_m[f"n_{code}"].sum())
            info[code] = {"n_reports": total, "status": "analysed", **gi_info(gi)}
    info = {c: info[c] for c in categories}
    return pd.DataFrame(columns, index=table_m.index), info


def rate_hotspots(
    table_m: gpd.GeoDataFrame, params: HotspotParams, *, too_few_reports: str | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Gi* on ``reports_per_100_dwellings`` over the buildings whose dwellings are known.

    Those buildings only are the features (a building without a known size has no rate,
    not a rate of 0). Band: ``distance_band_m`` or chosen automatically on these
    features. Fewer than 30 of them, or a site with too few reports
    (``too_few_reports``, see :func:`hotspot_layer`): nothing computed, and the summary
    says so.

    Returns
    -------
    (DataFrame, dict)
        ``gi_z_rate``, ``gi_p_rate``, ``gi_bin_rate`` aligned on ``table_m.index`` (NaN,
        NaN, 0 where not computed); the summary with the band.
    """
    rate = table_m["reports_per_100_dwellings"]
    with_rate = table_m[rate.notna()]
    gi, band, info = hotspot_layer(
        with_rate,
        "reports_per_100_dwellings",
        params,
        what="bâtiments au nombre de logements connu",
        too_few_reports=too_few_reports,
    )
    out = pd.DataFrame(
        {
            "gi_z_rate": gi["gi_z"].reindex(table_m.index),
            "gi_p_rate": gi["gi_p"].reindex(table_m.index),
            "gi_bin_rate": gi["gi_bin"].reindex(table_m.index).fillna(0).astype(np.int64),
        },
        index=table_m.index,
    )
    sources = table_m.loc[rate.notna(), "dwellings_source"].value_counts()
    info.update(
        {
            "buildings_with_dwellings": len(with_rate),
            "share_with_dwellings": float(len(with_rate) / len(table_m)) if len(table_m) else 0.0,
            "dwellings_sources": {str(k): int(v) for k, v in sources.items()},
            "band": band_info(band),
        }
    )
    return out, info
