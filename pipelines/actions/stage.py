"""The actions stage of a site: the register read, checked, folded into its history,
completed by the drafts of the map's notes and by the effect of each action.

Reads every file of ``<actions_dir>/<site>/`` (:mod:`pipelines.actions.readers`),
``buildings.parquet`` and ``zones.parquet`` (the targets), ``annotations.parquet`` (the
drafts) and ``reports.parquet`` (the effects); writes in the site's processed folder:

``actions.parquet``
    One row per action (EPSG:4326): every action ever read from the register, at its
    last applied state (``is_removed`` when it has left the file), then the drafts of
    the notes tagged « action » (``origin`` « note de la carte »). Follow-up flags
    (:func:`follow_up`) and the effect estimate (contract §2) of each.
``actions_rejected.csv``
    What was not taken from the register, one line per problem: ``source_file``,
    ``source_line`` (the spreadsheet's line, header = 1; empty for a whole file),
    ``column`` (the French header), ``action_id``, ``scope`` (« fichier », « ligne » or
    « valeur »: a value refused in a row otherwise applied, a status going back),
    ``reason`` (a code) and ``reason_fr``. Rows add up:
    ``rows_in = kept + duplicates_merged + rejected`` (``actions_summary.json``).
``actions_summary.json``
    Counts, files read (fingerprint, modification time, author), messages, the
    follow-up figures (``by_status``, ``n_overdue``, ``share_updated_since_last_committee``,
    ``last_committee_date``) and the rules.

The archive and the history (:mod:`pipelines.actions.history`) live beside the notes'
archive, out of reach of ``make clean``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pipelines.actions.drafts import ORIGIN_NOTE, ORIGIN_REGISTER, draft_actions
from pipelines.actions.effect import action_effects
from pipelines.actions.history import (
    append_history,
    archive_for_parquet,
    comparable,
    fold_register,
    read_archive,
)
from pipelines.actions.model import STATUSES, TEXT_COLUMNS
from pipelines.actions.readers import SCOPE_ROW, RegisterRead, problems_frame, read_register
from pipelines.actions.targets import resolve_targets
from pipelines.actions.validate import merge_duplicates, validate_rows
from pipelines.config import Config
from pipelines.crs import WGS84
from pipelines.errors import InputError
from pipelines.fr import plural
from pipelines.ingest import scrub_series
from pipelines.io import (
    read_geoparquet,
    read_geoparquet_attributes,
    write_csv,
    write_geoparquet,
    write_json,
)
from pipelines.published import CLOSED_STATUSES
from pipelines.reports import COUNT_COLUMNS, COUNT_OPTIONAL, counted, household_of, naive_dates

log = logging.getLogger(__name__)

#: The partition of the register's rows, checked at every run.
PARTITION_TEXT = "rows_in = kept + duplicates_merged + rejected"
#: The effect columns kept in ``actions.parquet`` (contract §2, ``action_id`` aside).
EFFECT_COLUMNS = (
    "window_months", "before_start", "after_end", "n_before", "n_after",
    "n_households_before", "n_households_after", "rate_unit", "rate_before", "rate_after",
    "rate_ratio", "rr_ci_low", "rr_ci_high", "rest_n_before", "rest_n_after",
    "rest_rate_ratio", "did_ratio", "did_ci_low", "did_ci_high", "verdict", "effect_fr",
)  # fmt: skip
#: The files of the stage, in the site's processed folder.
OUTPUT_FILES = ("actions.parquet", "actions_rejected.csv", "actions_summary.json")


def archive_dir_of(config: Config, site_id: str) -> Path:
    """Where a site's action archive and history live (beside the notes' archive)."""
    return Path(config.annotations_dir) / ".archive" / site_id


def scrub_texts(
    actions: pd.DataFrame, columns: Sequence[str] = TEXT_COLUMNS
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The free texts (problem, decision, funding) scrubbed of phones, e-mails, flat
    numbers and names, in one call of :func:`pipelines.ingest.scrub_series`; missing
    values stay ``None``. Returns the copy and the replacements by kind."""
    out = actions.copy()
    n = len(out)
    stacked = pd.Series(
        [v if isinstance(v, str) and v.strip() else None for c in columns for v in out[c]],
        dtype=object,
    )
    if stacked.empty:
        return out, {}
    clean, kinds = scrub_series(stacked)
    values = clean.astype(object).where(clean.notna(), None).to_numpy(dtype=object)
    for k, c in enumerate(columns):
        out[c] = pd.Series(values[k * n : (k + 1) * n], index=out.index, dtype=object)
    return out, {k: int(v) for k, v in kinds.items()}


def follow_up(actions: pd.DataFrame, today: date) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The follow-up of the actions on ``today``.

    - ``is_overdue``: an action not removed whose due date has passed and whose status
      is not « réalisée », « vérifiée », « refusée » or « abandonnée »;
    - the last committee: the latest ``committee_date`` up to ``today`` among the
      register's actions not removed;
    - ``updated_since_last_committee``: its status is dated after that committee
      (strictly: a status given at the committee itself is what the committee decided).

    Returns
    -------
    tuple
        ``actions`` with ``is_overdue`` and ``updated_since_last_committee``, and the
        figures: ``n_actions`` (not removed), ``by_status`` (every status, in order),
        ``n_overdue``, ``share_updated_since_last_committee`` (among the register's
        actions not removed, 0–1; ``None`` without a committee), ``last_committee_date``
        (ISO), ``n_removed``, ``n_drafts``.
    """
    out = actions.copy()
    day = pd.Timestamp(today)
    active = ~out["is_removed"].astype(bool)
    register = active & (out["origin"] == ORIGIN_REGISTER)
    due = pd.to_datetime(out["due_date"])
    out["is_overdue"] = (
        active & due.notna() & (due < day) & ~out["status"].isin(CLOSED_STATUSES)
    ).astype(bool)
    committees = pd.to_datetime(out.loc[register, "committee_date"])
    committees = committees[committees <= day]
    last = committees.max() if len(committees.dropna()) else None
    status_date = pd.to_datetime(out["status_date"])
    updated = status_date.notna() & (status_date > last) if last is not None else False
    out["updated_since_last_committee"] = pd.Series(updated, index=out.index).astype(bool)
    n_register = int(register.sum())
    counts = out.loc[active, "status"].value_counts()
    facts = {
        "n_actions": int(active.sum()),
        "by_status": {s: int(counts.get(s, 0)) for s in STATUSES},
        "n_overdue": int(out["is_overdue"].sum()),
        "share_updated_since_last_committee": (
            round(float(out.loc[register, "updated_since_last_committee"].mean()), 4)
            if last is not None and n_register
            else None
        ),
        "last_committee_date": last.date().isoformat() if last is not None else None,
        "n_removed": int((~active).sum()),
        "n_drafts": int((active & (out["origin"] == ORIGIN_NOTE)).sum()),
    }
    return out, facts


def check_register_found(
    folder: Path, read: RegisterRead, archive: gpd.GeoDataFrame | None
) -> None:
    """Refuse a register folder missing, not a folder, or holding no register file, when
    the archive follows actions still in the register: a share not mounted or a folder
    renamed is no decision to remove them. Read as an empty register, the demo's 20
    actions were each flagged « retirée », and 20 removals written for good in the
    history (exit 0). An empty register (the template) still removes them on purpose.

    Raises
    ------
    InputError
        Naming the folder and the number of actions followed.
    """
    live = 0 if archive is None else int((~archive["is_removed"].astype(bool)).sum())
    if not live or read.files or read.failed_files:
        return
    where = (
        "est introuvable"
        if not folder.exists()
        else "n'est pas un dossier"
        if not folder.is_dir()
        else "ne contient aucun registre (XLSX ou CSV)"
    )
    raise InputError(
        folder,
        f"le dossier du registre des actions {where}, alors que l'archive suit "
        f"{plural(live, 'action')} du registre : rien n'est retiré ni écrit. Rétablissez "
        "le dossier (disque réseau monté ? dossier renommé ?) ; pour retirer toutes les "
        "actions, laissez-y un registre vide (make actions-template).",
    )


def _effect_inputs(
    actions: pd.DataFrame, reports: pd.DataFrame, buildings: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The three frames of :func:`pipelines.actions.effect.action_effects` (contract §2)."""
    done = pd.to_datetime(actions["completed_date"])
    frame = pd.DataFrame(
        {
            "action_id": actions["action_id"].astype(str).to_numpy(),
            "building_ids": [tuple(v) for v in actions["building_ids"]],
            "completed_date": done.to_numpy(),
            "categories": [tuple(v) for v in actions["categories"]],
        }
    )
    mask = counted(reports, on_building=True)
    r = reports[mask]
    counted_reports = pd.DataFrame(
        {
            "building_id": r["building_id"].astype(str).to_numpy(),
            "reported_at": naive_dates(r["reported_at"]).to_numpy(),
            "category": r["category"].astype(str).to_numpy(),
            "household_key": household_of(r).to_numpy(),
        }
    )
    dwellings = (
        pd.to_numeric(buildings["dwellings"], errors="coerce")
        if "dwellings" in buildings
        else pd.Series(np.nan, index=buildings.index)
    )
    b = pd.DataFrame(
        {
            "building_id": buildings["building_id"].astype(str).to_numpy(),
            "dwellings": dwellings.to_numpy(),
        }
    )
    return frame, counted_reports, b


def _completed(actions: pd.DataFrame) -> pd.Series:
    """The completion date: ``date_realisation`` when given, else the date of the first
    « réalisée » (:mod:`pipelines.actions.history`)."""
    given = pd.to_datetime(actions["completed_date"])
    derived = pd.to_datetime(actions["done_date"]) if "done_date" in actions else given
    return given.where(given.notna(), derived)


def _as_output(actions: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``actions.parquet`` as written: lists as lists, the drawn area as WKT, dates as
    naive datetimes."""
    out = actions.copy()
    for c in ("target_buildings", "categories", "building_ids", "zone_ids"):
        out[c] = [list(v) for v in out[c]]
    out["target_geometry"] = [comparable(g) or None for g in out["target_geometry"]]
    for c in ("committee_date", "due_date", "status_date", "completed_date", "refused_status_date"):
        out[c] = pd.to_datetime(pd.Series(list(out[c]), index=out.index, dtype=object))
    return out


def run(
    config: Config,
    site_id: str,
    *,
    buildings_path: str | Path,
    zones_path: str | Path | None,
    reports_path: str | Path,
    annotations_path: str | Path | None,
    out_dir: Path,
    folder: str | Path | None = None,
    archive_dir: str | Path | None = None,
    now: pd.Timestamp | None = None,
) -> gpd.GeoDataFrame:
    """Read a site's action register and write the stage's outputs.

    Parameters
    ----------
    buildings_path, zones_path
        ``buildings.parquet`` and ``zones.parquet`` (optional): the targets.
    reports_path
        ``reports.parquet``: the reports the effects count.
    annotations_path
        ``annotations.parquet`` (optional): notes tagged « action » become drafts.
    out_dir
        The site's processed folder.
    folder
        The register folder (default ``<actions_dir>/<site>/``).
    archive_dir
        Where the archive and the history are kept (default :func:`archive_dir_of`).
    now
        The run's time (default: the clock), recorded in the history; the follow-up's
        day is ``params.ingest.today`` when set, else this day.

    Returns
    -------
    GeoDataFrame
        What ``actions.parquet`` holds.
    """
    site = config.site(site_id)
    settings = site.settings
    folder = Path(folder) if folder else Path(config.actions_dir) / site_id
    archive_dir = Path(archive_dir) if archive_dir else archive_dir_of(config, site_id)
    archive_file = archive_dir / "actions_archive.parquet"
    history_file = archive_dir / "actions_history.csv"
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    now = now.floor("s")
    today = settings.ingest.today or now.tz_convert("Europe/Paris").date()
    # The ids and footprints of the targets, the dwellings of the effects' rates.
    buildings = read_geoparquet(buildings_path, ["building_id"], optional=["dwellings"])
    zones = read_geoparquet(zones_path) if zones_path and Path(zones_path).exists() else None

    # The days a register's dates fall in: those of the study (its first day, the day
    # after the processing), which tell « 24-04-09 » year first (:func:`read_register`).
    window = (settings.ingest.start_date, today + timedelta(days=1))
    read = read_register(folder, window=window)
    previous = read_archive(archive_file)
    check_register_found(folder, read, previous)
    valid, problems, set_aside = validate_rows(
        read.rows, partners=settings.actions.partners, today=today
    )
    placed, target_problems = resolve_targets(valid, buildings, zones)
    # The targets of the rows set aside are checked too: every problem of a row is listed.
    _, set_aside_problems = resolve_targets(set_aside, buildings, zones)
    kept, n_merged, duplicate_problems = merge_duplicates(placed)
    kept = gpd.GeoDataFrame(kept, geometry="geometry", crs=WGS84)
    kept, scrubbed = scrub_texts(kept)
    seen_ids = {i for i in read.rows["action_id"].astype(str).str.strip() if i}
    row_problems = [
        *read.problems,
        *problems,
        *set_aside_problems,
        *target_problems,
        *duplicate_problems,
    ]
    rejected_rows = {
        (p["source_file"], p["source_line"]) for p in row_problems if p["scope"] == SCOPE_ROW
    }
    if read.rows_in != len(kept) + n_merged + len(rejected_rows):
        raise AssertionError(
            f"register rows do not add up: {read.rows_in} read, {len(kept)} kept, "
            f"{n_merged} merged, {len(rejected_rows)} rejected"
        )

    files = {f["file"]: f for f in read.files}
    archive, history, value_problems, messages = fold_register(
        kept,
        previous,
        seen_ids=seen_ids,
        now=now,
        files=files,
        failed_files=set(read.failed_files),
    )
    register = archive.assign(origin=ORIGIN_REGISTER, note_id=None)
    register["is_row_rejected"] = register["action_id"].isin(seen_ids - set(kept["action_id"]))

    notes = (
        read_geoparquet(annotations_path)
        if annotations_path and Path(annotations_path).exists()
        else None
    )
    drafts = draft_actions(notes)
    superseded = drafts["action_id"].isin(set(register["action_id"]) | seen_ids)
    drafts, draft_problems = resolve_targets(drafts[~superseded], buildings, zones)
    drafts, _ = scrub_texts(drafts)
    never = pd.Series(pd.NaT, index=drafts.index, dtype="datetime64[us, UTC]")
    drafts = drafts.assign(
        origin=ORIGIN_NOTE,
        first_seen_at=never,
        last_change_at=never,
        is_removed=False,
        is_reopened=False,
        done_date=None,
        refused_status=None,
        refused_status_date=None,
        is_row_rejected=False,
    )
    actions = pd.concat([register, drafts], ignore_index=True)
    actions = gpd.GeoDataFrame(actions, geometry="geometry", crs=WGS84)
    actions["status_held"] = actions["refused_status"].notna()
    actions["completed_date"] = _completed(actions).to_numpy()
    actions = actions.drop(columns=["done_date"])
    actions, facts = follow_up(actions, today)

    # What _effect_inputs reads of the reports counted around each action: no other column.
    reports = read_geoparquet_attributes(reports_path, COUNT_COLUMNS, optional=COUNT_OPTIONAL)
    frame, counted_reports, b = _effect_inputs(actions, reports, buildings)
    as_of = settings.trends.as_of
    period_end = (
        pd.Timestamp(as_of)
        if as_of is not None
        else (counted_reports["reported_at"].max() if len(counted_reports) else pd.Timestamp(today))
    )
    effects = action_effects(
        frame,
        counted_reports,
        b,
        window_months=settings.actions.effect_window_months,
        period_end=pd.Timestamp(period_end),
        min_reports=settings.actions.effect_min_reports,
    )
    if effects["action_id"].astype(str).tolist() != frame["action_id"].tolist():
        raise AssertionError("action_effects must return one row per action, in input order")
    for c in EFFECT_COLUMNS:
        actions[c] = effects[c].to_numpy() if c in effects else None

    all_problems = [*row_problems, *value_problems]
    rejected = problems_frame(all_problems)
    out_dir = Path(out_dir)
    write_geoparquet(_as_output(actions), out_dir / "actions.parquet")
    write_csv(rejected, out_dir / "actions_rejected.csv")
    write_geoparquet(archive_for_parquet(archive), archive_file)
    added = append_history(history, history_file)

    reasons = rejected.groupby("reason").size() if len(rejected) else pd.Series(dtype=int)
    counts = {
        "rows_in": read.rows_in,
        "kept": len(kept),
        "duplicates_merged": n_merged,
        "rejected": len(rejected_rows),
        "values_refused": len(value_problems),
        "comment_rows": read.comment_rows,
        "blank_rows": read.blank_rows,
        "files_failed": len(read.failed_files),
        "drafts": len(drafts),
        "drafts_superseded": int(superseded.sum()),
        "drafts_unplaced": len(draft_problems),
        "reopened": int(actions["is_reopened"].sum()),
        "history_rows_added": added,
    }
    summary = {
        "folder": str(folder),
        "archive": str(archive_file),
        "history": str(history_file),
        "run_time": now.isoformat(),
        "today": today.isoformat(),
        "partition": PARTITION_TEXT,
        "counts": counts,
        **facts,
        "problems_by_reason": {str(k): int(v) for k, v in reasons.items()},
        "files_read": read.files,
        "files_failed": read.failed_files,
        "files_ignored": read.ignored_files,
        "columns_ignored": read.ignored_columns,
        "file_notes": read.file_notes,
        "scrubbed": scrubbed,
        "effect": {
            "window_months": settings.actions.effect_window_months,
            "min_reports": settings.actions.effect_min_reports,
            "period_end": pd.Timestamp(period_end).isoformat(),
            "by_verdict": {
                str(k): int(v) for k, v in actions["verdict"].value_counts(sort=False).items()
            },
        },
        "messages": {
            "history": messages,
            "drafts": [p["reason_fr"] for p in draft_problems],
        },
        "rules": (
            "Le registre (XLSX ou CSV) fait foi pour le contenu des actions ; une action déjà "
            "lue n'est jamais perdue : retirée du registre, elle reste, signalée « retirée ». "
            "Un statut ne recule jamais en silence : un retour en arrière daté d'avant le "
            "statut atteint (ancienne copie du registre) n'est pas appliqué et est listé ; "
            "daté d'après, il est appliqué comme réouverture et signalé. Chaque changement "
            "est ajouté à l'historique, qui n'est jamais réécrit. Une note de la carte "
            "étiquetée « action » devient une action proposée, qui ne remplace jamais une "
            "ligne du registre. Les textes (problème, décision, financement) sont nettoyés "
            "des données personnelles avant toute écriture."
        ),
    }
    write_json(summary, out_dir / "actions_summary.json")
    log.info(
        "%s: %d actions (%d rows read, %d rejected, %d drafts)",
        site_id,
        facts["n_actions"],
        read.rows_in,
        len(rejected_rows),
        len(drafts),
    )
    return actions
