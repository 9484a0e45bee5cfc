"""A site's parameters as one frozen, typed settings object per stage, built once when
the site is made (:attr:`pipelines.config.SiteConfig.settings`); the hotspot and trend
stages' own are in :mod:`pipelines.config.hotspots` and :mod:`pipelines.config.trends`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from pipelines.config.actions import ActionSettings
from pipelines.config.defaults import DEFAULT_PARAMS
from pipelines.config.hotspots import HotspotParams
from pipelines.config.trends import TrendSettings
from pipelines.config.values import merge_tables


@dataclass(frozen=True)
class IngestSettings:
    """``[params.ingest]``, checked and typed."""

    start_date: date
    today: date | None  # None: the day of the run
    duplicate_distance_m: float
    duplicate_window_h: float


@dataclass(frozen=True)
class GeocodeSettings:
    """``[params.geocode]``, checked and typed."""

    tolerance_m: float
    disagreement_m: float
    fuzzy_threshold: float
    ban_online: bool
    ban_timeout_s: float
    placeholder_min_reports: int
    placeholder_min_addresses: int


@dataclass(frozen=True)
class MapSettings:
    """``[params.maps]``, checked and typed (the defaults, for maps drawn outside a
    configuration, are those of :data:`DEFAULT_PARAMS`).

    Attributes
    ----------
    online_tiles
        Add OpenStreetMap and Plan IGN web tiles as optional layers (off by default: the
        map then needs the network for those layers only).
    max_report_points
        Above this many report points, markers are aggregated per building and category.
    """

    online_tiles: bool = DEFAULT_PARAMS["maps"]["online_tiles"]
    max_report_points: int = DEFAULT_PARAMS["maps"]["max_report_points"]


@dataclass(frozen=True)
class ZoneSettings:
    """``[params.zones]``, checked and typed."""

    min_bin: int
    gap_m: float
    min_reports: int


@dataclass(frozen=True)
class SiteSettings:
    """A site's parameters, one frozen object per stage, built from ``SiteConfig.params``
    (already checked by :func:`load_config`)."""

    ingest: IngestSettings
    geocode: GeocodeSettings
    hotspots: HotspotParams
    maps: MapSettings
    zones: ZoneSettings
    trends: TrendSettings
    actions: ActionSettings


def _typed(cls: type, values: Mapping[str, Any]) -> Any:
    """An instance of the settings dataclass ``cls`` from checked ``values``: dates
    written as text become dates, integers given for decimals become floats."""
    out: dict[str, Any] = {}
    for f in fields(cls):
        value = values[f.name]
        kind = str(f.type)
        if kind.startswith("date") and isinstance(value, str):
            value = date.fromisoformat(value)
        elif kind == "float" and value is not None:
            value = float(value)
        out[f.name] = value
    return cls(**out)


def site_settings(params: Mapping[str, Mapping[str, Any]]) -> SiteSettings:
    """The frozen settings of a site's ``params`` (defaults fill what is not set)."""
    merged = merge_tables(DEFAULT_PARAMS, {k: dict(v) for k, v in params.items()})
    return SiteSettings(
        ingest=_typed(IngestSettings, merged["ingest"]),
        geocode=_typed(GeocodeSettings, merged["geocode"]),
        hotspots=HotspotParams.from_dict(merged["hotspots"]),
        maps=_typed(MapSettings, merged["maps"]),
        zones=_typed(ZoneSettings, merged["zones"]),
        trends=TrendSettings.from_dict(merged["trends"]),
        actions=ActionSettings.from_dict(merged["actions"]),
    )
