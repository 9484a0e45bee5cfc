"""The simulator's action register for Bondy (issue #17) and the effect estimates on it:
they find every planted effect and none where none was planted.

The register is read back from the written file as an analyst's spreadsheet would be
(``;``, UTF-8 with BOM, French headers), never from the simulator's variables; the truth
file says which actions had an effect.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import shapely

from pipelines.actions.effect import action_effects
from pipelines.osm.buildings import read_osm_buildings
from pipelines.simulate import stage as sim
from pipelines.taxonomy import map_labels

RAW = Path(__file__).resolve().parents[1] / "data" / "raw" / "bondy"
OSM, BAN, RPLS = RAW / "bondy_nord.osm", RAW / "ban_adresses_bondy.csv", RAW / "rpls_bondy.gpkg"

pytestmark = pytest.mark.skipif(not OSM.exists(), reason="données brutes de Bondy absentes")

# Independent copies of the register's vocabulary (``pipelines.published.ACTION_STATUSES``,
# ``DONE_STATUSES`` and the default ``[params.actions] partners``), kept here on purpose:
# the simulator's register is checked against the contract of issue 17, not against the
# constants it imports itself.
STATUSES = (
    "proposée",
    "décidée",
    "en cours",
    "réalisée",
    "vérifiée",
    "en attente partenaire",
    "reportée",
    "refusée",
    "abandonnée",
)
DONE = ("réalisée", "vérifiée")
PARTNERS = (
    "bailleur",
    "ville",
    "syndic",
    "État",
    "police",
    "association de locataires",
    "prestataire",
)


# ------------------------------------------------------------------------------ fixtures
def _run(root: Path, **kwargs: Any) -> dict[str, Path]:
    return sim.run(OSM, BAN, root / "raw", rpls_path=RPLS, actions_dir=root / "actions", **kwargs)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _run(tmp_path_factory.mktemp("sim_actions"), seed=42)


@pytest.fixture(scope="module")
def truth(written: dict[str, Path]) -> dict[str, Any]:
    return json.loads(written["truth"].read_text(encoding="utf-8"))["actions"]


def read_register(path: Path) -> pd.DataFrame:
    """The register as a spreadsheet saves it: ``;``, UTF-8 with BOM, strings."""
    return pd.read_csv(path, sep=";", encoding="utf-8-sig", dtype=str, keep_default_na=False)


def _day(text: str) -> pd.Timestamp | None:
    return pd.to_datetime(text, format="%d/%m/%Y") if text else None


def effect_inputs(register: pd.DataFrame) -> pd.DataFrame:
    """What the register's reader hands to :func:`action_effects` (contract §2), read
    here from the file with the contract's rules: building ids split on ``;``, category
    labels to codes, the completion date, else the status date of a « réalisée »."""
    completed = [
        _day(row["date_realisation"])
        or (_day(row["date_statut"]) if row["statut"] == "réalisée" else None)
        for _, row in register.iterrows()
    ]
    return pd.DataFrame(
        {
            "action_id": register["identifiant"],
            "building_ids": [tuple(filter(None, v.split(";"))) for v in register["batiments"]],
            "completed_date": completed,
            "categories": [
                tuple(map_labels(v.split(";"))[0]) if v else () for v in register["categories"]
            ],
        }
    )


def export_reports(written: dict[str, Path]) -> pd.DataFrame:
    """The ticketing export's valid rows on their true buildings (simulation truth), as
    the counted reports table: building, time, category code, household."""
    full = json.loads(written["truth"].read_text(encoding="utf-8"))
    export = pd.read_csv(
        written["reports"], sep=";", encoding="cp1252", dtype=str, keep_default_na=False
    )
    bad = {t for t, reason in full["bad_rows"].items() if reason != "exact_duplicate"}
    rows = export.drop_duplicates()
    rows = rows[~rows["N° ticket"].isin(bad)]
    where = {**full["address_buildings"], **full["coordinate_buildings"]}
    return pd.DataFrame(
        {
            "building_id": rows["N° ticket"].map(where),
            "reported_at": pd.to_datetime(rows["Date de création"], format="%d/%m/%Y %H:%M"),
            "category": map_labels(rows["Catégorie"].tolist())[0],
            "household_key": rows["N° ticket"].map(full["households"]),
        }
    )


def check_verdicts(effects: pd.DataFrame, truth: dict[str, Any]) -> None:
    """Every planted effect is found (« baisse »), and no effect (neither « baisse » nor
    « hausse ») where none was planted; the actions measured without a planted effect
    include some with enough reports for a verdict, so that this can fail."""
    verdict = dict(zip(effects["action_id"], effects["verdict"], strict=True))
    assert truth["effective"], "no planted effect"
    for action_id in truth["effective"]:
        assert verdict[action_id] == "baisse", action_id
    for action_id in truth["not_effective"]:
        assert verdict[action_id] not in ("baisse", "hausse"), action_id
    judged = [a for a in truth["not_effective"] if verdict[a] == "pas d'effet démontré"]
    assert len(judged) >= 2, judged
    for row in truth["actions"]:
        if not row["measurable"]:
            assert verdict[row["action_id"]] == "non mesurable", row["action_id"]


# ------------------------------------------------------------------------------ register
def test_register_is_a_french_semicolon_csv_with_a_bom(written: dict[str, Path]) -> None:
    raw = written["actions"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert written["actions"].parent.name == "actions"
    header = raw[3:].decode("utf-8").splitlines()[0].split(";")
    assert header == list(sim.REGISTER_COLUMNS)
    assert header[:4] == ["identifiant", "date_comite", "type_comite", "batiments"]


def test_register_has_twenty_plausible_actions(
    written: dict[str, Path], truth: dict[str, Any]
) -> None:
    register = read_register(written["actions"])
    assert 18 <= len(register) <= 22
    assert register["identifiant"].is_unique
    assert register["identifiant"].str.fullmatch(r"A-20\d\d-\d{3}").all()
    assert set(register["statut"]) <= set(STATUSES)
    assert len(set(register["statut"])) >= 7  # main and side statuses
    assert set(register["niveau"]) == {"opérationnelle", "organisationnelle", "structurelle"}
    assert set(register["responsabilite"]) == {"bailleur", "autre acteur", "partagée"}
    assert set(register["partenaire_pilote"]) <= set(PARTNERS)
    assert len(set(register["partenaire_pilote"])) >= 5
    assert set(register["type_comite"]) == {"comité technique", "comité de pilotage"}
    committee = pd.to_datetime(register["date_comite"], format="%d/%m/%Y")
    due = pd.to_datetime(register["echeance"], format="%d/%m/%Y")
    status = pd.to_datetime(register["date_statut"], format="%d/%m/%Y")
    assert (due > committee).all()
    assert (status >= committee).all()
    # over the two years of reports
    assert committee.min() >= pd.Timestamp("2024-01-01")
    assert status.max() <= pd.Timestamp(truth["as_of"])
    assert committee.max() - committee.min() > pd.Timedelta(days=600)
    # every action has a target: buildings of the extract, or a drawn area
    known = set(read_osm_buildings(OSM)["building_id"])
    for _, row in register.iterrows():
        assert row["batiments"] or row["zone_dessinee"], row["identifiant"]
        assert set(filter(None, row["batiments"].split(";"))) <= known


def test_overdue_actions_follow_from_the_register(
    written: dict[str, Path], truth: dict[str, Any]
) -> None:
    register = read_register(written["actions"])
    due = pd.to_datetime(register["echeance"], format="%d/%m/%Y")
    closed = register["statut"].isin(("réalisée", "vérifiée", "refusée", "abandonnée"))
    overdue = (due < pd.Timestamp(truth["as_of"])) & ~closed
    assert 3 <= overdue.sum() <= 6
    said = {row["action_id"]: row["is_overdue"] for row in truth["actions"]}
    assert dict(zip(register["identifiant"], overdue, strict=True)) == said


def test_drawn_area_surrounds_its_buildings(
    written: dict[str, Path], truth: dict[str, Any]
) -> None:
    register = read_register(written["actions"])
    drawn = register[register["zone_dessinee"] != ""]
    assert len(drawn) >= 1
    buildings = read_osm_buildings(OSM).set_index("building_id")
    by_id = {row["action_id"]: row for row in truth["actions"]}
    for _, row in drawn.iterrows():
        area = shapely.from_wkt(row["zone_dessinee"])
        assert area.geom_type == "Polygon"
        inside = buildings.loc[by_id[row["identifiant"]]["building_ids"], "geometry"]
        assert all(area.contains(g.representative_point()) for g in inside)


def test_truth_lists_the_effective_and_the_measured_others(
    written: dict[str, Path], truth: dict[str, Any]
) -> None:
    register = read_register(written["actions"]).set_index("identifiant")
    assert len(truth["effective"]) >= 4
    assert len(truth["not_effective"]) >= 3
    assert set(truth["effective"]).isdisjoint(truth["not_effective"])
    for row in truth["actions"]:
        if row["planted_effect"]:
            # carried out, and the problem fell by at least half on the target
            assert register.loc[row["action_id"], "statut"] in DONE
            assert row["effect_size"] >= 0.5
            assert row["expected_before"] >= 25
        if row["scenario"] == "no_effect":
            assert row["planted_problem"]
            assert not row["planted_effect"]
            assert abs(row["effect_size"]) < 0.1
        if not row["completed_date"]:
            assert register.loc[row["action_id"], "statut"] not in DONE


# ------------------------------------------------------------------------------- effects
def test_effects_find_the_planted_ones_and_no_other(
    written: dict[str, Path], truth: dict[str, Any]
) -> None:
    register = read_register(written["actions"])
    effects = action_effects(
        effect_inputs(register),
        export_reports(written),
        pd.DataFrame({"building_id": [], "dwellings": []}),
        window_months=truth["window_months"],
        period_end=pd.Timestamp(truth["as_of"]),
        min_reports=10,
    )
    assert list(effects["action_id"]) == list(register["identifiant"])
    check_verdicts(effects, truth)
    # the register's completion dates are the truth's
    done = dict(zip(effects["action_id"], effects["before_start"], strict=True))
    for row in truth["actions"]:
        if row["measurable"]:
            start = pd.Timestamp(row["completed_date"]) - pd.DateOffset(months=6)
            assert done[row["action_id"]] == start


@pytest.mark.slow  # a second whole simulation
def test_null_simulation_has_a_register_and_no_effect(tmp_path: Path) -> None:
    written = _run(tmp_path, seed=7, pattern=False)
    truth = json.loads(written["truth"].read_text(encoding="utf-8"))["actions"]
    register = read_register(written["actions"])
    assert len(register) == len(truth["actions"]) >= 18
    assert truth["effective"] == []
    assert not any(row["planted_problem"] for row in truth["actions"])
    effects = action_effects(
        effect_inputs(register),
        export_reports(written),
        pd.DataFrame({"building_id": [], "dwellings": []}),
        window_months=6,
        period_end=pd.Timestamp(truth["as_of"]),
        min_reports=10,
    )
    assert not effects["verdict"].isin(("baisse", "hausse")).any()


@pytest.mark.slow  # a second whole simulation
def test_the_register_leaves_every_other_report_as_it_was(
    written: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without any action, the export is the same but for the planted problems' rows
    (ticket numbers and the households' names, phones and flats aside)."""
    from pipelines.simulate import actions

    monkeypatch.setattr(actions, "SCENARIO", ())
    bare = _run(tmp_path, seed=42)
    assert read_register(bare["actions"]).empty
    columns = [c for c in sim.REPORT_COLUMNS if c not in (*sim.PERSONAL_COLUMNS, "N° ticket")]

    def read(path: Path) -> pd.DataFrame:
        return pd.read_csv(path, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)

    full, export = read(written["reports"]), read(bare["reports"])
    keys = list(full[columns].itertuples(index=False, name=None))
    left = Counter(keys) - Counter(export[columns].itertuples(index=False, name=None))
    assert sum(left.values()) == len(full) - len(export) > 100  # nothing of the bare run lost
    # What the register added: its planted problems' reports, on their targets.
    truth = json.loads(written["truth"].read_text("utf-8"))
    assert truth["actions"]["planted_rows"] == len(full) - len(export)
    where = {**truth["address_buildings"], **truth["coordinate_buildings"]}
    planted = {
        (b, c)
        for r in truth["actions"]["actions"]
        if r["planted_problem"]
        for b in r["building_ids"]
        for c in r["categories"]
    }
    added = []
    for ticket, key in zip(full["N° ticket"], keys, strict=True):
        if left[key] > 0:
            left[key] -= 1
            added.append((ticket, key[columns.index("Catégorie")]))
    for ticket, label in added:
        if ticket in where:  # (an exact duplicate's copy shares its ticket)
            assert (where[ticket], map_labels([label])[0][0]) in planted, ticket


@pytest.mark.slow  # a second whole simulation
def test_same_seed_gives_the_same_register(written: dict[str, Path], tmp_path: Path) -> None:
    again = _run(tmp_path, seed=42)
    assert again["actions"].read_bytes() == written["actions"].read_bytes()


@pytest.mark.slow
def test_effects_on_the_pipelines_reports_find_the_planted_ones(demo_run: Any) -> None:
    """End to end: the reports as the pipeline geocoded them (each on the building it
    found) and the buildings with their known dwellings, as the actions stage reads
    them; the register where the simulator wrote it beside the exports."""
    truth = json.loads((demo_run.raw_bondy / "simulation_truth.json").read_text("utf-8"))
    register = read_register(demo_run.raw_bondy / sim.REGISTER_FILE)
    reports = pd.read_parquet(demo_run.site("bondy") / "reports.parquet")
    buildings = pd.read_parquet(
        demo_run.site("bondy") / "buildings.parquet", columns=["building_id", "dwellings"]
    )
    effects = action_effects(
        effect_inputs(register),
        reports,
        buildings,
        window_months=6,
        period_end=pd.Timestamp(reports["reported_at"].max()),
        min_reports=10,
    )
    check_verdicts(effects, truth["actions"])
    assert set(effects["rate_unit"].dropna()) <= {"pour 100 logements", "par mois"}


@pytest.mark.slow
def test_the_demo_s_overdue_actions_are_the_planted_ones(demo_run: Any) -> None:
    """The demo's follow-up is made on its reference date (the simulated data's last day,
    pinned in the configuration), not on the machine's: the actions it finds overdue are
    exactly those the simulator planted overdue, in the summary, the published table and
    the pack's count."""
    truth = json.loads((demo_run.raw_bondy / "simulation_truth.json").read_text("utf-8"))
    planted = sorted(r["action_id"] for r in truth["actions"]["actions"] if r["is_overdue"])
    assert planted  # the scenario plants some
    summary = json.loads((demo_run.site("bondy") / "actions_summary.json").read_text("utf-8"))
    assert summary["today"] == truth["actions"]["as_of"]
    assert summary["n_overdue"] == len(planted)
    table = pd.read_parquet(demo_run.site("bondy") / "published" / "actions.parquet")
    late = table[table["is_overdue"].astype(bool)]
    assert sorted(late["action_id"]) == planted
    site = json.loads(
        (demo_run.site("bondy") / "published" / "site.json").read_text(encoding="utf-8")
    )
    assert site["actions"]["n_overdue"] == len(planted)
