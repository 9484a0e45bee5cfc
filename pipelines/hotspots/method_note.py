"""The method note of a hotspot run, in French: a small self-contained HTML page (and the
same text in Markdown) built from the stage's summary alone.

It states the parameters, the distance band chosen and why, the number of features and
islands, the FDR levels, the categories skipped, the caveats (small numbers, unknown
dwellings) and the checks of the run. Every value coming from the data is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from pipelines.fr import fr_number
from pipelines.markup import render_template, template_text
from pipelines.taxonomy import label_of

Table = tuple[Sequence[str], Sequence[Sequence[str]]]


@dataclass(frozen=True)
class NoteContext:
    """What the summary does not hold: the site's name and whether data are simulated."""

    site_name: str
    simulated: bool = False


@dataclass(frozen=True)
class Section:
    """A titled block of paragraphs, then an optional table (header, rows)."""

    title: str
    paragraphs: tuple[str, ...] = ()
    table: Table | None = None


_METHOD_LABELS = {
    "incremental_peak": "premier pic de l'I de Moran",
    "incremental_max": "valeur la plus forte de l'I de Moran",
    "knn_rule": "règle des k plus proches voisins",
    "configured": "fixée dans la configuration",
}

_BIN_NAMES = {
    "3": "Point chaud, 99 %",
    "2": "Point chaud, 95 %",
    "1": "Point chaud, 90 %",
    "0": "Non significatif",
    "-1": "Point froid, 90 %",
    "-2": "Point froid, 95 %",
    "-3": "Point froid, 99 %",
}

_PARAM_LABELS = {
    "distance_band_m": "Bande de distance imposée (m) — vide : automatique",
    "band_search_steps": "Distances testées pour la bande automatique",
    "band_increment_m": "Pas entre distances testées (m) — vide : distance moyenne au voisin",
    "hex_size_m": "Côté des hexagones (m)",
    "kde_bandwidth_m": "Rayon du noyau de densité (m)",
    "kde_cell_m": "Taille des cellules de densité (m)",
    "kde_levels": "Seuils des contours (signalements / ha) — vide : automatiques",
    "permutations": "Permutations (p-valeur par simulation) — 0 : aucune",
    "seed": "Graine aléatoire",
    "category_min_reports": "Minimum de signalements pour analyser le site ou une catégorie",
    "blank_check_shuffles": "Tirages au hasard du contrôle à blanc",
    "chronic": "Bâtiments chroniques : seuil par catégorie",
}


_SOURCE_LABELS = {"rpls": "RPLS", "osm_flats": "OpenStreetMap (building:flats)"}


def _n(value: float | None, decimals: int = 0) -> str:
    """A French number; ``decimals`` only when the value is not a whole number."""
    if value is None:
        return "—"
    value = float(value)
    return fr_number(value, 0 if value == round(value) else decimals)


def _pct(share: float | None) -> str:
    return "—" if share is None else f"{fr_number(100.0 * share, 1)} %"


def _param_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, Mapping):
        return " ; ".join(f"{k} : {_param_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_param_value(v) for v in value) + "]"
    if isinstance(value, float):
        return fr_number(value, 0 if value == int(value) else 2)
    return str(value)


def _chronic_rules(rules: Mapping[str, Any]) -> str:
    """The chronic rules in words: « Ascenseur en panne : 3 signalements en 90 jours ;
    autres catégories : 3 signalements en 90 jours » (the key ``default`` is every other
    category)."""
    parts = []
    for code, (n, days) in rules.items():
        name = "autres catégories" if code == "default" else label_of(code)
        parts.append(f"{name} : {_n(n)} signalements en {_n(days)} jours")
    return " ; ".join(parts)


def _bins_table(info: Mapping[str, Any]) -> Table:
    bins = info.get("bins", {})
    rows = [[_BIN_NAMES[k], _n(bins.get(k, 0))] for k in ("3", "2", "1", "0", "-1", "-2", "-3")]
    if bins.get("s"):  # the published note: classes hidden for want of households
        rows.append(["Non montrée (trop peu de ménages)", _n(bins["s"])])
    return (["Classe (après correction FDR)", "Objets"], rows)


def _band_paragraphs(band: Mapping[str, Any] | None, what: str) -> list[str]:
    if band is None:
        return [f"Aucune bande de distance pour {what} : pas d'analyse Gi*."]
    out = [
        f"Bande de distance pour {what} : {_n(band['band_m'])} m "
        f"({_METHOD_LABELS.get(band['method'], band['method'])}).",
        str(band["reason"]),
    ]
    if band.get("n_locational_outliers"):
        out.append(
            f"{_n(band['n_locational_outliers'])} objet(s) très éloigné(s) de tout voisin "
            "ignoré(s) pour fixer la distance de départ."
        )
    return out


def _too_few_text(sample: Mapping[str, Any]) -> str:
    """What the run concludes with too few reports: nothing, and the map says so."""
    return (
        f"Trop peu de signalements pour conclure : {_n(sample['reports_counted'])} "
        f"signalement(s) comptés sur les bâtiments, pour un minimum de "
        f"{_n(sample['min_reports'])}. Aucune statistique de points chauds (Gi*) n'est "
        "calculée : avec si peu de signalements, un « point chaud » ne serait qu'un ou deux "
        "signalements. La carte ne montre ni points chauds, ni zones, ni tendances des "
        "points chauds, et sa légende dit pourquoi ; seuls les nombres de signalements par "
        "bâtiment et la densité sont montrés."
    )


def sections(summary: Mapping[str, Any], ctx: NoteContext) -> list[Section]:
    """The note's content, in order, from ``hotspot_summary.json``."""
    out: list[Section] = []
    gi = summary["gi"]
    rates = summary["rates"]
    n_b = summary["buildings"]
    known_share = summary["dwellings_known"] / n_b if n_b else 0.0

    data = [
        f"{_n(n_b)} bâtiments (emprises OpenStreetMap), dont "
        f"{_n(summary['buildings_with_reports'])} avec au moins un signalement.",
        f"{_n(summary['reports_counted'])} signalements comptés sur les bâtiments : signalements "
        "des habitants rattachés à un bâtiment, hors doublons probables. Les "
        f"{_n(summary['observations_counted'])} observations de terrain (diagnostics en marchant, "
        "tours d'immeuble) sont comptées à part et n'entrent pas dans les statistiques.",
        f"Nombre de logements connu pour {_n(summary['dwellings_known'])} bâtiments "
        f"({_pct(known_share)}) ; sources : "
        + (
            ", ".join(
                f"{_SOURCE_LABELS.get(k, k)} : {_n(v)}"
                for k, v in rates["dwellings_sources"].items()
            )
            or "aucune"
        )
        + ". Aucun taux n'est calculé pour un bâtiment dont le nombre de logements est inconnu.",
    ]
    sample = summary.get("sample") or {}
    if sample.get("too_few_reports"):
        data.insert(0, _too_few_text(sample))
    if ctx.simulated:
        data.insert(
            0,
            "Données simulées : les signalements de ce site sont produits par un simulateur "
            "documenté sur les bâtiments et adresses réels ; ils ne décrivent pas la réalité.",
        )
    out.append(Section("Données analysées", tuple(data)))

    params = summary["parameters"]
    out.append(
        Section(
            "Paramètres",
            (f"Calculs métriques dans le système {summary['metric_crs']}.",),
            (
                ["Paramètre", "Valeur"],
                [
                    [
                        _PARAM_LABELS.get(k, k),
                        _chronic_rules(v) if k == "chronic" else _param_value(v),
                    ]
                    for k, v in params.items()
                ],
            ),
        )
    )

    band = summary["band"]
    band_table: Table | None = None
    if band and band.get("distances_m"):
        band_table = (
            ["Distance (m)", "z de l'I de Moran global"],
            [
                [_n(d), "—" if z is None else _n(z, 2)]
                for d, z in zip(band["distances_m"], band["moran_z"], strict=True)
            ],
        )
    out.append(
        Section(
            "Bande de distance",
            tuple(_band_paragraphs(band, "les bâtiments")),
            band_table,
        )
    )

    alphas = ", ".join(f"{fr_number(100 * a, 0)} %" for a in summary["fdr_alphas"])
    gi_text = [
        "Statistique de Getis-Ord Gi* (Ord et Getis, 1995) sur le nombre de signalements par "
        "bâtiment, poids binaires : 1 pour chaque bâtiment (centroïde) à moins de la bande de "
        "distance, le bâtiment lui-même compris. p-valeurs bilatérales de la loi normale.",
        f"Correction pour tests multiples : taux de fausses découvertes (Benjamini-Hochberg) "
        f"aux seuils {alphas}, d'où les classes de confiance 90, 95 et 99 %.",
    ]
    if gi["status"] == "computed":
        gi_text.append(
            f"{_n(gi['n_features'])} bâtiments analysés, {_n(gi['n_tested'])} testés ; "
            f"{_n(gi['n_islands'])} isolé(s) sans voisin dans la bande (non testés). "
            f"Points chauds à 95 % ou plus : {_n(gi['n_hot_95'])} ; points froids : "
            f"{_n(gi['n_cold_95'])}."
        )
        gi_text.append(
            "Gi* signale un voisinage : un bâtiment sans signalement peut être classé point "
            "chaud parce que ses voisins en ont beaucoup."
        )
    else:
        gi_text.append(str(gi["message"]))
    out.append(
        Section(
            "Points chauds (Getis-Ord Gi*)",
            tuple(gi_text),
            _bins_table(gi) if gi["status"] == "computed" else None,
        )
    )

    rows = []
    for code, info in summary["categories"].items():
        label = label_of(code)
        status = "analysée" if info["status"] == "analysed" else f"non analysée : {info['reason']}"
        hot = _n(info.get("n_hot_95")) if info["status"] == "analysed" else "—"
        # « s »: a count the publication step hides (pipelines.publish.stage).
        count = str(info["n_reports_shown"]) if "n_reports_shown" in info else _n(info["n_reports"])
        rows.append([label, count, status, hot])
    skipped = summary["categories_skipped"]
    out.append(
        Section(
            "Points chauds par catégorie",
            (
                "Même bande de distance que pour le total, pour que les cartes par catégorie "
                "partagent le même voisinage.",
                f"{len(skipped)} catégorie(s) non analysée(s) : trop peu de signalements pour "
                "que les z-scores ne reflètent pas un ou deux bâtiments isolés."
                if skipped
                else "Toutes les catégories sont analysées.",
            ),
            (["Catégorie", "Signalements", "Analyse", "Points chauds 95 %"], rows),
        )
    )

    rate_text = [
        "Les cartes montrent le nombre de signalements par bâtiment, ce que le comité voit et "
        "traite. Mais les grands bâtiments reçoivent plus de signalements : pour savoir si un "
        "point chaud tient à la taille, Gi* est aussi calculé sur le nombre de signalements "
        "pour 100 logements, sur les seuls bâtiments dont le nombre de logements est connu.",
        f"{_n(rates['buildings_with_dwellings'])} bâtiments ont un nombre de logements connu "
        f"({_pct(rates['share_with_dwellings'])}).",
    ]
    if rates["status"] == "computed":
        rate_text += _band_paragraphs(rates["band"], "les taux")
        rate_text.append(
            f"Points chauds à 95 % ou plus en taux : {_n(rates['n_hot_95'])} ; "
            f"isolés : {_n(rates['n_islands'])}."
        )
    else:
        rate_text.append(f"Pas d'analyse en taux : {rates['message']}")
    size = summary["checks"]["size"]
    rate_text.append(
        "Emprise médiane des bâtiments en point chaud (95 %) : "
        f"{_n(size['median_area_m2_hot'])} m², contre {_n(size['median_area_m2_with_reports'])} m² "
        f"pour les bâtiments signalés et {_n(size['median_area_m2_all'])} m² pour tous ; "
        "corrélation de Spearman entre signalements et emprise : "
        f"{_n(size['spearman_reports_area'], 2)}."
    )
    out.append(Section("Comptages ou taux ?", tuple(rate_text)))

    hexes = summary["hex"]
    hex_gi = hexes["gi"]
    hex_text = [
        f"Grille d'hexagones réguliers de {_n(hexes['hex_size_m'])} m de côté, "
        f"{_n(hexes['n_hex'])} hexagones contenant un bâtiment ou un signalement, "
        f"{_n(hexes['reports_counted'])} signalements placés par leur point (ou, à défaut, "
        "par leur bâtiment).",
        *_band_paragraphs(hexes["band"], "les hexagones"),
    ]
    if hex_gi["status"] == "computed":
        hex_text.append(
            f"Points chauds à 95 % ou plus : {_n(hex_gi['n_hot_95'])} hexagones ; "
            f"isolés : {_n(hex_gi['n_islands'])}."
        )
    else:
        hex_text.append(str(hex_gi["message"]))
    out.append(Section("Hexagones", tuple(hex_text)))

    kde = summary["kde"]
    out.append(
        Section(
            "Densité (noyau quartique)",
            (
                f"Densité par noyau quartique (biweight) de rayon {_n(kde['bandwidth_m'])} m, "
                f"cellules de {_n(kde['cell_m'])} m, en signalements par hectare, calculée en "
                f"mètres ; {_n(kde['n_points'])} signalements. Densité maximale : "
                f"{_n(kde['max_density_per_ha'], 1)} signalements / ha.",
                "Seuils des contours : "
                + (" ; ".join(_n(v, 1) for v in kde["levels_per_ha"]) or "aucun")
                + " signalements / ha. Une carte de chaleur de navigateur (rayon en pixels) "
                "est une image, pas cette statistique.",
            ),
        )
    )

    chronic = summary["chronic"]
    out.append(
        Section(
            "Bâtiments chroniques",
            (
                "Un couple (bâtiment, catégorie) est chronique quand il reçoit au moins N "
                "signalements en D jours (premier et dernier au plus D jours d'écart) : "
                f"{_chronic_rules(chronic['rules'])}.",
                f"{_n(chronic['n_pairs'])} couple(s) chronique(s) sur "
                f"{_n(chronic['n_buildings'])} bâtiment(s), listés avec leurs dates dans "
                "chronic.csv pour le suivi de la veille technique et sociale.",
            ),
            (
                ["Catégorie", "Couples chroniques"],
                [[label_of(c), _n(v)] for c, v in chronic["by_category"].items()],
            )
            if chronic["by_category"]
            else None,
        )
    )

    checks = summary["checks"]
    check_text = []
    if "permutation" in checks:
        perm = checks["permutation"]
        check_text.append(
            f"Contrôle à blanc : les mêmes comptages répartis {perm['shuffles']} fois au hasard "
            f"entre les bâtiments (graine {perm['seed']}) donnent en moyenne "
            f"{_pct(perm['mean_share_flagged_95'])} de bâtiments classés à 95 % ou plus (au "
            f"plus {_pct(perm['max_share_flagged_95'])}) ; "
            f"{_pct(perm['share_of_shuffles_flagging'])} des tirages classent au moins un "
            "bâtiment, pour 5 % attendus si les p-valeurs de la loi normale étaient exactes."
        )
        if (perm["share_of_shuffles_flagging"] or 0.0) > 0.05:
            check_text.append(
                "Les p-valeurs de la loi normale sont donc trop optimistes pour ces comptages "
                "très dissymétriques (beaucoup de bâtiments sans signalement, quelques-uns "
                "avec beaucoup) : un petit groupe isolé de bâtiments classés à 90 % ou 95 % "
                "peut tenir au hasard. Pour le vérifier, relancer avec des permutations "
                "(paramètre permutations = 999) : colonnes gi_p_sim et gi_bin_sim."
            )
    planted = checks.get("planted_hotspots")
    if planted:
        check_text.append(
            "Validation sur les données simulées : points chauds plantés retrouvés à 95 % "
            f"ou plus : {_n(planted['n_found'])} sur {_n(planted['n_planted'])} (rappel "
            f"{_pct(planted['recall'])}) ; précision {_pct(planted['precision'])} "
            f"({_n(planted['n_flagged_95'])} bâtiments classés), "
            f"{_pct(planted['precision_with_reports'])} parmi les bâtiments classés ayant des "
            "signalements. La précision est basse par construction : Gi* classe tout le "
            "voisinage d'un point chaud, y compris des annexes sans signalement."
        )
    if check_text:
        out.append(Section("Contrôles", tuple(check_text)))

    caveats = [
        "Les signalements mesurent ce que les habitants déclarent, pas l'état réel des "
        "bâtiments : un bâtiment où l'on signale peu n'est pas forcément en bon état.",
        "Petits nombres : pour un bâtiment peu signalé, un ou deux signalements de plus ou de "
        "moins changent la classe ; les classes à 90 % sont fragiles.",
        f"Logements connus pour {_pct(known_share)} des bâtiments seulement : les taux ne "
        "couvrent pas tout le site.",
    ]
    if sample.get("too_few_reports"):
        caveats.insert(0, _too_few_text(sample))
    if gi["status"] == "computed" and gi["n_islands"]:
        caveats.append(
            f"{_n(gi['n_islands'])} bâtiment(s) isolé(s) n'ont pas de voisin dans la bande : "
            "ils ne sont ni chauds ni froids, ils ne sont pas testés."
        )
    out.append(Section("Précautions", tuple(caveats)))
    out.append(
        Section(
            "Références",
            (
                "Ord, J. K. et Getis, A. (1995). Local spatial autocorrelation statistics: "
                "distributional issues and an application. Geographical Analysis 27(4).",
                "Benjamini, Y. et Hochberg, Y. (1995). Controlling the false discovery rate. "
                "Journal of the Royal Statistical Society B 57(1).",
                "Silverman, B. W. (1986). Density Estimation for Statistics and Data Analysis "
                "(noyau quartique) ; Wand, M. P. (1994). Fast computation of multivariate "
                "kernel estimators (discrétisation linéaire).",
            ),
        )
    )
    return out


def _title(ctx: NoteContext) -> str:
    return f"Note de méthode — points chauds — {ctx.site_name}"


def to_html(summary: Mapping[str, Any], ctx: NoteContext, *, extra: Sequence[Section] = ()) -> str:
    """The note as one self-contained HTML page (no script, no external resource).

    Template ``method_note.html`` with the styles of ``method_note.css``
    (:func:`pipelines.markup.render_template`): every text is a variable, escaped.
    ``extra``: sections added at the end (the publication step's, issue 16).
    """
    return str(
        render_template(
            "method_note.html",
            title=_title(ctx),
            css=Markup(template_text("method_note.css")),  # a file of the package
            simulated=ctx.simulated,
            sections=[*(sections(summary, ctx) if summary else ()), *extra],
        )
    )


#: What a Markdown viewer would read as markup in a text of the note: the HTML it passes
#: through (``<script>`` in a site's name) and the brackets of a link or an image
#: (``[clic](javascript:…)``). The note's texts are plain text (the HTML note escapes
#: them all), and some come from data: a site's or zone's name, the configuration's.
_MD_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "\\[", "]": "\\]", "\\": "\\\\"}
)


def _md_text(text: str) -> str:
    """``text`` as plain text in Markdown: no HTML, no link (:data:`_MD_ESCAPES`)."""
    return str(text).translate(_MD_ESCAPES)


def _md_cell(text: str) -> str:
    return _md_text(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(
    summary: Mapping[str, Any], ctx: NoteContext, *, extra: Sequence[Section] = ()
) -> str:
    """The same note in Markdown (``extra`` as in :func:`to_html`), every text escaped as
    plain text (:func:`_md_text`), as the HTML note escapes it."""
    lines = [f"# {_md_text(_title(ctx))}", ""]
    if ctx.simulated:
        lines += ["**Données simulées.**", ""]
    for section in [*(sections(summary, ctx) if summary else ()), *extra]:
        lines += [f"## {_md_text(section.title)}", ""]
        for p in section.paragraphs:
            lines += [_md_text(p), ""]
        if section.table is not None:
            header, rows = section.table
            lines.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
            lines.append("|" + "---|" * len(header))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            lines.append("")
    return "\n".join(lines)
