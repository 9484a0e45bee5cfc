"""Disclosure-control benchmark: :func:`pipelines.stats.disclosure.protect` then
:func:`~pipelines.stats.disclosure.audit` on building × category and month × category
tables with their margins (building, category, month, site), in the ``comite`` and
``public`` profiles.

Data: the demo's processed reports (``data/processed/<site>/reports.parquet``, after
``make demo``) for Bondy and Paris, and DansMaRue's 10,000 raw Paris reports
(neighbourhood council in place of the building). One household per report (the demo
carries no key yet); person-related: pests, occupation, vandalism (made up for the
measure). Target: under 20 s per protect on each site.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench._util import emit, timed
from pipelines.stats import disclosure as sdc

ROOT = Path(__file__).resolve().parents[1]
TABLES: list[sdc.Table] = [
    ("building_id", "category"),
    ("building_id",),
    ("category",),
    ("month", "category"),
    ("month",),
    (),
]
PERSON = {"nuisibles", "occupation", "degradation"}
TARGET_S = 20.0


def demo_microdata(site: str) -> pd.DataFrame | None:
    path = ROOT / "data" / "processed" / site / "reports.parquet"
    if not path.exists():
        return None
    r = pd.read_parquet(path, columns=["report_id", "building_id", "category", "reported_at"])
    return pd.DataFrame(
        {
            "building_id": r["building_id"].fillna("(sans bâtiment)").astype(str),
            "category": r["category"].astype(str),
            "month": r["reported_at"].dt.strftime("%Y-%m"),
            "household": r["report_id"].astype(str),
            "person_related": r["category"].isin(PERSON).to_numpy(),
        }
    )


def paris_raw_microdata() -> pd.DataFrame:
    d = pd.read_csv(ROOT / "data" / "raw" / "paris10" / "dansmarue_paris_2023-08_2024-09.csv")
    return pd.DataFrame(
        {
            "building_id": d["conseilquartier"].fillna("(sans conseil)").astype(str),
            "category": d["type"].astype(str),
            "month": d["mois_annee_decla"].astype(str),
            "household": d["numero"].astype(str),
            "person_related": d["type"].isin({"Propreté", "Arbres, végétaux et animaux"}),
        }
    )


def main() -> None:
    data = {"bondy": demo_microdata("bondy"), "paris10": demo_microdata("paris10")}
    data["paris_raw_10k"] = paris_raw_microdata()
    for name, df in data.items():
        if df is None:
            print(f"[bench] disclosure: {name} skipped (run `make demo` first)")
            continue
        for profile, rule in (("comite", sdc.COMITE), ("public", sdc.PUBLIC)):
            results: dict[str, object] = {"site": name, "profile": profile, "n_reports": len(df)}
            with timed(results, "protect_s"):
                out = sdc.protect(df, TABLES, rule=rule)
            with timed(results, "audit_s"):
                audit = sdc.audit(df, out.tables, rule=rule)
            n_cells = sum(len(t) for t in out.tables.values())
            n_hidden = sum(int((t["flag"] == sdc.FLAG_HIDDEN).sum()) for t in out.tables.values())
            results |= {
                "passed": audit["passed"],
                "hidden_share": round(n_hidden / max(n_cells, 1), 3),
                "n_lp_audit": audit["n_lp"],
                "target_s": TARGET_S,
            }
            emit(f"disclosure/{name}/{profile}", results)


if __name__ == "__main__":
    main()
