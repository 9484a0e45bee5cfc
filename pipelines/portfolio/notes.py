"""The reading notes of a shared export, per site: ``vigie split`` reads each export
(a DOS or Mac Roman file, lines in another encoding…) and writes every site's rows in
UTF-8, so the site's own ingestion reads clean files and notes nothing. The split keeps,
per site, the notes of the export files that gave it rows, each noted line kept where
its row went (:class:`SiteNotes`, ``split_summary.json``'s ``sources.<id>.site_notes``),
and the site's ingestion adds them to its ``ingest_summary.json``
(``sources.<id>.file_issues``, :func:`pipelines.ingest.filenotes.with_split_notes`), the
file the analyst opens for the site.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipelines.ingest import RawFile, reading_notes

#: The most lines a note lists, as the split's own notes.
MAX_LINES = 1000


class SiteNotes:
    """The noted lines of one export file, per site, as the parts are placed."""

    def __init__(self, sites: list[str]) -> None:
        self.sites = sites
        self.rows: dict[str, int] = dict.fromkeys(sites, 0)
        self.lines: dict[str, list[np.ndarray]] = {s: [] for s in sites}

    def add_part(self, raw: RawFile, site: np.ndarray) -> None:
        """Count each site's rows of a part (``site``: each row's index in
        :attr:`sites`, negative outside every site) and keep its noted lines."""
        counts = np.bincount(site[site >= 0], minlength=len(self.sites))
        for i, sid in enumerate(self.sites):
            self.rows[sid] += int(counts[i])
        noted = np.union1d(raw.encoding_mismatch_lines, raw.foreign_encoding_lines)
        if not len(noted):
            return
        at = np.isin(raw.lines, noted) & (site >= 0)
        for i, sid in enumerate(self.sites):
            self.lines[sid].append(raw.lines[at & (site == i)])

    def notes(self, path: Path, notes: RawFile, site_files: dict[str, Path]) -> dict[str, list]:
        """Per site given rows of the file, the file's notes
        (:func:`pipelines.ingest.reading_notes`) that concern it: a note of the whole file
        as it is, a note of lines with those of its lines whose rows went to the site
        (none: not given). Each says it was made on the shared export, whose lines it
        lists (``file``), and names the site's own file (``site_file``)."""
        out: dict[str, list[dict[str, Any]]] = {}
        found = reading_notes(notes)
        for sid in self.sites:
            if not self.rows[sid]:
                continue
            mine = np.concatenate(self.lines[sid]) if self.lines[sid] else np.zeros(0, np.int64)
            for reason, detail, lines in found:
                note: dict[str, Any] = {
                    "file": str(path),
                    "site_file": str(site_files[sid]),
                    "reason": reason,
                    "detail": f"export partagé « {path} », lu par vigie split, qui a écrit "
                    f"les lignes de ce site en UTF-8 : {detail}",
                }
                if lines is not None:
                    kept = np.intersect1d(mine, lines)
                    if not len(kept):
                        continue
                    note["lines"] = [int(n) for n in kept[:MAX_LINES]]
                out.setdefault(sid, []).append(note)
        return out
