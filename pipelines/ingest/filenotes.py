"""The notes a file's reading leaves (:class:`pipelines.ingest.rawfile.RawFile`): the
file read all the same, something in it the analyst must be told of: hidden sheets
before the one read, lines in another encoding, an encoding not detected, formulas never
computed, merged cells. In French, for the reports' ingestion and the actions register;
and, for a site of a portfolio, the notes ``vigie split`` took of the shared exports its
rows came from (:func:`with_split_notes`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from pipelines.ingest.encoding import OTHER_ENCODINGS
from pipelines.ingest.rawfile import RawFile
from pipelines.ingest.schema import EXCEL_NUMBER_ID


def listed(items: Sequence[Any] | np.ndarray, most: int = 20) -> str:
    """The first ``most`` ``items``, comma-separated, with « … » when there are more: how a
    message lists the lines it is about."""
    return ", ".join(str(v) for v in items[:most]) + (" …" if len(items) > most else "")


def closed_before_notes(
    raws: list[RawFile], roles_per_file: list[dict[str, str]], frame: pd.DataFrame, rows: np.ndarray
) -> list[tuple[str, str, np.ndarray]]:
    """Per file whose ``rows`` (of the source's ``frame``) have a closing date before their
    creation date: its path, the French detail naming both columns, the lines and the
    dates of the first ones, and the lines. The reports are kept, their closing date set
    aside (read as not given)."""
    notes = []
    for i, raw in enumerate(raws):
        here = np.flatnonzero(rows & (frame["_file"].to_numpy() == i))
        if not len(here):
            continue
        lines = frame["source_line"].to_numpy()[here]
        shown = " ; ".join(
            f"ligne {int(n)} : clôture « {c} », création « {d} »"
            for n, c, d in zip(
                lines[:3],
                frame["closed_at"].iloc[here[:3]],
                frame["date"].iloc[here[:3]],
                strict=True,
            )
        )
        detail = (
            f"{len(lines)} ligne(s) ont une date de clôture (colonne "
            f"« {roles_per_file[i].get('closed_at', 'closed_at')} ») antérieure à leur date de "
            f"création (colonne « {roles_per_file[i].get('date', 'date')} ») : lignes "
            f"{listed(lines)} ({shown}). Ces signalements sont gardés, mais leur date de "
            "clôture est écartée (lue comme absente) : ils n'entrent pas dans les délais de "
            "traitement. Corrigez les dates dans l'export."
        )
        notes.append((raw.path, detail, lines))
    return notes


def _other_of(encoding: str | None) -> str:
    """The encoding the lines of a file not in its ``encoding`` are read in
    (:func:`pipelines.ingest.encoding.each_line_in_its_encoding`)."""
    return "cp1252" if (encoding or "").startswith("utf-8") else "UTF-8"


def reading_notes(
    raw: RawFile, *, source_keys: bool = True
) -> list[tuple[str, str, np.ndarray | None]]:
    """The notes of a file read: per note, its reason (``hidden_sheets``,
    ``mixed_encoding``, ``unknown_encoding``, ``uncomputed_formulas``, ``merged_cells``,
    ``merged_header``, ``title_lines``, ``renamed_header``), its French detail and the
    lines it concerns (or None).

    Parameters
    ----------
    source_keys
        Whether the file is a source of the configuration, whose ``sheet`` and
        ``encoding`` keys the notes may advise (not the actions register, whose sheet is
        found by its columns: no note of hidden sheets).
    """
    notes: list[tuple[str, str, np.ndarray | None]] = []
    or_key = ", ou indiquez son encodage dans la source" if source_keys else ""
    if raw.hidden_sheets and source_keys:  # read from the first visible sheet: noted
        hidden = raw.hidden_sheets
        named = ", ".join(f"« {t} »" for t in hidden)
        detail = (
            ("la feuille " if len(hidden) == 1 else "les feuilles ")
            + named
            + (", masquée, précède " if len(hidden) == 1 else ", masquées, précèdent ")
            + f"la première feuille visible du classeur, « {raw.sheets[0]} », qui est "
            "celle lue. Si l'export est dans une feuille masquée, indiquez-la dans la "
            f'source (sheet = "{hidden[0]}").'
        )
        notes.append(("hidden_sheets", detail, None))
    if len(raw.encoding_mismatch_lines):  # read all the same: noted, not rejected
        bad = raw.encoding_mismatch_lines
        detail = (
            f"{len(bad)} ligne(s) ne sont pas en {raw.encoding}, l'encodage du reste "
            f"du fichier (lignes {listed(bad)}) : deux exports mis bout à bout ? Elles "
            f"sont lues en {_other_of(raw.encoding)}. Vérifiez leurs accents, et "
            "réenregistrez le fichier dans un seul encodage."
        )
        notes.append(("mixed_encoding", detail, bad))
    if len(raw.foreign_encoding_lines):  # read all the same: noted
        bad = raw.foreign_encoding_lines
        other = raw.other_encoding
        detail = (
            f"{len(bad)} ligne(s) ont des mots qui ne se lisent qu'en "
            f"{OTHER_ENCODINGS[other[0]]} (lignes {listed(bad)} ; « {other[1]} » y est "
            f"« {other[2]} ») : le fichier, lu en {raw.encoding}, est sans doute en "
            f"{other[0]}, et leurs accents sont déformés. Réenregistrez-le en « CSV UTF-8 »"
            + (f'{or_key} (encoding = "{other[0]}").' if or_key else ".")
            if other
            else f"{len(bad)} ligne(s) ont des octets qui ne sont des lettres ni en latin-1 ni "
            f"en cp1252 (lignes {listed(bad)}) : le fichier est sans doute dans un "
            "autre encodage (Mac Roman d'un ancien Excel pour Mac, cp850 de DOS…), et "
            "leurs accents sont perdus. Réenregistrez-le en « CSV UTF-8 »"
            + (f'{or_key} (encoding = "mac_roman").' if or_key else ".")
        )
        notes.append(("unknown_encoding", detail, bad))
    if len(raw.formula_lines):  # read as empty: noted, each row then judged as read
        lines = raw.formula_lines
        detail = (
            f"{len(lines)} ligne(s) ont une formule dont la valeur n'a jamais été "
            f"calculée (lignes {listed(lines)}) : ces cellules sont lues vides. "
            "Ouvrez le classeur dans Excel ou LibreOffice et enregistrez-le pour que "
            "leurs valeurs soient calculées."
        )
        notes.append(("uncomputed_formulas", detail, lines))
    if raw.merged_ranges:  # read as they are: noted
        ranges = raw.merged_ranges
        detail = (
            f"{len(ranges)} plage(s) de cellules fusionnées ({listed(ranges)}) : "
            "seule la première cellule de chaque plage a une valeur, les autres sont "
            "lues vides. Défusionnez-les en recopiant la valeur dans chaque ligne si "
            "elle vaut pour toutes."
        )
        notes.append(("merged_cells", detail, None))
    for detail in raw.merged_header:  # a header cell merged over several columns
        notes.append(("merged_header", detail, None))
    for detail in raw.title_lines:  # lines of one cell above the header, skipped
        notes.append(("title_lines", detail, None))
    for detail in raw.renamed_header:  # a header again, columns renamed
        notes.append(("renamed_header", detail, None))
    return notes


def with_split_notes(
    ingest_summary: dict[str, Any], split_summary: dict[str, Any], site_id: str
) -> dict[str, Any]:
    """The site's ingestion summary with the split's notes of the exports its sources'
    rows came from (``split_summary.json``'s ``sources.<id>.site_notes.<site>``) added
    to each source's ``file_issues``."""
    sources = dict(ingest_summary.get("sources") or {})
    for source_id, split in (split_summary.get("sources") or {}).items():
        notes = (split.get("site_notes") or {}).get(site_id) or []
        if source_id not in sources or not notes:
            continue
        source = dict(sources[source_id])
        known = list(source.get("file_issues") or [])
        source["file_issues"] = known + [n for n in notes if n not in known]
        sources[source_id] = source
    return {**ingest_summary, "sources": sources}


_EXCEL_ID = re.compile(EXCEL_NUMBER_ID)


def placeholder_notes(
    raws: list[RawFile], frame: pd.DataFrame, placeholder: np.ndarray | None
) -> list[tuple[str, str, str, np.ndarray]]:
    """Per file whose ids are placeholders (« 0 », « sans objet »…, ``placeholder_ids``)
    or numbers Excel wrote in scientific notation (« 2,024E+11 », ``excel_number_ids``):
    its path, that reason, the French detail and the lines. Their rows are read as rows
    without an id (:func:`pipelines.ingest.partition.placeholder_ids`), each a report of
    its own, not versions of the first."""
    if placeholder is None or not placeholder.any():
        return []
    notes = []
    ids = frame["id"].astype("str").to_numpy()
    for i, raw in enumerate(raws):
        rows = np.flatnonzero(placeholder & (frame["_file"].to_numpy() == i))
        excel = np.array([_EXCEL_ID.match(v) is not None for v in ids[rows].tolist()], bool)
        for kind, these in (("placeholder_ids", rows[~excel]), ("excel_number_ids", rows[excel])):
            if not len(these):
                continue
            lines = frame["source_line"].to_numpy()[these]
            values = list(dict.fromkeys(ids[these].tolist()))
            shown = ", ".join(f"« {v} »" for v in values[:5]) + (" …" if len(values) > 5 else "")
            what = (
                f"une valeur de remplissage ({shown}), pas un numéro de signalement"
                if kind == "placeholder_ids"
                else f"un nombre qu'Excel a écrit en notation scientifique ({shown}) : "
                "ses chiffres sont perdus, des tickets différents le partagent"
            )
            detail = (
                f"{len(lines)} ligne(s) ont pour identifiant {what} (lignes {listed(lines)}) : "
                "chacune est lue comme un signalement sans identifiant, le sien, et non "
                "comme une mise à jour d'une autre ligne au même identifiant ; seules des "
                "lignes identiques en tout point sont fusionnées comme doublons. "
                + (
                    "Donnez-leur leur numéro de ticket si l'outil d'export le connaît."
                    if kind == "placeholder_ids"
                    else "Reprenez l'export d'origine sans l'ouvrir dans Excel, ou importez-le "
                    "en déclarant la colonne des identifiants comme texte."
                )
            )
            notes.append((raw.path, kind, detail, lines))
    return notes


def unpadded_notes(
    raws: list[RawFile],
    frame: pd.DataFrame,
    ids: pd.Series,
    rows: np.ndarray | None,
    written: pd.Series | None,
) -> list[tuple[str, str, str, np.ndarray]]:
    """Per file with ids read as another spelling of a number read before (« 00012345 »
    after « 12345 », ``unpadded_ids``): its path, that reason, the French detail and the
    lines. ``ids``: the ids as compared; ``rows``: the rows rewritten; ``written``: their
    ids as written."""
    if rows is None or written is None or not len(rows):
        return []
    notes = []
    files = frame["_file"].to_numpy()[rows]
    for i, raw in enumerate(raws):
        these = files == i
        if not these.any():
            continue
        lines = frame["source_line"].to_numpy()[rows[these]]
        pairs = list(
            dict.fromkeys(
                zip(
                    written.to_numpy()[these].tolist(),
                    ids.to_numpy()[rows[these]].tolist(),
                    strict=True,
                )
            )
        )
        shown = ", ".join(f"« {a} » lu « {b} »" for a, b in pairs[:5]) + (
            " …" if len(pairs) > 5 else ""
        )
        detail = (
            f"{len(lines)} ligne(s) ont pour identifiant un numéro déjà lu écrit avec ou "
            f"sans zéros en tête ({shown} ; lignes {listed(lines)}) : c'est le même "
            "signalement, compté une fois (doublon ou mise à jour), sous l'écriture lue en "
            "premier. Un export complète ses numéros de zéros, un autre non (ou Excel les a "
            "retirés en réenregistrant le CSV)."
        )
        notes.append((raw.path, "ids_zero_padded", detail, lines))
    return notes
