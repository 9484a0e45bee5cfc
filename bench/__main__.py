"""``python -m bench`` (``make bench``): run every benchmark in its own process and print
the figures, with the targets of the issues beside them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHES = [
    "scrub",
    "ingest",
    "geocode",
    "hotspots",
    "trends",
    "maps",
    "annotations",
    "disclosure",
    "portfolio",
]
ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    names = argv or BENCHES
    results = []
    failed = []
    for name in names:
        module = ROOT / "bench" / f"{name}.py"
        if not module.exists():
            print(f"[bench] {name}: not available in this build", flush=True)
            continue
        print(f"[bench] {name} …", flush=True)
        proc = subprocess.run(
            [sys.executable, "-m", f"bench.{name}"], cwd=ROOT, capture_output=True, text=True
        )
        lines = [ln[6:] for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")]
        if proc.returncode != 0:
            failed.append(name)
            print(proc.stdout[-2000:], proc.stderr[-4000:], sep="\n", file=sys.stderr)
        for line in lines:
            data = json.loads(line)
            results.append(data)
            print(json.dumps(data, ensure_ascii=False, indent=1), flush=True)
    out = ROOT / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"[bench] figures written to {out.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
