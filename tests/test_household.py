"""Who reported (issue 16): household keys derived at ingestion, the site's secret, the
category classes, and counts of distinct households beside counts of reports.

On the real data: Bondy's simulated tickets (their truth says which household filed
each) and Paris's DansMaRue reports (no personal column: one household per report).
"""

from __future__ import annotations

import doctest
import json
import os
import re
import stat
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import make_secret, osm_bounds_file, write_demo_config

from pipelines.cli import main
from pipelines.config import load_config
from pipelines.errors import ConfigError
from pipelines.ingest import household, scrub, secret
from pipelines.ingest import stage as ingest
from pipelines.reports import household_of
from pipelines.taxonomy import (
    CATEGORIES,
    CLASSES,
    PERSONNE,
    TECHNIQUE,
    category_classes,
    check_category_classes,
    person_related,
    person_related_flags,
)

TODAY = date(2025, 1, 1)
WORLD = (-180.0, -90.0, 180.0, 90.0)


def test_docstring_examples() -> None:
    assert doctest.testmod(household).failed == 0


# --------------------------------------------------------------------------- values
def test_headers_say_which_identifier() -> None:
    kinds = {
        h: household.identity_kind(h)
        for h in (
            "Logement",
            "N° appt",
            "Réf. logement",
            "Téléphone",
            "Tél portable",
            "e-mail",
            "Adresse électronique",
            "Courriel du locataire",
            "Nom du demandeur",
            "Prénom",
            "NomLocataire",
            "contact",
            "nom_enqueteur",
            "auteur",
        )
    }
    assert kinds == {
        "Logement": "flat",
        "N° appt": "flat",
        "Réf. logement": "flat",
        "Téléphone": "phone",
        "Tél portable": "phone",
        "e-mail": "email",
        "Adresse électronique": "email",
        "Courriel du locataire": "email",
        "Nom du demandeur": "name",
        "Prénom": "name",
        "NomLocataire": "name",
        "contact": "contact",
        "nom_enqueteur": None,  # a surveyor, not a household
        "auteur": None,
    }


def test_values_are_folded_before_keying() -> None:
    same_flat = ["NC-B-045", "Logt NC-B-045", "NC-B 45", "Apt nc-b-045", "ncb045"]
    assert {household.normalise_flat(v) for v in same_flat} == {"ncb45"}
    same_phone = ["01 99 00 12 34", "0199001234", "+33 1 99 00 12 34", "01.99.00.12.34"]
    assert {household.normalise_phone(v) for v in same_phone} == {"+33199001234"}
    assert household.normalise_phone("0033 (0)1 99 00 12 34") == "+33199001234"
    assert household.normalise_phone("12") == ""
    assert household.normalise_email(" S.Martin@Exemple.FR") == "s.martin@exemple.fr"
    assert household.normalise_email("pas un courriel") == ""
    same_name = ["Mme Sophie Martin", "MARTIN Sophie", "Sophie Martin", "Mme Sophie MARTIN"]
    assert {household.normalise_name(v) for v in same_name} == {"martin sophie"}
    assert household.normalise_name("Hélène Lefèvre") == household.normalise_name("LEFEVRE helene")


def _keys(rows: list[dict[str, str]], secret: bytes) -> list[str]:
    n = len(rows)
    columns = {k: [r.get(k, "") for r in rows] for k in ("Logement", "Téléphone", "Nom")}
    tokens = household.identity_tokens(columns, n)
    return list(household.household_keys(tokens, ["s"] * n, [str(i) for i in range(n)], secret))


def test_reports_sharing_an_identifier_are_one_household(secret: bytes) -> None:
    rows = [
        {"Logement": "A-12", "Téléphone": "06 39 98 00 01", "Nom": "M. Jean Dupont"},
        {"Logement": "Logt A-12"},  # the same flat
        {"Téléphone": "+33 6 39 98 00 01"},  # the same phone, no flat: linked through row 0
        {"Logement": "A-13", "Nom": "M. Jean Dupont"},  # same name, another flat
        {"Nom": "DUPONT Jean"},  # known by its name alone
        {"Nom": "Jean Dupont"},  # the same name alone
        {},  # nothing: its own household
        {},
    ]
    keys = _keys(rows, secret)
    assert keys[0] == keys[1] == keys[2]
    assert keys[3] != keys[0]  # a name never links reports known by something better
    assert keys[4] == keys[5]
    assert keys[4] not in (keys[0], keys[3])
    assert keys[6] != keys[7]
    assert {keys[6], keys[7]}.isdisjoint(keys[:6])
    assert all(len(k) == household.KEY_HEX and int(k, 16) >= 0 for k in keys)


def test_key_codes_spread_the_distinct_keys_to_the_reports(secret: bytes) -> None:
    # Two reports of one household, two alone, one with no identifier at all (missing).
    tokens = pd.Categorical(["0flat:a12", "", "0flat:a12", "", None])
    sources, ids = ["s"] * 5, [str(i) for i in range(5)]
    codes, keys = household.household_key_codes(tokens, sources, ids, secret)
    assert codes.shape == (5,)
    assert list(keys[codes]) == list(household.household_keys(tokens, sources, ids, secret))
    assert codes[0] == codes[2]
    assert len({int(c) for c in codes[[1, 3, 4]]} | {int(codes[0])}) == 4
    assert all(isinstance(k, str) and len(k) == household.KEY_HEX for k in keys[codes])


def test_keys_depend_on_the_secret_and_are_no_plain_hash(tmp_path: Path) -> None:
    rows = [{"Logement": "A-12"}, {"Téléphone": "06 39 98 00 01"}, {"Nom": "Jean Dupont"}, {}]
    one = make_secret(tmp_path / "one", "x")
    other = make_secret(tmp_path / "other", "x")
    assert one != other
    assert _keys(rows, one) == _keys(rows, one)
    assert set(_keys(rows, one)).isdisjoint(_keys(rows, other))
    plain = {
        household.unkeyed_digest(t)
        for t in ("0flat:a12", "1phone:+33639980001", "3name:dupont jean", "9report:s:3")
    }
    assert plain.isdisjoint(_keys(rows, one))
    with pytest.raises(ValueError):
        household.household_keys(["0flat:a12"], ["s"], ["1"], b"")


def _site_of(path: Path, **kw: object):  # type: ignore[no-untyped-def]
    from pipelines.config import DEFAULT_PARAMS, SiteConfig, SourceConfig

    source = SourceConfig(
        id="bailleur",
        kind=str(kw.pop("kind", "reports")),
        path=str(path),
        format="csv",
        columns={"id": "id", "date": "date", "category": "cat", "address": "adresse"},
        **kw,  # type: ignore[arg-type]
    )
    return SiteConfig(id="t", name="t", osm="", sources=(source,), params=DEFAULT_PARAMS)


@pytest.mark.parametrize("declared", [True, False])
def test_ingestion_reads_declared_and_detected_personal_columns(
    tmp_path: Path, secret: bytes, declared: bool
) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text(
        "id;date;cat;adresse;Logement;Tél. portable;Nom du locataire\n"
        "1;01/03/2024;Fuite;1 rue A;NC-B-045;06 39 98 00 01;Mme Sophie Martin\n"
        "2;02/03/2024;Fuite;1 rue A;Logt NC-B 45;;MARTIN Sophie\n"
        "3;03/03/2024;Fuite;1 rue A;;+33 6 39 98 00 01;\n"
        "4;04/03/2024;Fuite;1 rue A;NC-B-046;;Sophie Martin\n"
        "5;05/03/2024;Fuite;1 rue A;;;\n",
        encoding="utf-8",
    )
    personal = ("Logement", "Tél. portable", "Nom du locataire") if declared else ()
    site = _site_of(path, personal_columns=personal)
    result = ingest.ingest_site(site, study_area_bbox=WORLD, today=TODAY, secret=secret)
    keys = result.ingested.set_index("report_id")["household_key"]
    assert keys["bailleur:1"] == keys["bailleur:2"] == keys["bailleur:3"]
    assert len({keys["bailleur:1"], keys["bailleur:4"], keys["bailleur:5"]}) == 3
    # The personal values themselves reach no output column.
    text = result.ingested.astype(str).to_csv()
    assert "39 98" not in text
    assert "NC-B" not in text
    assert "Martin" not in text
    # An observation source's personal columns name surveyors: each row its own.
    obs = ingest.ingest_site(
        _site_of(path, kind="observations", personal_columns=personal),
        study_area_bbox=WORLD,
        today=TODAY,
        secret=secret,
    )
    assert obs.ingested["household_key"].is_unique


# --------------------------------------------------------------------------- secret
def test_secret_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = secret.create_secret(tmp_path / "secrets" / "bondy.key")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    before = path.read_bytes()
    with pytest.raises(secret.SecretExistsError):
        secret.create_secret(path)
    assert path.read_bytes() == before
    assert len(secret.load_secret(path, config_path="c.toml", site_id="bondy")) == 32


def test_secret_is_gitignored() -> None:
    ignored = Path(".gitignore").read_text(encoding="utf-8").splitlines()
    assert "data/secrets/" in ignored
    assert load_config("config/demo.toml").secrets_dir == "data/secrets"


def _config_with_secrets(tmp_path: Path) -> Path:
    text = Path("config/demo.toml").read_text(encoding="utf-8")
    text = text.replace(
        'processed_dir = "data/processed"', f'processed_dir = "{tmp_path / "processed"}"'
    )
    text = text.replace("[project]\n", f'[project]\nsecrets_dir = "{tmp_path / "secrets"}"\n')
    cfg = tmp_path / "vigie.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def test_cli_creates_the_secret_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config_with_secrets(tmp_path)
    assert main(["-q", "secret", "--config", str(cfg), "--site", "paris10"]) == 0
    path = tmp_path / "secrets" / "paris10.key"
    first = path.read_bytes()
    assert main(["-q", "secret", "--config", str(cfg), "--site", "paris10"]) == 2
    err = capsys.readouterr().err
    assert "un secret existe déjà" in err
    assert "paris10.key" in err
    assert path.read_bytes() == first


def test_ingestion_without_secret_stops_with_how_to_create_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config_with_secrets(tmp_path)
    out = tmp_path / "out"
    bounds = osm_bounds_file(tmp_path, "data/raw/paris10/paris10.osm")
    args = ["--site", "paris10", "--out-dir", str(out), "--bounds", str(bounds)]
    code = main(["-q", "ingest", "--config", str(cfg), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("erreur") == 1
    assert "paris10.key" in err
    assert "make secrets" in err
    assert f"vigie secret --config {cfg} --site paris10" in err
    assert not (out / "ingested.parquet").exists()  # nothing written, no unkeyed hash


@pytest.mark.parametrize("state", ["bom", "folder", "not ascii"])
def test_a_bad_secret_file_stops_ingestion_with_its_cause_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], state: str
) -> None:
    """A secret saved by an editor with a byte-order mark, a folder where the secret
    should be, a file of other text: one French message naming the file, its cause and
    what to do (not « vérifiez ses droits », not the system's English), exit 2."""
    cfg = _config_with_secrets(tmp_path)
    path = tmp_path / "secrets" / "paris10.key"
    path.parent.mkdir()
    if state == "folder":
        path.mkdir()
    else:
        prefix = "\ufeff" if state == "bom" else "clé secrète : "
        path.write_text(prefix + "ab" * 32 + "\n", encoding="utf-8")
    bounds = osm_bounds_file(tmp_path, "data/raw/paris10/paris10.osm")
    args = ["--site", "paris10", "--out-dir", str(tmp_path / "out"), "--bounds", str(bounds)]
    code = main(["-q", "ingest", "--config", str(cfg), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("erreur") == 1
    assert str(path) in err
    assert "Traceback" not in err
    assert "droits" not in err
    cause, fix = {
        "bom": ("BOM", "sans BOM"),
        "folder": ("est un dossier", f"vigie secret --config {cfg} --site paris10"),
        "not ascii": ("secret valide", f"vigie secret --config {cfg} --site paris10"),
    }[state]
    assert cause in err
    assert fix in err
    assert "directory" not in err.lower()


def test_cli_secret_over_a_folder_says_it_is_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config_with_secrets(tmp_path)
    path = tmp_path / "secrets" / "paris10.key"
    path.mkdir(parents=True)
    assert main(["-q", "secret", "--config", str(cfg), "--site", "paris10"]) == 2
    err = capsys.readouterr().err
    assert err.count("erreur") == 1
    assert str(path) in err
    assert "est un dossier" in err
    assert "déplacez ou supprimez ce dossier" in err
    assert "existe déjà" not in err
    assert "Traceback" not in err
    assert path.is_dir()


@pytest.mark.parametrize("content", ["", "abc", "zz" * 40])
def test_a_file_that_holds_no_secret_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "s.key"
    path.write_text(content, encoding="ascii")
    with pytest.raises(ConfigError, match="secret valide"):
        secret.load_secret(path, config_path="c.toml", site_id="s")


def test_make_creates_the_secret_before_ingestion() -> None:
    from pipelines.config.make import deps_fragment
    from pipelines.stages import stage

    assert "secret" in stage("ingest").settings
    text = deps_fragment(load_config("config/demo.toml"))
    for site in ("bondy", "paris10"):
        assert f"SECRET_{site} := data/secrets/{site}.key" in text
        rule = text.index(f"data/secrets/{site}.key: | $(VENV_STAMP)")
        assert f"$(VIGIE) secret --config $(CFG) --site {site}" in text[rule:].splitlines()[1]
    ingest_rule = next(line for line in text.splitlines() if "/ingested.parquet" in line)
    assert "$$(SECRET_$$*)" in ingest_rule.split(":", 1)[1]
    makefile = Path("Makefile").read_text(encoding="utf-8")
    assert "## secrets:" in makefile


# --------------------------------------------------------------------------- classes
def test_every_category_has_a_class() -> None:
    classes = category_classes()
    assert set(classes.values()) <= set(CLASSES)
    assert {c.code for c in CATEGORIES} == set(classes)
    assert classes["occupation"] == classes["nuisibles"] == classes["autre"] == PERSONNE
    for code in ("ascenseur", "eau_fuite", "electricite_eclairage", "proprete", "encombrants"):
        assert classes[code] == TECHNIQUE


def test_a_floor_or_a_flat_makes_a_report_person_related() -> None:
    texts = pd.Series(
        [
            "Ascenseur en panne depuis ce matin.",
            "Fuite au plafond, [logement].",  # a flat, scrubbed
            "Fuite chez le voisin du 3e étage.",
            "Plus de lumière au 2ème, palier.",
            "Le hall du bâtiment B est sale.",
            "Escalier 3, entrée 2 : ampoule grillée.",
            None,
        ]
    )
    assert scrub.names_dwelling(texts).tolist() == [False, True, True, True, False, False, False]
    cats = ["ascenseur", "eau_fuite", "eau_fuite", "electricite_eclairage", "proprete"]
    flags = person_related_flags([*cats, "occupation", "nuisibles"], scrub.names_dwelling(texts))
    assert flags.tolist() == [False, True, True, True, False, True, True]
    assert person_related("ascenseur", False, {"ascenseur": PERSONNE})
    assert not person_related("nuisibles", False, {"nuisibles": TECHNIQUE})


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ('{ ascenseurs = "personne" }', "sites[0].category_classes.ascenseurs"),
        ('{ ascenseur = "privé" }', "sites[0].category_classes.ascenseur"),
    ],
)
def test_unknown_class_or_code_is_one_french_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str, key: str
) -> None:
    text = Path("config/demo.toml").read_text(encoding="utf-8")
    text = text.replace(
        'attribution = ["osm", "ban", "rpls"]\n',
        f'attribution = ["osm", "ban", "rpls"]\ncategory_classes = {table}\n',
        1,
    )
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert err.value.key == key
    assert main(["-q", "deps", "--config", str(cfg), "--out", str(tmp_path / "d.mk")]) == 2
    message = capsys.readouterr().err
    assert message.count("erreur") == 1
    assert key in message
    assert "inconnue" in message


def test_site_overrides_classes(tmp_path: Path) -> None:
    text = Path("config/demo.toml").read_text(encoding="utf-8")
    text = text.replace(
        'attribution = ["osm", "ban", "rpls"]\n',
        'attribution = ["osm", "ban", "rpls"]\ncategory_classes = { chauffage = "personne" }\n',
        1,
    )
    cfg = tmp_path / "ok.toml"
    cfg.write_text(text, encoding="utf-8")
    config = load_config(cfg)
    assert config.site("bondy").category_classes == {"chauffage": PERSONNE}
    assert config.site("paris10").category_classes == {}
    assert check_category_classes({}, "c.toml", "k") == {}


# --------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def bondy_ingested(simulated_bondy: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Bondy's simulated sources ingested three times: twice with one secret, once with
    another."""
    tmp = tmp_path_factory.mktemp("household_bondy")
    cfg = write_demo_config(tmp, simulated_bondy)
    config = load_config(cfg)
    site = config.site("bondy")
    one = make_secret(tmp / "secrets", "bondy")
    other = make_secret(tmp / "other", "bondy")
    bbox = _bbox(config, "bondy", tmp)
    run = [
        ingest.ingest_site(site, study_area_bbox=bbox, today=TODAY, secret=s)
        for s in (one, one, other)
    ]
    truth = json.loads((simulated_bondy / "simulation_truth.json").read_text(encoding="utf-8"))
    return {"runs": run, "truth": truth, "secret": one}


def _reports(result: ingest.IngestResult) -> pd.DataFrame:
    frame = result.ingested
    return frame[frame["source_kind"] == "reports"]


def test_bondy_keys_are_stable_and_keyed(bondy_ingested: dict) -> None:
    first, again, other = (r.ingested for r in bondy_ingested["runs"])
    assert first["household_key"].tolist() == again["household_key"].tolist()
    assert set(first["household_key"]).isdisjoint(other["household_key"])
    # No key is a hash without the secret of what it keys (a report's own identity).
    plain = {
        household.unkeyed_digest(f"9report:{s}:{r}")
        for s, r in zip(first["source"], first["report_id"], strict=True)
    }
    assert plain.isdisjoint(first["household_key"])
    assert first["household_key"].str.fullmatch(r"[0-9a-f]{32}").all()


def test_bondy_households_follow_the_simulated_ones(
    simulated_bondy: Path, bondy_ingested: dict
) -> None:
    reports = _reports(bondy_ingested["runs"][0])
    truth = bondy_ingested["truth"]["households"]
    ticket = reports["report_id"].str.split(":", n=1).str[1]
    export = pd.read_csv(
        simulated_bondy / "signalements_bailleur.csv", sep=";", encoding="cp1252", dtype=str
    ).fillna("")
    export = export.drop_duplicates("N° ticket").set_index("N° ticket")
    name_only = (export["Téléphone"] == "") & (export["Logement"] == "")
    frame = pd.DataFrame(
        {
            "key": reports["household_key"].to_numpy(),
            "truth": ticket.map(truth).to_numpy(),
            "name_only": ticket.map(name_only).to_numpy(dtype=bool),
        }
    )
    assert frame["truth"].notna().all()
    n_keys, n_true = frame["key"].nunique(), frame["truth"].nunique()
    assert n_keys < len(frame)  # repeat reporters: fewer households than reports
    # A key never merges two simulated households through a phone or a dwelling (theirs
    # alone); only tickets known by a name alone may share a namesake's key.
    merged = frame.groupby("key")["truth"].nunique() > 1
    assert not frame.loc[frame["key"].isin(merged[merged].index), "name_only"].eq(False).any()
    assert merged.sum() < 0.01 * n_true
    # ...and splits one only when a ticket carries neither its flat nor its phone.
    assert n_true <= n_keys <= n_true * 1.1
    # The serial reporters are found: each files more than half its building's tickets.
    serial = set(bondy_ingested["truth"]["serial_households"])
    assert serial
    counts = frame[frame["truth"].isin(serial)].groupby("truth").size()
    assert (counts >= 10).all()
    assert len(counts) == len(serial)


def test_simulated_households_hold_one_phone_and_one_dwelling(
    simulated_bondy: Path, bondy_ingested: dict
) -> None:
    export = pd.read_csv(
        simulated_bondy / "signalements_bailleur.csv", sep=";", encoding="cp1252", dtype=str
    ).fillna("")
    export["truth"] = export["N° ticket"].map(bondy_ingested["truth"]["households"])
    assert export["truth"].notna().all()
    for column, fold in (
        ("Téléphone", household.normalise_phone),
        ("Logement", household.normalise_flat),
    ):
        given = export[export[column] != ""]
        folded = given[column].map(fold)
        assert (folded != "").all()
        # One value per household once folded, and no value shared by two households.
        assert (folded.groupby(given["truth"]).nunique() == 1).all()
        assert (given["truth"].groupby(folded).nunique() == 1).all()
        assert given[column].nunique() > folded.nunique()  # typed in several ways


def test_bondy_observations_are_their_own_households(bondy_ingested: dict) -> None:
    frame = bondy_ingested["runs"][0].ingested
    obs = frame[frame["source_kind"] == "observations"]
    assert len(obs)
    assert obs["household_key"].is_unique
    assert set(obs["household_key"]).isdisjoint(
        _reports(bondy_ingested["runs"][0])["household_key"]
    )


def test_person_related_column_on_bondy(bondy_ingested: dict) -> None:
    frame = bondy_ingested["runs"][0].ingested
    flags = frame["person_related"].to_numpy(bool)
    classes = category_classes()
    by_class = frame["category"].map(classes).eq(PERSONNE).to_numpy()
    assert (flags >= by_class).all()  # every personne-class report is person-related
    # Technical reports whose text names a flat or a floor are person-related too.
    named = scrub.names_dwelling(frame["description"])
    assert (flags == (by_class | named)).all()
    assert (named & ~by_class).any()
    assert (~flags).any()


def test_paris_has_one_household_per_report(tmp_path: Path, secret: bytes) -> None:
    cfg = load_config("config/demo.toml")
    site = cfg.site("paris10")
    bbox = _bbox(cfg, "paris10", tmp_path)
    result = ingest.ingest_site(site, study_area_bbox=bbox, today=TODAY, secret=secret)
    keys = result.ingested["household_key"]
    assert len(keys) > 50
    assert keys.is_unique
    again = ingest.ingest_site(site, study_area_bbox=bbox, today=TODAY, secret=secret)
    assert again.ingested["household_key"].tolist() == keys.tolist()


def _bbox(config, site_id: str, tmp: Path) -> tuple[float, float, float, float]:  # type: ignore[no-untyped-def]
    """The site's study area, as ingestion's run() finds it (the extract's bounds)."""
    site = config.site(site_id)
    bounds = ingest.read_bounds(osm_bounds_file(tmp, site.osm))
    return ingest.study_area(site, bounds, config_path=config.path)


def test_household_of_falls_back_to_the_report() -> None:
    frame = pd.DataFrame({"report_id": ["a", "b", "c"], "household_key": ["k", None, ""]})
    assert household_of(frame).tolist() == ["k", "report:b", "report:c"]
    assert household_of(frame.drop(columns="household_key")).tolist() == [
        "report:a",
        "report:b",
        "report:c",
    ]


# --------------------------------------------------------------------------- end to end
def test_households_counted_beside_reports(demo_run) -> None:  # type: ignore[no-untyped-def]
    for site in ("bondy", "paris10"):
        reports = pd.read_parquet(demo_run.site(site) / "reports.parquet")
        assert reports["household_key"].notna().all()
        buildings = pd.read_parquet(demo_run.site(site) / "buildings.parquet")
        assert (buildings["n_households"] <= buildings["n_reports"]).all()
        assert ((buildings["n_households"] > 0) == (buildings["n_reports"] > 0)).all()
        monthly = pd.read_parquet(demo_run.site(site) / "published" / "monthly.parquet")
        assert (
            (monthly["n_households"] >= 1) & (monthly["n_households"] <= monthly["n_reports"])
        ).all()
        if site == "paris10":
            assert (buildings["n_households"] == buildings["n_reports"]).all()
            assert (monthly["n_households"] == monthly["n_reports"]).all()
        else:
            assert (buildings["n_households"] < buildings["n_reports"]).any()
            assert (monthly["n_households"] < monthly["n_reports"]).any()


def _strings_of(path: Path) -> str:
    """Every value and name a file holds, as text (Parquet read, its pages being
    compressed; other files as bytes)."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        cells = [" ".join(table.column_names)]
        for column in table.columns:
            cells.append(" ".join(str(v) for v in column.to_pylist()))
        meta = table.schema.metadata or {}
        cells += [v.decode("utf-8", "replace") for v in meta.values()]
        return "\n".join(cells)
    return path.read_bytes().decode("utf-8", "replace")


def test_no_household_key_reaches_a_reader(demo_run) -> None:  # type: ignore[no-untyped-def]
    keys: set[str] = set()
    for site in ("bondy", "paris10"):
        keys |= set(pd.read_parquet(demo_run.site(site) / "reports.parquet")["household_key"])
    assert len(keys) > 1000
    # Every file a stage writes, but the two internal tables that carry the key on
    # purpose: published/ (what readers read), exports, charts, summaries, notes, maps.
    internal = {"ingested.parquet", "reports.parquet"}
    files = [
        p
        for site in ("bondy", "paris10")
        for p in sorted(demo_run.site(site).rglob("*"))
        if p.is_file() and not (p.parent == demo_run.site(site) and p.name in internal)
    ] + [p for p in sorted(demo_run.maps.rglob("*")) if p.is_file()]
    assert any(p.parent.name == "published" for p in files)
    assert any(p.suffix == ".html" for p in files)
    assert any(p.suffix == ".parquet" for p in files)
    secrets = [
        p.read_text(encoding="ascii").strip() for p in (demo_run.root / "secrets").glob("*.key")
    ]
    assert len(secrets) == 2
    for path in files:
        text = _strings_of(path).lower()
        assert "household_key" not in text, path
        # Every run of 32 hex digits or more, then the keys inside them: a key written
        # whole, or inside a longer hash, is found.
        runs = set(re.findall(r"[0-9a-f]{32,}", text))
        found = {k for k in keys for run in runs if k in run}
        assert not found, f"{path} : {len(found)} clé(s) de foyer"
        assert not any(s in run for s in secrets for run in runs), path
