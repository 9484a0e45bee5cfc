"""Parsing of French addresses as residents, landlords and city services write them."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.geocode.address_parse import parse_address, parse_addresses
from pipelines.geocode.addresses import (
    normalise_key,
    normalise_street,
    parse_housenumber,
    repair_mojibake,
    street_key,
    suffix_key,
)

FIELDS = ("number", "suffix", "street", "building", "entrance", "staircase", "postcode", "city")

#: Address forms and the fields expected, written by hand; fields not listed must be None.
CASES: list[tuple[str, dict[str, object]]] = [
    # Paris 10e, DansMaRue style and variants
    (
        "21 Rue du Faubourg Saint-Denis, 75010 PARIS",
        dict(number=21, street="rue du faubourg saint denis", postcode="75010", city="paris"),
    ),
    ("21 rue du fbg St-Denis", dict(number=21, street="rue du faubourg saint denis")),
    (
        "21, RUE DU FAUBOURG ST DENIS 75010 PARIS",
        dict(number=21, street="rue du faubourg saint denis", postcode="75010", city="paris"),
    ),
    ("2 bd de Magenta", dict(number=2, street="boulevard de magenta")),
    ("62 rUE dE mAUBEUGE", dict(number=62, street="rue de maubeuge")),
    (
        "2 Bld de Magenta 75010 Paris",
        dict(number=2, street="boulevard de magenta", postcode="75010", city="paris"),
    ),
    ("145 r. La Fayette", dict(number=145, street="rue la fayette")),
    ("145 R LA FAYETTE 75010", dict(number=145, street="rue la fayette", postcode="75010")),
    ("8 Cité Paradis", dict(number=8, street="cite paradis")),
    ("8 cite paradis, Paris", dict(number=8, street="cite paradis", city="paris")),
    (
        "36 Bis Rue de Dunkerque, 75010 PARIS",
        dict(number=36, suffix="bis", street="rue de dunkerque", postcode="75010", city="paris"),
    ),
    (
        "9B Rue Turgot, 75009 PARIS",
        dict(number=9, suffix="b", street="rue turgot", postcode="75009", city="paris"),
    ),
    ("9 B rue Turgot", dict(number=9, suffix="b", street="rue turgot")),
    ("12bis rue de Rocroy", dict(number=12, suffix="bis", street="rue de rocroy")),
    ("12 ter, rue de Rocroy", dict(number=12, suffix="ter", street="rue de rocroy")),
    ("3 quater rue Bossuet", dict(number=3, suffix="quater", street="rue bossuet")),
    ("N°12 rue des Petits Hôtels", dict(number=12, street="rue des petits hotels")),
    ("n° 12, rue des petits hotels", dict(number=12, street="rue des petits hotels")),
    (
        "4 rue de Compiègne, 75010 PARIS",
        dict(number=4, street="rue de compiegne", postcode="75010", city="paris"),
    ),
    ("4 RUE DE COMPIEGNE", dict(number=4, street="rue de compiegne")),
    (
        "13 Rue Louise-Émilie de la Tour d'Auvergne, 75009 PARIS",
        dict(
            number=13,
            street="rue louise emilie de la tour d'auvergne",
            postcode="75009",
            city="paris",
        ),
    ),
    (
        "10 rue d’Hauteville 75010 Paris 10e",
        dict(number=10, street="rue d'hauteville", postcode="75010", city="paris"),
    ),
    (
        "99 Boulevard de Magenta, 75010 PARIS",
        dict(number=99, street="boulevard de magenta", postcode="75010", city="paris"),
    ),
    (
        "157 Rue du Faubourg Poissonnière, 75009 PARIS",
        dict(number=157, street="rue du faubourg poissonniere", postcode="75009", city="paris"),
    ),
    (
        "14 Passage Briare, 75009 PARIS",
        dict(number=14, street="passage briare", postcode="75009", city="paris"),
    ),
    ("14 pass. Briare", dict(number=14, street="passage briare")),
    ("2 pl. Franz Liszt", dict(number=2, street="place franz liszt")),
    ("5 sq. de Maubeuge", dict(number=5, street="square de maubeuge")),
    ("6 Av Trudaine", dict(number=6, street="avenue trudaine")),
    ("6 ave. Trudaine", dict(number=6, street="avenue trudaine")),
    ("12 Quai de Valmy", dict(number=12, street="quai de valmy")),
    ("12 qu. de Valmy", dict(number=12, street="quai de valmy")),
    ("1 crs de Vincennes", dict(number=1, street="cours de vincennes")),
    ("7 imp. Mousset", dict(number=7, street="impasse mousset")),
    ("3 Rue Ste Marthe", dict(number=3, street="rue sainte marthe")),
    (
        "40 Rue du Faubourg du Temple 75011 PARIS CEDEX 11",
        dict(number=40, street="rue du faubourg du temple", postcode="75011", city="paris"),
    ),
    # Bondy, social housing: buildings, entrances, staircases
    (
        "12 allée Marguerite Duras, bât B, esc 3",
        dict(number=12, street="allee marguerite duras", building="B", staircase="3"),
    ),
    (
        "12 ALLEE MARGUERITE DURAS BAT B ESC 3 93140 BONDY",
        dict(
            number=12,
            street="allee marguerite duras",
            building="B",
            staircase="3",
            postcode="93140",
            city="bondy",
        ),
    ),
    (
        "12 all. Marguerite Duras Bât.B",
        dict(number=12, street="allee marguerite duras", building="B"),
    ),
    (
        "5 av. Jean Jaurès 93140 Bondy",
        dict(number=5, street="avenue jean jaures", postcode="93140", city="bondy"),
    ),
    (
        "5 avenue Jean-Jaures, Bondy 93140",
        dict(number=5, street="avenue jean jaures", postcode="93140", city="bondy"),
    ),
    (
        "Bâtiment C, entrée 2, 7 rue Blanqui",
        dict(number=7, street="rue blanqui", building="C", entrance="2"),
    ),
    ("7 rue Blanqui hall 4", dict(number=7, street="rue blanqui", entrance="4")),
    ("7 rue Blanqui - Hall 4 - 3e étage", dict(number=7, street="rue blanqui", entrance="4")),
    ("7 rue Blanqui cage 2 apt 34", dict(number=7, street="rue blanqui", staircase="2")),
    ("7, rue Blanqui, escalier A, porte 12", dict(number=7, street="rue blanqui", staircase="A")),
    (
        "bat B2 entree 1 escalier 4, 7 rue Blanqui",
        dict(number=7, street="rue blanqui", building="B2", entrance="1", staircase="4"),
    ),
    (
        "12 Rue du 4 Septembre 93140 Bondy",
        dict(number=12, street="rue du 4 septembre", postcode="93140", city="bondy"),
    ),
    ("10 route d'Aulnay", dict(number=10, street="route d'aulnay")),
    ("10 rte d Aulnay", dict(number=10, street="route d aulnay")),
    ("3 chem. des Postes", dict(number=3, street="chemin des postes")),
    ("3 Prom. des Berges", dict(number=3, street="promenade des berges")),
    ("3 sent. des Vignes", dict(number=3, street="sentier des vignes")),
    ("21 av Gallieni", dict(number=21, street="avenue gallieni")),
    ("3 allée des Roses 2ème étage porte gauche", dict(number=3, street="allee des roses")),
    (
        "3 allee des roses 93 140 Bondy",
        dict(number=3, street="allee des roses", postcode="93140", city="bondy"),
    ),
    ("rue du fbg st denis", dict(street="rue du faubourg saint denis")),
    ("12 rue de Bondy", dict(number=12, street="rue de bondy")),
    (
        "Place du 8 Novembre 1942, 75010 PARIS",
        dict(street="place du 8 novembre 1942", postcode="75010", city="paris"),
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_parse_address_table(text: str, expected: dict[str, object]) -> None:
    p = parse_address(text)
    got = {f: getattr(p, f) for f in FIELDS}
    assert got == {f: expected.get(f) for f in FIELDS}


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 50


@pytest.mark.parametrize(
    ("text", "numbers", "street"),
    [
        ("1-3-5 rue du Breuil", (1, 3, 5), "rue du breuil"),
        ("1 - 3 rue du Breuil", (1, 3), "rue du breuil"),
        ("10/12 rue Fenelon", (10, 12), "rue fenelon"),
        ("10 & 12 rue Fenelon", (10, 12), "rue fenelon"),
        ("10 et 12 rue Fenelon", (10, 12), "rue fenelon"),
        ("2 à 6 rue Fenelon", (2, 6), "rue fenelon"),
        ("12 a rue Fenelon", (12,), "rue fenelon"),
        ("12 rue Fenelon", (12,), "rue fenelon"),
        ("rue Fenelon", (), "rue fenelon"),
    ],
)
def test_ranges(text: str, numbers: tuple[int, ...], street: str) -> None:
    p = parse_address(text)
    assert p.numbers == numbers
    assert p.number == (numbers[0] if numbers else None)
    assert p.street == street


@pytest.mark.parametrize(
    ("text", "residence", "building", "street"),
    [
        ("Rés. du Breuil bât C", "residence du breuil", "C", None),
        ("Résidence du Breuil, bâtiment C", "residence du breuil", "C", None),
        ("RES LES LILAS BAT 2", "residence les lilas", "2", None),
        ("Résidence Les Lilas, 12 rue X, bat 2", "residence les lilas", "2", "rue x"),
        ("2 Résidence des Floralies", "residence des floralies", None, "residence des floralies"),
    ],
)
def test_residence_names(text: str, residence: str, building: str, street: str | None) -> None:
    p = parse_address(text)
    assert (p.residence, p.building, p.street) == (residence, building, street)


def test_street_key_drops_articles_not_types() -> None:
    assert street_key("rue de rocroy") == street_key("rue rocroy") == "rue rocroy"
    assert street_key("rue d'hauteville") == "rue hauteville"
    # Two different streets of Paris 9e keep different keys.
    assert (
        normalise_street("Rue Marguerite de Rochechouart")[1]
        != normalise_street("Boulevard Marguerite de Rochechouart")[1]
    )
    assert parse_address("21 r. du fbg St-Denis").street_key == "rue faubourg saint denis"


def test_normalise_street_matches_parse() -> None:
    # OSM and the BAN spell names in full; the parser must give the same key.
    for name, written in [
        ("Rue Louise-Émilie de La Tour d'Auvergne", "3 r. Louise Emilie de la Tour d’Auvergne"),
        ("Allee Marguerite Duras", "12 all. Marguerite-Duras"),
        ("Route d’Aulnay", "10 rte d'Aulnay"),
    ]:
        assert normalise_street(name)[1] == parse_address(written).street_key


def test_housenumbers_of_osm_and_ban() -> None:
    assert parse_housenumber("34 bis") == ((34,), "bis")
    assert parse_housenumber("15b") == ((15,), "b")
    assert parse_housenumber("1-3") == ((1, 3), None)
    assert parse_housenumber("2;4") == ((2, 4), None)
    assert parse_housenumber("") == ((), None)
    assert parse_housenumber(None) == ((), None)
    assert suffix_key("b") == suffix_key("bis") == "bis"
    assert suffix_key(None) == ""
    assert suffix_key("a") == "a"


def test_normalise_key_for_gazetteer() -> None:
    assert normalise_key("Rés. du Breuil bât C") == "residence breuil batiment c"
    assert normalise_key("RESIDENCE DU BREUIL - BATIMENT C") == "residence breuil batiment c"
    assert normalise_key("NC-B") == normalise_key("nc b") == "nc b"
    assert normalise_key(None) is None


def test_repair_mojibake_from_real_ban_extract() -> None:
    assert repair_mojibake("Avenue de la VillÃ©giature") == "Avenue de la Villégiature"
    assert repair_mojibake("Route dâ€™Aulnay") == "Route d’Aulnay"
    assert repair_mojibake("Rue Fontaine") == "Rue Fontaine"
    assert parse_address("3 Avenue GalliÃ©ni").street == "avenue gallieni"


def test_missing_and_empty() -> None:
    assert parse_address(None).street is None
    assert parse_address("").address_normalised is None
    assert parse_address(float("nan")).number is None


def test_address_normalised() -> None:
    p = parse_address("21, RUE DU FBG ST-DENIS - 75010 PARIS")
    assert p.address_normalised == "21 rue du faubourg saint denis, 75010 paris"
    assert parse_address("36 Bis Rue de Dunkerque").address_normalised == "36 bis rue de dunkerque"


def test_parse_addresses_aligned_and_typed() -> None:
    s = pd.Series(
        ["2 bd de Magenta", None, "12 allée Marguerite Duras, bât B", "2 bd de Magenta"],
        index=[10, 30, 20, 40],
    )
    out = parse_addresses(s)
    assert list(out.index) == [10, 30, 20, 40]
    assert out["number"].dtype == "Int64"
    assert out.loc[10, "street"] == out.loc[40, "street"] == "boulevard de magenta"
    assert pd.isna(out.loc[30, "street"])
    assert pd.isna(out.loc[30, "number"])
    assert out.loc[20, "building"] == "B"
    assert out.loc[20, "numbers"] == (12,)


def test_parse_addresses_repeated_strings() -> None:
    # 100,000 addresses, 20,000 distinct (reports repeat addresses): each distinct string
    # gets the same parse wherever it appears. Speed is measured by `make bench`.
    streets = ["Rue de Maubeuge", "bd de Magenta", "allée Marguerite Duras, bât B, esc 3"]
    distinct = [f"{i % 7000 + 1} {streets[i % 3]}, 75010 PARIS" for i in range(20_000)]
    s = pd.Series(distinct * 5)
    out = parse_addresses(s)
    assert len(out) == 100_000
    assert out.index.equals(s.index)
    assert out["street"].notna().all()
    assert out.iloc[:20_000]["number"].tolist() == out.iloc[20_000:40_000]["number"].tolist()


def test_landlord_codes_keep_their_building_letter() -> None:
    from pipelines.geocode.addresses import normalise_key

    keys = [normalise_key(k) for k in ("NC-A", "NC-D", "NC-L", "NC-B", "nc a", "Nc-A")]
    assert len(set(keys[:4])) == 4
    assert keys[0] == keys[4] == keys[5]
