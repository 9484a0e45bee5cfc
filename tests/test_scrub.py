"""Scrubbing personal data out of free text: what goes, and what must stay."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pipelines import _scrub
from pipelines._scrub import PLACEHOLDERS, scrub_series, scrub_text

PHONE, EMAIL, FLAT, NAME = (PLACEHOLDERS[k] for k in ("phones", "emails", "flats", "names"))

# (text, expected) — the personal data goes, the rest of the sentence stays.
SCRUBBED = [
    ("Rappeler au 06 12 34 56 78", f"Rappeler au {PHONE}"),
    ("tél. 06.12.34.56.78 svp", f"tél. {PHONE} svp"),
    ("joignable au 0612345678.", f"joignable au {PHONE}."),
    ("portable 06-12-34-56-78", f"portable {PHONE}"),
    ("+33 6 12 34 56 78 (soir)", f"{PHONE} (soir)"),
    ("+33 (0)1 23 45 67 89", PHONE),
    ("0033 6 12 34 56 78", PHONE),
    ("fixe 01 99 00 96 02, mobile 07 12 34 56 78", f"fixe {PHONE}, mobile {PHONE}"),
    ("tél:0612345678", f"tél:{PHONE}"),
    ("écrire à jean.dupont@gmail.com merci", f"écrire à {EMAIL} merci"),
    ("mail : a.dasilva+vts@exemple.fr.", f"mail : {EMAIL}."),
    ("contact jean.dupont(at)free.fr", f"contact {EMAIL}"),
    ("Voisin du appartement 48.", f"Voisin du {FLAT}."),
    ("appt 12, 3e étage", f"{FLAT}, 3e étage"),
    ("Appt. n° 7", FLAT),
    ("apt 5B au fond", f"{FLAT} au fond"),
    ("sonner porte 12", f"sonner {FLAT}"),
    ("logement 203 inondé", f"{FLAT} inondé"),
    ("Logt 60", FLAT),
    ("appartement n°34bis", FLAT),
    ("Appel de M. Dupont ce matin", f"Appel de {NAME} ce matin"),
    ("Mme Martin signale une fuite", f"{NAME} signale une fuite"),
    ("Mme Élodie Lefèvre-Diallo, bât B", f"{NAME}, bât B"),
    ("signalé par Monsieur Nguyen", f"signalé par {NAME}"),
    ("Mlle D'Alembert au 2e", f"{NAME} au 2e"),
    ("Mme Diallo Bâtiment C", f"{NAME} Bâtiment C"),
    ("c'est chez Dupont au 3e", f"c'est chez {NAME} au 3e"),
    ("la famille Traoré se plaint", f"la famille {NAME} se plaint"),
    (
        "Mme Sow (06 11 22 33 44, sow@mail.fr) appt 9",
        f"{NAME} ({PHONE}, {EMAIL}) {FLAT}",
    ),
]

# What locates a problem at building scale, dates, times and numbers must survive.
KEPT = [
    "bâtiment B, escalier 3",
    "12 allée Marguerite Duras",
    "Entrée 2, 2e étage, porte d'entrée cassée",
    "Ascenseur en panne depuis le 06/12/2023 à 14h30",
    "le 06.12.2023 14h30 puis le 07.12.2023 09h00",
    "75010 Paris",
    "93140 Bondy, cage 4",
    "Hall 7 : 3 boîtes aux lettres arrachées",
    "M. le gardien a été prévenu",
    "Monsieur le maire",
    "Ticket DI-2024-00016",
    "16 degrés dans le séjour depuis 2 jours",
    "digicode 4521 hors service",
    "RDC et 1er étage",
    "SIRET 123 456 789 00012",
    "porte du local poubelles",
    "Résidence Les Lilas, tour 3",
    "Coordonnées 48.912345, 2.485123",
    "",
]


@pytest.mark.parametrize(("text", "expected"), SCRUBBED)
def test_personal_data_is_replaced(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


@pytest.mark.parametrize("text", KEPT)
def test_building_and_time_details_are_kept(text: str) -> None:
    assert scrub_text(text) == text


def test_counts_and_alignment() -> None:
    values = pd.Series(
        ["Rappeler Mme Martin au 06 12 34 56 78", None, "appt 12", "rien", "appt 12"],
        index=[10, 11, 12, 13, 14],
    )
    out, counts = scrub_series(values)
    assert out.index.equals(values.index)
    assert out.isna().tolist() == [False, True, False, False, False]
    assert out[10] == f"Rappeler {NAME} au {PHONE}"
    assert out[14] == FLAT
    assert counts == {"phones": 1, "emails": 0, "flats": 2, "names": 1}  # repeats counted


def test_idempotent() -> None:
    once = [scrub_text(t) for t, _ in SCRUBBED]
    assert [scrub_text(t) for t in once] == once


def test_none_and_empty() -> None:
    assert scrub_text(None) is None
    out, counts = scrub_series(pd.Series([], dtype="str"))
    assert out.empty
    assert sum(counts.values()) == 0


def test_columns_scrubbed_together_as_one_by_one() -> None:
    # The free-text columns' distinct values go through the rules in one pass: each
    # column gets the values and the counts it would get alone.
    columns = [
        ["Joignable au 06 12 34 56 78.", "Fuite", None, "Mme Martin appt 12"],
        ["Porte", "Tags"],
        ["écrire à a.dupont@exemple.fr", "12 rue Lucie Aubrac"],
    ]
    dictionaries = [pa.array(c, pa.large_string()) for c in columns]
    rng = np.random.default_rng(2)
    codes = [rng.integers(-1, len(c), 500) for c in columns]
    together, counts = _scrub.scrub_codes_together(dictionaries, codes)
    for d, c, got, got_counts in zip(dictionaries, codes, together, counts, strict=True):
        alone, alone_counts = _scrub.scrub_codes(d, c)
        assert got.to_pylist() == alone.to_pylist()
        assert got_counts == alone_counts
    assert sum(sum(c.values()) for c in counts) > 0
    assert "06 12" not in str(together[0].to_pylist())
