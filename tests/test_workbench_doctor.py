"""``vigie doctor``: what is missing, with what to do, and the exit code that says it."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.workbench import installation
from tests.conftest import ROOT, write_demo_config


def doctor(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["-q", "doctor", "--config", str(config)])
    return code, capsys.readouterr().out


def test_a_ready_installation_and_configuration_exit_0(
    tmp_path: Path, simulated_bondy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_demo_config(tmp_path, simulated_bondy)  # with both sites' secrets
    code, out = doctor(config, capsys)
    assert code == 0, out
    assert "✗" not in out
    assert "Bilan : tout ce qu'il faut est là." in out
    assert "Site « bondy »" in out
    assert "Site « paris10 »" in out
    assert f"secret du site : {tmp_path / 'secrets' / 'bondy.key'}" in out


def test_every_missing_file_is_listed_with_what_to_do(
    tmp_path: Path, simulated_bondy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_demo_config(tmp_path, simulated_bondy)
    text = config.read_text(encoding="utf-8")
    text = text.replace("data/raw/paris10/dansmarue_paris_2023-08_2024-09.csv", "absent/dmr.csv")
    text = text.replace("data/raw/paris10/paris10.osm", "absent/paris10.osm")
    config.write_text(text, encoding="utf-8")
    (tmp_path / "secrets" / "bondy.key").unlink()
    code, out = doctor(config, capsys)
    assert code == 1
    # The three problems, each with its fix; the configuration itself loads.
    assert "✓ lue sans erreur : 2 sites" in out
    assert "✗ extrait OSM : « absent/paris10.osm » : fichier introuvable" in out
    assert "✗ source « dansmarue » : « absent/dmr.csv » : fichier introuvable" in out
    assert "clé sites[1].sources[0].path" in out
    assert "✗ secret du site absent" in out
    assert "--site bondy" in out
    assert "Bilan : 3 éléments à corriger" in out


def test_a_configuration_that_does_not_load_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[sites]]\nid = "x"\nosm = "x.osm"\nsoruces = []\n', encoding="utf-8")
    code, out = doctor(bad, capsys)
    assert code == 2
    assert "bad.toml" in out
    assert "soruces" in out
    assert "la configuration est à corriger" in out


def test_two_sites_writing_one_file_exit_2(
    tmp_path: Path, simulated_bondy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # « paris10_comite » would write maps/paris10_comite.html, the committee pack of
    # site « paris10 »: `vigie run` and make refuse it, the doctor must not say « ready ».
    config = write_demo_config(tmp_path, simulated_bondy)
    text = config.read_text(encoding="utf-8")
    assert 'id = "bondy"' in text
    config.write_text(text.replace('id = "bondy"', 'id = "paris10_comite"', 1), encoding="utf-8")
    code, out = doctor(config, capsys)
    assert code == 2, out
    assert "paris10_comite.html » serait aussi un fichier du site « paris10_comite »" in out
    assert "Bilan : tout ce qu'il faut est là." not in out


def test_a_missing_package_is_reported_not_raised(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without geopandas the command says what to do, never imports the configuration
    checks (which need it), and exits 1."""
    real = metadata.version

    def version(name: str) -> str:
        if name == "geopandas":
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(installation.metadata, "version", version)
    code = main(["-q", "doctor", "--config", str(ROOT / "config" / "demo.toml")])
    out = capsys.readouterr().out
    assert code == 1
    assert "✗ paquet Python geopandas absent" in out
    assert "make setup" in out
    assert "Configuration" not in out  # not checked: the installation comes first


def test_versions_compare_by_their_numbers() -> None:
    key = installation._version_key
    assert key("2.10.1") > key("2.2") == key("2.2rc1") == (2, 2)
    assert key("1.26.4") >= key("1.26")
    assert not key("0.9") >= key("0.17")
