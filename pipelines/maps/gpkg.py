"""The site's GeoPackage for QGIS: ``processed/<site>/vigie_<site>.gpkg``, styled.

Built from the published tables only (``published/``, the profile of ``[publication.outputs]
gpkg``, ``comite`` by default), as every renderer is, in EPSG:4326. A GIS officer opens
it in QGIS and finds each layer styled in the map's colours
(:mod:`pipelines.maps.gpkg_styles`), with French field names
(:mod:`pipelines.maps.gpkg_fields`). A value the publication step hid stays hidden: the
count is empty (NULL) and its companion ``<column>_flag`` says « s ».

Layers (each only when its table has rows, but ``batiments``):

``batiments``
    The building profile: every published column (counts with their flags, rate, Gi*
    bins, chronic, trends, before/after…).
``zones``
    The hotspot zones.
``densite``
    The density contours (quartic kernel), one polygon per band.
``points``
    The published points (the walkthrough observations in the ``comite`` profile; the
    residents' reports too in ``interne``), with the category's French label.
``notes``, ``notes_surfaces``, ``notes_lignes``
    The planners' notes, split by geometry (a GeoPackage layer holds one kind): points and
    notes without a position, drawn areas, drawn lines.
``actions``
    The action register's published table (``published/actions.parquet``), when the
    site has one.

- **Field aliases** go in the GeoPackage's own schema extension (``gpkg_schema``): one row
  per column in ``gpkg_data_columns`` with the French alias as ``name`` and ``title`` and,
  for a flag column, a ``description``. GDAL (3.7 and later) reads them as the fields'
  alternative names, which QGIS shows as aliases; the aliases are also in each style's
  ``<aliases>``, for an older QGIS.
- **Styles** go in the ``layer_styles`` table, the convention QGIS itself uses when it
  saves a style « dans la base de données » (the first style of a layer is its default,
  ``useAsDefault``); QGIS applies it when the layer is opened. The same QML is written
  beside the file, ``vigie_<site>_<layer>[_<style>].qml``, for « Charger un style ».

pyogrio writes the layers; the two tables are then written with :mod:`sqlite3` (a
GeoPackage is an SQLite database): neither pyogrio nor geopandas writes alternative names
or styles. The file is built in a temporary folder beside its destination (GDAL wants the
``.gpkg`` extension) and moved into place, so an interrupted run leaves no half file.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from pipelines import __version__
from pipelines.config import Config, SiteConfig
from pipelines.io import read_geoparquet, write_text
from pipelines.maps.gpkg_fields import field_aliases, field_description, gpkg_ready
from pipelines.maps.gpkg_styles import (
    actions_style,
    building_styles,
    density_style,
    notes_style,
    points_style,
    zone_style,
)
from pipelines.maps.html import source_labels
from pipelines.maps.qml import Style, qml
from pipelines.published import FILES, Publication, Published, read_published
from pipelines.stages import SitePaths
from pipelines.taxonomy import label_of

log = logging.getLogger(__name__)

#: The published actions table (issue 17), when the site has an action register.
ACTIONS_FILE = FILES.get("actions", "actions.parquet")

#: QGIS's ``layer_styles`` table, as QGIS creates it.
LAYER_STYLES_SQL = """
CREATE TABLE IF NOT EXISTS layer_styles (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    f_table_catalog TEXT(256),
    f_table_schema TEXT(256),
    f_table_name TEXT(256),
    f_geometry_column TEXT(256),
    styleName TEXT(30),
    styleQML TEXT,
    styleSLD TEXT,
    useAsDefault BOOLEAN,
    description TEXT,
    owner TEXT(30),
    ui TEXT(30),
    update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)
"""
#: The schema extension's tables (GeoPackage 1.3, clause F.9), when GDAL made none.
DATA_COLUMNS_SQL = """
CREATE TABLE IF NOT EXISTS gpkg_data_columns (
    table_name TEXT NOT NULL,
    column_name TEXT NOT NULL,
    name TEXT,
    title TEXT,
    description TEXT,
    mime_type TEXT,
    constraint_name TEXT,
    CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name),
    CONSTRAINT gdc_tn UNIQUE (table_name, name)
)
"""
DATA_COLUMN_CONSTRAINTS_SQL = """
CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (
    constraint_name TEXT NOT NULL,
    constraint_type TEXT NOT NULL,
    value TEXT,
    min NUMERIC,
    min_is_inclusive BOOLEAN,
    max NUMERIC,
    max_is_inclusive BOOLEAN,
    description TEXT,
    CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value)
)
"""
SCHEMA_EXTENSION = "http://www.geopackage.org/spec/#extension_schema"
#: What each notes layer holds.
NOTES_DESCRIPTION = {
    "point": "Notes des urbanistes (sans les notes supprimées) ; une note sans position est "
    "ici, sans géométrie.",
    "polygon": "Notes des urbanistes (sans les notes supprimées) : surfaces dessinées.",
    "line": "Notes des urbanistes (sans les notes supprimées) : lignes dessinées.",
}


@dataclass(frozen=True)
class Layer:
    """One layer of the GeoPackage.

    Attributes
    ----------
    name
        Its table name (ASCII, what scripts use).
    title
        Its French title (``gpkg_contents.identifier``, shown by QGIS).
    geometry
        ``"point"``, ``"line"`` or ``"polygon"``.
    frame
        Its rows, GeoPackage-ready (:func:`gpkg_ready`), EPSG:4326.
    styles
        Its styles, the default first.
    description
        What it holds, in French (``gpkg_contents.description``).
    """

    name: str
    title: str
    geometry: str
    frame: gpd.GeoDataFrame
    styles: tuple[Style, ...]
    description: str = ""

    @property
    def aliases(self) -> dict[str, str]:
        return field_aliases(self.name, list(self.frame.columns.drop(self.frame.geometry.name)))


def _family(frame: gpd.GeoDataFrame) -> pd.Series:
    kinds = frame.geom_type.fillna("")
    return kinds.map(
        lambda k: "polygon" if "Polygon" in k else "line" if "LineString" in k else "point"
    )


def site_layers(published: Published, *, actions: gpd.GeoDataFrame | None = None) -> list[Layer]:
    """The GeoPackage's layers of one site, from its published tables.

    Parameters
    ----------
    published
        The site's published tables (:func:`pipelines.published.read_published`).
    actions
        ``published/actions.parquet`` when the site has an action register, else ``None``.

    Returns
    -------
    list of Layer
        ``batiments`` always; the others when their table has rows (see the module).
    """
    layers = [
        Layer(
            "batiments",
            "Bâtiments et indicateurs",
            "polygon",
            gpkg_ready(published.profile),
            building_styles(published),
            "Un bâtiment OSM par ligne : signalements, ménages, taux, points chauds (Gi*), "
            "chroniques, tendances, avant/après.",
        )
    ]
    if published.zones is not None and len(published.zones):
        z = published.zones
        layers.append(
            Layer(
                "zones", "Zones de points chauds", "polygon", gpkg_ready(z), (zone_style(z),),
                "Bâtiments points chauds voisins regroupés, identifiants stables d'un passage à "
                "l'autre.",
            )
        )  # fmt: skip
    if published.density is not None and len(published.density):
        d = published.density
        layers.append(
            Layer(
                "densite", "Densité de signalements", "polygon", gpkg_ready(d),
                (density_style(d),),
                "Signalements par hectare, noyau quartique : une bande par seuil.",
            )
        )  # fmt: skip
    pts = published.points
    if pts is not None and len(pts):
        frame = pts.copy()
        frame.insert(
            list(frame.columns).index("category") + 1,
            "category_label",
            frame["category"].map(lambda c: label_of(c, None)).astype("string"),
        )
        layers.append(
            Layer(
                "points", "Signalements et observations", "point", gpkg_ready(frame),
                (points_style(frame),),
                "Les points publiés : observations de terrain (et signalements des habitants "
                "en profil interne).",
            )
        )  # fmt: skip
    notes = published.notes
    if notes is not None and len(notes):
        family = _family(notes)
        for geometry, name, title in (
            ("point", "notes", "Notes des urbanistes (points)"),
            ("polygon", "notes_surfaces", "Notes des urbanistes (surfaces)"),
            ("line", "notes_lignes", "Notes des urbanistes (lignes)"),
        ):
            part = notes[family == geometry]
            if len(part):
                layers.append(
                    Layer(
                        name, title, geometry, gpkg_ready(part), (notes_style(geometry),),
                        NOTES_DESCRIPTION[geometry],
                    )
                )  # fmt: skip
    if actions is not None and len(actions):
        layers.append(
            Layer(
                "actions", "Actions décidées en comité", "polygon", gpkg_ready(actions),
                (actions_style(actions),),
                "Le registre des actions : cible, décision, responsable, échéance, statut, "
                "effet mesuré.",
            )
        )  # fmt: skip
    return layers


def layer_descriptions(
    layers: Sequence[Layer], published: Published, *, site_name: str, sources: Sequence[str]
) -> Mapping[str, str]:
    """Each layer's ``gpkg_contents.description``: what it holds, the site, the profile it
    was published under, and the sources' attributions."""
    publication = Publication.of(published.site)
    hidden = (
        f" ; une valeur vide dont la colonne « …_flag » vaut « s » est masquée (moins de "
        f"{publication.threshold} ménages, secret statistique)"
        if publication.profile != "interne"
        else ""
    )
    tail = f" Site : {site_name}. Profil de publication « {publication.profile} »{hidden}." + (
        f" Sources : {' ; '.join(sources)}." if sources else ""
    )
    return {layer.name: layer.description + tail for layer in layers}


#: The GeoPackage geometry type of each family, single and multi.
GEOMETRY_TYPES = {"point": "Point", "line": "LineString", "polygon": "Polygon"}


def geometry_type(frame: gpd.GeoDataFrame, family: str) -> str:
    """The layer's geometry type: the one of its features (``Polygon``), ``Multi…`` when
    they mix single and multi parts, the family's single type when none has a geometry."""
    kinds = set(frame.geom_type.dropna())
    if len(kinds) == 1:
        return str(kinds.pop())
    single = GEOMETRY_TYPES[family]
    return f"Multi{single}" if kinds else single


def qml_name(gpkg: Path, layer: str, slug: str = "") -> Path:
    """The QML file of a layer's style beside the GeoPackage: ``vigie_bondy_batiments.qml``
    for the default style, ``vigie_bondy_batiments_taux.qml`` for the style ``taux``."""
    suffix = f"_{slug}" if slug else ""
    return gpkg.with_name(f"{gpkg.stem}_{layer}{suffix}.qml")


def _register(con: sqlite3.Connection, table: str) -> None:
    """Register ``table`` in ``gpkg_extensions`` under the schema extension (once)."""
    con.execute(
        "INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, "
        "scope) SELECT ?, NULL, 'gpkg_schema', ?, 'read-write' WHERE NOT EXISTS (SELECT 1 "
        "FROM gpkg_extensions WHERE table_name = ? AND extension_name = 'gpkg_schema')",
        (table, SCHEMA_EXTENSION, table),
    )


def write_aliases(
    con: sqlite3.Connection, layers: Sequence[Layer], publication: Publication
) -> int:
    """Write every layer's French aliases into ``gpkg_data_columns``; the rows written."""
    con.execute(DATA_COLUMNS_SQL)
    con.execute(DATA_COLUMN_CONSTRAINTS_SQL)
    _register(con, "gpkg_data_columns")
    _register(con, "gpkg_data_column_constraints")
    rows = [
        (layer.name, column, alias, alias, field_description(column, publication))
        for layer in layers
        for column, alias in layer.aliases.items()
    ]
    con.executemany(
        "INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, title, "
        "description) VALUES (?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


def write_styles(con: sqlite3.Connection, styles: Sequence[tuple[str, str, str, bool]]) -> None:
    """Write QGIS's ``layer_styles`` table: one row per (layer, style name, QML, default),
    registered in ``gpkg_contents`` as an attributes table, as QGIS does."""
    con.execute(LAYER_STYLES_SQL)
    con.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
        "last_change, srs_id) SELECT 'layer_styles', 'attributes', 'layer_styles', "
        "'Styles QGIS des couches (Vigie)', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 0 "
        "WHERE NOT EXISTS (SELECT 1 FROM gpkg_contents WHERE table_name = 'layer_styles')"
    )
    con.executemany(
        "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
        "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, owner, "
        "ui) VALUES ('', '', ?, 'geom', ?, ?, '', ?, ?, 'Vigie', '')",
        [
            (layer, name, text, int(default), f"Vigie {__version__} : {name}")
            for layer, name, text, default in styles
        ],
    )


def write_gpkg(
    layers: Sequence[Layer],
    dst: Path,
    *,
    descriptions: Mapping[str, str],
    publication: Publication,
) -> Path:
    """Write ``layers`` into the GeoPackage ``dst``, with their aliases and styles, and
    each style as a QML file beside it (:func:`qml_name`; older ones of ``dst`` removed).

    Returns
    -------
    Path
        ``dst``.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    styles: list[tuple[str, str, str, bool]] = []
    files: dict[Path, str] = {}
    with tempfile.TemporaryDirectory(dir=dst.parent, prefix=f".{dst.name}.") as folder:
        tmp = Path(folder) / dst.name
        for layer in layers:
            frame = layer.frame
            kind = geometry_type(frame, layer.geometry)
            pyogrio.write_dataframe(
                frame,
                tmp,
                layer=layer.name,
                driver="GPKG",
                geometry_type=kind,
                promote_to_multi=kind.startswith("Multi"),
                layer_options={
                    "IDENTIFIER": layer.title,
                    "DESCRIPTION": descriptions.get(layer.name, layer.description),
                },
            )
            aliases = layer.aliases
            for i, style in enumerate(layer.styles):
                text = qml(replace(style, aliases=aliases), layer=layer.name)
                styles.append((layer.name, style.name, text, i == 0))
                files[qml_name(dst, layer.name, "" if i == 0 else style.slug or str(i))] = text
        with closing(sqlite3.connect(tmp)) as con, con:
            n_aliases = write_aliases(con, layers, publication)
            write_styles(con, styles)
        os.replace(tmp, dst)
    for path, text in files.items():
        write_text(text, path)
    for old in dst.parent.glob(f"{dst.stem}_*.qml"):
        if old not in files:  # a layer or style of an earlier run
            old.unlink()
    log.info(
        "wrote %s (%s; %d aliases, %d styles)",
        dst,
        ", ".join(f"{layer.name} {len(layer.frame)}" for layer in layers),
        n_aliases,
        len(styles),
    )
    return dst


def read_actions(published_dir: Path, published: Published) -> gpd.GeoDataFrame | None:
    """The published actions table (``actions.parquet``) when the site has one."""
    own = getattr(published, "actions", None)
    if own is not None:
        return own
    path = Path(published_dir) / ACTIONS_FILE
    return read_geoparquet(path) if path.exists() else None


def run_gpkg(config: Config, site: SiteConfig, *, processed: Path, dst: Path) -> Path:
    """Write the GeoPackage of ``site`` (``dst``) from its published tables in
    ``processed/published`` (and ``actions.parquet`` there when present), with a QML file
    per style beside it."""
    published_dir = Path(processed) / SitePaths.of(config, site.id).published.name
    published = read_published(published_dir)
    layers = site_layers(published, actions=read_actions(published_dir, published))
    descriptions = layer_descriptions(
        layers,
        published,
        site_name=site.name,
        sources=source_labels(list(site.attribution) or ["osm"]),
    )
    return write_gpkg(
        layers, dst, descriptions=descriptions, publication=Publication.of(published.site)
    )
