"""The committee's indicators drawn from more than a quarter's own reports (backlog,
recurrence, lifts, watch level) leave out the late reports the pack leaves out.

Session 19 hid the quarter × category cells holding a late report (dated in a period
the ledger froze, :mod:`pipelines.publish.left_out`). The figures that reach beyond
their cell still counted it: the backlog at a later quarter's end (an open report stays
in it), the recurrence of the buildings (a window of 6 months), the lifts (a repeat
within 30 days of the breakdown before it, the lift-equipped buildings over the whole
export) and the proposed watch level with its entrances (3 of the last 6 months). Two
packs of the same periods then disagreed, and their difference told of the reports the
pack says it leaves out.

Bondy of the demo (the only site with lifts and closing dates) is published once under
``comite`` (every month but the last frozen), five late reports are added, each made to
move one of these figures, the trends and indicators stages run again and the site is
published again: every figure the second pack shows is the first pack's.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from pipelines.config import load_config
from pipelines.indicators import run as run_indicators_stage
from pipelines.indicators.compute import counted_reports, site_quarters
from pipelines.indicators.lifts import lift_repeats
from pipelines.ingest.household import household_keys
from pipelines.io import read_csv
from pipelines.publish import run as run_publish
from pipelines.publish import run_indicators
from pipelines.publish.ledger import counted_rows, joined, late_reports, ledger_part, report_digest
from pipelines.publish.ledger_check import ledger_drift
from pipelines.publish.left_out import pack_figures, pack_followup, pack_reports
from pipelines.publish.tables import closing_delays_table
from pipelines.published import FILES, Published
from pipelines.trends import followup_table
from pipelines.trends import run as run_trends

SITE = "bondy"


@dataclass(frozen=True)
class Packs:
    """The indicator tables of the two packs, the exact site table (indicators stage)
    before the late reports, and the exact tables after, which count them."""

    first: dict[str, pd.DataFrame]
    second: dict[str, pd.DataFrame]
    before: pd.DataFrame
    exact: dict[str, pd.DataFrame]
    late: pd.DataFrame
    audit: dict[str, Any]
    note: str
    #: the building profile and the closing delays' chart of the two packs, and the
    #: trends stage's follow-up after the late reports (``followup.csv``, every report)
    profiles: tuple[pd.DataFrame, pd.DataFrame]
    delays: tuple[pd.DataFrame, pd.DataFrame]
    followup: pd.DataFrame
    #: the second pack's method note (publication step)
    method: str


def _tables(folder: Path, prefix: str = "indicators_") -> dict[str, pd.DataFrame]:
    return {
        name: pd.read_parquet(folder / f"{prefix}{name}.parquet")
        for name in ("site", "category", "entrance")
    }


def _followup_tables(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The published building profile (without its geometry) and closing delays."""
    profile = pd.DataFrame(gpd.read_parquet(folder / FILES["profile"]).drop(columns="geometry"))
    return profile, pd.read_parquet(folder / FILES["closing_delays"])


def _late_reports(processed: Path) -> gpd.GeoDataFrame:
    """Five reports dated in frozen months, each a copy of a real report of the
    building it is made for (its position, address and source), with its own id and
    household, closed the next day unless said."""
    reports = gpd.read_parquet(processed / "reports.parquet")
    counted = counted_reports(reports)
    rows = []

    def copy_of(index: Any, when: str, category: str, closed: str | None) -> None:
        row = reports.loc[[index]].copy()
        n = len(rows) + 1
        row["report_id"] = f"bailleur:LATE-{n}"
        row["household_key"] = f"late-household-{n}"
        row["category"] = category
        tz = reports["reported_at"].dt.tz
        row["reported_at"] = pd.Timestamp(when, tz=tz)
        row["closed_at"] = pd.Timestamp(closed, tz=tz) if closed else pd.NaT
        rows.append(row)

    # backlog: a cleanliness report of May 2024 still open (in every later backlog; the
    # committee pack shows the cleanliness cells of every quarter: a technical category,
    # its series hidden nowhere)
    first = counted.index[counted["category"] == "proprete"][0]
    copy_of(first, "2024-05-15 10:00", "proprete", None)
    # recurrence: a building with reports in 2 of the 6 months to June 2025, a third
    window = pd.period_range("2025-01", "2025-06", freq="M")
    inside = counted[counted["month"].isin(window)]
    months = inside.groupby("building_id")["month"].agg(set)
    building = next(b for b, m in months.items() if len(m) == 2)
    free = next(m for m in window if m not in months[building])
    index = inside.index[inside["building_id"] == building][0]
    copy_of(index, f"{free}-10 10:00", "proprete", f"{free}-11 10:00")
    # lifts: a building with no lift report gets one (a lift-equipped building more) …
    lift = counted[counted["category"] == "ascenseur"]
    other = counted.index[~counted["building_id"].isin(set(lift["building_id"]))][0]
    copy_of(other, "2024-09-10 10:00", "ascenseur", "2024-09-12 10:00")
    # … and a breakdown 6 days before the first of July 2024 on a lift (then a repeat)
    repeat = lift_repeats(counted).reindex(lift.index)
    july = lift[(~repeat) & (lift["reported_at"] >= "2024-07-04")].sort_values("reported_at")
    start = july["reported_at"].iloc[0] - pd.Timedelta(days=6)
    copy_of(july.index[0], str(start), "ascenseur", str(start + pd.Timedelta(days=1)))
    # watch: an entrance with degradations in 2 of the 6 months to June 2024 from 3
    # households, a third month (then « jaune », from 4 households)
    entrances = pd.read_parquet(processed / "indicators_entrance.parquet")
    two = entrances[
        (entrances["quarter"] == "2024-T2")
        & (entrances["watch_months"] == 2)
        & (entrances["n_households_watch"] >= 3)
        & (entrances["top_household_share"] < 0.5)
    ].iloc[0]
    window = pd.period_range("2024-01", "2024-06", freq="M")
    same = counted[
        (counted["building_id"] == two["building_id"])
        & counted["category"].isin(["degradation", "occupation"])
        & counted["month"].isin(window)
    ]
    mine = same[
        same["entrance"]
        .where(same["entrance"] != "", "entrée non précisée")
        .eq(two["entrance_label_fr"])
    ]
    free = next(m for m in window if m not in set(mine["month"]))
    copy_of(mine.index[0], f"{free}-12 10:00", "degradation", f"{free}-13 10:00")
    return pd.concat(rows)


@pytest.fixture(scope="module")
def packs(demo_run: Any, tmp_path_factory: pytest.TempPathFactory) -> Packs:
    tmp = tmp_path_factory.mktemp("late")
    config = load_config(demo_run.config)
    site = config.site(SITE)
    site = replace(site, publication=replace(site.publication, ledger_dir=str(tmp / "ledger")))
    processed = shutil.copytree(demo_run.site(SITE), tmp / SITE)
    published = tmp / "published"
    run_publish(config, site, processed=processed, dst_dir=published)
    run_indicators(config, site, processed=processed, dst_dir=published)
    first = _tables(published)
    profile, delays = _followup_tables(published)
    before = pd.read_parquet(processed / "indicators_site.parquet")

    late = _late_reports(processed)
    reports = gpd.read_parquet(processed / "reports.parquet")
    pd.concat([reports, late], ignore_index=True).to_parquet(processed / "reports.parquet")
    run_trends(
        config,
        SITE,
        reports_path=processed / "reports.parquet",
        buildings_path=processed / "buildings.parquet",
        out_dir=processed,
    )
    run_indicators_stage(config, SITE, processed=processed)
    run_publish(config, site, processed=processed, dst_dir=published)
    run_indicators(config, site, processed=processed, dst_dir=published)
    audit = pd.read_json(published / "publication_audit.json", typ="series").to_dict()
    note = (published / "indicators_method.md").read_text(encoding="utf-8")
    profile_2, delays_2 = _followup_tables(published)
    followup = read_csv(processed / "followup.csv", dtype={"key": str})
    method = (published / FILES["method_note_md"]).read_text(encoding="utf-8")
    return Packs(
        first, _tables(published), before, _tables(processed), late, audit, note,
        (profile, profile_2), (delays, delays_2), followup, method,
    )  # fmt: skip


def _same_or_hidden(packs: Packs, table: str, column: str, flag: str) -> pd.DataFrame:
    """Per quarter (and category) shown in both packs: the first pack's figure, the
    second's, and the exact one; asserts the second is the first wherever shown."""
    keys = ["quarter", "category"] if table == "category" else ["quarter"]
    first = packs.first[table].set_index(keys)
    second = packs.second[table].set_index(keys)
    exact = packs.exact[table].set_index(keys)
    both = first.index.intersection(second.index)
    shown = both[
        (first.loc[both, flag] == "").to_numpy() & (second.loc[both, flag] == "").to_numpy()
    ]
    out = pd.DataFrame(
        {
            "first": first.loc[shown, column].astype("Float64"),
            "second": second.loc[shown, column].astype("Float64"),
            "exact": exact.reindex(shown)[column].astype("Float64"),
        }
    )
    differ = out[
        (out["first"] != out["second"]).fillna(True) & ~(out["first"].isna() & out["second"].isna())
    ]
    assert differ.empty, f"{column}: the second pack shows other figures\n{differ}"
    return out


def test_the_late_reports_are_left_out_of_the_pack(packs: Packs) -> None:
    assert packs.audit["late_reports_left_out"] == len(packs.late) == 5
    # the method note says which figures are computed without them
    note = " ".join(packs.note.split())
    assert "sont calculés sans ces signalements tardifs : le stock ouvert" in note


def test_the_backlog_shown_leaves_late_reports_out(packs: Packs) -> None:
    # the open report of May 2024 is in every exact backlog from 2024-T2 on: the
    # second pack showed 2024-T4's 125 reports open beside the first pack's 124
    site = _same_or_hidden(packs, "site", "backlog_open_end", "other_flag")
    assert (site["exact"] == site["first"] + 1).sum() == 7
    cats = _same_or_hidden(packs, "category", "backlog_open_end", "cell_flag")
    # the committee pack shows the cleanliness backlog of six quarters in both packs
    # (2024-T2 and 2025-T1, holding a late report, hidden in the second): those after
    # May 2024 one short of the exact backlog
    clean = cats.xs("proprete", level="category")
    after = clean.index > "2024-T2"
    assert after.sum() == 5
    assert (clean.loc[after, "exact"] == clean.loc[after, "first"] + 1).all()
    assert (clean.loc[~after, "exact"] == clean.loc[~after, "first"]).all()


def test_the_recurrence_shown_leaves_late_reports_out(packs: Packs) -> None:
    out = _same_or_hidden(packs, "site", "n_buildings_recurrent", "other_flag")
    assert (out["exact"] != out["first"]).any()


def test_the_lift_figures_shown_leave_late_reports_out(packs: Packs) -> None:
    # one lift-equipped building more: the second pack showed 30 beside 29 in every
    # quarter (and its breakdowns per building and month moved with it)
    exact, first = packs.exact["site"], packs.first["site"]
    assert (exact["n_lift_buildings"] == first["n_lift_buildings"] + 1).all()
    assert (packs.second["site"]["n_lift_buildings"] == first["n_lift_buildings"]).all()
    # the breakdown 6 days before 2024-T3's first made it a repeat, counted in 2024-T3
    # (Bondy's committee pack hides its lift cells, as it hides their months: shown,
    # the figure would be the first pack's, see test_a_late_lift_breakdown_…)
    repeats = [t.set_index("quarter")["lift_repeats_30d"] for t in (packs.before, exact)]
    assert (repeats[1] - repeats[0]).to_dict()["2024-T3"] == 1
    for column, flag in (
        ("lift_breakdowns_per_building_month", "lift_flag"),
        ("lift_repeats_30d", "lift_flag"),
        ("lift_days_out_of_service", "lift_days_flag"),
    ):
        _same_or_hidden(packs, "site", column, flag)


def test_the_watch_level_shown_leaves_late_reports_out(packs: Packs) -> None:
    out = _same_or_hidden(packs, "site", "n_buildings_watch", "watch_flag")
    assert (out["exact"] != out["first"]).any()
    keys = ["quarter", "building_id", "entrance_label_fr", "watch_level"]
    listed = {tuple(r) for r in packs.second["entrance"][keys].astype(str).itertuples(index=False)}
    before = {tuple(r) for r in packs.first["entrance"][keys].astype(str).itertuples(index=False)}
    assert listed == before


def test_the_buildings_backlog_and_closing_delays_shown_leave_late_reports_out(
    packs: Packs,
) -> None:
    """The building profile's open reports and median closing delay, and the closing
    delays' chart, came from the trends stage's follow-up, which counts every report:
    the second pack showed way/84185369's open reports at 3 beside the first pack's 2
    (its 97 reports, late ones out, the same in both), four buildings' median delays
    moved and the lifts' chart row said 610 reports closed beside 608. Now the first
    pack's figures."""
    first, second = packs.profiles
    exact = packs.followup[packs.followup["level"] == "building"].set_index("key")
    ids = first["building_id"].astype(str)
    for column, source in (("open_backlog", "n_open"), ("median_delay_h", "median_delay_h")):
        # the late reports move the trends stage's figure of some shown buildings
        shown = first[column].notna().to_numpy()
        moved = ids[shown].map(exact[source]).to_numpy() != first.loc[shown, column].to_numpy()
        assert moved.any(), column
        pd.testing.assert_series_equal(second[column], first[column])
    lifts = packs.followup.set_index(["level", "key"]).loc[("category", "ascenseur")]
    delays = [d.set_index("category") for d in packs.delays]
    assert lifts["n_closed"] == delays[0].loc["ascenseur", "n_closed"] + 2
    pd.testing.assert_frame_equal(packs.delays[1], packs.delays[0])
    method = " ".join(packs.method.split())
    assert "ni dans les signalements ouverts et les délais de clôture publiés" in method


def _lifts() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Lift reports on two buildings: A broke down on 28 June 2024 (a late report, the
    second quarter frozen) and again on 2 July, 4 days later; B on 10 July."""
    frame = pd.DataFrame(
        {
            "building_id": ["A", "A", "B"],
            "reported_at": pd.to_datetime(["2024-06-28", "2024-07-02", "2024-07-10"]),
            "closed_at": pd.to_datetime(["2024-06-30", "2024-07-03", "2024-07-12"]),
            "category": "ascenseur",
            "report_id": ["late", "r1", "r2"],
            "source_kind": "reports",
            "household_key": ["h0", "h1", "h2"],
        }
    )
    buildings = pd.DataFrame({"building_id": ["A", "B", "C"], "dwellings": None})
    site = site_quarters(
        counted_reports(frame), buildings, backlog=None, n_hotspot_buildings=None,
        n_emerging_categories=None, actions_by_status=None,
    )  # fmt: skip
    return frame, site.assign(buildings=[buildings] * len(site))


def test_a_late_lift_breakdown_is_no_repeat_of_the_next_quarter() -> None:
    """Counted over every report, 2 July was a repeat of 28 June and 2024-T3 said so
    (1 repeat), beside a 2024-T2 whose lift cell is hidden: the first pack said 0.
    Over the pack's reports, 0, and 2024-T3's days are those of its own breakdowns."""
    frame, site = _lifts()
    buildings = site.pop("buildings").iloc[0]
    assert site.set_index("quarter")["lift_repeats_30d"].to_dict() == {"2024-T2": 0, "2024-T3": 1}
    late = np.array([True, False, False])
    out, _, _ = pack_figures(
        site, pd.DataFrame(), pd.DataFrame(), reports=frame, buildings=buildings, late=late
    )
    out = out.set_index("quarter")
    assert out.loc["2024-T3", "lift_repeats_30d"] == 0
    assert out.loc["2024-T3", "lift_days_out_of_service"] == 3.0
    assert out.loc["2024-T3", "lift_days_quarters"] == "2024-T3"
    assert (out["n_lift_buildings"] == 2).all()
    # no late report: the tables as they are
    same, _, _ = pack_figures(
        site, pd.DataFrame(), pd.DataFrame(), reports=frame, buildings=buildings,
        late=np.zeros(3, dtype=bool),
    )  # fmt: skip
    assert same is site


def test_an_id_read_without_its_invisible_character_is_the_report_the_ledger_counted(
    secret: bytes,
) -> None:
    """Ingestion now reads « T-2\\u200b » as « T-2 » (values pasted from a web page).
    A ledger written before lists the report as « src:T-2\\u200b »: read again, the same
    report was not among those it counted, so it was taken for a late one and left out
    of every table beside frozen months that count it (and the ledger said it was gone).
    Known by no other identifier, its household is keyed by its id: that key changed
    too, so the ledger's digest of it is renewed once, under the id of now."""
    then, now = "src:T-2\u200b", "src:T-2"
    keys = household_keys(["", ""], ["src", "src"], [then, now], secret)
    assert keys[0] != keys[1]  # the report's own household: another key
    micro = pd.DataFrame(
        {
            "report_id": [now, "src:T-3"],
            "month": ["2024-01", "2024-02"],
            "building_id": ["way/1", "way/1"],
            "category": ["degradation", "degradation"],
            "household": [keys[1], "other"],
        }
    )
    published = micro.iloc[[0]].assign(report_id=then, household=keys[0])
    ledger = joined(
        {
            "monthly": pd.DataFrame(
                {"month": ["2024-01"], "building_id": ["way/1"], "n_reports": [1.0]}
            ),
            "counted": pd.DataFrame(
                {
                    "report_id": [then],
                    "month": ["2024-01"],
                    "digest": report_digest(published).tolist(),
                }
            ),
        }
    )
    assert not late_reports(micro, ledger, "month").any()
    assert ledger_drift(ledger, micro, "month") == {
        "counted": 1, "missing": 0, "moved": 1, "checked": 1,
    }  # fmt: skip
    rows = counted_rows(micro, ledger, {"2024-01"}, "month")
    assert rows["report_id"].tolist() == [now]
    renewed = joined({"monthly": ledger_part(ledger, "monthly"), "counted": rows})
    assert ledger_drift(renewed, micro, "month")["moved"] == 0


def test_the_pack_reports_leave_out_the_late_rows_of_the_microdata() -> None:
    """The late flags are per row of the microdata (counted reports on a building,
    dated): the report left out is the late one, whatever rows it skips before it."""
    reports = pd.DataFrame(
        {
            "report_id": ["unplaced", "duplicate", "undated", "kept", "late"],
            "building_id": [None, "A", "A", "A", "A"],
            "duplicate_of": [None, "kept", None, None, None],
            "reported_at": pd.to_datetime(
                ["2024-01-02", "2024-01-03", None, "2024-01-04", "2024-01-05"]
            ),
            "category": "chauffage",
        }
    )
    out = pack_reports(reports, np.array([False, True]))
    assert out["report_id"].tolist() == ["unplaced", "duplicate", "undated", "kept"]
    assert pack_reports(reports, np.zeros(2, dtype=bool)) is reports


def test_a_late_closure_moves_no_date_of_the_export_of_the_pack() -> None:
    """Without a date set (``[params.trends] as_of``), the trends stage dates the export
    at the latest report or closure time: a late report closed after every other one
    moved it (5 March beside 2 March at noon), and a heating report still open, opened
    26 hours before, became due: the share closed within the 48-hour target went from
    100 % to 50 % over the pack's reports. Over these, the date is theirs: the first
    pack's."""
    reports = pd.DataFrame(
        {
            "report_id": ["open", "closed", "late"],
            "building_id": "A",
            "category": "chauffage",
            "reported_at": pd.to_datetime(
                ["2024-03-01 10:00", "2024-03-02 00:00", "2024-01-10 00:00"]
            ),
            "closed_at": pd.to_datetime([None, "2024-03-02 12:00", "2024-03-05 00:00"]),
        }
    )
    every = followup_table(reports, targets_h={"chauffage": 48.0}, as_of=pd.Timestamp("2024-03-05"))
    profile = gpd.GeoDataFrame(
        {"building_id": ["A", "B"], "open_backlog": [1.0, np.nan], "median_delay_h": 1.0},
        geometry=gpd.points_from_xy([0, 1], [0, 1]), crs="EPSG:4326",
    )  # fmt: skip
    published = Published(
        profile, pd.DataFrame(), profile.iloc[0:0], {}, closing_delays=closing_delays_table(every)
    )
    kept = pack_reports(reports, np.array([False, False, True]))
    out = pack_followup(published, kept, targets_h={"chauffage": 48.0}, as_of=None)
    delays = out.closing_delays.set_index("category").loc["chauffage"]
    due = (delays["n_closed"], delays["n_due"], delays["share_closed_within_target"])
    assert due == (1, 1, 1.0)
    assert out.profile["open_backlog"].tolist()[0] == 1.0
    assert out.profile["median_delay_h"].tolist()[0] == 12.0
    assert np.isnan(out.profile["open_backlog"].tolist()[1])
