"""The effects of a long register (pipelines.actions.effect): the rest of the site found
by sorted search and the intervals computed once per distinct counts give, action by
action, what the definition gives (a pass over the whole register for each action, each
interval computed anew) — on a register of a few hundred rows made from the demo's."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from pipelines.actions.effect import action_effects, did_ratio_ci, rate_ratio_ci
from pipelines.actions.stage import _effect_inputs
from pipelines.config import load_config
from tests.conftest import DemoRun


def _long_register(actions: pd.DataFrame, reports: pd.DataFrame, n: int) -> pd.DataFrame:
    """The demo's actions, then ``n`` copied from them (seeded): a third as they are
    (the same counts again), the others moved by up to two months; plus, for a few
    actions carried out, one carried out exactly one window before and one exactly one
    window after (on the bounds of the first one's windows: the one before is during
    them, the one after is not), each on five buildings of its own that no other action
    targets and that have many reports (so that each changes the rest of the site)."""
    rng = np.random.default_rng(17)
    rows = actions.iloc[rng.integers(0, len(actions), n)].reset_index(drop=True)
    shift = pd.to_timedelta(rng.integers(-60, 61, n), unit="D").to_numpy().copy()
    shift[: n // 3] = np.timedelta64(0, "D")
    rows["completed_date"] = pd.to_datetime(rows["completed_date"]) + shift
    targeted = {b for ids in actions["building_ids"] for b in ids}
    busiest = [b for b in reports["building_id"].value_counts().index if b not in targeted]
    edges = []
    for _, action in actions[actions["completed_date"].notna()].head(4).iterrows():
        for months in (-6, 6):
            edge = action.copy()
            edge["completed_date"] = action["completed_date"] + pd.DateOffset(months=months)
            edge["building_ids"] = tuple(busiest[5 * len(edges) : 5 * len(edges) + 5])
            edges.append(edge)
    out = pd.concat([actions, rows, pd.DataFrame(edges)], ignore_index=True)
    out["action_id"] = [f"X-{i}" for i in range(len(out))]
    return out


def test_a_long_register_gives_each_action_the_effect_of_the_definition(
    demo_run: DemoRun,
) -> None:
    site = demo_run.site("bondy")
    settings = load_config(demo_run.config).site("bondy").settings.actions
    frame, reports, buildings = _effect_inputs(
        gpd.read_parquet(site / "actions.parquet"),
        gpd.read_parquet(site / "reports.parquet"),
        gpd.read_parquet(site / "buildings.parquet"),
    )
    register = _long_register(frame, reports, 200)
    window = settings.effect_window_months
    got = action_effects(
        register,
        reports,
        buildings,
        window_months=window,
        period_end=reports["reported_at"].max(),
        min_reports=settings.effect_min_reports,
    )
    measured = got[got["n_before"].notna()]
    assert len(measured) > 60

    # The definition, action by action: every other action carried out during the two
    # windows, by a pass over the whole register; each interval computed anew.
    at = pd.to_datetime(reports["reported_at"])
    done = pd.to_datetime(register["completed_date"])
    for i, row in measured.iterrows():
        start, stop = row["before_start"], row["after_end"] + pd.Timedelta(days=1)
        day = done[i]
        treated = {
            b
            for j, ids in enumerate(register["building_ids"])
            if j != i and pd.notna(done[j]) and start <= done[j] < stop
            for b in ids
        }
        targets = set(register["building_ids"][i])
        categories = set(register["categories"][i])
        relevant = reports["category"].isin(categories) if categories else True
        rest = ~reports["building_id"].isin(treated | targets) & relevant
        r_b = int((rest & (at >= start) & (at < day)).sum())
        r_a = int((rest & (at >= day) & (at < stop)).sum())
        assert (row["rest_n_before"], row["rest_n_after"]) == (r_b, r_a), row["action_id"]
        n_b, n_a = int(row["n_before"]), int(row["n_after"])
        t_b = (day - start).days / (365.25 / 12)
        t_a = (stop - day).days / (365.25 / 12)
        rr = rate_ratio_ci(n_a, n_b, exposure_after=t_a, exposure_before=t_b)
        did = did_ratio_ci(n_a, n_b, r_a, r_b)
        # Equal to the last bit (nan where nothing was counted).
        np.testing.assert_array_equal(row[["rr_ci_low", "rr_ci_high"]].astype(float), rr)
        np.testing.assert_array_equal(row[["did_ci_low", "did_ci_high"]].astype(float), did)
