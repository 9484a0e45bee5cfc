"""The parameters of every stage: their defaults, what each takes, their ranges, and the
checks of a ``[params]`` table (top level or a site's)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pipelines.config.hotspots import HotspotParams
from pipelines.config.values import KIND_NAMES, PY_KINDS, check_known, is_kind, toml_type
from pipelines.errors import ConfigError
from pipelines.taxonomy import CODES

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
    # A zone built from fewer reports than min_reports is kept, flagged, and not drawn.
    "zones": {"min_bin": 2, "gap_m": 15.0, "min_reports": 10},
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
}
OPEN_RANGES = {"trends.alpha"}


def check_params(raw: Any, path: str, where: str) -> None:
    """Check one ``[params]`` table (top level or a site's): sections and keys known,
    each value of its parameter's type and in its range."""
    if not isinstance(raw, dict):
        raise ConfigError(path, f"attendu une table, trouvé {toml_type(raw)}.", key=where)
    check_known(raw, tuple(DEFAULT_PARAMS), path, where)
    for section, values in raw.items():
        swhere = f"{where}.{section}"
        if not isinstance(values, dict):
            raise ConfigError(
                path, f"attendu une table [{swhere}], trouvé {toml_type(values)}.", key=swhere
            )
        defaults = DEFAULT_PARAMS[section]
        check_known(values, tuple(defaults), path, swhere)
        for key, value in values.items():
            name = f"{section}.{key}"
            default = defaults[key]
            kind = PARAM_KINDS.get(name) or (None if default is None else PY_KINDS[type(default)])
            if value is None or kind is None:  # TOML has no null; only a caller's dict
                continue
            if not is_kind(value, kind):
                raise ConfigError(
                    path,
                    f"attendu {KIND_NAMES[kind]}, trouvé {toml_type(value)}.",
                    key=f"{swhere}.{key}",
                )
            if name in PARAM_RANGES:
                low, high = PARAM_RANGES[name]
                strict = name in OPEN_RANGES
                below = value <= low if strict else value < low
                above = high is not None and (value >= high if strict else value > high)
                if below or above:
                    bounds = f"entre {low} et {high}" if high is not None else f"≥ {low}"
                    if strict:
                        bounds = f"strictement {bounds}"
                    raise ConfigError(
                        path,
                        f"attendu une valeur {bounds}, trouvé {value!r}.",
                        key=f"{swhere}.{key}",
                    )


def check_site_params(
    params: dict[str, Any], site_params: dict[str, Any], path: str, where: str
) -> None:
    """Checks that need a site's merged parameters (``params``): the ingestion dates, the
    hotspot section, the trend targets and windows. A key is named where it was set:
    in the site's ``[sites.params]`` (``site_params``, at ``where``) or at the top."""

    def key_of(section: str, key: str, *rest: str) -> str:
        set_here = key in site_params.get(section, {})
        return ".".join((f"{where}.params" if set_here else "params", section, key, *rest))

    ingest = params["ingest"]
    start, today = ingest.get("start_date"), ingest.get("today")
    as_date = {
        k: v if isinstance(v, date) else date.fromisoformat(v)
        for k, v in (("start_date", start), ("today", today))
        if v is not None
    }
    if len(as_date) == 2 and as_date["start_date"] > as_date["today"]:
        raise ConfigError(
            path,
            "la date de début est postérieure à « today » : aucun signalement ne serait gardé.",
            key=key_of("ingest", "start_date"),
        )
    try:
        HotspotParams.from_dict(params["hotspots"], path)
    except ConfigError as err:
        # HotspotParams names ``params.hotspots.<key>``; say where the key was set.
        parts = (err.key or "params.hotspots").split(".")
        raise ConfigError(path, err.message, key=key_of("hotspots", *(parts[2:] or ["?"]))) from err
    trends = params["trends"]
    for code, hours in (trends.get("targets_h") or {}).items():
        key = key_of("trends", "targets_h", code)
        if code not in CODES:
            raise ConfigError(path, f"catégorie inconnue ; codes : {', '.join(CODES)}.", key=key)
        if not is_kind(hours, "number") or not hours > 0:
            raise ConfigError(
                path, f"attendu un délai positif en heures, trouvé {toml_type(hours)}.", key=key
            )
    for name in ("compare_before", "compare_after"):
        window = trends.get(name)
        if window is None:
            continue
        if len(window) != 2 or not all(is_kind(v, "date") for v in window):
            raise ConfigError(
                path,
                "attendu [début, fin] : deux dates AAAA-MM-JJ (fin incluse).",
                key=key_of("trends", name),
            )
        first, last = (v if isinstance(v, date) else date.fromisoformat(v) for v in window)
        if last < first:
            raise ConfigError(path, "la fin précède le début.", key=key_of("trends", name))
