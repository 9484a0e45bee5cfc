"""The make fragment written by `vigie deps`: folders from the configuration, paths make
can carry (spaces, accents, apostrophes, parentheses), a French refusal for the others.
Unit tier: no make run here (tests/test_make.py runs make in a copy of the tree)."""

from __future__ import annotations

import glob
import json
import subprocess
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.config import load_config
from pipelines.config.make import deps_fragment, make_name, shell_glob
from pipelines.errors import ConfigError
from tests.conftest import ROOT

DEMO = ROOT / "config" / "demo.toml"


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "essai.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _one_site(
    tmp_path: Path,
    processed: str = "data/processed",
    source: str = "signalements.csv",
    osm: str = "paris10.osm",
) -> str:
    """A one-site configuration whose source and OSM files exist under ``tmp_path``
    (copies of the shipped Paris files), so that only the path's spelling is at stake."""
    raw = ROOT / "data" / "raw" / "paris10"
    (tmp_path / osm).write_bytes((raw / "paris10.osm").read_bytes())
    if not any(ch in source for ch in "*?["):
        (tmp_path / source).write_bytes((raw / "dansmarue_paris_2023-08_2024-09.csv").read_bytes())
    # json.dumps: a TOML basic string (a backslash escaped, unlike Python's repr in '…').
    return (
        f"[project]\nprocessed_dir = {json.dumps(processed)}\nmaps_dir = 'sorties (été)/cartes'\n"
        'annotations_dir = "notes d\'équipe"\n'
        f"[[sites]]\nid = 'p10'\nosm = {json.dumps(str(tmp_path / osm))}\n"
        f"[[sites.sources]]\nid = 's'\npath = {json.dumps(str(tmp_path / source))}\n"
    )


def test_demo_fragment_names_the_configured_folders() -> None:
    text = deps_fragment(load_config(DEMO))
    lines = text.splitlines()
    for var, value in (
        ("PROCESSED", "data/processed"),
        ("MAPS", "maps"),
        ("ANNOTATIONS", "data/annotations"),
    ):
        assert f"{var} := {value}" in lines
        assert f"RAW_{var} := {value}" in lines
    assert "SITES := bondy paris10" in lines
    assert "SOURCES_paris10 := data/raw/paris10/dansmarue_paris_2023-08_2024-09.csv" in lines


def test_folders_with_spaces_accents_and_parentheses(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, _one_site(tmp_path, processed="sorties (été)/données")))
    lines = deps_fragment(config).splitlines()
    assert "PROCESSED := sorties\\ (été)/données" in lines
    assert "RAW_PROCESSED := sorties (été)/données" in lines
    assert "MAPS := sorties\\ (été)/cartes" in lines
    assert "RAW_ANNOTATIONS := notes d'équipe" in lines
    # The notes folder is listed by bash, since make's $(wildcard) cuts names at spaces.
    assert "GLOB_p10_notes := 'notes d'\"'\"'équipe/p10/'*" in lines


@pytest.mark.parametrize(
    ("path", "escaped"),
    [
        ("a b/c (d).csv", "a\\ b/c\\ (d).csv"),
        ("l'été #2.csv", "l'été\\ \\#2.csv"),
        ("prix $5.csv", "prix\\ $$5.csv"),
    ],
)
def test_make_name(path: str, escaped: str) -> None:
    assert make_name(path) == escaped


@pytest.mark.parametrize(
    ("key", "kwargs"),
    [
        ("sites[0].sources[0].path", {"source": "exports: mars.csv"}),
        ("sites[0].sources[0].path", {"source": "a;b.csv"}),
        ("sites[0].sources[0].path", {"source": "a\\b.csv"}),
        ("sites[0].sources[0].path", {"source": "100%.csv"}),
        ("sites[0].osm", {"osm": "fond:osm.osm"}),
        ("project.processed_dir", {"processed": "sorties/*"}),
        ("project.processed_dir", {"processed": " sorties"}),
    ],
)
def test_paths_make_cannot_carry_are_refused_in_french(
    tmp_path: Path, key: str, kwargs: dict[str, str]
) -> None:
    config = load_config(_config(tmp_path, _one_site(tmp_path, **kwargs)))
    with pytest.raises(ConfigError) as err:
        deps_fragment(config)
    assert key in str(err.value)
    assert "essai.toml" in str(err.value)
    assert "renommez" in str(err.value) or "espace" in str(err.value)


def test_cli_deps_exits_2_without_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, _one_site(tmp_path, source="exports: mars.csv"))
    out = tmp_path / "deps.mk"
    assert main(["deps", "--config", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "make ne sait pas traiter" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_shell_glob_matches_what_python_glob_matches(tmp_path: Path) -> None:
    folder = tmp_path / "Mes exports (été) d'Élodie"
    folder.mkdir()
    names = [
        "signalements 2024-01.csv",
        "signalements 2024-02 (corrigé).csv",
        "signalements $HOME #3.csv",
        ".signalements cachés.csv",
        "autre.csv",
    ]
    for name in names:
        (folder / name).write_text("x\n", encoding="utf-8")
    for pattern in ("signalements *.csv", "signalements 2024-0[12]*.csv", "*[0-9]?csv"):
        full = f"{folder}/{pattern}"
        listed = subprocess.run(
            ["bash", "-c", f"shopt -s nullglob; printf '%s\\n' {shell_glob(full)}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        assert sorted(listed) == sorted(glob.glob(full)), pattern
        assert listed  # every pattern above matches something


def test_output_folders_holding_inputs_are_refused(tmp_path: Path) -> None:
    # processed_dir/<site> would be the folder of the site's raw files: `make clean`
    # would delete them, the stages would write among them.
    text = _one_site(tmp_path, processed=str(tmp_path.parent)).replace(
        "id = 'p10'", f"id = {tmp_path.name!r}"
    )
    with pytest.raises(ConfigError) as err:
        deps_fragment(load_config(_config(tmp_path, text)))
    assert "make clean" in str(err.value)
    assert "sites[0].osm" in str(err.value)
    notes = _one_site(tmp_path, processed="notes d'équipe/sorties")
    with pytest.raises(ConfigError) as err:
        deps_fragment(load_config(_config(tmp_path, notes)))
    assert "project.processed_dir" in str(err.value)
    assert "dossier des notes" in str(err.value)
