"""The publication step's gate and the committee pack's figures, on the demo's Bondy run.

- A ledger left by another build (here: the same reports keyed by another secret, so
  every household differs) is refused before any linear program, with one French error
  naming the site, the profile and how to reset the ledger, and nothing is written.
- A publication whose audit fails is never written for readers.
- Every hotspot figure the committee pack shows (key figures, lists, method note) is the
  published building profile's: one number for one thing.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest

from pipelines.cli import main
from pipelines.config import load_config
from pipelines.errors import PublicationError, VigieError
from pipelines.maps.pack import committee_pack_html, coverage, drawn_zones, hotspot_tables
from pipelines.publish import stage as publish_stage
from pipelines.publish.cells import microdata
from pipelines.publish.ledger import counted_rows, joined, ledger_path, write_ledger
from pipelines.publish.ledger_check import LedgerMismatchError, check_ledger, ledger_drift
from pipelines.publish.protect import Protection
from pipelines.published import FILES, read_published
from pipelines.stats import disclosure

PERSON = frozenset({"occupation", "nuisibles", "autre"})


def _site(demo_run: Any, ledger_dir: Path) -> tuple[Any, Any]:
    """The demo's configuration and its Bondy site, with the ledger in ``ledger_dir``
    (the demo run's own ledger is shared by the test processes)."""
    config = load_config(demo_run.config)
    site = config.site("bondy")
    site = replace(site, publication=replace(site.publication, ledger_dir=str(ledger_dir)))
    return config, site


def _ledger_of(reports: pd.DataFrame) -> pd.DataFrame:
    """A ledger whose « counted » rows are ``reports``' closed months (every month but
    the last): what publishing them wrote."""
    micro = microdata(reports, zone_of={}, person_related=PERSON)
    months = sorted(set(micro["month"]))
    counted = counted_rows(micro, None, set(months[:-1]), "month")
    return joined({"counted": counted})


def _other_secret(reports: pd.DataFrame) -> pd.DataFrame:
    """The same reports keyed by another secret: every household key differs (a keyed
    hash with another key is unrelated to the first; a suffix stands for it)."""
    key = reports["household_key"].astype("string")
    return reports.assign(household_key=(key + "-autre-secret").where(key.notna(), key))


def _no_lp(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the engine's linear programs ran on a ledger that does not match")


def test_the_ledger_of_the_same_data_matches(demo_run: Any) -> None:
    reports = gpd.read_parquet(demo_run.site("bondy") / "reports.parquet")
    ledger = _ledger_of(reports)
    micro = microdata(reports, zone_of={}, person_related=PERSON)
    drift = ledger_drift(ledger, micro, "month")
    assert drift["counted"] > 1000
    assert drift["checked"] == drift["counted"]
    assert drift["missing"] == drift["moved"] == 0
    # under another secret, every report the ledger counted is filed elsewhere
    other = microdata(_other_secret(reports), zone_of={}, person_related=PERSON)
    assert ledger_drift(ledger, other, "month")["moved"] == drift["counted"]


def test_a_ledger_written_before_the_digests_gets_them(demo_run: Any) -> None:
    """A ledger of the periods alone (as written before the digests) is checked on them,
    then rewritten with the digests of the reports still in the same period."""
    reports = gpd.read_parquet(demo_run.site("bondy") / "reports.parquet")
    micro = microdata(reports, zone_of={}, person_related=PERSON)
    legacy = _ledger_of(reports).drop(columns="digest")
    drift = ledger_drift(legacy, micro, "month")
    assert drift["checked"] == 0
    assert drift["missing"] == drift["moved"] == 0
    other = microdata(_other_secret(reports), zone_of={}, person_related=PERSON)
    assert ledger_drift(legacy, other, "month")["moved"] == 0  # the periods cannot tell
    again = joined({"counted": counted_rows(micro, legacy, set(), "month")})
    assert ledger_drift(again, micro, "month")["checked"] == drift["counted"]
    assert ledger_drift(again, other, "month")["moved"] == drift["counted"]


def test_a_ledger_from_another_build_stops_publish_before_the_lp(
    demo_run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    processed = demo_run.site("bondy")
    config, site = _site(demo_run, tmp_path / "ledger")
    reports = gpd.read_parquet(processed / "reports.parquet")
    rule = site.publication.rule(None)
    path = ledger_path(tmp_path / "ledger", "bondy", rule.name)
    write_ledger(_ledger_of(_other_secret(reports)), path)
    monkeypatch.setattr(publish_stage, "apply_profile", _no_lp)
    dst = tmp_path / "published"
    with pytest.raises(LedgerMismatchError) as err:
        publish_stage.run(config, site, processed=processed, dst_dir=dst)
    text = str(err.value)
    assert err.value.exit_code == 2
    assert "« bondy »" in text
    assert f"« {rule.name} »" in text
    assert str(path) in text
    assert "ménage" in text
    assert f"make ledger-reset SITE=bondy PROFILE={rule.name}" in text
    assert not dst.exists() or not any(dst.iterdir())
    assert path.exists()  # never reset behind the user's back


def test_the_rule_a_ledger_was_published_under_is_checked(demo_run: Any, tmp_path: Path) -> None:
    """A ledger stamped with another threshold is refused, even over the same reports."""
    reports = gpd.read_parquet(demo_run.site("bondy") / "reports.parquet")
    _, site = _site(demo_run, tmp_path)
    rule = site.publication.rule(None)
    path = ledger_path(tmp_path, "bondy", rule.name)
    ledger = _ledger_of(reports)
    old = replace(rule, min_households=rule.min_households + 2)
    write_ledger(ledger, path, stamp={"rule": old.as_dict(), "person_related": sorted(PERSON)})
    with pytest.raises(LedgerMismatchError, match="la règle de publication a changé"):
        check_ledger(ledger, reports, rule=rule, person_related=PERSON, site_id="bondy", path=path)
    write_ledger(ledger, path, stamp={"rule": rule.as_dict(), "person_related": sorted(PERSON)})
    drift = check_ledger(
        ledger, reports, rule=rule, person_related=PERSON, site_id="bondy", path=path
    )
    assert drift["moved"] == drift["missing"] == 0


def test_a_failed_audit_publishes_nothing(
    demo_run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stage with the engine's audit failing on the building table (the engine
    itself stubbed: its programs take minutes on the whole of Bondy): one French error,
    and no file of ``published/``."""
    processed = demo_run.site("bondy")
    config, site = _site(demo_run, tmp_path / "ledger")

    def failing(published: Any, *args: Any, **kwargs: Any) -> tuple[Protection, None]:
        audit = {
            "profile": kwargs["rule"].name,
            "passed": False,
            "person_related": sorted(PERSON),
            "frozen_periods": ["2024-01"],
            "frozen_problems": [],
            "joint": {
                "passed": False,
                "tables": [
                    {"dims": ["zone", "building_id"], "n_unprotected": 2, "n_sensitive_shown": 0},
                    {"dims": ["zone"], "n_unprotected": 0, "n_sensitive_shown": 0},
                ],
            },
        }
        return Protection(published, audit, {}), None

    monkeypatch.setattr(publish_stage, "apply_profile", failing)
    dst = tmp_path / "published"
    with pytest.raises(PublicationError) as err:
        publish_stage.run(config, site, processed=processed, dst_dir=dst)
    text = str(err.value)
    assert "« bondy »" in text
    assert "audit" in text
    assert "zone × bâtiment (2 case(s) masquée(s) recalculable(s)" in text
    assert "zone (" not in text  # the table that passed
    assert "Rien n'a été publié" in text
    assert "make ledger-reset SITE=bondy" in text
    assert not dst.exists() or not any(dst.iterdir())
    assert isinstance(err.value, VigieError)
    assert err.value.exit_code == 2


def test_the_cli_says_the_ledger_error_in_french_without_a_traceback(
    demo_run: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``vigie publish`` with the demo's ledger replaced by one of another secret: exit
    code 2, one line in French, no traceback, nothing written."""
    processed = demo_run.site("bondy")
    site = load_config(demo_run.config).site("bondy")
    assert site.publication.ledger_dir is None  # the ledger beside the notes
    text = Path(demo_run.config).read_text(encoding="utf-8")
    line = f'annotations_dir = "{demo_run.root / "annotations"}"'
    assert line in text
    cfg = tmp_path / "demo.toml"
    cfg.write_text(
        text.replace(line, f'annotations_dir = "{tmp_path / "annotations"}"'), encoding="utf-8"
    )
    other = tmp_path / "annotations" / ".ledger"
    reports = gpd.read_parquet(processed / "reports.parquet")
    rule = site.publication.rule(None)
    write_ledger(_ledger_of(_other_secret(reports)), ledger_path(other, "bondy", rule.name))
    dst = tmp_path / "published"
    args = ["-q", "publish", "--config", str(cfg), "--site", "bondy"]
    code = main([*args, "--processed-dir", str(processed), "--out-dir", str(dst)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert err.startswith("vigie : erreur : site « bondy »")
    assert not dst.exists() or not any(dst.iterdir())


# ----------------------------------------------------------------------------- one figure
def _note_hot(note_md: str) -> int:
    found = re.findall(r"Points chauds à 95 % ou plus : ([\d\u202f ]+) ; points froids", note_md)
    assert len(found) == 1, found
    return int(re.sub(r"\D", "", found[0]))


def test_the_pack_gives_one_count_of_hotspot_buildings(demo_run: Any) -> None:
    """The key figure, the list of hotspot buildings and the method note of Bondy's
    committee pack give the number of hotspot buildings the published profile shows
    (its ``gi_bin`` at 95 % or more, « s » left out), though the analysis classed
    more: some of its hot buildings are drawn from too few households."""
    published_dir = demo_run.site("bondy") / "published"
    published = read_published(published_dir)
    profile = published.profile
    bins = pd.to_numeric(profile["gi_bin"], errors="coerce")
    shown_hot = int(((bins >= 2) & (profile["gi_bin_flag"] != "s")).sum())
    analysis = pd.read_json(demo_run.site("bondy") / "hotspot_summary.json", typ="series")
    assert analysis["gi"]["n_hot_95"] > shown_hot  # else this test could not fail
    note_md = (published_dir / FILES["method_note_md"]).read_text(encoding="utf-8")
    assert _note_hot(note_md) == shown_hot
    assert published.site["totals"]["hotspots_95"] == shown_hot
    note_html = (published_dir / FILES["method_note"]).read_text(encoding="utf-8")
    pack = committee_pack_html(
        published, site_name="Bondy Nord", simulated=True, attributions=["osm"],
        method_note=note_html,
    )  # fmt: skip
    key = re.search(r"confiance ≥ 95 %\)</(?:td|th|dt)>\s*<(?:td|dd)[^>]*>([^<]+)<", pack)
    assert key is not None
    assert int(re.sub(r"\D", "", key.group(1))) == shown_hot
    assert _note_hot(pack) == shown_hot
    cover = coverage(published.actions, profile, drawn_zones(published))
    tables = hotspot_tables(published, cover)
    assert tables["n_hot"] == shown_hot
    # each drawn zone's count: its shown hotspot buildings (the profile's zone_id)
    hot_zone = profile.loc[(bins >= 2) & (profile["gi_bin_flag"] != "s"), "zone_id"]
    for z in tables["zones"]:
        assert int(z["n_buildings"]) == int((hot_zone.astype(str) == z["id"]).sum()), z
    assert tables["zones"]


def test_the_published_note_counts_the_published_chronic_problems(demo_run: Any) -> None:
    published_dir = demo_run.site("bondy") / "published"
    chronic = pd.read_parquet(published_dir / FILES["chronic"])
    pairs = chronic.drop_duplicates(["building_id", "category"])
    note_md = (published_dir / FILES["method_note_md"]).read_text(encoding="utf-8")
    found = re.search(
        r"([\d\u202f ]+) couple\(s\) chronique\(s\) sur ([\d\u202f ]+) bâtiment", note_md
    )
    assert found is not None
    assert int(re.sub(r"\D", "", found.group(1))) == len(pairs)
    assert int(re.sub(r"\D", "", found.group(2))) == pairs["building_id"].nunique()


def test_ledger_reset_archives_the_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``vigie ledger-reset`` moves the ledger to its archive (never deletes it); a second
    reset finds none."""
    text = Path("config/demo.toml").read_text(encoding="utf-8")
    line = 'annotations_dir = "data/annotations"'
    assert line in text
    cfg = tmp_path / "demo.toml"
    cfg.write_text(text.replace(line, f'annotations_dir = "{tmp_path}"'), encoding="utf-8")
    path = ledger_path(tmp_path / ".ledger", "bondy", "comite")
    ledger = joined({"counted": pd.DataFrame({"report_id": ["a"], "month": ["2025-01"]})})
    write_ledger(ledger, path)
    args = ["ledger-reset", "--config", str(cfg), "--site", "bondy", "--profile", "comite"]
    assert main(args) == 0
    assert not path.exists()
    archived = list((path.parent / "archive").glob("comite_monthly.*.parquet"))
    assert len(archived) == 1
    assert str(archived[0]) in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_parquet(archived[0]), ledger)
    assert main(args) == 0
    assert "Aucun registre" in capsys.readouterr().out


def test_indicators_whose_audit_fails_are_never_written(
    demo_run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The indicators' engine run (``indicators_audit.json``) with a table that fails:
    one French error naming the site, the profile and the table, exit code 2, and no
    indicator file written (not even the audit)."""
    from pipelines.publish import indicators as publish_indicators

    real = publish_indicators.protect_tables

    def failing(*args: Any, **kwargs: Any) -> disclosure.Protection:
        protected = real(*args, **kwargs)
        audit = protected.audit
        assert audit["passed"]  # the demo's own audit passes: the failure is this test's
        bad = {"dims": ["quarter", "category"], "n_unprotected": 3, "n_sensitive_shown": 0}
        failed = {**audit, "passed": False, "tables": [bad, *audit["tables"]]}
        return replace(protected, audit=failed)

    monkeypatch.setattr(publish_indicators, "protect_tables", failing)
    config = load_config(demo_run.config)
    dst = tmp_path / "published"
    with pytest.raises(PublicationError) as err:
        publish_indicators.run_indicators(
            config, config.site("bondy"), processed=demo_run.site("bondy"), dst_dir=dst
        )
    text = str(err.value)
    assert "« bondy »" in text
    assert "« comite »" in text
    assert "indicateurs" in text
    assert "trimestre × catégorie (3 case(s) masquée(s) recalculable(s)" in text
    assert "Rien n'a été publié" in text
    assert err.value.exit_code == 2
    assert not dst.exists() or not any(dst.iterdir())
