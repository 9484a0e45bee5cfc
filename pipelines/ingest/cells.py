"""One source's files as cleaned cells: which column plays which role, coordinates
validated and converted to WGS84 (:mod:`pipelines.ingest.coords`), dates parsed."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import union_categoricals

from pipelines.config import SourceConfig
from pipelines.errors import InputError
from pipelines.ingest.coords import coordinates, refactorized
from pipelines.ingest.dates import date_order, parse_dates, year_first_note, year_first_rows
from pipelines.ingest.filenotes import listed
from pipelines.ingest.household import identity_codes
from pipelines.ingest.personal import group_leaf, is_personal, personal_columns
from pipelines.ingest.rawfile import RawFile
from pipelines.ingest.readers import CATEGORY_FALLBACK, FORMAT_DEFAULTS
from pipelines.ingest.schema import (
    _LABEL_ROLES,
    _LOCATION_ROLES,
    _TEXT_ROLES,
    _ZERO_PAIR,
)
from pipelines.ingest.scrub import empty_counts, scrub_ids
from pipelines.ingest.threads import concurrently
from pipelines.ingest.values import (
    arrow_view,
    clean_cells,
    clean_labels,
    filled_cells,
    to_str_series,
)
from pipelines.ingest.xlsx import TITLE_ROWS_MAX
from pipelines.taxonomy import normalise_label


def _column_key(name: str) -> str:
    """A column name as compared with a configured one: up to case, accents and
    punctuation (:func:`pipelines.taxonomy.normalise_label`), the masculine ordinal
    « º » (« Nº », as a Mac or Word writes it) read as the degree sign « ° » of « N° »
    (folded, « Nº » was « no » and « N° » « n »: the column was not found, the message
    naming two columns that look the same)."""
    return normalise_label(name.replace("\u00ba", "\u00b0"))


def _find_column(columns: list[str], wanted: str) -> str | None:
    """The file's column for the configured name ``wanted``: the same name, else the same
    up to case, accents and punctuation, else the one column whose last part of a group
    path is it (Kobo's « include groups in headers »: « groupe_obs/probleme » for
    « probleme », or the other way round; two such columns match none)."""
    if wanted in columns:
        return wanted
    folded = _column_key(wanted)
    for col in columns:
        if _column_key(col) == folded and folded:
            return col
    leaf = normalise_label(group_leaf(wanted))
    paths = [
        c
        for c in columns
        if ("/" in c or "/" in wanted) and leaf and normalise_label(group_leaf(c)) == leaf
    ]
    return paths[0] if len(paths) == 1 else None


def _columns_for_message(
    available: Iterable[str], recognised: bool, *, capital: bool = False
) -> str:
    """The file's columns, for an error message, when at least one of them was found
    (the file is the expected export); else only their number: the first line of
    another file (a password file named by mistake) is its content, never echoed."""
    columns = list(available)
    if recognised:
        text = "colonnes disponibles : " + ", ".join(f"« {c} »" for c in columns)
    else:
        text = (
            f"aucune des {len(columns)} colonne(s) du fichier n'est attendue : est-ce bien "
            "l'export de cette source ? (son contenu n'est pas recopié ici)"
        )
    return text[:1].upper() + text[1:] if capital else text


def _header_further_down(raw: RawFile, wanted: list[str]) -> int | None:
    """The file's line of the first of its first rows (:data:`TITLE_ROWS_MAX`) whose
    cells hold every name of ``wanted`` (up to case and accents): the true header, under
    a row read as the header (a row of groups over it, a title of several cells)."""
    folded = {normalise_label(w) for w in wanted}
    for i, row in enumerate(raw.table.slice(0, TITLE_ROWS_MAX).to_pylist()):
        if folded <= {normalise_label(str(v)) for v in row.values() if v}:
            return int(raw.lines[i])
    return None


def resolve_columns(raw: RawFile, source: SourceConfig) -> dict[str, str]:
    """Map each role to the file's column: the configured ones (exact name, else the
    same name up to case, accents and punctuation), then the format's defaults.

    Raises
    ------
    InputError
        A configured column is missing (the message lists the missing and the available
        columns), or no column gives the date or a location.
    """
    available = raw.columns
    roles: dict[str, str] = {}
    missing: list[str] = []
    for role, wanted in source.columns.items():
        found = _find_column(available, wanted)
        if found is None:
            missing.append(wanted)
        else:
            roles[role] = found
    if missing:
        detail = ""
        if raw.separator is not None:
            sep = {"\t": "tabulation"}.get(raw.separator, raw.separator)
            detail = f" (séparateur détecté « {sep} », encodage {raw.encoding})"
        elif len(raw.sheets) > 1:
            others = ", ".join(
                f"« {t} »" + (" (masquée)" if t in raw.hidden_sheets else "")
                for t in raw.sheets[1:]
            )
            detail = (
                f" (feuille lue : « {raw.sheets[0]} » ; le classeur a aussi {others} : "
                "la clé sheet de la source choisit la feuille)"
            )
        below = _header_further_down(raw, missing)
        names = ", ".join(f"« {m} »" for m in missing)
        if below is not None:
            raise InputError(
                raw.path,
                f"colonnes configurées absentes de l'en-tête lu : {names}. Ces noms sont "
                f"ceux de la ligne {below} du fichier : la ligne lue comme en-tête est un "
                "titre ou une ligne de regroupement au-dessus de l'en-tête ; supprimez les "
                "lignes au-dessus de l'en-tête.",
            )
        raise InputError(
            raw.path,
            f"colonnes configurées absentes : {names}. "
            + _columns_for_message(available, bool(roles), capital=True)
            + f"{detail}. Corrigez [sites.sources.columns] de la source « {source.id} ».",
        )
    for role, candidates in FORMAT_DEFAULTS.get(raw.format, {}).items():
        if role in roles:
            continue
        for cand in candidates:
            if cand in raw.table.column_names:
                roles[role] = cand
                break
    if raw.format in ("kobo", "odk"):
        # A geopoint split into columns: Kobo's <field>_latitude, ODK Central's
        # <group>-<field>-Latitude (the first geopoint of the form).
        for role, name in (("lat", "latitude"), ("lon", "longitude")):
            if role not in roles:
                hits = [c for c in available if c.lower().endswith((f"_{name}", f"-{name}"))]
                if hits:
                    roles[role] = hits[0]
    alt = CATEGORY_FALLBACK.get(raw.format)
    if alt and alt in raw.table.column_names and roles.get("category") != alt:
        roles["category_alt"] = alt
    if "date" not in roles:
        raise InputError(
            raw.path,
            "aucune colonne de date : indiquez-la dans [sites.sources.columns] (date = …) ; "
            + _columns_for_message(available, bool(roles))
            + ".",
        )
    for a, b in (("lat", "lon"), ("x", "y")):
        if (a in roles) != (b in roles):
            raise InputError(
                raw.path, f"les rôles « {a} » et « {b} » vont ensemble : il en manque un."
            )
    has_location = any(r in roles for r in (*_LOCATION_ROLES, "lat", "x", "geo_point"))
    if not has_location:
        raise InputError(
            raw.path,
            "aucune colonne de localisation (adresse, bâtiment, coordonnées) : indiquez-en une "
            "dans [sites.sources.columns] ; " + _columns_for_message(available, bool(roles)) + ".",
        )
    return roles


def _identities(
    raw: RawFile, roles: dict[str, str], source: SourceConfig, row: np.ndarray
) -> pd.Categorical:
    """Per row of a file's frame, the household identifiers read from its personal
    columns (declared or detected, mapped to no role), as
    :func:`pipelines.ingest.household.identity_tokens` writes them, as a ``Categorical``
    (a few distinct strings); ``""`` for a malformed row (``row`` < 0) and for every row
    of an observation source (whose personal columns name surveyors, not households).
    """
    n = len(row)
    none = pd.Categorical.from_codes(np.zeros(n, np.int8), categories=pd.Index([""], dtype="str"))
    if source.kind != "reports":
        return none
    mapped = set(roles.values())
    personal = personal_columns(source, [raw], [roles])
    names = [
        c
        for c in raw.columns
        if c not in mapped and c in raw.table.column_names and is_personal(c, personal)
    ]
    codes, tokens = identity_codes({c: raw.table.column(c) for c in names}, raw.table.num_rows)
    if not (row >= 0).all():  # malformed rows: no identifier
        tokens = np.append(tokens, "")
        # one more code, the blank's, for the malformed rows (a file may have no other row)
        codes = np.append(codes, len(tokens) - 1)[np.where(row >= 0, row, len(codes))]
        codes, tokens = refactorized(codes, tokens)
    else:
        codes = codes[row]
    return pd.Categorical.from_codes(codes, categories=pd.Index(tokens, dtype="str"))


def _file_frame(raw: RawFile, roles: dict[str, str], file_index: int) -> pd.DataFrame:
    """The role columns of one file, cleaned, plus the row's identity."""
    n = raw.table.num_rows
    index = pd.RangeIndex(n)

    def clean(role: str) -> pd.Series:
        column = raw.table.column(roles[role])
        if role in _LABEL_ROLES:
            # free text: "-" or "NA" may be what was written
            return clean_labels(column, index, na_tokens=role != "description")
        return clean_cells(column, index)

    data: dict[str, Any] = concurrently(
        {role: functools.partial(clean, role) for role in _TEXT_ROLES if role in roles}
    )
    if "__geom_note" in raw.table.column_names:
        data["_geom_note"] = to_str_series(raw.table.column("__geom_note"), index)
    frame = pd.DataFrame(data, index=index)
    frame["_file"] = np.int32(file_index)
    frame["_row"] = np.arange(n, dtype=np.int64)
    frame["source_line"] = raw.lines
    frame["_malformed"] = False
    frame["_unclosed_quote"] = False
    if raw.malformed:
        m = len(raw.malformed)
        blank = to_str_series(pa.repeat(pa.scalar("", pa.large_string()), m))
        bad = pd.DataFrame(
            {
                **dict.fromkeys(data, blank),
                "_file": np.int32(file_index),
                "_row": -1 - np.arange(m, dtype=np.int64),
                "source_line": raw.malformed.lines,
                "_malformed": True,
                "_unclosed_quote": raw.malformed.unclosed_quote,
                "_raw_text": _joined_text(raw.malformed.joined("\x1f")),
            }
        )
        good = _as_str(frame).assign(
            _raw_text=to_str_series(pa.repeat(pa.scalar("", pa.large_string()), n))
        )
        frame = pd.concat([good, bad], ignore_index=True)
        if n:
            frame = frame.sort_values("source_line", kind="stable", ignore_index=True)
    return frame


def _joined_text(text: list[str] | pa.ChunkedArray) -> pd.Series:
    """The malformed rows' text as a ``str`` Series (from a list or a pyarrow array)."""
    if isinstance(text, list):
        return pd.Series(text, dtype="str")
    return to_str_series(text)


def _as_str(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its ``category`` columns as ``str``."""
    labels = [c for c in frame if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.astype(dict.fromkeys(labels, "str")) if labels else frame


def _str_column(values: pd.Series) -> pd.Series:
    """A text column as ``str`` (label columns are ``category``)."""
    return values.astype("str") if isinstance(values.dtype, pd.CategoricalDtype) else values


def _concat_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate the files' frames; a label column stays ``category`` (the union of
    the files' values) when every file has it as one."""
    out = pd.concat([_as_str(fr) for fr in frames], ignore_index=True)
    for column in out:
        parts = [fr[column] for fr in frames]
        if all(isinstance(part.dtype, pd.CategoricalDtype) for part in parts):
            out[column] = pd.Series(union_categoricals(parts), index=out.index)
    return out


@dataclass
class _Parsed:
    """A source's rows, all files together: cleaned cells and parsed values."""

    frame: pd.DataFrame  # role columns, _file, _row, source_line, _malformed, _unclosed_quote
    reported_at: pd.Series
    closed_at: pd.Series
    lon: np.ndarray
    lat: np.ndarray
    state: np.ndarray  # _STATE_NONE / _OK / _BAD
    flags: np.ndarray  # coordinate note bits
    roles: list[str]
    # Every row has an id and no two the same (checked while the dates were parsed);
    # False when unknown.
    ids_distinct: bool = False
    # What was scrubbed from the ids (a phone number or an e-mail used as an id).
    id_scrubbed: dict[str, int] = field(default_factory=empty_counts)
    # How each file's a/b/yyyy dates were read, when the values had to say it (notes for
    # the summary's file_issues: month first, or no evidence either way).
    date_notes: list[dict[str, Any]] = field(default_factory=list)
    # Per file (in the order of the source's files): its a/b/yyyy dates are month first,
    # as its values show (:func:`_date_order_of`); every date column of the file is read so.
    month_first: list[bool] = field(default_factory=list)
    # Per file (in the order of the source's files): the lines whose coordinates were 0;0,
    # read as none (:data:`_ZERO_PAIR`; the file's note).
    zero_pair_lines: list[np.ndarray] = field(default_factory=list)


def _date_order_of(
    raw: RawFile, fr: pd.DataFrame, per_file: dict[str, str], notes: list[dict[str, Any]]
) -> bool:
    """Whether the file's ``a/b/yyyy`` dates are month first, from the values themselves.

    A first field above 12 proves day first, a second field above 12 month first
    (:func:`pipelines.ingest.values.date_order`, over the creation, closing and update
    dates of the file: one export writes all its dates one way). Evidence both ways is an
    error naming lines of each; no evidence leaves the French default (day first) with a
    note; month first is read so, with a note.
    """
    cols = [c for c in ("date", "closed_at", "updated_at") if c in fr]
    if not cols:
        return False
    found = date_order(*(_str_column(fr[c]) for c in cols))
    lines = fr["source_line"].to_numpy()
    names = " / ".join(f"« {per_file.get(c, c)} »" for c in cols)

    def shown(rows: np.ndarray) -> str:
        return listed(lines[rows], 5)

    if found.order == "contradictory":
        raise InputError(
            raw.path,
            "dates écrites dans deux ordres : jour en premier (ex. lignes "
            f"{shown(found.day_rows)}) et mois en premier (ex. lignes {shown(found.month_rows)}). "
            "Corrigez les lignes fautives, ou imposez le format avec « date_format ».",
            column=" / ".join(per_file.get(c, c) for c in cols),  # the error quotes it
        )
    if found.order in ("month_first", "ambiguous"):
        rows = found.month_rows
        detail = (
            f"Dates de {names} lues mois en premier (12/31/2017 : 31 décembre), comme le "
            f"montrent les lignes {shown(rows)}."
            if found.order == "month_first"
            else f"Dates de {names} ambiguës (jour et mois toujours ≤ 12) : lues jour en premier, "
            "la convention française ; imposez « date_format » si elles sont au format américain."
        )
        notes.append(
            {
                "source_file": raw.path,
                "reason": "dates_month_first"
                if found.order == "month_first"
                else "dates_ambiguous",
                "reason_fr": detail,
                "lines": [int(n) for n in lines[rows[:1000]]],
                "note_only": True,
            }
        )
    return found.order == "month_first"


def _has_repeats(values: pd.Series) -> bool:
    """Whether two values are the same (pyarrow's hash-based unique: twice as fast as
    pandas' ``duplicated``)."""
    return len(pc.unique(arrow_view(values))) < len(values)


def _all_distinct(ids: pd.Series) -> bool:
    """Whether every value is filled and no two are the same."""
    return bool(filled_cells(ids).all()) and not _has_repeats(ids)


def _nothing() -> None:
    return None


def _file_dates(
    raw: RawFile,
    fr: pd.DataFrame,
    per_file: dict[str, str],
    source: SourceConfig,
    notes: list[dict[str, Any]],
    *,
    naive_tz: bool,
    window: tuple[np.datetime64, np.datetime64] | None = None,
) -> tuple[bool, pd.Series, pd.Series]:
    """A file's creation and closing dates, and whether they are month first (from the
    values, :func:`_date_order_of`, unless the source forces a ``date_format``);
    ``naive_tz``: timestamps without an offset are UTC (KoboToolbox). A column whose
    ``nn-nn-nn`` dates only make sense year first in ``window`` (the study's first day,
    the day after the processing) is read so, with a note (:func:`year_first_rows`)."""
    month_first = False
    if not source.date_format:
        month_first = _date_order_of(raw, fr, per_file, notes)
    options: dict[str, Any] = {
        "naive_tz": "UTC" if naive_tz else None,
        "excel_epoch": raw.excel_epoch,
    }
    parsed = {
        role: parse_dates(
            fr[role], date_format=source.date_format, month_first=month_first, **options
        )
        for role in ("date", "closed_at")
        if role in fr
    }
    if window is not None and not source.date_format and not month_first:
        for role, day_first in parsed.items():
            found = year_first_rows(_str_column(fr[role]), day_first, window, **options)
            if found is not None:
                parsed[role] = found[0]
                lines = fr["source_line"].to_numpy()[found[1]]
                notes.append(year_first_note(raw.path, per_file.get(role, role), lines))
    closed_at = parsed.get("closed_at", pd.Series(pd.NaT, index=fr.index, dtype="datetime64[us]"))
    return month_first, parsed["date"], closed_at


def _parse_source(
    source: SourceConfig,
    raws: list[RawFile],
    roles_per_file: list[dict[str, str]],
    *,
    households: bool = True,
    window: tuple[np.datetime64, np.datetime64] | None = None,
) -> _Parsed:
    """Clean and parse every file of a source (file by file: formats and CRS may differ).

    ``households``: the frame carries each row's household identifiers (``_identity``,
    :func:`_identities`); without them (no secret to key them) they are not computed.
    ``window``: the study's first day and the day after the processing, where the dates
    of a year-first column fall (:func:`_file_dates`)."""
    roles = sorted({r for per_file in roles_per_file for r in per_file})
    frames, dates, closes, coords = [], [], [], []
    date_notes: list[dict[str, Any]] = []
    month_firsts: list[bool] = []
    zero_pair_lines: list[np.ndarray] = []
    one = len(raws) == 1
    scrubbed: tuple[pd.Series, dict[str, int]] | None = None
    for i, (raw, per_file) in enumerate(zip(raws, roles_per_file, strict=True)):
        fr = _file_frame(raw, per_file, i)
        for role in roles:
            if role not in fr:
                fr[role] = (
                    pd.Categorical.from_codes(
                        np.zeros(len(fr), np.int8), categories=pd.Index([""], dtype="str")
                    )
                    if role in _LABEL_ROLES
                    else ""
                )
        # KoboToolbox writes _submission_time in UTC, without an offset.
        kobo_utc = raw.format == "kobo" and per_file.get("date") == "_submission_time"
        # Every step of the file side by side, the dates after their order: the date order,
        # the household identifiers and the scrubbed ids (about 0.3 s of CPU on
        # bench.ingest's million rows) no longer run alone, one core idle, before and after.
        done = concurrently(
            {
                "coords": functools.partial(coordinates, fr, source, raw.crs, fr.get("_geom_note")),
                "dates": functools.partial(
                    _file_dates,
                    raw,
                    fr,
                    per_file,
                    source,
                    date_notes,
                    naive_tz=kobo_utc,
                    window=window,
                ),
                "ids_distinct": functools.partial(_all_distinct, fr["id"])
                if "id" in fr and one
                else bool,
                # One file: its ids scrubbed here (several: once they are put together).
                "scrubbed_ids": functools.partial(scrub_ids, _str_column(fr["id"]))
                if "id" in fr and one
                else _nothing,
                "identity": functools.partial(
                    _identities, raw, per_file, source, fr["_row"].to_numpy()
                )
                if households
                else _nothing,
            }
        )
        if households:
            fr["_identity"] = done["identity"]
        ids_distinct = bool(done["ids_distinct"])
        scrubbed = done["scrubbed_ids"]
        month_first, reported_at, closed_at = done["dates"]
        month_firsts.append(month_first)
        dates.append(reported_at)
        closes.append(closed_at)
        lon, lat, state, flags = done["coords"]
        zero = (flags & _ZERO_PAIR) != 0
        zero_pair_lines.append(fr["source_line"].to_numpy()[zero])
        coords.append((lon, lat, state, flags & ~_ZERO_PAIR if zero.any() else flags))
        frames.append(fr)
    if not frames:
        empty = pd.DataFrame(
            {
                "date": pd.Series([], dtype="str"),
                "_file": np.zeros(0, np.int32),
                "_row": np.zeros(0, np.int64),
                "source_line": np.zeros(0, np.int64),
                "_malformed": np.zeros(0, bool),
                "_unclosed_quote": np.zeros(0, bool),
            }
        )
        none = pd.Series([], dtype="datetime64[us]")
        return _Parsed(
            empty,
            none,
            none,
            np.zeros(0),
            np.zeros(0),
            np.zeros(0, np.int8),
            np.zeros(0, np.int64),
            roles,
        )
    # One file (the usual case): its arrays as they are, not copied by a concatenation.
    lon, lat, state, flags = (
        coords[0] if one else tuple(np.concatenate([c[k] for c in coords]) for k in range(4))
    )
    frame = frames[0] if one else _concat_frames(frames)
    # A phone number or an e-mail used as an id goes here, before ids are compared: the
    # scrubbed ids stay distinct where the ids were (pipelines.ingest.scrub.scrub_ids), so
    # duplicates and updates are found as before, and no output shows the number.
    id_scrubbed = empty_counts()
    if "id" in frame:
        frame["id"], id_scrubbed = scrubbed or scrub_ids(_str_column(frame["id"]))
    return _Parsed(
        frame=frame,
        reported_at=dates[0] if one else pd.concat(dates, ignore_index=True),
        closed_at=closes[0] if one else pd.concat(closes, ignore_index=True),
        lon=lon,
        lat=lat,
        state=state,
        flags=flags,
        roles=roles,
        ids_distinct=one and ids_distinct,
        id_scrubbed=id_scrubbed,
        date_notes=date_notes,
        month_first=month_firsts,
        zero_pair_lines=zero_pair_lines,
    )
