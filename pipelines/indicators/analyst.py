"""The analyst's watch levels (optional):
``<annotations_dir>/<site>/veille/niveaux_veille.csv``.

The tool only proposes « vert » or « jaune » (:mod:`pipelines.indicators.compute`); the
higher levels « orange » and « rouge » are the analyst's, read from this file and shown
as such, never computed. Columns: ``trimestre`` (``AAAA-Tn``) and ``niveau`` (« orange »
or « rouge »); one row per quarter. No free text is read (it could name a resident).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from pipelines.errors import InputError

#: The file, in the site's notes folder: in a subfolder, which the notes' reader passes
#: over (every file of the folder itself is read as notes).
FILE_NAME = "veille/niveaux_veille.csv"
#: The levels an analyst may set.
LEVELS = ("orange", "rouge")
_QUARTER = re.compile(r"^\d{4}-T[1-4]$")


def read_analyst_levels(path: Path) -> pd.DataFrame | None:
    """``quarter`` and ``analyst_level`` from ``path``, or None when the file does not
    exist. A malformed file is an :class:`~pipelines.errors.InputError` naming its row
    and column."""
    if not path.exists():
        return None
    try:
        # `;` as Excel writes it in French, or `,`: the separator is sniffed.
        table = pd.read_csv(
            path, sep=None, engine="python", dtype=str, encoding="utf-8-sig", keep_default_na=False
        )
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(path, f"fichier illisible en CSV UTF-8 ({err}).") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    for column in ("trimestre", "niveau"):
        if column not in table:
            raise InputError(path, "colonne obligatoire absente.", column=column)
    rows = []
    seen: set[str] = set()
    for i, (quarter, level) in enumerate(zip(table["trimestre"], table["niveau"], strict=True)):
        line = i + 2  # the header is line 1
        quarter, level = quarter.strip(), level.strip().lower()
        if not _QUARTER.match(quarter):
            raise InputError(
                path, f"trimestre « {quarter} » : attendu AAAA-Tn (ex. 2025-T3).",
                row=line, column="trimestre",
            )  # fmt: skip
        if level not in LEVELS:
            raise InputError(
                path, f"niveau « {level} » : attendu {' ou '.join(LEVELS)} (vert et jaune "
                "sont proposés par l'outil).", row=line, column="niveau",
            )  # fmt: skip
        if quarter in seen:
            raise InputError(
                path, f"trimestre « {quarter} » donné deux fois.", row=line, column="trimestre"
            )
        seen.add(quarter)
        rows.append({"quarter": quarter, "analyst_level": level})
    return pd.DataFrame(rows, columns=["quarter", "analyst_level"])


def with_analyst_levels(site: pd.DataFrame, levels: pd.DataFrame | None) -> pd.DataFrame:
    """``site`` with ``analyst_level`` (null where the analyst set none)."""
    out = site.drop(columns=["analyst_level"], errors="ignore")
    if levels is None or out.empty:
        return out.assign(analyst_level=pd.Series(None, index=out.index, dtype="object"))
    return out.merge(levels, on="quarter", how="left")
