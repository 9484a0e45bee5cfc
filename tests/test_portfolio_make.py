"""make's path for a portfolio site whose perimeter holds no OSM building (issue 18): the
per-site rules run ``vigie stage <name>`` one stage at a time; each stage after ingestion
has nothing to work on and ends without an error, and the site stays in the portfolio
page, marked, as after ``vigie run`` (tests/test_empty_sites.py)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from pipelines.cli import main
from pipelines.io import read_csv
from pipelines.stages import STAGE_NAMES
from tests.conftest import make_secret
from tests.test_portfolio import LAYER, box, write_config, write_export, write_layer

#: Rows of the real export moved into the empty perimeter.
MOVED = 12


def test_make_stages_keep_a_site_without_buildings_marked(
    tmp_path: Path, simulated_bondy: Path
) -> None:
    # The three sectors of the example, and a fourth perimeter east of the Bondy extract
    # (no OSM building within it or its margin) that MOVED rows of the export fall in.
    with (simulated_bondy / "signalements_bailleur.csv").open(encoding="cp1252", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    moved = [
        {**r, "N° ticket": f"E-{i}", "Latitude": "48,9205", "Longitude": "2,5005", "Bâtiment": ""}
        for i, r in enumerate(rows[:MOVED])
    ]
    export = write_export(tmp_path, rows[::5] + moved, simulated_bondy)
    doc = json.loads(LAYER.read_text(encoding="utf-8"))
    features = [(f["properties"]["code"], f["properties"]["nom"], f["geometry"])
                for f in doc["features"]]  # fmt: skip
    features.append(("vide", "Sans bâtiment", box(2.50, 48.92, 2.501, 48.921)))
    cfg = write_config(tmp_path, str(export), layer=write_layer(tmp_path / "p.geojson", features))
    make_secret(tmp_path / "secrets", "vide")
    assert main(["-q", "split", "--config", str(cfg)]) == 0

    # What make's recipes run for the site, in the table's order, through the pack.
    processed, maps = tmp_path / "processed" / "vide", tmp_path / "maps"
    for name in STAGE_NAMES[: STAGE_NAMES.index("comite") + 1]:
        argv = ["-q", "stage", name, "--config", str(cfg), "--site", "vide"]
        argv += ["--processed-dir", str(processed), "--maps-dir", str(maps)]
        assert main(argv) == 0, name

    assert json.loads((processed / "buildings_summary.json").read_text("utf-8"))["buildings"] == 0
    assert not (processed / "reports.parquet").exists()  # no stage after ingestion ran
    assert not (maps / "vide.html").exists()
    totals = json.loads((processed / "ingest_summary.json").read_text("utf-8"))["totals"]
    assert totals["rows_in"] == MOVED
    # every row the split gave the site is in one list, with a reason
    listed = sum(
        len(read_csv(processed / f, dtype=str))
        for f in ("unplaced.csv", "rejected.csv", "outside_study_area.csv")
    )
    assert listed + totals["duplicates"] == MOVED
    summary = json.loads((processed / "published" / "indicators_summary.json").read_text("utf-8"))
    assert summary["mark"] == "no_buildings"

    index = maps / "index.html"
    assert main(["-q", "index", "--config", str(cfg), "--out", str(index)]) == 0
    block = re.search(
        r'<script type="application/json" id="vigie-portfolio">(.*?)</script>',
        index.read_text(encoding="utf-8"),
        re.S,
    )
    assert block is not None
    row = next(s for s in json.loads(block.group(1))["sites"] if s["id"] == "vide")
    assert row["mark"] == "aucun bâtiment OSM dans le périmètre"
    assert row["map"] is None
