"""Reading the values of the register's rows: statuses, levels, kinds, partners and
categories in their French spellings, dates as the ingestion reads them, targets in
their forms; each problem named by file, line and column, in French.

A row with a problem is set aside whole (its other values are not used), listed in
``actions_rejected.csv`` with each of its problems, its targets' included (the rows set
aside are returned typed, for :func:`pipelines.actions.targets.resolve_targets` to check
their targets too: fixing one problem never uncovers the next); the run goes on with the
other rows.
Two rows with the same ``identifiant``: identical content (after reading: « En cours »
and « en cours » are the same status) is one action read twice, merged and counted as
such; different content is a conflict, and every row of that id is set aside (which
one is right is the analyst's to say).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from pipelines.actions.model import (
    DATE_COLUMNS,
    DRAFT_STATUS,
    HEADER_OF,
    SYNONYMS,
    TARGET_COLUMNS,
    TEXT_COLUMNS,
    VOCABULARIES,
    is_building_id,
    is_zone_id,
    match_value,
)
from pipelines.actions.readers import problem
from pipelines.crs import repaired_geometry
from pipelines.fr import plain_id
from pipelines.ingest import parse_dates
from pipelines.published import ACTION_DETAILS, DONE_STATUSES
from pipelines.taxonomy import BY_CODE, DEFAULT_SYNONYMS, normalise_label

#: Columns of a read action (one row of the register), besides the target's resolution:
#: the register's columns in the template's order (their details shared with the
#: published table, :data:`pipelines.published.ACTION_DETAILS`).
ACTION_FIELDS = (
    "action_id",
    "committee_date",
    "committee_kind",
    *TARGET_COLUMNS,
    *ACTION_DETAILS,
    "funding",
)
#: The fields compared between two rows of one id (and between two runs).
CONTENT_FIELDS = ACTION_FIELDS[1:]

_SPLIT = re.compile(r"[;,\n]+")


def _quoted(value: str, limit: int = 60) -> str:
    text = value.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _vocabulary_problem(column: str, value: str, allowed: Sequence[str]) -> str:
    return (
        f"{_label(column)} « {_quoted(value)} » inconnu(e) dans la colonne "
        f"« {HEADER_OF[column]} » (valeurs possibles : {', '.join(allowed)})."
    )


def _label(column: str) -> str:
    return {
        "status": "statut",
        "level": "niveau",
        "committee_kind": "type de comité",
        "action_type": "type d'action",
        "responsibility": "responsabilité",
        "lead_partner": "partenaire",
    }.get(column, column)


def parse_geometry(text: str) -> tuple[BaseGeometry | None, str | None]:
    """A drawn area written as GeoJSON (a geometry, a Feature or a FeatureCollection) or
    WKT, in degrees (EPSG:4326); the geometry (made valid) or the French problem."""
    text = text.strip()
    try:
        if text.startswith("{"):
            doc = json.loads(text)
            if not isinstance(doc, dict):
                raise ValueError("objet GeoJSON attendu")
            if doc.get("type") == "FeatureCollection":
                parts = [shapely.geometry.shape(f["geometry"]) for f in doc.get("features", [])]
                geometry = shapely.union_all(parts) if parts else None
            elif doc.get("type") == "Feature":
                geometry = shapely.geometry.shape(doc["geometry"])
            else:
                geometry = shapely.geometry.shape(doc)
        else:
            geometry = shapely.from_wkt(text)
    except (
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        RecursionError,  # arrays nested thousands deep: json.loads gives up
        shapely.errors.GEOSException,
    ):
        return None, (
            f"zone dessinée illisible « {_quoted(text, 40)} » : attendu un GeoJSON ou un WKT "
            "(POLYGON((lon lat, …))) en degrés (EPSG:4326)."
        )
    if geometry is None or geometry.is_empty:
        return None, "zone dessinée vide."
    coords = shapely.get_coordinates(geometry)
    if not np.isfinite(coords).all() or (
        (np.abs(coords[:, 0]) > 180).any() or (np.abs(coords[:, 1]) > 90).any()
    ):
        return None, (
            "zone dessinée hors des limites en degrés : est-elle en Lambert-93 (EPSG:2154) ? "
            "Donnez-la en longitude/latitude (EPSG:4326)."
        )
    # Made valid, 2D (a GPS or QGIS « PointZ » export carries heights) and of one kind:
    # of a collection (a surface with a spike made valid becomes a polygon and a line; a
    # FeatureCollection of a surface and a marker), its parts of the highest dimension,
    # merged. A collection chose the zone's buildings by « touches » rather than by their
    # point inside it, and went into the GeoPackage's polygon layer.
    return repaired_geometry(geometry), None


def _categories(value: str) -> tuple[tuple[str, ...], list[str]]:
    """Category codes of a ``categories`` cell (codes or French labels of the taxonomy,
    ``;``-separated), and the items that are neither."""
    codes: list[str] = []
    unknown: list[str] = []
    for item in _SPLIT.split(value):
        item = item.strip()
        if not item:
            continue
        code = DEFAULT_SYNONYMS.get(normalise_label(item))
        if code is None:
            unknown.append(item)
        elif code not in codes:
            codes.append(code)
    return tuple(codes), unknown


def _dates(rows: pd.DataFrame, column: str) -> pd.Series:
    """The column's dates (naive, at midnight), NaT where empty or unreadable; read as
    the ingestion reads dates, with each workbook's own day 0 for serial numbers and
    each file's order of day and month, or of year, month and day."""
    out = pd.Series(pd.NaT, index=rows.index, dtype="datetime64[us]")
    swaps = rows.get("month_first", pd.Series(False, index=rows.index)).astype(bool)
    years = rows.get("year_first", pd.Series(False, index=rows.index)).fillna(False).astype(bool)
    for (epoch, swap, year), part in rows.groupby([rows["excel_epoch"], swaps, years], sort=False):
        values = part[column].astype(str).str.strip()
        parsed = parse_dates(
            values, excel_epoch=str(epoch), month_first=bool(swap), year_first=bool(year)
        )
        out.loc[part.index] = parsed.dt.normalize().to_numpy()
    return out


def validate_rows(
    rows: pd.DataFrame,
    *,
    partners: Sequence[str],
    today: date,
) -> tuple[pd.DataFrame, list[dict[str, Any]], pd.DataFrame]:
    """Read every value of the register's rows.

    Parameters
    ----------
    rows
        :attr:`pipelines.actions.readers.RegisterRead.rows` (strings).
    partners
        The site's lead partners (``params.actions.partners``).
    today
        The day of the run: a status dated after it is refused.

    Returns
    -------
    tuple
        The rows without a problem, typed (:data:`ACTION_FIELDS`, ``source_file``,
        ``source_line``; dates as naive timestamps, ``target_buildings`` and
        ``categories`` as tuples, ``target_geometry`` a shapely geometry or ``None``),
        the problems of the others (one per problem; a row may have several), and
        those others, typed as far as their values could be read (a target written in a
        wrong form left out), for their targets to be checked as well.
    """
    problems: list[dict[str, Any]] = []
    dates = {c: _dates(rows, c) for c in DATE_COLUMNS}
    records: list[dict[str, Any]] = []
    set_aside: list[dict[str, Any]] = []
    limit = pd.Timestamp(today) + pd.Timedelta(days=1)
    for k, record in enumerate(rows.to_dict("records")):
        values = {str(c): v for c, v in record.items()}
        parsed = {c: dates[c].iloc[k] for c in DATE_COLUMNS}
        out, found = _read_row(values, parsed, partners=partners, today=today, limit=limit)
        if found:
            problems.extend(found)
            set_aside.append(out)
        else:
            records.append(out)
    columns = [*ACTION_FIELDS, "source_file", "source_line"]
    return records_frame(records, columns), problems, records_frame(set_aside, columns)


def _check_status_dates(out: dict[str, Any], bad: Callable[[str | None, str, str], None]) -> None:
    """The status against the dates: an effect is measured only around a completion
    that the status says took place, and a status is noted at or after the committee.

    A completion date beside a status that is not « réalisée » or « vérifiée » (an
    action « décidée » with a date of completion) would have its effect measured and
    published for an action the register says was not carried out; a status « réalisée »
    dated before its completion, or any status but « proposée » (a proposal may precede
    the committee that examines it) dated before the committee that decided the action,
    cannot both be true. The row is set aside with its reason, as for the other dates
    that contradict each other: the committee's table keeps the version of the previous
    run, if any, until the register is corrected.
    """
    status, done = out.get("status"), out["completed_date"]
    dated, committee = out["status_date"], out["committee_date"]
    if done is not None and status is not None and status not in DONE_STATUSES:
        bad(
            "completed_date",
            "completed_without_done_status",
            f"date de réalisation ({done.date().isoformat()}) donnée pour une action au "
            f"statut « {status} » : seule une action « réalisée » ou « vérifiée » a une "
            "date de réalisation (son effet se mesure autour de cette date). Passez le "
            "statut à « réalisée » si l'action a été faite, sinon videz la date.",
        )
    elif done is not None and dated is not None and dated < done:
        bad(
            "status_date",
            "status_before_completion",
            f"date de statut ({dated.date().isoformat()}) antérieure à la date de "
            f"réalisation ({done.date().isoformat()}) : le statut « {status} » se constate "
            "une fois l'action faite ; vérifiez l'une des deux dates.",
        )
    elif (
        dated is not None
        and committee is not None
        and dated < committee
        and status not in (None, DRAFT_STATUS)
    ):
        bad(
            "status_date",
            "status_before_committee",
            f"date de statut ({dated.date().isoformat()}) antérieure à la date du comité "
            f"({committee.date().isoformat()}) qui a décidé l'action : un statut « "
            f"{status} » se constate au comité ou après ; vérifiez l'une des deux dates.",
        )


def records_frame(records: Sequence[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """Rows as a frame of object columns, ``None`` kept as ``None`` (``from_records``
    turns it into NaN beside text)."""
    return pd.DataFrame({c: pd.Series([r.get(c) for r in records], dtype=object) for c in columns})


def _read_row(
    r: dict[str, Any],
    parsed: dict[str, Any],
    *,
    partners: Sequence[str],
    today: date,
    limit: pd.Timestamp,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One row's values (``parsed``: its dates, already read) and its problems."""
    file, line = str(r["source_file"]), int(r["source_line"])
    # Pasted from a web page or a PDF, an id carries a zero-width space, a non-breaking
    # hyphen or full-width letters: read as it looks (« A‑2024‑005 » is A-2024-005).
    action_id = plain_id(r["action_id"]) or None
    found: list[dict[str, Any]] = []

    def bad(column: str | None, reason: str, text: str) -> None:
        found.append(problem(file, line, column, reason, text, action_id=action_id))

    out: dict[str, Any] = {"action_id": action_id, "source_file": file, "source_line": line}
    if action_id is None:
        bad(
            "action_id",
            "missing_id",
            "identifiant manquant : donnez à chaque action un identifiant stable "
            "(par exemple A-2025-003), qui ne change plus d'un comité à l'autre.",
        )
    for column, allowed in VOCABULARIES.items():
        value = str(r[column]).strip()
        if not value:
            out[column] = None
            if column == "status":
                bad(
                    "status",
                    "missing_status",
                    f"statut manquant (valeurs possibles : {', '.join(allowed)}).",
                )
            continue
        out[column] = match_value(value, allowed, SYNONYMS.get(column))
        if out[column] is None:
            bad(column, f"unknown_{column}", _vocabulary_problem(column, value, allowed))
    partner = str(r["lead_partner"]).strip()
    out["lead_partner"] = match_value(partner, partners) if partner else None
    if partner and out["lead_partner"] is None:
        bad(
            "lead_partner",
            "unknown_partner",
            f"partenaire « {_quoted(partner)} » absent de la liste du site (colonne "
            f"« partenaire_pilote » ; liste : {', '.join(partners)}). Ajoutez-le à "
            "params.actions.partners de la configuration s'il doit y être.",
        )
    for column in DATE_COLUMNS:
        value = str(r[column]).strip()
        stamp = parsed[column]
        out[column] = None if pd.isna(stamp) else pd.Timestamp(stamp)
        if value and out[column] is None:
            bad(
                column,
                "unparseable_date",
                f"date illisible dans la colonne « {HEADER_OF[column]} » : "
                f"« {_quoted(value, 30)} » (attendu jj/mm/aaaa, AAAA-MM-JJ ou une date "
                "du tableur).",
            )
    committee, due = out["committee_date"], out["due_date"]
    if committee is not None and due is not None and due < committee:
        bad(
            "due_date",
            "due_before_committee",
            f"échéance ({due.date().isoformat()}) antérieure à la date du comité "
            f"({committee.date().isoformat()}).",
        )
    if out["status_date"] is not None and out["status_date"] >= limit:
        bad(
            "status_date",
            "status_date_in_future",
            f"date de statut ({out['status_date'].date().isoformat()}) postérieure au jour "
            f"du traitement ({today.isoformat()}) : un statut se date du jour où il est "
            "constaté.",
        )
    done = out["completed_date"]
    if done is not None and done >= limit:
        bad(
            "completed_date",
            "completed_in_future",
            f"date de réalisation ({done.date().isoformat()}) postérieure au jour du "
            f"traitement ({today.isoformat()}) : une action se dit réalisée une fois faite "
            "(l'échéance prévue va dans la colonne « echeance »).",
        )
    elif done is not None and committee is not None and done < committee:
        bad(
            "completed_date",
            "completed_before_committee",
            f"date de réalisation ({done.date().isoformat()}) antérieure à la date du comité "
            f"({committee.date().isoformat()}) qui a décidé l'action : l'effet se mesure "
            "autour de la réalisation ; vérifiez l'une des deux dates.",
        )
    else:
        _check_status_dates(out, bad)
    codes, unknown = _categories(str(r["categories"]))
    out["categories"] = codes
    if unknown:
        known = ", ".join(BY_CODE)
        bad(
            "categories",
            "unknown_category",
            f"catégorie(s) inconnue(s) : {', '.join(_quoted(u, 30) for u in unknown)} "
            f"(codes ou libellés de la nomenclature : {known}).",
        )
    buildings = [b.strip() for b in _SPLIT.split(str(r["target_buildings"])) if b.strip()]
    wrong = [b for b in buildings if not is_building_id(b)]
    if wrong:
        bad(
            "target_buildings",
            "bad_building_id",
            f"identifiant(s) de bâtiment « {', '.join(_quoted(b, 30) for b in wrong)} » : "
            "attendu la forme OSM « way/123 », séparés par « ; ».",
        )
    out["target_buildings"] = tuple(dict.fromkeys(b for b in buildings if is_building_id(b)))
    zone = str(r["target_zone"]).strip()
    if zone and not is_zone_id(zone.upper()):
        bad("target_zone", "bad_zone_id", f"zone « {_quoted(zone)} » : attendu la forme « Z12 ».")
    out["target_zone"] = zone.upper() if is_zone_id(zone.upper()) else None
    drawn = str(r["target_geometry"]).strip()
    out["target_geometry"] = None
    if drawn:
        geometry, why = parse_geometry(drawn)
        if why:
            bad("target_geometry", "bad_geometry", why)
        out["target_geometry"] = geometry
    if not buildings and not zone and not drawn:
        bad(
            None,
            "no_target",
            "aucune cible : renseignez au moins une des colonnes « batiments », « zone » "
            "ou « zone_dessinee ».",
        )
    for column in TEXT_COLUMNS:
        value = str(r[column]).strip()
        out[column] = value or None
    return out, found


def content_key(row: pd.Series | dict[str, Any]) -> str:
    """Everything an action's row says (:data:`CONTENT_FIELDS`), as one string: two rows
    with the same key are the same action read twice."""
    parts = []
    for c in CONTENT_FIELDS:
        value = row[c]
        if isinstance(value, BaseGeometry):
            value = shapely.to_wkt(value, rounding_precision=6)
        elif isinstance(value, pd.Timestamp):
            value = value.date().isoformat()
        elif isinstance(value, tuple | list):
            value = ";".join(str(v) for v in value)
        elif value is None or (isinstance(value, float) and np.isnan(value)):
            value = ""
        parts.append(str(value))
    return "\x1f".join(parts)


def merge_duplicates(valid: pd.DataFrame) -> tuple[pd.DataFrame, int, list[dict[str, Any]]]:
    """One row per ``action_id``: identical rows merged, conflicting ones set aside.

    Returns
    -------
    tuple
        The actions (first row of each id, in reading order), the number of rows merged
        into another (identical content), and one problem per row of an id read with
        different contents.
    """
    if valid.empty:
        return valid.copy(), 0, []
    keys = valid.apply(content_key, axis=1)
    # Ids are compared without case: « a-2024-001 » is A-2024-001 typed again, not a
    # second action on the same buildings (the first spelling read is kept).
    ids = valid["action_id"].astype(str).str.casefold()
    problems: list[dict[str, Any]] = []
    conflicting: set[str] = set()
    for key, group in keys.groupby(ids, sort=False):
        if group.nunique() > 1:
            conflicting.add(str(key))
            where = valid.loc[group.index]
            action_id = " » ou « ".join(dict.fromkeys(where["action_id"].astype(str)))
            places = ", ".join(
                f"{f} ligne {int(n)}"
                for f, n in zip(where["source_file"], where["source_line"], strict=True)
            )
            for f, n, own in zip(
                where["source_file"], where["source_line"], where["action_id"], strict=True
            ):
                problems.append(
                    problem(
                        str(f),
                        int(n),
                        "action_id",
                        "conflicting_duplicate",
                        f"identifiant « {action_id} » répété avec un contenu différent "
                        f"({places}) : aucune de ces lignes n'est prise ; gardez une seule "
                        "ligne par action.",
                        action_id=str(own),
                    )
                )
    keep = ~ids.isin(conflicting)
    kept = valid[keep & ~ids.duplicated()]
    merged = int((keep & ids.duplicated()).sum())
    return kept.reset_index(drop=True), merged, problems
