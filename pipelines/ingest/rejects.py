"""The rejected rows as ``rejected.csv`` shows them: a French reason naming the column,
and the original row without its personal columns, scrubbed.

Everything is done in batches, not row by row: a file whose every line is ragged has
as many rejected rows as lines (a million lines: a million rejected rows), so the
scrubber runs once over all their cells (its rules compiled once), and the JSON of
the original rows is assembled column by column with pyarrow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.config import SourceConfig
from pipelines.ingest import scrub as _scrub
from pipelines.ingest.cells import _Parsed
from pipelines.ingest.csvheader import other_headers
from pipelines.ingest.partition import _Partition
from pipelines.ingest.personal import is_personal, personal_columns
from pipelines.ingest.rawfile import RawFile
from pipelines.ingest.readers import FORMAT_PERSONAL
from pipelines.ingest.schema import REJECTED_COLUMNS, ROW_REASONS
from pipelines.ingest.values import to_str_series

#: JSON escapes of the characters ``json.dumps(..., ensure_ascii=False)`` escapes,
#: backslash first.
_JSON_ESCAPES = (
    ("\\", "\\\\"),
    ('"', '\\"'),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("\t", "\\t"),
    ("\b", "\\b"),
    ("\f", "\\f"),
    *((chr(c), f"\\u{c:04x}") for c in range(0x20) if chr(c) not in "\n\r\t\b\f"),
)


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


def _json_strings(values: pa.Array) -> pa.Array:
    """Each string as a JSON string literal, exactly as ``json.dumps(value,
    ensure_ascii=False)`` writes it, vectorised (json.dumps is a few microseconds a
    call: seconds over a million rejected rows)."""
    out = values
    control = bool(pc.any(pc.match_substring_regex(values, r"[\x00-\x1f]")).as_py())
    for char, escaped in _JSON_ESCAPES:
        if (char in '\\"' or control) and pc.any(pc.match_substring(out, char)).as_py():
            out = pc.replace_substring(out, char, escaped)
    return pc.binary_join_element_wise(_text('"'), out, _text('"'), _text(""))


def _json_objects(keys: Sequence[str], columns: Sequence[pa.Array], n: int) -> pa.Array:
    """``json.dumps(dict(zip(keys, row)), ensure_ascii=False)`` of each of ``n`` rows
    whose values are the (already scrubbed) strings of ``columns``."""
    return _json_rows(keys, [_json_strings(c) for c in columns], n, {})


def _json_rows(
    keys: Sequence[str], literals: Sequence[pa.Array], n: int, last: dict[str, str]
) -> pa.Array:
    """:func:`_json_objects` of values already written as JSON strings (``literals``,
    one array per key), each object ending with the items of ``last``."""
    if not keys and not last:
        return pa.array(["{}"] * n, pa.large_string())
    parts: list[pa.Array | pa.Scalar] = []
    for i, (key, column) in enumerate(zip(keys, literals, strict=True)):
        prefix = ("{" if i == 0 else ", ") + json.dumps(key, ensure_ascii=False) + ": "
        parts.extend([_text(prefix), column])
    end = json.dumps(last, ensure_ascii=False)[1:] if last else "}"
    parts.append(_text((", " if keys and last else "{" if last else "") + end))
    if len(parts) == 1:
        return pa.array([parts[0].as_py()] * n, pa.large_string())
    return pc.binary_join_element_wise(*parts, _text(""))


def _original_rows(
    raws: list[RawFile], rows: pd.DataFrame, personal: tuple[str, ...]
) -> tuple[pa.Array, dict[str, int]]:
    """JSON of the raw rows, personal columns (declared, or known to the file's format)
    removed and text scrubbed.

    The rows are gathered in groups that share their keys (the rows read of one file;
    the malformed rows of one file with the same number of fields), each group's cells
    column by column; every cell is scrubbed in one call.
    """
    declared = personal
    file_of = rows["_file"].to_numpy()
    row_of = rows["_row"].to_numpy()
    # Each group: the positions (in ``rows``) of its rows, its keys, its columns, and
    # the keys and values every row of the group ends with.
    groups: list[tuple[np.ndarray, list[str], list[pa.Array], dict[str, str]]] = []
    for fi in np.unique(file_of):
        raw = raws[int(fi)]
        personal = (*declared, *FORMAT_PERSONAL.get(raw.format, ()))
        here = np.flatnonzero(file_of == fi)
        read = here[row_of[here] >= 0]
        if len(read):
            taken = raw.table.take(pa.array(row_of[read]))
            keys = [
                k
                for k in taken.column_names
                if k not in raw.virtual and not is_personal(k, personal)
            ]
            cols = [taken.column(k).combine_chunks().cast(pa.large_string()) for k in keys]
            if "__lon" in taken.column_names:
                lon = taken.column("__lon").combine_chunks().cast(pa.large_string())
                lat = taken.column("__lat").combine_chunks().cast(pa.large_string())
                located = np.asarray(
                    pc.or_(pc.not_equal(lon, ""), pc.not_equal(lat, "")), dtype=bool
                )
                geometry = pc.binary_join_element_wise(
                    _text("["), lon, _text(", "), lat, _text("]"), _text("")
                )
                for has in (False, True):
                    sel = pa.array(np.flatnonzero(located == has))
                    if len(sel):
                        extra = ([geometry.take(sel)], ["geometry"]) if has else ([], [])
                        groups.append(
                            (
                                read[sel.to_numpy()],
                                [*keys, *extra[1]],
                                [c.take(sel) for c in cols] + extra[0],
                                {},
                            )
                        )
            else:
                groups.append((read, keys, cols, {}))
        bad = here[row_of[here] < 0]
        if len(bad):
            table_names = raw.table.column_names
            first_personal = min(
                (i for i, k in enumerate(table_names) if is_personal(k, personal)),
                default=None,
            )
            for sel, names, fields in raw.malformed.by_width(-1 - row_of[bad]):
                width = len(names)
                # A ragged line may have shifted personal values into other columns:
                # keep only the fields before the first personal column.
                stop = width
                if personal:
                    stop = width if first_personal is None else first_personal
                    stop = min(stop, width) - max(0, len(table_names) - width)
                keys = names[: max(stop, 0)]
                cols = [c.cast(pa.large_string()) for c in fields[: len(keys)]]
                groups.append((bad[sel], keys, cols, {"_champs": str(width)}))
    # The distinct cells of each column scrubbed, and written as JSON strings, once
    # (pyarrow's dictionary encoding: pandas' factorize of millions of cells takes
    # longer than the scrubbing itself).
    encoded = [pc.dictionary_encode(c) for _, _, cols, _ in groups for c in cols]
    dictionaries, per_column = _scrub.scrub_codes_together(
        [e.dictionary for e in encoded], [e.indices.to_numpy().astype(np.int64) for e in encoded]
    )
    counts = _scrub.empty_counts()
    for c in per_column:
        counts = _scrub.add_counts(counts, c)
    literals = iter(
        _json_strings(pc.fill_null(d, "").cast(pa.large_string())).take(e.indices)
        for d, e in zip(dictionaries, encoded, strict=True)
    )
    parts = [
        _json_rows(keys, [next(literals) for _ in cols], len(positions), last)
        for positions, keys, cols, last in groups
    ]
    if not parts:
        return pa.array(["{}"] * len(rows), pa.large_string()), counts
    # Back into the rows' order.
    where = np.concatenate([positions for positions, _, _, _ in groups])
    if (np.diff(where) > 0).all():
        return parts[0] if len(parts) == 1 else pa.concat_arrays(parts), counts
    order = np.empty(len(where), np.int64)
    order[where] = np.arange(len(where))
    return pa.concat_arrays(parts).take(pa.array(order)), counts


def _reason_fr(
    code: str,
    row: Mapping[Any, Any],
    columns: dict[str, str],
    today: date,
    start: pd.Timestamp,
) -> str:
    """The French sentence of ``rejected.csv``, naming the column and quoting the value
    (``row["date"]`` and ``row["shown"]``, the coordinates shown, already scrubbed)."""

    def col(role: str) -> str:
        return f"« {columns.get(role, role)} »"

    value = row.get("date", "")
    located = [r for r in ("lat", "lon", "x", "y", "geo_point") if r in columns]
    if code == "unclosed_quote":
        return (
            f"Guillemet ouvert et jamais fermé ligne {row.get('_line', '?')} de "
            f"« {row.get('_file', '?')} » : cette ligne est écartée seule, les "
            "suivantes sont lues normalement (fermez ou retirez le guillemet)."
        )
    if code == "malformed_row":
        # Preceded by « Ligne N » (see _rejected_frame).
        n, ncol, sep = int(row["_champs"]), int(row["_ncol"]), row.get("_sep") or ";"
        shown = "tabulation" if sep == "\t" else f"« {sep} »"
        if n > ncol:
            why = (
                f"{n - ncol} de trop : sans doute un séparateur {shown} dans une valeur "
                "sans guillemets ; la ligne est écartée plutôt que de deviner quelle "
                "valeur le contient (mettez cette valeur entre guillemets)"
            )
        else:
            why = (
                f"{ncol - n} de moins (séparateur manquant, ligne coupée en deux, ou "
                "dernières valeurs vides omises par l'outil d'export ?)"
            )
        fields = f"{n} champ{'s' if n > 1 else ''} au lieu de {ncol}"
        if row.get("_head"):
            return (
                f" de « {row.get('_file', '?')} » : l'en-tête d'un autre export, de {n} "
                f"colonnes au lieu de {ncol} (deux exports mis bout à bout ?) ; ses lignes "
                "aussi larges sont écartées : enregistrez cet export dans un fichier à part."
            )
        if row.get("_under") is not None:
            why = (
                f"sous l'en-tête d'un autre export (ligne {row['_under']}, de {n} colonnes) ; "
                "écartée : enregistrez cet export dans un fichier à part"
            )
        return f" de « {row.get('_file', '?')} » mal formée : {fields}, {why}."
    if code == "repeated_header":
        return (
            "Ligne d'en-tête répétée : les noms des colonnes (dont "
            f"{col('date')}) au lieu de valeurs, comme dans un export fait de plusieurs "
            "morceaux mis bout à bout ; ligne écartée, les suivantes sont lues."
        )
    if code == "unreadable_feature":
        return (
            "Entité GeoJSON illisible : cet élément de « features » n'est pas un objet "
            "(du texte, un nombre ou null au lieu d'une Feature) ; aucune valeur à lire."
        )
    if code == "missing_date":
        return f"Date absente dans la colonne {col('date')}."
    if code == "unparseable_date":
        return (
            f"Date illisible dans la colonne {col('date')} : « {value} » "
            "(attendu jj/mm/aaaa [hh:mm], 5 mars 2024 [14h02], ISO 8601 ou numéro de série "
            "Excel ; fuseau facultatif : Z, UTC, GMT, CET, CEST ou +hh:mm)."
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
        where = " / ".join(
            col(r) if not columns[r].startswith("__") else "« geometry »" for r in located
        )
        return f"Coordonnées illisibles ou impossibles dans {where} : « {row.get('shown', '')} »."
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


#: Reasons whose sentence quotes the date cell.
_DATE_REASONS = frozenset({"unparseable_date", "date_in_future", "date_before_start"})


def _scrubbed(values: list[str]) -> list[str]:
    """``values`` scrubbed in one call."""
    if not values:
        return []
    return _scrub.scrub_series(pd.Series(values, dtype="str"))[0].fillna("").tolist()


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
    files = rf["_file"].to_numpy().astype(np.int64)
    rows = rf["_row"].to_numpy()
    lines = rf["source_line"].to_numpy().astype(np.int64)
    reason = part.reason[r].astype(np.int64) - 1
    codes = np.asarray(ROW_REASONS, dtype=object)[reason]
    ncols = [len(raw.columns) for raw in raws]
    names = [Path(raw.path).name for raw in raws]
    # One sentence per group of rows that share it (same reason, file and, for a
    # malformed row, number of fields); rows whose sentence quotes their own value get
    # their own, the values quoted scrubbed in one call per kind.
    sentences: list[str] = []
    index = np.zeros(len(r), np.int64)
    groups, inverse = np.unique(reason * (len(raws) + 1) + files, return_inverse=True)
    for g, key in enumerate(groups.tolist()):
        code, fi = ROW_REASONS[key // (len(raws) + 1)], key % (len(raws) + 1)
        members = np.flatnonzero(inverse == g)
        columns = roles_per_file[fi]
        if code in _DATE_REASONS:
            dates = rf["date"].iloc[members].astype("str").fillna("").str.slice(0, 60).tolist()
            for k, value in zip(members, _scrubbed(dates), strict=True):
                index[k] = len(sentences)
                sentences.append(_reason_fr(code, {"date": value}, columns, today, start))
        elif code == "unparseable_coordinates":
            located = [x for x in ("lat", "lon", "x", "y", "geo_point") if x in columns]
            cells = [
                rf[x].iloc[members].astype("str").fillna("").str.slice(0, 40).tolist()
                if x in rf
                else [""] * len(members)
                for x in located
            ]
            shown = [" ; ".join(values) for values in zip(*cells, strict=True)]
            if not located:
                shown = [""] * len(members)
            for k, value in zip(members, _scrubbed(shown), strict=True):
                index[k] = len(sentences)
                sentences.append(_reason_fr(code, {"shown": value}, columns, today, start))
        elif code == "malformed_row":
            widths = raws[fi].malformed.n_fields[-1 - rows[members]]
            heads = other_headers(raws[fi])
            for width in np.unique(widths).tolist():
                here = members[widths == width]
                # Rows under a header of another export as wide: which one (-1: none),
                # numbered from 1 past it, 0 for the header itself (its own sentence).
                at = heads.get(width, np.zeros(0, np.int64))
                under = np.searchsorted(at, lines[here], side="right") - 1
                group = np.where(under < 0, -1, 2 * np.maximum(under, 0))
                if len(at):
                    group += (under >= 0) & (at[np.maximum(under, 0)] != lines[here])
                for g in np.unique(group).tolist():
                    index[here[group == g]] = len(sentences)
                    record = {
                        "_champs": width,
                        "_ncol": ncols[fi],
                        "_file": names[fi],
                        "_sep": raws[fi].separator,
                        "_under": int(at[g // 2]) if g >= 0 else None,
                        "_head": g >= 0 and g % 2 == 0,
                    }
                    sentences.append(_reason_fr(code, record, columns, today, start))
        elif code == "unclosed_quote":
            for k in members:
                index[k] = len(sentences)
                record = {"_line": int(lines[k]), "_file": names[fi]}
                sentences.append(_reason_fr(code, record, columns, today, start))
        else:
            index[members] = len(sentences)
            sentences.append(_reason_fr(code, {}, columns, today, start))
    reasons = pa.DictionaryArray.from_arrays(
        pa.array(index), pa.array(sentences, pa.large_string())
    ).cast(pa.large_string())
    malformed = codes == "malformed_row"
    if malformed.any():  # « Ligne N » before each one's sentence, vectorised
        numbers = pa.array(lines[malformed]).cast(pa.large_string())
        told = pc.binary_join_element_wise(
            _text("Ligne "), numbers, reasons.filter(pa.array(malformed)), _text("")
        )
        reasons = pc.replace_with_mask(reasons, pa.array(malformed), told)
    paths = np.asarray([raw.path for raw in raws], dtype=object)
    frame = pd.DataFrame(
        {
            "source": source.id,
            "source_file": paths[files],
            "source_line": lines.astype(int),
            "reason": codes,
            "reason_fr": to_str_series(reasons, rf.index),
            "original_row": to_str_series(originals, rf.index),
        },
        columns=list(REJECTED_COLUMNS),
    ).reset_index(drop=True)
    return frame, counts
