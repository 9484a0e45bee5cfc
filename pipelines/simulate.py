"""Seeded simulator of VTS reports over the real Bondy Nord buildings (données simulées).

In-building malfunctions (lifts, leaks, pests) have no open dataset, so the embedded
default site gets simulated reports placed on REAL OpenStreetMap footprints and REAL
Base Adresse Nationale (BAN) addresses. This docstring is the method note to cite
wherever these data are shown: every map built on them must say « données simulées ».

Generative model
----------------
**Buildings** (:func:`building_profile`). A footprint is *residential* when OSM tags it
``building=yes`` without a name (or with a « Résidence » name) and it covers at least
30 m²; hospitals, schools, public and named commercial buildings receive no report. It
is *social housing* when an RPLS programme point lies within 30 m (nearest residential
footprint), or when it covers ≥ 350 m² and an RPLS point lies within 100 m (same
estate); without RPLS, the 350 m² footprint alone decides. Floors come from the RPLS
``etage`` when matched, else from the footprint (≥ 600 m²: 8, ≥ 350 m²: 4, ≥ 150 m²:
3, else 2). It is *tall* (it has lifts) when the RPLS says 5 floors or more, or it covers
≥ 600 m². Dwellings are the RPLS ``appartement`` sum when matched, else
``area_m2 × floors / 65`` capped at 150. A building's *exposure* is its dwellings, times
0.15 when it is not social housing (a landlord's tickets mostly concern its own stock).

**Background.** ``N = 6,800`` reports in all (before planted duplicates and bad rows);
the background gets whatever the planted components leave (about 65 %). It is spread
over buildings in proportion to exposure (multinomial); categories follow a fixed mix
(:data:`CATEGORY_MIX`; ``ascenseur`` only in tall buildings; 1.2 % carry a label outside
the taxonomy, :data:`UNKNOWN_LABELS`); times are uniform over the period, except heating
(``chauffage``), whose month is drawn in proportion to :data:`HEATING_SEASON` (peak
November–February) times the month's length.

**Planted patterns** (``pattern=True`` only, all in the truth):

- *Hotspots*: 2 clusters. A centre is a social-housing building with 8 to 20
  residential buildings of ≥ 150 m² within 120 m (the radius shrinks to the 20th when
  there are more); centres are drawn from the sparser half of the candidates (fewest
  footprints within 150 m: estates rather than streets of houses), preferring those
  where at least half the members have a BAN address, ≥ 400 m apart. Each member gets
  ``2 × its own background`` extra reports, clipped to 90–160 over 24 months, with
  tranquillity and cleanliness categories weighted ×2.5. The second cluster's extra is
  uniform in time (persistent); the first one's ramps linearly from 0.3 to 1.7 times
  its mean (an *intensifying* hotspot, listed under ``rising`` by its centre).
- *Lift towers*: the 4 tallest social-housing buildings outside the clusters get 45
  extra ``ascenseur`` reports each, uniform in time.
- *Chronic* (building, category) pairs: 5 pairs on other social-housing buildings
  (lifts in 2 tall ones, leaks, pests, access control), each with 5 episodes of 3–4
  reports 5–25 days apart (so ≥ 3 within 90 days, again and again).
- *Rising* groups: a residential building of ≥ 150 m² outside the social stock (a
  condominium sliding into difficulty) with up to 5 of its like (≥ 100 m²) within 80 m,
  ≥ 250 m from the cluster centres and 200 m from each other, drawn from the quieter
  half (least expected background within 150 m) of the sparsest quarter (fewest
  footprints within 150 m), where a surge is not drowned. ``consecutive``: 40 extra
  reports a month shared evenly over the group during the last 5 months; ``new``: 50 in
  the final month only. Monthly Gi* uses one spread (S) for all buildings: a surge piled
  on one building would inflate it and hide the other patterns of that month, hence the
  sharing, and only one group of each kind.
- *Seasonality*: heating, as above.

With ``pattern=False`` the same ``N`` is background only, heating included: spread in
proportion to exposure (building size and tenure), uniform in time. Gi* on raw counts
still sees the estates (exposure is spatially clustered); on counts divided by exposure
(:func:`building_profile`) it should flag no more than its nominal rate.

**Separation.** Two reports of the same category less than 96 h apart (48 h duplicate
window, 36 h planted offset, 12 h margin) on the same building, or whose positions are
less than 30 m apart, would pass for a duplicate: the later one's time is redrawn within
its month (dropped after 40 draws), so that the only likely duplicates are the planted
ones.

**How rows are written.** A report's location is written as the address only (about
35 %), coordinates only (40 %) or both (25 %). Only buildings with an unambiguous BAN
address (nearest footprint within 20 m, the next one at least 3 m farther, see
:func:`address_candidates`) can carry one, so the mix is solved for the share of reports
on such buildings; on Bondy Nord that share is about 56 %, so every such report carries
an address (7 in 12 the address only) and the mix comes out near 32 / 45 / 23 %. An
address is a BAN address of the true building (house number and suffix kept; the
extract's double-encoded accents repaired, :func:`repair_mojibake`)
spelled as residents type it (:func:`format_address`). Coordinates are a point inside
the true footprint (11 % of them 2–6 m outside, every other footprint being at least
3 m farther), WGS84, 6 decimals, decimal comma. Personal columns (fake names, phone
numbers in the ARCEP ranges reserved for fiction, flat numbers) and personal details in
descriptions (phones, e-mails at ``exemple.fr``, flat and door numbers) are planted for
ingestion to remove. Closure delays are log-normal per category (:data:`DELAYS`; lifts:
median 2 days, 15 % between 10 and 25 days); a report not closed by the export date (the
end of the period) is « Ouvert » or « En cours ».

**Bad rows** (truth ``bad_rows``, by ticket): 15 missing dates, 12 unparseable
coordinates, 10 coordinates in Marseille (outside the study area), all the tickets of a
4-day window repeated whole (exact duplicates, as when an export is sent twice) and 40
likely duplicates (a neighbour reporting the same problem on the same building 1–36 h
later, at most 15 m away or at the same address).

**Observations.** Five walks (« diagnostic en marchant ») of 30 points 2–12 m outside
footprints (two through the clusters when there is a pattern) and three KoboToolbox
building tours of 40 submissions (points inside footprints plus GPS noise, two without
a location).

Everything is drawn from one ``numpy.random.default_rng(seed)`` over inputs sorted by
identifier, so a seed gives byte-identical files.
"""

from __future__ import annotations

import json
import logging
import unicodedata
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from pipelines.buildings import read_osm_bounds, read_osm_buildings, read_rpls
from pipelines.crs import WGS84, metric_crs_of
from pipelines.errors import InputError
from pipelines.io import atomic_path, write_csv, write_json, write_text
from pipelines.taxonomy import BY_CODE

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------- constants
N_REPORTS = 6800
RPLS_MATCH_M = 30.0  # an RPLS point belongs to the nearest residential footprint within this
ESTATE_M = 100.0  # a large footprint this close to an RPLS point is taken as social housing
MAX_GUESSED_DWELLINGS = 150.0  # cap of footprint-based dwelling estimates
OTHER_TENURE = 0.15  # exposure factor of residential buildings that are not social housing
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
FILES = {
    "reports": "signalements_bailleur.csv",
    "walk": "observations_diagnostic.geojson",
    "kobo": "observations_kobo.csv",
    "truth": "simulation_truth.json",
    "gazetteer": "gazetteer.csv",
}

#: Background category mix (probabilities; ``ascenseur`` is removed in low buildings).
CATEGORY_MIX: dict[str, float] = {
    "ascenseur": 0.11,
    "eau_fuite": 0.13,
    "chauffage": 0.10,
    "electricite_eclairage": 0.09,
    "nuisibles": 0.08,
    "proprete": 0.12,
    "encombrants": 0.09,
    "degradation": 0.08,
    "securite_acces": 0.07,
    "occupation": 0.04,
    "espaces_exterieurs": 0.04,
    "stationnement": 0.03,
    "autre": 0.012,
}
HOTSPOT_TILT = {"proprete", "encombrants", "degradation", "occupation", "securite_acces"}
#: Monthly heating intensity, January to December (peak November–February).
HEATING_SEASON = (2.0, 1.8, 1.2, 0.6, 0.3, 0.2, 0.2, 0.2, 0.35, 0.9, 1.6, 2.0)
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
SEPARATION_H = 96.0  # 48 h duplicate window + 36 h planted offset + 12 h margin
HOT_FACTOR = 2.0  # a cluster member gets HOT_FACTOR × its own background in extra reports,
HOT_EXTRA_RANGE = (90.0, 160.0)  # clipped to this range (expected over 24 months)
LIFT_EXTRA = 45.0  # extra lift reports per lift tower over 24 months
HOT_RAMP = (0.3, 1.7)  # the first cluster's extra, first to last month (relative)
RISING_PATTERNS = ("intensifying", "consecutive", "new")
RISING_GROUP_M = 80.0  # a rising building drags its neighbours within this distance
RISING_LEVEL = 40.0  # a month, over the run of a consecutive group
RISING_NEW = 50.0  # in the final month of a new group
RISING_RUNS = (5,)  # months of the consecutive run(s)
SEPARATION_M = 30.0


# ----------------------------------------------------------------------------- results
@dataclass
class Simulation:
    """What :func:`simulate` returns.

    Attributes
    ----------
    reports
        The landlord's ticketing export, columns :data:`REPORT_COLUMNS`, all strings,
        exactly as written to ``signalements_bailleur.csv``.
    walk_geojson
        Walkthrough observations, EPSG:4326 points with ``date``, ``theme``,
        ``commentaire``, ``auteur``, ``photo``.
    kobo
        KoboToolbox export, columns :data:`KOBO_COLUMNS`, all strings.
    truth
        The planted truth (JSON-serialisable), see :func:`simulate`.
    """

    reports: pd.DataFrame
    walk_geojson: gpd.GeoDataFrame
    kobo: pd.DataFrame
    truth: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------ small helpers
def repair_mojibake(text: str) -> str:
    """Undo UTF-8 text that was decoded as cp1252 (« VillÃ©giature » → « Villégiature »).

    The BAN extract shipped with the demo is double-encoded; residents type the real
    spelling, so the simulator writes the repaired one.
    """
    if not any(marker in text for marker in ("Ã", "â€", "Â")):
        return text
    try:
        return text.encode("cp1252").decode("utf-8")
    except UnicodeError:
        return text


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _pick(rng: np.random.Generator, items: tuple[str, ...] | list[str]) -> str:
    return items[int(rng.integers(len(items)))]


def _fmt_date(ts: pd.Timestamp) -> str:
    return ts.strftime("%d/%m/%Y %H:%M")


def _fmt_coord(value: float) -> str:
    return f"{value:.6f}".replace(".", ",")


# ------------------------------------------------------------------------- building table
def building_profile(
    buildings: gpd.GeoDataFrame, rpls: gpd.GeoDataFrame | None = None
) -> pd.DataFrame:
    """Tenure, height, dwellings and exposure of each footprint (the simulator's model).

    Parameters
    ----------
    buildings
        Output of :func:`pipelines.buildings.read_osm_buildings` (any CRS).
    rpls
        RPLS programme points with ``appartement`` and ``etage`` (any CRS), optional.

    Returns
    -------
    DataFrame
        Aligned on ``buildings.index``: ``area_m2``, ``is_residential``, ``is_social``,
        ``floors``, ``is_tall``, ``dwellings_est``, ``exposure`` (0 for non-residential),
        ``x_m``/``y_m`` (a point inside the footprint, in the metric CRS of
        :func:`pipelines.crs.metric_crs_of`).
    """
    metric = metric_crs_of(buildings)
    geom_m = buildings.geometry.to_crs(metric)
    area = geom_m.area.to_numpy()
    btype = buildings["building_type"].astype("string").fillna("")
    name = buildings["name"].astype("string").fillna("")
    residential = (
        (btype == "yes").to_numpy(dtype=bool)
        & ((name == "") | name.str.startswith("Résidence")).to_numpy(dtype=bool)
        & (area >= 30.0)
    )
    rpls_dw = np.full(len(buildings), np.nan)
    rpls_floors = np.full(len(buildings), np.nan)
    near_rpls = np.ones(len(buildings), dtype=bool)  # without RPLS, the footprint decides
    if rpls is not None and len(rpls):
        pts = rpls.to_crs(metric)
        pts = pts[pts.geometry.notna() & ~pts.geometry.is_empty]
        res_pos = np.flatnonzero(residential)
        target = gpd.GeoDataFrame({"pos": res_pos}, geometry=geom_m.to_numpy()[res_pos], crs=metric)
        joined = gpd.sjoin_nearest(pts, target, how="inner", max_distance=RPLS_MATCH_M)
        joined = joined[~joined.index.duplicated(keep="first")]
        dw = pd.to_numeric(joined["appartement"], errors="coerce").groupby(joined["pos"]).sum()
        fl = pd.to_numeric(joined["etage"], errors="coerce").groupby(joined["pos"]).max()
        rpls_dw[dw.index.to_numpy()] = dw.to_numpy()
        rpls_floors[fl.index.to_numpy()] = fl.to_numpy()
        tree = shapely.STRtree(pts.geometry.to_numpy())
        hit, _ = tree.query(geom_m.to_numpy(), predicate="dwithin", distance=ESTATE_M)
        near_rpls = np.zeros(len(buildings), dtype=bool)
        near_rpls[hit] = True
    has_rpls = ~np.isnan(rpls_floors)
    floors_guess = np.select([area >= 600, area >= 350, area >= 150], [8, 4, 3], default=2)
    floors = np.where(has_rpls, np.maximum(rpls_floors, 1), floors_guess).astype(float)
    is_social = residential & (has_rpls | ((area >= 350) & near_rpls))
    is_tall = residential & ((has_rpls & (rpls_floors >= 5)) | (area >= 600))
    guess = np.clip(area * floors / 65.0, 1.0, MAX_GUESSED_DWELLINGS)
    dwellings = np.where(has_rpls & (np.nan_to_num(rpls_dw) > 0), rpls_dw, guess)
    exposure = np.where(residential, dwellings * np.where(is_social, 1.0, OTHER_TENURE), 0.0)
    inside = shapely.point_on_surface(geom_m.to_numpy())
    return pd.DataFrame(
        {
            "area_m2": area,
            "is_residential": residential,
            "is_social": is_social,
            "floors": floors,
            "is_tall": is_tall,
            "dwellings_est": dwellings,
            "exposure": exposure,
            "x_m": shapely.get_x(inside),
            "y_m": shapely.get_y(inside),
        },
        index=buildings.index,
    )


def addresses_in_bounds(
    addresses: pd.DataFrame, bounds: tuple[float, float, float, float]
) -> pd.DataFrame:
    """Keep the BAN rows whose WGS84 ``lon``/``lat`` fall in (west, south, east, north)."""
    lon = pd.to_numeric(addresses["lon"], errors="coerce")
    lat = pd.to_numeric(addresses["lat"], errors="coerce")
    west, south, east, north = bounds
    keep = lon.between(west, east) & lat.between(south, north)
    return addresses[keep.to_numpy(dtype=bool)]


def address_candidates(
    addresses: pd.DataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    max_distance_m: float = 20.0,
    min_gap_m: float = 3.0,
) -> pd.DataFrame:
    """Attach each BAN address to the footprint it unambiguously belongs to.

    An address belongs to its nearest footprint when that one lies within
    ``max_distance_m`` and the next nearest is at least ``min_gap_m`` farther: a correct
    geocoder can then recover the building from the address alone.

    Parameters
    ----------
    addresses
        BAN rows with ``numero``, ``rep``, ``nom_voie``, ``code_postal``, ``lon``, ``lat``.
    buildings
        Footprints (any CRS); positions in the result refer to its rows.

    Returns
    -------
    DataFrame
        One row per usable address, sorted by (building, street, number): ``pos`` (row
        position in ``buildings``), ``numero`` (int), ``rep``, ``street`` (repaired
        spelling), ``postcode``, ``x_m``, ``y_m`` (metric CRS), ``lon``, ``lat``.
    """
    metric = metric_crs_of(buildings)
    geoms = buildings.geometry.to_crs(metric).to_numpy()
    lon = pd.to_numeric(addresses["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(addresses["lat"], errors="coerce").to_numpy(dtype=float)
    numero = pd.to_numeric(addresses["numero"], errors="coerce").to_numpy(dtype=float)
    ok = ~(np.isnan(lon) | np.isnan(lat) | np.isnan(numero))
    to_m = Transformer.from_crs(WGS84, metric, always_xy=True)
    x, y = to_m.transform(lon, lat)
    pts = shapely.points(x, y)
    tree = shapely.STRtree(geoms)
    pi, bi = tree.query(pts, predicate="dwithin", distance=max_distance_m + min_gap_m)
    dist = shapely.distance(pts[pi], geoms[bi])
    pairs = pd.DataFrame({"p": pi, "b": bi, "d": dist}).sort_values(["p", "d", "b"])
    first = pairs.groupby("p").nth(0).set_index("p")
    second = pairs.groupby("p").nth(1).set_index("p")["d"].reindex(first.index)
    good = (first["d"] <= max_distance_m) & (second.isna() | (second - first["d"] >= min_gap_m))
    rows = first.index[good.to_numpy(dtype=bool)].to_numpy()
    rows = rows[ok[rows]]
    rep = addresses["rep"].astype("string").fillna("").to_numpy()
    street = addresses["nom_voie"].astype("string").fillna("").to_numpy()
    postcode = addresses["code_postal"].astype("string").fillna("").to_numpy()
    out = pd.DataFrame(
        {
            "pos": first.loc[rows, "b"].to_numpy(dtype=int),
            "numero": numero[rows].astype(int),
            "rep": [str(r).strip().lower() for r in rep[rows]],
            "street": [repair_mojibake(str(s)) for s in street[rows]],
            "postcode": [str(p).split(".")[0] for p in postcode[rows]],
            "x_m": x[rows],
            "y_m": y[rows],
            "lon": lon[rows],
            "lat": lat[rows],
        }
    )
    out = out[out["street"] != ""]
    return out.sort_values(["pos", "street", "numero", "rep"]).reset_index(drop=True)


def landlord_codes(profile: pd.DataFrame) -> dict[int, str]:
    """Landlord building codes (« NC-B », « BL-12 ») for social-housing buildings.

    West of the median easting: the « NC » (Noue-Caillet) estate, lettered north to
    south; east: « BL » (Blanqui), numbered. Keys are row positions.
    """
    social = profile.reset_index(drop=True)
    social = social[social["is_social"]]
    if social.empty:
        return {}
    mid = float(social["x_m"].median())
    codes: dict[int, str] = {}
    west = social[social["x_m"] < mid].sort_values(["y_m", "x_m"], ascending=[False, True])
    for k, pos in enumerate(west.index):
        letter = chr(ord("A") + k % 26)
        codes[int(pos)] = f"NC-{letter}" + (str(k // 26 + 1) if k >= 26 else "")
    east = social[social["x_m"] >= mid].sort_values(["y_m", "x_m"], ascending=[False, True])
    for k, pos in enumerate(east.index):
        codes[int(pos)] = f"BL-{k + 1}"
    return codes


# --------------------------------------------------------------------------- the model
@dataclass
class _Event:
    pos: int  # building row position
    category: str
    minute: int  # minutes since the period start
    role: str  # background, hotspot, lift, chronic, rising, likely_duplicate
    month: int
    fixed: bool = False


class _Calendar:
    def __init__(self, start: str, months: int) -> None:
        self.t0 = pd.Timestamp(start)
        self.bounds = [self.t0 + pd.DateOffset(months=m) for m in range(months + 1)]
        self.starts = np.array([int((b - self.t0).total_seconds() // 60) for b in self.bounds])
        self.months = months
        self.calendar_month = np.array([b.month for b in self.bounds[:-1]])
        self.lengths = np.diff(self.starts)

    @property
    def end(self) -> pd.Timestamp:
        return self.bounds[-1]

    def time(self, minute: int) -> pd.Timestamp:
        return self.t0 + pd.Timedelta(minutes=int(minute))

    def draw(self, rng: np.random.Generator, month: int) -> int:
        """A report time in a month: a day, then an hour of the working or evening day."""
        days = int(self.lengths[month] // 1440)
        day = int(rng.integers(days))
        tod = (
            int(rng.integers(7 * 60, 22 * 60))
            if rng.random() < 0.3
            else int(rng.integers(8 * 60 + 30, 18 * 60))
        )
        return int(self.starts[month] + day * 1440 + tod)

    def month_of(self, minute: int) -> int:
        return int(np.searchsorted(self.starts, minute, side="right") - 1)


def _category_probs(tall: bool, tilt: bool) -> tuple[list[str], np.ndarray]:
    cats = list(CATEGORY_MIX)
    p = np.array([CATEGORY_MIX[c] for c in cats])
    if not tall:
        p[cats.index("ascenseur")] = 0.0
    if tilt:
        p *= np.array([2.5 if c in HOTSPOT_TILT else 1.0 for c in cats])
    return cats, p / p.sum()


def _month_weights(cal: _Calendar, category: str, seasonal: bool) -> np.ndarray:
    w = cal.lengths.astype(float)
    if seasonal and category == "chauffage":
        w = w * np.array([HEATING_SEASON[m - 1] for m in cal.calendar_month])
    return w / w.sum()


def _density(xy: np.ndarray, pos: int, radius_m: float = 150.0) -> int:
    """Footprints within ``radius_m`` of building ``pos`` (itself included)."""
    return int((np.hypot(*(xy - xy[pos]).T) <= radius_m).sum())


def _pick_clusters(
    profile: pd.DataFrame,
    rng: np.random.Generator,
    addressable: np.ndarray,
    *,
    n: int = 2,
) -> list[dict[str, Any]]:
    """Hotspot clusters (module docstring), centred in the sparser half of the candidate
    centres: large estates rather than streets of small houses, where a distance band
    holds fewer footprints and a cluster of busy buildings stands out. Clusters where at
    least half the members have a BAN address are preferred (the landlord's addressed
    stock), so that the location mix holds."""
    prof = profile.reset_index(drop=True)
    member_ok = prof["is_residential"].to_numpy() & (prof["area_m2"].to_numpy() >= 150)
    xy = prof[["x_m", "y_m"]].to_numpy()
    members_xy = xy[member_ok]
    member_pos = np.flatnonzero(member_ok)
    candidates = []
    for pos in np.flatnonzero(prof["is_social"].to_numpy()):
        d = np.hypot(*(members_xy - xy[pos]).T)
        order = np.argsort(d, kind="stable")
        within = int((d <= 120.0).sum())
        if within < 8:
            continue
        radius = 120.0 if within <= 20 else float(d[order[19]])
        chosen = member_pos[order[: min(within, 20)]]
        candidates.append((int(pos), radius, sorted(int(c) for c in chosen)))
    addressed = [c for c in candidates if addressable[c[2]].mean() >= 0.5]
    if len(addressed) >= 2 * n:
        candidates = addressed
    candidates.sort(key=lambda c: (_density(xy, c[0]), c[0]))
    candidates = candidates[: max(len(candidates) // 2, 2 * n)]
    clusters: list[dict[str, Any]] = []
    for k in rng.permutation(len(candidates)):
        centre, radius, members = candidates[int(k)]
        if any(np.hypot(*(xy[centre] - xy[c["centre"]])) < 400.0 for c in clusters):
            continue
        clusters.append({"centre": centre, "radius_m": radius, "members": members})
        if len(clusters) == n:
            break
    return clusters


def _pick_rising(
    prof: pd.DataFrame,
    rng: np.random.Generator,
    used: set[int],
    clusters: list[dict[str, Any]],
    share: np.ndarray,
    months: int,
) -> list[dict[str, Any]]:
    """Place the rising buildings (module docstring).

    The intensifying one is the first cluster (named by its centre; its ramp is drawn
    with the cluster): a hotspot getting worse. The new and consecutive ones are
    residential buildings of ≥ 150 m² outside the social stock (a condominium sliding
    into difficulty) with up to 5 of their like (≥ 100 m²) within :data:`RISING_GROUP_M`,
    ≥ 250 m from the cluster centres and 200 m from each other, drawn from the quieter half
    (least expected background within 150 m) of the sparsest quarter (fewest footprints
    within 150 m), where a surge is not drowned in a busy or dense neighbourhood.
    """
    xy = prof[["x_m", "y_m"]].to_numpy()

    def group_of(pos: int, pool: np.ndarray) -> list[int]:
        d = np.hypot(*(xy[pool] - xy[pos]).T)
        near = [int(b) for b in pool[np.argsort(d, kind="stable")] if b != pos]
        near = [b for b in near if b not in used and b not in taken]
        near = [b for b in near if np.hypot(*(xy[b] - xy[pos])) <= RISING_GROUP_M]
        return [pos, *near[:5]]

    rising: list[dict[str, Any]] = []
    taken: set[int] = set()
    if clusters:
        first = clusters[0]
        rising.append(
            {"pos": first["centre"], "pattern": "intensifying", "group": list(first["members"])}
        )
    # New and consecutive: small multi-dwelling buildings outside the social stock (a
    # condominium sliding into difficulty), with their like within RISING_GROUP_M.
    residential = prof["is_residential"].to_numpy() & ~prof["is_social"].to_numpy()
    area = prof["area_m2"].to_numpy()
    pool = np.flatnonzero(residential & (area >= 100))
    centres = [xy[c["centre"]] for c in clusters]
    scored: list[tuple[int, float, int]] = []
    for p in (int(q) for q in np.flatnonzero(residential & (area >= 150))):
        if p in used or any(np.hypot(*(xy[p] - c)) < 250.0 for c in centres):
            continue
        near = np.hypot(*(xy - xy[p]).T) <= 150.0
        scored.append((int(near.sum()), float(share[near].sum()), p))
    ranked: list[tuple[float, int]] = []
    if scored:
        sparse_density = float(np.percentile([d for d, _, _ in scored], 25))
        ranked = sorted((q, p) for d, q, p in scored if d <= sparse_density)
    quiet = [p for _, p in ranked[: max(len(ranked) // 2, 6)]]
    for k in rng.permutation(len(quiet)):
        pos = quiet[int(k)]
        if pos in taken or any(np.hypot(*(xy[pos] - xy[r["pos"]])) < 200.0 for r in rising):
            continue
        group = group_of(pos, pool)
        rising.append({"pos": pos, "pattern": RISING_PATTERNS[len(rising)], "group": group})
        taken.update(group)
        if len(rising) == len(RISING_PATTERNS):
            break
    runs = iter(RISING_RUNS)
    for r in rising:
        kind = r["pattern"]
        r["first_month"] = (
            0 if kind == "intensifying" else months - 1 if kind == "new" else months - next(runs)
        )
    return rising


def _plan(
    profile: pd.DataFrame,
    cal: _Calendar,
    rng: np.random.Generator,
    pattern: bool,
    addressable: np.ndarray,
) -> tuple[list[_Event], dict[str, Any]]:
    """Draw every report's building, category and time; return the planted truth parts."""
    prof = profile.reset_index(drop=True)
    exposure = prof["exposure"].to_numpy()
    share = exposure / exposure.sum()
    social = np.flatnonzero(prof["is_social"].to_numpy())
    tall = prof["is_tall"].to_numpy()
    events: list[_Event] = []
    plan: dict[str, Any] = {
        "clusters": [],
        "lift_towers": [],
        "chronic": [],
        "rising": [],
    }

    def add(pos: int, cat: str, month: int, role: str, minute: int | None = None) -> None:
        m = cal.draw(rng, month) if minute is None else minute
        events.append(_Event(pos, cat, m, role, month, fixed=role == "chronic"))

    def add_mixed(pos: int, month: int, role: str, tilt: bool = False) -> None:
        cats, p = _category_probs(bool(tall[pos]), tilt)
        add(pos, cats[int(rng.choice(len(cats), p=p))], month, role)

    months = cal.months
    n_planted = 0
    if pattern:
        provisional_bg = 0.6 * N_REPORTS * share
        clusters = _pick_clusters(prof, rng, addressable)
        in_cluster = {p for c in clusters for p in c["members"]}
        scale = months / 24.0
        steps = np.arange(months)
        for n_cluster, c in enumerate(clusters):
            # The first cluster intensifies (a hotspot getting worse), the second persists.
            lo, hi = HOT_RAMP if n_cluster == 0 else (1.0, 1.0)
            profile_m = lo + (hi - lo) * steps / (months - 1)
            profile_m = profile_m / profile_m.sum()
            for pos in c["members"]:
                extra = np.clip(HOT_FACTOR * provisional_bg[pos], *HOT_EXTRA_RANGE) * scale
                for month, k in enumerate(rng.poisson(extra * profile_m)):
                    for _ in range(int(k)):
                        add_mixed(pos, month, "hotspot", tilt=True)
        plan["clusters"] = clusters

        tall_social = [int(p) for p in social if tall[p] and p not in in_cluster]
        floors = prof["floors"].to_numpy()
        dwellings = prof["dwellings_est"].to_numpy()
        tall_social.sort(key=lambda p: (-floors[p], -dwellings[p], p))
        towers = tall_social[:4]
        for pos in towers:
            for month, k in enumerate(rng.poisson(LIFT_EXTRA * scale / months, size=months)):
                for _ in range(int(k)):
                    add(pos, "ascenseur", month, "lift")
        plan["lift_towers"] = towers

        used = set(towers)
        rising = _pick_rising(prof, rng, used | in_cluster, clusters, share, months)
        for r in rising:
            if r["pattern"] == "intensifying":
                continue  # the first cluster's ramp
            if r["pattern"] == "consecutive":
                means = np.where(steps >= r["first_month"], RISING_LEVEL, 0.0)
            else:
                means = np.where(steps == months - 1, RISING_NEW, 0.0)
            # Shared evenly: a surge spread over a few buildings disturbs the month's
            # overall spread (the S of Gi*) less than one building with it all.
            group = np.asarray(r["group"], dtype=int)
            for month, n_month in enumerate(rng.poisson(means)):
                for g in rng.integers(len(group), size=int(n_month)):
                    add_mixed(int(group[int(g)]), month, "rising")
            used.update(int(g) for g in group)
        plan["rising"] = rising

        chronic_cats = ("ascenseur", "ascenseur", "eau_fuite", "nuisibles", "securite_acces")
        pool = [int(p) for p in social if p not in used]
        pool_order = [pool[int(k)] for k in rng.permutation(len(pool))]
        span = int(cal.starts[-1])
        for cat in chronic_cats:
            pos = next(p for p in pool_order if p not in used and (cat != "ascenseur" or tall[p]))
            used.add(pos)
            minutes: list[int] = []
            n_episodes = 5
            for e in range(n_episodes):
                seg0 = span * e // n_episodes
                seg_len = span // n_episodes
                t = seg0 + int(rng.integers(0, max(seg_len - 90 * 1440, 1440)))
                for _ in range(int(rng.integers(3, 5))):
                    t += int(rng.integers(5 * 1440, 25 * 1440)) if minutes and t > seg0 else 0
                    tod = int(rng.integers(8 * 60 + 30, 18 * 60))
                    minute = (t // 1440) * 1440 + tod
                    minutes.append(minute)
                    t = minute
            for minute in minutes:
                add(pos, cat, cal.month_of(minute), "chronic", minute)
            plan["chronic"].append({"pos": pos, "category": cat})
        n_planted = len(events)

    n_background = N_REPORTS - n_planted
    counts = rng.multinomial(n_background, share)
    for pos in np.flatnonzero(counts):
        cats, p = _category_probs(bool(tall[pos]), False)
        drawn = rng.choice(len(cats), size=int(counts[pos]), p=p)
        for ci in drawn:
            cat = cats[int(ci)]
            month = int(rng.choice(months, p=_month_weights(cal, cat, pattern)))
            add(int(pos), cat, month, "background")
    return events, plan


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
    return name, f"{_fold(first[0]).lower()}.{_fold(last).lower().replace(' ', '')}"


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
    typed, abbrev = STREET_TYPES.get(_fold(first).lower(), (first, first))
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
        text = _fold(f"{number} {typed} {rest} {postcode} BONDY").upper()
    elif style == 3:
        text = _fold(f"{number} {typed} {rest}").lower()
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
        return _fold(label)
    return label


# --------------------------------------------------------------------- separation pass
def _separate(
    events: list[_Event],
    positions: list[list[tuple[float, float]]],
    cal: _Calendar,
    rng: np.random.Generator,
) -> list[int]:
    """Indices of the events kept after removing accidental likely-duplicate pairs.

    Chronic events are placed first and never move; others, in a fixed order, have
    their time redrawn within their month while they clash with a kept event (same
    category, under :data:`SEPARATION_H` apart, same building or positions under
    :data:`SEPARATION_M`).
    """
    priority = {"chronic": 0, "rising": 1, "lift": 2, "hotspot": 3, "background": 4}
    order = sorted(
        range(len(events)),
        key=lambda i: (priority[events[i].role], events[i].minute, events[i].pos, i),
    )
    kept: dict[str, list[int]] = {}
    window = SEPARATION_H * 60
    out: list[int] = []
    dropped = 0
    for i in order:
        ev = events[i]
        same = kept.setdefault(ev.category, [])
        for attempt in range(41):
            clash = False
            for j in same:
                other = events[j]
                if abs(other.minute - ev.minute) >= window:
                    continue
                if other.pos == ev.pos or any(
                    np.hypot(a[0] - b[0], a[1] - b[1]) < SEPARATION_M
                    for a in positions[i]
                    for b in positions[j]
                ):
                    clash = True
                    break
            if not clash:
                same.append(i)
                out.append(i)
                break
            if ev.fixed or attempt == 40:
                dropped += 1
                break
            ev.minute = cal.draw(rng, ev.month)
    log.info("separation: %d of %d reports dropped", dropped, len(events))
    return sorted(out)


# ------------------------------------------------------------------------------ simulate
def simulate(
    buildings: gpd.GeoDataFrame,
    addresses: pd.DataFrame,
    *,
    seed: int = 42,
    start: str = "2024-01-01",
    months: int = 24,
    pattern: bool = True,
    rpls: gpd.GeoDataFrame | None = None,
    study_area: tuple[float, float, float, float] | None = None,
) -> Simulation:
    """Simulate a landlord's ticketing export, walkthrough and Kobo observations.

    Pure: no I/O. The generative model is described in the module docstring.

    Parameters
    ----------
    buildings
        Output of :func:`pipelines.buildings.read_osm_buildings` (EPSG:4326), with
        ``building_id``, ``building_type``, ``name``.
    addresses
        BAN rows (``numero``, ``rep``, ``nom_voie``, ``code_postal``, WGS84 ``lon``,
        ``lat``), already restricted to the study area (:func:`addresses_in_bounds`).
    seed
        Seed of :func:`numpy.random.default_rng`; a seed gives identical outputs.
    start, months
        First day of the period (ISO) and its length in months (≥ 6).
    pattern
        Plant hotspots, chronic pairs, rising buildings, lift towers and heating
        seasonality; ``False`` gives the null data set (same volume, no pattern).
    rpls
        RPLS points (``appartement``, ``etage``; any CRS) to decide social housing and
        towers; without it the footprint area alone decides.
    study_area
        (west, south, east, north) in degrees (EPSG:4326), e.g. the OSM extract's
        ``<bounds>``: footprints less than half inside get no report, and every point
        written lies inside. Default: the footprints' own extent.

    Returns
    -------
    Simulation
        ``truth`` holds: ``seed``, ``pattern``, ``period`` (start, end exclusive,
        months), ``row_counts`` per file, ``hotspots`` (centre lon/lat, ``radius_m``,
        ``building_ids``), ``hotspot_buildings``, ``chronic`` (building_id, category,
        dates), ``rising`` (building_id, pattern, first_month), ``seasonal``,
        ``lift_towers``, ``tall_buildings``, ``address_buildings`` and
        ``coordinate_buildings`` (ticket → true building_id), ``coordinates_outside``
        (tickets whose point lies a few metres outside the footprint), ``location_mix``,
        ``bad_rows`` (ticket → reason), ``duplicate_of`` (ticket → first ticket),
        ``unknown_label_rows``, ``unknown_labels``, ``pii_in_description`` (ticket →
        kinds), ``building_codes`` (code → building_id), ``kobo_buildings``
        (``_uuid`` → building_id) and ``walk_dates``.
    """
    if months < 6:
        raise ValueError("months must be at least 6 (rising patterns need monthly steps)")
    if buildings.empty:
        raise ValueError("no building to simulate reports on")
    buildings = buildings.sort_values("building_id").reset_index(drop=True)
    addresses = addresses.sort_values(["nom_voie", "numero", "rep", "lon", "lat"]).reset_index(
        drop=True
    )
    rng = np.random.default_rng(seed)
    cal = _Calendar(start, months)
    area = study_area or tuple(float(v) for v in buildings.to_crs(WGS84).total_bounds)
    geo = _Geo(buildings, area)  # type: ignore[arg-type]
    profile = building_profile(buildings, rpls).reset_index(drop=True)
    outside_area = geo.in_area < 0.5
    profile.loc[outside_area, ["is_residential", "is_social", "is_tall"]] = False
    profile.loc[outside_area, "exposure"] = 0.0
    ids = buildings["building_id"].astype(str).to_numpy()
    cands = address_candidates(addresses, buildings)
    by_building: dict[int, list[tuple[Any, ...]]] = {}
    fields = ["numero", "rep", "street", "postcode", "x_m", "y_m"]
    for pos, rec in zip(cands["pos"], cands[fields].itertuples(index=False), strict=True):
        by_building.setdefault(int(pos), []).append(tuple(rec))
    codes = landlord_codes(profile)

    addressable = np.zeros(len(buildings), dtype=bool)
    addressable[list(by_building)] = True
    events, plan = _plan(profile, cal, rng, pattern, addressable)

    # Location mode: the address-capable share decides the mix (module docstring).
    has_addr = np.array([ev.pos in by_building for ev in events])
    f = max(float(has_addr.mean()), 1e-9)
    # Below 60 % of address-capable reports the shortfall is shared by both address
    # modes (all such reports then carry an address), not borne by one of them.
    p_addr, p_both = (0.35 / f, 0.25 / f) if f >= 0.6 else (0.35 / 0.6, 0.25 / 0.6)
    log.info("address-capable share %.2f: address only %.2f, both %.2f", f, p_addr, p_both)
    modes: list[str] = []
    points: list[tuple[float, float, float, float] | None] = []
    addr_rows: list[int | None] = []
    positions: list[list[tuple[float, float]]] = []
    is_outside: list[bool] = []
    for ev, can in zip(events, has_addr, strict=True):
        u = rng.random()
        mode = (
            "address" if can and u < p_addr else "both" if can and u < p_addr + p_both else "coords"
        )
        pt: tuple[float, float, float, float] | None = None
        off = False
        if mode != "address":
            if rng.random() < OUTSIDE_SHARE:
                pt = geo.near(rng, ev.pos, 2.0, 6.0)
                off = pt is not None
            if pt is None:
                pt = geo.inside(rng, ev.pos)
        a_idx = int(rng.integers(len(by_building[ev.pos]))) if mode in ("address", "both") else None
        pos_list = []
        if pt is not None:
            pos_list.append((pt[0], pt[1]))
        if a_idx is not None:
            _n, _r, _s, _p, ax, ay = by_building[ev.pos][a_idx]
            pos_list.append((float(ax), float(ay)))
        modes.append(mode)
        points.append(pt)
        addr_rows.append(a_idx)
        positions.append(pos_list)
        is_outside.append(off)

    keep = _separate(events, positions, cal, rng)

    # Planted likely duplicates: a neighbour reports the same problem within 36 h.
    originals = [i for i in keep if events[i].role == "background"]
    originals = [
        i
        for i in originals
        if cal.starts[0] + 2 * 1440 < events[i].minute < cal.starts[-1] - 3 * 1440
    ]
    dup_of: dict[int, int] = {}
    for k in rng.choice(
        len(originals), size=min(N_LIKELY_DUPLICATES, len(originals)), replace=False
    ):
        i = originals[int(k)]
        ev = events[i]
        j = len(events)
        minute = ev.minute + int(rng.integers(60, 36 * 60))
        events.append(_Event(ev.pos, ev.category, minute, "likely_duplicate", cal.month_of(minute)))
        first_point = points[i]
        points.append(
            None
            if first_point is None
            else geo.near_point(rng, ev.pos, first_point[0], first_point[1], 15.0)
        )
        modes.append(modes[i])
        is_outside.append(False)
        addr_rows.append(addr_rows[i])
        positions.append([])
        dup_of[j] = i
    rows = sorted(
        [*keep, *dup_of], key=lambda i: (events[i].minute, events[i].pos, events[i].category, i)
    )

    # Tickets in creation order.
    ticket: dict[int, str] = {}
    per_year: dict[int, int] = {}
    for i in rows:
        year = cal.time(events[i].minute).year
        per_year[year] = per_year.get(year, 0) + 1
        ticket[i] = f"DI-{year}-{per_year[year]:05d}"

    # Bad rows, disjoint from the planted patterns and the duplicate pairs.
    paired = set(dup_of) | set(dup_of.values())
    plain = [i for i in rows if events[i].role == "background" and i not in paired]
    coord_only = [i for i in plain if modes[i] == "coords"]
    bad: dict[int, str] = {}
    chosen = rng.choice(
        len(coord_only),
        size=BAD_COUNTS["bad_coordinates"] + BAD_COUNTS["outside_study_area"],
        replace=False,
    )
    for n, k in enumerate(chosen):
        reason = "bad_coordinates" if n < BAD_COUNTS["bad_coordinates"] else "outside_study_area"
        bad[coord_only[int(k)]] = reason
    rest = [i for i in plain if i not in bad]
    for k in rng.choice(len(rest), size=BAD_COUNTS["missing_date"], replace=False):
        bad[rest[int(k)]] = "missing_date"
    day0 = int(rng.integers(30, max(31, int(cal.starts[-1] // 1440) - 30)))
    window = (day0 * 1440, (day0 + EXACT_DUPLICATE_DAYS) * 1440)
    repeated = [
        i
        for i in rows
        if window[0] <= events[i].minute < window[1] and i not in bad and i not in paired
    ]

    # Render rows.
    by_row: dict[int, list[str]] = {}
    truth_addr: dict[str, str] = {}
    truth_coord: dict[str, str] = {}
    outside: list[str] = []
    pii: dict[str, list[str]] = {}
    bad_rows: dict[str, str] = {}
    duplicate_of: dict[str, str] = {}
    mix = {"address_only": 0, "coordinates_only": 0, "both": 0}
    for i in rows:
        ev = events[i]
        t = ticket[i]
        created = cal.time(ev.minute)
        name, handle = _person(rng)
        description, kinds = _description(rng, ev.category, handle)
        if kinds:
            pii[t] = kinds
        code = codes.get(ev.pos, "")
        part = code.split("-", 1)[1] if code else ""
        address = ""
        if addr_rows[i] is not None:
            numero, rep_, street, postcode, _x, _y = by_building[ev.pos][int(addr_rows[i])]  # type: ignore[arg-type]
            address = format_address(rng, int(numero), str(rep_), str(street), str(postcode), part)
            truth_addr[t] = ids[ev.pos]
        lat = lon = ""
        pt = points[i]
        if pt is not None:
            lat, lon = _fmt_coord(pt[3]), _fmt_coord(pt[2])
            if bad.get(i) == "bad_coordinates":
                lat, lon = (
                    (lat[:5] + "," + lat[5], lon[:4] + "," + lon[4])
                    if rng.random() < 0.5
                    else ("abc", "abc")
                )
            elif bad.get(i) == "outside_study_area":
                lat = _fmt_coord(MARSEILLE[1] + float(rng.normal(0, 0.01)))
                lon = _fmt_coord(MARSEILLE[0] + float(rng.normal(0, 0.01)))
            else:
                truth_coord[t] = ids[ev.pos]
                if is_outside[i]:
                    outside.append(t)
        delay_median, sigma = DELAYS[ev.category]
        if ev.category == "ascenseur" and rng.random() < 0.15:
            delay_days = float(rng.uniform(10, 25))
        else:
            delay_days = float(delay_median * np.exp(sigma * rng.normal()))
        closed = created + pd.Timedelta(minutes=int(delay_days * 1440))
        closed = closed.normalize() + pd.Timedelta(minutes=int(rng.integers(8 * 60, 18 * 60)))
        if closed <= created:
            closed = created + pd.Timedelta(minutes=int(rng.integers(30, 240)))
        if closed < cal.end:
            status, closed_text = "Clôturé", _fmt_date(closed)
        else:
            recent = (cal.end - created) < pd.Timedelta(days=3)
            status = "Ouvert" if recent and rng.random() < 0.6 else "En cours"
            closed_text = ""
        if created.day_of_week >= 5:
            channel = _pick(rng, ("Application", "Courriel"))
        else:
            channel = CHANNELS[int(rng.choice(4, p=CHANNEL_P))]
        phone = _phone(rng) if rng.random() < 0.9 else ""
        flat = (
            _pick(rng, (f"Apt {int(rng.integers(1, 160))}", f"Logt {int(rng.integers(1, 160))}"))
            if rng.random() < 0.7
            else ""
        )
        building_text = code if code and rng.random() < 0.55 else ""
        date_text = "" if bad.get(i) == "missing_date" else _fmt_date(created)
        if i in bad:
            bad_rows[t] = bad[i]
        if i in dup_of:
            bad_rows[t] = "likely_duplicate"
            duplicate_of[t] = ticket[dup_of[i]]
        record = [
            t,
            date_text,
            _label(rng, ev.category),
            _pick(rng, SUBCATEGORIES[ev.category]),
            description,
            address,
            building_text,
            lat,
            lon,
            status,
            closed_text,
            channel,
            name,
            phone,
            flat,
        ]
        by_row[i] = record
    records: list[list[str]] = []
    last_repeated = repeated[-1] if repeated else None
    for i in rows:
        records.append(by_row[i])
        if i == last_repeated:
            # The same export sent twice: the window's rows again, whole, in order.
            for r in repeated:
                records.append(list(by_row[r]))
                bad_rows[ticket[r]] = "exact_duplicate"
    for record in records:
        has_address, has_coords = bool(record[5]), bool(record[7])
        key = (
            "both"
            if has_address and has_coords
            else "address_only"
            if has_address
            else ("coordinates_only")
        )
        mix[key] += 1
    reports = pd.DataFrame(records, columns=REPORT_COLUMNS, dtype=str)
    unknown_rows = int(reports["Catégorie"].isin(UNKNOWN_LABELS).sum())

    walk = _walk(profile, ids, geo, cal, rng, plan, pattern)
    kobo, kobo_truth = _kobo(profile, ids, geo, codes, cal, rng, plan, pattern)

    xy_all = profile[["x_m", "y_m"]].to_numpy()

    def centre_lonlat(pos: int) -> list[float]:
        lon_c, lat_c = geo.wgs(float(xy_all[pos][0]), float(xy_all[pos][1]))
        return [lon_c, lat_c]

    truth: dict[str, Any] = {
        "seed": seed,
        "pattern": pattern,
        "simulated": True,
        "study_area": [round(float(v), 6) for v in area],
        "period": {
            "start": cal.t0.date().isoformat(),
            "end": cal.end.date().isoformat(),
            "months": months,
        },
        "row_counts": {
            FILES["reports"]: len(reports),
            FILES["walk"]: len(walk),
            FILES["kobo"]: len(kobo),
        },
        "hotspots": [
            {
                "centre": centre_lonlat(c["centre"]),
                "centre_building_id": ids[c["centre"]],
                "radius_m": round(float(c["radius_m"]), 1),
                "building_ids": sorted(ids[p] for p in c["members"]),
            }
            for c in plan["clusters"]
        ],
        "hotspot_buildings": sorted(ids[p] for c in plan["clusters"] for p in c["members"]),
        "chronic": [
            {
                "building_id": ids[c["pos"]],
                "category": c["category"],
                "dates": sorted(
                    cal.time(ev.minute).isoformat()
                    for ev in (events[i] for i in rows)
                    if ev.role == "chronic" and ev.pos == c["pos"] and ev.category == c["category"]
                ),
            }
            for c in plan["chronic"]
        ],
        "rising": [
            {
                "building_id": ids[r["pos"]],
                "pattern": r["pattern"],
                "first_month": r["first_month"],
                "group_building_ids": sorted(ids[g] for g in r["group"]),
            }
            for r in plan["rising"]
        ],
        "seasonal": (
            {
                "category": "chauffage",
                "peak_months": [11, 12, 1, 2],
                "monthly_factor": list(HEATING_SEASON),
            }
            if pattern
            else None
        ),
        "lift_towers": sorted(ids[p] for p in plan["lift_towers"]),
        "tall_buildings": sorted(ids[p] for p in np.flatnonzero(profile["is_tall"].to_numpy())),
        "address_buildings": truth_addr,
        "coordinate_buildings": truth_coord,
        "coordinates_outside": sorted(outside),
        "location_mix": mix,
        "bad_rows": bad_rows,
        "duplicate_of": duplicate_of,
        "unknown_label_rows": unknown_rows,
        "unknown_labels": sorted(UNKNOWN_LABELS),
        "pii_in_description": pii,
        "building_codes": {code: ids[pos] for pos, code in sorted(codes.items())},
        "kobo_buildings": kobo_truth,
        "walk_dates": sorted({d[:10] for d in walk["date"]}),
    }
    return Simulation(reports=reports, walk_geojson=walk, kobo=kobo, truth=truth)


# ------------------------------------------------------------------- observation sources
WALK_MIX: dict[str, float] = {
    "proprete": 0.20,
    "encombrants": 0.20,
    "degradation": 0.15,
    "electricite_eclairage": 0.10,
    "espaces_exterieurs": 0.15,
    "stationnement": 0.08,
    "securite_acces": 0.07,
    "occupation": 0.05,
}
KOBO_MIX: dict[str, float] = {
    "ascenseur": 0.14,
    "eau_fuite": 0.12,
    "electricite_eclairage": 0.14,
    "nuisibles": 0.08,
    "proprete": 0.16,
    "degradation": 0.14,
    "securite_acces": 0.14,
    "occupation": 0.08,
}


def _walk_date(cal: _Calendar, rng: np.random.Generator, month: int) -> pd.Timestamp:
    day = cal.bounds[month] + pd.Timedelta(days=int(rng.integers(4, 24)))
    while day.day_of_week not in (1, 3):  # walks on Tuesdays and Thursdays
        day += pd.Timedelta(days=1)
    return day.normalize()


def _route(xy: np.ndarray) -> list[int]:
    """Greedy nearest-neighbour order from the westernmost point (a walking route)."""
    left = list(range(len(xy)))
    current = min(left, key=lambda k: (xy[k][0], k))
    order = [current]
    left.remove(current)
    while left:
        current = min(left, key=lambda k: (np.hypot(*(xy[k] - xy[current])), k))
        order.append(current)
        left.remove(current)
    return order


def _walk(
    profile: pd.DataFrame,
    ids: np.ndarray,
    geo: _Geo,
    cal: _Calendar,
    rng: np.random.Generator,
    plan: dict[str, Any],
    pattern: bool,
) -> gpd.GeoDataFrame:
    """Five walks of 30 points 2–12 m outside footprints (2 through the clusters)."""
    residential = np.flatnonzero(profile["is_residential"].to_numpy())
    xy = profile[["x_m", "y_m"]].to_numpy()
    social = np.flatnonzero(profile["is_social"].to_numpy())
    months = np.linspace(2, cal.months - 3, 5).round().astype(int)
    cats = list(WALK_MIX)
    rows: list[dict[str, Any]] = []
    for w, month in enumerate(months):
        clusters = plan["clusters"]
        through_cluster = pattern and w in (0, 2) and len(clusters) > w // 2
        centre = clusters[w // 2]["centre"] if through_cluster else int(_pick_int(rng, social))
        d = np.hypot(*(xy[residential] - xy[centre]).T)
        nearby = residential[d <= 200.0]
        picks = rng.choice(nearby, size=30, replace=len(nearby) < 30)
        pts = []
        for pos in picks:
            pt = geo.near(rng, int(pos), 2.0, 12.0, own=False)
            pts.append((int(pos), pt if pt is not None else geo.inside(rng, int(pos))))
        order = _route(np.array([[p[1][0], p[1][1]] for p in pts]))
        team = [_person(rng)[0] for _ in range(3)]
        t = _walk_date(cal, rng, int(month)) + pd.Timedelta(hours=9, minutes=30)
        p = np.array([WALK_MIX[c] for c in cats])
        if through_cluster:
            p = p * np.array([2.0 if c in HOTSPOT_TILT else 1.0 for c in cats])
        p = p / p.sum()
        for k in order:
            t += pd.Timedelta(minutes=int(rng.integers(2, 7)), seconds=int(rng.integers(60)))
            cat = cats[int(rng.choice(len(cats), p=p))]
            comment = _pick(rng, DESCRIPTIONS[cat])
            if rng.random() < 0.05:
                comment += f" Signalé par une habitante ({_flat(rng)})."
            photo = f"IMG_{t.strftime('%Y%m%d_%H%M%S')}.jpg" if rng.random() < 0.7 else ""
            _, (_x, _y, lon, lat) = pts[k]
            rows.append(
                {
                    "date": t.isoformat(),
                    "theme": BY_CODE[cat].label,
                    "commentaire": comment,
                    "auteur": _pick(rng, team),
                    "photo": photo,
                    "geometry": shapely.Point(lon, lat),
                }
            )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=WGS84)


def _pick_int(rng: np.random.Generator, values: np.ndarray) -> int:
    return int(values[int(rng.integers(len(values)))])


def _kobo(
    profile: pd.DataFrame,
    ids: np.ndarray,
    geo: _Geo,
    codes: dict[int, str],
    cal: _Calendar,
    rng: np.random.Generator,
    plan: dict[str, Any],
    pattern: bool,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Three building tours of 40 KoboToolbox submissions, GPS noise included."""
    social = np.flatnonzero(profile["is_social"].to_numpy())
    xy = profile[["x_m", "y_m"]].to_numpy()
    tall = profile["is_tall"].to_numpy()
    months = np.linspace(4, cal.months - 2, 3).round().astype(int)
    records: list[list[str]] = []
    truth: dict[str, str] = {}
    next_id = 180_000_000 + int(rng.integers(1_000_000))
    empty_geo = set(rng.choice(120, size=2, replace=False).tolist())
    n = 0
    for tour, month in enumerate(months):
        clusters = plan["clusters"]
        if pattern and tour == 1 and clusters:
            centre = clusters[-1]["centre"]
        else:
            centre = _pick_int(rng, social)
        d = np.hypot(*(xy[social] - xy[centre]).T)
        near = social[np.argsort(d, kind="stable")[:12]]
        surveyor = _person(rng)[0]
        t = _walk_date(cal, rng, int(month)) + pd.Timedelta(hours=14)
        for _ in range(40):
            pos = int(near[int(rng.integers(len(near)))])
            cats = [c for c in KOBO_MIX if c != "ascenseur" or tall[pos]]
            p = np.array([KOBO_MIX[c] for c in cats])
            cat = cats[int(rng.choice(len(cats), p=p / p.sum()))]
            t += pd.Timedelta(minutes=int(rng.integers(2, 9)), seconds=int(rng.integers(60)))
            start = t.tz_localize("Europe/Paris")
            end = start + pd.Timedelta(seconds=int(rng.integers(50, 240)))
            submitted = (end + pd.Timedelta(minutes=int(rng.integers(1, 120)))).tz_convert("UTC")
            uid = str(uuid.UUID(bytes=rng.bytes(16), version=4))
            next_id += int(rng.integers(1, 4))
            code = codes.get(pos, "")
            batiment = (
                _pick(rng, (code, f"Bât {code.split('-', 1)[1]}", code.lower())) if code else ""
            )
            x, y, lon, lat = geo.inside(rng, pos)
            precision = float(np.round(rng.uniform(4.0, 20.0), 1))
            for _ in range(10):  # GPS noise, kept inside the study area
                noisy = geo.wgs(
                    x + float(rng.normal(0, precision / 3)), y + float(rng.normal(0, precision / 3))
                )
                if geo.contains(*noisy):
                    lon, lat = noisy
                    break
            if n in empty_geo:
                geoloc = lat_text = lon_text = prec_text = ""
            else:
                geoloc = f"[{lat}, {lon}]"
                lat_text, lon_text, prec_text = f"{lat}", f"{lon}", f"{precision}"
            records.append(
                [
                    start.isoformat(timespec="milliseconds"),
                    end.isoformat(timespec="milliseconds"),
                    submitted.tz_localize(None).isoformat(timespec="seconds"),
                    uid,
                    str(next_id),
                    batiment,
                    BY_CODE[cat].label,
                    _pick(rng, DESCRIPTIONS[cat]),
                    geoloc,
                    lat_text,
                    lon_text,
                    prec_text,
                    surveyor,
                ]
            )
            truth[uid] = str(ids[pos])
            n += 1
    return pd.DataFrame(records, columns=KOBO_COLUMNS, dtype=str), truth


# -------------------------------------------------------------------------------- writers
def geojson_text(points: gpd.GeoDataFrame) -> str:
    """Serialise point observations as a GeoJSON FeatureCollection (EPSG:4326).

    Hand-written rather than through GDAL so that the bytes are stable across library
    versions (the simulator promises byte-identical files for a seed).
    """
    wgs = points.to_crs(WGS84)
    lines = []
    props = [c for c in wgs.columns if c != wgs.geometry.name]
    for row, geom in zip(wgs[props].itertuples(index=False), wgs.geometry, strict=True):
        feature = {
            "type": "Feature",
            "properties": dict(zip(props, row, strict=True)),
            "geometry": {"type": "Point", "coordinates": [round(geom.x, 6), round(geom.y, 6)]},
        }
        lines.append(json.dumps(feature, ensure_ascii=False))
    body = ",\n".join(lines)
    return (
        '{"type": "FeatureCollection", "name": "observations_diagnostic", "features": [\n'
        + body
        + "\n]}\n"
    )


def _write_delimited(frame: pd.DataFrame, dst: Path, *, sep: str, encoding: str, eol: str) -> Path:
    with atomic_path(dst) as tmp:
        frame.to_csv(tmp, sep=sep, index=False, encoding=encoding, lineterminator=eol)
    log.info("wrote %s (%d rows)", dst, len(frame))
    return dst


def read_ban(path: str | Path) -> pd.DataFrame:
    """Read the BAN extract (comma-separated, quoted, ``NA`` for missing)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "fichier BAN introuvable.")
    try:
        frame = pd.read_csv(path, na_values=["NA"], keep_default_na=False, dtype=str)
    except (ValueError, UnicodeDecodeError) as err:
        raise InputError(path, f"CSV BAN illisible ({err})") from err
    missing = [
        c for c in ("numero", "rep", "nom_voie", "code_postal", "lon", "lat") if c not in frame
    ]
    if missing:
        raise InputError(path, f"colonnes manquantes : {', '.join(missing)}")
    return frame


def run(
    osm_path: str | Path,
    ban_path: str | Path,
    out_dir: str | Path,
    *,
    rpls_path: str | Path | None = None,
    seed: int = 42,
    pattern: bool = True,
) -> dict[str, Path]:
    """Read the real Bondy inputs, simulate, and write the four files atomically.

    Returns
    -------
    dict
        ``reports``, ``walk``, ``kobo``, ``truth`` → written paths (names in :data:`FILES`).
    """
    out = Path(out_dir)
    buildings = read_osm_buildings(osm_path)
    bounds = read_osm_bounds(osm_path)
    addresses = addresses_in_bounds(read_ban(ban_path), bounds)
    rpls = read_rpls(rpls_path) if rpls_path else None
    sim = simulate(buildings, addresses, seed=seed, pattern=pattern, rpls=rpls, study_area=bounds)
    paths = {key: out / name for key, name in FILES.items()}
    _write_delimited(sim.reports, paths["reports"], sep=";", encoding="cp1252", eol="\r\n")
    write_text(geojson_text(sim.walk_geojson), paths["walk"])
    _write_delimited(sim.kobo, paths["kobo"], sep=",", encoding="utf-8", eol="\n")
    write_json(sim.truth, paths["truth"])
    # The landlord's table of its building codes: the analyst's gazetteer (key →
    # building_id) that the geocoder reads, as a landlord would hand it over.
    codes = sim.truth["building_codes"]
    gazetteer = pd.DataFrame({"key": list(codes), "building_id": list(codes.values())})
    write_csv(gazetteer.sort_values("key", ignore_index=True), paths["gazetteer"])
    return paths
