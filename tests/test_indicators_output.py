"""The indicators (the stage, and their publication) write through the shared atomic
writer: a folder they cannot write is one French error naming the file (the command's
« vigie : erreur : … », exit 2), not pyarrow's message without a file name and a
traceback. Found by a hostile run in session 22: the stage wrote its Parquet files
directly."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pipelines.config import load_config
from pipelines.errors import OutputError
from pipelines.indicators import run as run_indicators_stage
from pipelines.publish import run as run_publish
from pipelines.publish import run_indicators
from pipelines.published import INDICATOR_FILES

SITE = "paris10"


@pytest.fixture(scope="module")
def copy(demo_run: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
    tmp = tmp_path_factory.mktemp("blocked")
    config = load_config(demo_run.config)
    site = config.site(SITE)
    site = replace(site, publication=replace(site.publication, ledger_dir=str(tmp / "ledger")))
    processed = shutil.copytree(demo_run.site(SITE), tmp / SITE)
    return config, site, processed


def test_the_indicators_stage_into_a_folder_it_cannot_write_is_one_french_error(
    copy: tuple[Any, Any, Path],
) -> None:
    config, _, processed = copy
    # A folder where the file goes: the write fails as in a read-only folder (root
    # ignores chmod).
    target = processed / "indicators_entrance.parquet"
    target.unlink(missing_ok=True)
    target.mkdir()
    try:
        with pytest.raises(OutputError) as err:
            run_indicators_stage(config, SITE, processed=processed)
    finally:
        target.rmdir()
    assert str(target) in str(err.value)
    assert "écriture impossible" in str(err.value)
    run_indicators_stage(config, SITE, processed=processed)  # and it writes once free
    assert target.is_file()


def test_the_published_indicators_into_a_folder_it_cannot_write_are_one_french_error(
    copy: tuple[Any, Any, Path], tmp_path: Path
) -> None:
    config, site, processed = copy
    published = tmp_path / "published"
    run_publish(config, site, processed=processed, dst_dir=published)
    target = published / INDICATOR_FILES["site"]
    target.mkdir()
    with pytest.raises(OutputError) as err:
        run_indicators(config, site, processed=processed, dst_dir=published)
    assert str(target) in str(err.value)
    assert "écriture impossible" in str(err.value)
