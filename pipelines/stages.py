"""Where each stage reads and writes, per site: the file contract of the pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipelines.config.core import Config


@dataclass(frozen=True)
class SitePaths:
    """The files of one site under ``processed_dir/<site>/`` and ``maps_dir``."""

    site: str
    processed: Path
    maps: Path
    annotations: Path

    @classmethod
    def of(cls, config: Config, site: str) -> SitePaths:
        """Paths of ``site`` as laid out by ``config``."""
        return cls(
            site=site,
            processed=Path(config.processed_dir) / site,
            maps=Path(config.maps_dir),
            annotations=Path(config.annotations_dir) / site,
        )

    # ingestion
    @property
    def ingested(self) -> Path:
        return self.processed / "ingested.parquet"

    @property
    def rejected(self) -> Path:
        return self.processed / "rejected.csv"

    @property
    def outside(self) -> Path:
        return self.processed / "outside_study_area.csv"

    @property
    def ingest_summary(self) -> Path:
        return self.processed / "ingest_summary.json"

    # buildings and geocoding
    @property
    def buildings_osm(self) -> Path:
        return self.processed / "buildings_osm.parquet"

    @property
    def reports(self) -> Path:
        return self.processed / "reports.parquet"

    @property
    def geocode_summary(self) -> Path:
        return self.processed / "geocode_summary.json"

    # statistics
    @property
    def buildings(self) -> Path:
        return self.processed / "buildings.parquet"

    @property
    def hotspot_summary(self) -> Path:
        return self.processed / "hotspot_summary.json"

    # outputs
    @property
    def run_summary(self) -> Path:
        return self.processed / "run_summary.json"

    @property
    def map(self) -> Path:
        return self.maps / f"{self.site}.html"

    # publication: what every reader reads (pipelines.publish.tables.FILES)
    @property
    def published(self) -> Path:
        return self.processed / "published"

    @property
    def building_profile(self) -> Path:
        return self.published / "building_profile.parquet"

    @property
    def published_site(self) -> Path:
        return self.published / "site.json"
