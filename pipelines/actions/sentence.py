"""The plain French sentence of a measured action (``effect_fr``,
:func:`effect_sentence`): the target's change and its 95 % interval in percentages,
the rest of the site's change over the same windows, and the verdict. Percentages and
intervals only, never the counts themselves (:mod:`pipelines.actions.effect` says why).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pipelines.fr import fr_date, fr_number


def _pct(x: float) -> str:
    """``40 %`` (a share given as a fraction, rounded to the unit)."""
    return "∞" if math.isinf(x) else f"{fr_number(100.0 * x)} %"


def _signed(x: float) -> str:
    """``+12 %``, ``-40 %`` (a change given as a fraction)."""
    if math.isinf(x):
        return "+∞"
    percent = round(100.0 * x)
    return "0 %" if percent == 0 else f"{fr_number(percent, sign=True)} %"


def _drop_ci(low: float, high: float) -> str:
    """An interval of a ratio below 1 as drops: « [IC 95 % : 10 %–60 %] »."""
    return f"[IC 95 % : {_pct(1.0 - high)}–{_pct(1.0 - low)}]"


def _rise_ci(low: float, high: float) -> str:
    """An interval of a ratio above 1 as rises: « [IC 95 % : 10 %–60 %] »."""
    return f"[IC 95 % : {_pct(low - 1.0)}–{_pct(high - 1.0)}]"


def _change(ratio: float, low: float, high: float) -> str:
    """A ratio and its interval as a change: « baisse de 40 % [IC 95 % : 10 %–60 %] »
    when the interval lies below 1, « hausse de … » above, else a signed change."""
    if math.isinf(ratio):
        return "apparition de signalements (aucun avant)"
    if high < 1.0:
        return f"baisse de {_pct(1.0 - ratio)} {_drop_ci(low, high)}"
    if low > 1.0:
        return f"hausse de {_pct(ratio - 1.0)} {_rise_ci(low, high)}"
    return (
        f"évolution de {_signed(ratio - 1.0)} "
        f"[IC 95 % : {_signed(low - 1.0)} à {_signed(high - 1.0)}]"
    )


def _rest_change(ratio: float) -> str:
    """« une baisse de 5 % », « une hausse de 12 % », « une évolution nulle »."""
    if math.isinf(ratio):
        return "une apparition de signalements"
    change = round(100.0 * (ratio - 1.0))
    if change < 0:
        return f"une baisse de {_pct(1.0 - ratio)}"
    if change > 0:
        return f"une hausse de {_pct(ratio - 1.0)}"
    return "une évolution nulle"


def effect_sentence(row: Mapping[str, Any], *, min_reports: int) -> str:
    """The plain French sentence of one measured action (``effect_fr``), from its row of
    :func:`pipelines.actions.effect.action_effects` (counts, ratios, intervals and
    verdict filled)."""
    window = f"{row['window_months']} mois avant et après le {fr_date(row['completed'])}"
    verdict = row["verdict"]
    if verdict == "trop peu de signalements":
        return (
            f"trop peu de signalements pour conclure (moins de {fr_number(min_reports)} "
            f"sur les {window})"
        )
    target = _change(row["rate_ratio"], row["rr_ci_low"], row["rr_ci_high"])
    rest_ratio = row["rest_rate_ratio"]
    if math.isnan(rest_ratio):
        return (
            f"pas d'effet démontré : {target} ({window}), sans comparaison possible avec "
            "le reste du site, où ces signalements manquent"
        )
    rest = f"contre {_rest_change(rest_ratio)} sur le reste du site"
    did, low, high = row["did_ratio"], row["did_ci_low"], row["did_ci_high"]
    if verdict == "baisse":
        net = f"une baisse nette de {_pct(1.0 - did)} {_drop_ci(low, high)}"
        return f"{target} {rest}, soit {net} ({window})"
    if verdict == "hausse":
        size = "" if math.isinf(did) else f" de {_pct(did - 1.0)}"
        net = f"une hausse nette{size} {_rise_ci(low, high)}"
        return f"{target} {rest}, soit {net} ({window})"
    net = "non calculable" if math.isnan(did) else f"{_signed(did - 1.0)}"
    return (
        f"pas d'effet démontré : {target} {rest} (écart net {net} "
        f"[IC 95 % : {_signed(low - 1.0)} à {_signed(high - 1.0)}], {window})"
    )
