"""Personal data in every field: what each output column keeps and loses, on the real
exports (DansMaRue, shipped in data/raw/paris10; the landlord export the simulator writes
for Bondy), and undeclared columns whose header looks personal."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from pipelines.config import SiteConfig, SourceConfig, load_config
from pipelines.ingest import stage as ingest
from pipelines.ingest.personal import looks_personal
from pipelines.ingest.scrub import PLACEHOLDERS, scrub_series
from tests.conftest import RAW, ROOT

TODAY = date(2025, 6, 1)
WORLD = (-180.0, -90.0, 180.0, 90.0)
DANSMARUE = RAW / "paris10" / "dansmarue_paris_2023-08_2024-09.csv"
PHONE, EMAIL, FLAT, NAME = (PLACEHOLDERS[k] for k in ("phones", "emails", "flats", "names"))
DOCTOR = re.compile(r"(?i)\b(?:docteurs?|dr)\b")


def _demo_source(site: str, source: str) -> SourceConfig:
    config = load_config(ROOT / "config" / "demo.toml")
    return next(s for s in config.site(site).sources if s.id == source)


def _ingest(*sources: SourceConfig) -> ingest.IngestResult:
    site = SiteConfig(id="t", name="t", osm="", sources=sources)
    result = ingest.ingest_site(site, study_area_bbox=WORLD, today=TODAY)
    for s in result.summary["sources"].values():
        assert s["rows_in"] == (
            s["accepted"] + s["duplicates"] + sum(s["rejected"].values()) + s["outside_study_area"]
        )
    return result


def _read_landlord(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)


def _write_landlord(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, sep=";", encoding="cp1252", index=False)
    return path


# --------------------------------------------------------------------------- addresses
def test_dansmarue_street_names_survive_ingestion() -> None:
    # The real file's addresses after a doctor ("Rue du Docteur Heulin") come out as
    # they went in: the address is protected from the name rules.
    raw = pd.read_csv(DANSMARUE, dtype=str, keep_default_na=False)
    doctors = raw[raw["adresse"].str.contains(DOCTOR)]
    assert len(doctors) >= 40
    result = _ingest(_demo_source("paris10", "dansmarue"))
    got = result.ingested.set_index("report_id")["address"]
    for ident, address in zip(doctors["id_dmr"], doctors["adresse"], strict=True):
        assert got[f"dansmarue:{ident}"] == address.strip()
    assert not got.str.contains(NAME, regex=False).any()
    s = result.summary["sources"]["dansmarue"]
    assert s["scrubbed"]["names"] == 0
    assert s["personal_columns_detected"] == []
    assert result.summary["personal_columns_detected"] == {}


def test_dansmarue_texts_unchanged_by_free_text_rules_too() -> None:
    # Even through every rule (as rejected.csv's original rows are scrubbed), the real
    # file's street names, coordinates (16 decimals), ids and dates stay: the only value
    # changed in 10,000 rows × 17 columns is an address typed "APT 31 Rue Didot".
    raw = pd.read_csv(DANSMARUE, dtype=str, keep_default_na=False)
    changed: set[tuple[str, str]] = set()
    for column in raw.columns:
        out, _ = scrub_series(raw[column].astype("str"))
        diff = out != raw[column]
        changed.update({(column, v) for v in raw.loc[diff, column]})
    assert changed == {("adresse", "APT 31 Rue Didot, 75014 PARIS")}


def test_decimals_in_rejected_rows_are_kept(tmp_path: Path) -> None:
    # Rejected rows of the real file keep their coordinates in rejected.csv
    # ("2.334404229526263", not "2.[téléphone]").
    raw = pd.read_csv(DANSMARUE, dtype=str, keep_default_na=False)
    raw.loc[:49, "datedecl"] = "pas une date"
    path = tmp_path / "dmr.csv"
    raw.to_csv(path, index=False)
    result = _ingest(dataclasses.replace(_demo_source("paris10", "dansmarue"), path=str(path)))
    rejected = result.rejected[result.rejected["reason"] == "unparseable_date"]
    assert len(rejected) == 50
    for original, shape in zip(rejected["original_row"], raw.loc[:49, "geo_shape"], strict=True):
        row = json.loads(original)
        assert row["geo_shape"] == shape
        assert PHONE not in original


# --------------------------------------------------------------------------- every column
def test_building_status_channel_ids_are_scrubbed(tmp_path: Path, simulated_bondy: Path) -> None:
    frame = _read_landlord(simulated_bondy / "signalements_bailleur.csv")
    frame = frame[frame["Date de création"].str.startswith("0")].head(200).copy()
    frame = frame.reset_index(drop=True)
    original = frame.copy()
    frame.loc[0, "Bâtiment"] = "BL-3 Mme Dupontel appt 12"
    frame.loc[1, "Statut"] = "Clôturé, rappeler M. Martinez au 06 12 34 56 78"
    frame.loc[2, "Canal"] = "Téléphone 07 11 22 33 44"
    frame.loc[3, "N° ticket"] = "0612345678"
    frame.loc[4, "N° ticket"] = "0698765432"
    frame.loc[5, "Sous-catégorie"] = "Fuite chez Mme Koné-Bamba"
    frame.loc[6, "Adresse"] = "12 rue du Docteur Roux, logt 46, tél 0611223344"
    path = _write_landlord(frame, tmp_path / "signalements_bailleur.csv")
    source = dataclasses.replace(_demo_source("bondy", "bailleur"), path=str(path))
    result = _ingest(source)
    rows = result.ingested.set_index("source_line")
    line = {k: k + 2 for k in range(len(frame))}  # header on line 1
    assert rows.loc[line[0], "building_ref"] == f"BL-3 {NAME} {FLAT}"
    assert rows.loc[line[1], "status"] == f"Clôturé, rappeler {NAME} au {PHONE}"
    assert rows.loc[line[2], "channel"] == f"Téléphone {PHONE}"
    ids = {rows.loc[line[3], "report_id"], rows.loc[line[4], "report_id"]}
    assert ids == {f"bailleur:{PHONE}#1", f"bailleur:{PHONE}#2"}
    assert result.ingested["report_id"].is_unique
    assert rows.loc[line[5], "subcategory"] == f"Fuite chez {NAME}"
    assert rows.loc[line[6], "address"] == f"12 rue du Docteur Roux, {FLAT}, tél {PHONE}"
    text = result.ingested.astype(str).to_csv() + result.rejected.to_csv()
    for planted in ("Dupontel", "Martinez", "06 12 34 56 78", "07 11 22 33 44", "0612345678",
                    "0698765432", "Koné-Bamba", "0611223344", "logt 46", "appt 12"):  # fmt: skip
        assert planted not in text, planted
    # Every other row's building, status and channel come out as they went in.
    for k in range(7, len(frame)):
        if line[k] not in rows.index:
            continue
        for role, column in (
            ("building_ref", "Bâtiment"),
            ("status", "Statut"),
            ("channel", "Canal"),
        ):
            want = original.loc[k, column].strip()
            got = rows.loc[line[k], role]
            assert (got if isinstance(got, str) else "") == want, (k, role)
    assert result.summary["sources"]["bailleur"]["scrubbed"]["phones"] >= 5


def test_names_after_a_civility_leave_the_ids(tmp_path: Path, simulated_bondy: Path) -> None:
    # A ticket number typed with the tenant's name and phone: the name goes from the id
    # too, in every output (ingested, outside the study area, history, rejected), while
    # ids that only look like a civility stay whole.
    frame = _read_landlord(simulated_bondy / "signalements_bailleur.csv")
    frame = frame[frame["Date de création"].str.startswith("0")].head(50).copy()
    frame = frame.reset_index(drop=True)
    planted = {
        0: "DI-2024-00003 Mme Durand2 0612345102",
        1: "DI-2024-00004 M. Le Goff",
        2: "DR-2024-001",
        3: "MME-45",
        4: "M12-3",
        5: "550e8400-e29b-41d4-a716-446655440000",
    }
    for k, ident in planted.items():
        frame.loc[k, "N° ticket"] = ident
    path = _write_landlord(frame, tmp_path / "signalements_bailleur.csv")
    source = dataclasses.replace(_demo_source("bondy", "bailleur"), path=str(path))
    result = _ingest(source)
    rows = result.ingested.set_index("source_line")
    assert rows.loc[2, "report_id"].startswith(f"bailleur:DI-2024-00003 {NAME}2 {PHONE}#")
    assert rows.loc[3, "report_id"].startswith(f"bailleur:DI-2024-00004 {NAME}#")
    for k in (2, 3, 4, 5):
        assert rows.loc[k + 2, "report_id"] == f"bailleur:{planted[k]}"
    assert result.ingested["report_id"].is_unique
    text = "".join(
        part.astype(str).to_csv()
        for part in (result.ingested, result.rejected, result.outside, result.history)
    )
    for secret in ("Durand", "Goff", "0612345102"):
        assert secret not in text, secret
    assert result.summary["sources"]["bailleur"]["scrubbed"]["names"] >= 2


# --------------------------------------------------------------------------- headers
@pytest.mark.parametrize(
    ("header", "personal"),
    [
        ("Nom", True),
        ("nom", True),
        ("Prénom", True),
        ("NOM DU DEMANDEUR", True),
        ("NomDuLocataire", True),
        ("Téléphone", True),
        ("tel", True),
        ("Tél. portable", True),
        ("Mail", True),
        ("Courriel", True),
        ("E-mail", True),
        ("adresse électronique", True),
        ("Logement", True),
        ("Appartement", True),
        ("N° appt", True),
        ("Locataire", True),
        ("Demandeur", True),
        ("phoneNumber", True),
        ("First name", True),
        ("Nom de la rue", False),
        ("nom_voie", False),
        ("Nom de la résidence", False),
        ("Type de logement", False),
        ("Nb logements", False),
        ("Canal de contact", False),
        ("Coordonnées GPS", False),
        ("hotel", False),
        ("N° ticket", False),
        ("numero", False),
        ("intervenant", False),
        ("adresse", False),
    ],
)
def test_personal_headers(header: str, personal: bool) -> None:
    assert looks_personal(header) is personal


def test_no_shipped_mapped_column_looks_personal() -> None:
    # The columns the demo configuration maps to roles are not personal ones.
    config = load_config(ROOT / "config" / "demo.toml")
    for site in config.sites:
        for source in site.sources:
            for role, column in source.columns.items():
                assert not looks_personal(column), (source.id, role, column)


def test_undeclared_personal_columns_never_reach_rejected(
    tmp_path: Path, simulated_bondy: Path
) -> None:
    frame = _read_landlord(simulated_bondy / "signalements_bailleur.csv").head(300).copy()
    frame = frame.rename(columns={"Nom du demandeur": "Nom"})
    frame["Courriel"] = [f"locataire{k}@exemple.fr" for k in range(len(frame))]
    frame["Portable"] = [f"07 00 00 {k // 100:02d} {k % 100:02d}" for k in range(len(frame))]
    frame.loc[:19, "Date de création"] = ""  # 20 rows rejected: missing date
    path = _write_landlord(frame, tmp_path / "export.csv")
    # One ragged line: a field too many before the personal columns.
    lines = path.read_text(encoding="cp1252").splitlines()
    lines[30] = lines[30].replace(";", ";en trop;", 1)
    path.write_text("\n".join(lines) + "\n", encoding="cp1252")
    source = dataclasses.replace(
        _demo_source("bondy", "bailleur"), path=str(path), personal_columns=()
    )
    result = _ingest(source)
    detected = ["Nom", "Téléphone", "Logement", "Courriel", "Portable"]
    assert result.summary["personal_columns_detected"] == {"bailleur": detected}
    assert result.summary["sources"]["bailleur"]["personal_columns_detected"] == detected
    rejected = result.rejected[result.rejected["source_line"] > 0]
    assert len(rejected) >= 21
    assert "malformed_row" in set(rejected["reason"])
    for original in rejected["original_row"]:
        row = json.loads(original)
        assert not set(detected) & set(row), row
    blob = result.rejected.to_csv() + result.ingested.astype(str).to_csv()
    blob += json.dumps(result.summary, ensure_ascii=False)
    names = {n for n in frame["Nom"] if len(n) > 6}
    assert names
    assert not [n for n in names if n in blob]
    assert "@exemple.fr" not in blob
    assert "07 00 00" not in blob


def test_mapped_personal_header_keeps_its_role(tmp_path: Path, simulated_bondy: Path) -> None:
    # "Logement" mapped as the building reference is kept (the configuration says what
    # it is), its flat numbers scrubbed; the other personal-looking headers are detected.
    frame = _read_landlord(simulated_bondy / "signalements_bailleur.csv").head(300)
    path = _write_landlord(frame, tmp_path / "export.csv")
    base = _demo_source("bondy", "bailleur")
    columns = {**base.columns, "building_ref": "Logement"}
    source = dataclasses.replace(base, path=str(path), personal_columns=(), columns=columns)
    result = _ingest(source)
    assert result.summary["personal_columns_detected"] == {
        "bailleur": ["Nom du demandeur", "Téléphone"]
    }
    refs = result.ingested["building_ref"].dropna()
    assert len(refs) > 20
    assert set(refs) == {FLAT}
