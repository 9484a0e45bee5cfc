"""The committee pack's key figures (:func:`key_figures`): the published table
``key_figures`` by category group, since the last committee beside the months of the same
length before it (:func:`key_window`), each cell as published (« s » where hidden) and
its change in words. Nothing is added up here. :mod:`pipelines.maps.pack` lays them out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pipelines.fr import fr_date, fr_month, fr_number
from pipelines.maps.actions import as_date
from pipelines.maps.html import as_number
from pipelines.maps.pack_actions import _first
from pipelines.published import (
    KEY_AFTER,
    KEY_BEFORE,
    hidden,
)

#: How the pack writes a hidden count (the tables' « s », secret statistique).
SECRET = "s"


@dataclass(frozen=True)
class Window:
    """The months the key figures cover, and the same number just before them.

    Attributes
    ----------
    after, before
        Month starts (naive timestamps), oldest first.
    label
        The window in words (« depuis le comité du 14/10/2025 : d'oct. 2025 à déc. 2025 »).
    committee
        The last committee's date, or ``None`` (the last months instead).
    """

    after: list[pd.Timestamp]
    before: list[pd.Timestamp]
    label: str
    committee: pd.Timestamp | None = None


def _span(starts: Sequence[pd.Timestamp]) -> str:
    first, last = pd.Period(starts[0], "M"), pd.Period(starts[-1], "M")
    return fr_month(first) if first == last else f"de {fr_month(first)} à {fr_month(last)}"


def key_window(block: object) -> Window | None:
    """The key figures' window as the publication step chose it (``site.json``'s
    ``key_window``: months ``YYYY-MM`` ``after`` and ``before``, the ``committee`` date,
    ``fallback_months``); ``None`` without it."""
    if not isinstance(block, Mapping):
        return None
    after = [pd.Timestamp(str(m)) for m in block.get("after") or []]
    before = [pd.Timestamp(str(m)) for m in block.get("before") or []]
    committee = as_date(block.get("committee"))
    if committee is not None:
        lead = f"depuis le comité du {fr_date(committee)}"
    else:
        n = int(block.get("fallback_months") or len(after))
        lead = f"sur les {n} derniers mois (pas de comité enregistré)"
    if not after:
        return Window([], [], f"{lead} : aucune donnée depuis", committee)
    return Window(after, before, f"{lead} : {_span(after)}", committee)


def _cell(table: pd.DataFrame, window: str, group: object) -> int | None:
    """A published cell of the key figures; ``None`` when hidden, 0 when absent (the
    tables list the cells holding at least one report)."""
    rows = table[table["window"] == window]
    rows = rows[rows["group"].isna()] if group is None else rows[rows["group"] == group]
    if rows.empty:
        return 0
    if bool(hidden(rows, "n_reports").iloc[0]):
        return None
    value = as_number(rows["n_reports"].iloc[0])
    return None if value is None else int(value)


def _count_text(value: int | None) -> str:
    return SECRET if value is None else fr_number(value)


def _change_text(before: int | None, after: int | None) -> str:
    if before is None or after is None:
        return SECRET
    if before == 0:
        return "—" if after == 0 else "nouveau"
    return f"{fr_number(100 * (after - before) / before, sign=True)} %"


def key_figures(table: pd.DataFrame | None, window: Window | None) -> dict[str, Any]:
    """Reports per category group since the last committee and over the months before it,
    and the site's total, as the published table ``key_figures`` gives them (« s »
    where a cell is hidden; nothing is added up here)."""
    if table is None or window is None or not window.after:
        return {"rows": [], "total": None, "label": window.label if window else ""}
    keyed: list[tuple[tuple[bool, int, str], dict[str, str]]] = []
    groups = sorted({str(g) for g in table["group"].dropna()})
    for group in groups:
        after = _cell(table, KEY_AFTER, group)
        before = _cell(table, KEY_BEFORE, group) if window.before else None
        if after == 0 and before in (0, None) and window.before:
            continue  # no report in either window
        row = {
            "label": group,
            "before": _count_text(before) if window.before else "—",
            "after": _count_text(after),
            "change": _change_text(before, after) if window.before else "—",
        }
        keyed.append(((after is None, -(after or 0), group), row))
    rows = [row for _, row in sorted(keyed, key=_first)]
    after = _cell(table, KEY_AFTER, None)
    before = _cell(table, KEY_BEFORE, None) if window.before else None
    return {
        "rows": rows,
        "total": {
            "before": _count_text(before) if window.before else "—",
            "after": _count_text(after),
            "change": _change_text(before, after) if window.before else "—",
        },
        "label": window.label,
        "n_periods": len(window.after),
        "before_words": (
            "au mois précédent"
            if len(window.after) == 1
            else f"aux {len(window.after)} mois précédents"
        ),
        "before_label": _span(window.before) if window.before else "aucune période avant",
    }
