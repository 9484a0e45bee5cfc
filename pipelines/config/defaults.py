"""The parameters of every stage: their defaults, what each takes where its default does
not say it, and the ranges of the numeric ones."""

from __future__ import annotations

from typing import Any

#: Defaults of every stage's parameters; ``[params]`` at the top of the file and
#: ``[sites.params]`` per site override them, section by section.
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "ingest": {
        "start_date": "2015-01-01",
        "today": None,  # ISO date; None means the day of the run
        "duplicate_distance_m": 30.0,
        "duplicate_window_h": 48.0,
    },
    "geocode": {
        "tolerance_m": 25.0,
        "disagreement_m": 50.0,
        "fuzzy_threshold": 88.0,
        "ban_online": False,
        "ban_timeout_s": 30.0,  # seconds per request to the online BAN geocoder
        # A point shared by this many reports with this many distinct addresses is a
        # placeholder (a city's "no location" point): its coordinates are ignored.
        "placeholder_min_reports": 5,
        "placeholder_min_addresses": 3,
    },
    "hotspots": {
        "distance_band_m": None,  # None: automatic band (DOMAIN.md)
        "band_search_steps": 10,  # distances tried by the automatic band
        "band_increment_m": None,  # None: mean nearest-neighbour distance
        "hex_size_m": 50.0,  # edge; 100 m left Bondy Nord (0.65 km²) under 30 hexagons
        "kde_bandwidth_m": 150.0,
        "kde_cell_m": 20.0,
        "kde_levels": None,  # None: round levels from the maximum density
        "permutations": 0,
        "seed": 20240601,
        "category_min_reports": 30,  # fewer reports: no Gi* for that category
        "blank_check_shuffles": 20,  # Gi* on shuffled counts, to check the p-values
        "chronic": {"default": [3, 90], "ascenseur": [3, 90]},  # [N reports, in D days]
    },
    "trends": {
        "freq": "M",  # M (months), W (weeks, Monday to Sunday) or Q (quarters)
        "start": None,  # ISO date in the first period; None: the first report's
        "end": None,  # ISO date in the last period; None: the last report's
        "alpha": 0.05,  # two-sided level of the Mann-Kendall tests
        "time_window": 0,  # previous periods added to each space-time Gi* neighbourhood
        "min_level": 1,  # FDR bin counted as hot/cold: 1 (90 %), 2 (95 %), 3 (99 %)
        "compare_months": 3,  # before/after: the last N months against the N before
        "compare_before": None,  # or ["2025-04-01", "2025-06-30"] (ISO, end included)
        "compare_after": None,
        "targets_h": {"ascenseur": 48, "eau_fuite": 72, "chauffage": 48},  # closing, hours
        "as_of": None,  # date of the export; None: the latest report or closure time
        "top_buildings": 6,  # buildings drawn in the small multiples
    },
    "maps": {"online_tiles": False, "max_report_points": 20000},
    "zones": {
        "min_bin": 2,  # lowest gi_bin of a hot building (2: hotspot at 95 % or more)
        "gap_m": 15.0,  # hot buildings closer than this (footprint to footprint) share a zone
        # A zone built from fewer reports than min_reports is kept, flagged
        # (has_enough_reports false), and not drawn.
        "min_reports": 10,
    },
    "actions": {
        # The organisations a register may name as lead partner (partenaire_pilote).
        "partners": [
            "bailleur",
            "ville",
            "syndic",
            "État",
            "police",
            "association de locataires",
            "prestataire",
        ],
        "effect_window_months": 6,  # before/after windows of the effect of an action
        "effect_min_reports": 10,  # fewer target reports: « trop peu de signalements »
    },
}


#: What a parameter takes where its default does not say it (``None``, or a date written
#: as text); every other parameter takes the type of its default in :data:`DEFAULT_PARAMS`.
PARAM_KINDS = {
    "ingest.start_date": "date",
    "ingest.today": "date",
    "hotspots.distance_band_m": "number",
    "hotspots.band_increment_m": "number",
    "hotspots.kde_levels": "list",
    "trends.start": "date",
    "trends.end": "date",
    "trends.as_of": "date",
    "trends.compare_before": "list",
    "trends.compare_after": "list",
}

#: Ranges of the numeric parameters, ends included (the hotspot stage's own are checked
#: by :class:`~pipelines.config.hotspots.HotspotParams`; ``trends.alpha`` excludes both).
PARAM_RANGES: dict[str, tuple[float, float | None]] = {
    "ingest.duplicate_distance_m": (0, None),
    "ingest.duplicate_window_h": (0, None),
    "geocode.tolerance_m": (0, None),
    "geocode.disagreement_m": (0, None),
    "geocode.fuzzy_threshold": (0, 100),
    "geocode.ban_timeout_s": (0.1, None),
    "geocode.placeholder_min_reports": (2, None),
    "geocode.placeholder_min_addresses": (2, None),
    "trends.alpha": (0, 1),
    "trends.time_window": (0, None),
    "trends.min_level": (1, 3),
    "trends.compare_months": (1, None),
    "trends.top_buildings": (1, None),
    "maps.max_report_points": (0, None),
    "zones.min_bin": (1, 3),
    "zones.gap_m": (0, None),
    "zones.min_reports": (0, None),
    "actions.effect_window_months": (1, None),
    "actions.effect_min_reports": (1, None),
}
OPEN_RANGES = {"trends.alpha"}
