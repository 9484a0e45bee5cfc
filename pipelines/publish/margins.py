"""The margins between the published tables (:mod:`pipelines.publish.protect`): more
cells hidden where a shown margin would give back a hidden cell (:func:`secure_margin`;
after past periods were frozen, :func:`secure_frozen`), the check of the tables as
published (:func:`margin_problems`, :func:`published_problems`), and the engine's joint
audit of them, the site's tables protected again around the others when it fails
(:func:`published_frames`, :func:`audited`).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.publication import ProfileRule
from pipelines.publish.cells import FLAG, NO_ZONE, engine_audit, engine_protect, engine_rule
from pipelines.publish.levels import SPACE_DIMS
from pipelines.stats.proof import Proof
from pipelines.taxonomy import CODES


def secure_margin(
    child: pd.DataFrame,
    parent: pd.DataFrame,
    keys: Sequence[str],
    *,
    truth: pd.Series,
    round_base: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Hide more cells until no hidden cell of ``child`` or ``parent`` can be recomputed
    from the other, where each ``parent`` cell is the sum of the ``child`` cells sharing
    its ``keys`` (absent child rows are zeros).

    Used after past periods were frozen (:mod:`pipelines.publish.ledger`): a frozen
    cell keeps its published value and flag, so the engine's secondary suppression may
    no longer hold; only margins and open-period cells are hidden here (more hiding
    never makes another hidden cell recomputable). A hidden parent hidden as secondary
    whose children are all shown is shown instead (rounded to ``round_base``): a reader
    adds it up anyway, so it protects nothing.

    Parameters
    ----------
    child, parent
        Columns ``keys``, ``n_reports``, ``n_reports_flag``; ``child`` also ``frozen``
        (bool), ``parent`` ``reason`` when known (else a hidden parent counts as
        primary).
    truth
        The exact count of each parent cell, indexed by ``keys``.

    Returns
    -------
    tuple
        Both tables with the cells hidden here flagged (``reason`` "secondary"), and the
        cells that could not be protected (a hidden primary parent whose children are
        all frozen and shown, and add up to it).
    """
    child, parent = child.copy(), parent.copy()
    if "reason" not in parent:
        parent["reason"] = np.where(parent["n_reports_flag"] == FLAG, "primary", "")
    if "reason" not in child:
        child["reason"] = np.where(child["n_reports_flag"] == FLAG, "primary", "")
    k = list(keys)
    ck = pd.Series(_tuples(child, k), index=child.index)
    pk = _tuples(parent, k)
    problems: list[dict[str, Any]] = []
    for _ in range(100):
        changed = False
        hidden_c = child["n_reports_flag"] == FLAG
        n_hidden = hidden_c.groupby(ck).sum()
        shown_sum = (
            child["n_reports"].astype("Float64").where(~hidden_c).fillna(0).groupby(ck).sum()
        )
        # only the parents with one hidden term or hidden over none can change
        # (0.1 s less on a bench site than looking at each in Python)
        nh_of = pd.Series(pk, dtype=object).map(n_hidden).fillna(0).to_numpy(dtype=int)
        hidden_of = (parent["n_reports_flag"] == FLAG).to_numpy()
        may = (~hidden_of & (nh_of == 1)) | (hidden_of & (nh_of == 0))
        rows = zip(parent.index[may], np.asarray(pk, dtype=object)[may], nh_of[may], strict=True)
        for row, key, nh in rows:
            hidden_p = parent.at[row, "n_reports_flag"] == FLAG
            if not hidden_p and nh == 1:
                parent.at[row, "n_reports"] = pd.NA
                parent.at[row, "n_reports_flag"] = FLAG
                parent.at[row, "reason"] = "secondary"
                changed = True
            elif hidden_p and nh == 0 and key in truth.index:
                if float(shown_sum.get(key, 0)) != float(truth[key]):
                    continue
                if parent.at[row, "reason"] not in ("primary", "dominance"):
                    value = float(truth[key])
                    if round_base > 1:
                        value = math.floor(value / round_base + 0.5) * round_base
                    parent.at[row, "n_reports"] = int(value)
                    parent.loc[row, ["n_reports_flag", "reason"]] = ["", ""]
                    changed = True
                    continue
                candidates = child[(ck == key) & ~child["frozen"].astype(bool)]
                if candidates.empty:
                    problems.append(
                        {"keys": dict(zip(k, key.split("\x1f"), strict=True)), "why": "figé"}
                    )
                    continue
                j = candidates["n_reports"].astype(float).idxmin()
                child.at[j, "n_reports"] = pd.NA
                child.at[j, "n_reports_flag"] = FLAG
                child.at[j, "reason"] = "secondary"
                changed = True
        if not changed:
            break
    unique = {tuple(sorted(p["keys"].items())): p for p in problems}
    return child, parent, list(unique.values())


def _tuples(frame: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    """One text per row joining its ``keys`` (a group key pandas keeps flat)."""
    if not keys:
        return [""] * len(frame)
    # Joined as columns, not value by value in Python: 0.3 s less on a bench site
    # (25,000 reports), where every table's key goes through here.
    parts = [frame[c].astype(str).where(frame[c].notna(), "").astype(object) for c in keys]
    text = parts[0]
    for part in parts[1:]:
        text = text + "\x1f" + part
    return list(text)


def margin_problems(child: pd.DataFrame, parent: pd.DataFrame, keys: Sequence[str]) -> int:
    """Hidden cells a reader can recompute: a group of ``child`` with exactly one hidden
    cell under a shown ``parent`` cell (parent minus the shown children), or a hidden
    ``parent`` cell whose children are all shown (their sum). The audit's check on the
    published files."""
    k = list(keys)
    if child.empty:
        return 0
    groups = pd.Series(_tuples(child, k), index=child.index)
    hidden = (child["n_reports_flag"] == FLAG).groupby(groups).sum()
    n_hidden = {str(key): int(n) for key, n in hidden.items()}
    flags = dict(zip(_tuples(parent, k), parent["n_reports_flag"], strict=True))
    one = sum(1 for key, n in n_hidden.items() if n == 1 and flags.get(key) not in (FLAG, None))
    none = sum(1 for key, n in n_hidden.items() if n == 0 and flags.get(key) == FLAG)
    return one + none


def long_profile(profile: pd.DataFrame, codes: Sequence[str]) -> pd.DataFrame:
    """The building × category cells of the profile as rows (zeros left out), category
    after category."""
    present = [code for code in codes if f"n_{code}" in profile]
    if not present:
        return pd.DataFrame()
    # one frame for every category rather than one per category and a concatenation
    # (0.05 s less on a bench site: three calls over 2,842 buildings)
    long = pd.DataFrame(
        {
            "building_id": pd.concat(
                [profile["building_id"].astype(str)] * len(present), ignore_index=True
            ),
            "category": pd.Series(np.repeat(present, len(profile)), dtype=str),
            "n_reports": pd.concat([profile[f"n_{c}"] for c in present], ignore_index=True),
            "n_reports_flag": pd.concat(
                [profile[f"n_{c}_flag"] for c in present], ignore_index=True
            ),
            "row": np.tile(profile.index.to_numpy(), len(present)),
        }
    )
    keep = (long["n_reports_flag"] == FLAG) | (long["n_reports"].fillna(0) > 0)
    return long[keep.to_numpy()].reset_index(drop=True)


def _truth(micro: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    n = micro.groupby(list(keys)).size()
    frame = n.reset_index()
    return pd.Series(n.to_numpy(), index=_tuples(frame, keys))


def secure_frozen(
    monthly: pd.DataFrame,
    profile: pd.DataFrame,
    micro: pd.DataFrame,
    cells: Mapping[tuple[str, ...], pd.DataFrame],
    *,
    round_base: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """After freezing: hide what the frozen months and the building figures would let a
    reader recompute (:func:`secure_margin`), building × category then building; a
    building × category cell the engine hid as secondary (its ``reason`` in ``cells``)
    that the frozen months now add up is shown instead."""
    long = long_profile(profile, CODES)
    bc = cells[("zone", "building_id", "category")]
    why = dict(zip(_tuples(bc, ["building_id", "category"]), bc["reason"], strict=True))
    if len(long):
        long["reason"] = [why.get(k, "") for k in _tuples(long, ["building_id", "category"])]
    monthly, long, problems = secure_margin(
        monthly, long, ["building_id", "category"],
        truth=_truth(micro, ["building_id", "category"]), round_base=round_base,
    )  # fmt: skip
    profile = profile.copy()
    for code in CODES:
        col = f"n_{code}"
        rows = long[long["category"] == code]
        if col in profile and len(rows):
            profile.loc[rows["row"], col] = rows["n_reports"].to_numpy()
            profile.loc[rows["row"], f"{col}_flag"] = rows["n_reports_flag"].to_numpy()
    parent = pd.DataFrame(
        {
            "building_id": profile["building_id"].astype(str),
            "n_reports": profile["n_reports"],
            "n_reports_flag": profile["n_reports_flag"],
        }
    )
    long = long.assign(frozen=False)
    for child in (monthly, long):
        child2, parent, more = secure_margin(
            child, parent, ["building_id"], truth=_truth(micro, ["building_id"])
        )
        if child is monthly:
            monthly = child2
        problems += more
    profile["n_reports"] = parent["n_reports"].to_numpy()
    profile["n_reports_flag"] = parent["n_reports_flag"].to_numpy()
    return monthly, profile, problems


def published_problems(
    monthly: pd.DataFrame,
    profile: pd.DataFrame,
    zones: pd.DataFrame | None,
    level: tuple[str, str],
) -> dict[str, int]:
    """The audit's check on the tables as published: per relation between them, the
    hidden cells a reader could recompute from a shown margin (0 everywhere to pass)."""
    long = long_profile(profile, CODES)
    flat = pd.DataFrame(
        {
            "building_id": profile["building_id"].astype(str),
            "zone_id": profile.get("zone_id"),
            "n_reports": profile["n_reports"],
            "n_reports_flag": profile["n_reports_flag"],
        }
    )
    out = {"building_category→building": margin_problems(long, flat, ["building_id"])}
    if level[0] == "building" and not monthly.empty:
        out["monthly→building_category"] = margin_problems(
            monthly, long, ["building_id", "category"]
        )
        out["monthly→building"] = margin_problems(monthly, flat, ["building_id"])
    if zones is not None and len(zones) and "n_reports_flag" in zones:
        z = zones.assign(zone_id=zones["zone_id"].astype(str))
        out["building→zone"] = margin_problems(flat[flat["zone_id"].notna()], z, ["zone_id"])
    return out


def published_frames(
    cells: Mapping[tuple[str, ...], pd.DataFrame],
    profile: pd.DataFrame,
    monthly: pd.DataFrame,
    series: pd.DataFrame,
    level: tuple[str, str],
    *,
    frozen: Collection[str] = (),
    frozen_series: Collection[str] = (),
) -> dict[tuple[str, ...], pd.DataFrame]:
    """Every table of the engine as published, for its audit
    (:func:`pipelines.stats.disclosure.audit`): the flags of the building profile, of
    the monthly table and of the site's series (frozen periods included), the others
    (zones, site, categories) as the engine left them; a cell no table publishes counts
    as hidden. ``locked``: the building side (the profile, and the monthly table when
    by building) and the rows of the periods frozen in the monthly table (``frozen``)
    or in the series (``frozen_series``), which :func:`audited` keeps.
    The sums derived from the monthly table (top buildings' series, before/after) tell
    nothing more and are left out."""
    space, time = level
    ids = profile["building_id"].astype(str).to_numpy(dtype=object)
    codes = [code for code in CODES if f"n_{code}_flag" in profile]
    category_keys = [ids + f"\x1f{code}" for code in codes]
    category_flags = [profile[f"n_{code}_flag"].to_numpy(dtype=object) for code in codes]
    flags: dict[tuple[str, ...], pd.Series] = {
        ("zone", "building_id"): _flag_lookup(ids, profile["n_reports_flag"]),
        ("zone", "building_id", "category"): _flag_lookup(
            np.concatenate([ids[:0], *category_keys]),
            np.concatenate([ids[:0], *category_flags]),
        ),
    }
    by_category = series[series["category"].notna()]
    total = series[series["category"].isna()]
    flags[(time, "category")] = _flag_lookup(
        _tuples(by_category, ["month", "category"]), by_category["n_reports_flag"]
    )
    flags[(time,)] = _flag_lookup(_tuples(total, ["month"]), total["n_reports_flag"])
    m = monthly.assign(zone=monthly["zone_id"].fillna(NO_ZONE), **{time: monthly["month"]})
    mdims = (*SPACE_DIMS[space], time, "category")
    keys = [d for d in mdims if d != "zone"] if space == "building" else list(mdims)
    flags[mdims] = _flag_lookup(_tuples(m, keys), m["n_reports_flag"])
    building_side = {("zone", "building_id"), ("zone", "building_id", "category")}
    if space == "building":
        building_side.add(mdims)
    frames: dict[tuple[str, ...], pd.DataFrame] = {}
    for dims, t in cells.items():
        if dims in flags:
            k = [d for d in dims if d != "zone"] if "building_id" in dims else list(dims)
            at = flags[dims].index.get_indexer(pd.Index(_tuples(t, k), dtype=object))
            flag = np.full(len(at), FLAG, dtype=object)
            flag[at >= 0] = flags[dims].to_numpy()[at[at >= 0]]
            t = t.assign(flag=list(flag))
        if dims in building_side:
            locked = pd.Series(True, index=t.index)
        elif time in dims:
            periods = frozen_series if dims in ((time, "category"), (time,)) else frozen
            locked = t[time].astype(str).isin(set(periods))
        else:
            locked = pd.Series(False, index=t.index)
        frames[dims] = t.assign(locked=locked.to_numpy())
    return frames


def _flag_lookup(keys: Sequence[str] | np.ndarray, flags: pd.Series | np.ndarray) -> pd.Series:
    """The flag of each key (the last one given for a key given twice), to look up by
    index: :func:`published_frames` reads some 50,000 of them on a bench site, 0.04 s
    less than through dictionaries built and read in Python."""
    out = pd.Series(np.asarray(flags, dtype=object), index=pd.Index(keys, dtype=object))
    return out[~out.index.duplicated(keep="last")]


def _hide_rows(frame: pd.DataFrame, hide: pd.Series) -> pd.DataFrame:
    """``frame`` (a published table) with the rows of ``hide`` hidden as secondary."""
    out = frame.copy()
    hide = hide.fillna(False).astype(bool) & (out["n_reports_flag"] != FLAG)
    for col in ("n_reports", "n_households"):
        if col in out:
            out.loc[hide, col] = pd.NA
            out.loc[hide, f"{col}_flag"] = FLAG
    out.loc[hide, "reason"] = "secondary"
    return out


def audited(
    micro: pd.DataFrame,
    cells: Mapping[tuple[str, ...], pd.DataFrame],
    profile: pd.DataFrame,
    monthly: pd.DataFrame,
    series: pd.DataFrame,
    level: tuple[str, str],
    rule: ProfileRule,
    *,
    frozen: Collection[str] = (),
    frozen_series: Collection[str] = (),
    proof: Proof | None = None,
) -> tuple[dict[tuple[str, ...], pd.DataFrame], pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The engine's audit of every table as published (:func:`published_frames`), and
    while it fails (past periods frozen from the ledger, or hidden more by
    :func:`secure_frozen`, no longer match the engine's pattern), the site's tables
    protected again around the others (:func:`pipelines.stats.disclosure.protect` with
    ``given``): only the zones, the site, the categories' totals, the site's series
    (and the monthly table when by zone or site) outside the frozen periods may be
    hidden more. Returns the engine's tables, the monthly table and the site's series
    as finally published, and the audit (``reprotected``: whether it had to).

    ``proof``: what the engine proved of the site's tables
    (:attr:`pipelines.stats.disclosure.Protection.proof`); where every table as published
    hides at least the cells it hid, its intervals stand and the audit solves only the
    cells it does not cover (``n_proven`` in the audit)."""
    frames = published_frames(
        cells, profile, monthly, series, level, frozen=frozen, frozen_series=frozen_series
    )
    result = engine_audit(micro, frames, engine_rule(rule), proof=proof)
    if result.get("passed"):
        return dict(cells), monthly, series, {**result, "reprotected": False}
    again = engine_protect(micro, [], engine_rule(rule), given=frames)
    again_tables, again_audit = again.tables, again.audit
    space, time = level
    out = dict(cells)
    hidden_keys: dict[tuple[str, ...], set[str]] = {}
    for dims, t in again_tables.items():
        k = [d for d in dims if d != "zone"] if "building_id" in dims else list(dims)
        hidden_keys[dims] = set(np.asarray(_tuples(t, k), dtype=object)[t["flag"] == FLAG])
        if not frames[dims]["locked"].all():
            out[dims] = t
    if space != "building":
        mdims = (*SPACE_DIMS[space], time, "category")
        m = monthly.assign(zone=monthly["zone_id"].fillna(NO_ZONE), **{time: monthly["month"]})
        keys = pd.Series(_tuples(m, list(mdims)), index=monthly.index)
        monthly = _hide_rows(monthly, keys.isin(hidden_keys[mdims]))
    by_category = pd.Series(_tuples(series, ["month", "category"]), index=series.index)
    by_period = pd.Series(_tuples(series, ["month"]), index=series.index)
    hide = series["category"].notna() & by_category.isin(hidden_keys[(time, "category")])
    hide |= series["category"].isna() & by_period.isin(hidden_keys[(time,)])
    series = _hide_rows(series, hide)
    return out, monthly, series, {**again_audit, "reprotected": True}
