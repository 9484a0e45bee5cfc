"""The simulated action register as an analyst keeps it (:func:`register_rows`, ids by
:func:`action_ids`) and its truth (:func:`action_truth`): which actions had a problem
and an effect planted, and the counts expected on their targets before and after.

Private plumbing of :mod:`pipelines.simulate.stage`; the actions are planned in
:mod:`pipelines.simulate.actions`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely

from pipelines.published import CLOSED_STATUSES
from pipelines.simulate.actions import (
    EFFECT_WINDOW_MONTHS,
    REGISTER_COLUMNS,
    REGISTER_FILE,
    PlannedAction,
    monthly_extra,
)
from pipelines.simulate.patterns import _Calendar, _category_probs, _month_weights
from pipelines.simulate.rows import _Geo
from pipelines.taxonomy import BY_CODE, CODES


# ---------------------------------------------------------------------------- truth
def _in_window(
    cal: _Calendar, monthly: np.ndarray, start: pd.Timestamp, stop: pd.Timestamp
) -> float:
    """Expected count in [start, stop) of a process uniform within each month."""
    total = 0.0
    for m in range(cal.months):
        lo, hi = max(cal.bounds[m], start), min(cal.bounds[m + 1], stop)
        if hi > lo:
            total += monthly[m] * (hi - lo) / (cal.bounds[m + 1] - cal.bounds[m])
    return float(total)


def _background(
    action: PlannedAction,
    prof: pd.DataFrame,
    cal: _Calendar,
    n_background: int,
    pattern: bool,
) -> np.ndarray:
    """The expected background reports a month on the target, in its categories."""
    exposure = prof["exposure"].to_numpy()
    share = exposure / exposure.sum()
    tall = prof["is_tall"].to_numpy()
    codes = action.spec.categories or CODES
    out = np.zeros(cal.months)
    for pos in action.group:
        cats, p = _category_probs(bool(tall[pos]), False)
        for code in codes:
            if code in cats:
                weight = _month_weights(cal, code, pattern)
                out += n_background * share[pos] * p[cats.index(code)] * weight
    return out


def action_truth(
    actions: list[PlannedAction],
    action_ids: list[str],
    ids: np.ndarray,
    prof: pd.DataFrame,
    cal: _Calendar,
    n_background: int,
    *,
    pattern: bool,
) -> dict[str, Any]:
    """The register's truth: per action its target, dates, status, whether a problem and
    an effect were planted, and the expected counts on the target in the windows
    (planted problem plus background) and their ratio."""
    as_of = cal.end - pd.Timedelta(days=1)
    rows = []
    for action, action_id in zip(actions, action_ids, strict=True):
        spec = action.spec
        completed = action.completed
        measurable = completed is not None and (
            completed + pd.DateOffset(months=EFFECT_WINDOW_MONTHS) <= cal.end
            and completed - pd.DateOffset(months=EFFECT_WINDOW_MONTHS) >= cal.t0
        )
        row: dict[str, Any] = {
            "action_id": action_id,
            "scenario": spec.scenario,
            "categories": list(spec.categories),
            "building_ids": sorted(str(ids[p]) for p in action.group),
            "target": "zone_dessinee" if spec.drawn else "batiments",
            "committee_date": action.committee.date().isoformat(),
            "due_date": action.due.date().isoformat(),
            "status": spec.status,
            # overdue on the last day of the data: its due date has passed (the due day
            # itself is still in time) and it is not closed, as the follow-up counts it
            "is_overdue": bool(action.due < as_of and spec.status not in CLOSED_STATUSES),
            "completed_date": None if completed is None else completed.date().isoformat(),
            "measurable": bool(measurable),
            "planted_problem": bool(action.extra > 0),
            "planted_effect": bool(action.extra > 0 and spec.scenario == "effect"),
            "extra_per_month": action.extra,
            "remaining_share": spec.remaining if action.extra > 0 else None,
            "problem_months": ([action.onset, action.last_month] if action.extra > 0 else None),
        }
        if measurable and completed is not None:
            window = pd.DateOffset(months=EFFECT_WINDOW_MONTHS)
            monthly = monthly_extra(action, cal.months) + _background(
                action, prof, cal, n_background, pattern
            )
            before = _in_window(cal, monthly, completed - window, completed)
            after = _in_window(cal, monthly, completed, completed + window)
            row.update(
                expected_before=round(before, 2),
                expected_after=round(after, 2),
                expected_ratio=round(after / before, 3) if before else None,
                effect_size=round(1 - after / before, 3) if before else None,
            )
        rows.append(row)
    rows.sort(key=lambda r: r["action_id"])
    return {
        "register": REGISTER_FILE,
        "window_months": EFFECT_WINDOW_MONTHS,
        "as_of": as_of.date().isoformat(),
        "actions": rows,
        "effective": [r["action_id"] for r in rows if r["planted_effect"] and r["measurable"]],
        "not_effective": [
            r["action_id"] for r in rows if r["measurable"] and not r["planted_effect"]
        ],
    }


# ---------------------------------------------------------------------------- register
def _fmt(day: pd.Timestamp | None) -> str:
    return "" if day is None else day.strftime("%d/%m/%Y")


def action_ids(actions: list[PlannedAction]) -> list[str]:
    """``A-<year of the committee>-<nnn>``, numbered in committee order within a year."""
    order = sorted(range(len(actions)), key=lambda i: (actions[i].committee, i))
    ids = [""] * len(actions)
    per_year: dict[int, int] = {}
    for i in order:
        year = actions[i].committee.year
        per_year[year] = per_year.get(year, 0) + 1
        ids[i] = f"A-{year}-{per_year[year]:03d}"
    return ids


def register_rows(
    actions: list[PlannedAction], ids: np.ndarray, geo: _Geo, action_ids: list[str]
) -> pd.DataFrame:
    """The register as an analyst keeps it: :data:`REGISTER_COLUMNS`, every cell a
    string, one row per action in committee order."""
    records = []
    for action, action_id in zip(actions, action_ids, strict=True):
        spec = action.spec
        buildings = ";".join(str(ids[p]) for p in action.group)
        drawn = ""
        if spec.drawn:
            hull = shapely.union_all([geo.geoms[p] for p in action.group]).convex_hull
            area = shapely.transform(
                hull.buffer(10.0, quad_segs=2),
                lambda xy: np.column_stack(geo.to_wgs.transform(xy[:, 0], xy[:, 1])),
            )
            drawn, buildings = shapely.to_wkt(area, rounding_precision=6), ""
        written = spec.completion_written and action.completed is not None
        records.append(
            {
                "identifiant": action_id,
                "date_comite": _fmt(action.committee),
                "type_comite": ("comité de pilotage" if action.is_copil else "comité technique"),
                "batiments": buildings,
                "zone": "",
                "zone_dessinee": drawn,
                "probleme": spec.problem,
                "categories": ";".join(BY_CODE[c].label for c in spec.categories),
                "decision": spec.decision,
                "niveau": spec.level,
                "type_action": spec.action_type,
                "responsabilite": spec.responsibility,
                "partenaire_pilote": spec.partner,
                "echeance": _fmt(action.due),
                "statut": spec.status,
                "date_statut": _fmt(action.status_date),
                "date_realisation": _fmt(action.completed) if written else "",
                "financement": spec.funding,
            }
        )
    frame = pd.DataFrame(records, columns=list(REGISTER_COLUMNS), dtype=str)
    order = sorted(range(len(actions)), key=lambda i: (actions[i].committee, i))
    return frame.iloc[order].reset_index(drop=True)
