"""What the geocoding tells the analyst in ``geocode_summary.json``: the reports per
method (:data:`GEOCODE_METHODS`), the share of addressed reports placed on no building
and whether the site's address sources are too thin (:func:`address_quality`), and the
landlord's building codes absent from the OSM extract
(:func:`buildings_not_in_extract`), each warning in French.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipelines.reports import has_text

GEOCODE_METHODS = (
    "gazetteer",
    "address_exact",
    "address_interpolated",
    "address_fuzzy",
    "ban",
    "point_in_building",
    "nearest_building",
    "address_street",
    "building_not_in_extract",
    "unmatched",
)


#: Methods that place a report on no building: the street alone is known, a building
#: absent from the footprints (clipped extract, out-of-date gazetteer), or nothing.
UNPLACED_METHODS = ("address_street", "building_not_in_extract", "unmatched")


#: Above this share of addressed reports left unplaced, the site's address sources are
#: too thin for address geocoding, and the summary says so.
THIN_ADDRESSES_SHARE = 0.2


def geocode_summary(reports: pd.DataFrame) -> dict[str, Any]:
    """Counts by method, match rate and conflicts, for ``run_summary.json``."""
    counts = reports["geocode_method"].value_counts()
    by_method = {m: int(counts.get(m, 0)) for m in GEOCODE_METHODS}
    n = len(reports)
    unplaced = sum(by_method[m] for m in UNPLACED_METHODS)
    return {
        "rows": n,
        "by_method": by_method,
        "unmatched": by_method["unmatched"],
        "street_only": by_method["address_street"],
        "match_rate": round((n - unplaced) / n, 4) if n else None,
        "location_conflicts": int(
            reports.get("has_location_conflict", pd.Series(dtype=bool)).sum()
        ),
    }


def address_quality(reports: pd.DataFrame, *, has_ban: bool) -> dict[str, Any]:
    """How well addresses placed the reports that had one, and a French warning when
    too few were placed for address geocoding to be trusted.

    Parameters
    ----------
    reports
        Geocoded reports (``geocode_method``; ``address`` when the sources have one).
    has_ban
        Whether the site's address index includes a BAN extract.

    Returns
    -------
    dict
        ``addressed`` (reports with an address), ``unplaced`` (of those, placed on no
        building), ``share_unplaced`` and ``warning`` (French text, or None).
    """
    addressed = has_text(reports, "address")
    n = int(addressed.sum())
    unplaced = int((addressed & reports["geocode_method"].isin(UNPLACED_METHODS)).sum())
    share = unplaced / n if n else 0.0
    warning = None
    if n and share > THIN_ADDRESSES_SHARE:
        advice = (
            "vérifiez les adresses des exports et celles du fichier BAN du site"
            if has_ban
            else "les adresses de l'extrait OSM sont trop rares pour géocoder par adresse : "
            "ajoutez l'extrait de la Base Adresse Nationale de la commune (clé « ban » du site)"
        )
        warning = (
            f"{unplaced} des {n} signalements avec une adresse ({share:.0%}) ne sont placés "
            f"sur aucun bâtiment ; {advice}."
        )
    return {
        "addressed": n,
        "unplaced": unplaced,
        "share_unplaced": round(share, 4),
        "warning": warning,
    }


def buildings_not_in_extract(reports: pd.DataFrame) -> dict[str, Any]:
    """How many reports name a building (by a gazetteer code) that the footprints lack.

    Parameters
    ----------
    reports
        Geocoded reports (``geocode_method``).

    Returns
    -------
    dict
        ``count`` and ``warning`` (French text naming the likely causes, or None).
    """
    n = int((reports["geocode_method"] == "building_not_in_extract").sum())
    warning = None
    if n:
        warning = (
            f"{n} signalement(s) désignent un bâtiment absent de la couche des bâtiments : "
            "l'extrait OSM est peut-être découpé trop court autour du site, le bâtiment a été "
            "écarté par l'étape des bâtiments, ou le gazetteer du site n'est plus à jour. "
            "Ils ne sont placés sur aucun bâtiment et ne comptent pas dans le taux de "
            "géocodage."
        )
    return {"count": n, "warning": warning}
