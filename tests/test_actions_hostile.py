"""The action register as a careless or hostile analyst keeps it, on the real Bondy
buildings (the site of :mod:`tests.test_actions`): an id typed again in another case or
pasted with invisible or look-alike characters, a completion date before the committee
that decided the action or after the day of the run, a register saved from a
spreadsheet in English (dates month first) or in short ISO dates (year first); a
register folder gone; a stage given another site's processed folder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipelines.actions import HEADERS
from pipelines.actions import run as run_actions
from pipelines.cli import main
from pipelines.errors import InputError, OutputError
from tests.conftest import ROOT
from tests.test_actions import _config, _good, _run, _write_csv, _write_xlsx, site  # noqa: F401 (fixture)


def test_an_id_typed_again_in_another_case_or_pasted_is_the_same_action(
    site: dict[str, Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    # « a-1 » typed in lower case, « A‑1 » with a non-breaking hyphen (Word), « A-\u200b1 »
    # with a zero-width space, « Ａ-1 » in full width (a PDF): each was a second action
    # on the same building, counted twice in the follow-up and the committee's table.
    ids = site["ids"]
    rows = [
        _good("A-1", ids[0]),
        _good("a-1", ids[0]),
        _good("A\u20111", ids[0]),
        _good("A-\u200b1", ids[0]),
        _good("\uff21-1", ids[0]),
        _good("B-2", ids[1]),
        _good("b-2", ids[1], probleme="Autre problème"),
    ]
    _write_xlsx(tmp_path / "register" / "actions.xlsx", rows)
    actions, rejected, summary = _run(site, tmp_path)

    assert sorted(actions["action_id"]) == ["A-1"]
    counts = summary["counts"]
    assert counts["duplicates_merged"] == 4
    assert counts["rejected"] == 2
    assert counts["rows_in"] == counts["kept"] + counts["duplicates_merged"] + counts["rejected"]
    assert sorted(rejected["source_line"].astype(int)) == [7, 8]
    assert set(rejected["reason"]) == {"conflicting_duplicate"}
    assert sorted(rejected["action_id"]) == ["B-2", "b-2"]
    assert "« B-2 » ou « b-2 »" in rejected["reason_fr"].iloc[0]


def test_a_completion_date_before_the_committee_or_after_the_run_is_refused(
    site: dict[str, Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    # The committee of 12/03/2025 decided them; the run is on 01/09/2025. A completion
    # dated before the decision, or in the future, was kept: the effect was measured
    # around a date when nothing had been done.
    ids = site["ids"]
    done = {"statut": "réalisée", "date_statut": "01/06/2025"}
    rows = [
        _good("D-1", ids[0], **done, date_realisation="01/02/2025"),
        _good("D-2", ids[1], **done, date_realisation="01/12/2025"),
        _good("D-3", ids[2], **done, date_realisation="12/03/2025"),
    ]
    _write_xlsx(tmp_path / "register" / "actions.xlsx", rows)
    actions, rejected, summary = _run(site, tmp_path)

    assert sorted(actions["action_id"]) == ["D-3"]
    assert actions["completed_date"].iloc[0] == pd.Timestamp("2025-03-12")
    got = {int(r.source_line): (r.reason, r.column, r.reason_fr) for r in rejected.itertuples()}
    assert set(got) == {2, 3}
    assert got[2][:2] == ("completed_before_committee", "date_realisation")
    assert "antérieure à la date du comité (2025-03-12)" in got[2][2]
    assert got[3][:2] == ("completed_in_future", "date_realisation")
    assert "postérieure au jour du traitement (2025-09-01)" in got[3][2]
    counts = summary["counts"]
    assert counts["rows_in"] == 3 == counts["kept"] + counts["rejected"]


def test_a_register_with_month_first_dates_is_read_month_first_and_told(
    site: dict[str, Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    # Saved from Excel in English: « 06/30/2025 » was refused, and « 03/04/2025 » of the
    # same file became 3 April instead of 4 March (silently: its row was kept).
    ids = site["ids"]
    us = {"date_comite": "03/12/2025", "echeance": "06/30/2025", "date_statut": "03/12/2025"}
    rows = [
        _good("U-1", ids[0], **us),
        _good("U-2", ids[1], date_comite="03/04/2025", echeance="06/04/2025", date_statut=""),
    ]
    lines = [";".join(str(r.get(h, "")) for h in HEADERS) for r in rows]
    _write_csv(tmp_path / "register" / "actions.csv", lines)
    actions, rejected, summary = _run(site, tmp_path)

    assert rejected.empty, rejected.to_dict("records")
    got = actions.set_index("action_id")
    assert got.at["U-1", "due_date"] == pd.Timestamp("2025-06-30")
    assert got.at["U-2", "committee_date"] == pd.Timestamp("2025-03-04")
    assert got.at["U-2", "due_date"] == pd.Timestamp("2025-06-04")
    (note,) = summary["file_notes"]
    assert note["reason"] == "dates_month_first"
    assert note["lines"] == [2]
    assert "mois en premier" in note["reason_fr"]


def test_a_register_with_year_first_dates_is_read_year_first_and_told(
    site: dict[str, Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    # A spreadsheet set to short ISO dates writes « 25-03-12 » for 12 March 2025. Read
    # day first it was 25 March 2012: Y-1's committee of 2012 was kept without a word
    # (before the study, 2015), and Y-3's rows refused for a completion « before the
    # committee » that nobody wrote. The French « 12/03/25 » of another file stays day
    # first: its dates fall in the study read so.
    ids = site["ids"]
    rows = [
        _good("Y-1", ids[0], date_comite="25-03-12", echeance="25-06-30", date_statut="25-03-12"),
        _good("Y-2", ids[1], date_comite="25-02-11", echeance="25-12-31", date_statut="25-04-02"),
        _good(
            "Y-3",
            ids[2],
            date_comite="24-11-19",
            statut="réalisée",
            date_statut="25-08-05",
            date_realisation="25-07-21",
            echeance="25-09-01",
        ),
    ]
    lines = [";".join(str(r.get(h, "")) for h in HEADERS) for r in rows]
    _write_csv(tmp_path / "register" / "actions.csv", lines)
    french = [_good("F-1", ids[3], date_comite="12/03/25", echeance="30/06/25", date_statut="")]
    lines = [";".join(str(r.get(h, "")) for h in HEADERS) for r in french]
    _write_csv(tmp_path / "register" / "actions_fr.csv", lines)
    actions, rejected, summary = _run(site, tmp_path)

    assert rejected.empty, rejected.to_dict("records")
    got = actions.set_index("action_id")
    assert got.at["Y-1", "committee_date"] == pd.Timestamp("2025-03-12")
    assert got.at["Y-1", "due_date"] == pd.Timestamp("2025-06-30")
    assert got.at["Y-2", "due_date"] == pd.Timestamp("2025-12-31")
    assert got.at["Y-3", "committee_date"] == pd.Timestamp("2024-11-19")
    assert got.at["Y-3", "completed_date"] == pd.Timestamp("2025-07-21")
    assert got.at["F-1", "committee_date"] == pd.Timestamp("2025-03-12")
    assert got.at["F-1", "due_date"] == pd.Timestamp("2025-06-30")
    (note,) = summary["file_notes"]
    assert (note["file"], note["reason"]) == ("actions.csv", "dates_year_first")
    assert note["lines"] == [2, 3, 4]
    assert "année en premier" in note["reason_fr"]
    counts = summary["counts"]
    assert counts["rows_in"] == 4 == counts["kept"]


def test_a_stage_given_another_site_s_processed_folder_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Paris 10e's folder given for Bondy: the actions stage refused every action of
    # Bondy as « bâtiment absent des bâtiments actuels : démoli ? » (exit 0), and the
    # stages before it wrote Bondy's files over Paris's.
    paris = tmp_path / "processed" / "paris10"
    paris.mkdir(parents=True)
    (paris / "ingest_summary.json").write_text('{"site": "paris10"}', encoding="utf-8")
    before = sorted(p.name for p in paris.iterdir())
    argv = ["-q", "stage", "actions", "--config", str(ROOT / "config" / "demo.toml")]
    argv += ["--site", "bondy", "--processed-dir", str(paris), "--maps-dir", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{paris} : ce dossier est celui du site « paris10 »" in err
    assert "pas de « bondy »" in err
    assert sorted(p.name for p in paris.iterdir()) == before


def test_a_register_folder_gone_removes_no_action_and_says_so(
    site: dict[str, Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    # A share not mounted, a folder renamed: read as an empty register, every action was
    # flagged « retirée » and as many removals written for good in the history (exit 0).
    ids = site["ids"]
    _write_xlsx(
        tmp_path / "register" / "actions.xlsx", [_good("A-1", ids[0]), _good("A-2", ids[1])]
    )
    _run(site, tmp_path)
    history = (tmp_path / "archive" / "actions_history.csv").read_bytes()
    (tmp_path / "register").rename(tmp_path / "register_renamed")
    with pytest.raises(InputError, match="est introuvable, alors que l'archive suit 2 actions"):
        _run(site, tmp_path)
    (tmp_path / "register").mkdir()
    with pytest.raises(InputError, match="ne contient aucun registre"):
        _run(site, tmp_path)
    assert (tmp_path / "archive" / "actions_history.csv").read_bytes() == history
    # Emptied on purpose (the header kept), the register removes them.
    _write_xlsx(tmp_path / "register" / "actions.xlsx", [])
    actions, _, summary = _run(site, tmp_path)
    assert actions["is_removed"].all()
    assert summary["n_removed"] == 2


def test_a_status_that_contradicts_the_dates_measures_no_effect_and_is_told(
    site: dict[str, Any],  # noqa: F811
    simulated_bondy: Path,
    tmp_path: Path,
) -> None:
    # The demo's register, made hostile: an action « décidée » given a completion date
    # had its effect measured and published for an action not carried out; a status
    # dated before the committee that decided the action, or « réalisée » dated before
    # the completion, was taken as it came.
    register = pd.read_csv(
        simulated_bondy / "actions.csv", sep=";", dtype=str, keep_default_na=False
    )
    line = {a: int(i) + 2 for i, a in register["identifiant"].items()}
    edits = {
        "A-2025-006": {"date_realisation": "01/07/2025"},  # décidée, committee 10/06/2025
        "A-2025-004": {"date_statut": "01/02/2025"},  # en cours, committee 11/02/2025
        "A-2025-001": {"date_statut": "01/04/2025"},  # réalisée on 24/04/2025
        "A-2025-010": {"date_statut": "01/12/2025"},  # proposée, committee 09/12/2025
    }
    for action_id, values in edits.items():
        for column, value in values.items():
            register.loc[register["identifiant"] == action_id, column] = value
    folder = tmp_path / "register"
    folder.mkdir()
    register.to_csv(folder / "actions.csv", sep=";", index=False, encoding="utf-8-sig")
    config = _config(tmp_path)
    later = {"ingest": {"today": "2026-01-15"}}  # after the register's last status
    config = replace(config, sites=(replace(config.sites[0], params=later),))
    actions, rejected, summary = _run(site, tmp_path, config=config)

    got = {r.action_id: (int(r.source_line), r.reason, r.column) for r in rejected.itertuples()}
    assert got == {
        "A-2025-006": (line["A-2025-006"], "completed_without_done_status", "date_realisation"),
        "A-2025-004": (line["A-2025-004"], "status_before_committee", "date_statut"),
        "A-2025-001": (line["A-2025-001"], "status_before_completion", "date_statut"),
    }
    reasons = dict(zip(rejected["action_id"], rejected["reason_fr"], strict=True))
    assert "statut « décidée »" in reasons["A-2025-006"]
    assert "antérieure à la date du comité (2025-02-11)" in reasons["A-2025-004"]
    assert "antérieure à la date de réalisation (2025-04-24)" in reasons["A-2025-001"]
    # Nothing measured for an action not carried out; a proposal may precede its
    # committee; the other rows as they were.
    assert set(actions["action_id"]) == set(register["identifiant"]) - set(got)
    done = actions[actions["completed_date"].notna()]
    assert set(done["status"]) <= {"réalisée", "vérifiée"}
    assert "A-2025-010" in set(actions["action_id"])
    counts = summary["counts"]
    assert counts["rows_in"] == len(register) == counts["kept"] + counts["rejected"]


def test_an_action_abandoned_after_it_was_done_has_no_effect_measured(
    site: dict[str, Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    # « réalisée » on 10/05/2025, then a later copy of the register says « abandonnée »
    # on 01/07/2025. Before, the completion of the first run stayed: the abandoned
    # action kept its completion date and had an effect measured and published.
    ids = site["ids"]
    done = _good("B-1", ids[0], statut="réalisée", date_statut="10/05/2025")
    register = tmp_path / "register" / "actions.xlsx"
    _write_xlsx(register, [done, _good("B-2", ids[1])])
    first, _, _ = _run(site, tmp_path)
    assert pd.Timestamp(first.set_index("action_id").loc["B-1", "completed_date"]) == (
        pd.Timestamp("2025-05-10")
    )
    _write_xlsx(register, [{**done, "statut": "abandonnée", "date_statut": "01/07/2025"}])
    actions, rejected, summary = _run(site, tmp_path, now=pd.Timestamp("2025-09-02", tz="UTC"))
    b1 = actions.set_index("action_id").loc["B-1"]
    assert b1["status"] == "abandonnée"
    assert pd.isna(b1["completed_date"])
    assert b1["verdict"] == "non mesurable"
    assert rejected.empty
    (message,) = [m for m in summary["messages"]["history"] if "B-1" in m]
    assert "« réalisée » → « abandonnée »" in message
    assert "l'effet de l'action n'est plus mesuré" in message


@pytest.mark.parametrize("blocked", ["out", "archive"])
def test_an_output_folder_that_cannot_be_written_is_one_french_error(
    site: dict[str, Any],  # noqa: F811
    tmp_path: Path,
    blocked: str,
) -> None:
    # The processed folder (or the register's archive) where a file already is: every
    # write fails as in a read-only folder (root ignores chmod). One OutputError naming
    # the file (the command's « vigie : erreur : … », exit 2), no traceback.
    _write_xlsx(tmp_path / "register" / "actions.xlsx", [_good("C-1", site["ids"][0])])
    blocker = tmp_path / "pas_un_dossier"
    blocker.write_text("x\n", encoding="utf-8")
    folders = {"out": tmp_path / "out", "archive": tmp_path / "archive"}
    folders[blocked] = blocker / blocked
    processed = site["processed"]
    with pytest.raises(OutputError) as err:
        run_actions(
            _config(tmp_path),
            "bondy",
            buildings_path=processed / "buildings.parquet",
            zones_path=processed / "zones.parquet",
            reports_path=processed / "reports.parquet",
            annotations_path=None,
            out_dir=folders["out"],
            folder=tmp_path / "register",
            archive_dir=folders["archive"],
        )
    assert str(blocker / blocked) in str(err.value)
    assert "écriture impossible" in str(err.value)


def test_a_problem_of_megabytes_is_cut_with_a_note_and_its_action_kept(
    site: dict[str, Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    # A mail thread pasted into « probleme » (80 000 characters). Before, it was carried
    # whole into actions.parquet and the committee's pack; now cut, the action kept.
    from pipelines.ingest import MAX_CELL_CHARS

    long = "Fuite en cave, " + "voir le courriel " * 5000
    register = tmp_path / "register" / "actions.xlsx"
    _write_xlsx(
        register, [_good("D-1", site["ids"][0], probleme=long), _good("D-2", site["ids"][1])]
    )
    actions, rejected, summary = _run(site, tmp_path)
    assert rejected.empty
    problem = actions.set_index("action_id").loc["D-1", "problem"]
    assert problem.startswith("Fuite en cave, voir le courriel")
    assert problem.endswith(" […]")
    assert len(problem) <= MAX_CELL_CHARS + 4
    (note,) = [n for n in summary["file_notes"] if n["reason"] == "long_cells"]
    assert note["file"] == "actions.xlsx"
    assert note["lines"] == [2]
    assert "« probleme »" in note["reason_fr"]
