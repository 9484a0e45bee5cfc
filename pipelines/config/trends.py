"""The parameters of the trends stage (``[params.trends]``), checked.

Defaults are :data:`pipelines.config.defaults.DEFAULT_PARAMS`; every bad value raises a
:class:`~pipelines.errors.ConfigError` naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from pipelines.config.defaults import DEFAULT_PARAMS
from pipelines.config.values import toml_type
from pipelines.errors import ConfigError
from pipelines.taxonomy import CODES

#: The periods of the trend series: months, weeks (Monday to Sunday) or quarters.
TREND_FREQS = ("M", "W", "Q")
# pandas' names for month and quarter ends and starts, accepted for M and Q (the same
# mapping as ``pipelines.stats.period_freq``, restricted to the periods above).
_FREQ_ALIASES = {"ME": "M", "MS": "M", "QE": "Q", "QS": "Q"}


def _as_date(value: Any) -> date:
    """A date given as a date or as ISO text; ValueError or TypeError otherwise."""
    if isinstance(value, datetime):
        raise TypeError(value)
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise TypeError(value)
    return date.fromisoformat(value)


@dataclass(frozen=True)
class TrendSettings:
    """The ``[params.trends]`` section, checked (defaults: ``DEFAULT_PARAMS["trends"]``)."""

    freq: str  # M (months), W (weeks, Monday to Sunday) or Q (quarters)
    start: date | None  # in the first period; None: the first report's
    end: date | None  # in the last period; None: the last report's
    alpha: float  # two-sided level of the Mann-Kendall tests
    time_window: int  # previous periods added to each space-time Gi* neighbourhood
    min_level: int  # FDR bin counted as hot/cold: 1 (90 %), 2 (95 %), 3 (99 %)
    compare_months: int  # before/after: the last N months against the N before
    compare_before: tuple[date, date] | None  # [start, end], end included; None: months
    compare_after: tuple[date, date] | None
    targets_h: Mapping[str, float]  # closing targets per category, hours
    as_of: date | None  # date of the export; None: the latest report or closure time
    top_buildings: int  # buildings drawn in the small multiples

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], path: str = "configuration") -> TrendSettings:
        """Check and convert the parameters (defaults fill what is not set); a bad value
        raises :class:`ConfigError` naming ``params.trends.<key>``."""
        params = {**DEFAULT_PARAMS["trends"], **dict(raw)}

        def bad(key: str, what: str) -> ConfigError:
            return ConfigError(path, what, key=f"params.trends.{key}")

        unknown = sorted(set(params) - set(cls.__dataclass_fields__))
        if unknown:
            known = ", ".join(sorted(cls.__dataclass_fields__))
            raise bad(unknown[0], f"paramètre inconnu ; possibles : {known}.")
        text = str(params["freq"])
        freq = _FREQ_ALIASES.get(text.upper(), text)
        if freq not in TREND_FREQS:
            raise bad(
                "freq", f"« {params['freq']} » : attendu M (mois), W (semaine) ou Q (trimestre)."
            )
        for key, low in (("time_window", 0), ("compare_months", 1), ("top_buildings", 1)):
            value = params[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise bad(key, f"attendu un entier ≥ {low}, reçu {value!r}.")
        if params["min_level"] not in (1, 2, 3):
            raise bad("min_level", "attendu 1 (90 %), 2 (95 %) ou 3 (99 %).")
        alpha = params["alpha"]
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
            raise bad("alpha", f"attendu un niveau entre 0 et 1, reçu {alpha!r}.")
        targets = params["targets_h"] or {}
        if not isinstance(targets, Mapping):
            raise bad("targets_h", "attendu une table catégorie = heures.")
        for code, hours in targets.items():
            if code not in CODES:
                raise bad(f"targets_h.{code}", f"catégorie inconnue ; codes : {', '.join(CODES)}.")
            if isinstance(hours, bool) or not isinstance(hours, int | float) or not hours > 0:
                raise bad(
                    f"targets_h.{code}",
                    f"attendu un délai positif en heures, trouvé {toml_type(hours)}.",
                )
        dates: dict[str, date | None] = {}
        for key in ("start", "end", "as_of"):
            try:
                dates[key] = None if params[key] is None else _as_date(params[key])
            except (ValueError, TypeError) as err:
                raise bad(key, f"date illisible {params[key]!r} (attendu AAAA-MM-JJ).") from err
        windows: dict[str, tuple[date, date] | None] = {}
        for key in ("compare_before", "compare_after"):
            window = params[key]
            if window is None:
                windows[key] = None
                continue
            try:
                if not isinstance(window, list | tuple) or len(window) != 2:
                    raise ValueError
                first, last = _as_date(window[0]), _as_date(window[1])
            except (ValueError, TypeError) as err:
                raise bad(
                    key, "attendu [début, fin] : deux dates AAAA-MM-JJ (fin incluse)."
                ) from err
            if last < first:
                raise bad(key, "la fin précède le début.")
            windows[key] = (first, last)
        return cls(
            freq=freq,
            start=dates["start"],
            end=dates["end"],
            alpha=float(alpha),
            time_window=params["time_window"],
            min_level=params["min_level"],
            compare_months=params["compare_months"],
            compare_before=windows["compare_before"],
            compare_after=windows["compare_after"],
            targets_h=MappingProxyType({str(k): float(v) for k, v in targets.items()}),
            as_of=dates["as_of"],
            top_buildings=params["top_buildings"],
        )
