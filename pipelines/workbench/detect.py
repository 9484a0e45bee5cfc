"""What an export holds, guessed from its header and its values: the column of each role
(id, date, category, address, coordinates and their coordinate system, status, closing
date…), the personal columns, the order of its ``a/b/yyyy`` dates.

Every guess is checked on the values with ingestion's own parsers (``parse_dates``,
``parse_numbers``, ``parse_geo_points``, ``date_order``), on the cells as ingestion cleans
them; the roles a format provides by itself (KoboToolbox's ``_submission_time``, a
GeoJSON point) come from ingestion's ``resolve_columns`` and are not written.

How a role finds its column: each role has header patterns, scored (a header reading
exactly « Catégorie » scores more than one that merely holds « type »:
:mod:`pipelines.workbench.headers`). The pairs (role, column) are taken best score
first, a column serving one role, and a pair is kept only when the column's values fit
the role (dates that parse, numbers in range, distinct identifiers, labels that repeat).
A header that looks personal (nom, téléphone, logement…) never gets a role: it is a
personal column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipelines.config import COLUMN_ROLES, SourceConfig
from pipelines.errors import InputError, VigieError
from pipelines.fr import fr_number, plural
from pipelines.ingest import (
    FORMAT_PERSONAL,
    RawFile,
    clean_cells,
    date_order,
    looks_personal,
    parse_dates,
    parse_geo_points,
    parse_numbers,
    resolve_columns,
)
from pipelines.taxonomy import UNKNOWN, map_labels, normalise_label
from pipelines.workbench.headers import find_column, header_score

#: Rows whose values are checked (the first ones): enough to tell what a column holds.
SAMPLE_ROWS = 5000

#: Header score from which a header names its role plainly (see :func:`fits`).
STRONG_HEADER = 8

#: Roles whose column holds dates.
DATE_ROLES = ("date", "closed_at", "updated_at")
#: Roles whose column holds labels (few distinct values).
LABEL_ROLES = ("category", "subcategory", "status", "channel")
#: Roles that locate a report without coordinates.
PLACE_ROLES = ("address", "number", "street", "postcode", "city", "building_ref")
#: Roles that only make sense without a full address column (the address is composed).
ADDRESS_PARTS = ("number", "street", "postcode", "city")
#: Pairs of roles that go together.
PAIRS = (("lat", "lon"), ("x", "y"))

#: Lambert-93 (EPSG:2154) over metropolitan France, metres (as ingestion checks them).
L93_X = (100_000.0, 1_300_000.0)
L93_Y = (6_000_000.0, 7_200_000.0)

#: ``a/b/yyyy`` formats tried on month-first dates, the most precise first: the one that
#: reads every date of the file is proposed as the source's ``date_format``.
MONTH_FIRST_FORMATS = tuple(
    f"%m{sep}%d{sep}{year}{clock}"
    for sep in ("/", "-", ".")
    for year in ("%Y", "%y")
    for clock in (" %I:%M:%S %p", " %I:%M %p", " %H:%M:%S", " %H:%M", "")
)


class DetectionError(VigieError):
    """What an export holds cannot be told (no date column, an unknown column named…)."""


# --------------------------------------------------------------------------- values
@dataclass(frozen=True)
class ColumnValues:
    """One column's cleaned values (a sample of the file's rows): ``""`` when empty."""

    name: str
    values: pd.Series

    @property
    def filled(self) -> pd.Series:
        return self.values[self.values != ""]


def column_values(raw: RawFile, name: str, *, rows: int | None = SAMPLE_ROWS) -> ColumnValues:
    """The cleaned cells of one column (ingestion's cleaning: trimmed, ``NA`` and the
    like emptied), of the first ``rows`` rows (all with ``None``)."""
    column = raw.table.column(name)
    if rows is not None and len(column) > rows:
        column = column.slice(0, rows)
    return ColumnValues(name, clean_cells(column).astype("str"))


def _numeric(values: pd.Series) -> np.ndarray:
    return parse_numbers(values, decimal=None)[0].to_numpy()


def percent(share: float) -> str:
    """``0.97`` → ``97 %`` (French: a no-break space before the sign)."""
    return f"{fr_number(100 * share)}\u00a0%"


def _share(mask: np.ndarray) -> float:
    return float(mask.mean()) if len(mask) else 0.0


def _bare_numbers(values: pd.Series) -> bool:
    """Whether most values are bare integers (a counter, not a date or a label)."""
    return _share(values.str.fullmatch(r"[0-9]{1,7}").to_numpy(dtype=bool)) >= 0.9


def month_first_of(values: pd.Series) -> bool:
    """Whether ``a/b/yyyy`` values prove month first (ingestion's ``date_order``)."""
    return date_order(values).order == "month_first"


def date_share(values: pd.Series, *, excel: bool = False) -> float:
    """Share of the (filled) values that read as dates, in the order they show."""
    if values.empty or (_bare_numbers(values) and not excel):
        return 0.0
    parsed = parse_dates(values, month_first=month_first_of(values))
    return _share(~np.isnat(parsed.to_numpy()))


def fits(role: str, col: ColumnValues, *, fmt: str, strong: bool = False) -> tuple[bool, str]:
    """Whether the values of ``col`` fit ``role``, and a French note saying so.

    Nine values in ten must fit; half suffice under a header that names the role plainly
    (``strong``: « Date de création », « Latitude »), whose bad values ingestion rejects
    one by one with their reason. Under such a header, bare numbers may be Excel serial
    dates, and coordinates out of range may be swapped or Lambert-93 (ingestion mends
    both).
    """
    v = col.filled
    n = len(v)
    if n == 0:
        return False, "colonne vide"
    need = 0.5 if strong else 0.9
    if role in DATE_ROLES:
        share = date_share(v, excel=fmt == "xlsx" or strong)
        return share >= need, f"{percent(share)} de dates lisibles"
    if role in ("lat", "lon", "x", "y"):
        x = _numeric(v)
        share = _share(np.isfinite(x))
        if share < need:
            return False, f"{percent(share)} de nombres"
        finite = x[np.isfinite(x)]
        if not strong and role == "lat" and not (np.abs(finite) <= 90).all():
            return False, "hors des latitudes possibles"
        if not strong and role == "lon" and not (np.abs(finite) <= 180).all():
            return False, "hors des longitudes possibles"
        return True, f"{percent(share)} de nombres"
    if role == "geo_point":
        lat, _ = parse_geo_points(v)
        share = _share(lat.notna().to_numpy())
        return share >= need, f"{percent(share)} de points lisibles"
    if role == "id":
        share = v.nunique() / n
        filled = n / len(col.values)
        ok = share >= need and filled >= need
        return (
            ok,
            "valeurs toutes distinctes"
            if share == 1
            else f"{percent(share)} de valeurs distinctes",
        )
    if role in LABEL_ROLES:
        distinct = v.nunique()
        if _bare_numbers(v) and role != "channel":
            return False, "des nombres"
        ok = distinct <= max(60, 0.5 * n) or distinct <= 0.2 * n
        return ok, plural(distinct, "valeur distincte", "valeurs distinctes")
    if role in ("address", "street", "city"):
        letters = _share(v.str.contains(r"[A-Za-zÀ-ÿ]", regex=True).to_numpy(dtype=bool))
        if role == "address":
            lat, _ = parse_geo_points(v)
            if _share(lat.notna().to_numpy()) >= 0.5:
                return False, "des coordonnées, pas une adresse"
        return letters >= 0.9, "du texte"
    return True, ""


# --------------------------------------------------------------------------- roles
@dataclass(frozen=True)
class Guess:
    """The column found for a role, and why (French, for the prompts and the TOML)."""

    column: str
    why: str


@dataclass(frozen=True)
class DateFacts:
    """How the export writes its ``a/b/yyyy`` dates (ingestion's ``date_order`` over its
    date columns), and the ``date_format`` proposed when they are month first and one
    format reads them all."""

    order: str = "none"
    lines: tuple[int, ...] = ()
    date_format: str | None = None


@dataclass(frozen=True)
class Detected:
    """What an export holds.

    Attributes
    ----------
    roles
        Role → column, written in the configuration.
    automatic
        Role → column that the format gives by itself (KoboToolbox, ODK, Open311,
        GeoJSON: ingestion's defaults): not written.
    crs
        Coordinate system of the ``x``/``y`` columns (``None`` when there are none or it
        is unknown).
    personal
        Columns of people's data: never copied into an output.
    notes
        French sentences for the reader (what was set aside, and why).
    """

    roles: dict[str, Guess]
    automatic: dict[str, str] = field(default_factory=dict)
    crs: str | None = None
    personal: tuple[str, ...] = ()
    dates: DateFacts = field(default_factory=DateFacts)
    decimal_comma: bool = False
    notes: tuple[str, ...] = ()

    def columns(self) -> dict[str, str]:
        """Role → column, as ``[sites.sources.columns]`` holds them."""
        return {role: g.column for role, g in self.roles.items()}

    def all_roles(self) -> dict[str, str]:
        """Every role and its column, the format's included."""
        return {**self.automatic, **self.columns()}


def automatic_roles(raw: RawFile) -> dict[str, str]:
    """The roles a format provides without configuration (KoboToolbox's
    ``_submission_time``, a GeoJSON feature's point…), as ingestion's
    ``resolve_columns`` finds them; none for a plain CSV or workbook.

    ``resolve_columns`` insists on a date: when the format gives none, the probe names
    the first column as the date, to see the location columns the format gives, and
    leaves it out of the answer.
    """
    probes: list[dict[str, str]] = [{}]
    if raw.columns:
        probes.append({"date": raw.columns[0]})
    for columns in probes:
        bare = SourceConfig(id="init", kind="reports", path=raw.path, columns=columns)
        try:
            found = resolve_columns(raw, bare)
        except InputError:  # the format names neither a date nor a place by itself
            continue
        return {r: c for r, c in found.items() if r in COLUMN_ROLES and r not in columns}
    return {}


def _category_bonus(col: ColumnValues) -> float:
    """Share of a label column's rows that the taxonomy knows (breaks ties between
    « type » and « thème »)."""
    codes, _ = map_labels(col.filled.tolist())
    return _share(np.asarray([c != UNKNOWN for c in codes], dtype=bool))


def _crs_of(x: np.ndarray, y: np.ndarray) -> str | None:
    """EPSG:2154 when projected values fall in Lambert-93's range over France, EPSG:4326
    when they are degrees, else ``None`` (unknown: the analyst says it)."""
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return None
    mx, my = float(np.median(x[ok])), float(np.median(y[ok]))
    if L93_X[0] <= mx <= L93_X[1] and L93_Y[0] <= my <= L93_Y[1]:
        return "EPSG:2154"
    if abs(mx) <= 180 and abs(my) <= 90:
        return "EPSG:4326"
    return None


def detect_roles(
    raw: RawFile,
    *,
    forced: Mapping[str, str | None] | None = None,
    crs: str | None = None,
) -> Detected:
    """Find the column of each role in an export, and its personal columns.

    Parameters
    ----------
    raw
        The export as ingestion reads it (:func:`pipelines.ingest.read_file`).
    forced
        Role → column imposed by the analyst (``None`` or ``""``: no column for that
        role); the column is found as ingestion finds a configured one.
    crs
        Coordinate system of projected ``x``/``y`` columns, when the analyst gives it.

    Raises
    ------
    DetectionError
        A forced column is not in the file, a role is unknown, or no column gives the
        date of the reports.
    """
    forced = dict(forced or {})
    columns = raw.columns
    for role in forced:
        if role not in COLUMN_ROLES:
            raise DetectionError(
                f"rôle de colonne « {role} » inconnu ; rôles : {', '.join(COLUMN_ROLES)}."
            )
    auto = automatic_roles(raw)
    roles: dict[str, Guess] = {}
    notes: list[str] = []
    for role, wanted in forced.items():
        if not wanted:
            auto.pop(role, None)
            continue
        found = find_column(columns, wanted)
        if found is None:
            raise InputError(
                raw.path,
                f"colonne « {wanted} » absente (rôle {role}) ; colonnes : "
                + ", ".join(f"« {c} »" for c in columns)
                + ".",
            )
        roles[role] = Guess(found, "choisie par vous")
        auto.pop(role, None)
    personal = [c for c in columns if looks_personal(c) or c in FORMAT_PERSONAL.get(raw.format, ())]
    taken = set(auto.values()) | {g.column for g in roles.values()}
    free = [c for c in columns if c not in taken and c not in personal]
    cache: dict[str, ColumnValues] = {}

    def values(name: str) -> ColumnValues:
        if name not in cache:
            cache[name] = column_values(raw, name)
        return cache[name]

    candidates: list[tuple[float, int, str, str]] = []
    for role in COLUMN_ROLES:
        if role in roles or role in auto or role in forced:
            continue
        for k, name in enumerate(free):
            score: float = header_score(role, name)
            if score and role == "category":
                score += _category_bonus(values(name))
            if score:
                candidates.append((-score, k, role, name))
    has_place = bool(set(auto) & {"address", "lat", "x", "geo_point", "building_ref"})
    for _, _, role, name in sorted(candidates):
        if role in roles or name in {g.column for g in roles.values()}:
            continue
        if role in ADDRESS_PARTS and "address" in roles:
            continue
        if role in ("lat", "lon", "x", "y", "geo_point") and has_place and role not in forced:
            continue  # the format's own coordinates (Kobo, ODK, GeoJSON) come first
        strong = header_score(role, name) >= STRONG_HEADER
        ok, why = fits(role, values(name), fmt=raw.format, strong=strong)
        if ok:
            roles[role] = Guess(name, f"en-tête « {name} »" + (f", {why}" if why else ""))
    # A date column without a date header: the column whose values read best as dates.
    if "date" not in roles and "date" not in auto and forced.get("date", "-"):
        used = {g.column for g in roles.values()}
        best = max(
            ((date_share(values(c).filled, excel=raw.format == "xlsx"), c) for c in free
             if c not in used),
            default=(0.0, ""),
        )  # fmt: skip
        if best[0] >= 0.9:
            roles["date"] = Guess(best[1], f"{percent(best[0])} de dates lisibles")
    if "date" not in roles and "date" not in auto:
        raise DetectionError(
            f"{raw.path} : aucune colonne de dates reconnue ; indiquez-la (par exemple "
            '--column date="Date de création"). Colonnes : '
            + ", ".join(f"« {c} »" for c in columns)
            + "."
        )
    # Projected x/y: their coordinate system from their values, or as the analyst said.
    crs_found: str | None = None
    if "x" in roles and "y" in roles:
        x = _numeric(values(roles["x"].column).values)
        y = _numeric(values(roles["y"].column).values)
        crs_found = crs or _crs_of(x, y)
        if crs_found == "EPSG:4326" and not crs:
            roles["lon"], roles["lat"] = roles.pop("x"), roles.pop("y")
            crs_found = None
            notes.append("Les colonnes X/Y contiennent des degrés : lues comme longitude/latitude.")
        elif crs_found is None:
            notes.append(
                f"Colonnes « {roles['x'].column} » / « {roles['y'].column} » : système de "
                "coordonnées inconnu (ni Lambert-93 ni degrés) ; elles ne sont pas utilisées. "
                "Précisez-le avec --crs (par exemple --crs EPSG:3949) pour les lire."
            )
            roles.pop("x")
            roles.pop("y")
    for a, b in PAIRS:
        if (a in roles) != (b in roles):
            alone = roles.pop(a if a in roles else b)
            notes.append(
                f"Colonne « {alone.column} » : sa compagne ({b if a in roles else a}) est "
                "introuvable ; elle n'est pas utilisée."
            )
    all_roles = {**auto, **{r: g.column for r, g in roles.items()}}
    if not any(r in all_roles for r in (*PLACE_ROLES, "lat", "x", "geo_point")):
        raise DetectionError(
            f"{raw.path} : aucune colonne pour localiser les signalements (adresse, bâtiment, "
            'coordonnées) ; indiquez-en une (par exemple --column address="Adresse"). '
            "Colonnes : " + ", ".join(f"« {c} »" for c in columns) + "."
        )
    comma = False
    for role in ("lat", "lon", "x", "y"):
        if role in roles:
            comma |= bool(parse_numbers(values(roles[role].column).filled)[1].any())
    personal_left = tuple(c for c in personal if c not in set(all_roles.values()))
    return Detected(
        roles=roles,
        automatic=auto,
        crs=crs_found if "x" in roles else None,
        personal=personal_left,
        dates=date_facts(raw, all_roles),
        decimal_comma=comma,
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------- dates
def date_facts(raw: RawFile, roles: Mapping[str, str]) -> DateFacts:
    """How the file's ``a/b/yyyy`` dates are written (every row, every date column, as
    ingestion decides it per file), and, for month-first dates, the one format of
    :data:`MONTH_FIRST_FORMATS` that reads all of them (``None`` if none does)."""
    cols = [
        column_values(raw, roles[r], rows=None).values
        for r in DATE_ROLES
        if r in roles and roles[r] in raw.table.column_names
    ]
    if not cols:
        return DateFacts()
    found = date_order(*cols)
    proof = found.day_rows if found.order == "day_first" else found.month_rows
    lines = tuple(int(n) for n in raw.lines[proof[:5]]) if len(proof) else ()
    date_format = None
    if found.order == "month_first":
        filled = pd.concat([c[c != ""] for c in cols], ignore_index=True)
        for fmt in MONTH_FIRST_FORMATS:
            parsed = pd.to_datetime(filled, format=fmt, errors="coerce")
            if parsed.notna().all():
                date_format = fmt
                break
    return DateFacts(found.order, lines, date_format)


def category_labels(raws: list[RawFile], column: str) -> dict[str, int]:
    """The distinct labels of the category column over every file, most frequent first,
    with their number of rows (empty cells left out).

    Spellings that differ only by case, accents or punctuation (« NUISIBLES »,
    « Nuisibles ») are one label for ingestion (it folds them before the look-up): they
    count as one, under their most frequent spelling.
    """
    counts: dict[str, int] = {}
    for raw in raws:
        name = find_column(raw.columns, column)
        if name is None:
            continue
        for label, n in column_values(raw, name, rows=None).filled.value_counts().items():
            counts[str(label)] = counts.get(str(label), 0) + int(n)
    groups: dict[str, list[tuple[str, int]]] = {}
    for label, n in counts.items():
        groups.setdefault(normalise_label(label) or label, []).append((label, n))
    merged = [
        (min(spellings, key=lambda s: (-s[1], s[0]))[0], sum(n for _, n in spellings))
        for spellings in groups.values()
    ]
    return dict(sorted(merged, key=lambda kv: (-kv[1], kv[0])))
