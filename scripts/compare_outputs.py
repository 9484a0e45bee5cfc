"""Compare two builds of Vigie's outputs as data, not as bytes.

Usage::

    python scripts/compare_outputs.py BEFORE_DIR AFTER_DIR

Each directory is a copy of ``data/processed`` (or ``maps``) from one build. Tables
(GeoParquet, Parquet, CSV) are compared as frames: same columns, same rows, same values
(geometries as WKB); JSON as parsed values; everything else byte for byte. The script
prints one line per file (``same``, ``same data, different bytes``, ``differs: …``,
``only before`` / ``only after``) and exits 1 when any file differs as data.

Written for the refactors of the second wave: a change that must keep every output equal
as data shows it with this script rather than with a claim.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq


def _frame(path: Path) -> pd.DataFrame:
    """A table as a plain DataFrame (geometries as WKB bytes, so they compare)."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pandas()
    # The separator of the header line (a sniffer looking at the rows is fooled by a
    # one-column file whose cells are quoted).
    header = path.read_text(encoding="utf-8-sig").split("\n", 1)[0]
    sep = ";" if header.count(";") > header.count(",") else ","
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _json_diff(a: Any, b: Any, where: str = "") -> list[str]:
    """Paths at which two parsed JSON values differ (at most a few)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                out.append(f"{where}.{key} (only {'after' if key not in a else 'before'})")
            else:
                out += _json_diff(a[key], b[key], f"{where}.{key}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _json_diff(x, y, f"{where}[{i}]")
        ]
    return [] if a == b else [where or "(root)"]


def compare_file(before: Path, after: Path) -> str:
    """One verdict for a pair of files of the same relative path."""
    if before.read_bytes() == after.read_bytes():
        return "same"
    suffix = before.suffix
    if suffix in {".parquet", ".csv"}:
        fa, fb = _frame(before), _frame(after)
        if list(fa.columns) != list(fb.columns):
            gone = [c for c in fa.columns if c not in fb.columns]
            new = [c for c in fb.columns if c not in fa.columns]
            return f"differs: columns (removed {gone}, added {new})"
        if len(fa) != len(fb):
            return f"differs: {len(fa)} rows before, {len(fb)} after"
        try:
            pd.testing.assert_frame_equal(fa, fb, check_dtype=False)
        except AssertionError as err:
            return "differs: " + " ".join(str(err).split())[:300]
        return "same data, different bytes"
    if suffix in {".json", ".geojson"}:
        diffs = _json_diff(
            json.loads(before.read_text("utf-8")), json.loads(after.read_text("utf-8"))
        )
        return "same data, different bytes" if not diffs else "differs: " + ", ".join(diffs[:8])
    return "differs: bytes"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    before, after = (Path(a) for a in argv)
    names = sorted(
        {p.relative_to(before) for p in before.rglob("*") if p.is_file()}
        | {p.relative_to(after) for p in after.rglob("*") if p.is_file()}
    )
    differs = 0
    for name in names:
        a, b = before / name, after / name
        if not a.exists() or not b.exists():
            verdict = "only after" if not a.exists() else "only before"
        else:
            verdict = compare_file(a, b)
        differs += verdict.startswith(("differs", "only"))
        print(f"{name}: {verdict}")
    print(f"{len(names)} files, {differs} differ as data")
    return 1 if differs else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
