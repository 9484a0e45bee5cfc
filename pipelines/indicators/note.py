"""The method note of the indicators (French, Markdown), written beside them."""

from __future__ import annotations

from pipelines.indicators.compute import (
    RECURRENCE_MONTHS,
    RECURRENT_MIN_MONTHS,
    TREND_MIN_MONTHS,
    TREND_MONTHS,
    WATCH_MIN_MONTHS,
)
from pipelines.indicators.lifts import REPEAT_DAYS

METHOD_NOTE_FR = f"""# Indicateurs par site et par trimestre : méthode

Signalements comptés : ceux des habitants, placés sur un bâtiment, doublons probables
exclus (comme la carte). Trimestre : celui de la date du signalement.

Publiés, les indicateurs comptent les mêmes signalements que les tableaux du site sous
le même profil. Un signalement arrivé après la publication d'une période (daté d'une
période déjà figée) est laissé de côté par ces tableaux, pour qu'ils ne changent pas
d'une publication à l'autre ; aucun indicateur montré ne le compte non plus : une case
trimestre × catégorie qui le compterait est masquée (« s »), avec le total du
trimestre, ses taux, ses délais et son stock, plutôt que montrée à côté de mois qui ne
le comptent pas (la différence donnerait le nombre de ces signalements ; dans le pack
open data, arrondi à 5, deux arrondis de nombres voisins le resserreraient). Au
comité, dont les mois sont exacts, toute case dont le nombre n'est pas la somme des
mois publiés est masquée de même. Les indicateurs qui portent au-delà des signalements
de leur trimestre sont calculés sans ces signalements tardifs : le stock ouvert (un
signalement tardif resté ouvert compterait dans celui de chaque trimestre suivant), la
récurrence (sur {RECURRENCE_MONTHS} mois), les ascenseurs (bâtiments équipés, pannes
par bâtiment et par mois, pannes répétées, jours d'arrêt) et le niveau de veille
proposé avec ses entrées. Publiés, ils peuvent donc différer des chiffres internes ; ils
ne changent pas d'une publication à l'autre quand seuls des signalements tardifs sont
arrivés.

- **Signalements et ménages distincts pour 100 logements**, par catégorie : sur les
  seuls bâtiments dont le RPLS donne le nombre de logements (numérateur et
  dénominateur). Sans logement RPLS sur le site, le taux est **absent** (jamais 0) et
  le tableau donne le nombre de signalements **par bâtiment** du site.
- **Ascenseurs** : les sources ne donnent pas d'inventaire des ascenseurs ; un bâtiment
  est dit « équipé » s'il a eu au moins un signalement d'ascenseur sur toute la période
  (minorant). Pannes par bâtiment équipé et par mois ; panne répétée : même bâtiment,
  moins de {REPEAT_DAYS} jours après la précédente.
- **Jours d'arrêt des ascenseurs**, là où les sources donnent des dates de clôture : chaque
  signalement d'ascenseur clos est une panne, de sa date à sa date de clôture. Pour un
  même bâtiment (faute d'inventaire, un bâtiment = un ascenseur), les pannes qui se
  chevauchent sont fusionnées (union des intervalles : deux signalements d'une même
  panne ne comptent ses jours qu'une fois) ; l'union est coupée aux bornes du trimestre
  et sommée sur les bâtiments. Les signalements encore ouverts ne comptent pas (leur fin
  est inconnue) : un minorant. Absent quand aucun signalement d'ascenseur n'a de date de
  clôture. Une panne commencée au trimestre précédent compte pour ses jours dans
  celui-ci : le chiffre est masqué dès que la case ascenseur de l'un des trimestres
  dont il dépend l'est.
- **Récurrence** : pour chaque bâtiment, nombre de mois avec au moins un signalement
  parmi les {RECURRENCE_MONTHS} derniers mois (fin du trimestre) ; le site est résumé par
  la médiane et le nombre de bâtiments récurrents (au moins {RECURRENT_MIN_MONTHS} mois).
- **Délais de clôture** (médiane, 90e centile, part au-delà du délai cible) : même calcul
  et mêmes délais cibles que le suivi du stade des tendances (`followup.csv`), par
  trimestre de signalement ; absents sans date de clôture.
- **Stock ouvert** : signalements ouverts à la fin du dernier mois du trimestre (stade des
  tendances, `backlog.csv`).
- **Tendance** : test de Mann-Kendall sur les {TREND_MONTHS} derniers mois de la série
  mensuelle du site (au moins {TREND_MIN_MONTHS} mois, sinon absent), pente de Sen.
- **Points chauds et tendances émergentes** : résultats de l'analyse complète (stades
  points chauds et tendances) ; ils ne valent que pour le dernier trimestre, absents avant.
  Publiés, ils ne comptent que les bâtiments dont la classe est publiée (celle d'un
  bâtiment signalé par trop peu de ménages est masquée) : absents quand aucune ne l'est.
- **Actions par statut** : registre des actions, quand il existe.

## Niveau de veille proposé (proposition, à valider)

Le niveau **jaune** est proposé quand au moins un bâtiment a eu des signalements de
dégradations ou d'occupation des parties communes dans au moins {WATCH_MIN_MONTHS} des
{RECURRENCE_MONTHS} derniers mois ; sinon **vert**. C'est une proposition de l'outil, pas
une décision. Les niveaux **orange** et **rouge** ne sont jamais calculés : ils relèvent
de l'analyste et du comité, qui les inscrit par trimestre dans
`veille/niveaux_veille.csv` du dossier des notes du site (colonnes `trimestre`, au
format AAAA-Tn, et `niveau`, orange ou rouge) ; la page du portefeuille les montre
comme niveaux de l'analyste.

**Par entrée** (proposition, à valider) : la même règle, appliquée à chaque entrée
(cage d'escalier) plutôt qu'au bâtiment. Une entrée est un bâtiment et l'adresse ou le
code de bâtiment auxquels ses signalements ont été rattachés, tels que les écrit la
source de référence (BAN, OSM, gazetteer du bailleur), jamais le texte saisi par
l'habitant ; les signalements d'un bâtiment rattachés à aucune adresse forment un
groupe « entrée non précisée ». Une entrée est proposée **jaune** quand ses
signalements de dégradations ou d'occupation tombent dans au moins {WATCH_MIN_MONTHS}
des {RECURRENCE_MONTHS} derniers mois. L'analyste peut fixer orange ou rouge pour une
entrée en remplissant la colonne facultative `entree` du même fichier (l'adresse ou le
code tels que les indicateurs les écrivent, ou l'identifiant OSM du bâtiment, `way/…`).

Publication des entrées : un niveau est une catégorie, mais « jaune » dit qu'il y a eu
des signalements au moins {WATCH_MIN_MONTHS} mois sur {RECURRENCE_MONTHS} dans cette
entrée, et qui les a faits se devine entre voisins quand c'est un seul ménage. Une
entrée jaune n'est donc publiée que si ces signalements viennent d'au moins autant de
ménages distincts que le seuil du profil (3 au comité) et qu'aucun ménage n'en fait
l'essentiel (règle de dominance). Le pack public (open data) ne publie rien de plus fin
que le bâtiment : aucune entrée n'y figure. Seules les entrées jaunes (et celles que
l'analyste a classées) sont listées, sans aucun compte : une entrée absente de la liste
est verte, ou jaune sur trop peu de ménages (la marquer « s » reviendrait à dire
« jaune »).

Le niveau proposé du site, publié, suit les entrées publiées : au comité, il compte
les bâtiments dont une entrée est publiée jaune (par l'outil, que l'analyste l'ait
classée plus haut ou non) et n'est jaune que s'il y en a au moins un ; un bâtiment
jaune sur trop peu de ménages n'y est pas compté (le compter dirait combien il y en a).
Dans le pack public, qui ne liste aucune entrée, le niveau proposé, son nombre de
bâtiments et sa phrase sont masqués (« s ») à chaque trimestre ; les niveaux de
l'analyste restent publiés.

## Publication

Au profil « comité », une case (site × trimestre × catégorie) issue de signalements liés
à des personnes et de moins de 3 ménages distincts est masquée et notée « s » ; les taux
qui en dérivent aussi. Le masquage secondaire est fait entre les tableaux des
indicateurs (trimestre × catégorie, trimestre, et leur part sur les bâtiments RPLS), pas
encore conjointement avec les autres tableaux publiés du site.

Au profil « public » (pack open data) : toute case est protégée (moins de 11 ménages
distincts : masquée), les comptes montrés sont arrondis à 5 comme les autres tableaux
du pack et les taux avec eux ; les chiffres d'ascenseur (bâtiments équipés, pannes,
répétitions, jours d'arrêt), de récurrence et de stock ouvert (du site comme de chaque
catégorie) sont masqués (« s », colonne `other_flag`), faute de protection propre.
"""
