"""The tables a committee or the public receives, on real Bondy footprints with hand-made
hostile values: the open-data pack (``make public``: ``<site>_batiments.csv``,
``<site>_mensuel.csv``, ``<site>.gpkg``) runs no spreadsheet formula (hostile run B2);
no chronic problem is listed on a hidden cell (A3)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from pipelines.config.publication import ProfileRule
from pipelines.io import FORMULA_STARTS
from pipelines.maps.exports import building_csv, write_exports
from pipelines.osm.buildings import read_osm_buildings
from pipelines.publish.build import publish_site
from pipelines.publish.protect import Protection, apply_profile
from pipelines.publish.stage import with_publication_facts
from pipelines.published import Published
from pipelines.taxonomy import BY_CODE, CODES
from tests.conftest import RAW, reports_on
from tests.profiles import COMITE, PERSON, PUBLIC

#: OSM names a contributor (or a vandal) could give a building: each would run in a
#: spreadsheet that opens the pack.
FORMULAS = (
    '=HYPERLINK("http://exemple.invalid/x","Voir")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+cmd|' /C calc'!A0",
    "-cmd|' /C calc'!A0",
)


@pytest.fixture(scope="module")
def bondy() -> gpd.GeoDataFrame:
    return read_osm_buildings(RAW / "bondy" / "bondy_nord.osm")


def _hostile_site(bondy: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Four real buildings named by a formula; their lifts reported by many households,
    more before April than after (a negative before/after change)."""
    buildings = bondy.head(40).copy()
    targets = buildings["building_id"].astype(str).head(len(FORMULAS)).tolist()
    buildings.loc[buildings.index[: len(FORMULAS)], "name"] = list(FORMULAS)
    rows = []
    for k, bid in enumerate(targets):
        for month in range(1, 7):
            for d in range(5 if month <= 3 else 1):
                rows.append(
                    (bid, "ascenseur", f"2025-{month:02d}-{1 + d:02d}", f"h{k}-{month}-{d}")
                )
    return buildings, reports_on(buildings, rows)


def _pack(published: Published, folder: Path) -> tuple[list[list[str]], gpd.GeoDataFrame]:
    paths = {
        "csv_buildings": folder / "t_batiments.csv",
        "csv_monthly": folder / "t_mensuel.csv",
        "gpkg": folder / "t.gpkg",
    }
    write_exports(published, **paths)
    with paths["csv_buildings"].open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    return rows, gpd.read_file(paths["gpkg"], layer="batiments")


def test_the_pack_runs_no_formula_and_keeps_numbers(
    bondy: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    buildings, reports = _hostile_site(bondy)
    published, _ = apply_profile(
        publish_site(buildings, reports), reports, rule=ProfileRule("interne"),
        person_related=PERSON,
    )  # fmt: skip
    rows, gpkg = _pack(published.published, tmp_path)
    header, body = rows[0], rows[1:]
    label = header.index("Nom du bâtiment")
    assert sorted(r[label] for r in body) == sorted("'" + f for f in FORMULAS)
    change = header.index("Évolution (après − avant)")
    assert sorted(r[change] for r in body) == ["-12"] * len(FORMULAS)  # a number, as is
    for row in body:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS) or cell.lstrip("-").isdigit(), cell
    assert sorted(gpkg["building_label"]) == sorted("'" + f for f in FORMULAS)
    assert pd.api.types.is_integer_dtype(gpkg["n_reports_change"])
    assert (gpkg["n_reports_change"] == -12).all()
    with (tmp_path / "t_mensuel.csv").open(encoding="utf-8-sig", newline="") as fh:
        monthly = list(csv.reader(fh, delimiter=";"))
    assert all(not c.startswith(FORMULA_STARTS) for r in monthly for c in r)


def test_the_pack_csv_speaks_french_and_writes_classes_as_integers(
    bondy: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    """What the public reads is French (STYLE.md): the headers of both CSV files, the
    category, the reason a cell is hidden; a Gi* class and a number of dwellings are
    whole numbers (« 3 », never « 3,0 », which a spreadsheet reads as a decimal)."""
    buildings, reports = _hostile_site(bondy)
    n = len(buildings)
    buildings = buildings.assign(
        gi_bin=[3.0, 2.0, 0.0, -1.0] + [0.0] * (n - 4),
        dwellings=[12.0, float("nan")] * (n // 2) + [12.0] * (n % 2),
    )
    published, _ = apply_profile(
        publish_site(buildings, reports), reports, rule=ProfileRule("interne"),
        person_related=PERSON,
    )  # fmt: skip
    rows, _ = _pack(published.published, tmp_path)
    table = pd.DataFrame(rows[1:], columns=rows[0]).set_index("Bâtiment (identifiant OSM)")
    assert not [c for c in rows[0] if "_" in c]  # no column name of the code
    for column in ("Nom du bâtiment", "Logements", "Signalements", "Ménages distincts",
                   "Signalements : Ascenseur en panne", "Signalements : masqué (s)"):  # fmt: skip
        assert column in table, column
    ids = buildings["building_id"].astype(str).head(4).tolist()
    assert table.loc[ids, "Point chaud ou froid (Gi*, classe)"].tolist() == ["3", "2", "0", "-1"]
    assert table.loc[ids, "Point chaud ou froid (Gi*)"].tolist() == [
        "Point chaud, confiance 99 %", "Point chaud, confiance 95 %", "Non significatif",
        "Point froid, confiance 90 %",
    ]  # fmt: skip
    assert table.loc[ids, "Logements"].tolist() == ["12", "", "12", ""]
    with (tmp_path / "t_mensuel.csv").open(encoding="utf-8-sig", newline="") as fh:
        monthly = list(csv.reader(fh, delimiter=";"))
    header = monthly[0]
    for column in ("Bâtiment (identifiant OSM)", "Période (mois, trimestre ou année)",
                   "Signalements", "Ménages distincts"):  # fmt: skip
        assert column in header, column
    code, label = header.index("Catégorie (code)"), header.index("Catégorie")
    assert {(r[code], r[label]) for r in monthly[1:]} == {("ascenseur", "Ascenseur en panne")}
    assert not [c for c in monthly[0] if "_" in c]


def test_a_hidden_gi_class_has_no_label_in_the_csv() -> None:
    """A Gi* class the publication hid (``gi_bin_flag`` « s ») stays empty, and so does
    its label: the label would tell the class."""
    frame = pd.DataFrame(
        {"building_id": ["way/1", "way/2", "way/3"], "gi_bin": [3.0, None, None],
         "gi_bin_flag": ["", "s", ""]}
    )  # fmt: skip
    out = building_csv(frame)
    assert out["Point chaud ou froid (Gi*)"].tolist() == ["Point chaud, confiance 99 %", "", ""]
    assert out["Point chaud ou froid (Gi*, classe) : masqué (s)"].tolist() == ["", "s", ""]


# ----------------------------------------------------------------------------- chronic
def _chronic_site(
    bondy: gpd.GeoDataFrame,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.DataFrame]:
    """Two real buildings and their chronic problems (as ``chronic.csv`` has them): the
    first, lifts from 12 households and pests from 4; the second, squatted halls (person-
    related) reported 4 times by one household."""
    from pipelines.hotspots.chronic import chronic_flags

    buildings = bondy.head(40).copy()
    a, b = buildings["building_id"].astype(str).head(2)
    rows = [(a, "ascenseur", f"2025-01-{1 + d:02d}", f"hl{d}") for d in range(12)]
    rows += [(a, "nuisibles", f"2025-02-{1 + d:02d}", f"hn{d}") for d in range(4)]
    rows += [(b, "occupation", f"2025-01-{1 + 7 * d:02d}", "hs") for d in range(4)]
    reports = reports_on(buildings, rows)
    chronic = pd.DataFrame(
        {
            "building_id": [a, a, b],
            "category": ["ascenseur", "nuisibles", "occupation"],
            "n_reports_in_window": ["12", "4", "4"],
            "window_days": ["90"] * 3,
            "first_date": ["2025-01-01", "2025-02-01", "2025-01-01"],
            "last_date": ["2025-01-12", "2025-02-04", "2025-01-22"],
        }
    )
    flags = chronic_flags(chronic, buildings)
    buildings = buildings.assign(
        is_chronic=flags["is_chronic"], chronic_categories=flags["chronic_categories"]
    )
    return buildings, reports, chronic


@pytest.mark.parametrize("rule", [COMITE, PUBLIC], ids=lambda r: r.name)
def test_no_chronic_problem_is_listed_on_a_hidden_cell(
    bondy: gpd.GeoDataFrame, rule: ProfileRule
) -> None:
    """Hostile run A3: « Problèmes chroniques » listed on a fact sheet the categories the
    same sheet hides (« < 3 »), from the profile's ``chronic_categories``."""
    from pipelines.maps.data import map_data

    buildings, reports, chronic = _chronic_site(bondy)
    protection, _ = apply_profile(
        publish_site(buildings, reports, chronic=chronic), reports, rule=rule,
        person_related=PERSON,
    )  # fmt: skip
    out = protection.published
    p = out.profile.set_index("building_id")
    squat = str(chronic["building_id"].iloc[2])
    assert p.at[squat, "n_occupation_flag"] == "s"  # one household: hidden in both
    listed = 0
    for bid, cats in p["chronic_categories"].dropna().items():
        for code in str(cats).split(", "):
            listed += 1
            assert p.at[bid, f"n_{code}_flag"] != "s", (bid, code)
    published_rows = set(zip(out.chronic["building_id"], out.chronic["category"], strict=True))
    assert listed == len(published_rows)
    assert bool(p.at[squat, "is_chronic"]) is False
    fiches = map_data(out, site_name="Bondy")["b"]["fiche"]
    for bid, fiche in zip(out.profile["building_id"], fiches, strict=True):
        if "Problèmes chroniques" not in fiche:
            continue
        chronic_part = fiche.split("Problèmes chroniques", 1)[1]
        for code, label in (("occupation", "Occupation"), ("nuisibles", "Nuisibles")):
            if p.at[bid, f"n_{code}_flag"] == "s":
                assert label not in chronic_part, (bid, code)


# ----------------------------------------------------------------------------- coarsened
def _coarsened_site(bondy: gpd.GeoDataFrame) -> tuple[list[str], Protection]:
    """Three real buildings with lifts from many households; two with a few reports in
    two categories (counted in the site under ``public``): their ids and the public
    protection."""
    buildings = bondy.head(40).copy()
    ids = buildings["building_id"].astype(str).head(5).tolist()
    rows = [(ids[k], "ascenseur", f"2025-0{1 + d % 6}-{1 + d % 28:02d}", f"h{k}-{d}")
            for k in range(3) for d in range(30)]  # fmt: skip
    for k in (3, 4):
        rows += [
            (ids[k], "nuisibles", "2025-02-03", f"p{k}"),
            (ids[k], "eau_fuite", "2025-03-04", f"q{k}"),
        ]
    reports = reports_on(buildings, rows)
    protection, _ = apply_profile(
        publish_site(buildings, reports), reports, rule=PUBLIC, person_related=PERSON
    )
    return ids, protection


def test_a_coarsened_building_shows_no_category_of_its_own(
    bondy: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    """Hostile run A4: in the public pack a building counted in the site (too few
    households) showed exact zeros beside its hidden categories, telling which ones it
    had. Three real buildings with lifts from many households; two with a few reports
    in two categories."""
    from pipelines.maps.data import map_data

    ids, protection = _coarsened_site(bondy)
    out = protection.published
    rows_csv, gpkg = _pack(out, tmp_path)
    header, body = rows_csv[0], rows_csv[1:]
    table = pd.DataFrame(body, columns=header).set_index("Bâtiment (identifiant OSM)")
    coarse = table[table["Niveau de publication"] != "bâtiment"]
    assert {ids[3], ids[4]} <= set(coarse.index)
    assert (table["Niveau de publication"] == "bâtiment").any()
    for code in CODES:
        assert (coarse[f"Signalements : {BY_CODE[code].label}"] == "").all(), code
        assert (coarse[f"Signalements : {BY_CODE[code].label} : masqué (s)"] == "s").all(), code
    geo = gpkg.set_index("building_id")
    for code in CODES:
        assert geo.loc[list(coarse.index), f"n_{code}"].isna().all(), code
    fiches = dict(zip(out.profile["building_id"], map_data(out, site_name="Bondy")["b"]["fiche"],
                      strict=True))  # fmt: skip
    for bid in (ids[3], ids[4]):
        assert "Détail par catégorie masqué" in fiches[bid]
        assert "Nuisibles" not in fiches[bid]
        assert "Fuite" not in fiches[bid]


def test_the_public_cell_counts_are_those_of_the_published_tables(
    bondy: gpd.GeoDataFrame,
) -> None:
    """``site.json``'s ``publication.tables`` (and the method note's table) counted the
    building profile's cells before coarsening and the monthly table's fine cells: on
    Bondy's open-data pack, 1 522 cells and 1 272 hidden (the (building, category) pairs
    of the coarsened buildings with reports among them: 461, which the pack never shows)
    and 5 065 « regroupées », the exact number of non-zero building × month × category
    cells. Now both count what is published: a coarsened building is its hidden total
    alone, and the monthly table's cells are coarsened when its level is. Three real
    buildings with lifts from many households; two with a few reports in two
    categories each."""
    ids, protection = _coarsened_site(bondy)
    profile, monthly = protection.published.profile, protection.published.monthly
    coarse = profile["level"] != "bâtiment"
    assert set(profile.loc[coarse, "building_id"].astype(str)) == {ids[3], ids[4]}
    # what a reader counts in the published profile: the totals shown (non-zero) or
    # hidden, and the categories of the buildings published at their own level
    fine = profile[~coarse]
    shown = [(fine[f"n_{c}"].fillna(0) > 0) | (fine[f"n_{c}_flag"] == "s") for c in CODES]
    totals = (profile["n_reports"].fillna(0) > 0) | (profile["n_reports_flag"] == "s")
    hidden = sum(int((fine[f"n_{c}_flag"] == "s").sum()) for c in CODES)
    table = protection.cells["building_profile"]
    assert table["cells"] == int(totals.sum()) + sum(int(s.sum()) for s in shown) == 8
    assert table["hidden"] == int((profile["n_reports_flag"] == "s").sum()) + hidden
    assert table["coarsened"] == 2
    level = monthly["level"].iloc[0]
    assert level != "bâtiment × mois"  # five households a month: coarsened in time
    m = protection.cells["monthly"]
    assert m["cells"] == len(monthly)
    assert m["coarsened"] == len(monthly)  # every published cell, not the 22 fine ones
    assert m["coarsened_share"] == 1.0
    block = with_publication_facts(protection).site["publication"]["tables"]
    assert block["building_profile"]["cells"] == 8
    assert block["monthly"]["coarsened"] == len(monthly)


# ----------------------------------------------------------------------------- delays
def test_the_public_share_closed_within_target_comes_from_rounded_counts() -> None:
    """Bondy's open-data chart of closing delays gave « Part close dans l'objectif (%) »
    computed on exact counts (41,3 % for lifts) beside « Signalements clos » rounded to
    5: with a small denominator, an exact share pins the exact counts. Under a rounding
    profile the share is now reports closed within the target over reports due, each
    rounded to 5; a category closed by too few households shows no delay nor share;
    ``n_due`` is not published. The committee profile, which rounds nothing, keeps the
    exact share."""
    from pipelines.publish.charts import chart_tables

    delays = pd.DataFrame(
        {
            "category": ["ascenseur", "eau_fuite"],
            "n_closed": [12, 4],
            "median_delay_h": [30.0, 50.0],
            "p90_delay_h": [100.0, 120.0],
            "target_h": [48.0, 72.0],
            "share_closed_within_target": [round(7 / 13, 3), 0.5],  # 7 of 13 due, 2 of 4
            "n_due": [13.0, 4.0],
        }
    )
    closed = [("ascenseur", f"h{k}") for k in range(12)] + [("eau_fuite", "p1")] * 2
    closed += [("eau_fuite", "p2")] * 2
    reports = pd.DataFrame(
        {
            "report_id": [f"r{i}" for i in range(len(closed))],
            "source_kind": "reports",
            "duplicate_of": None,
            "building_id": "way/1",
            "category": [c for c, _ in closed],
            "household_key": [h for _, h in closed],
            "reported_at": pd.Timestamp("2025-01-02"),
            "closed_at": pd.Timestamp("2025-01-03"),
        }
    )
    published = Published(
        profile=gpd.GeoDataFrame(), monthly=pd.DataFrame(), points=gpd.GeoDataFrame(),
        site={}, closing_delays=delays,
    )  # fmt: skip
    series = pd.DataFrame(
        {"month": ["2025-01"], "category": [None], "n_reports": [16], "n_reports_flag": [""]}
    )

    def delays_of(rule: ProfileRule) -> pd.DataFrame:
        tables = chart_tables(
            published, series, pd.DataFrame(), ("zone", "quarter"), reports, rule, PERSON
        )
        return tables["closing_delays"].set_index("category")

    public = delays_of(PUBLIC)
    assert public.loc["ascenseur", "n_closed"] == 10
    # 7 within → 5, 13 due → 15: 33,3 %, no longer 53,8 % (7/13, which only 13 gives)
    assert public.loc["ascenseur", "share_closed_within_target"] == pytest.approx(0.333)
    assert "n_due" not in public
    assert public.loc["ascenseur", "median_delay_h"] == 30.0
    # two households closed the leaks: no count, delay nor share (« s »)
    assert public.loc["eau_fuite", "n_closed_flag"] == "s"
    for col in ("n_closed", "median_delay_h", "p90_delay_h", "share_closed_within_target"):
        assert pd.isna(public.loc["eau_fuite", col]), col
    committee = delays_of(COMITE)
    assert "n_due" not in committee
    assert committee.loc["ascenseur", "n_closed"] == 12
    assert committee.loc["ascenseur", "share_closed_within_target"] == round(7 / 13, 3)


# ----------------------------------------------------------------------------- observations
def test_comite_draws_a_person_related_observation_only_on_a_shown_cell(
    bondy: gpd.GeoDataFrame,
) -> None:
    """Hostile run A5: walkthrough observations were dated points with their category
    and text on the committee map, squats and pests included (« Personnes installées
    dans les caves »). On three real buildings: squats reported by four households on
    the first (its cell shown), by one on the second (hidden), none on the third."""
    from pipelines.maps.data import map_data

    buildings = bondy.head(40).copy()
    a, b, c = buildings["building_id"].astype(str).head(3)
    rows = [(a, "occupation", f"2025-01-{1 + d:02d}", f"ha{d}", "reports", None, True)
            for d in range(4)]  # fmt: skip
    rows += [(b, "occupation", "2025-01-05", "hb", "reports", None, True)]
    rows += [(a, "ascenseur", f"2025-01-{10 + d:02d}", f"hl{d}", "reports", None, False)
             for d in range(3)]  # fmt: skip
    observed = [
        (a, "occupation", "Personnes installées dans le hall.", True),  # cell shown: drawn
        (b, "occupation", "Personnes installées dans les caves.", True),  # hidden cell
        (c, "nuisibles", "Punaises de lit, Mme Durand 06 12 34 56 78.", True),  # no cell
        (b, "degradation", "Extincteur arraché au 2e étage.", True),  # names a floor
        (b, "eau_fuite", "Fuite en chaufferie.", False),  # technical: drawn
        (c, "encombrants", "Matelas devant l'entrée.", False),  # technical: drawn
    ]
    rows += [(bid, cat, "2025-02-03", "terrain", "observations", text, flag)
             for bid, cat, text, flag in observed]  # fmt: skip
    reports = reports_on(
        buildings, rows, source_kind=[r[4] for r in rows], description=[r[5] for r in rows],
        person_related=[r[6] for r in rows],
    )  # fmt: skip
    published = publish_site(buildings, reports)
    protection, _ = apply_profile(published, reports, rule=COMITE, person_related=PERSON)
    out = protection.published
    drawn = sorted(zip(out.points["building_id"], out.points["category"], strict=True))
    assert drawn == sorted([(a, "occupation"), (b, "eau_fuite"), (c, "encombrants")])
    assert (out.points["source_kind"] == "observations").all()
    assert protection.audit["points_left_out"] == len(published.points) - 3
    # Every observation stays counted in its building: aggregated, not lost.
    p = out.profile.set_index("building_id")
    assert (p.at[a, "n_observations"], p.at[b, "n_observations"], p.at[c, "n_observations"]) == (
        1, 3, 2,
    )  # fmt: skip
    obs = map_data(out, site_name="Bondy")["obs"]
    texts = " ".join(obs["t"])
    for word in ("caves", "Punaises", "étage"):
        assert word not in texts, word
    assert len(obs["lat"]) == 3
    # Their text is scrubbed (ingestion did, and publication again): no name, no phone.
    interne = published.points
    punaises = interne.loc[interne["category"] == "nuisibles", "description"].iloc[0]
    assert "Durand" not in punaises
    assert "06 12" not in punaises
    with_facts = with_publication_facts(protection)  # site.json as the stage writes it
    legend = " ".join(map_data(with_facts, site_name="Bondy")["notes"])
    assert "Observations de terrain liées aux personnes" in legend


@pytest.mark.parametrize("rule", [PUBLIC, COMITE], ids=["public", "comite"])
def test_site_json_counts_the_site_as_its_published_total(
    bondy: gpd.GeoDataFrame, rule: ProfileRule
) -> None:
    """``site.json`` copied two counts of the site exact from the analysis: the hotspot
    stage's sample (``too_few_reports.site``, reports on the buildings) and the trends
    headline (``trends.headline``, with the reports placed on no building), each in its
    sentence when too few to conclude. Bondy's open-data pack said 7 045 and 7 025 beside
    its total rounded to 5; Paris's committee pack 107 and 106 beside its hidden total.
    Here 23 reports on the buildings (24 with one placed on none): both counts are the
    published total (25 rounded to 5, 23 exact under « comite »), and neither sentence
    says 23 or 24."""
    ids = bondy["building_id"].astype(str).head(3).tolist()
    rows = [(ids[k % 3], "ascenseur", f"2025-0{1 + k % 6}-1{k % 9}", f"h{k}") for k in range(23)]
    reports = reports_on(bondy.head(20), rows)
    few = "trop peu de signalements pour conclure"
    sample = {
        "reports_counted": 23,
        "min_reports": 30,
        "too_few_reports": True,
        "note_fr": f"{few} (23 signalements sur les bâtiments, il en faut au moins 30 pour "
        "une analyse des points chauds)",
    }
    head = {
        "trend": None,
        "direction": None,
        "trend_fr": f"{few} (24 signalements, il en faut au moins 30 pour un test de tendance)",
        "n_reports": 24,
        "min_reports": 30,
        "too_few_reports": True,
    }
    published = publish_site(
        bondy.head(20), reports, hotspot_summary={"sample": sample},
        extra={"trends": {"headline": head}},
    )  # fmt: skip
    protection, _ = apply_profile(published, reports, rule=rule, person_related=PERSON)
    site = protection.published.site

    total = site["totals"]["reports_counted"]
    assert total == (25 if rule is PUBLIC else 23)
    shown_sample, shown_head = site["too_few_reports"]["site"], site["trends"]["headline"]
    assert shown_sample["reports_counted"] == total
    assert shown_head["n_reports"] == total
    assert shown_sample["too_few_reports"]
    assert shown_head["too_few_reports"]
    for sentence in (shown_sample["note_fr"], shown_head["trend_fr"]):
        assert sentence.startswith(few)
        assert "23" not in sentence
        assert "24" not in sentence
        assert "30" in sentence


@pytest.mark.parametrize("rule", [PUBLIC, COMITE], ids=["public", "comite"])
def test_the_method_note_does_not_count_the_points_withheld(rule: ProfileRule) -> None:
    """The publication section said how many points were withheld: an exact count of
    the site's positioned reports (Bondy's open-data note: « 6 403 retiré(s) », not
    rounded to 5; Paris's committee note: 107 beside its site total hidden, 106, which
    it bounds). It still says which points are not drawn; the count stays in
    ``publication_audit.json``, for the analyst."""
    from pipelines.publish.note import publication_section

    audit = {
        "profile": rule.name,
        "rule": rule.as_dict(),
        "person_related": sorted(PERSON),
        "points_left_out": 6403,
    }
    note = " ".join(publication_section(audit, {}).paragraphs)
    assert "Points : " in note
    assert re.search(r"6\W?403", note) is None  # « 6 403 », a narrow no-break space


def test_the_public_method_note_counts_nothing_it_withholds() -> None:
    """Bondy's open-data note still counted what it withholds, exactly: « Problèmes
    chroniques non montrés faute de ménages : 376 », « 9 effet(s) masqué(s) », late
    reports left out (« : 3. »). Under ``public`` it says what is withheld, not how many
    (rounded to 5, one or two would read « 0 »); the committee note keeps its counts of
    late reports and hidden effects (tests/test_publication.py asserts its late reports),
    not of chronic problems (tests/test_published_inference.py says why)."""
    from pipelines.publish.note import publication_section

    withheld = "leur nombre n'est pas donné ici"

    def note(rule: ProfileRule) -> str:
        audit = {
            "profile": rule.name, "rule": rule.as_dict(), "person_related": sorted(PERSON),
            "chronic_left_out": 376, "late_reports_left_out": 3, "frozen_periods": ["2025-01"],
            "actions": {"effects_hidden": 9, "free_text": "non publié"},
        }  # fmt: skip
        return " ".join(publication_section(audit, {}).paragraphs)

    public = note(PUBLIC)
    assert "376" not in public
    assert re.search(r"\b9 effet", public) is None
    assert re.search(r"période figée\) : 3\.", public) is None
    assert public.count(withheld) == 2  # chronic problems, late reports
    assert "Signalements tardifs" in public
    assert "problèmes chroniques tirés de moins de 11 ménages ne sont pas montrés" in public
    assert "marqués « s » dans le tableau des actions" in public
    committee = note(COMITE)
    assert "376" not in committee
    assert "9 effet(s) masqué(s)" in committee
    assert re.search(r"datés dans une période figée\) : 3\.", committee)
    assert committee.count(withheld) == 1  # chronic problems
