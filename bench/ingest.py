"""Ingestion benchmark: a million landlord tickets, read and ingested.

Writes a ``;``-separated UTF-8 CSV shaped like a landlord's ticketing export (French
dates ``dd/mm/yyyy HH:MM``, decimal-comma coordinates, French category labels in several
spellings, free text with a few phone numbers and flat numbers, personal columns), then
measures, each in a fresh subprocess so that peak memory is that of the measured step:

- ``read``: a bare ``pandas.read_csv(engine="pyarrow")`` of the file (the yardstick);
- ``read_jemalloc``: the same read with jemalloc as pyarrow's pool, as Vigie runs
  (for comparison: the default pool's timings swing widely from one process to the
  next on some machines. pyarrow's default pool, mimalloc, takes transparent huge
  pages; where the kernel must first compact memory to find them (THP ``defrag`` set
  to ``madvise``), the read's system time goes from 0.25 s to 1-1.5 s, and the read
  from 0.35-0.45 s to 0.8-1.1 s: measured with and without ``PR_SET_THP_DISABLE``);
- ``ingest``: :func:`pipelines.ingest.stage.ingest_site` on it with a site secret, as
  ``vigie ingest`` runs it (the household keys included; everything but the writes);
- ``ingest_no_secret``: the same without a secret (no personal column read, no
  household key), for comparison only: what the household keys cost;
- ``duplicates``: :func:`pipelines.geocode.link_likely_duplicates` on the ingested rows.

Target: ingestion within 3x the bare read, peak memory under 2 GB.

The steps run one after the other in fresh processes, interleaved (read, read_jemalloc,
ingest, ingest_no_secret, then again), best of ``--repeat`` each, so that a change in
the machine's load touches every step alike. Both the read and the ingestion run with
pyarrow's default thread pool (as many threads as cores): the read parses on every
core, the ingestion parses so too, then runs its column steps side by side on a few
threads, but much of it is serial. On a shared machine the wall ratio therefore moves
with the load (a competing process takes more from the read, which would use every
core, than from the ingestion): the CPU seconds (user and system, every thread) and
the load average are printed beside it.

Then the same export, comma-separated and 1.4 million rows (``--ragged-rows``), is
ingested as it is (``ingest_comma``) and with one comma too many on every line
(``ingest_ragged``: "DI,1" for "DI-1", so that every row is malformed and rejected),
timed without the writes and end to end (``vigie ingest``: the outputs written,
``rejected.csv`` included, by :func:`pipelines.ingest.write_result`).
Target (issue 13): the ragged file within 3x the time of the clean one, end to end.

Usage: ``python -m bench.ingest [--rows 1000000] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]

LABELS = (
    "Ascenseur en panne",
    "ASCENSEUR EN PANNE",
    "Fuite / dégât des eaux",
    "Dégât des eaux",
    "Chauffage / eau chaude",
    "Électricité / éclairage",
    "Nuisibles",
    "Cafards",
    "Propreté des parties communes",
    "Encombrants / dépôts sauvages",
    "Dégradations / vandalisme",
    "Contrôle d'accès / sécurité",
    "Interphone",
    "Occupation des parties communes",
    "Espaces extérieurs / voirie",
    "Stationnement / véhicules",
    "Réclamation charges",
)
SUBCATEGORIES = (
    "Arrêt complet",
    "Fuite plafond",
    "Radiateur",
    "Minuterie",
    "Cafards",
    "Tags",
    "Porte",
    "Badge",
    "Dépôt sauvage",
    "Épave",
)
TEXTS = (
    "Ascenseur bloqué au rez-de-chaussée depuis ce matin.",
    "Fuite sur la colonne d'eau dans la gaine technique.",
    "Plus de chauffage depuis deux jours, 16 degrés dans le séjour.",
    "Minuterie de l'escalier en panne, couloir dans le noir.",
    "Cafards dans la cuisine et le local poubelles.",
    "Tags dans la cage d'escalier du bâtiment B, escalier 3.",
    "Porte du hall cassée, entrée 2.",
    "Dépôt sauvage au pied de l'immeuble, 12 allée Marguerite Duras.",
    "Joignable au 06 12 34 56 78.",
    "Voisin du appartement 48, 2e étage.",
    "Répondre à a.dupont@exemple.fr svp.",
    "Rappeler Mme Martin au 01.99.00.96.02.",
)
STREETS = (
    "rue Lucie Aubrac",
    "avenue de la Parisienne",
    "allée Marguerite Duras",
    "rue Arthur Groussier",
    "route d'Aulnay",
    "avenue Jean Lebas",
)
CHANNELS = ("Téléphone", "Application", "Courriel", "Accueil")
STATUSES = ("Clôturé", "En cours", "Ouvert")
COLUMNS = {
    "id": "N° ticket",
    "date": "Date de création",
    "category": "Catégorie",
    "subcategory": "Sous-catégorie",
    "description": "Description",
    "address": "Adresse",
    "building_ref": "Bâtiment",
    "lat": "Latitude",
    "lon": "Longitude",
    "status": "Statut",
    "closed_at": "Date de clôture",
    "channel": "Canal",
}
PERSONAL = ("Nom du demandeur", "Téléphone", "Logement")


#: A fixed site secret (the bytes ``vigie secret`` would write): ingestion keys households.
SECRET = bytes(range(32))


def _pick(rng: np.random.Generator, values: tuple[str, ...], n: int) -> np.ndarray:
    return np.asarray(values, dtype=object)[rng.integers(len(values), size=n)]


def make_export(path: Path, rows: int, *, seed: int = 7) -> Path:
    """Write the synthetic export (vectorised; a few seconds for a million rows)."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-01T00:00")
    minutes = np.sort(rng.integers(0, 2 * 365 * 1440, size=rows))
    created = pd.Series(start + minutes.astype("timedelta64[m]"))
    closed = created + pd.to_timedelta(rng.exponential(4 * 1440, rows).astype(int), unit="min")
    has_coords = rng.random(rows) < 0.65
    lat = np.char.replace(np.char.mod("%.6f", 48.9068 + rng.random(rows) * 0.006), ".", ",")
    lon = np.char.replace(np.char.mod("%.6f", 2.4779 + rng.random(rows) * 0.013), ".", ",")
    numbers = rng.integers(1, 80, size=rows).astype(str)
    address = np.char.add(np.char.add(numbers, " "), _pick(rng, STREETS, rows).astype(str))
    has_address = ~has_coords | (rng.random(rows) < 0.3)
    table = pa.table(
        {
            "N° ticket": pa.array(np.char.add("DI-", np.arange(1, rows + 1).astype(str))),
            "Date de création": pa.array(
                created.dt.strftime("%d/%m/%Y %H:%M").to_numpy(dtype=object)
            ),
            "Catégorie": pa.array(_pick(rng, LABELS, rows)),
            "Sous-catégorie": pa.array(_pick(rng, SUBCATEGORIES, rows)),
            "Description": pa.array(_pick(rng, TEXTS, rows)),
            "Adresse": pa.array(np.where(has_address, address, "")),
            "Bâtiment": pa.array(np.char.add("BL-", rng.integers(1, 40, size=rows).astype(str))),
            "Latitude": pa.array(np.where(has_coords, lat, "")),
            "Longitude": pa.array(np.where(has_coords, lon, "")),
            "Statut": pa.array(_pick(rng, STATUSES, rows)),
            "Date de clôture": pa.array(
                closed.dt.strftime("%d/%m/%Y %H:%M").to_numpy(dtype=object)
            ),
            "Canal": pa.array(_pick(rng, CHANNELS, rows)),
            "Nom du demandeur": pa.array(_pick(rng, ("M. Sow", "Mme Martin", "M. Nguyen"), rows)),
            "Téléphone": pa.array(_pick(rng, ("0199009602", "+33 6 39 98 22 54", ""), rows)),
            "Logement": pa.array(_pick(rng, ("Apt 12", "Logt 60", ""), rows)),
        }
    )
    pacsv.write_csv(
        table, path, write_options=pacsv.WriteOptions(delimiter=";", quoting_style="needed")
    )
    return path


def make_comma_exports(semicolon: Path, folder: Path) -> tuple[Path, Path]:
    """The export comma-separated, and the same with one comma too many on every data
    line (the ticket "DI-123" written "DI,123")."""
    frame = pd.read_csv(semicolon, sep=";", dtype=str, keep_default_na=False)
    clean = folder / "signalements_virgules.csv"
    frame.to_csv(clean, index=False)
    del frame
    data = clean.read_bytes()
    ragged = folder / "signalements_virgule_en_trop.csv"
    ragged.write_bytes(data.replace(b"\nDI-", b"\nDI,"))
    assert ragged.read_bytes().count(b"\nDI,") == data.count(b"\nDI-") > 0
    return clean, ragged


#: The synthetic export's study area, and the day its dates are judged against.
BBOX = (2.4779, 48.90676, 2.49111, 48.91278)
TODAY = "2030-01-01"


def _site(path: Path):  # type: ignore[no-untyped-def]
    from pipelines.config import DEFAULT_PARAMS, SiteConfig, SourceConfig

    source = SourceConfig(
        id="bailleur",
        kind="reports",
        path=str(path),
        format="csv",
        columns=COLUMNS,
        personal_columns=PERSONAL,
    )
    return SiteConfig(id="bench", name="bench", osm="", sources=(source,), params=DEFAULT_PARAMS)


def _cpu_seconds() -> float:
    """User and system CPU time of this process so far, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(step: str, path: Path) -> dict[str, float]:
    """Run one step in this process; return its wall seconds, its CPU seconds (user and
    system, every thread: ``cpu_seconds``) and peak resident memory (MB).

    The bare read imports nothing of Vigie: importing ``pipelines`` makes jemalloc
    pyarrow's memory pool, and the yardstick is pandas as it comes (pyarrow's CSV reader
    on as many threads as the machine has cores, as a user runs it).
    """
    import datetime as dt

    out: dict[str, float] = {}
    if step in ("read", "read_jemalloc"):
        assert "pipelines" not in sys.modules
        if step == "read_jemalloc":  # the allocator Vigie chooses, for comparison only
            pa.set_memory_pool(pa.jemalloc_memory_pool())
        c0, t0 = _cpu_seconds(), time.perf_counter()
        frame = pd.read_csv(path, sep=";", engine="pyarrow")
        out["seconds"] = time.perf_counter() - t0
        out["cpu_seconds"] = _cpu_seconds() - c0
        out["rows"] = len(frame)
    elif step in ("ingest", "ingest_no_secret", "ingest_comma", "ingest_ragged"):
        from pipelines.ingest import stage as ingest
        from pipelines.io import write_points_geoparquet

        site = _site(path)
        c0, t0 = _cpu_seconds(), time.perf_counter()
        # With a site secret, as `vigie ingest` always runs: the household keys are made.
        result = ingest.ingest_site(
            site,
            study_area_bbox=BBOX,
            today=dt.date.fromisoformat(TODAY),
            secret=None if step == "ingest_no_secret" else SECRET,
        )
        out["seconds"] = time.perf_counter() - t0
        out["cpu_seconds"] = _cpu_seconds() - c0
        if step in ("ingest_comma", "ingest_ragged"):  # what `vigie ingest` writes
            with tempfile.TemporaryDirectory(dir=path.parent) as out_dir:
                ingest.write_result(result, site.id, Path(out_dir))
            out["end_to_end_seconds"] = time.perf_counter() - t0
        summary = result.summary["sources"]["bailleur"]
        out["rows"] = summary["rows_in"]
        out["accepted"] = len(result.ingested)
        out["rejected"] = sum(summary["rejected"].values())
        if len(result.ingested) and step == "ingest":
            write_points_geoparquet(result.ingested, path.with_suffix(".parquet"))
    elif step == "duplicates":
        import geopandas as gpd

        from pipelines.geocode import link_likely_duplicates

        reports = gpd.read_parquet(path.with_suffix(".parquet"))
        # The landlord's building code stands in for the geocoder's building_id.
        reports["building_id"] = reports["building_ref"]
        t0 = time.perf_counter()
        linked = link_likely_duplicates(reports)
        out["seconds"] = time.perf_counter() - t0
        out["rows"] = len(reports)
        out["linked"] = int(linked.notna().sum())
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", help="folder where the CSV is written and kept")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each step (best kept)")
    parser.add_argument(
        "--measure",
        choices=(
            "read",
            "read_jemalloc",
            "ingest",
            "ingest_no_secret",
            "duplicates",
            "ingest_comma",
            "ingest_ragged",
        ),
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument(
        "--ragged-rows",
        type=int,
        default=1_400_000,
        help="rows of the comma-separated exports, clean and ragged (0: skip)",
    )
    args = parser.parse_args(argv)
    if args.measure:
        sys.stdout.write(json.dumps(measure(args.measure, Path(args.file))) + "\n")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "signalements_bench.csv"
        t0 = time.perf_counter()
        make_export(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        sys.stdout.write(
            f"export : {args.rows:,} lignes, {size_mb:.0f} Mo ({time.perf_counter() - t0:.1f} s)\n"
        )
        # Each step in a fresh process, alternating, best of --repeat: the machine may be
        # shared, and the ratio is what matters.
        steps = ("read", "read_jemalloc", "ingest", "ingest_no_secret")
        load_before = os.getloadavg()[0]
        runs: dict[str, list[dict[str, float]]] = {s: [] for s in (*steps, "duplicates")}
        for rep in range(args.repeat):
            for step in (*steps, "duplicates") if rep == 0 else steps:
                proc = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "bench.ingest",
                        "--measure",
                        step,
                        "--file",
                        str(path),
                    ],
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs[step].append(json.loads(proc.stdout.strip().splitlines()[-1]))
        load_after = os.getloadavg()[0]
        results = {
            step: {**min(rs, key=lambda r: r["seconds"]), "peak_mb": max(r["peak_mb"] for r in rs)}
            for step, rs in runs.items()
        }
        # The least CPU of each step's runs (user and system time, every thread).
        cpu = {
            step: min(r["cpu_seconds"] for r in runs[step])
            for step in ("read", "ingest", "ingest_no_secret")
        }
        read, ing, dup = results["read"], results["ingest"], results["duplicates"]
        ratio = ing["seconds"] / read["seconds"]
        jem = results["read_jemalloc"]
        nosec = results["ingest_no_secret"]

        def spread(step: str) -> str:
            times = sorted(r["seconds"] for r in runs[step])
            return f"{times[0]:.2f}–{times[-1]:.2f} s, médiane {statistics.median(times):.2f} s"

        sys.stdout.write(
            f"lecture pandas (pyarrow) : {read['seconds']:.2f} s, pic {read['peak_mb']:.0f} Mo"
            f" ({spread('read')})\n"
            f"  même lecture, jemalloc : {jem['seconds']:.2f} s ({spread('read_jemalloc')}), "
            f"ratio {ing['seconds'] / jem['seconds']:.2f}\n"
            f"  ingestion, {len(runs['ingest'])} passages : {spread('ingest')}\n"
            f"ingestion                : {ing['seconds']:.2f} s "
            f"({ing['rows'] / ing['seconds']:,.0f} lignes/s), "
            f"pic {ing['peak_mb']:.0f} Mo, {int(ing['accepted']):,} acceptées\n"
            f"ratio ingestion / lecture: {ratio:.2f} (cible ≤ 3)\n"
            f"  temps CPU (utilisateur + système, tous fils) : lecture {cpu['read']:.2f} s, "
            f"ingestion {cpu['ingest']:.2f} s, ratio {cpu['ingest'] / cpu['read']:.2f} ; "
            f"charge de la machine {load_before:.1f} puis {load_after:.1f}\n"
            f"  sans secret (ni colonne personnelle lue, ni clé de foyer) : "
            f"{nosec['seconds']:.2f} s ({spread('ingest_no_secret')}), "
            f"ratio {nosec['seconds'] / read['seconds']:.2f}\n"
            f"doublons probables       : {dup['seconds']:.2f} s sur {int(dup['rows']):,} lignes, "
            f"{int(dup['linked']):,} liés, pic {dup['peak_mb']:.0f} Mo\n"
        )
        sys.stdout.write(
            "BENCH "
            + json.dumps(
                {
                    "bench": "ingest",
                    "rows": int(ing["rows"]),
                    "bare_read_s": round(read["seconds"], 3),
                    "ingest_s": round(ing["seconds"], 3),
                    "rows_per_s": round(ing["rows"] / ing["seconds"]),
                    "ratio_to_bare_read": round(ratio, 2),
                    "bare_read_runs_s": sorted(round(r["seconds"], 3) for r in runs["read"]),
                    "ingest_runs_s": sorted(round(r["seconds"], 3) for r in runs["ingest"]),
                    "bare_read_jemalloc_s": round(jem["seconds"], 3),
                    "ratio_to_bare_read_jemalloc": round(ing["seconds"] / jem["seconds"], 2),
                    "ingest_no_secret_s": round(nosec["seconds"], 3),
                    "ratio_no_secret_to_bare_read": round(nosec["seconds"] / read["seconds"], 2),
                    "target": "ratio <= 3, peak < 2 GB",
                    "bare_read_cpu_s": round(cpu["read"], 3),
                    "ingest_cpu_s": round(cpu["ingest"], 3),
                    "ingest_no_secret_cpu_s": round(cpu["ingest_no_secret"], 3),
                    "ratio_cpu": round(cpu["ingest"] / cpu["read"], 2),
                    "load_avg_1min": [round(load_before, 2), round(load_after, 2)],
                    "ingest_peak_mb": round(ing["peak_mb"]),
                    "read_peak_mb": round(read["peak_mb"]),
                    "likely_duplicates_s": round(dup["seconds"], 3),
                    "likely_duplicates_peak_mb": round(dup["peak_mb"]),
                }
            )
            + "\n"
        )
        if args.ragged_rows:
            _ragged_bench(folder, args.ragged_rows, min(args.repeat, 3))
    return 0


def _run_step(step: str, path: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--measure", step, "--file", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ragged_bench(folder: Path, rows: int, repeat: int) -> None:
    """Ingest the comma-separated export clean, then with a comma too many per line."""
    semicolon = make_export(folder / "signalements_bench_ragged.csv", rows)
    clean, ragged = make_comma_exports(semicolon, folder)
    semicolon.unlink()
    runs: dict[str, list[dict[str, float]]] = {"ingest_comma": [], "ingest_ragged": []}
    for _ in range(repeat):
        runs["ingest_comma"].append(_run_step("ingest_comma", clean))
        runs["ingest_ragged"].append(_run_step("ingest_ragged", ragged))
    best = {step: min(rs, key=lambda r: r["seconds"]) for step, rs in runs.items()}
    whole = {step: min(r["end_to_end_seconds"] for r in rs) for step, rs in runs.items()}
    peak = {step: max(r["peak_mb"] for r in rs) for step, rs in runs.items()}
    ok, bad = best["ingest_comma"], best["ingest_ragged"]
    ratio = bad["seconds"] / ok["seconds"]
    ratio_whole = whole["ingest_ragged"] / whole["ingest_comma"]
    sys.stdout.write(
        f"virgules, {int(ok['rows']):,} lignes : {ok['seconds']:.2f} s, "
        f"{whole['ingest_comma']:.2f} s avec les écritures, pic {peak['ingest_comma']:.0f} Mo\n"
        f"une virgule en trop par ligne : {bad['seconds']:.2f} s, "
        f"{whole['ingest_ragged']:.2f} s avec les écritures, pic "
        f"{peak['ingest_ragged']:.0f} Mo, {int(bad['rejected']):,} rejetées\n"
        f"ratio virgule en trop / propre : {ratio:.2f} sans les écritures, "
        f"{ratio_whole:.2f} avec (cible ≤ 3)\n"
    )
    sys.stdout.write(
        "BENCH "
        + json.dumps(
            {
                "bench": "ingest_ragged",
                "rows": int(ok["rows"]),
                "clean_s": round(ok["seconds"], 3),
                "ragged_s": round(bad["seconds"], 3),
                "ragged_rejected": int(bad["rejected"]),
                "ratio_ragged_to_clean": round(ratio, 2),
                "clean_end_to_end_s": round(whole["ingest_comma"], 3),
                "ragged_end_to_end_s": round(whole["ingest_ragged"], 3),
                "ratio_end_to_end": round(ratio_whole, 2),
                "clean_runs_s": sorted(round(r["seconds"], 3) for r in runs["ingest_comma"]),
                "ragged_runs_s": sorted(round(r["seconds"], 3) for r in runs["ingest_ragged"]),
                "clean_peak_mb": round(peak["ingest_comma"]),
                "ragged_peak_mb": round(peak["ingest_ragged"]),
                "target": "ratio_end_to_end <= 3",
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    raise SystemExit(main())
