"""The cells of linked count tables and their primary suppression: the rule a profile
applies (:class:`DisclosureRule`, :data:`COMITE`, :data:`PUBLIC`), the flags and reasons
written in the tables, every non-zero cell of every table with its counts and primary
status (:func:`cell_table`), the tables as a reader sees them (:func:`table_frames`,
rounded by :func:`round_half_up`) and a naive publication with primary suppression alone
(:func:`primary_suppression`). Secondary suppression and the audit, which build on
these, are :mod:`pipelines.stats.disclosure`'s; its conventions hold here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from pipelines.stats.system import Table

#: Flags and reasons written in the output tables.
FLAG_SHOWN = ""
FLAG_HIDDEN = "s"
REASON_PRIMARY = "primary"
REASON_DOMINANCE = "dominance"
REASON_SECONDARY = "secondary"
REASONS = (REASON_PRIMARY, REASON_DOMINANCE, REASON_SECONDARY)
#: The reason of a ``given`` cell hidden because no file publishes it (a grouping the
#: tables need, such as the buildings outside every zone): it protects no cell, so a
#: total whose only hidden term it is needs nothing hidden for it (the LPs still judge).
REASON_UNPUBLISHED = "unpublished"

#: Column names the microdata must carry besides the dimensions.
HOUSEHOLD = "household"
PERSON_RELATED = "person_related"


@dataclass(frozen=True)
class DisclosureRule:
    """The rule a profile applies.

    Parameters
    ----------
    min_households
        A sensitive cell from 1 to ``min_households − 1`` distinct households is
        hidden (3 for ``comite``, 11 for ``public``).
    dominance_share
        A sensitive cell where one household makes at least this share of the reports
        is hidden (0.85). ``None`` or ≥ 1 switches the rule off… except for 1.0 itself,
        which hides cells made by a single household (already caught by the size rule).
    all_sensitive
        Every cell is sensitive, not only those holding a person-related report
        (``public``).
    dominance_all_cells
        Apply the dominance rule to every non-zero cell, technical ones included. Off by
        default: the issue shows technical categories exactly in ``comite``.
    protection_width
        Width (in reports) the attacker's interval on a hidden sensitive cell must
        reach; ``None`` means ``min_households``.
    round_base
        Shown counts are rounded to a multiple of this (half up); 1 leaves them exact.
    technical
        Values of ``category_dim`` shown exactly (``comite``'s technical categories): the
        secondary suppression hides a cell of one of them (a cell of a table that has
        ``category_dim``) only where no other cell would do (:func:`cost`), and says why
        (``technical_hidden`` of the result). Empty: no category is preferred.
    category_dim
        The dimension whose values ``technical`` names.
    """

    min_households: int = 3
    dominance_share: float | None = 0.85
    all_sensitive: bool = False
    dominance_all_cells: bool = False
    protection_width: float | None = None
    round_base: int = 1
    technical: frozenset[str] = frozenset()
    category_dim: str = "category"

    def __post_init__(self) -> None:
        if self.min_households < 1:
            raise ValueError(f"min_households doit être ≥ 1 (reçu {self.min_households}).")
        if self.dominance_share is not None and not 0 < self.dominance_share <= 1:
            raise ValueError(
                f"dominance_share doit être dans ]0, 1] (reçu {self.dominance_share})."
            )
        if self.round_base < 1:
            raise ValueError(f"round_base doit être ≥ 1 (reçu {self.round_base}).")
        if self.protection_width is not None and self.protection_width < 0:
            raise ValueError(f"protection_width doit être ≥ 0 (reçu {self.protection_width}).")

    @property
    def width(self) -> float:
        """The protection width actually required, in reports."""
        return float(
            self.min_households if self.protection_width is None else self.protection_width
        )


#: The issue's defaults for the two protected profiles (``interne`` applies no rule).
COMITE = DisclosureRule(min_households=3, dominance_share=0.85)
PUBLIC = DisclosureRule(min_households=11, dominance_share=0.85, all_sensitive=True, round_base=5)


# ---------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------


def check_input(reports: pd.DataFrame, tables: Sequence[Table]) -> list[str]:
    """The dimensions in first-seen order; refuse missing columns or values."""
    if not tables:
        raise ValueError("Aucun tableau à protéger : la liste des tableaux est vide.")
    dims: list[str] = []
    for t in tables:
        for d in t:
            if d not in dims:
                dims.append(d)
    missing = [c for c in [*dims, HOUSEHOLD, PERSON_RELATED] if c not in reports.columns]
    if missing:
        raise ValueError(f"Colonnes absentes des signalements : {', '.join(missing)}.")
    for c in [*dims, HOUSEHOLD]:
        if reports[c].isna().any():
            raise ValueError(
                f"La colonne {c!r} a des valeurs manquantes : donnez-leur un niveau explicite."
            )
    if len(set(map(tuple, tables))) != len(tables):
        raise ValueError("Un même tableau est demandé deux fois.")
    return dims


def cell_table(
    reports: pd.DataFrame, tables: Sequence[Table], rule: DisclosureRule
) -> pd.DataFrame:
    """Every non-zero cell of every table, with its counts and primary status.

    Columns: ``table`` (index in ``tables``), ``cell`` (global id), the table's
    dimensions (others NaN), ``n_reports``, ``n_households``, ``top_share``,
    ``sensitive``, ``reason`` (primary reason or ``""``).
    """
    frames = []
    data = reports.assign(_one=1)
    # Each dimension and the household coded once (sorted, as a groupby sorts), each
    # table counted on the codes: 0.35 s less than a groupby per table on a bench site
    # (25,000 reports, the publication step's five cell tables).
    coded = {d: _coded(reports[d]) for t in tables for d in t}
    household = pd.factorize(reports[HOUSEHOLD])[0]
    person = reports[PERSON_RELATED].to_numpy(dtype=bool)
    for i, t in enumerate(tables):
        keys = list(t)
        if keys:
            at, counts = _counts(
                [coded[d][0] for d in keys], [len(coded[d][1]) for d in keys], household, person
            )
            cells = pd.DataFrame({d: coded[d][1].take(at[j]) for j, d in enumerate(keys)})
            cells = cells.assign(**counts)
        else:
            cells = pd.DataFrame(
                {
                    "n_reports": [len(data)],
                    "n_households": [data[HOUSEHOLD].nunique()],
                    "any_person": [bool(data[PERSON_RELATED].any())],
                    "top": [int(data[HOUSEHOLD].value_counts().max()) if len(data) else 0],
                }
            )
        cells = cells[cells["n_reports"] > 0]
        cells.insert(0, "table", i)
        frames.append(cells)
    out = pd.concat(frames, ignore_index=True)
    out.insert(1, "cell", np.arange(len(out)))
    out["top_share"] = out["top"] / out["n_reports"]
    sensitive = out["any_person"].astype(bool) | rule.all_sensitive
    out["sensitive"] = sensitive
    small = sensitive & (out["n_households"] < rule.min_households)
    dominated = pd.Series(False, index=out.index)
    if rule.dominance_share is not None:
        scope = pd.Series(True, index=out.index) if rule.dominance_all_cells else sensitive
        dominated = scope & (out["top_share"] >= rule.dominance_share - 1e-12) & ~small
    out["reason"] = np.where(small, REASON_PRIMARY, np.where(dominated, REASON_DOMINANCE, ""))
    # A dominance cell is protected like a sensitive one, even when technical.
    out["sensitive"] = sensitive | dominated
    return out.drop(columns=["any_person", "top"])


def _coded(values: pd.Series) -> tuple[npt.NDArray[np.intp], pd.Index]:
    """``values``' codes and sorted values, of the dtype a groupby gives its keys
    (text held as objects is read as text)."""
    codes, uniques = pd.factorize(values, sort=True)
    if uniques.dtype == object:
        uniques = pd.Index(uniques.to_numpy())
    return codes, uniques


def _counts(
    codes: Sequence[npt.NDArray[np.intp]],
    sizes: Sequence[int],
    household: npt.NDArray[np.intp],
    person: npt.NDArray[np.bool_],
) -> tuple[tuple[npt.NDArray[np.intp], ...], dict[str, npt.NDArray[Any]]]:
    """The non-zero cells of one table from its dimensions' codes (``sizes`` values
    each), sorted by them: each dimension's code per cell, and per cell ``n_reports``,
    ``n_households``, ``any_person`` and ``top`` (the reports of its largest
    household)."""
    key = np.ravel_multi_index(list(codes), list(sizes)) if len(household) else household
    cell, inverse = np.unique(key, return_inverse=True)
    n_households_all = int(household.max()) + 1 if len(household) else 1
    pair, pair_of = np.unique(inverse * n_households_all + household, return_inverse=True)
    pair_cell = pair // n_households_all
    top = np.zeros(len(cell), dtype=np.int64)
    np.maximum.at(top, pair_cell, np.bincount(pair_of, minlength=len(pair)))
    return np.unravel_index(cell, list(sizes)), {
        "n_reports": np.bincount(inverse, minlength=len(cell)).astype(np.int64),
        "n_households": np.bincount(pair_cell, minlength=len(cell)).astype(np.int64),
        "any_person": np.bincount(inverse, weights=person, minlength=len(cell)) > 0,
        "top": top,
    }


# ---------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------


def round_half_up(x: pd.Series, base: int) -> pd.Series:
    """``x`` rounded half up to a multiple of ``base`` (``Int64``, missing kept), as the
    engine rounds the counts it shows; ``x`` as it is when ``base`` ≤ 1."""
    if base <= 1:
        return x
    return (np.floor(x / base + 0.5) * base).astype("Int64")


def table_frames(
    cells: pd.DataFrame,
    tables: Sequence[Table],
    rule: DisclosureRule,
    *,
    hidden: npt.NDArray[np.bool_] | None = None,
) -> dict[Table, pd.DataFrame]:
    """Per table, its cells as the reader sees them (hidden values set to NA): those
    with a reason, or the ``hidden`` ones when given (their ``reason`` kept as it is)."""
    out: dict[Table, pd.DataFrame] = {}
    hidden = (cells["reason"] != "").to_numpy() if hidden is None else hidden
    # every cell's shown counts at once, then cut per table (0.05 s -> 0.02 s per call on
    # a bench site's ten tables)
    shown = {
        col: round_half_up(cells[col].astype("Int64"), rule.round_base)
        .astype("Int64")
        .mask(hidden)
        .reset_index(drop=True)
        for col in ("n_reports", "n_households")
    }
    table = cells["table"].to_numpy()
    reason = cells["reason"].to_numpy()
    for i, t in enumerate(tables):
        sel = table == i
        df = cells.loc[sel, list(t)].reset_index(drop=True)
        for col, values in shown.items():
            df[col] = values[sel].reset_index(drop=True)
        df["flag"] = np.where(hidden[sel], FLAG_HIDDEN, FLAG_SHOWN)
        df["reason"] = reason[sel]
        out[tuple(t)] = df
    return out


def primary_suppression(
    reports: pd.DataFrame, tables: Sequence[Table], *, rule: DisclosureRule = COMITE
) -> dict[Table, pd.DataFrame]:
    """The tables with primary suppression only (no secondary): a naive publication.

    Useful to show what the audit catches; publish with :func:`protect`.
    """
    tables = [tuple(t) for t in tables]
    check_input(reports, tables)
    return table_frames(cell_table(reports, tables, rule), tables, rule)


def technical_cells(
    cells: pd.DataFrame, tables: Sequence[Table], rule: DisclosureRule
) -> npt.NDArray[np.bool_]:
    """Per cell of :func:`cell_table`: a cell of a category the rule shows exactly (its
    table has ``rule.category_dim`` and its value is in ``rule.technical``). Margins
    (tables without the category) are never technical: a building or a month total is
    the cheaper thing to hide."""
    out = np.zeros(len(cells), dtype=bool)
    if not rule.technical:
        return out
    for i, t in enumerate(tables):
        if rule.category_dim in t:
            sel = (cells["table"] == i).to_numpy()
            out[sel] = cells.loc[sel, rule.category_dim].isin(rule.technical).to_numpy()
    return out


def on_cells(cells: pd.DataFrame, published: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``cells`` (``[*keys, "cell"]``) left-joined 1:1 with the ``published`` rows of the
    same keys (the other columns of ``published`` beside them, null where unlisted).

    A key column takes the other side's dtype when it is empty: a table with no row
    (a site without reports) has no values to tell text from numbers, and pandas gives
    an empty list the float dtype, which it then refuses to join with text."""
    published = published.copy()
    cells = cells.copy()
    for key in keys:
        if cells[key].dtype == published[key].dtype:
            continue
        if published.empty:
            published[key] = published[key].astype(cells[key].dtype)
        elif cells.empty:
            cells[key] = cells[key].astype(published[key].dtype)
    return cells.merge(published, on=keys, how="left", validate="1:1")
