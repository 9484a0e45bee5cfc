"""Whether things got better after an action: the reports on its target before and after
it was carried out, against the rest of the site over the same windows (issue #17).

Method (the method note of the committee pack cites it)
-------------------------------------------------------
For an action carried out on day *c* and windows of *w* months:

- **Windows.** *before* = [c − w months, c) and *after* = [c, c + w months), calendar
  months (a few days longer or shorter, which the rates and ratios correct for: each
  count is divided by its window's length in days). Both must lie inside the data: from
  the first day of the month of the first counted report to ``period_end`` (included);
  otherwise the effect is « non mesurable », as it is for an action not carried out (no
  completion date) or without a building.
- **Counts.** On the target's buildings, the reports that count
  (:func:`pipelines.reports.counted`: residents' reports, not walkthrough observations,
  not likely duplicates, placed on a building) of the action's categories (all when it
  names none): *n_b* before, *n_a* after, and the distinct households that filed them
  (:func:`pipelines.reports.household_of`). Rates are per 100 dwellings over *w* months
  (of 30.44 days) when the dwellings of every target building are known, else per month.
- **Rate ratio.** RR = (n_a / T_a) / (n_b / T_b), T the windows' lengths in days. Its
  95 % interval is the exact conditional one for two Poisson counts: given
  N = n_a + n_b, n_a is binomial(N, p) with p = RR·T_a / (RR·T_a + T_b), so the exact
  (Clopper–Pearson) interval of p, mapped through (p / (1 − p))·(T_b / T_a), is the
  interval of RR (the method of R's ``poisson.test`` for two counts). Exact because the
  counts on one target are small (tens of reports) and can be zero, where a normal
  approximation is too narrow or undefined.
- **Rest of the site.** The same categories over the same windows on every other
  building, except those targeted by another action carried out during the two windows
  (its own effect would be taken for the site's trend): *r_b*, *r_a*, and their ratio.
  The **difference-in-differences ratio** DiD = RR_target / RR_rest is the odds ratio
  of the 2 × 2 table [[n_a, n_b], [r_a, r_b]]: given each row's total, the rows are two
  binomials whose odds ratio is exactly RR_target / RR_rest (the windows' lengths
  cancel). Its interval is the exact conditional one
  for that odds ratio (given all the margins, n_a follows Fisher's noncentral
  hypergeometric law; Cornfield's interval), from scipy. Chosen over the log-normal
  (Woolf) interval because that one is undefined when a count is zero, which is what a
  problem fixed for good gives (n_a = 0), and has no guaranteed coverage with the
  target's small counts; the exact one is defined for every table, covers at least
  95 % given the margins (computed exactly in the tests) and, as the rest of the site
  grows large, tends to the target's own exact interval divided by the rest's ratio.
  The reported ``did_ratio`` is the sample ratio RR_target / RR_rest.
- **Verdict.** Fewer than ``min_reports`` target reports over the two windows: « trop
  peu de signalements », never a verdict. Otherwise « baisse » (« hausse ») only when
  the DiD interval lies wholly below (above) 1: a drop that hit the whole site (a
  season, a new ticketing rule) is not the action's effect; else « pas d'effet
  démontré ».

The sentence for readers (``effect_fr``) gives percentages and intervals, never the
counts themselves: a count of one or two reports on a building can point at a household,
and the publication rules decide which counts may be shown.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from scipy.stats.contingency import odds_ratio

from pipelines.actions.sentence import effect_sentence
from pipelines.fr import fr_date
from pipelines.reports import counted, household_of, naive_dates

#: Level of every interval.
CONFIDENCE = 0.95
#: The verdicts, as the published table and the committee pack write them.
VERDICTS = (
    "baisse",
    "hausse",
    "pas d'effet démontré",
    "trop peu de signalements",
    "non mesurable",
)
#: The method in French, for the method note of the committee pack (the module docstring
#: in short; ``{window}`` and ``{min_reports}`` are the site's settings).
METHOD_NOTE_FR = (
    "Effet d'une action : sur les bâtiments qu'elle vise, les signalements de ses "
    "catégories (hors observations de terrain et doublons probables) sont comptés "
    "{window} mois avant et {window} mois après sa date de réalisation, les deux périodes "
    "devant être couvertes par les données. L'évolution est un rapport de taux, avec son "
    "intervalle de confiance à 95 % exact (méthode conditionnelle binomiale pour deux "
    "comptages de Poisson). Elle est comparée à celle du reste du site sur les mêmes "
    "périodes, hors bâtiments visés par une autre action réalisée pendant ces périodes "
    "(différence de différences : rapport des deux rapports, intervalle exact "
    "conditionnel de Fisher) : une baisse ou une hausse n'est annoncée que si cet "
    "intervalle exclut 1, de sorte qu'une baisse générale (saison, changement de "
    "pratique) n'est pas attribuée à l'action. En dessous de {min_reports} signalements "
    "sur les deux périodes, aucune conclusion n'est donnée."
)
#: The units of ``rate_before`` and ``rate_after``.
RATE_UNITS = ("pour 100 logements", "par mois")
#: The columns of :func:`action_effects`, in order (contract of issue #17, §2).
COLUMNS = (
    "action_id",
    "window_months",
    "before_start",
    "after_end",
    "n_before",
    "n_after",
    "n_households_before",
    "n_households_after",
    "rate_unit",
    "rate_before",
    "rate_after",
    "rate_ratio",
    "rr_ci_low",
    "rr_ci_high",
    "rest_n_before",
    "rest_n_after",
    "rest_rate_ratio",
    "did_ratio",
    "did_ci_low",
    "did_ci_high",
    "verdict",
    "effect_fr",
)
_COUNTS = (
    "n_before",
    "n_after",
    "n_households_before",
    "n_households_after",
    "rest_n_before",
    "rest_n_after",
)
_FLOATS = (
    "rate_before",
    "rate_after",
    "rate_ratio",
    "rr_ci_low",
    "rr_ci_high",
    "rest_rate_ratio",
    "did_ratio",
    "did_ci_low",
    "did_ci_high",
)
#: An average month, in days (the unit of the rates).
DAYS_PER_MONTH = 365.25 / 12


# ------------------------------------------------------------------------- intervals
def rate_ratio_ci(
    n_after: int,
    n_before: int,
    *,
    exposure_after: float = 1.0,
    exposure_before: float = 1.0,
) -> tuple[float, float]:
    """95 % interval of the ratio RR = (n_after / e_a) / (n_before / e_b) of two Poisson
    rates, e_a and e_b the exposures (``exposure_after``, ``exposure_before``: window
    lengths in any one unit).

    Exact conditional method: given ``N = n_after + n_before``, ``n_after`` is
    binomial(N, p) with p = RR·e_a / (RR·e_a + e_b); the exact (Clopper–Pearson)
    interval of that proportion, from :func:`scipy.stats.binomtest`, is mapped through
    ``(p / (1 − p))·(e_b / e_a)``.

    Returns
    -------
    (low, high)
        ``high`` is ``inf`` when ``n_before`` is 0; ``(nan, nan)`` when both are 0.
    """
    total = n_after + n_before
    if total == 0:
        return math.nan, math.nan
    ci = binomtest(n_after, total).proportion_ci(confidence_level=CONFIDENCE, method="exact")
    scale = exposure_before / exposure_after
    return _odds(ci.low) * scale, _odds(ci.high) * scale


def did_ratio_ci(
    n_after: int, n_before: int, rest_after: int, rest_before: int
) -> tuple[float, float]:
    """95 % interval of (n_after / n_before) / (rest_after / rest_before) for four
    Poisson counts (the lengths of the windows, shared by both rows, cancel).

    The ratio is the odds ratio of ``[[n_after, n_before], [rest_after, rest_before]]``;
    its exact conditional interval (Fisher's noncentral hypergeometric law, Cornfield)
    comes from :func:`scipy.stats.contingency.odds_ratio` with ``kind="conditional"``
    (see the module docstring for why this one).

    Returns
    -------
    (low, high)
        ``(0, inf)`` when a row or a column of the table is empty (nothing to compare).
    """
    table = [[n_after, n_before], [rest_after, rest_before]]
    ci = odds_ratio(table, kind="conditional").confidence_interval(confidence_level=CONFIDENCE)
    return float(ci.low), float(ci.high)


def _odds(p: float) -> float:
    return math.inf if p >= 1.0 else float(p / (1.0 - p))


def _ratio(after: float, before: float) -> float:
    if before == 0:
        return math.nan if after == 0 else math.inf
    return after / before


# ---------------------------------------------------------------------------- effects
def _counted_reports(reports: pd.DataFrame) -> pd.DataFrame:
    """The reports that count, placed and dated: building, time, category, household."""
    keep = counted(reports, on_building=True)
    table = pd.DataFrame(
        {
            "building_id": reports["building_id"].astype("string"),
            "at": naive_dates(reports["reported_at"]),
            "category": reports["category"].astype("string").fillna(""),
            "household": household_of(reports),
        },
        index=reports.index,
    )[keep]
    return table[table["at"].notna()].reset_index(drop=True)


def _day(value: Any) -> pd.Timestamp | None:
    """A date or time as a naive day (local French time), None when missing."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    stamp = naive_dates(pd.Series([value])).iloc[0]
    return None if pd.isna(stamp) else pd.Timestamp(stamp).normalize()


def _texts(value: Any) -> tuple[str, ...]:
    """Building ids or categories: a tuple as the contract gives it (a text separated by
    ``;`` or ``,`` is split too); missing → empty."""
    if value is None or (not isinstance(value, str | Iterable) and pd.isna(value)):
        return ()
    items = re.split(r"[;,]", value) if isinstance(value, str) else list(value)
    return tuple(dict.fromkeys(str(v).strip() for v in items if str(v).strip()))


def _dwellings(buildings: pd.DataFrame) -> dict[str, float]:
    """Known dwellings (> 0) per building id."""
    if "dwellings" not in buildings:
        return {}
    d = pd.to_numeric(buildings["dwellings"], errors="coerce")
    ids = buildings["building_id"].astype(str)
    return {b: float(v) for b, v in zip(ids, d, strict=True) if pd.notna(v) and v > 0}


def _unmeasurable(why: str) -> dict[str, str]:
    """The verdict and sentence of an effect that cannot be measured, and why."""
    return {"verdict": "non mesurable", "effect_fr": f"non mesurable : {why}"}


def _empty_row(action_id: Any, window_months: int) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(action_id=action_id, window_months=window_months)
    row.update(before_start=pd.NaT, after_end=pd.NaT)
    row.update(dict.fromkeys(_FLOATS, math.nan))
    return row


def _treated_during(
    days: Sequence[pd.Timestamp | None], targets: Sequence[tuple[str, ...]]
) -> Callable[[pd.Timestamp, pd.Timestamp], list[str]]:
    """The buildings targeted by an action carried out in [start, stop), as a function.

    Each action's rest of the site leaves out the buildings of the actions carried out
    during its windows. Looking through the whole register for each action grows with
    the square of its length (hours for 100,000 rows); here the completion days of each
    building are sorted once, and a building is treated during [start, stop) when one of
    them falls there: one binary search over every building at once
    (:func:`numpy.searchsorted` on the days keyed by building), so a call costs the
    number of buildings, not of actions. The action's own buildings may be among them:
    the caller leaves its target out of the rest anyway.
    """
    pairs = sorted(
        {(b, _day_number(day)) for day, ids in zip(days, targets, strict=True) if day for b in ids}
    )
    names = sorted({b for b, _ in pairs})
    code = {b: k for k, b in enumerate(names)}
    when = np.array([v for _, v in pairs], dtype=np.int64)
    low = int(when.min()) if len(when) else 0
    # (building, day) as one sortable integer: the building's rank, then the day.
    span = (int(when.max()) - low + 1) if len(when) else 1
    keys = np.array([code[b] for b, _ in pairs], dtype=np.int64) * span + (when - low)
    base = np.arange(len(names), dtype=np.int64) * span
    labels = np.array(names, dtype=object)

    def treated(start: pd.Timestamp, stop: pd.Timestamp) -> list[str]:
        first = base + np.clip(_day_number(start) - low, 0, span)
        last = base + np.clip(_day_number(stop) - low, 0, span)
        found = np.searchsorted(keys, last) > np.searchsorted(keys, first)
        return list(labels[found])

    return treated


def _among(codes: np.ndarray, labels: pd.Index, wanted: Iterable[str]) -> np.ndarray:
    """Whether each code (from :func:`pandas.factorize`: -1 for a missing value) is the
    code of one of ``wanted``: a lookup table indexed by the codes."""
    found = labels.get_indexer(pd.Index(list(wanted)))
    table = np.zeros(len(labels) + 1, dtype=bool)  # the last one for the code -1
    table[found[found >= 0]] = True
    return table[codes]


def _day_number(day: pd.Timestamp) -> int:
    """A day as a whole number of days since 1970 (days, not nanoseconds: the keys of
    :func:`_treated_during` multiply it by the number of buildings)."""
    return int(day.value // 86_400_000_000_000)


def action_effects(
    actions: pd.DataFrame,
    reports: pd.DataFrame,
    buildings: pd.DataFrame,
    *,
    window_months: int,
    period_end: pd.Timestamp,
    min_reports: int,
) -> pd.DataFrame:
    """The effect of each action on the reports of its target (method: module docstring).

    Pure: no I/O, inputs left unchanged.

    Parameters
    ----------
    actions
        One row per action: ``action_id``, ``building_ids`` (tuple of building ids; the
        target, zones and drawn areas already resolved to buildings), ``completed_date``
        (date, or NaT/None when not carried out) and ``categories`` (tuple of category
        codes; empty: every category).
    reports
        The reports (``pipelines`` reports table): ``building_id``, ``reported_at``,
        ``category`` (code) and ``household_key``; ``source_kind``, ``duplicate_of`` and
        ``report_id`` are used when present. Only those that count
        (:func:`pipelines.reports.counted`, on a building) are counted.
    buildings
        ``building_id`` and ``dwellings`` (may be null).
    window_months
        Length of each window, in months (≥ 1).
    period_end
        The last day of the data (included), e.g. the date of the export.
    min_reports
        Fewest target reports over both windows for a verdict (≥ 1).

    Returns
    -------
    DataFrame
        One row per action, in input order, with :data:`COLUMNS`: ``before_start`` (first
        day of the before window) and ``after_end`` (last day of the after window,
        included) as Timestamps; counts as nullable integers (missing when the effect
        is not measurable); rates, ratios and intervals as floats (``inf`` for an upper
        bound with nothing before); ``verdict`` one of :data:`VERDICTS`; ``effect_fr``
        one French sentence.
    """
    if window_months < 1:
        raise ValueError(f"window_months must be at least 1, got {window_months}")
    if min_reports < 1:
        raise ValueError(f"min_reports must be at least 1, got {min_reports}")
    table = _counted_reports(reports)
    data_start = _day(table["at"].min().to_period("M").to_timestamp()) if len(table) else None
    data_end = _day(period_end)
    dwellings = _dwellings(buildings)
    months = pd.DateOffset(months=window_months)
    at = table["at"].to_numpy()
    # Buildings and categories as integer codes: an action's reports are then a lookup,
    # not a comparison of texts (numpy.isin on texts costs milliseconds per action).
    building, buildings_seen = pd.factorize(table["building_id"])
    category, categories_seen = pd.factorize(table["category"])
    household = table["household"].to_numpy(dtype=object)

    records = actions.to_dict("records")
    days = [_day(a.get("completed_date")) for a in records]
    treated_during = _treated_during(days, [_texts(a.get("building_ids")) for a in records])
    # A register of thousands of actions shares few distinct counts and windows: each
    # exact interval (milliseconds of root finding in scipy) is computed once per run.
    rr_ci, did_ci = functools.cache(rate_ratio_ci), functools.cache(did_ratio_ci)
    rows: list[dict[str, Any]] = []
    for action, completed in zip(records, days, strict=True):
        row = _empty_row(action["action_id"], window_months)
        rows.append(row)
        targets = _texts(action.get("building_ids"))
        categories = _texts(action.get("categories"))
        if completed is None:
            row.update(_unmeasurable("action non réalisée (pas de date de réalisation)"))
            continue
        before_start, after_stop = completed - months, completed + months
        row.update(before_start=before_start, after_end=after_stop - pd.Timedelta(days=1))
        if not targets:
            row.update(_unmeasurable("aucun bâtiment ciblé"))
            continue
        if data_start is None or before_start < data_start:
            since = "" if data_start is None else f" (disponibles depuis le {fr_date(data_start)})"
            row.update(
                _unmeasurable(
                    f"les {window_months} mois avant la réalisation ({fr_date(completed)}) "
                    f"commencent avant les données{since}"
                )
            )
            continue
        if data_end is None or after_stop > data_end + pd.Timedelta(days=1):
            until = "" if data_end is None else f" (disponibles jusqu'au {fr_date(data_end)})"
            row.update(
                _unmeasurable(
                    f"les {window_months} mois après la réalisation ({fr_date(completed)}) "
                    f"dépassent les données{until}"
                )
            )
            continue

        relevant = _among(category, categories_seen, categories) if categories else True
        on_target = _among(building, buildings_seen, targets)
        # The rest of the site: the buildings no other action carried out during the
        # windows targets (another action's effect is no comparison).
        rest = ~on_target & ~_among(
            building, buildings_seen, treated_during(before_start, after_stop)
        )
        before = relevant & (at >= before_start.to_datetime64()) & (at < completed.to_datetime64())
        after = relevant & (at >= completed.to_datetime64()) & (at < after_stop.to_datetime64())
        n_b, n_a = int((before & on_target).sum()), int((after & on_target).sum())
        r_b, r_a = int((before & rest).sum()), int((after & rest).sum())
        # Each count over its window's length in average months.
        t_b = (completed - before_start).days / DAYS_PER_MONTH
        t_a = (after_stop - completed).days / DAYS_PER_MONTH
        known = [dwellings.get(b) for b in targets]
        if all(d is not None for d in known):
            dwell = sum(d for d in known if d is not None)
            unit, per = RATE_UNITS[0], window_months * 100.0 / dwell
        else:
            unit, per = RATE_UNITS[1], 1.0
        rr_low, rr_high = rr_ci(n_a, n_b, exposure_after=t_a, exposure_before=t_b)
        did_low, did_high = did_ci(n_a, n_b, r_a, r_b)
        rate_ratio = _ratio(n_a * t_b, n_b * t_a)
        rest_ratio = _ratio(r_a * t_b, r_b * t_a)
        row.update(
            n_before=n_b,
            n_after=n_a,
            n_households_before=len(set(household[before & on_target])),
            n_households_after=len(set(household[after & on_target])),
            rate_unit=unit,
            rate_before=n_b / t_b * per,
            rate_after=n_a / t_a * per,
            rate_ratio=rate_ratio,
            rr_ci_low=rr_low,
            rr_ci_high=rr_high,
            rest_n_before=r_b,
            rest_n_after=r_a,
            rest_rate_ratio=rest_ratio,
            # The sample odds ratio of the 2 × 2 table: RR_target / RR_rest.
            did_ratio=_ratio(n_a * r_b, n_b * r_a),
            did_ci_low=did_low,
            did_ci_high=did_high,
        )
        if n_b + n_a < min_reports:
            verdict = "trop peu de signalements"
        elif did_high < 1.0:
            verdict = "baisse"
        elif did_low > 1.0:
            verdict = "hausse"
        else:
            verdict = "pas d'effet démontré"
        row["verdict"] = verdict
        row["effect_fr"] = effect_sentence({**row, "completed": completed}, min_reports=min_reports)

    out = pd.DataFrame(rows, columns=list(COLUMNS))
    for column in _COUNTS:
        out[column] = out[column].astype("Int64")
    for column in _FLOATS:
        out[column] = out[column].astype(float)
    for column in ("before_start", "after_end"):
        out[column] = pd.to_datetime(out[column])
    out["window_months"] = out["window_months"].astype(int)
    return out
