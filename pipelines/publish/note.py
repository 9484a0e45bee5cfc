"""The publication part of the method note, in French: the profile, its thresholds, the
cells hidden and coarsened per table, and the audit's result (issue 16); and the hotspot
counts the published note shows, taken from the published tables
(:func:`published_counts`), so that the note, the key figures and the pack's lists
give one number for one thing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from pipelines.fr import fr_number
from pipelines.hotspots import Section
from pipelines.publish.cells import FLAG
from pipelines.published import Published, hidden

#: French names of the profiles and of the published tables.
PROFILE_FR = {
    "interne": "interne (fichiers de travail de l'analyste : tout est exact)",
    "comite": "comité (comités de pilotage)",
    "public": "public (données ouvertes, presse)",
}
TABLE_FR = {
    "building_profile": "Profil par bâtiment (total et par catégorie)",
    "monthly": "Signalements par bâtiment, période et catégorie",
    "zones": "Zones de points chauds",
    "before_after": "Avant / après, par bâtiment",
    "site": "Total du site",
    "actions": "Actions : signalements sur la cible avant / après",
    "category_series": "Graphique : signalements du site par période et catégorie",
    "key_figures": "Chiffres clés : signalements du site par groupe de catégories, "
    "depuis le dernier comité et avant",
}


#: What the note of a profile protecting every cell (``public``) says instead of the
#: count of what it withholds (chronic problems, late reports): an exact count of things
#: the pack does not show, one of them drawn from a single household, tells what the
#: pack hides; rounded to 5 it would say « 0 » of one or two, and the analyst has it in
#: ``publication_audit.json``.
WITHHELD_NOT_COUNTED = "leur nombre n'est pas donné ici"


def _pct(share: float) -> str:
    return f"{fr_number(100 * share, 1)} %"


def _technical_text(audit: Mapping[str, Any]) -> str:
    """What the secondary suppression does with the technical categories (``comite``),
    and how many of their cells it hid all the same (``technical_hidden`` of each group
    of the engine's audit, :func:`pipelines.stats.disclosure.protect`)."""
    engine = audit.get("engine", {})
    groups = engine.values() if isinstance(engine, Mapping) else []
    n = sum(len(g.get("technical_hidden", [])) for g in groups if isinstance(g, Mapping))
    return (
        " Ce masquage secondaire choisit d'abord un total ou une case liée aux personnes : "
        "une case d'une catégorie technique n'est masquée que faute d'autre choix, quand "
        "tous les recours sont eux-mêmes des cases techniques (un signalement technique "
        "qui désigne un logement est lié aux personnes, et le total de sa catégorie, pour "
        "son bâtiment ou pour le mois, est une case technique) : "
        f"{fr_number(n)} case(s) technique(s) masquée(s) ainsi, chacune avec sa raison "
        "dans publication_audit.json. Les cases par bâtiment et mois comptent aussi "
        "celles masquées d'avance : sous un total du site par mois et catégorie qui "
        "aurait redonné une case masquée, les cases de bâtiment les plus fournies le "
        "sont d'abord, pour que la série du site reste affichée."
    )


def publication_section(
    audit: Mapping[str, Any], cells: Mapping[str, Mapping[str, Any]]
) -> Section:
    """The « Publication et secret statistique » section of the method note."""
    rule = audit.get("rule", {})
    name = str(rule.get("profile", audit.get("profile", "")))
    paragraphs = [f"Profil de publication : {PROFILE_FR.get(name, name)}."]
    if name == "interne":
        paragraphs.append(
            "Aucune règle de secret : ce profil est réservé à l'analyste et ne doit pas sortir."
        )
        return Section("Publication et secret statistique", tuple(paragraphs))
    protect = (
        "toutes les cases"
        if rule.get("protect") == "all"
        else "les cases des catégories liées aux personnes ("
        + ", ".join(audit.get("person_related", []))
        + ")"
    )
    paragraphs.append(
        f"Règle : {protect} construites à partir de moins de {rule.get('threshold')} "
        "ménages distincts sont masquées (« s ») ; une case dont un seul ménage fait "
        f"{_pct(float(rule.get('dominance_share', 1.0)))} des signalements ou plus est "
        "masquée (signalements en série) ; un masquage secondaire empêche de retrouver une "
        "case masquée à partir des totaux publiés à côté (par bâtiment, mois, catégorie, "
        "zone, site)." + ("" if rule.get("protect") == "all" else _technical_text(audit))
    )
    if rule.get("coarsen"):
        paragraphs.append(
            "Avant de masquer, les cases sont regroupées (mois → trimestre → année ; "
            "bâtiment → zone → site) : le tableau mensuel est publié au niveau « "
            f"{audit.get('level_monthly', '')} », la colonne « level » le dit. Un "
            "bâtiment compté dans sa zone ou dans le site ne publie aucun chiffre par "
            "catégorie, pas même un zéro, qui dirait quelles catégories il a. Un bâtiment "
            "dont la classe de point chaud est masquée (moins de "
            f"{rule.get('threshold')} ménages) est compté dans le site, jamais dans sa "
            "zone de points chauds : l'y compter dirait qu'il est chaud."
        )
    if int(rule.get("round_base", 1)) > 1:
        paragraphs.append(f"Les effectifs publiés sont arrondis à {rule.get('round_base')}.")
    points = {
        "none": "aucun point de signalement n'est publié",
        "observations": "les signalements des habitants ne sont pas dessinés un par un "
        "(compter les points redonnerait les cases masquées) : ils sont comptés dans leur "
        "bâtiment ; les observations de terrain restent dessinées, sauf celles d'une "
        "catégorie liée aux personnes ou dont le texte nomme un logement ou un étage, là "
        "où la même case bâtiment × catégorie n'atteint pas le seuil : elles sont alors "
        "comptées dans leur bâtiment, sans point, ni date, ni texte",
        "all": "tous les points sont dessinés",
    }.get(str(rule.get("points")), "")
    # Not how many points were withheld: an exact count of the positioned reports
    # (Paris's committee note said 107 beside its site total hidden, 106; the open-data
    # note 6 403 on Bondy, not rounded); publication_audit.json keeps it. Under a
    # profile protecting every cell (public), no count of what is withheld at all
    # (:data:`WITHHELD_NOT_COUNTED`). Nor, under any profile, how many chronic problems
    # were left out (the committee's note said « … faute de ménages : 1 »): a chronic
    # pair has at least its rule's N reports in its window, so where the hidden cells
    # that could hold one are as many as the count, each is at least N, and the audit's
    # width (hi − lo ≥ 3 from lo ≥ 1) does not stop that from pinning one when N ≥ 4: a
    # building's pests hidden in [1, 4] beside its hidden « occupation » (no chronic
    # rule), under nuisibles = [4, 90], are then 4 exactly, and « occupation » 1.
    every_cell = rule.get("protect") == "all"
    whose = "" if every_cell else "liés aux personnes "
    chronic = (
        f"Les problèmes chroniques {whose}tirés de moins de {rule.get('threshold')} "
        f"ménages ne sont pas montrés ({WITHHELD_NOT_COUNTED})."
    )
    paragraphs.append(
        f"Points : {points}. {chronic} Un bâtiment « chaud » ou une "
        "tendance émergente tirés de trop peu de ménages ne sont pas montrés comme tels, "
        "ni la classe de chacune de ses catégories, qui dirait la sienne."
    )
    zones = audit.get("zones_shown_classes")
    if isinstance(zones, Mapping):
        paragraphs.append(
            "Zones de points chauds : une zone ne regroupe que des bâtiments chauds, elle "
            "ne montre donc que ceux dont la classe est montrée (liste, nombre et contour), "
            "et une zone sans aucun bâtiment montré n'est pas publiée. Les bâtiments "
            "montrés d'une zone sont reliés entre eux (à la distance qui fait les zones) : "
            "une zone dont ils formeraient plusieurs groupes dirait que des bâtiments non "
            "montrés les relient, et lesquels ; seul son plus grand groupe y est donc "
            "montré, la classe des autres est masquée. Combien de bâtiments ont été "
            "retirés ainsi n'est pas dit : ce serait dire combien de bâtiments de classe "
            "masquée sont chauds. "
            + (
                "Le nombre de signalements d'une zone est celui des bâtiments qu'elle "
                "montre, ou masqué (« s ») là où des bâtiments ont perdu leur classe pour "
                "la garder reliée."
                if rule.get("coarsen")
                else "Le nombre de signalements d'une zone dont un bâtiment est retiré est "
                "masqué (« s »), car il compte aussi les siens "
                f"({fr_number(zones.get('zone_counts_hidden', 0))} zone(s))."
            )
        )
    actions = audit.get("actions")
    if isinstance(actions, Mapping):
        text = (
            "Actions : les textes (problème, décision, financement) ne sont pas publiés."
            if actions.get("free_text") == "non publié"
            else "Actions : les textes (problème, décision, financement) sont nettoyés des "
            "noms, téléphones, courriels et numéros de logement."
        )
        which = (
            "d'une action"
            if rule.get("protect") == "all"
            else "d'une action visant une catégorie liée aux personnes (ou toutes)"
        )
        paragraphs.append(
            f"{text} L'effet {which} dont la cible compte moins de {rule.get('threshold')} "
            "ménages signalants dans l'une des périodes comparées, ou dont les périodes "
            "couvrent une case masquée du tableau mensuel, n'est pas publié, ni ses "
            "effectifs ("
            + (
                "marqués « s » dans le tableau des actions"
                if every_cell
                else f"{fr_number(actions.get('effects_hidden', 0))} effet(s) masqué(s)"
            )
            + "). "
            "Limite : les effectifs publiés d'une cible découpent à la date de l'action des "
            "cases mensuelles publiées."
            + (
                " Les effectifs sur les cibles ne sont jamais publiés dans ce profil."
                if rule.get("protect") == "all"
                else ""
            )
            + " Une action visant une zone de points chauds n'en liste et n'en dessine que "
            "les bâtiments montrés par la zone publiée ; si elle en perd, son effet est "
            "masqué."
        )
    frozen = audit.get("frozen_periods", [])
    paragraphs.append(
        f"Périodes figées (déjà publiées, reprises à l'identique) : {len(frozen)}."
        if frozen
        else "Aucune période figée : première publication de ce profil."
    )
    late = int(audit.get("late_reports_left_out", 0) or 0)
    if frozen:
        paragraphs.append(
            "Signalements tardifs (arrivés après la publication de leur période, datés "
            "dans une période figée"
            + (f") : {fr_number(late)}." if not every_cell else f" ; {WITHHELD_NOT_COUNTED}).")
            + " Ils ne sont comptés dans aucune "
            "case protégée (bâtiment, catégorie, zone, site), ni dans les signalements "
            "ouverts et les délais de clôture publiés, sinon la différence entre "
            "deux publications successives les ferait retrouver ; ils restent dans les "
            "fichiers de travail (profil interne)."
        )
    paragraphs.append(
        "Audit (publication_audit.json) : "
        + (
            "réussi — aucune case masquée ne peut être recalculée."
            if audit.get("passed")
            else "ÉCHEC — voir publication_audit.json."
        )
    )
    rows = [
        [
            TABLE_FR.get(key, key),
            str(c.get("level", "")),
            fr_number(c.get("cells", 0)),
            fr_number(c.get("hidden", 0)),
            _pct(float(c.get("hidden_share", 0.0))),
            fr_number(c.get("coarsened", 0)),
            _pct(float(c.get("coarsened_share", 0.0))),
        ]
        for key, c in cells.items()
    ]
    header = ["Tableau", "Niveau", "Cases", "Masquées", "Part", "Regroupées", "Part"]
    return Section("Publication et secret statistique", tuple(paragraphs), (header, rows))


def _shown_bins(profile: pd.DataFrame, column: str) -> pd.Series:
    """The Gi* classes of ``column`` the profile shows (hidden ones, « s » in
    ``<column>_flag``, left out)."""
    return pd.to_numeric(profile[column], errors="coerce").mask(hidden(profile, column)).dropna()


def published_counts(hot: Mapping[str, Any], published: Published) -> dict[str, Any]:
    """The hotspot summary (``hotspot_summary.json``) as the published method note
    shows it: every count a published table also gives is taken from that table, so
    that the note says what the key figures and the pack's lists say.

    - Gi* on the buildings: hot and cold buildings at 95 % and the classes from the
      building profile's shown ``gi_bin`` (a class hidden for want of households is
      counted as such, key ``"s"`` of ``bins``); per category, and on the rates, from
      ``gi_bin_<category>`` and ``gi_bin_rate``;
    - buildings with reports and reports counted: ``site.json``'s totals (``None``,
      « — », where the total is hidden);
    - chronic problems: the published ``chronic`` table (pairs, buildings, per category);
    - the check on planted hotspots (simulated data) is left out: its precision is
      computed on every building the analysis classed, which the published profile
      does not all show; the analyst's own note (``method_note.html`` beside the
      analysis files) keeps it.

    What no published table gives (the hexagons, the band, the density) is kept.
    """
    out: dict[str, Any] = {**hot}
    profile = published.profile
    gi = dict(out.get("gi") or {})
    if gi.get("status") == "computed" and "gi_bin" in profile:
        shown = _shown_bins(profile, "gi_bin")
        gi["n_hot_95"] = int((shown >= 2).sum())
        gi["n_cold_95"] = int((shown <= -2).sum())
        bins = {str(k): int((shown == k).sum()) for k in range(-3, 4)}
        n_hidden = int(hidden(profile, "gi_bin").sum())
        gi["bins"] = {**bins, **({"s": n_hidden} if n_hidden else {})}
        out["gi"] = gi
    categories = {}
    for code, info in (out.get("categories") or {}).items():
        column = f"gi_bin_{code}"
        if info.get("status") == "analysed" and column in profile:
            info = {**info, "n_hot_95": int((_shown_bins(profile, column) >= 2).sum())}
        categories[code] = info
    out["categories"] = categories
    rates = dict(out.get("rates") or {})
    if rates.get("status") == "computed" and "gi_bin_rate" in profile:
        rates["n_hot_95"] = int((_shown_bins(profile, "gi_bin_rate") >= 2).sum())
        out["rates"] = rates
    totals = published.site.get("totals") or {}
    for key in ("buildings_with_reports", "reports_counted"):
        if key in totals:
            out[key] = None if totals.get(f"{key}_flag") == FLAG else totals[key]
    chronic = published.chronic
    if "chronic" in out and chronic is not None:
        if not {"building_id", "category"} <= set(chronic.columns):
            chronic = pd.DataFrame({"building_id": [], "category": []})
        pairs = chronic.drop_duplicates(["building_id", "category"])
        by_category = pairs["category"].astype(str).value_counts().sort_index()
        out["chronic"] = {
            **out["chronic"],
            "n_pairs": len(pairs),
            "n_buildings": int(pairs["building_id"].nunique()),
            "by_category": {str(k): int(v) for k, v in by_category.items()},
        }
    checks = dict(out.get("checks") or {})
    checks.pop("planted_hotspots", None)
    out["checks"] = checks
    return out
