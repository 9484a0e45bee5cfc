"""Run the whole pipeline on held-out-like variants of the shipped Paris 10e data, made
here as the tests make them, and print each one's row partition and geocoding methods.

The variants: the extract as ``.osm.pbf`` and ``.osm.bz2``; the extract clipped by a box
that crosses buildings and relations; the DansMaRue export with US dates (month first,
AM/PM); the export with a dozen reports moved onto one "placeholder" point.

Usage (from the project root, after ``make demo``)::

    .venv/bin/python scripts/held_out.py [WORKDIR]
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.osm import read_osm_bounds  # noqa: E402
from tests.test_osm_reader import clip, to_bz2  # noqa: E402
from tests.test_osm_sources import to_pbf  # noqa: E402

RAW = ROOT / "data" / "raw" / "paris10"
OSM = RAW / "paris10.osm"
CSV = RAW / "dansmarue_paris_2023-08_2024-09.csv"


def _config(work: Path, name: str, osm: Path, csv: Path) -> Path:
    """demo.toml's Paris site alone, its outputs and inputs under ``work/name``."""
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    paris = text[text.index('[[sites]]\nid = "paris10"') :]
    head = text[: text.index("[[sites]]")]
    out = work / name
    head = head.replace('processed_dir = "data/processed"', f'processed_dir = "{out}/processed"')
    head = head.replace('maps_dir = "maps"', f'maps_dir = "{out}/maps"')
    head = head.replace(
        'annotations_dir = "data/annotations"', f'annotations_dir = "{out}/annotations"'
    )
    paris = paris.replace('"data/raw/paris10/paris10.osm"', f'"{osm}"')
    paris = paris.replace(f'"data/raw/paris10/{CSV.name}"', f'"{csv}"')
    path = work / f"{name}.toml"
    path.write_text(head + paris, encoding="utf-8")
    return path


def _us_dates(csv: Path, dst: Path) -> Path:
    """The export with its dates written as a US 311 export does: 12/31/2023 11:59:00 PM."""
    frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    for column in frame.columns:
        if re.fullmatch(r"date\w*", column):
            parsed = pd.to_datetime(frame[column], errors="coerce", dayfirst=False, format="mixed")
            frame[column] = parsed.dt.strftime("%m/%d/%Y %I:%M:%S %p").fillna(frame[column])
    frame.to_csv(dst, index=False)
    return dst


def _placeholder(csv: Path, dst: Path, bounds: tuple[float, ...], n: int = 12) -> Path:
    """The export with ``n`` reports of the study area, at different addresses, put on
    the point of the first of them: a city's "no location" point."""
    frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    lonlat = frame["geo_point_2d"].str.extract(r"'lon': ([-\d.]+), 'lat': ([-\d.]+)").astype(float)
    west, south, east, north = bounds
    inside = frame.index[lonlat[0].between(west, east) & lonlat[1].between(south, north)]
    chosen = frame.loc[inside].drop_duplicates("adresse").index[:n]
    frame.loc[chosen, "geo_point_2d"] = frame.loc[chosen[0], "geo_point_2d"]
    frame.to_csv(dst, index=False)
    return dst


def main(work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    variants = {
        "pbf": (to_pbf(OSM, work / "paris10.osm.pbf"), CSV),
        "bz2": (to_bz2(OSM, work / "paris10.osm.bz2"), CSV),
        "clipped": (work / "paris10_clipped.osm", CSV),
        "us_dates": (OSM, _us_dates(CSV, work / "dansmarue_us.csv")),
        "placeholder": (
            OSM,
            _placeholder(CSV, work / "dansmarue_placeholder.csv", read_osm_bounds(OSM)),
        ),
    }
    west, south, east, north = 2.3432, 48.8772, 2.3490, 48.8800  # crosses the extract
    clip(OSM, work / "paris10_clipped.osm", (west, south, east, north))
    for name, (osm, csv) in variants.items():
        config = _config(work, name, osm, csv)
        run = subprocess.run(
            [sys.executable, "-m", "pipelines", "-q", "run", "--config", str(config)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        processed = work / name / "processed" / "paris10"
        print(f"== {name} (exit {run.returncode})")
        if run.returncode:
            print(run.stderr.strip()[-2000:])
            continue
        ingest = json.loads((processed / "ingest_summary.json").read_text(encoding="utf-8"))
        geocode = json.loads((processed / "geocode_summary.json").read_text(encoding="utf-8"))
        buildings = json.loads((processed / "buildings_summary.json").read_text(encoding="utf-8"))
        s = ingest["sources"]["dansmarue"]
        rejected = s["rejected"]
        print(
            f"rows_in {s['rows_in']} = accepted {s['accepted']} + updated {s.get('updated', 0)}"
            f" + duplicates {s['duplicates']} + rejected {sum(rejected.values())} {rejected}"
            f" + outside {s['outside_study_area']}"
        )
        for issue in s.get("file_issues", []):
            print(f"note: {issue['detail'][:110]}")
        methods = {k: v for k, v in geocode["by_method"].items() if v}
        print(f"geocoding: {methods}; placeholder points {geocode['placeholder_points']}")
        incomplete = {
            k: v
            for k, v in (buildings.get("osm_incomplete") or {}).items()
            if v and k != "examples"
        }
        print(f"buildings {buildings['buildings']}; OSM repairs {incomplete}")
        print(f"map: {(work / name / 'maps' / 'paris10.html').is_file()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="vigie-held-")))
