"""The rejected rows as ``rejected.csv`` shows them: a French reason naming the column,
and the original row without its personal columns, scrubbed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from pipelines import _scrub
from pipelines._ingest_cells import _is_personal, _Parsed, personal_columns
from pipelines._ingest_partition import _Partition
from pipelines._ingest_schema import REJECTED_COLUMNS, ROW_REASONS
from pipelines._rawfile import RawFile
from pipelines._readers import FORMAT_PERSONAL
from pipelines.config import SourceConfig


def _original_rows(
    raws: list[RawFile], rows: pd.DataFrame, personal: tuple[str, ...]
) -> tuple[list[str], dict[str, int]]:
    """JSON of the raw rows, personal columns (declared, or known to the file's format)
    removed and text scrubbed."""
    records: list[dict[str, str]] = []
    declared = personal
    for file_index, row in zip(rows["_file"].to_numpy(), rows["_row"].to_numpy(), strict=True):
        raw = raws[int(file_index)]
        personal = (*declared, *FORMAT_PERSONAL.get(raw.format, ()))
        if row >= 0:
            rec = raw.table.slice(int(row), 1).to_pylist()[0]
            lon, lat = rec.get("__lon"), rec.get("__lat")
            rec = {
                k: v
                for k, v in rec.items()
                if k not in raw.virtual and not _is_personal(k, personal)
            }
            if lon or lat:
                rec["geometry"] = f"[{lon}, {lat}]"
        else:
            m = raw.malformed[int(-1 - row)]
            names = list(m.fields)
            # A ragged line may have shifted personal values into other columns: keep
            # only the fields before the first personal column.
            stop = len(names)
            if personal:
                stop = min(
                    (i for i, k in enumerate(raw.table.column_names) if _is_personal(k, personal)),
                    default=len(names),
                )
                stop = min(stop, len(names)) - max(0, len(raw.table.column_names) - m.n_fields)
            rec = {k: m.fields[k] for k in names[: max(stop, 0)]}
            rec["_champs"] = str(m.n_fields)
        records.append(rec)
    flat = [v for rec in records for v in rec.values()]
    scrubbed, counts = _scrub.scrub_series(pd.Series(flat, dtype="str"))
    values = iter(scrubbed.fillna("").tolist())
    out = [json.dumps({k: next(values) for k in rec}, ensure_ascii=False) for rec in records]
    return out, counts


def _reason_fr(
    code: str, row: Mapping[Any, Any], columns: dict[str, str], today: date, start: pd.Timestamp
) -> str:
    """The French sentence of ``rejected.csv``, naming the column and quoting the value."""

    def col(role: str) -> str:
        return f"« {columns.get(role, role)} »"

    value = _scrub.scrub_text(str(row.get("date", ""))[:60]) or ""
    located = [r for r in ("lat", "lon", "x", "y", "geo_point") if r in columns]
    if code == "malformed_row":
        return (
            f"Ligne mal formée : {row.get('_champs', '?')} champs au lieu de "
            f"{row.get('_ncol', '?')} "
            "(séparateur ou guillemet en trop ou en moins ?)."
        )
    if code == "missing_date":
        return f"Date absente dans la colonne {col('date')}."
    if code == "unparseable_date":
        return (
            f"Date illisible dans la colonne {col('date')} : « {value} » "
            "(attendu jj/mm/aaaa [hh:mm], ISO 8601 ou numéro de série Excel)."
        )
    if code == "date_in_future":
        return (
            f"Date postérieure au jour du traitement ({today.isoformat()}) dans la colonne "
            f"{col('date')} : « {value} »."
        )
    if code == "date_before_start":
        return (
            f"Date antérieure au début de la période étudiée ({start.date().isoformat()}) dans "
            f"la colonne {col('date')} : « {value} »."
        )
    if code == "unparseable_coordinates":
        shown = " ; ".join(str(row.get(r, ""))[:40] for r in located)
        where = " / ".join(
            col(r) if not columns[r].startswith("__") else "« geometry »" for r in located
        )
        return (
            f"Coordonnées illisibles ou impossibles dans {where} : « {_scrub.scrub_text(shown)} »."
        )
    if code == "missing_location":
        used = [
            r
            for r in ("address", "number", "street", "building_ref", *located)
            if r in columns and not columns[r].startswith("__")
        ]
        names = ", ".join(col(r) for r in used) or "de localisation"
        return (
            "Aucune localisation : ni adresse, ni bâtiment, ni coordonnées "
            f"(colonnes {names} vides)."
        )
    return code


def _rejected_frame(
    p: _Parsed,
    part: _Partition,
    raws: list[RawFile],
    roles_per_file: list[dict[str, str]],
    source: SourceConfig,
    *,
    today: date,
    start: pd.Timestamp,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The rejected rows (file then line order), with their reasons and scrubbed
    original rows; and the counts of what was scrubbed in them."""
    r = np.flatnonzero(part.rejected)
    if len(r) == 0:
        return pd.DataFrame(columns=list(REJECTED_COLUMNS)), _scrub.empty_counts()
    rf = p.frame.iloc[r]
    # Declared personal columns, and undeclared ones whose header looks personal.
    originals, counts = _original_rows(raws, rf, personal_columns(source, raws, roles_per_file))
    shown = rf[[c for c in ("date", "lat", "lon", "x", "y", "geo_point") if c in rf]]
    rows = []
    for k, (record, original) in enumerate(zip(shown.to_dict("records"), originals, strict=True)):
        fi = int(rf["_file"].iloc[k])
        code = ROW_REASONS[int(part.reason[r[k]]) - 1]
        if code == "malformed_row":
            m = raws[fi].malformed[int(-1 - rf["_row"].iloc[k])]
            record = {"_champs": m.n_fields, "_ncol": len(raws[fi].columns)}
        rows.append(
            {
                "source": source.id,
                "source_file": raws[fi].path,
                "source_line": int(rf["source_line"].iloc[k]),
                "reason": code,
                "reason_fr": _reason_fr(code, record, roles_per_file[fi], today, start),
                "original_row": original,
            }
        )
    return pd.DataFrame(rows, columns=list(REJECTED_COLUMNS)), counts
