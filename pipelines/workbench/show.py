"""What ``vigie init`` shows: an export's facts, the role of each column, where each
category label goes, and the preview (where every row went, the first rows read)."""

from __future__ import annotations

import pandas as pd

from pipelines.config import COLUMN_ROLES
from pipelines.fr import fr_number, plural
from pipelines.ingest import IngestResult, RawFile
from pipelines.workbench.detect import Detected
from pipelines.workbench.dialogue import Dialogue, table
from pipelines.workbench.headers import ROLE_LABELS
from pipelines.workbench.labels import FUZZY, UNMAPPED, LabelChoice
from pipelines.workbench.siteblock import SEPARATOR_NAMES

#: Rows shown in the preview.
PREVIEW_ROWS = 10


def show_file(d: Dialogue, raws: list[RawFile]) -> None:
    first = raws[0]
    sep = SEPARATOR_NAMES.get(first.separator or "", first.separator or "")
    facts = [f"format {first.format}"]
    if first.encoding:
        facts.append(f"encodage {first.encoding}")
    if sep:
        facts.append(f"séparateur « {sep} »")
    rows = sum(r.n_rows for r in raws)
    facts.append(plural(rows, "ligne"))
    if len(raws) > 1:
        facts.append(f"{len(raws)} fichiers")
    d.say("  " + ", ".join(facts) + ".")


def show_roles(d: Dialogue, detected: Detected, columns: list[str]) -> None:
    rows = [[r, g.column, ROLE_LABELS[r], g.why] for r, g in detected.roles.items()]
    rows += [
        [r, c, ROLE_LABELS.get(r, r), "lue d'office (format)"]
        for r, c in detected.automatic.items()
    ]
    order = {r: i for i, r in enumerate(COLUMN_ROLES)}
    rows.sort(key=lambda row: order.get(row[0], 99))
    for line in table(rows, ["rôle", "colonne", "ce que c'est", "pourquoi"]):
        d.say("  " + line)
    if detected.personal:
        d.say(
            "  Données personnelles (jamais recopiées) : "
            + ", ".join(f"« {c} »" for c in detected.personal)
        )
    used = set(detected.all_roles().values()) | set(detected.personal)
    unused = [c for c in columns if c not in used]
    if unused:
        d.say("  Non utilisées : " + ", ".join(f"« {c} »" for c in unused))
    order_text = {
        "day_first": "jour en premier (31/12)",
        "month_first": "mois en premier (12/31)",
        "ambiguous": "ambiguës (jour et mois ≤ 12) : lues jour en premier",
    }.get(detected.dates.order)
    if order_text:
        proof = ", ".join(str(n) for n in detected.dates.lines)
        d.say(f"  Dates : {order_text}" + (f", d'après les lignes {proof}" if proof else "") + ".")
    if detected.dates.date_format:
        d.say(f"  Format de date proposé : {detected.dates.date_format}")
    if detected.crs:
        d.say(f"  Coordonnées X/Y : {detected.crs}.")
    for note in detected.notes:
        d.say(f"  ! {note}")


def show_labels(d: Dialogue, choices: list[LabelChoice]) -> None:
    rows = [
        [
            c.label,
            c.code,
            c.how + (f" ({c.matched}, {c.score:.0f})" if c.how == FUZZY else ""),
            fr_number(c.rows),
        ]
        for c in choices
    ]
    for line in table(rows, ["étiquette de l'export", "code Vigie", "correspondance", "lignes"]):
        d.say("  " + line)
    left = [c for c in choices if c.how == UNMAPPED]
    if left:
        d.say(
            f"  Non reconnue(s), rangée(s) dans « autre » ({len(left)}) : "
            + ", ".join(f"« {c.label} »" for c in left)
        )


def preview_rows(ingested: pd.DataFrame, n: int = PREVIEW_ROWS) -> list[list[str]]:
    """The first ``n`` accepted rows (by source, then line), as text cells: line, id
    (without its source's prefix when there is one source), date, category code, the
    export's label, address, coordinates, status."""
    head = ingested.sort_values(["source", "source_line"], kind="stable").head(n)
    when = head["reported_at"].dt.strftime("%d/%m/%Y %H:%M")
    where = head["lat"].map("{:.5f}".format) + ", " + head["lon"].map("{:.5f}".format)
    cells = [
        head["source_line"].astype("str"),
        head["report_id"].str.removeprefix(head["source"].iloc[0] + ":")
        if head["source"].nunique() == 1
        else head["report_id"],
        when,
        head["category"],
        head["category_source_label"],
        head["address"],
        where.where(head["lat"].notna()),
        head["status"],
    ]
    frame = pd.concat([c.astype("object").where(c.notna(), "") for c in cells], axis=1)
    return [[str(v) for v in row] for row in frame.itertuples(index=False)]


def show_preview(d: Dialogue, result: IngestResult) -> None:
    rejected = result.rejected
    for sid, s in result.summary["sources"].items():
        n_rejected = sum(s["rejected"].values())
        d.say(
            f"  Source « {sid} » : {plural(s['rows_in'], 'ligne')} lues = "
            f"{fr_number(s['accepted'])} acceptées + {fr_number(s['updated'])} mises à jour + "
            f"{fr_number(s['duplicates'])} doublons + {fr_number(n_rejected)} rejetées + "
            f"{fr_number(s['outside_study_area'])} hors zone."
        )
        mine = rejected[(rejected["source"] == sid) & (rejected["source_line"] > 0)]
        for reason, n in s["rejected"].items():
            first = mine[mine["reason"] == reason].head(1)
            example = (
                f" ; ex. ligne {first['source_line'].iloc[0]} : {first['reason_fr'].iloc[0]}"
                if len(first)
                else ""
            )
            d.say(f"    {fr_number(n)} rejetée(s) ({reason}){example}")
        for issue in s["file_issues"]:
            d.say(f"    note : {issue.get('detail') or issue['reason']} ({issue['file']})")
        if s["unknown_labels"]:
            d.say("    étiquettes rangées dans « autre » : " + ", ".join(s["unknown_labels"]))
    if result.ingested.empty:
        d.say("  Aucune ligne acceptée : voyez les rejets ci-dessus.")
        return
    rows = preview_rows(result.ingested)
    d.say(f"  Les {len(rows)} premières lignes acceptées, telles que lues :")
    headers = ["ligne", "identifiant", "date", "catégorie", "étiquette", "adresse", "lat, lon"]
    for line in table(rows, [*headers, "statut"], width=26):
        d.say("  " + line)
