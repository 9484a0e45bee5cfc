"""Frozen past periods: what was published for a closed period stays as it was.

Two successive packs could otherwise be subtracted to reveal a hidden cell (a report
added late to a past month changes its cells and the secondary suppression around
them). The ledger keeps, per site and profile, the published rows of the monthly table
and of the site's series (the category chart's) for every closed period (all periods
but the last one of the data, which may still be filling up), with the level of the
table (``public`` coarsens; the level is frozen with the rows); its ``table`` column
says which table a row belongs to (:data:`TABLES`; a ledger without it, written
before the series was its own table, holds the monthly table only). It lives outside
``processed_dir`` (``[publication] ledger_dir``, default ``<annotations_dir>/.ledger/``,
gitignored with the planners' notes): ``make clean`` must not make Vigie forget what it
published.

Freezing the rows is not enough: a *late* report (one that reaches the export after
its period was published, dated inside it) would still change every figure that adds
up the whole time (a building's total, its category totals, a zone, the site), and
the difference between two packs, less the new period's shown cells, would give it
back, building and category. So the ledger also keeps the reports counted in each
closed period (``table`` « counted »: ``report_id`` and ``month``, the period), and a
report of a closed period it does not list is counted in no protected figure
(:func:`late_reports`): the pack says how many (``late_reports_left_out``).

A ledger only makes sense over the data it was written from. One left by another build
(other simulated data, another site's secret, another profile rule) freezes cells that
these reports do not add up to: the audit of the pack then fails, after minutes of
linear programs. So the ledger keeps, beside each report counted, a digest of where it
was counted (building, category) and of its household (:data:`COUNTED_COLUMNS`), and in
the file's metadata the profile's rule it was published under (:func:`ledger_stamp`);
:func:`pipelines.publish.ledger_check.check_ledger` compares both with the data before
anything is computed and stops the stage with a French message when they disagree
(:class:`~pipelines.publish.ledger_check.LedgerMismatchError`), and
:func:`~pipelines.publish.ledger_check.check_audit` stops it when the audit fails anyway,
before any file is written.
Resetting a ledger is deliberate (``vigie ledger-reset``, :func:`archive_ledger`): it is
moved to an archive, not deleted.

A ledger written before ingestion read ids without the invisible characters of a value
pasted from a web page (« T-2\u200b », :func:`pipelines.ingest.clean_cells`) lists such a
report under the id it had then: its ids are read again as ingestion reads them now
(:func:`counted_part`), so that the same report is not taken for a late one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.config import Config, SiteConfig
from pipelines.config.publication import ProfileRule
from pipelines.ingest import clean_cells
from pipelines.io import atomic_path
from pipelines.publish.cells import among

log = logging.getLogger(__name__)

#: The tables the ledger freezes, as its ``table`` column names them, and the reports
#: counted in the closed periods (``counted``).
TABLES = ("monthly", "category_series", "counted")

#: The columns of the « counted » rows: the report, its period, and a digest of where it
#: was counted and of its household (:func:`report_digest`; absent from a ledger
#: written before, which is then checked on the periods alone).
COUNTED_COLUMNS = ("report_id", "month", "digest")

#: The key of the ledger file's metadata (:func:`ledger_stamp`).
STAMP_KEY = b"vigie.ledger"


def ledger_path(ledger_dir: str | Path, site_id: str, profile: str) -> Path:
    """The ledger file of a site and a profile."""
    return Path(ledger_dir) / site_id / f"{profile}_monthly.parquet"


def site_ledger_path(config: Config, site: SiteConfig, profile: str) -> Path:
    """The ledger file of ``site`` and ``profile`` where the configuration keeps it: the
    site's ``publication.ledger_dir``, else ``<annotations_dir>/.ledger``."""
    ledger_dir = site.publication.ledger_dir or Path(config.annotations_dir) / ".ledger"
    return ledger_path(ledger_dir, site.id, profile)


def read_ledger(path: Path) -> pd.DataFrame | None:
    """The ledger at ``path``; ``None`` when nothing was published yet."""
    return pd.read_parquet(path) if path.exists() else None


def ledger_stamp(rule: ProfileRule, person_related: frozenset[str]) -> dict[str, Any]:
    """What the ledger's metadata keeps of the run that wrote it: the profile's rule
    and the person-related categories (both decide which cells were hidden)."""
    return {"rule": rule.as_dict(), "person_related": sorted(person_related)}


def read_stamp(path: Path) -> dict[str, Any] | None:
    """The metadata :func:`write_ledger` stored in the ledger at ``path`` (``None``
    without a file, or for a ledger written before it kept them)."""
    if not path.exists():
        return None
    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(STAMP_KEY)
    return json.loads(raw) if raw else None


def write_ledger(
    ledger: pd.DataFrame, path: Path, *, stamp: Mapping[str, Any] | None = None
) -> None:
    """Write the ledger (atomic), with ``stamp`` (:func:`ledger_stamp`) in its metadata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(ledger, preserve_index=False)
    if stamp is not None:
        meta = {**(table.schema.metadata or {}), STAMP_KEY: json.dumps(dict(stamp)).encode()}
        table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    log.info("wrote %s (%d rows)", path, len(ledger))


def archive_ledger(path: Path, *, stamp: str) -> Path | None:
    """Move the ledger at ``path`` to ``<its folder>/archive/<name>.<stamp>.parquet``
    (a deliberate reset: the next publication of the profile freezes nothing); the
    archived path, or ``None`` when there was no ledger."""
    if not path.exists():
        return None
    dst = path.parent / "archive" / f"{path.stem}.{stamp}{path.suffix}"
    dst.parent.mkdir(parents=True, exist_ok=True)
    path.replace(dst)
    log.info("archived %s to %s", path, dst)
    return dst


def freeze(
    monthly: pd.DataFrame, ledger: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame, set[str]]:
    """The monthly table with the periods of ``ledger`` as they were published.

    Parameters
    ----------
    monthly
        The protected monthly table (``month`` holds its period, ``level`` its level).
    ledger
        The rows published before for closed periods, or ``None``.

    Returns
    -------
    tuple
        The monthly table (a ``frozen`` column says which rows come from the ledger),
        the new ledger (old rows, plus the rows of the periods now closed: every period
        of ``monthly`` but its last), and the frozen periods.
    """
    frozen_periods: set[str] = set()
    if ledger is not None and not ledger.empty:
        frozen_periods = set(ledger["month"].astype(str).unique())
    fresh = monthly[~monthly["month"].astype(str).isin(frozen_periods)].assign(frozen=False)
    old = (
        ledger.assign(frozen=True)
        if ledger is not None and not ledger.empty
        else fresh.iloc[0:0].assign(frozen=True)
    )
    out = pd.concat([old[fresh.columns.intersection(old.columns)], fresh], ignore_index=True)
    keys = [c for c in ("month", "building_id", "category") if c in out]
    out = out.sort_values(keys, na_position="first", kind="stable")
    out = out.reset_index(drop=True)
    periods = sorted(set(out["month"].astype(str).unique()))
    closed = set(periods[:-1])
    new_rows = fresh[fresh["month"].astype(str).isin(closed)].drop(columns="frozen")
    base = ledger if ledger is not None else new_rows.iloc[0:0]
    new_ledger = pd.concat([base, new_rows], ignore_index=True)
    return out, new_ledger, frozen_periods


def ledger_part(ledger: pd.DataFrame | None, table: str) -> pd.DataFrame | None:
    """The rows of one of :data:`TABLES` in ``ledger`` (without the ``table`` column);
    ``None`` when it has none."""
    if ledger is None:
        return None
    kind = ledger["table"] if "table" in ledger else pd.Series(TABLES[0], index=ledger.index)
    rows = ledger[kind.fillna(TABLES[0]) == table].drop(columns="table", errors="ignore")
    return rows.reset_index(drop=True) if len(rows) else None


def joined(parts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One ledger from the rows of each of :data:`TABLES` (``table`` column added)."""
    frames = [frame.assign(table=table) for table, frame in parts.items() if len(frame)]
    if not frames:
        return next(iter(parts.values())).assign(table=pd.Series(dtype=object))
    return pd.concat(frames, ignore_index=True)


def ledger_level(ledger: pd.DataFrame | None) -> str | None:
    """The level the ledger's monthly rows were published at (``None`` without any)."""
    rows = ledger_part(ledger, TABLES[0])
    if rows is None or "level" not in rows:
        return None
    return str(rows["level"].iloc[0])


def closed_periods(ledger: pd.DataFrame | None) -> set[str]:
    """The periods the ledger froze (monthly table and site's series)."""
    out: set[str] = set()
    for table in TABLES[:2]:
        rows = ledger_part(ledger, table)
        if rows is not None:
            out |= set(rows["month"].astype(str).unique())
    return out


def ids_read_again(ids: pd.Series) -> pd.Series:
    """Report ids (``<source>:<id>``) as ingestion reads them now: the id without the
    invisible characters (zero-width space, word joiner, direction marks, BOM) it kept
    before ingestion took them out (:func:`pipelines.ingest.clean_cells`, trimmed
    again). Unchanged where there are none.

    Examples
    --------
    >>> ids_read_again(pd.Series(["bailleur:T-2\u200b", "bailleur:\u200b T-3", "k:7"])).tolist()
    ['bailleur:T-2', 'bailleur:T-3', 'k:7']
    """
    text = ids.astype(str).reset_index(drop=True)
    # the whole id cleaned tells which ones held any (a source id holds none)
    whole = clean_cells(pa.array(text.tolist(), pa.large_string())).astype(str)
    changed = (whole != text).to_numpy()
    if not changed.any():
        return ids.astype(str)
    parts = text[changed].str.split(":", n=1, expand=True).reindex(columns=[0, 1])
    has_id = parts[1].notna().to_numpy()
    own = clean_cells(pa.array(parts[1].fillna("").tolist(), pa.large_string())).astype(str)
    again = np.where(has_id, parts[0].to_numpy(dtype=object) + ":" + own.to_numpy(), whole[changed])
    out = text.to_numpy(dtype=object)
    out[changed] = again
    return pd.Series(out, index=ids.index, dtype=object)


def counted_part(ledger: pd.DataFrame | None) -> pd.DataFrame | None:
    """The ledger's « counted » rows (:data:`COUNTED_COLUMNS`), their ids as ingestion
    reads them now (:func:`ids_read_again`), and ``read_again`` (bool): the id changed.

    Before, the same report read again after ingestion took the invisible characters out
    of its id (« T-2\u200b » now « T-2 ») was not among the reports the ledger counted: a
    report of a frozen period the pack had counted was left out of its tables as late,
    beside frozen months that count it."""
    counted = ledger_part(ledger, TABLES[2])
    if counted is None:
        return None
    ids = counted["report_id"].astype(str)
    again = ids_read_again(ids)
    return counted.assign(report_id=again, read_again=(again != ids).to_numpy())


def late_reports(micro: pd.DataFrame, ledger: pd.DataFrame | None, time: str) -> pd.Series:
    """Which reports of ``micro`` are late: dated in a period the ledger froze (``time``
    is the column of ``micro`` holding that period: ``month``, ``quarter`` or ``year``)
    and not among the reports it counted there.

    A ledger written before it kept the reports counted (no « counted » rows) tells no
    late report apart: none is flagged, the next refresh will.
    """
    counted = counted_part(ledger)
    closed = closed_periods(ledger)
    if counted is None or not closed:
        return pd.Series(False, index=micro.index)
    in_closed = micro[time].astype(str).isin(closed)
    known = among(micro["report_id"].astype(str), counted["report_id"].astype(str))
    return in_closed & ~known


def report_digest(micro: pd.DataFrame) -> pd.Series:
    """A short digest (16 hex digits of SHA-256) of each report's building, category and
    household: the ledger tells a report counted elsewhere, or filed under another
    household (another secret), without keeping the household key itself."""
    parts = micro[["building_id", "category", "household"]].astype(str)
    text = parts["building_id"] + "\x1f" + parts["category"] + "\x1f" + parts["household"]
    return text.map(lambda t: hashlib.sha256(t.encode()).hexdigest()[:16])


def counted_rows(
    micro: pd.DataFrame, ledger: pd.DataFrame | None, closed: set[str], time: str
) -> pd.DataFrame:
    """The ledger's « counted » rows (:data:`COUNTED_COLUMNS`): those it had, and the
    reports of ``micro`` (late ones already left out) dated in the periods ``closed``
    now. A row of a ledger written before it kept digests gets the digest of its report
    in ``micro`` when it is dated in the same period there (the ledger was accepted:
    :func:`~pipelines.publish.ledger_check.check_ledger`), so that the next run checks
    it whole; so does a row whose id is read again (:func:`counted_part`), kept under
    its id of now: a report known by no other identifier is its own household, keyed by
    its id (:mod:`pipelines.ingest.household`), which changed with it."""
    everything = pd.DataFrame(
        {
            "report_id": micro["report_id"].astype(str).to_numpy(),
            "month": micro[time].astype(str).to_numpy(),
            "digest": report_digest(micro).to_numpy() if len(micro) else [],
        }
    )
    new = everything[everything["month"].isin(closed)].reset_index(drop=True)
    old = counted_part(ledger)
    if old is None:
        return new
    read_again = old["read_again"].to_numpy(dtype=bool)
    old = old.reindex(columns=list(COUNTED_COLUMNS))
    old = old.astype({"report_id": str, "month": str, "digest": object})
    stale = old["digest"].isna().to_numpy() | read_again
    now = everything.drop_duplicates("report_id").set_index("report_id")
    fill = now.reindex(old["report_id"])
    same = (fill["month"].to_numpy() == old["month"].to_numpy()) & stale
    old.loc[same, "digest"] = fill["digest"].to_numpy()[same]
    both = pd.concat([old, new[~among(new["report_id"], old["report_id"])]])
    return both.reset_index(drop=True)
