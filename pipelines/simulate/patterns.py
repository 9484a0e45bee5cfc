"""Planted patterns of the simulator: hotspots, lift towers, chronic pairs, rising
groups, heating seasonality, background, and the separation pass.

Private plumbing of :mod:`pipelines.simulate.stage` (whose docstring is the method note).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# The simulator's logger, named as before the split.
log = logging.getLogger("pipelines.simulate.stage")

# ---------------------------------------------------------------------------- constants
N_REPORTS = 6800
#: Background category mix (probabilities; ``ascenseur`` is removed in low buildings).
CATEGORY_MIX: dict[str, float] = {
    "ascenseur": 0.11,
    "eau_fuite": 0.13,
    "chauffage": 0.10,
    "electricite_eclairage": 0.09,
    "nuisibles": 0.08,
    "proprete": 0.12,
    "encombrants": 0.09,
    "degradation": 0.08,
    "securite_acces": 0.07,
    "occupation": 0.04,
    "espaces_exterieurs": 0.04,
    "stationnement": 0.03,
    "autre": 0.012,
}
HOTSPOT_TILT = {"proprete", "encombrants", "degradation", "occupation", "securite_acces"}
#: Monthly heating intensity, January to December (peak November–February).
HEATING_SEASON = (2.0, 1.8, 1.2, 0.6, 0.3, 0.2, 0.2, 0.2, 0.35, 0.9, 1.6, 2.0)
SEPARATION_H = 96.0  # 48 h duplicate window + 36 h planted offset + 12 h margin
HOT_FACTOR = 2.0  # a cluster member gets HOT_FACTOR × its own background in extra reports,
HOT_EXTRA_RANGE = (90.0, 160.0)  # clipped to this range (expected over 24 months)
LIFT_EXTRA = 45.0  # extra lift reports per lift tower over 24 months
HOT_RAMP = (0.3, 1.7)  # the first cluster's extra, first to last month (relative)
RISING_PATTERNS = ("intensifying", "consecutive", "new")
RISING_GROUP_M = 80.0  # a rising building drags its neighbours within this distance
RISING_LEVEL = 40.0  # a month, over the run of a consecutive group
RISING_NEW = 50.0  # in the final month of a new group
RISING_RUNS = (5,)  # months of the consecutive run(s)
SEPARATION_M = 30.0


# --------------------------------------------------------------------------- the model
@dataclass
class _Event:
    pos: int  # building row position
    category: str
    minute: int  # minutes since the period start
    role: str  # background, hotspot, lift, chronic, rising, action, likely_duplicate
    month: int
    fixed: bool = False


class _Calendar:
    def __init__(self, start: str, months: int) -> None:
        self.t0 = pd.Timestamp(start)
        self.bounds = [self.t0 + pd.DateOffset(months=m) for m in range(months + 1)]
        self.starts = np.array([int((b - self.t0).total_seconds() // 60) for b in self.bounds])
        self.months = months
        self.calendar_month = np.array([b.month for b in self.bounds[:-1]])
        self.lengths = np.diff(self.starts)

    @property
    def end(self) -> pd.Timestamp:
        return self.bounds[-1]

    def time(self, minute: int) -> pd.Timestamp:
        return self.t0 + pd.Timedelta(minutes=int(minute))

    def draw(self, rng: np.random.Generator, month: int) -> int:
        """A report time in a month: a day, then an hour of the working or evening day."""
        days = int(self.lengths[month] // 1440)
        day = int(rng.integers(days))
        tod = (
            int(rng.integers(7 * 60, 22 * 60))
            if rng.random() < 0.3
            else int(rng.integers(8 * 60 + 30, 18 * 60))
        )
        return int(self.starts[month] + day * 1440 + tod)

    def month_of(self, minute: int) -> int:
        return int(np.searchsorted(self.starts, minute, side="right") - 1)


def _category_probs(tall: bool, tilt: bool) -> tuple[list[str], np.ndarray]:
    cats = list(CATEGORY_MIX)
    p = np.array([CATEGORY_MIX[c] for c in cats])
    if not tall:
        p[cats.index("ascenseur")] = 0.0
    if tilt:
        p *= np.array([2.5 if c in HOTSPOT_TILT else 1.0 for c in cats])
    return cats, p / p.sum()


def _month_weights(cal: _Calendar, category: str, seasonal: bool) -> np.ndarray:
    w = cal.lengths.astype(float)
    if seasonal and category == "chauffage":
        w = w * np.array([HEATING_SEASON[m - 1] for m in cal.calendar_month])
    return w / w.sum()


def _density(xy: np.ndarray, pos: int, radius_m: float = 150.0) -> int:
    """Footprints within ``radius_m`` of building ``pos`` (itself included)."""
    return int((np.hypot(*(xy - xy[pos]).T) <= radius_m).sum())


def _pick_clusters(
    profile: pd.DataFrame,
    rng: np.random.Generator,
    addressable: np.ndarray,
    *,
    n: int = 2,
) -> list[dict[str, Any]]:
    """Hotspot clusters (:mod:`pipelines.simulate.stage`), centred in the sparser half of
    the candidate centres: large estates rather than streets of small houses, where a distance band
    holds fewer footprints and a cluster of busy buildings stands out. Clusters where at
    least half the members have a BAN address are preferred (the landlord's addressed
    stock), so that the location mix holds."""
    prof = profile.reset_index(drop=True)
    member_ok = prof["is_residential"].to_numpy() & (prof["area_m2"].to_numpy() >= 150)
    xy = prof[["x_m", "y_m"]].to_numpy()
    members_xy = xy[member_ok]
    member_pos = np.flatnonzero(member_ok)
    candidates = []
    for pos in np.flatnonzero(prof["is_social"].to_numpy()):
        d = np.hypot(*(members_xy - xy[pos]).T)
        order = np.argsort(d, kind="stable")
        within = int((d <= 120.0).sum())
        if within < 8:
            continue
        radius = 120.0 if within <= 20 else float(d[order[19]])
        chosen = member_pos[order[: min(within, 20)]]
        candidates.append((int(pos), radius, sorted(int(c) for c in chosen)))
    addressed = [c for c in candidates if addressable[c[2]].mean() >= 0.5]
    if len(addressed) >= 2 * n:
        candidates = addressed
    candidates.sort(key=lambda c: (_density(xy, c[0]), c[0]))
    candidates = candidates[: max(len(candidates) // 2, 2 * n)]
    clusters: list[dict[str, Any]] = []
    for k in rng.permutation(len(candidates)):
        centre, radius, members = candidates[int(k)]
        if any(np.hypot(*(xy[centre] - xy[c["centre"]])) < 400.0 for c in clusters):
            continue
        clusters.append({"centre": centre, "radius_m": radius, "members": members})
        if len(clusters) == n:
            break
    return clusters


def _pick_rising(
    prof: pd.DataFrame,
    rng: np.random.Generator,
    used: set[int],
    clusters: list[dict[str, Any]],
    share: np.ndarray,
    months: int,
) -> list[dict[str, Any]]:
    """Place the rising buildings (:mod:`pipelines.simulate.stage` docstring).

    The intensifying one is the first cluster (named by its centre; its ramp is drawn
    with the cluster): a hotspot getting worse. The new and consecutive ones are
    residential buildings of ≥ 150 m² outside the social stock (a condominium sliding
    into difficulty) with up to 5 of their like (≥ 100 m²) within :data:`RISING_GROUP_M`,
    ≥ 250 m from the cluster centres and 200 m from each other, drawn from the quieter half
    (least expected background within 150 m) of the sparsest quarter (fewest footprints
    within 150 m), where a surge is not drowned in a busy or dense neighbourhood.
    """
    xy = prof[["x_m", "y_m"]].to_numpy()

    def group_of(pos: int, pool: np.ndarray) -> list[int]:
        d = np.hypot(*(xy[pool] - xy[pos]).T)
        near = [int(b) for b in pool[np.argsort(d, kind="stable")] if b != pos]
        near = [b for b in near if b not in used and b not in taken]
        near = [b for b in near if np.hypot(*(xy[b] - xy[pos])) <= RISING_GROUP_M]
        return [pos, *near[:5]]

    rising: list[dict[str, Any]] = []
    taken: set[int] = set()
    if clusters:
        first = clusters[0]
        rising.append(
            {"pos": first["centre"], "pattern": "intensifying", "group": list(first["members"])}
        )
    # New and consecutive: small multi-dwelling buildings outside the social stock (a
    # condominium sliding into difficulty), with their like within RISING_GROUP_M.
    residential = prof["is_residential"].to_numpy() & ~prof["is_social"].to_numpy()
    area = prof["area_m2"].to_numpy()
    pool = np.flatnonzero(residential & (area >= 100))
    centres = [xy[c["centre"]] for c in clusters]
    scored: list[tuple[int, float, int]] = []
    for p in (int(q) for q in np.flatnonzero(residential & (area >= 150))):
        if p in used or any(np.hypot(*(xy[p] - c)) < 250.0 for c in centres):
            continue
        near = np.hypot(*(xy - xy[p]).T) <= 150.0
        scored.append((int(near.sum()), float(share[near].sum()), p))
    ranked: list[tuple[float, int]] = []
    if scored:
        sparse_density = float(np.percentile([d for d, _, _ in scored], 25))
        ranked = sorted((q, p) for d, q, p in scored if d <= sparse_density)
    quiet = [p for _, p in ranked[: max(len(ranked) // 2, 6)]]
    for k in rng.permutation(len(quiet)):
        pos = quiet[int(k)]
        if pos in taken or any(np.hypot(*(xy[pos] - xy[r["pos"]])) < 200.0 for r in rising):
            continue
        group = group_of(pos, pool)
        rising.append({"pos": pos, "pattern": RISING_PATTERNS[len(rising)], "group": group})
        taken.update(group)
        if len(rising) == len(RISING_PATTERNS):
            break
    runs = iter(RISING_RUNS)
    for r in rising:
        kind = r["pattern"]
        r["first_month"] = (
            0 if kind == "intensifying" else months - 1 if kind == "new" else months - next(runs)
        )
    return rising


#: What :func:`_plan` calls once every other report is drawn: the action register
#: (:mod:`pipelines.simulate.actions`), with the plan and the function adding a report
#: ``(building position, category, month, role, minute)``.
PlanHook = Callable[[dict[str, Any], Callable[[int, str, int, str, int], None]], None]


def _plan(
    profile: pd.DataFrame,
    cal: _Calendar,
    rng: np.random.Generator,
    pattern: bool,
    addressable: np.ndarray,
    then: PlanHook | None = None,
) -> tuple[list[_Event], dict[str, Any]]:
    """Draw every report's building, category and time; return the planted truth parts.

    ``then`` is called last, with the plan (``used`` lists the buildings the patterns
    occupy): the reports it adds come on top of the others, at the end of the list, and
    leave them (and the number of background reports) as they would be without it.
    """
    prof = profile.reset_index(drop=True)
    exposure = prof["exposure"].to_numpy()
    share = exposure / exposure.sum()
    social = np.flatnonzero(prof["is_social"].to_numpy())
    tall = prof["is_tall"].to_numpy()
    events: list[_Event] = []
    plan: dict[str, Any] = {
        "clusters": [],
        "lift_towers": [],
        "chronic": [],
        "rising": [],
        "used": [],
    }

    def add(pos: int, cat: str, month: int, role: str, minute: int | None = None) -> None:
        m = cal.draw(rng, month) if minute is None else minute
        events.append(_Event(pos, cat, m, role, month, fixed=role == "chronic"))

    def add_mixed(pos: int, month: int, role: str, tilt: bool = False) -> None:
        cats, p = _category_probs(bool(tall[pos]), tilt)
        add(pos, cats[int(rng.choice(len(cats), p=p))], month, role)

    months = cal.months
    if pattern:
        provisional_bg = 0.6 * N_REPORTS * share
        clusters = _pick_clusters(prof, rng, addressable)
        in_cluster = {p for c in clusters for p in c["members"]}
        scale = months / 24.0
        steps = np.arange(months)
        for n_cluster, c in enumerate(clusters):
            # The first cluster intensifies (a hotspot getting worse), the second persists.
            lo, hi = HOT_RAMP if n_cluster == 0 else (1.0, 1.0)
            profile_m = lo + (hi - lo) * steps / (months - 1)
            profile_m = profile_m / profile_m.sum()
            for pos in c["members"]:
                extra = np.clip(HOT_FACTOR * provisional_bg[pos], *HOT_EXTRA_RANGE) * scale
                for month, k in enumerate(rng.poisson(extra * profile_m)):
                    for _ in range(int(k)):
                        add_mixed(pos, month, "hotspot", tilt=True)
        plan["clusters"] = clusters

        tall_social = [int(p) for p in social if tall[p] and p not in in_cluster]
        floors = prof["floors"].to_numpy()
        dwellings = prof["dwellings_est"].to_numpy()
        tall_social.sort(key=lambda p: (-floors[p], -dwellings[p], p))
        towers = tall_social[:4]
        for pos in towers:
            for month, k in enumerate(rng.poisson(LIFT_EXTRA * scale / months, size=months)):
                for _ in range(int(k)):
                    add(pos, "ascenseur", month, "lift")
        plan["lift_towers"] = towers

        used = set(towers)
        rising = _pick_rising(prof, rng, used | in_cluster, clusters, share, months)
        for r in rising:
            if r["pattern"] == "intensifying":
                continue  # the first cluster's ramp
            if r["pattern"] == "consecutive":
                means = np.where(steps >= r["first_month"], RISING_LEVEL, 0.0)
            else:
                means = np.where(steps == months - 1, RISING_NEW, 0.0)
            # Shared evenly: a surge spread over a few buildings disturbs the month's
            # overall spread (the S of Gi*) less than one building with it all.
            group = np.asarray(r["group"], dtype=int)
            for month, n_month in enumerate(rng.poisson(means)):
                for g in rng.integers(len(group), size=int(n_month)):
                    add_mixed(int(group[int(g)]), month, "rising")
            used.update(int(g) for g in group)
        plan["rising"] = rising

        chronic_cats = ("ascenseur", "ascenseur", "eau_fuite", "nuisibles", "securite_acces")
        pool = [int(p) for p in social if p not in used]
        pool_order = [pool[int(k)] for k in rng.permutation(len(pool))]
        span = int(cal.starts[-1])
        for cat in chronic_cats:
            pos = next(p for p in pool_order if p not in used and (cat != "ascenseur" or tall[p]))
            used.add(pos)
            minutes: list[int] = []
            n_episodes = 5
            for e in range(n_episodes):
                seg0 = span * e // n_episodes
                seg_len = span // n_episodes
                t = seg0 + int(rng.integers(0, max(seg_len - 90 * 1440, 1440)))
                for _ in range(int(rng.integers(3, 5))):
                    t += int(rng.integers(5 * 1440, 25 * 1440)) if minutes and t > seg0 else 0
                    tod = int(rng.integers(8 * 60 + 30, 18 * 60))
                    minute = (t // 1440) * 1440 + tod
                    minutes.append(minute)
                    t = minute
            for minute in minutes:
                add(pos, cat, cal.month_of(minute), "chronic", minute)
            plan["chronic"].append({"pos": pos, "category": cat})
        plan["used"] = sorted(used | in_cluster)
    n_planted = len(events)

    n_background = N_REPORTS - n_planted
    plan["n_background"] = n_background
    counts = rng.multinomial(n_background, share)
    for pos in np.flatnonzero(counts):
        cats, p = _category_probs(bool(tall[pos]), False)
        drawn = rng.choice(len(cats), size=int(counts[pos]), p=p)
        for ci in drawn:
            cat = cats[int(ci)]
            month = int(rng.choice(months, p=_month_weights(cal, cat, pattern)))
            add(int(pos), cat, month, "background")
    if then is not None:
        then(plan, add)
    return events, plan


# --------------------------------------------------------------------- separation pass
def _separate(
    events: list[_Event],
    positions: list[list[tuple[float, float]]],
    cal: _Calendar,
    rng: np.random.Generator,
    action_rng: np.random.Generator | None = None,
) -> list[int]:
    """Indices of the events kept after removing accidental likely-duplicate pairs.

    Chronic events are placed first and never move; others, in a fixed order, have
    their time redrawn within their month while they clash with a kept event (same
    category, under :data:`SEPARATION_H` apart, same building or positions under
    :data:`SEPARATION_M`). The action register's events come last and redraw from
    ``action_rng``: the others are kept and moved as they would be without them.
    """
    priority = {"chronic": 0, "rising": 1, "lift": 2, "hotspot": 3, "background": 4, "action": 5}
    order = sorted(
        range(len(events)),
        key=lambda i: (priority[events[i].role], events[i].minute, events[i].pos, i),
    )
    kept: dict[str, list[int]] = {}
    window = SEPARATION_H * 60
    out: list[int] = []
    dropped = 0
    for i in order:
        ev = events[i]
        same = kept.setdefault(ev.category, [])
        for attempt in range(41):
            clash = False
            for j in same:
                other = events[j]
                if abs(other.minute - ev.minute) >= window:
                    continue
                if other.pos == ev.pos or any(
                    np.hypot(a[0] - b[0], a[1] - b[1]) < SEPARATION_M
                    for a in positions[i]
                    for b in positions[j]
                ):
                    clash = True
                    break
            if not clash:
                same.append(i)
                out.append(i)
                break
            if ev.fixed or attempt == 40:
                dropped += 1
                break
            own = action_rng if ev.role == "action" and action_rng is not None else rng
            ev.minute = cal.draw(own, ev.month)
    log.info("separation: %d of %d reports dropped", dropped, len(events))
    return sorted(out)
