"""The simulated action register of Bondy (issue #17): twenty actions decided in committee
over the two years and the problems some of them fixed; the register's rows and the truth
of which ones worked are written by :mod:`pipelines.simulate.register`.

Private plumbing of :mod:`pipelines.simulate.stage` (whose docstring is the method note).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.simulate.patterns import _Calendar

log = logging.getLogger("pipelines.simulate.stage")

# ---------------------------------------------------------------------------- constants
#: The register's file name, in the site's register folder (contract of issue #17, §1).
REGISTER_FILE = "actions.csv"
#: Its French headers, in the contract's order.
REGISTER_COLUMNS = (
    "identifiant",
    "date_comite",
    "type_comite",
    "batiments",
    "zone",
    "zone_dessinee",
    "probleme",
    "categories",
    "decision",
    "niveau",
    "type_action",
    "responsabilite",
    "partenaire_pilote",
    "echeance",
    "statut",
    "date_statut",
    "date_realisation",
    "financement",
)
#: The windows the planted effects are laid out for (the default of
#: ``[params.actions] effect_window_months``): a planted problem covers the whole window
#: before its action and, when the action fails or only half works, the whole window after.
EFFECT_WINDOW_MONTHS = 6
#: Committees: a comité technique every other month (its 2nd Tuesday), a comité de
#: pilotage instead every six months (months counted from the period's start).
COMMITTEE_MONTHS = (1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23)
COPIL_MONTHS = (5, 11, 17, 23)
#: Free targets: seeds this far apart, their group within this distance, and every
#: member this far from the hotspots' and rising groups' buildings (metres): more than a
#: Gi* distance band (about 110 m on Bondy Nord), so that a planted problem neither
#: lights up nor hides those patterns.
SEED_GAP_M = 110.0
GROUP_M = 80.0
PATTERN_GAP_M = 150.0


@dataclass(frozen=True)
class _Spec:
    """One action of the scenario.

    ``scenario``: ``effect`` (a planted problem, which stops when the action is carried
    out: only ``remaining`` of it is left), ``no_effect`` (a planted problem that goes on
    as before), ``quiet`` (carried out on a building with no planted problem), ``late``
    (carried out too recently for the windows after it) or ``open`` (not carried out).
    """

    key: str
    scenario: str
    categories: tuple[str, ...]  # codes; empty: every category
    n_buildings: int
    target: str  # free, busiest, cluster, tower, chronic, rising
    status: str
    problem: str
    decision: str
    action_type: str
    level: str
    responsibility: str
    partner: str
    completed_month: int | None = None  # month index of the completion (None: open)
    committee_month: int | None = None  # None: a committee 2–8 months before
    due_months: int = 3  # due date: this many months after the committee
    extra: float = 0.0  # planted reports a month over the target
    remaining: float = 1.0  # share of the planted problem left after the action
    funding: str = ""
    drawn: bool = False  # target given as a drawn area around the buildings
    completion_written: bool = True  # False: only the status date of « réalisée »


#: The scenario: five actions that worked (a planted problem stops), two that did not
#: (it goes on), two on quiet buildings, one carried out too recently, ten not carried
#: out (four of them overdue). Completions fall in months 14–17 (March–June of the
#: second year) so that both windows fit in the period, and no planted problem starts
#: before month 7: the first months, where the intensifying hotspot is still faint,
#: are left alone (a planted problem elsewhere widens the spread Gi* divides by).
SCENARIO: tuple[_Spec, ...] = (
    _Spec("E1", "effect", ("encombrants",), 3, "free", "vérifiée",
          "Dépôts d'encombrants récurrents au pied des immeubles",
          "Enlèvement hebdomadaire des encombrants et affichage des jours de collecte",
          "nettoyage", "opérationnelle", "partagée", "ville",
          completed_month=14, extra=5.0, remaining=0.0, funding="Budget GUSP 2025"),
    _Spec("E2", "effect", ("nuisibles",), 3, "free", "réalisée",
          "Cafards dans les parties communes et les logements",
          "Désinsectisation de tous les logements et des parties communes, en deux passages",
          "prestation", "opérationnelle", "bailleur", "prestataire",
          completed_month=15, extra=6.0, remaining=0.1),
    _Spec("E3", "effect", ("securite_acces",), 3, "free", "vérifiée",
          "Porte du hall forcée et interphone hors service",
          "Remplacement de la porte du hall et de l'interphone (badges)",
          "travaux", "structurelle", "bailleur", "bailleur",
          completed_month=16, extra=7.0, remaining=0.2, funding="Abattement TFPB 2025"),
    _Spec("E4", "effect", ("electricite_eclairage",), 3, "free", "réalisée",
          "Éclairage des halls et des escaliers en panne à répétition",
          "Remplacement des minuteries et passage en LED avec détecteurs de présence",
          "travaux", "opérationnelle", "bailleur", "prestataire",
          completed_month=17, extra=5.0, remaining=0.0, completion_written=False),
    _Spec("E5", "effect", ("degradation",), 3, "free", "réalisée",
          "Boîtes aux lettres et portes de cave dégradées",
          "Boîtes aux lettres renforcées et portes de cave métalliques",
          "travaux", "opérationnelle", "bailleur", "prestataire",
          completed_month=14, extra=5.0, remaining=0.0, funding="Abattement TFPB 2025"),
    # The failed actions are in categories the hotspots do not tilt: the intensifying
    # hotspot makes cleanliness and tranquillity reports rise across the site, and
    # against that rise (the comparison assumes parallel trends) a failed action in those
    # categories would look better than it is.
    _Spec("N1", "no_effect", ("eau_fuite",), 3, "free", "réalisée",
          "Dégâts des eaux à répétition dans les caves",
          "Recherche de fuite par l'entreprise de plomberie du contrat",
          "prestation", "opérationnelle", "bailleur", "prestataire",
          completed_month=15, extra=5.0),
    _Spec("N2", "no_effect", ("nuisibles",), 3, "free", "vérifiée",
          "Punaises de lit signalées dans plusieurs logements",
          "Information des locataires et traitement des logements signalés",
          "médiation", "organisationnelle", "partagée", "association de locataires",
          completed_month=16, extra=5.0),
    # A quiet action names categories without season: the heating reports' winter peak,
    # diluted across the site by the hotspots' reports, would make a building with no
    # planted problem look better from winter to summer than the rest of the site.
    _Spec("Q1", "quiet", ("eau_fuite", "electricite_eclairage", "ascenseur"), 1, "busiest",
          "réalisée",
          "Plaintes des locataires sur l'entretien courant (fuites, éclairage, ascenseur)",
          "Diagnostic en marchant avec l'amicale des locataires et plan d'entretien",
          "médiation", "organisationnelle", "partagée", "association de locataires",
          completed_month=15),
    _Spec("Q2", "quiet", ("eau_fuite",), 1, "free", "réalisée",
          "Infiltrations en toiture signalées au dernier étage",
          "Réfection de l'étanchéité de la toiture-terrasse",
          "travaux", "structurelle", "bailleur", "bailleur",
          completed_month=16, funding="Plan stratégique de patrimoine 2025"),
    _Spec("L1", "late", ("espaces_exterieurs",), 2, "free", "réalisée",
          "Aire de jeux dégradée entre les bâtiments",
          "Remise en état de l'aire de jeux et des bancs",
          "travaux", "opérationnelle", "autre acteur", "ville",
          completed_month=20, funding="Contrat de ville 2025"),
    _Spec("O1", "open", ("proprete", "encombrants", "degradation"), 3, "cluster", "en cours",
          "Forte concentration de signalements (propreté, encombrants, dégradations)",
          "Plan d'actions renforcé : ménage quotidien, réparations, présence de proximité",
          "prestation", "organisationnelle", "bailleur", "bailleur",
          committee_month=13, due_months=4, funding="Abattement TFPB 2025"),
    _Spec("O2", "open", ("ascenseur",), 1, "tower", "en attente partenaire",
          "Pannes d'ascenseur à répétition",
          "Mise en demeure de l'ascensoriste et application des pénalités du contrat",
          "interpellation d'un partenaire", "organisationnelle", "bailleur", "prestataire",
          committee_month=9, due_months=3),
    _Spec("O3", "open", ("eau_fuite",), 1, "chronic", "décidée",
          "Fuites à répétition sur la colonne d'eau",
          "Remplacement de la colonne d'eau froide",
          "travaux", "structurelle", "bailleur", "bailleur",
          committee_month=21, due_months=6, funding="Plan stratégique de patrimoine 2026"),
    _Spec("O4", "open", (), 3, "rising", "proposée",
          "Copropriété en difficulté : signalements en forte hausse depuis l'été",
          "Interpeller le syndic et saisir la ville (veille des copropriétés)",
          "interpellation d'un partenaire", "structurelle", "autre acteur", "syndic",
          committee_month=23, due_months=3),
    _Spec("O5", "open", ("espaces_exterieurs", "electricite_eclairage"), 3, "free",
          "en cours",
          "Éclairage extérieur et cheminements piétons dégradés",
          "Réfection de l'éclairage et des cheminements entre les immeubles",
          "travaux", "structurelle", "autre acteur", "ville",
          committee_month=19, due_months=6, funding="Contrat de ville 2025", drawn=True),
    _Spec("O6", "open", ("stationnement",), 2, "free", "reportée",
          "Épaves et stationnement gênant devant les entrées",
          "Enlèvement des épaves par la fourrière",
          "interpellation d'un partenaire", "opérationnelle", "autre acteur", "police",
          committee_month=15, due_months=2),
    _Spec("O7", "open", ("nuisibles",), 2, "free", "refusée",
          "Rats près des locaux à poubelles",
          "Dératisation des espaces extérieurs par le service d'hygiène de la ville",
          "prestation", "opérationnelle", "autre acteur", "ville",
          committee_month=7, due_months=3),
    _Spec("O8", "open", ("securite_acces",), 1, "free", "abandonnée",
          "Intrusions dans le parking souterrain",
          "Étude d'une vidéoprotection du parking",
          "travaux", "structurelle", "bailleur", "bailleur",
          committee_month=3, due_months=4),
    _Spec("O9", "open", ("chauffage",), 1, "free", "décidée",
          "Pannes de chauffage pendant l'hiver",
          "Révision de la chaufferie avant la saison de chauffe",
          "prestation", "opérationnelle", "bailleur", "prestataire",
          committee_month=17, due_months=3),
    _Spec("O10", "open", ("encombrants",), 1, "free", "en cours",
          "Local à encombrants saturé",
          "Création d'un local à encombrants fermé",
          "travaux", "structurelle", "bailleur", "bailleur",
          committee_month=21, due_months=4),
)  # fmt: skip


@dataclass
class PlannedAction:
    """An action of the scenario placed on buildings and dates."""

    spec: _Spec
    group: list[int]  # building positions of the target
    committee: pd.Timestamp
    is_copil: bool  # comité de pilotage (else comité technique)
    due: pd.Timestamp
    completed: pd.Timestamp | None
    status_date: pd.Timestamp
    onset: int | None = None  # first month of the planted problem
    last_month: int | None = None  # last month of the planted problem
    extra: float = 0.0  # planted reports a month (0: none planted)


# --------------------------------------------------------------------------- placing
def _committee_date(cal: _Calendar, month: int) -> pd.Timestamp:
    """The committee of a month: its second Tuesday."""
    day = cal.bounds[month] + pd.Timedelta(days=7)
    return day + pd.Timedelta(days=(1 - day.weekday()) % 7)


def _pick_groups(
    prof: pd.DataFrame,
    arng: np.random.Generator,
    taken: set[int],
    avoid: list[int],
    specs: list[_Spec],
) -> dict[str, list[int]]:
    """Targets of the ``free`` and ``busiest`` specs: a seed (social housing first, in a
    seeded order; ``busiest``: the most exposed social building) and its nearest free
    residential neighbours within :data:`GROUP_M`, seeds :data:`SEED_GAP_M` apart, none
    within :data:`PATTERN_GAP_M` of the buildings in ``avoid``."""
    xy = prof[["x_m", "y_m"]].to_numpy()
    free = (
        prof["is_residential"].to_numpy()
        & (prof["area_m2"].to_numpy() >= 150)
        & (prof["exposure"].to_numpy() > 0)
    )
    free[list(taken)] = False
    for pos in avoid:
        free &= np.hypot(*(xy - xy[pos]).T) > PATTERN_GAP_M
    social = prof["is_social"].to_numpy()
    exposure = prof["exposure"].to_numpy()
    seeds: list[np.ndarray] = []
    groups: dict[str, list[int]] = {}

    def far(pos: int) -> bool:
        return all(np.hypot(*(xy[pos] - s)) >= SEED_GAP_M for s in seeds)

    def group_of(pos: int, n: int) -> list[int]:
        pool = np.flatnonzero(free)
        d = np.hypot(*(xy[pool] - xy[pos]).T)
        near = [int(p) for p in pool[np.argsort(d, kind="stable")] if p != pos]
        near = [p for p in near if np.hypot(*(xy[p] - xy[pos])) <= GROUP_M]
        return [pos, *near[: n - 1]]

    for spec in specs:
        if spec.target == "busiest":
            order = sorted(np.flatnonzero(free & social), key=lambda p: (-exposure[p], p))
        else:
            first = np.flatnonzero(free & social)
            then = np.flatnonzero(free & ~social)
            order = [*arng.permutation(first), *arng.permutation(then)]
        # A planted problem is shared by the whole group: spread over a few buildings, its
        # reports are not thinned by the separation pass (one building takes about one
        # report of a category every four days).
        wanted = spec.n_buildings if spec.scenario in ("effect", "no_effect") else 1
        fits = [int(p) for p in order if free[p] and far(int(p))]
        seed = next((p for p in fits if len(group_of(p, wanted)) >= wanted), None)
        if seed is None:  # a small site: a smaller group, or closer seeds
            seed = fits[0] if fits else next(int(p) for p in order if free[p])
        group = group_of(seed, spec.n_buildings)
        free[group] = False
        seeds.append(xy[seed])
        groups[spec.key] = group
    return groups


def plan_actions(
    prof: pd.DataFrame,
    cal: _Calendar,
    arng: np.random.Generator,
    plan: dict[str, Any],
    *,
    pattern: bool,
) -> list[PlannedAction]:
    """Place the :data:`SCENARIO` on buildings and dates (draws from ``arng`` only, so
    that the reports of a null simulation are the same with or without the register).

    ``plan`` holds the other planted patterns (``clusters``, ``lift_towers``,
    ``chronic``, ``rising``) and ``used``, the buildings they occupy: the actions on a
    pattern target it (a hotspot, a lift tower, a chronic leak, a condominium on the
    rise); the others get free buildings, away from the hotspots.
    """
    xy = prof[["x_m", "y_m"]].to_numpy()
    clusters, rising = plan["clusters"], plan["rising"]
    chronic = [c["pos"] for c in plan["chronic"] if c["category"] == "eau_fuite"]
    consecutive = [r["group"] for r in rising if r["pattern"] == "consecutive"]
    special: dict[str, list[int]] = {}
    if clusters:
        centre = clusters[0]["centre"]
        members = sorted(clusters[0]["members"], key=lambda p: (np.hypot(*(xy[p] - xy[centre])), p))
        special["cluster"] = [centre, *[p for p in members if p != centre][:2]]
    if plan["lift_towers"]:
        special["tower"] = [plan["lift_towers"][0]]
    if chronic:
        special["chronic"] = [chronic[0]]
    if consecutive:
        special["rising"] = list(consecutive[0][:3])
    taken = set(plan["used"]) | {p for g in special.values() for p in g}
    avoid = sorted(
        {p for c in clusters for p in c["members"]} | {p for r in rising for p in r["group"]}
    )
    placed = [s for s in SCENARIO if s.target not in special]
    groups = {**_pick_groups(prof, arng, taken, avoid, placed)}
    groups.update({s.key: special[s.target] for s in SCENARIO if s.target in special})

    last_day = cal.end - pd.Timedelta(days=1)
    out: list[PlannedAction] = []
    for spec in SCENARIO:
        completed = onset = last = None
        if spec.completed_month is not None:
            m_c = spec.completed_month
            completed = cal.bounds[m_c] + pd.Timedelta(days=int(arng.integers(0, 25)))
            if spec.scenario in ("effect", "no_effect"):
                # The problem starts with the month of the window before the action, or
                # the month before, and, when it is left, lasts to the end of the window
                # after it.
                onset = max(m_c - EFFECT_WINDOW_MONTHS - int(arng.integers(0, 2)), 0)
                left = spec.scenario == "no_effect" or spec.remaining > 0
                last = min(m_c + EFFECT_WINDOW_MONTHS, cal.months - 1) if left else m_c - 1
            # decided at a committee after the problem began, 2 to 8 months before it was
            # carried out (the latest such one when none follows the onset)
            valid = [
                m
                for m in COMMITTEE_MONTHS
                if m_c - 8 <= m <= m_c - 2 and (onset is None or m > onset)
            ] or [max(m for m in COMMITTEE_MONTHS if m <= m_c - 2)]
            month = spec.committee_month or int(valid[int(arng.integers(len(valid)))])
        else:
            month = spec.committee_month or COMMITTEE_MONTHS[0]
        committee = _committee_date(cal, month)
        due = committee + pd.DateOffset(months=spec.due_months)
        if completed is not None:
            status_date = completed
            if spec.status == "vérifiée":
                status_date = completed + pd.Timedelta(days=int(arng.integers(20, 46)))
        elif spec.status in ("proposée", "décidée"):
            status_date = committee
        else:
            status_date = committee + pd.Timedelta(days=int(arng.integers(20, 75)))
        out.append(
            PlannedAction(
                spec=spec,
                group=groups[spec.key],
                committee=committee,
                is_copil=month in COPIL_MONTHS,
                due=due,
                completed=completed,
                status_date=min(status_date, last_day),
                onset=onset,
                last_month=last,
                extra=spec.extra if (pattern and onset is not None) else 0.0,
            )
        )
    return out


def monthly_extra(action: PlannedAction, months: int) -> np.ndarray:
    """The planted reports a month on the target (expected), month by month: the full
    problem from its onset until the action, nothing in the month of the completion when
    the action works, ``remaining`` of it afterwards until ``last_month``."""
    rate = np.zeros(months)
    if not action.extra or action.onset is None or action.completed is None:
        return rate
    spec = action.spec
    m_c = int(spec.completed_month or 0)
    for m in range(action.onset, (action.last_month or 0) + 1):
        if spec.scenario == "no_effect" or m < m_c:
            rate[m] = action.extra
        elif m > m_c:
            rate[m] = action.extra * spec.remaining
    return rate


def plant_reports(
    actions: list[PlannedAction],
    cal: _Calendar,
    arng: np.random.Generator,
    add: Callable[[int, str, int, str, int], None],
) -> None:
    """Add the planted problems' reports (role ``action``), each on a member of the
    target drawn at random, in its category, at a time drawn in its month; every draw
    from ``arng``."""
    for action in actions:
        rate = monthly_extra(action, cal.months)
        group = np.asarray(action.group, dtype=int)
        category = action.spec.categories[0] if action.spec.categories else "autre"
        for month, n in enumerate(arng.poisson(rate)):
            for g in arng.integers(len(group), size=int(n)):
                add(int(group[int(g)]), category, month, "action", cal.draw(arng, month))
