"""The notebooks of notebooks/ (issue 19): stored without outputs, and run end to end
with nbclient (a real Jupyter kernel) on the demo run's outputs, as an analyst would.

« explorer_un_site » reads the published tables of the demo run (``VIGIE_CONFIG``);
« ajouter_une_source » goes from the real « Dans ma rue » export to a first map in a
work folder (``VIGIE_NOTEBOOK_WORK``) with ``vigie init`` (or, where that command is not
installed, a configuration written by hand, as the notebook says).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from pipelines.cli import build_parser
from pipelines.config import load_config
from pipelines.stages import SitePaths
from tests.conftest import ROOT

NOTEBOOKS = ROOT / "notebooks"
NAMES = ("explorer_un_site", "ajouter_une_source")


def _run(name: str) -> nbformat.NotebookNode:
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        book, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()
    return book


def _outputs(book: nbformat.NotebookNode) -> list[dict[str, Any]]:
    return [o for cell in book.cells if cell.cell_type == "code" for o in cell.outputs]


def _text(book: nbformat.NotebookNode) -> str:
    parts = []
    for o in _outputs(book):
        if o.output_type == "stream":
            parts.append(o.text)
        elif "data" in o:
            parts += [str(v) for k, v in o.data.items() if k.startswith("text/")]
    return "\n".join(parts)


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_are_stored_without_outputs(name: str) -> None:
    raw = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))
    nbformat.validate(nbformat.from_dict(raw))
    code = [c for c in raw["cells"] if c["cell_type"] == "code"]
    assert code
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    markdown = "\n".join("".join(c["source"]) for c in raw["cells"] if c["cell_type"] == "markdown")
    assert "signalements" in markdown.lower()  # French, for analysts


def test_explorer_un_site_runs_on_the_demo(demo_run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIE_CONFIG", str(demo_run.config))
    monkeypatch.setenv("VIGIE_SITE", "bondy")
    book = _run("explorer_un_site")
    text = _text(book)
    assert "Bondy Nord" in text
    assert "Profil de publication « comite »" in text
    # the top buildings' table, the chart, the map inline
    assert any("text/html" in o.get("data", {}) and "Signalements" in o.data["text/html"]
               for o in _outputs(book))  # fmt: skip
    assert any("image/png" in o.get("data", {}) for o in _outputs(book))
    paths = SitePaths.of(load_config(demo_run.config), "bondy")
    assert "<iframe" in text
    assert paths.map.name in text
    assert f"GeoPackage pour QGIS : {paths.gpkg}" in text


@pytest.mark.slow
def test_ajouter_une_source_reaches_a_first_map(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIE_NOTEBOOK_WORK", str(tmp_path))
    book = _run("ajouter_une_source")
    text = _text(book)
    has_init = "init" in build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    skipped = "« vigie init » n'est pas disponible dans cette installation : étape sautée."
    assert (skipped in text) is not has_init
    config = load_config(tmp_path / "config" / "essai.toml")
    paths = SitePaths.of(config, "essai")
    assert (tmp_path / paths.map).is_file()
    summary = json.loads((tmp_path / paths.processed / "ingest_summary.json").read_text())
    totals = summary["totals"]
    # every row of the export accounted for, and the notebook says so
    assert totals["rows_in"] == 10_000
    assert f"rows_in : {totals['rows_in']}" in text
    assert "<iframe" in text
