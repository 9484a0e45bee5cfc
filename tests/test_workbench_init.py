"""``vigie init``: from export files to a configuration that ingests every row.

The known answers come from elsewhere than the code under test: the demo configuration
(written by hand) for the demo exports, and the way the hand-made exports were written
(tests/workbench_exports.py) for the others. Each written configuration is loaded by the
configuration loader and ingested by ingestion, untouched.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.cli import main
from pipelines.config import load_config
from pipelines.ingest import ingest_site, read_file
from pipelines.io import read_json
from pipelines.osm import read_osm_bounds
from pipelines.reports import check_partition
from pipelines.workbench.detect import detect_roles
from pipelines.workbench.headers import header_score
from pipelines.workbench.labels import EXACT, FUZZY, UNMAPPED, propose
from tests.conftest import RAW, ROOT
from tests.test_make import _make, project_copy  # noqa: F401  (a copy of the project)
from tests.workbench_exports import (
    LABELS,
    OSM,
    Expected,
    english_us_csv,
    odd_french_latin1,
    workbook_addresses,
)

PARIS_CSV = RAW / "paris10" / "dansmarue_paris_2023-08_2024-09.csv"
TODAY = date(2025, 6, 1)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder as the working directory: the written configuration's
    output folders and the site's secret land in it, never in the project's own."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def init(*args: str) -> int:
    return main(["-q", "init", *args])


def init_yes(export: Path | str, out: Path, *more: str, site: str = "essai") -> Path:
    code = init(
        "--site", site, "--export", str(export), "--osm", str(OSM), "--out", str(out), "--yes",
        *more,
    )  # fmt: skip
    assert code == 0
    return out


def ingest(config_path: Path, site: str = "essai"):  # type: ignore[no-untyped-def]
    config = load_config(config_path)
    s = config.site(site)
    result = ingest_site(s, study_area_bbox=read_osm_bounds(s.osm), today=TODAY)
    assert not check_partition(result.summary["sources"])
    return result


# --------------------------------------------------------------------------- detection
def _demo_sources(simulated_bondy: Path) -> dict[str, tuple[Path, dict[str, str], tuple]]:
    """The demo configuration's sources: their file, columns and personal columns."""
    config = load_config(ROOT / "config" / "demo.toml", check_files=False)
    out = {}
    for site in config.sites:
        for s in site.sources:
            path = Path(s.path.replace("*", ""))
            if site.id == "bondy":
                path = simulated_bondy / path.name
            out[s.id] = (path, dict(s.columns), s.personal_columns)
    return out


@pytest.mark.parametrize("source", ["bailleur", "diagnostic", "kobo", "dansmarue"])
def test_detection_finds_the_columns_the_demo_configuration_names(
    simulated_bondy: Path, source: str
) -> None:
    """Every column the demo configuration's author chose by hand is found for the same
    role, and every column they declared personal is declared personal."""
    path, columns, personal = _demo_sources(simulated_bondy)[source]
    found = detect_roles(read_file(path, "auto"))
    roles = found.all_roles()
    assert {r: roles.get(r) for r in columns} == columns
    assert set(personal) <= set(found.personal)
    assert not set(found.personal) & set(roles.values())


@pytest.mark.parametrize(
    ("name", "columns"),
    [  # as tests/test_ingest.py configures these nasty files by hand
        ("tab_latin1.tsv", {"id": "Numéro", "date": "Date signalement", "category": "Thème",
                            "description": "Commentaire", "building_ref": "Résidence"}),
        ("excel_serial_dates.csv", {"id": "id", "date": "date", "category": "categorie",
                                    "address": "adresse"}),
        ("coordinates.csv", {"id": "id", "date": "date", "category": "categorie", "lat": "lat",
                             "lon": "lon"}),
    ],
)  # fmt: skip
def test_detection_keeps_a_plain_header_despite_bad_values(
    name: str, columns: dict[str, str]
) -> None:
    """Excel serial numbers under « date », swapped or Lambert-93 pairs under « lat » /
    « lon »: ingestion reads or rejects them one by one, so the header keeps its role."""
    found = detect_roles(read_file(ROOT / "tests" / "data" / "ingest" / name, "auto"))
    assert found.columns() == columns


def test_headers_are_read_whatever_their_language_or_spelling() -> None:
    assert header_score("date", "Signalé le") > header_score("date", "Clos le")
    assert header_score("closed_at", "Clos le") > header_score("date", "Clos le")
    assert header_score("closed_at", "Date de clôture") > header_score("date", "Date de clôture")
    assert header_score("subcategory", "Sous-catégorie") > header_score(
        "category", "Sous-catégorie"
    )
    assert header_score("id", "N° ticket") > 0
    assert header_score("id", "Ticket ID") > 0
    assert header_score("lat", "Latitude") > 0
    assert header_score("x", "Coord X") > 0
    assert header_score("address", "Nom du demandeur") == 0


def test_labels_exact_then_approximate_then_other() -> None:
    for label, code, how in LABELS:
        choice = propose(label)
        assert (choice.code, choice.how) == (code, how), label
    assert propose("PROPRETÉ").how == EXACT  # case and accents fold as ingestion folds them
    assert propose("Divers").code == "autre"
    assert propose("Divers").how == EXACT
    # Ties between synonyms go to the longest: "eau chaude" (heating), not "eau".
    assert propose("Problème d'eau chaude").code == "chauffage"
    assert propose("Panne d'ascenseur").how == FUZZY
    assert propose("Réclamation charges").how == UNMAPPED


# --------------------------------------------------------------------------- the demo
@pytest.mark.parametrize("site", ["bondy", "paris10"])
def test_init_on_the_demo_exports_ingests_as_the_demo_configuration(
    workdir: Path, simulated_bondy: Path, site: str
) -> None:
    """The written configuration puts every row of the demo exports (simulated Bondy,
    real DansMaRue) where the hand-written demo configuration puts it: per source,
    accepted, updated, duplicates, rejected by reason, outside the study area."""
    demo = load_config(ROOT / "config" / "demo.toml", check_files=False).site(site)
    # Paths from the project root (the test runs elsewhere); the simulator's exports
    # are the ones written for this session.
    folder = simulated_bondy if site == "bondy" else ROOT / Path(demo.sources[0].path).parent
    demo = replace(
        demo,
        osm=str(ROOT / demo.osm),
        sources=tuple(
            replace(s, path=str(folder / Path(s.path).name.replace("*", ""))) for s in demo.sources
        ),
    )
    args = []
    for s in demo.sources:
        args += ["--export" if s.kind == "reports" else "--observations", s.path]
    out = workdir / "config" / f"{site}_init.toml"
    code = init("--site", site, *args, "--osm", demo.osm, "--out", str(out), "--yes", "--no-secret")
    assert code == 0
    mine = ingest(out, site).summary["sources"]
    theirs = ingest_site(demo, study_area_bbox=read_osm_bounds(demo.osm), today=TODAY)
    by_file = {v["files"][0]: v for v in theirs.summary["sources"].values()}
    keys = (
        "kind",
        "rows_in",
        "accepted",
        "updated",
        "duplicates",
        "rejected",
        "outside_study_area",
    )
    assert len(mine) == len(demo.sources)
    for s in mine.values():
        other = by_file[s["files"][0]]
        assert {k: s[k] for k in keys} == {k: other[k] for k in keys}, s["files"]


# --------------------------------------------------------------------------- hand-made
BUILDERS = {
    "anglais, virgule, dates américaines": english_us_csv,
    "français inhabituel, latin-1, point-virgule, Lambert-93": odd_french_latin1,
    "classeur XLSX, adresses seules": workbook_addresses,
}


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_init_on_hand_made_exports_accounts_for_every_row(workdir: Path, kind: str) -> None:
    expected: Expected = BUILDERS[kind](workdir)
    out = init_yes(expected.path, workdir / "config" / "essai.toml")
    result = ingest(out)
    (s,) = result.summary["sources"].values()
    assert s["rows_in"] == expected.rows_in
    assert s["accepted"] == expected.accepted
    assert s["duplicates"] == expected.duplicates
    assert s["rejected"] == expected.rejected
    assert s["outside_study_area"] == 0
    rows = result.ingested.set_index("source_line")
    line, when = expected.a_date
    assert rows.loc[line, "reported_at"] == pd.Timestamp(when)
    # Each label reached the code it was written for.
    codes = {label: code for label, code, _ in LABELS}
    assert (rows["category"] == rows["category_source_label"].map(codes)).all()
    # Coordinates, whatever their writing, are the BAN's (Lambert-93 to degrees: < 1 m).
    if expected.points:
        ids = rows["report_id"].str.split(":").str[-1]
        ban = pd.DataFrame(expected.points, index=["lon", "lat"]).T.loc[ids]
        assert np.allclose(rows["lon"], ban["lon"], atol=1e-5)
        assert np.allclose(rows["lat"], ban["lat"], atol=1e-5)
    else:
        assert rows["lon"].isna().all()
        assert rows["address"].str.endswith("93140 Bondy").all()
    # No personal value reaches the accepted rows.
    text = result.ingested.astype(str).to_csv()
    assert "Resident 1" not in text
    assert "Dupré" not in text
    assert "0612345678" not in text


def test_the_written_block_says_what_it_found(workdir: Path) -> None:
    us = init_yes(english_us_csv(workdir).path, workdir / "us.toml")
    text = us.read_text(encoding="utf-8")
    assert 'date_format = "%m/%d/%Y %I:%M %p"' in text
    assert 'personal_columns = ["Resident name", "Phone"]' in text
    assert re.search(r'"Tapage nocturne" = "autre"  # NON RECONNU', text)
    assert re.search(r'"Ascenceur bloqué" = "ascenseur"  # approché', text)
    fr = init_yes(odd_french_latin1(workdir).path, workdir / "fr.toml", "--force")
    text = fr.read_text(encoding="utf-8")
    assert 'crs = "EPSG:2154"' in text
    assert 'separator = ";"' in text
    assert 'date = "Signalé le"' in text
    assert 'closed_at = "Clos le"' in text
    config = load_config(fr)
    assert config.processed_dir == "data/processed/fr"
    assert config.maps_dir == "maps/fr"


def test_a_workbook_whose_export_is_on_another_sheet_is_read_with_sheet(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A « Lisez-moi » sheet before the export: without --sheet, one message naming the
    sheet that has rows and the option; with it, the sheet written in the source and
    every row ingested."""
    import openpyxl

    expected = workbook_addresses(workdir)
    export = pd.read_excel(expected.path, dtype=object)
    book = openpyxl.Workbook()
    book.active.title = "Lisez-moi"
    book.active.append(["Export du 02/12/2026 : voir la feuille « Export GUSP »."])
    sheet = book.create_sheet("Export GUSP")
    sheet.append(list(export.columns))
    for row in export.itertuples(index=False):
        sheet.append(list(row))
    path = workdir / "classeur.xlsx"
    book.save(path)
    args = ("--site", "essai", "--export", str(path), "--osm", str(OSM), "--yes")

    assert init(*args, "--out", "a.toml") == 2
    err = capsys.readouterr().err
    assert "« Lisez-moi » n'a aucune ligne de données" in err
    assert "« Export GUSP »" in err
    assert '--sheet "Export GUSP"' in err
    assert "Traceback" not in err
    assert not (workdir / "a.toml").exists()

    assert init(*args, "--out", "b.toml", "--sheet", "Export GUSP") == 0
    assert 'sheet = "Export GUSP"' in (workdir / "b.toml").read_text(encoding="utf-8")
    (s,) = ingest(workdir / "b.toml").summary["sources"].values()
    assert s["rows_in"] == s["accepted"] == expected.rows_in

    assert init(*args, "--out", "c.toml", "--sheet", "Absente") == 2
    assert "feuille « Absente » absente" in capsys.readouterr().err


def test_the_interactive_path_asks_which_sheet_when_several_have_rows(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A workbook with a « Lisez-moi » and two exports (one per year): asked, the
    sheets with rows are listed, the first of them proposed, and the one chosen (here by
    its number) is written in the source and read. --sheet was the only way, and the
    dialogue never said the workbook had another export."""
    import openpyxl

    expected = workbook_addresses(workdir)
    export = pd.read_excel(expected.path, dtype=object)
    book = openpyxl.Workbook()
    book.active.title = "Lisez-moi"
    book.active.append(["Deux exports : 2024 et 2025."])
    halves = {"Export 2024": export.iloc[:10], "Export 2025": export.iloc[10:]}
    for title, part in halves.items():
        sheet = book.create_sheet(title)
        sheet.append(list(export.columns))
        for row in part.itertuples(index=False):
            sheet.append(list(row))
    path = workdir / "classeur.xlsx"
    book.save(path)
    answers = [
        "",  # nom du site : essai
        "2",  # feuille à lire : Export 2025
        "",  # ces colonnes conviennent-elles ? oui
        "",  # cette correspondance convient-elle ? oui
        "",  # écrire ? oui
        "n",  # créer le secret ? non
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(answers) + "\n"))
    args = ("--site", "essai", "--export", str(path), "--osm", str(OSM), "--out", "s.toml")
    assert main(["-q", "init", *args]) == 0
    shown = capsys.readouterr().out
    assert "a des lignes sur 2 feuilles" in shown
    assert "1. Export 2024" in shown
    assert "2. Export 2025" in shown
    assert "Lisez-moi" not in shown
    assert "Feuille à lire (nom ou numéro) [Export 2024]" in shown
    assert 'sheet = "Export 2025"' in (workdir / "s.toml").read_text(encoding="utf-8")
    (s,) = ingest(workdir / "s.toml").summary["sources"].values()
    assert s["rows_in"] == s["accepted"] == len(halves["Export 2025"])

    # The default: the first sheet with rows (Entrée); without dialogue, as before.
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(["", "", "", "", "", "n"]) + "\n"))
    assert main(["-q", "init", *args[:-1], "t.toml"]) == 0
    assert 'sheet = "Export 2024"' in (workdir / "t.toml").read_text(encoding="utf-8")
    assert init(*args[:-1], "u.toml", "--yes") == 2
    assert '--sheet "Export 2024"' in capsys.readouterr().err

    # One sheet with rows, not the first: proposed too, where --yes names --sheet.
    del book["Export 2024"]
    book.save(path)
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(["", "", "", "", "", "n"]) + "\n"))
    assert main(["-q", "init", *args[:-1], "v.toml"]) == 0
    assert "n'a de lignes que sur une feuille, pas la première" in capsys.readouterr().out
    assert 'sheet = "Export 2025"' in (workdir / "v.toml").read_text(encoding="utf-8")


def test_the_sheet_proposed_is_the_one_ingestion_reads_not_a_hidden_first_one(
    tmp_path: Path,
) -> None:
    """Ingestion reads a workbook whose first sheet is hidden from its first visible
    sheet; vigie init proposed the hidden one (« Ancien export ») as its default, and
    choosing it wrote no « sheet = », so the visible one was read after all. Now the
    visible sheet is proposed, the hidden one listed after it, marked, and choosing it
    names it; a hidden first sheet without rows asks nothing."""
    import openpyxl

    from pipelines.workbench.dialogue import Dialogue
    from pipelines.workbench.questions import ask_sheet

    book = openpyxl.Workbook()
    book.active.title = "Ancien export"
    for row in (["date", "adresse"], ["2024-01-01", "1 rue A"], ["2024-01-02", "3 rue C"]):
        book.active.append(row)
    book.active.sheet_state = "hidden"
    sheet = book.create_sheet("Export")
    for row in (["date", "adresse"], ["2024-02-01", "2 rue B"]):
        sheet.append(row)
    book.active = 1
    path = tmp_path / "classeur.xlsx"
    book.save(path)

    def asked(*answers: str) -> tuple[str | None, str]:
        out, given = io.StringIO(), iter(answers)
        return ask_sheet(Dialogue(out=out, read=lambda: next(given)), path), out.getvalue()

    chosen, shown = asked("")  # the default
    assert "1. Export\n" in shown
    assert "2. Ancien export (masquée)" in shown
    assert "Feuille à lire (nom ou numéro) [Export]" in shown
    assert chosen is None
    assert read_file(path, "auto", sheet=chosen).n_rows == 1  # Export's row
    chosen, _ = asked("2")
    assert chosen == "Ancien export"
    assert read_file(path, "auto", sheet=chosen).n_rows == 2

    # The hidden first sheet without rows: the visible one is read, nothing to ask.
    book["Ancien export"].delete_rows(1, 3)
    book.save(path)
    assert asked() == (None, "")


def test_an_overpass_place_gets_its_study_area_from_bbox(workdir: Path) -> None:
    """A place's outline is unknown offline: --bbox gives the study area, which the
    written configuration holds (ingestion needs one), and the buildings come online."""
    export = workbook_addresses(workdir).path
    box = "2.4785,48.9072,2.4905,48.9122"
    code = init("--site", "essai", "--export", str(export), "--osm", "overpass:place=Bondy, France",
                "--bbox", box, "--out", "p.toml", "--yes", "--no-secret")  # fmt: skip
    assert code == 0
    site = load_config(workdir / "p.toml").site("essai")
    assert site.osm == "overpass:place=Bondy, France"
    assert site.study_area_bbox == (2.4785, 48.9072, 2.4905, 48.9122)


# --------------------------------------------------------------------------- dialogue
def test_the_interactive_path_asks_and_takes_the_answers(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    export = odd_french_latin1(workdir).path
    answers = [
        "essai",  # identifiant du site
        "Résidence essai",  # nom
        "",  # fichier de configuration : config/essai.toml
        str(export),  # export n° 1
        "",  # observations ? non
        "",  # fin des exports
        str(OSM),  # extrait OSM
        "n",  # ces colonnes conviennent-elles ? non
        "description=",  # plus de description
        "status=inconnue",  # refusé : pas une colonne
        "",  # fin des changements
        "o",  # ces colonnes conviennent-elles ? oui
        "n",  # cette correspondance convient-elle ? non
        "tapage NOCTURNE=occupation",
        "",
        "",  # oui
        "",  # écrire ? oui
        "o",  # créer le secret ? oui
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(answers) + "\n"))
    assert main(["-q", "init"]) == 0
    shown = capsys.readouterr().out
    assert "Colonne « inconnue » absente" in shown
    text = (workdir / "config" / "essai.toml").read_text(encoding="utf-8")
    assert 'name = "Résidence essai"' in text
    assert "description =" not in text
    assert re.search(r'"Tapage nocturne" = "occupation"  # choisi par vous', text)
    assert (workdir / "data" / "secrets" / "essai.key").is_file()
    result = ingest(workdir / "config" / "essai.toml")
    assert (result.ingested["category_source_label"] == "Tapage nocturne").sum() == 5
    assert set(result.ingested.loc[result.ingested["category_source_label"] == "Tapage nocturne",
                                   "category"]) == {"occupation"}  # fmt: skip


def test_answers_that_end_too_soon_stop_with_one_message(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("essai\n"))
    assert main(["-q", "init"]) == 2
    err = capsys.readouterr().err
    assert "fin des réponses" in err
    assert "Traceback" not in err
    assert not (workdir / "config").exists()


# --------------------------------------------------------------------------- errors
def test_an_existing_file_is_never_overwritten_without_force(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = workbook_addresses(workdir).path
    out = workdir / "site.toml"
    out.write_text("# à moi\n", encoding="utf-8")
    assert init("--site", "s", "--export", str(export), "--osm", str(OSM), "--out", str(out),
                "--yes") == 2  # fmt: skip
    assert "existe déjà" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "# à moi\n"
    init_yes(export, out, "--force")
    assert load_config(out).site("essai").sources[0].columns["address"] == "Adresse complète"


def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--export", "absent.csv"], "absent.csv : fichier introuvable"),
        (["--export", "nodate.csv"], "aucune colonne de dates reconnue"),
        (["--export", "ok.csv", "--column", "date=Jour"], "colonne « Jour » absente"),
        (["--export", "ok.csv", "--column", "quand=Date"], "rôle de colonne « quand » inconnu"),
        (
            ["--export", "ok.csv", "--category", "Fuite=plomberie"],
            "« plomberie » n'est pas un code",
        ),
        (["--export", "ok.csv", "--category", "Tapage=autre"], "absente(s) des exports"),
        (["--export", "ok.csv", "--bbox", "2,48"], "--bbox « 2,48 »"),
        ([], "indiquez-en au moins un avec --export"),
        (["--export", "ok.csv", "--osm", "overpass:place=Bondy, France"], "avec --bbox"),
        # make passes the id to --site, where a leading « - » reads as an option.
        (["--export", "ok.csv", "--site=-s"], "--site « -s » : lettres sans accents"),
        (["--export", "ok.csv", "--site=_s"], "une lettre ou un chiffre d'abord"),
        # The same export given twice: two sources, each report counted twice.
        (["--export", "ok.csv", "--export", "./ok.csv"], "« ok.csv » est déjà lu par la source"),
    ],
)
def test_user_errors_exit_2_with_one_french_message(
    workdir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    _csv(workdir / "nodate.csv", "Numéro,Adresse\n1,2 rue X\n2,3 rue Y\n")
    _csv(workdir / "ok.csv", "Date,Adresse,Catégorie\n01/02/2024,2 rue X,Fuite\n")
    code = init("--site", "s", "--osm", str(OSM), "--out", "s.toml", "--yes", *args)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("vigie : erreur") == 1
    assert "Traceback" not in err
    assert not (workdir / "s.toml").exists()


# --------------------------------------------------------------------------- to the map
@pytest.mark.slow
def test_vigie_run_reaches_a_map_with_the_written_configuration(workdir: Path) -> None:
    """Done when: a hand-made export and the shipped extract, `vigie init` then `vigie run`,
    and a map, the TOML untouched."""
    expected = english_us_csv(workdir)
    out = init_yes(expected.path, workdir / "config" / "essai.toml")
    assert main(["-q", "run", "--config", str(out)]) == 0
    assert (workdir / "maps" / "essai" / "essai.html").is_file()
    assert (workdir / "maps" / "essai" / "index.html").is_file()
    summary = read_json(workdir / "data" / "processed" / "essai" / "essai" / "ingest_summary.json")
    assert not check_partition(summary["sources"])
    assert summary["totals"]["rows_in"] == expected.rows_in
    assert summary["totals"]["accepted"] == expected.accepted


@pytest.mark.slow
def test_make_demo_with_the_written_configuration(project_copy: Path) -> None:  # noqa: F811
    """Done when, literally: in a fresh copy of the project, a Latin-1 export with odd
    headers, `vigie init` then `make demo CONFIG=…`, and the site's map."""
    expected = odd_french_latin1(project_copy / "data" / "raw")
    python = str(project_copy / ".venv" / "bin" / "python")
    proc = subprocess.run(
        [python, "-m", "pipelines", "-q", "init", "--site", "essai", "--export",
         str(expected.path.relative_to(project_copy)), "--osm", "data/raw/bondy/bondy_nord.osm",
         "--out", "config/essai.toml", "--yes", "--no-secret"],
        cwd=project_copy, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    made = _make(project_copy, "demo", "CONFIG=config/essai.toml")
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    assert (project_copy / "maps" / "essai" / "essai.html").is_file()
    summary = read_json(project_copy / "data/processed/essai/essai/ingest_summary.json")
    assert not check_partition(summary["sources"])
    assert summary["totals"]["accepted"] == expected.accepted
