"""Every user error is exit code 2 with one French message naming the culprit.

The table below runs ``python -m pipelines`` on a small, valid configuration (one site on
the real Bondy extract, one CSV source) altered in one way per case, and checks the exit
code, that no traceback is printed and that the message names the configuration file and
the key (or the path) at fault. A few failures that cannot be caused from a subprocess
run as root (a full disk, a read-only folder, a permission denied) are injected in-process
through :func:`pipelines.cli.main`.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from pipelines.cli import main
from tests.conftest import RAW, ROOT, make_secret

OSM = RAW / "bondy" / "bondy_nord.osm"

# Three reports inside the Bondy extract; the third has an unreadable date (a rejected
# row) and a description a spreadsheet would run as a formula.
REPORTS = (
    "N° ticket;Date de création;Catégorie;Description;Latitude;Longitude\r\n"
    "T1;03/02/2025 10:00;Fuite;Fuite sous évier;48,9050;2,4880\r\n"
    "T2;04/02/2025 11:30;Ascenseur;Ascenseur en panne;48,9060;2,4890\r\n"
    'T3;pas une date;Fuite;=HYPERLINK("http://x","clic");48,9055;2,4885\r\n'
)

BASE = """\
[project]
processed_dir = "{out}/processed"
maps_dir = "{out}/maps"
annotations_dir = "{out}/annotations"
secrets_dir = "{out}/secrets"

[params.ingest]
start_date = "2015-01-01"
today = "2025-06-01"
duplicate_distance_m = 30.0

[[sites]]
id = "t"
name = "Essai"
osm = "{osm}"
study_area_bbox = [2.47, 48.89, 2.51, 48.92]

[[sites.sources]]
id = "bailleur"
kind = "reports"
path = "{reports}"
format = "csv"
[sites.sources.columns]
id = "N° ticket"
date = "Date de création"
category = "Catégorie"
description = "Description"
lat = "Latitude"
lon = "Longitude"
"""


def _setup(tmp_path: Path) -> Path:
    """The valid configuration and its source, in ``tmp_path``."""
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "signalements.csv").write_bytes(REPORTS.encode("cp1252"))
    cfg = tmp_path / "vigie.toml"
    cfg.write_text(
        BASE.format(out=tmp_path, osm=OSM, reports=tmp_path / "raw" / "signalements.csv"),
        encoding="utf-8",
    )
    make_secret(tmp_path / "secrets", "t")
    return cfg


def _vigie(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines", "-q", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _ingest(cfg: Path, out: Path, **kw: float) -> subprocess.CompletedProcess[str]:
    return _vigie("ingest", "--config", str(cfg), "--site", "t", "--out-dir", str(out), **kw)


def _sub(old: str, new: str) -> Callable[[str, Path], str]:
    """An edit of the configuration's text: ``old`` (a regular expression) → ``new``,
    where ``{tmp}`` in ``new`` is the test's folder."""

    def edit(text: str, tmp: Path) -> str:
        changed = re.sub(old, new.replace("{tmp}", str(tmp)), text, count=1, flags=re.M)
        assert changed != text, f"the case's edit did not apply: {old!r}"
        return changed

    return edit


def _bbox(value: str) -> Callable[[str, Path], str]:
    return _sub(r"^study_area_bbox = .*$", f"study_area_bbox = {value}")


def _source_key(line: str) -> Callable[[str, Path], str]:
    """Add ``line`` to the source's table."""
    return _sub(r'^format = "csv"', 'format = "csv"\n' + line)


def _fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "tube.csv")
    return tmp / "tube.csv"


def _file(tmp: Path) -> Path:
    (tmp / "un_fichier").write_text("pas un dossier\n", encoding="utf-8")
    return tmp / "un_fichier"


# (case id, edit of the configuration, preparation in tmp_path, words the message holds)
CASES: list[tuple[str, Callable[[str, Path], str], Callable[[Path], object] | None, list[str]]] = [
    ("bad_today", _sub(r'^today = .*$', 'today = "2025-13-45"'), None,
     ["params.ingest.today", "date"]),
    ("bad_start_date", _sub(r'^start_date = .*$', 'start_date = "hier"'), None,
     ["params.ingest.start_date", "date"]),
    ("start_date_number", _sub(r'^start_date = .*$', "start_date = 5"), None,
     ["params.ingest.start_date", "trouvé un entier"]),
    ("start_after_today", _sub(r'^start_date = .*$', 'start_date = "2026-01-01"'), None,
     ["params.ingest.start_date", "today"]),
    ("negative_distance", _sub(r"^duplicate_distance_m = .*$", "duplicate_distance_m = -5"),
     None, ["params.ingest.duplicate_distance_m", "≥ 0"]),
    ("text_distance", _sub(r"^duplicate_distance_m = .*$", 'duplicate_distance_m = "trente"'),
     None, ["params.ingest.duplicate_distance_m", "nombre"]),
    ("unknown_param_key", _sub(r"^start_date = ", "start_dat = "), None,
     ["params.ingest.start_dat", "clé inconnue", "start_date"]),
    ("unknown_param_section", _sub(r"^\[params\.ingest\]", "[params.ingestion]"), None,
     ["params.ingestion", "clé inconnue"]),
    ("site_param_typo", _sub(r"^\[\[sites\.sources\]\]",
     "[sites.params.geocode]\ntolerence_m = 20\n\n[[sites.sources]]"), None,
     ["sites[0].params.geocode.tolerence_m", "tolerance_m"]),
    ("site_hotspot_range", _sub(r"^\[\[sites\.sources\]\]",
     "[sites.params.hotspots]\nhex_size_m = -60.0\n\n[[sites.sources]]"), None,
     ["sites[0].params.hotspots.hex_size_m", "positif"]),
    ("site_key_typo", _sub(r"^osm = ", "osmm = "), None, ["sites[0].osmm", "osm"]),
    ("project_key_typo", _sub(r"^maps_dir = ", "maps_dri = "), None,
     ["project.maps_dri", "maps_dir"]),
    ("top_key_typo", _sub(r"^\[project\]", "[projet]"), None, ["projet", "clé inconnue"]),
    ("source_key_typo", _sub(r'^format = "csv"', 'fromat = "csv"'), None,
     ["sites[0].sources[0].fromat", "format"]),
    ("text_bbox", _bbox('"2.47,48.89,2.51,48.92"'),
     None, ["sites[0].study_area_bbox", "liste"]),
    ("text_in_bbox", _bbox('["2.47", 48.89, 2.51, 48.92]'),
     None, ["sites[0].study_area_bbox", "quatre nombres"]),
    ("inverted_bbox", _bbox("[2.51, 48.92, 2.47, 48.89]"),
     None, ["sites[0].study_area_bbox", "inversée"]),
    ("bbox_in_metres", _bbox("[660000, 6865000, 662000, 6867000]"),
     None, ["sites[0].study_area_bbox", "degrés"]),
    ("bad_encoding", _source_key('encoding = "utf-9"'), None,
     ["sites[0].sources[0].encoding", "utf-9"]),
    ("bad_separator", _source_key('separator = ";;"'), None,
     ["sites[0].sources[0].separator", "un seul caractère"]),
    ("bad_date_format", _source_key('date_format = "%d/%m/%Q"'),
     None, ["sites[0].sources[0].date_format", "strptime"]),
    ("date_format_without_directive", _source_key('date_format = "jour"'),
     None, ["sites[0].sources[0].date_format"]),
    ("bad_crs", _source_key('crs = "EPSG:999999"'), None,
     ["sites[0].sources[0].crs", "EPSG:999999"]),
    ("bad_decimal", _source_key('decimal = "virgule"'), None,
     ["sites[0].sources[0].decimal"]),
    ("processed_dir_is_a_file", _sub(r"^processed_dir = .*$", 'processed_dir = "{tmp}/un_fichier"'),
     _file, ["project.processed_dir", "n'est pas un dossier"]),
    ("maps_dir_under_a_file", _sub(r"^maps_dir = .*$", 'maps_dir = "{tmp}/un_fichier/cartes"'),
     _file, ["project.maps_dir", "n'est pas un dossier"]),
    ("processed_dir_is_maps_dir", _sub(r"^maps_dir = .*$", 'maps_dir = "{tmp}/processed"'), None,
     ["project.processed_dir", "project.maps_dir", "même dossier", "make clean"]),
    ("maps_dir_inside_processed_dir",
     _sub(r"^maps_dir = .*$", 'maps_dir = "{tmp}/processed/cartes"'), None,
     ["project.processed_dir", "project.maps_dir", "imbriqués"]),
    ("annotations_dir_inside_processed_dir",
     _sub(r"^annotations_dir = .*$", 'annotations_dir = "{tmp}/processed/notes"'), None,
     ["project.processed_dir", "project.annotations_dir", "imbriqués"]),
    ("glob_matches_nothing", _sub(r"^path = .*$", 'path = "{tmp}/raw/export_*.csv"'), None,
     ["sites[0].sources[0].path", "aucun fichier ne correspond"]),
    ("missing_source", _sub(r"^path = .*$", 'path = "{tmp}/raw/absent.csv"'), None,
     ["sites[0].sources[0].path", "introuvable", "absent.csv"]),
    # Without study_area_bbox, ingestion reads the study area from the OSM extract.
    ("missing_osm", _sub(r"^osm = .*\nstudy_area_bbox = .*$", 'osm = "{tmp}/absent.osm"'), None,
     ["sites[0].osm", "introuvable"]),
    ("osm_is_a_folder", _sub(r"^osm = .*$", 'osm = "{tmp}/raw"'), None,
     ["sites[0].osm", "dossier"]),
    ("source_is_a_folder", _sub(r"^path = .*$", 'path = "{tmp}/raw"'), None,
     ["sites[0].sources[0].path", "dossier"]),
    ("source_is_a_fifo", _sub(r"^path = .*$", 'path = "{tmp}/tube.csv"'), _fifo,
     ["sites[0].sources[0].path", "pas un fichier ordinaire"]),
    ("source_is_a_device", _sub(r"^path = .*$", 'path = "/dev/zero"'), None,
     ["sites[0].sources[0].path", "pas un fichier ordinaire"]),
    ("wrong_type_of_table", _sub(r"^\[params\.ingest\]", "[params.ingest.x]"), None,
     ["params.ingest.x"]),
    ("unknown_target_category", _sub(r"^\[\[sites\]\]",
     "[params.trends]\ntargets_h = { ascenseurs = 48 }\n\n[[sites]]"), None,
     ["params.trends.targets_h.ascenseurs", "catégorie inconnue"]),
    ("inverted_comparison", _sub(r"^\[\[sites\]\]",
     '[params.trends]\ncompare_before = ["2025-03-31", "2025-01-01"]\n\n[[sites]]'), None,
     ["params.trends.compare_before", "la fin précède le début"]),
    ("tags_not_texts", _sub(r"^\[project\]", "[project]\nannotation_tags = [1, 2]"), None,
     ["project.annotation_tags[0]", "textes"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "prepare", "words"),
    [pytest.param(e, p, w, id=name) for name, e, p, w in CASES],
)
@pytest.mark.slow  # runs the CLI in a child process: end to end
def test_user_error_exits_2_naming_file_and_key(
    tmp_path: Path,
    edit: Callable[[str, Path], str],
    prepare: Callable[[Path], object] | None,
    words: list[str],
) -> None:
    cfg = _setup(tmp_path)
    if prepare is not None:
        prepare(tmp_path)
    cfg.write_text(edit(cfg.read_text(encoding="utf-8"), tmp_path), encoding="utf-8")
    # A FIFO opened for reading would block for ever: the timeout turns a hang into a
    # failure instead of a stuck test run.
    proc = _ingest(cfg, tmp_path / "out", timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr  # one message
    assert str(cfg) in lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert not (tmp_path / "out").exists()  # refused before any stage runs


@pytest.mark.slow  # runs the CLI in a child process: end to end
def test_the_base_configuration_is_valid(tmp_path: Path) -> None:
    # The table's cases fail because of their one edit: unedited, the same run works.
    cfg = _setup(tmp_path)
    proc = _ingest(cfg, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    summary = pd.read_json(tmp_path / "out" / "ingest_summary.json", typ="series")
    assert summary["totals"]["rows_in"] == 3
    assert summary["totals"]["accepted"] == 2


@pytest.mark.slow  # runs the CLI in a child process: end to end
def test_every_top_level_command_refuses_a_bad_configuration(tmp_path: Path) -> None:
    cfg = _setup(tmp_path)
    cfg.write_text(
        cfg.read_text(encoding="utf-8").replace("maps_dir", "maps_dri"), encoding="utf-8"
    )
    for args in (
        ["run", "--config", str(cfg)],
        ["deps", "--config", str(cfg), "--out", str(tmp_path / "deps.mk")],
        ["index", "--config", str(cfg), "--out", str(tmp_path / "index.html")],
    ):
        proc = _vigie(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "project.maps_dri" in proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.mark.slow  # runs the CLI in a child process: end to end
def test_a_secret_file_named_as_a_source_is_never_echoed(tmp_path: Path) -> None:
    # An /etc/shadow-like file (one account a line, colon-separated, with a hash), and a
    # file of binary garbage: the run fails or rejects, but prints none of their content.
    cfg = _setup(tmp_path)
    secret = tmp_path / "shadow"
    secret.write_text(
        "root:$6$Zr4nd0m$SECRETHASHxyz0123456789:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
        encoding="utf-8",
    )
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 8 + b"SECRETGARBAGE" + bytes(range(255, -1, -1)))
    for path, needles in (
        (secret, ("SECRETHASH", "Zr4nd0m", "daemon", "99999")),
        (garbage, ("SECRETGARBAGE",)),
    ):
        text = re.sub(r"^path = .*$", f'path = "{path}"', _setup_text(tmp_path), flags=re.M)
        cfg.write_text(text, encoding="utf-8")
        proc = _ingest(cfg, tmp_path / f"out_{path.name}")
        assert "Traceback" not in proc.stderr
        assert proc.returncode == 2, proc.stderr
        for needle in needles:
            assert needle not in proc.stderr, proc.stderr
        assert str(path) in proc.stderr


@pytest.mark.slow  # runs the CLI in a child process: end to end
def test_the_command_ends_with_its_code_before_the_libraries_teardown(tmp_path: Path) -> None:
    """Arrow's thread pools, destroyed at a process's end while one of their threads
    lives, now and then abort it (signal 6, « terminate called without an active
    exception ») after a refused ingestion had printed its French error: about 1 run in
    25 on a loaded machine, which failed the test above once. That is chance, so what is
    checked here is what prevents it: ``python -m pipelines`` and the ``vigie`` command
    end with the command's own code, its output flushed, before any teardown (an
    ``atexit`` callback registered in the process never runs)."""
    cfg = _setup(tmp_path)
    shadow = tmp_path / "shadow"
    shadow.write_text("root:x:0:0\n", encoding="utf-8")
    text = re.sub(r"^path = .*$", f'path = "{shadow}"', _setup_text(tmp_path), flags=re.M)
    cfg.write_text(text, encoding="utf-8")
    runner = (
        "import atexit, runpy, sys\n"
        "atexit.register(print, 'TEARDOWN', flush=True)\n"
        "sys.argv = ['vigie', *sys.argv[1:]]\n"
        "runpy.run_module('pipelines', run_name='__main__')\n"
    )
    for args, code, shown in (
        (["-q", "ingest", "--config", str(cfg), "--site", "t", "--out-dir", str(tmp_path / "o")],
         2, "une seule colonne lue"),
        (["--help"], 0, "usage"),
        (["--pas-une-option"], 2, "vigie : erreur"),
    ):  # fmt: skip
        proc = subprocess.run(
            [sys.executable, "-c", runner, *args],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == code, proc.stderr[-2000:]
        assert shown in proc.stdout + proc.stderr
        assert "TEARDOWN" not in proc.stdout
        assert "Traceback" not in proc.stderr
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="vigie")
    assert script.value == "pipelines.cli:run"


def _setup_text(tmp_path: Path) -> str:
    return BASE.format(out=tmp_path, osm=OSM, reports=tmp_path / "raw" / "signalements.csv")


@pytest.mark.slow  # runs the CLI in a child process: end to end
def test_output_folder_under_a_file_exits_2(tmp_path: Path) -> None:
    # A real failed write (root ignores chmod, so the folder is made impossible instead):
    # the output folder given on the command line lies under a regular file.
    cfg = _setup(tmp_path)
    blocker = _file(tmp_path)
    proc = _ingest(cfg, blocker / "out")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(blocker / "out") in proc.stderr
    assert "écriture impossible" in proc.stderr
    assert blocker.read_text(encoding="utf-8") == "pas un dossier\n"


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "disque plein"),
        (errno.EROFS, "lecture seule"),
        (errno.EACCES, "permission refusée"),
    ],
)
def test_failed_write_exits_2_and_leaves_no_temporary_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    code: int,
    words: str,
) -> None:
    # The disk fills up (or the folder turns read-only) half-way through rejected.csv.
    cfg = _setup(tmp_path)
    out = tmp_path / "out"
    real_to_csv = pd.DataFrame.to_csv

    def failing_to_csv(self: pd.DataFrame, path: object = None, **kw: object) -> None:
        real_to_csv(self.head(1), path, **kw)  # type: ignore[call-overload]
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(pd.DataFrame, "to_csv", failing_to_csv)
    assert main(["-q", "ingest", "--config", str(cfg), "--site", "t", "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert str(out / "rejected.csv") in err
    assert words in err
    assert not (out / "rejected.csv").exists()
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def test_permission_denied_on_an_input_exits_2_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Root reads every file, so the refusal is injected where a reader opens a file.
    from pipelines.ingest import stage as ingest

    cfg = _setup(tmp_path)
    source = tmp_path / "raw" / "signalements.csv"

    def refused(*_args: object, **_kw: object) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(source))

    monkeypatch.setattr(ingest, "ingest_site", refused)
    code = main(["-q", "ingest", "--config", str(cfg), "--site", "t", "--out-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{source} : permission refusée" in err
    assert "Traceback" not in err


def test_an_oserror_without_a_path_is_not_taken_for_a_user_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A programming error (no file named) propagates with its traceback.
    from pipelines.ingest import stage as ingest

    cfg = _setup(tmp_path)

    def broken(*_args: object, **_kw: object) -> None:
        raise OSError("bug")

    monkeypatch.setattr(ingest, "ingest_site", broken)
    with pytest.raises(OSError, match="bug"):
        main(["-q", "ingest", "--config", str(cfg), "--site", "t", "--out-dir", str(tmp_path)])


def test_an_unreadable_source_is_refused_at_load_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root may read any file, so the file's mode cannot refuse it here: the check that
    # load_config makes (os.access) is answered "no" for this one path.
    from pipelines.config import load_config
    from pipelines.errors import ConfigError

    cfg = _setup(tmp_path)
    source = tmp_path / "raw" / "signalements.csv"
    real_access = os.access

    def access(path: object, mode: int, **kw: object) -> bool:
        if Path(str(path)) == source:
            return False
        return real_access(path, mode, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(ConfigError, match=r"sources\[0\]\.path.*lecture refusée") as err:
        load_config(cfg)
    assert str(source) in str(err.value)


def _broken_workbook(tmp: Path) -> Path:
    """A workbook whose sheet's XML has a mismatched tag."""
    from tests.test_readers_robust import _MALFORMED_SHEETS, _workbook_with_sheet

    return _workbook_with_sheet(tmp / "casse.xlsx", _MALFORMED_SHEETS["mismatched_tag"])


def _gzip_named_csv(tmp: Path) -> Path:
    import gzip

    path = tmp / "export.csv"
    path.write_bytes(gzip.compress(REPORTS.encode("cp1252"), mtime=0))
    return path


# (case id, the source file written in tmp_path, its format, words the message holds)
BROKEN_SOURCES: list[tuple[str, Callable[[Path], Path], str, list[str]]] = [
    ("malformed_xlsx", _broken_workbook, "xlsx",
     ["classeur illisible", "« xl/worksheets/sheet1.xml »"]),
    ("gzip_named_csv", _gzip_named_csv, "csv", ["fichier binaire ou compressé", "gzip"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("write", "fmt", "words"),
    [pytest.param(w, f, words, id=name) for name, w, f, words in BROKEN_SOURCES],
)
@pytest.mark.slow  # runs the CLI in a child process: end to end
def test_an_unreadable_source_file_exits_2_naming_it(
    tmp_path: Path, write: Callable[[Path], Path], fmt: str, words: list[str]
) -> None:
    cfg = _setup(tmp_path)
    source = write(tmp_path)
    text = cfg.read_text(encoding="utf-8")
    text = _sub(r"^path = .*$", f'path = "{source}"')(text, tmp_path)
    cfg.write_text(text.replace('format = "csv"', f'format = "{fmt}"'), encoding="utf-8")
    proc = _ingest(cfg, tmp_path / "out")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert str(source) in lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.mark.slow  # runs the CLI in a child process: end to end
def test_an_osm_extract_without_buildings_exits_2_naming_it(tmp_path: Path) -> None:
    # One node, no building: hexagons over no building would be NaN-sized.
    cfg = _setup(tmp_path)
    osm = tmp_path / "sans_batiment.osm"
    osm.write_text(
        '<?xml version="1.0"?><osm version="0.6">'
        '<bounds minlat="48.89" minlon="2.47" maxlat="48.92" maxlon="2.51"/>'
        '<node id="1" lat="48.9" lon="2.48"/></osm>',
        encoding="utf-8",
    )
    cfg.write_text(_sub(r"^osm = .*$", f'osm = "{osm}"')(cfg.read_text("utf-8"), tmp_path))
    proc = _vigie(
        "stage", "buildings", "--config", str(cfg), "--site", "t",
        "--processed-dir", str(tmp_path / "out"), "--maps-dir", str(tmp_path / "maps"),
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert f"{osm}, clé « osm »" in lines[0]
    assert "aucun bâtiment" in lines[0]
    assert not (tmp_path / "out" / "buildings_osm.parquet").exists()


@pytest.mark.parametrize(
    "bbox",
    [
        "[48.89, 2.47, 48.92, 2.51]",  # latitude and longitude swapped
        "[5.36, 43.28, 5.40, 43.31]",  # Marseille, for an extract of Bondy
    ],
    ids=["lat_lon_swapped", "another_town"],
)
@pytest.mark.slow  # runs the CLI in a child process: end to end
def test_a_study_area_missing_the_osm_extract_exits_2(tmp_path: Path, bbox: str) -> None:
    from tests.conftest import osm_bounds_file

    cfg = _setup(tmp_path)
    cfg.write_text(_bbox(bbox)(cfg.read_text("utf-8"), tmp_path), encoding="utf-8")
    bounds = osm_bounds_file(tmp_path, OSM)
    proc = _vigie(
        "ingest", "--config", str(cfg), "--site", "t", "--out-dir", str(tmp_path / "out"),
        "--bounds", str(bounds),
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert f"{cfg}, clé « sites[0].study_area_bbox »" in lines[0]
    assert "ne recoupe pas l'emprise de l'extrait OSM" in lines[0]
    assert not (tmp_path / "out" / "ingested.parquet").exists()


@pytest.mark.slow  # runs the CLI in a child process: end to end
def test_a_study_area_inside_the_osm_extract_is_accepted(tmp_path: Path) -> None:
    from tests.conftest import osm_bounds_file

    cfg = _setup(tmp_path)
    bounds = osm_bounds_file(tmp_path, OSM)
    proc = _vigie(
        "ingest", "--config", str(cfg), "--site", "t", "--out-dir", str(tmp_path / "out"),
        "--bounds", str(bounds),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "ingested.parquet").exists()


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The one non-blank line the command wrote on stderr (asserting it is one)."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        ([], ["vigie :", "COMMANDE", "manquant"]),
        (["publier"], ["COMMANDE", "'publier'", "pas un choix possible"]),
        (["run"], ["vigie run :", "--config", "manquant"]),
        (["map", "--config", "config/demo.toml", "--site"], ["--site", "attend une valeur"]),
        (["stage", "ingestion"], ["vigie stage :", "ÉTAPE", "'ingestion'"]),
        (["index", "--config", "config/demo.toml", "--out", "i.html", "en-trop"], ["en-trop"]),
        (["run", "--config", "config/demo.toml", "--workers", "deux"], ["--workers", "entier"]),
    ],
)
def test_a_command_line_mistake_is_one_french_line_exit_2(
    argv: list[str], words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # argparse's own errors are English, after its usage text: a user error like any
    # other must be one French line naming what is wrong, with exit code 2.
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    line = one_error_line(capsys)
    assert " : erreur : " in line
    assert "--help" in line
    assert "error" not in line, line
    assert "usage" not in line, line
    for word in words:
        assert word in line, (word, line)


def _demo_with_ids(tmp_path: Path, bondy: str, paris: str) -> Path:
    """config/demo.toml (the two real sites) with their ids changed and its output
    folders in ``tmp_path``."""
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    text = text.replace('id = "bondy"', f'id = "{bondy}"', 1)
    text = text.replace('id = "paris10"', f'id = "{paris}"', 1)
    for folder in ("data/processed", "maps", "data/annotations", "data/actions"):
        text = text.replace(f'= "{folder}"', f'= "{tmp_path / folder}"', 1)
    cfg = tmp_path / "demo.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


@pytest.mark.parametrize(
    ("bondy", "paris", "key", "words"),
    [
        # make gives the id to `vigie stage --site`: a leading « - » is read as an option.
        ("-rf", "paris10", "sites[0].id", ["« -rf »", "commencer par une lettre"]),
        ("_bondy", "paris10", "sites[0].id", ["« _bondy »", "commencer par une lettre"]),
        # maps/index.html is the index page.
        ("index", "paris10", "sites[0].id", ["maps/index.html", "page d'accueil"]),
        # maps/bondy_comite.html is the committee pack of « bondy ».
        ("bondy_comite", "bondy", "sites[1].id", ["maps/bondy_comite.html", "« bondy_comite »"]),
        # maps/public/bondy_delais_de_cloture.png is a chart of the open-data pack of « bondy ».
        ("bondy", "bondy_delais_de_cloture", "sites[1].id", ["bondy_delais_de_cloture.png"]),
        # One folder on Windows and macOS.
        ("Bondy", "bondy", "sites[1].id", ["« bondy » et « Bondy »", "casse"]),
    ],
)
def test_site_ids_whose_files_would_be_another_s_are_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    bondy: str,
    paris: str,
    key: str,
    words: list[str],
) -> None:
    # Each pair of ids is valid alone, but the two sites (or a site and the index page)
    # would write one file, each overwriting the other's without a word.
    cfg = _demo_with_ids(tmp_path, bondy, paris)
    deps = tmp_path / "deps.mk"
    assert main(["-q", "deps", "--config", str(cfg), "--out", str(deps)]) == 2
    line = one_error_line(capsys)
    assert f"{cfg}, clé « {key} »" in line
    for word in words:
        assert word in line, (word, line)
    assert not deps.exists()


def test_the_demo_s_site_ids_share_no_file(tmp_path: Path) -> None:
    # The check refuses what collides, not any two ids: the demo's pair, and ids that
    # only begin alike, are accepted.
    for bondy, paris in (("bondy", "paris10"), ("bondy", "bondy-comite"), ("bondy", "bondy_2")):
        cfg = _demo_with_ids(tmp_path, bondy, paris)
        assert main(["-q", "deps", "--config", str(cfg), "--out", str(tmp_path / "d.mk")]) == 0


@pytest.mark.parametrize("wrong", ["folder", "gpkg", "parquet_without_geometry", "half_written"])
def test_a_stage_input_that_is_no_geoparquet_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], wrong: str
) -> None:
    # `vigie hotspots --reports` given a folder, the real RPLS GeoPackage, a Parquet
    # file without geometry, or a GeoParquet cut short (a copy interrupted): pyarrow's
    # ArrowInvalid (or a KeyError on the missing « geo » metadata) was a traceback.
    reports = tmp_path / "reports.parquet"
    if wrong == "folder":
        reports = tmp_path / "reports"
        reports.mkdir()
        (reports / "notes.txt").write_text("pas un Parquet", encoding="utf-8")
    elif wrong == "gpkg":
        reports = RAW / "bondy" / "rpls_bondy.gpkg"
    elif wrong == "parquet_without_geometry":
        pd.DataFrame({"report_id": ["r1"], "category": ["ascenseur"]}).to_parquet(reports)
    else:
        real = gpd.read_file(RAW / "bondy" / "rpls_bondy.gpkg", layer="rpls2022", rows=20)
        real.to_parquet(tmp_path / "whole.parquet")
        data = (tmp_path / "whole.parquet").read_bytes()
        reports.write_bytes(data[: len(data) // 2])
    code = main([
        "-q", "hotspots", "--config", str(ROOT / "config" / "demo.toml"), "--site", "bondy",
        "--reports", str(reports), "--buildings", str(reports),
        "--out-dir", str(tmp_path / "out"),
    ])  # fmt: skip
    assert code == 2
    line = one_error_line(capsys)
    assert line.startswith(f"vigie : erreur : {reports} : ")
    assert "GeoParquet" in line
    assert not (tmp_path / "out").exists()


def test_relative_paths_run_from_another_folder_say_where_they_were_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The demo's paths are relative to the project's root: run from elsewhere, its
    # (existing) files are « introuvable », which reads as a wrong path unless the
    # message says from which folder they were read.
    monkeypatch.chdir(tmp_path)
    cfg = ROOT / "config" / "demo.toml"
    assert main(["-q", "deps", "--config", str(cfg), "--out", str(tmp_path / "d.mk")]) == 2
    line = one_error_line(capsys)
    assert f"{cfg}, clé « sites[0]." in line
    assert "fichier introuvable" in line
    assert f"dossier courant « {tmp_path} »" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written here


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"[" * 5000 + b"]" * 5000, "imbriqué trop profondément"),  # was a RecursionError
        (b"\xff\xfe{}", "UTF-8"),  # was a UnicodeDecodeError
    ],
)
def test_a_bounds_file_that_is_no_json_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, words: str
) -> None:
    bounds = tmp_path / "buildings_summary.json"
    bounds.write_bytes(content)
    code = main([
        "-q", "ingest", "--config", str(ROOT / "config" / "demo.toml"), "--site", "bondy",
        "--out-dir", str(tmp_path / "out"), "--bounds", str(bounds),
    ])  # fmt: skip
    assert code == 2
    line = one_error_line(capsys)
    assert line.startswith(f"vigie : erreur : {bounds} : JSON invalide")
    assert words in line
    assert not (tmp_path / "out").exists()


def test_a_run_summary_of_a_folder_that_is_no_site_s_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A wrong --processed-dir used to give exit 0 and a run summary of nothing, which
    # says the run added up: the ingestion's summary must be there.
    out = tmp_path / "run_summary.json"
    argv = [
        "-q", "summary", "--config", str(ROOT / "config" / "demo.toml"), "--site", "bondy",
        "--processed-dir", str(tmp_path), "--out", str(out),
    ]  # fmt: skip
    assert main(argv) == 2
    line = one_error_line(capsys)
    assert "ingest_summary.json" in line
    assert "« bondy »" in line
    assert "--processed-dir" in line
    assert not out.exists()


def test_a_user_error_crosses_processes_whole() -> None:
    """A user error raised in another process (``vigie split``'s extract cut beside the
    rows) comes back pickled: the same class, message, fields and exit code, whatever
    its ``__init__`` takes (pickle's default called ``InputError(message)``, which
    lacks its ``message``: a TypeError instead of the French line)."""
    import pickle

    from pipelines.errors import (
        ConfigError,
        InputError,
        NotEnoughFeaturesError,
        OutputError,
        VigieError,
    )

    errors: list[VigieError] = [
        InputError("extrait.osm", "lecture OSM impossible (x)", row=3, column="c"),
        ConfigError("vigie.toml", "attendu un nombre.", key="portfolio.osm_margin_m"),
        OutputError("sortie.csv", OSError(errno.ENOSPC, "No space left on device")),
        NotEnoughFeaturesError(3, 30, "bâtiments"),
    ]
    for err in errors:
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err)
        assert (str(back), back.args, back.__dict__) == (str(err), err.args, err.__dict__)
        assert back.exit_code == 2
