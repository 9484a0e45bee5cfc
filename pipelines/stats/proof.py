"""What :func:`pipelines.stats.disclosure.protect` proved, kept for a later audit of the
same tables: each protected cell's certified interval and the cells hidden when it was
proven.

Hiding a cell only removes an equality from the attacker's system (its ``≥ 1`` bound is
weaker than the equality it replaces), so every point the attacker could not rule out
stays possible and an interval can only widen. An audit of the same reports and tables
that hides at least the proof's cells therefore keeps every interval of the proof and
need not solve its programs again (:func:`proven`); a cell the proof does not cover, or
whose proven interval is narrower than the audit's width, is solved as usual. Whether the
tables as published hide at least those cells is checked cell by cell from their flags,
so the audit still catches a flag lost between the engine and the published tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from pipelines.stats.attacker import Intervals
from pipelines.stats.system import EPS

Table = tuple[str, ...]


@dataclass(frozen=True)
class Proof:
    """A protection's certified intervals.

    Attributes
    ----------
    cells, tables
        The engine's cell table (:func:`pipelines.stats.disclosure.cell_table`: each
        cell's table, dimensions and true count) and its tables; the cells are named
        (:func:`cell_keys`) only when an audit takes the proof.
    hidden
        The cells hidden in the protected tables.
    targets, lo, hi
        The protected cells (positions in ``cells``) and their certified intervals.
    """

    cells: pd.DataFrame
    tables: tuple[Table, ...]
    hidden: npt.NDArray[np.bool_]
    targets: npt.NDArray[np.int64]
    lo: npt.NDArray[np.float64]
    hi: npt.NDArray[np.float64]


def cell_keys(cells: pd.DataFrame, tables: Sequence[Table]) -> pd.Index:
    """One text key per row of a cell table (:func:`pipelines.stats.disclosure.cell_table`):
    the table's dimensions, then the cell's values, so that two cell tables built over
    the same tables in another order name the same cell alike."""
    keys = np.empty(len(cells), dtype=object)
    table = cells["table"].to_numpy()
    values = {d: cells[d].to_numpy() for d in dict.fromkeys(d for t in tables for d in t)}
    for i, t in enumerate(tables):
        at = np.flatnonzero(table == i)
        head = "\x1e".join(t)
        if not t:
            keys[at] = head
            continue
        # joined as arrays, not cell by cell in Python (0.08 s less per audit on a
        # bench site of 25,000 reports)
        columns = [values[d][at].astype(str).astype(object) for d in t]
        text = head + "\x1e" + columns[0]
        for column in columns[1:]:
            text = text + "\x1f" + column
        keys[at] = text
    return pd.Index(keys)


def proof_of(
    cells: pd.DataFrame,
    tables: Sequence[Table],
    hidden: npt.NDArray[np.bool_],
    targets: npt.NDArray[np.int64],
    iv: Intervals,
) -> Proof:
    """The proof of a protection: its final hidden cells and its targets' intervals
    (``iv``, certificates of that state)."""
    return Proof(
        cells,
        tuple(tables),
        hidden.copy(),
        np.asarray(targets, dtype=np.int64),
        iv.lo.copy(),
        iv.hi.copy(),
    )


def proven(
    proof: Proof | None,
    cells: pd.DataFrame,
    tables: Sequence[Table],
    hidden: npt.NDArray[np.bool_],
    targets: npt.NDArray[np.int64],
    width: float,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Which ``targets`` the proof covers, and their intervals (``lo``, ``hi``; zeros
    where not covered).

    It covers none without a proof, or unless the cells are the proof's (same keys, same
    counts: the same reports and tables) and ``hidden`` hides at least the proof's
    hidden cells; then it covers each target it proved at least ``width`` wide."""
    covered = np.zeros(len(targets), dtype=bool)
    lo, hi = np.zeros(len(targets)), np.zeros(len(targets))
    if proof is None or len(cells) != len(proof.cells):
        return covered, lo, hi
    columns = ["table", *dict.fromkeys(d for t in tables for d in t)]
    if tuple(proof.tables) == tuple(tables) and proof.cells[columns].equals(cells[columns]):
        # the proof's own cell table, row for row (a cell table lists each cell once):
        # no key to match (0.05 s less per audit on a bench site of 25,000 reports)
        at = np.arange(len(cells))
    else:
        proved = cell_keys(proof.cells, proof.tables)
        if not proved.is_unique:
            return covered, lo, hi
        at = proved.get_indexer(cell_keys(cells, tables))  # each cell's position in the proof
        if (at < 0).any():
            return covered, lo, hi
    counts = cells["n_reports"].to_numpy(dtype=np.float64)
    if not np.array_equal(proof.cells["n_reports"].to_numpy(dtype=np.float64)[at], counts):
        return covered, lo, hi
    if (proof.hidden[at] & ~hidden).any():  # a cell the proof hid is shown here
        return covered, lo, hi
    slot = np.full(len(proof.cells), -1)
    slot[proof.targets] = np.arange(len(proof.targets))
    k = slot[at[targets]]
    ok = k >= 0
    lo[ok], hi[ok] = proof.lo[k[ok]], proof.hi[k[ok]]
    covered = ok & (hi - lo >= width - EPS)
    lo[~covered], hi[~covered] = 0.0, 0.0
    return covered, lo, hi


def with_proven(
    iv: Intervals,
    covered: npt.NDArray[np.bool_],
    lo: npt.NDArray[np.float64],
    hi: npt.NDArray[np.float64],
) -> Intervals:
    """The intervals of every target: the proven ones (``covered``, certified: not
    exact) and, in order, ``iv``'s for the others (solved now)."""
    out_lo, out_hi = lo.copy(), hi.copy()
    exact = np.zeros(len(covered), dtype=bool)
    out_lo[~covered], out_hi[~covered], exact[~covered] = iv.lo, iv.hi, iv.exact
    return Intervals(out_lo, out_hi, exact, iv.binding, iv.n_components, iv.n_lp)
