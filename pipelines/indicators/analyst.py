"""The analyst's watch levels (optional):
``<annotations_dir>/<site>/veille/niveaux_veille.csv``.

The tool only proposes « vert » or « jaune » (:mod:`pipelines.indicators.compute`); the
higher levels « orange » and « rouge » are the analyst's, read from this file and shown
as such, never computed. Columns: ``trimestre`` (``AAAA-Tn``) and ``niveau`` (« orange »
or « rouge »), and optionally ``entree``: empty, the row is the site's level (one per
quarter); filled, the level of one entrance (one per quarter and entrance), named as the
indicators name it (its address or building code, « 7 Rue Lucie Aubrac », or the OSM
building id, « way/84163769 »). No other text is read (it could name a resident).
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
    entrances = table["entree"] if "entree" in table else pd.Series("", index=table.index)
    rows = []
    seen: set[tuple[str, str]] = set()
    for i, (quarter, level, entrance) in enumerate(
        zip(table["trimestre"], table["niveau"], entrances, strict=True)
    ):
        line = i + 2  # the header is line 1
        quarter, level, entrance = quarter.strip(), level.strip().lower(), entrance.strip()
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
        if (quarter, entrance.casefold()) in seen:
            what = f"pour l'entrée « {entrance} » " if entrance else ""
            raise InputError(
                path, f"trimestre « {quarter} » donné deux fois {what}.".replace(" .", "."),
                row=line, column="trimestre",
            )  # fmt: skip
        seen.add((quarter, entrance.casefold()))
        rows.append({"quarter": quarter, "analyst_level": level, "entrance": entrance})
    return pd.DataFrame(rows, columns=["quarter", "analyst_level", "entrance"])


def with_analyst_levels(site: pd.DataFrame, levels: pd.DataFrame | None) -> pd.DataFrame:
    """``site`` with ``analyst_level`` (null where the analyst set none): the rows of
    ``levels`` that name no entrance."""
    out = site.drop(columns=["analyst_level"], errors="ignore")
    if levels is None or out.empty:
        return out.assign(analyst_level=pd.Series(None, index=out.index, dtype="object"))
    mine = levels[levels["entrance"] == ""][["quarter", "analyst_level"]]
    return out.merge(mine, on="quarter", how="left", validate="1:1")


def with_analyst_entrances(entrances: pd.DataFrame, levels: pd.DataFrame | None) -> pd.DataFrame:
    """``entrances`` (:func:`pipelines.indicators.compute.entrance_quarters`) with
    ``analyst_level``: the level the analyst set for that quarter and entrance (matched
    on its label or its building id, case aside), null elsewhere. An entrance the
    analyst names that the quarter's table lacks gets a row of its own (label as the
    analyst wrote it, no count): the analyst's level is shown whatever the reports."""
    out = entrances.drop(columns=["analyst_level"], errors="ignore").assign(
        analyst_level=pd.Series(None, index=entrances.index, dtype="object")
    )
    if levels is None:
        return out
    extra = []
    for quarter, level, entrance in levels[levels["entrance"] != ""].itertuples(index=False):
        # itertuples keeps the columns' order: quarter, analyst_level, entrance
        name = entrance.casefold()
        hit = (out["quarter"] == quarter) & (
            (out["entrance_label_fr"].astype(str).str.casefold() == name)
            | (out["building_id"].astype(str).str.casefold() == name)
        )
        if hit.any():
            out.loc[hit, "analyst_level"] = level
        else:
            extra.append(
                {"quarter": quarter, "entrance_label_fr": entrance, "analyst_level": level}
            )
    if extra:
        more = pd.DataFrame(extra).reindex(columns=out.columns)
        out = more if out.empty else pd.concat([out, more], ignore_index=True)
    return out
