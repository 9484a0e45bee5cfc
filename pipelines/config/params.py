"""The checks of a ``[params]`` table (top level or a site's) against the defaults,
kinds and ranges of :mod:`pipelines.config.defaults`."""

from __future__ import annotations

from datetime import date
from typing import Any

from pipelines.config.actions import ActionSettings
from pipelines.config.defaults import DEFAULT_PARAMS, OPEN_RANGES, PARAM_KINDS, PARAM_RANGES
from pipelines.config.hotspots import HotspotParams
from pipelines.config.trends import TrendSettings
from pipelines.config.values import KIND_NAMES, PY_KINDS, check_known, is_kind, toml_type
from pipelines.errors import ConfigError


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
    hotspot, trend and action sections (their settings classes check them). A key is named
    where it was set: in the site's ``[sites.params]`` (``site_params``, at ``where``) or
    at the top."""

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
    try:
        TrendSettings.from_dict(params["trends"], path)
    except ConfigError as err:
        parts = (err.key or "params.trends").split(".")
        raise ConfigError(path, err.message, key=key_of("trends", *(parts[2:] or ["?"]))) from err
    try:
        ActionSettings.from_dict(params["actions"], path)
    except ConfigError as err:
        parts = (err.key or "params.actions").split(".")
        # partners[3]: the key set is "partners", the message names the item.
        key = key_of("actions", parts[2].split("[")[0] if len(parts) > 2 else "?")
        item = parts[2][len(parts[2].split("[")[0]) :] if len(parts) > 2 else ""
        raise ConfigError(path, err.message, key=key + item) from err
