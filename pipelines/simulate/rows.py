"""Writing the simulated rows: addresses as typed, points in footprints, personal
columns and descriptions, labels.

Private plumbing of :mod:`pipelines.simulate.stage` (whose docstring is the method note).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from pipelines.crs import WGS84, metric_crs_of
from pipelines.fr import strip_accents
from pipelines.taxonomy import BY_CODE

# ---------------------------------------------------------------------------- constants
REPORT_COLUMNS = [
    "N° ticket",
    "Date de création",
    "Catégorie",
    "Sous-catégorie",
    "Description",
    "Adresse",
    "Bâtiment",
    "Latitude",
    "Longitude",
    "Statut",
    "Date de clôture",
    "Canal",
    "Nom du demandeur",
    "Téléphone",
    "Logement",
]
PERSONAL_COLUMNS = ["Nom du demandeur", "Téléphone", "Logement"]
KOBO_COLUMNS = [
    "start",
    "end",
    "_submission_time",
    "_uuid",
    "_id",
    "batiment",
    "probleme",
    "commentaire",
    "_geolocation",
    "_localisation_latitude",
    "_localisation_longitude",
    "_localisation_precision",
    "nom_enqueteur",
]
#: Closure delay: (median days, log-normal sigma) per category.
DELAYS: dict[str, tuple[float, float]] = {
    "ascenseur": (2.0, 0.5),
    "eau_fuite": (6.0, 0.8),
    "chauffage": (3.0, 0.7),
    "electricite_eclairage": (5.0, 0.8),
    "nuisibles": (21.0, 0.6),
    "proprete": (3.0, 0.7),
    "encombrants": (4.0, 0.7),
    "degradation": (12.0, 0.8),
    "securite_acces": (8.0, 0.8),
    "occupation": (20.0, 0.9),
    "espaces_exterieurs": (25.0, 0.8),
    "stationnement": (30.0, 0.8),
    "autre": (10.0, 0.8),
}
UNKNOWN_LABELS = (
    "Demande administrative",
    "Réclamation charges",
    "Demande de mutation",
    "Information locataire",
)
SUBCATEGORIES: dict[str, tuple[str, ...]] = {
    "ascenseur": ("Arrêt complet", "Personne bloquée", "Porte palière", "Bouton d'appel"),
    "eau_fuite": ("Fuite plafond", "Dégât des eaux", "Infiltration", "Humidité"),
    "chauffage": ("Absence de chauffage", "Eau chaude", "Radiateur"),
    "electricite_eclairage": ("Éclairage hall", "Minuterie", "Câbles apparents"),
    "nuisibles": ("Cafards", "Punaises de lit", "Rongeurs"),
    "proprete": ("Hall", "Cage d'escalier", "Local poubelles", "Vide-ordures"),
    "encombrants": ("Dépôt sauvage", "Meubles", "Électroménager"),
    "degradation": ("Porte", "Boîtes aux lettres", "Tags", "Vitrage"),
    "securite_acces": ("Interphone", "Porte forcée", "Badge", "Digicode"),
    "occupation": ("Hall occupé", "Cage d'escalier", "Caves"),
    "espaces_exterieurs": ("Aire de jeux", "Espaces verts", "Cheminement"),
    "stationnement": ("Véhicule ventouse", "Épave", "Accès bloqué"),
    "autre": ("Divers", "Gestion locative", ""),
}
DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "ascenseur": (
        "Ascenseur bloqué au rez-de-chaussée depuis ce matin.",
        "L'ascenseur est en panne, les personnes âgées ne peuvent plus descendre.",
        "Ascenseur arrêté entre deux étages, une personne coincée.",
        "La porte de l'ascenseur ne ferme plus.",
        "Ascenseur encore en panne, c'est la troisième fois ce mois-ci.",
        "Bouton d'appel hors service au 5e étage.",
    ),
    "eau_fuite": (
        "Fuite d'eau au plafond de la salle de bain.",
        "Dégât des eaux venant de l'appartement du dessus.",
        "Infiltration dans la cage d'escalier quand il pleut.",
        "Fuite sur la colonne d'eau dans la gaine technique.",
        "Traces d'humidité et moisissures dans la chambre.",
        "Cave inondée.",
    ),
    "chauffage": (
        "Plus de chauffage depuis deux jours.",
        "Radiateurs froids dans tout le logement.",
        "Pas d'eau chaude depuis hier soir.",
        "Chauffage très faible, 16 degrés dans le séjour.",
        "Eau chaude intermittente le matin.",
    ),
    "electricite_eclairage": (
        "Éclairage du hall hors service.",
        "Minuterie de l'escalier en panne, couloir dans le noir.",
        "Câbles électriques apparents au 3e étage.",
        "Ampoules grillées dans le parking.",
        "Lumière du palier qui clignote.",
    ),
    "nuisibles": (
        "Présence de cafards dans la cuisine.",
        "Punaises de lit signalées par plusieurs voisins.",
        "Rats vus près du local poubelles.",
        "Souris dans les caves.",
        "Demande de désinsectisation.",
    ),
    "proprete": (
        "Hall très sale, odeurs d'urine.",
        "Escalier non nettoyé depuis une semaine.",
        "Local poubelles qui déborde.",
        "Vide-ordures bouché.",
        "Sacs poubelles laissés sur le palier.",
    ),
    "encombrants": (
        "Matelas et meubles déposés devant l'entrée.",
        "Dépôt sauvage au pied de l'immeuble.",
        "Encombrants dans le local vélos.",
        "Électroménager abandonné sur le parking.",
        "Gravats laissés dans la cour.",
    ),
    "degradation": (
        "Porte du hall cassée.",
        "Boîtes aux lettres fracturées.",
        "Tags dans la cage d'escalier.",
        "Vitre de la porte d'entrée brisée.",
        "Extincteur arraché au 2e étage.",
    ),
    "securite_acces": (
        "Interphone hors service.",
        "Porte d'entrée forcée, elle ne ferme plus.",
        "Le badge Vigik ne fonctionne plus.",
        "Ventouse de la porte du hall en panne.",
        "Digicode cassé.",
    ),
    "occupation": (
        "Regroupements dans le hall le soir.",
        "Hall squatté, bruit tard dans la nuit.",
        "Cage d'escalier occupée, les habitants n'osent plus passer.",
        "Personnes installées dans les caves.",
    ),
    "espaces_exterieurs": (
        "Aire de jeux dégradée.",
        "Trottoir défoncé devant le bâtiment.",
        "Pelouse non entretenue.",
        "Bancs cassés dans le square.",
        "Nid-de-poule dans l'allée.",
    ),
    "stationnement": (
        "Véhicule ventouse sur le parking depuis des semaines.",
        "Épave de voiture sur la place pompiers.",
        "Voiture garée devant l'accès pompiers.",
        "Scooter brûlé abandonné sur le parking.",
    ),
    "autre": (
        "Demande d'attestation de loyer.",
        "Question sur la régularisation des charges.",
        "Demande de changement de logement.",
        "Demande de rendez-vous avec le gardien.",
    ),
}
SURNAMES = (
    "Martin", "Bernard", "Diallo", "Traoré", "Benali", "Nguyen", "Da Silva", "Haddad",
    "Koné", "Dupont", "Moreau", "Petit", "Camara", "Mendy", "Ferreira", "Bouzid",
    "Lefebvre", "Garcia", "Cissé", "Mansouri", "Laurent", "Roux", "Fofana", "Rahmani",
    "Sow", "Yilmaz", "Pereira", "Chevalier", "Belkacem", "Tran", "Doucouré", "Lambert",
)  # fmt: skip
FIRST_NAMES_F = (
    "Fatou", "Marie", "Aïcha", "Nadia", "Sophie", "Mariama", "Samira", "Christine", "Awa",
    "Leïla", "Isabelle", "Kadiatou", "Inès", "Hélène", "Yasmina",
)  # fmt: skip
FIRST_NAMES_M = (
    "Mohamed", "Karim", "Jean", "Moussa", "Youssef", "Pierre", "Ibrahima", "Mehdi",
    "Nicolas", "Mamadou", "Rachid", "Thomas", "François", "Ousmane", "Kévin",
)  # fmt: skip
#: ARCEP ranges reserved for fiction (décision 2019): never a real subscriber.
FICTION_PHONE_PREFIXES = ("01 99 00", "02 61 91", "03 53 01", "04 65 71", "05 36 49", "06 39 98")
CHANNELS = ("Téléphone", "Accueil", "Courriel", "Application")
CHANNEL_P = (0.45, 0.18, 0.15, 0.22)
STREET_TYPES: dict[str, tuple[str, str]] = {
    # BAN spelling (folded) -> (typed with accents, abbreviation)
    "allee": ("Allée", "all."),
    "avenue": ("Avenue", "av."),
    "rue": ("Rue", "r."),
    "route": ("Route", "rte"),
    "chemin": ("Chemin", "ch."),
    "impasse": ("Impasse", "imp."),
    "boulevard": ("Boulevard", "bd"),
    "place": ("Place", "pl."),
    "square": ("Square", "sq."),
    "voie": ("Voie", "voie"),
    "sentier": ("Sentier", "sent."),
    "passage": ("Passage", "pass."),
}
MARSEILLE = (5.3698, 43.2965)
BAD_COUNTS = {"missing_date": 15, "bad_coordinates": 12, "outside_study_area": 10}
N_LIKELY_DUPLICATES = 40
EXACT_DUPLICATE_DAYS = 4
OUTSIDE_SHARE = 0.11  # of the rows with coordinates, placed 2–6 m outside the footprint


# ------------------------------------------------------------------------ small helpers
def _pick(rng: np.random.Generator, items: tuple[str, ...] | list[str]) -> str:
    return items[int(rng.integers(len(items)))]


def _fmt_date(ts: pd.Timestamp) -> str:
    return ts.strftime("%d/%m/%Y %H:%M")


def _fmt_coord(value: float) -> str:
    return f"{value:.6f}".replace(".", ",")


# ------------------------------------------------------------------------ geometry draws
class _Geo:
    """Footprints in metres and the point draws the rows need."""

    def __init__(
        self, buildings: gpd.GeoDataFrame, area: tuple[float, float, float, float]
    ) -> None:
        self.metric = metric_crs_of(buildings)
        self.geoms = buildings.geometry.to_crs(self.metric).to_numpy()
        self.geoms_wgs = buildings.geometry.to_crs(WGS84).to_numpy()
        shapely.prepare(self.geoms_wgs)
        self.tree = shapely.STRtree(self.geoms)
        self.to_wgs = Transformer.from_crs(self.metric, WGS84, always_xy=True)
        self.area = area
        box = gpd.GeoSeries([shapely.box(*area).segmentize(0.0005)], crs=WGS84)
        self.area_m = box.to_crs(self.metric).iloc[0].buffer(-1.0)
        shapely.prepare(self.area_m)
        inner = []
        for g in self.geoms:
            shrunk = g.buffer(-0.6)
            g = shrunk if shrunk.area > 0.25 * g.area else g
            clipped = g.intersection(self.area_m)
            inner.append(clipped if clipped.area > 0 else g)
        self.inner = inner
        #: Share of each footprint inside the study area.
        self.in_area = np.array(
            [g.intersection(self.area_m).area / g.area if g.area else 0.0 for g in self.geoms]
        )

    def contains(self, lon: float, lat: float) -> bool:
        """Whether a WGS84 point lies in the study area."""
        west, south, east, north = self.area
        return west <= lon <= east and south <= lat <= north

    def wgs(self, x: float, y: float) -> tuple[float, float]:
        lon, lat = self.to_wgs.transform(x, y)
        return round(float(lon), 6), round(float(lat), 6)

    def inside(self, rng: np.random.Generator, pos: int) -> tuple[float, float, float, float]:
        """A point inside footprint ``pos``: (x_m, y_m, lon, lat), rounded lon/lat inside."""
        geom = self.inner[pos]
        minx, miny, maxx, maxy = geom.bounds
        for _ in range(200):
            x = float(rng.uniform(minx, maxx))
            y = float(rng.uniform(miny, maxy))
            if shapely.contains_xy(geom, x, y):
                lon, lat = self.wgs(x, y)
                if shapely.contains_xy(self.geoms_wgs[pos], lon, lat) and self.contains(lon, lat):
                    return x, y, lon, lat
        point = shapely.point_on_surface(self.geoms[pos])
        lon, lat = self.wgs(point.x, point.y)
        return point.x, point.y, lon, lat

    def near(
        self, rng: np.random.Generator, pos: int, lo: float, hi: float, *, own: bool = True
    ) -> tuple[float, float, float, float] | None:
        """A point ``lo``–``hi`` m outside footprint ``pos`` and in no footprint; when
        ``own``, every other footprint is at least 3 m farther than ``pos``."""
        geom = self.geoms[pos]
        minx, miny, maxx, maxy = geom.buffer(hi).bounds
        for _ in range(200):
            x = float(rng.uniform(minx, maxx))
            y = float(rng.uniform(miny, maxy))
            d = shapely.distance(geom, shapely.Point(x, y))
            if not lo <= d <= hi:
                continue
            pt = shapely.Point(x, y)
            if own:
                hits = self.tree.query(pt, predicate="dwithin", distance=d + 3.0)
                if list(hits) != [pos]:
                    continue
            elif len(self.tree.query(pt, predicate="intersects")):
                continue
            lon, lat = self.wgs(x, y)
            if self.contains(lon, lat):
                return x, y, lon, lat
        return None

    def near_point(
        self, rng: np.random.Generator, pos: int, x0: float, y0: float, radius: float
    ) -> tuple[float, float, float, float]:
        """A point inside footprint ``pos`` within ``radius`` m of (x0, y0)."""
        geom = self.inner[pos]
        for _ in range(300):
            r = radius * np.sqrt(rng.random())
            a = 2 * np.pi * rng.random()
            x, y = x0 + r * np.cos(a), y0 + r * np.sin(a)
            if shapely.contains_xy(geom, x, y):
                lon, lat = self.wgs(x, y)
                if shapely.contains_xy(self.geoms_wgs[pos], lon, lat) and self.contains(lon, lat):
                    return float(x), float(y), lon, lat
        return self.inside(rng, pos)


# ------------------------------------------------------------------------ text writers
def _person(rng: np.random.Generator) -> tuple[str, str]:
    """A fake name as a ticketing agent types it, and an e-mail handle from it."""
    female = rng.random() < 0.55
    first = _pick(rng, FIRST_NAMES_F if female else FIRST_NAMES_M)
    last = _pick(rng, SURNAMES)
    style = int(rng.integers(4))
    civ = "Mme" if female else "M."
    name = (
        f"{civ} {first} {last}",
        f"{last.upper()} {first}",
        f"{civ} {last}",
        f"{first} {last}",
    )[style]
    return name, f"{strip_accents(first[0]).lower()}.{strip_accents(last).lower().replace(' ', '')}"


def _phone(rng: np.random.Generator) -> str:
    prefix = _pick(rng, FICTION_PHONE_PREFIXES)
    tail = f"{int(rng.integers(100)):02d} {int(rng.integers(100)):02d}"
    digits = f"{prefix} {tail}"
    style = int(rng.integers(4))
    if style == 1:
        return digits.replace(" ", "")
    if style == 2:
        return "+33 " + digits[1:]
    if style == 3:
        return digits.replace(" ", ".")
    return digits


def _flat(rng: np.random.Generator) -> str:
    n = int(rng.integers(1, 160))
    return _pick(rng, (f"appartement {n}", f"porte {n}", f"apt {n % 20 + 1}B", f"appt {n}"))


def _description(rng: np.random.Generator, cat: str, handle: str) -> tuple[str, list[str]]:
    text = _pick(rng, DESCRIPTIONS[cat])
    kinds: list[str] = []
    if rng.random() < 0.10:
        text += " " + _pick(
            rng, ("J'habite {}.", "Logement concerné : {}.", "Voir avec le locataire, {}.")
        ).format(_flat(rng))
        kinds.append("flat")
    if rng.random() < 0.08:
        text += " " + _pick(rng, ("Merci de me rappeler au {}.", "Joignable au {}.")).format(
            _phone(rng)
        )
        kinds.append("phone")
    if rng.random() < 0.04:
        text += " " + _pick(rng, ("Contact : {}", "Répondre à {} svp.")).format(
            f"{handle}@exemple.fr"
        )
        kinds.append("email")
    return text, kinds


def _abbreviate_given_names(rest: str) -> str:
    words = rest.split()
    lowered = {"de", "du", "des", "la", "le", "les", "d'", "l'"}
    if len(words) < 2 or words[0].lower() in lowered or not words[0][0].isalpha():
        return rest
    return " ".join([*(w[0] + "." for w in words[:-1]), words[-1]])


def format_address(
    rng: np.random.Generator,
    numero: int,
    rep: str,
    street: str,
    postcode: str,
    building_part: str = "",
) -> str:
    """Write a BAN address the way residents type it (varied by ``rng``).

    The house number and its suffix stay true; the street stays recognisable: accents
    and case vary, street types and given names may be abbreviated, a postcode, city or
    « bât / esc / entrée » part may be added.

    >>> format_address(np.random.default_rng(0), 12, "bis", "Allee Marguerite Duras", "93140")
    ... # doctest: +SKIP
    '12bis all. M. Duras'
    """
    first, _, rest = street.partition(" ")
    typed, abbrev = STREET_TYPES.get(strip_accents(first).lower(), (first, first))
    if "’" in rest and rng.random() < 0.5:
        rest = rest.replace("’", "'")
    style = int(rng.choice(6, p=[0.27, 0.10, 0.14, 0.14, 0.23, 0.12]))
    if rep:
        rep_text = _pick(rng, (rep, f" {rep}", f" {rep.upper()}")) if len(rep) > 1 else rep.upper()
    else:
        rep_text = ""
    number = f"{numero}{rep_text}"
    if style == 0:
        text = f"{number} {typed} {rest}"
    elif style == 1:
        text = f"{number} {typed} {rest}, {postcode} Bondy"
    elif style == 2:
        text = strip_accents(f"{number} {typed} {rest} {postcode} BONDY").upper()
    elif style == 3:
        text = strip_accents(f"{number} {typed} {rest}").lower()
    elif style == 4:
        text = f"{number} {abbrev} {rest}"
    else:
        text = f"{number} {abbrev} {_abbreviate_given_names(rest)}"
    if building_part and rng.random() < 0.35:
        esc = int(rng.integers(1, 6))
        text += _pick(
            rng,
            (
                f", bât {building_part}",
                f", bât {building_part}, esc {esc}",
                f" - Bât. {building_part} esc. {esc}",
                f", entrée {esc}",
                f" (escalier {esc})",
            ),
        )
    return text


def _label(rng: np.random.Generator, cat: str) -> str:
    if cat == "autre":
        return _pick(rng, UNKNOWN_LABELS)
    label = BY_CODE[cat].label
    u = rng.random()
    if u < 0.05:
        return label.upper()
    if u < 0.08:
        return strip_accents(label)
    return label
