"""The split's files written part by part: each site's rows of a shared export, and the
rows outside every site, appended as the export is read, so that the split holds one
part of the export at a time. Each file is written beside its place and moved there
when every part is in (:func:`pipelines.io.atomic_path`): a split that fails leaves no
half file.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from pipelines.io import CSV_DECIMAL, CSV_SEP, atomic_path, neutralise_formulas

log = logging.getLogger(__name__)


class Sinks:
    """Files appended part by part, moved into place when the ``with`` block ends
    without an error (removed otherwise).

    Examples
    --------
    >>> with Sinks() as sinks:  # doctest: +SKIP
    ...     sinks.add_rows(dst, table)
    ...     sinks.add_frame(outside, frame)
    """

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._tmp: dict[Path, Path] = {}
        self._rows: dict[Path, int] = {}

    def __enter__(self) -> Sinks:
        self._stack.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stack.__exit__(kind, error, trace)
        if kind is None:
            for dst, n in self._rows.items():
                log.info("wrote %s (%d rows)", dst, n)

    def _open(self, dst: Path) -> tuple[Path, bool]:
        """The temporary file of ``dst``, and whether it was just made (empty)."""
        dst = Path(dst)
        if dst in self._tmp:
            return self._tmp[dst], False
        self._tmp[dst] = self._stack.enter_context(atomic_path(dst))
        self._rows[dst] = 0
        return self._tmp[dst], True

    def add_rows(self, dst: Path, table: pa.Table) -> None:
        """Append export rows to ``dst`` as UTF-8 CSV, cell for cell (no formula guard:
        the site's ingestion reads them as the export had them); the header once."""
        tmp, new = self._open(dst)
        options = pacsv.WriteOptions(include_header=new)
        with tmp.open("ab") as fh:
            pacsv.write_csv(table, fh, write_options=options)
        self._rows[Path(dst)] += table.num_rows

    def add_frame(self, dst: Path, frame: pd.DataFrame) -> None:
        """Append a frame to ``dst`` as :func:`pipelines.io.write_csv` writes a whole one
        (``;``, decimal commas, UTF-8 with a BOM, formulas neutralised); the header once."""
        tmp, new = self._open(dst)
        safe = neutralise_formulas(frame)
        options = {"index": False, "sep": CSV_SEP, "decimal": CSV_DECIMAL, "lineterminator": "\n"}
        if new:
            safe.iloc[:0].to_csv(tmp, encoding="utf-8-sig", **options)  # type: ignore[call-overload]
        if len(safe):
            with tmp.open("a", encoding="utf-8", newline="") as fh:
                safe.to_csv(fh, header=False, **options)  # type: ignore[call-overload]
        self._rows[Path(dst)] += len(frame)
