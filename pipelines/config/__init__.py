"""The TOML configuration: sites, their sources and the parameters of every stage.

Relative paths in the file are resolved against the current working directory (the
project root, where ``make`` runs). The whole file is checked when it is loaded: unknown
keys (with the closest known one suggested), types, values and ranges, the study area,
and every input file (it exists, a glob matches, it is a regular file: a folder, a pipe
or a device is refused from its status alone, without opening it). Every problem is
reported as a :class:`ConfigError` naming the file and the key, never the content of a
data file. The keys allowed are those of :data:`DEFAULT_PARAMS` and of the dataclasses
of :mod:`pipelines.config.site`.

The modules, one concept each: ``site`` (the objects: :class:`SourceConfig`,
:class:`SiteConfig`, :class:`Config`), ``defaults`` (the stages' parameters: defaults,
kinds, ranges), ``params`` (their checks), ``settings`` (those parameters as one frozen
object per stage), ``hotspots`` and ``trends`` (the checked settings of those stages),
``values`` (reading TOML values), ``sources`` (a source table), ``files`` (the input
files and output folders) and ``load`` (:func:`load_config`). ``make`` writes the make
fragment.

Example
-------
::

    [[sites]]
    id = "bondy"
    name = "Bondy Nord"
    osm = "data/raw/bondy/bondy_nord.osm"

    [[sites.sources]]
    id = "ticketing"
    kind = "reports"
    path = "data/raw/bondy/signalements_*.csv"
    [sites.sources.columns]
    id = "N° ticket"
    date = "Date de création"
"""

from pipelines.config.coordinates import nonnumeric_coordinate, quiet_open_rings
from pipelines.config.defaults import DEFAULT_PARAMS, PARAM_KINDS, PARAM_RANGES
from pipelines.config.files import (
    INPUT_KINDS,
    check_inputs,
    check_portfolio_inputs,
    input_problem,
    site_inputs,
)
from pipelines.config.hotspots import HotspotParams
from pipelines.config.load import load_config
from pipelines.config.perimeter_layer import Perimeter
from pipelines.config.portfolio import PortfolioConfig, PortfolioSource
from pipelines.config.settings import (
    ActionSettings,
    GeocodeSettings,
    IngestSettings,
    MapSettings,
    SiteSettings,
    ZoneSettings,
    site_settings,
)
from pipelines.config.site import (
    COLUMN_ROLES,
    SOURCE_FORMATS,
    SOURCE_KINDS,
    Config,
    SiteConfig,
    SourceConfig,
)
from pipelines.config.trends import TrendSettings
from pipelines.config.values import site_id_problem

__all__ = [
    "COLUMN_ROLES",
    "DEFAULT_PARAMS",
    "INPUT_KINDS",
    "PARAM_KINDS",
    "PARAM_RANGES",
    "SOURCE_FORMATS",
    "SOURCE_KINDS",
    "ActionSettings",
    "Config",
    "GeocodeSettings",
    "HotspotParams",
    "IngestSettings",
    "MapSettings",
    "Perimeter",
    "PortfolioConfig",
    "PortfolioSource",
    "SiteConfig",
    "SiteSettings",
    "SourceConfig",
    "TrendSettings",
    "ZoneSettings",
    "check_inputs",
    "check_portfolio_inputs",
    "input_problem",
    "load_config",
    "nonnumeric_coordinate",
    "quiet_open_rings",
    "site_id_problem",
    "site_inputs",
    "site_settings",
]
