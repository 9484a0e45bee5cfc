"""Foundation: CRS helpers, configuration errors, building footprints, point geocoding."""

from __future__ import annotations

import os
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import Point, box

from pipelines.cli import main
from pipelines.config import load_config
from pipelines.crs import LAMBERT93, WGS84, metric_crs_for, require_metric, to_metric
from pipelines.errors import ConfigError, CRSError
from pipelines.geocode.stage import geocode_points
from pipelines.osm.buildings import (
    build_buildings,
    dwelling_counts,
    dwellings_per_building,
    read_osm_bounds,
    read_osm_buildings,
    read_rpls,
)
from tests.conftest import RAW


def test_square_of_100_m_has_10000_m2() -> None:
    square = gpd.GeoSeries([box(650000, 6860000, 650100, 6860100)], crs=LAMBERT93)
    assert square.area.iloc[0] == pytest.approx(10_000.0)
    # Through WGS84 and back: still 10,000 m² to a few cm².
    back = to_metric(square.to_crs(WGS84))
    assert back.crs.to_epsg() == 2154
    assert back.area.iloc[0] == pytest.approx(10_000.0, rel=1e-6)


def test_metric_helpers_refuse_degrees() -> None:
    with pytest.raises(CRSError, match="géographique"):
        require_metric(WGS84)
    require_metric(LAMBERT93)
    assert metric_crs_for(2.35, 48.85) == LAMBERT93
    assert metric_crs_for(-61.5, 16.2) == "EPSG:32620"  # Guadeloupe: UTM 20N


def test_real_osm_buildings_have_stable_ids() -> None:
    b = read_osm_buildings(RAW / "bondy" / "bondy_nord.osm")
    assert len(b) == 1420  # the count given by the data's provenance note
    assert b["building_id"].is_unique
    assert b["building_id"].str.match(r"^(way|relation)/\d+$").all()
    assert set(b.geometry.geom_type) <= {"Polygon", "MultiPolygon"}
    assert b.crs.to_string() == WGS84
    west, south, east, north = read_osm_bounds(RAW / "bondy" / "bondy_nord.osm")
    cx, cy = b.geometry.representative_point().x, b.geometry.representative_point().y
    # Buildings are those intersecting the extract: nearly all centres inside the bounds.
    inside = (cx.between(west, east) & cy.between(south, north)).mean()
    assert inside > 0.95


def test_dwellings_from_rpls_are_attached_and_never_invented() -> None:
    b = build_buildings(RAW / "bondy" / "bondy_nord.osm", RAW / "bondy" / "rpls_bondy.gpkg")
    known = b["dwellings"].notna()
    assert known.sum() > 10
    assert (b.loc[known, "dwellings"] > 0).all()
    assert set(b.loc[known, "dwellings_source"]) <= {"rpls", "osm_flats"}
    assert b.loc[~known, "dwellings_source"].isna().all()
    # The RPLS dwellings attached never exceed those of the programmes in the extract.
    rpls = gpd.read_file(RAW / "bondy" / "rpls_bondy.gpkg", layer="rpls2022")
    assert b.loc[b["dwellings_source"] == "rpls", "dwellings"].sum() <= rpls["appartement"].sum()


def test_dwellings_of_a_text_rpls_column_are_added_as_numbers(tmp_path: Path) -> None:
    # A CSV made GeoPackage without its field types holds « 12 » and « 30 » as text:
    # summed as text, the two programmes of one building gave it 1230 dwellings.
    footprint = box(2.480, 48.908, 2.481, 48.909)
    buildings = gpd.GeoDataFrame({"building_id": ["way/1"]}, geometry=[footprint], crs=WGS84)
    points = [Point(2.4803, 48.9085), Point(2.4806, 48.9086)]
    typed = gpd.GeoDataFrame({"appartement": [12, 30]}, geometry=points, crs=WGS84)
    text = gpd.GeoDataFrame({"appartement": ["12", "30"]}, geometry=points, crs=WGS84)
    path = tmp_path / "rpls_texte.gpkg"
    text.to_file(path, layer="rpls2022", engine="pyogrio")
    assert read_rpls(path)["appartement"].tolist() == ["12", "30"]
    for rpls in (typed, read_rpls(path)):
        assert dwellings_per_building(buildings, rpls)["dwellings"].tolist() == [42.0]


def test_dwellings_written_with_a_thousands_space_are_read_whole(tmp_path: Path) -> None:
    # « 1 200 » (a space, a no-break space, a narrow no-break space: what LibreOffice and
    # French typography write) was read as its first digits: 1 dwelling, a rate 1,200
    # times too large.
    footprint = box(2.480, 48.908, 2.481, 48.909)
    buildings = gpd.GeoDataFrame({"building_id": ["way/1"]}, geometry=[footprint], crs=WGS84)
    for spelt in ("1 200", "1\u00a0200", "1\u202f200", "1200", "1200.0"):
        rpls = gpd.GeoDataFrame({"appartement": [spelt]}, geometry=[Point(2.4803, 48.9085)])
        rpls = rpls.set_crs(WGS84)
        assert dwellings_per_building(buildings, rpls)["dwellings"].tolist() == [1200.0], spelt
        flats = buildings.assign(flats=[spelt])
        assert dwellings_per_building(flats)["dwellings"].tolist() == [1200.0], spelt
    # Written in a GeoPackage as text, read back the same.
    points = [Point(2.4803, 48.9085), Point(2.4806, 48.9086)]
    text = gpd.GeoDataFrame({"appartement": ["1\u202f200", "30"]}, geometry=points, crs=WGS84)
    path = tmp_path / "rpls_milliers.gpkg"
    text.to_file(path, layer="rpls2022", engine="pyogrio")
    assert dwellings_per_building(buildings, read_rpls(path))["dwellings"].tolist() == [1230.0]


def test_an_ambiguous_rpls_dwellings_count_is_an_input_error(tmp_path: Path) -> None:
    # « 12-14 », « 1.200 » (a thousand two hundred, or 1.2?): the first digits made 12
    # and 1 dwellings, figures nobody wrote. The features are named, with their value.
    from pipelines.errors import InputError

    points = [Point(2.4803, 48.9085), Point(2.4806, 48.9086), Point(2.4809, 48.9087)]
    text = gpd.GeoDataFrame({"appartement": ["12", "12-14", "1.200"]}, geometry=points)
    path = tmp_path / "rpls_ambigu.gpkg"
    text.set_crs(WGS84).to_file(path, layer="rpls2022", engine="pyogrio")
    with pytest.raises(InputError) as caught:
        read_rpls(path)
    message = str(caught.value)
    assert "rpls_ambigu.gpkg" in message
    assert "colonne « appartement » : 2 valeur(s)" in message
    assert "entité n° 2 (« 12-14 »), entité n° 3 (« 1.200 »)" in message
    assert "« 1 200 »" in message  # how to write it


def test_unreadable_osm_flats_give_no_count_and_are_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # building:flats « 1 200 » was 1 dwelling, « 3;5 » 3: both invented figures. The
    # first is read whole; the second, a tag the analyst cannot correct in the file,
    # gives no count (no rate) and the summary and the log name its building.
    from pipelines.osm.buildings import build_buildings_report

    osm = (RAW / "bondy" / "bondy_nord.osm").read_text(encoding="utf-8")
    flats = {"84163054": "1\u202f200", "84163074": "3;5", "84163090": "48"}
    for way, value in flats.items():
        head = f'<way id="{way}" '
        at = osm.index('<tag k="building"', osm.index(head))
        osm = osm[:at] + f'<tag k="building:flats" v="{value}"/>\n  ' + osm[at:]
    path = tmp_path / "bondy_flats.osm"
    path.write_text(osm, encoding="utf-8")
    with caplog.at_level("WARNING", logger="pipelines.osm.buildings"):
        out, summary = build_buildings_report(path)
    got = out.set_index("building_id")
    assert got.loc["way/84163054", "dwellings"] == 1200.0
    assert got.loc["way/84163090", "dwellings"] == 48.0
    assert got.loc[["way/84163054", "way/84163090"], "dwellings_source"].tolist() == [
        "osm_flats",
        "osm_flats",
    ]
    assert pd.isna(got.loc["way/84163074", "dwellings"])
    assert pd.isna(got.loc["way/84163074", "dwellings_source"])
    assert summary["flats_unreadable"] == [{"building_id": "way/84163074", "value": "3;5"}]
    assert "way/84163074 (« 3;5 »)" in caplog.text
    assert "« building:flats »" in caplog.text


def test_no_value_spellings_are_one_list_for_report_cells_and_osm_flats() -> None:
    """building:flats « ? », « nr » or « #N/A » was an unreadable count (named, logged)
    where a report's cell so written is empty: the dwelling counts had their own list of
    « no value » spellings, a twin of the ingestion's that differed. Both read one list
    now (pipelines.reports.NA_TOKENS): every spelling is no count, and no value."""
    import pyarrow as pa

    from pipelines.ingest import clean_cells

    for written in ("?", "nr", "NR", "#N/A", "--", "<NA>", " n/a "):
        counts, unreadable = dwelling_counts(pd.Series([written, "12"], dtype=object))
        assert not unreadable.any(), written
        assert pd.isna(counts.iloc[0]), written
        assert counts.iloc[1] == 12.0, written
    from pipelines.reports import NA_TOKENS  # the one list

    spellings = [v for t in NA_TOKENS for v in (t, t.upper(), t.title())]
    assert not dwelling_counts(pd.Series(spellings, dtype=object))[1].any()
    assert (clean_cells(pa.array(spellings)) == "").all()
    # What is no count and no missing value stays unreadable.
    assert dwelling_counts(pd.Series(["3;5", "n.c.", "12-14"], dtype=object))[1].all()


def test_unreadable_osm_flats_are_listed_in_a_csv_the_analyst_opens(tmp_path: Path) -> None:
    """The buildings whose building:flats is no count were named only in the log and
    buildings_summary.json; the buildings stage now writes them, with the value as OSM
    has it and what to do, in buildings_flats_unreadable.csv (declared in the stage
    table, header only when every value is read)."""
    from pipelines import stages
    from pipelines.io import read_csv
    from pipelines.osm import buildings

    osm = (RAW / "bondy" / "bondy_nord.osm").read_text(encoding="utf-8")
    for way, value in {"84163074": "3;5", "84163090": "12-14", "84163054": "48"}.items():
        at = osm.index('<tag k="building"', osm.index(f'<way id="{way}" '))
        osm = osm[:at] + f'<tag k="building:flats" v="{value}"/>\n  ' + osm[at:]
    path = tmp_path / "bondy_flats.osm"
    path.write_text(osm, encoding="utf-8")
    buildings.run(path, None, tmp_path / "buildings_osm.parquet")
    listed = read_csv(tmp_path / "buildings_flats_unreadable.csv", dtype=str)
    assert listed.columns.tolist() == ["building_id", "flats", "reason_fr"]
    assert listed["building_id"].tolist() == ["way/84163074", "way/84163090"]
    assert listed["flats"].tolist() == ["3;5", "12-14"]
    assert (
        listed["reason_fr"]
        .iloc[0]
        .startswith(
            "« building:flats » vaut « 3;5 », qui n'est pas un nombre de logements : aucun "
            "logement compté pour ce bâtiment, donc aucun taux."
        )
    )
    assert "buildings_flats_unreadable.csv" in stages.stage("buildings").writes
    # A building counted by the RPLS is said to be so.
    frame = pd.DataFrame(
        {
            "building_id": ["way/1", "way/2"],
            "flats": ["3;5", "7"],
            "dwellings": [1200.0, 7.0],
            "dwellings_source": ["rpls", "osm_flats"],
        }
    )
    (reason,) = buildings.unreadable_flats(frame)["reason_fr"]
    assert reason.endswith("ignoré, le bâtiment a ses logements du RPLS (1\u202f200).")


def test_an_rpls_layer_without_its_crs_is_an_input_error(tmp_path: Path) -> None:
    # Its points could not be taken to the buildings' CRS: a Python traceback.
    import warnings

    from pipelines.errors import InputError

    path = tmp_path / "rpls_sans_crs.gpkg"
    naive = gpd.GeoDataFrame({"appartement": [12]}, geometry=[Point(660_000, 6_866_000)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pyogrio: « 'crs' was not provided »
        naive.to_file(path, layer="rpls2022", engine="pyogrio")
    with pytest.raises(InputError, match=r"rpls_sans_crs\.gpkg.*rpls2022.*système de coordonnées"):
        read_rpls(path)


def test_an_rpls_layer_without_its_dwellings_column_is_an_input_error(tmp_path: Path) -> None:
    # « nb_logements » instead of « appartement »: no building had its RPLS dwellings,
    # and no rate, without a word.
    from pipelines.errors import InputError

    rpls = gpd.read_file(RAW / "bondy" / "rpls_bondy.gpkg", layer="rpls2022")
    path = tmp_path / "rpls_renomme.gpkg"
    rpls.rename(columns={"appartement": "nb_logements"}).to_file(
        path, layer="rpls2022", engine="pyogrio"
    )
    with pytest.raises(InputError, match=r"rpls_renomme\.gpkg.*« appartement ».*nb_logements"):
        build_buildings(RAW / "bondy" / "bondy_nord.osm", path)


def test_a_shared_rpls_file_is_read_near_the_site_only(tmp_path: Path) -> None:
    # A portfolio's sites share one RPLS file of the whole stock: each site reads the
    # programmes near its buildings only, and gets the dwellings the whole file gives.
    osm = RAW / "bondy" / "bondy_nord.osm"
    rpls = gpd.read_file(RAW / "bondy" / "rpls_bondy.gpkg", layer="rpls2022")
    assert rpls.crs.to_string() == LAMBERT93
    buildings = read_osm_buildings(osm)
    # 14 m east of the buildings' easternmost vertex (joined: within 15 m), and a copy
    # of every programme 5 km away (another site's).
    xy = shapely.get_coordinates(buildings.to_crs(LAMBERT93).geometry.to_numpy())
    x, y = xy[xy[:, 0].argmax()]
    edge = gpd.GeoDataFrame({"appartement": [777]}, geometry=[Point(x + 14, y)], crs=LAMBERT93)
    far = rpls.assign(geometry=rpls.geometry.translate(5000, 0))
    shared = tmp_path / "rpls_portefeuille.gpkg"
    gpd.GeoDataFrame(pd.concat([rpls, edge, far], ignore_index=True), crs=LAMBERT93).to_file(
        shared, layer="rpls2022", engine="pyogrio"
    )
    near = read_rpls(shared, near=buildings)
    assert len(near) <= len(rpls) + 1  # no copy of the far programmes
    assert near["appartement"].iloc[-1] == 777  # the edge point, last as in the file
    whole = dwellings_per_building(buildings, read_rpls(shared))
    pd.testing.assert_frame_equal(dwellings_per_building(buildings, near), whole)
    assert (whole["dwellings"] >= 777).any()  # the edge point was joined
    local = tmp_path / "rpls_site.gpkg"
    gpd.GeoDataFrame(pd.concat([rpls, edge], ignore_index=True), crs=LAMBERT93).to_file(
        local, layer="rpls2022", engine="pyogrio"
    )
    assert_geodataframe_equal(build_buildings(osm, shared), build_buildings(osm, local))


def test_geoparquet_reads_as_geopandas_reads_it(tmp_path: Path) -> None:
    # read_geoparquet parses each CRS once per process: the frame must be geopandas' own.
    from pipelines.io import read_geoparquet, write_geoparquet

    b = build_buildings(RAW / "bondy" / "bondy_nord.osm", RAW / "bondy" / "rpls_bondy.gpkg")
    for name, frame in (("wgs84", b), ("l93", b.iloc[::7].to_crs(LAMBERT93))):
        path = tmp_path / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        want, got = gpd.read_parquet(path), read_geoparquet(path)
        assert_geodataframe_equal(got, want)
        assert got.crs.to_json() == want.crs.to_json()
    path = write_geoparquet(b, tmp_path / "written.parquet")
    assert_geodataframe_equal(read_geoparquet(path), gpd.read_parquet(path))
    assert read_geoparquet(path).crs.to_string() == WGS84


def test_geoparquet_reads_only_the_columns_asked_for(tmp_path: Path) -> None:
    # A stage reads the columns it uses (issue 18: reports.parquet has 32): the frame is
    # geopandas' own read of them, with the geometry (and its CRS) whether asked for or
    # not, the columns in the file's order; the optional ones only when the file has
    # them; a column it lacks names the file and the column, not a KeyError later.
    from pipelines.errors import InputError
    from pipelines.io import read_geoparquet, read_geoparquet_attributes, write_geoparquet

    b = build_buildings(RAW / "bondy" / "bondy_nord.osm", RAW / "bondy" / "rpls_bondy.gpkg")
    l93 = tmp_path / "l93.parquet"
    b.iloc[::7].to_crs(LAMBERT93).to_parquet(l93, index=False)
    for path in (write_geoparquet(b, tmp_path / "buildings.parquet"), l93):
        every = read_geoparquet(path)
        assert {"building_id", "dwellings", "dwellings_source"} < set(every.columns)
        assert "n_reports" not in every
        asked = ["dwellings", "building_id"]  # not the file's order
        want = gpd.read_parquet(path, columns=["building_id", "geometry", "dwellings"])
        want = want[[c for c in every.columns if c in want]]  # the file's order
        got = read_geoparquet(path, asked, optional=["dwellings_source", "n_reports"])
        assert_geodataframe_equal(
            got, every[["building_id", "geometry", "dwellings", "dwellings_source"]]
        )
        assert_geodataframe_equal(read_geoparquet(path, asked), want)
        assert read_geoparquet(path, asked).crs.to_json() == every.crs.to_json()
        assert_geodataframe_equal(read_geoparquet(path, "building_id"), want.iloc[:, :2])
        # Without the geometry: the same columns, a pandas frame.
        plain = read_geoparquet_attributes(path, asked, optional=["n_reports"])
        assert type(plain) is pd.DataFrame
        pd.testing.assert_frame_equal(plain, pd.DataFrame(want.drop(columns="geometry")))
        with pytest.raises(ValueError, match="geometry"):
            read_geoparquet_attributes(path, ["building_id", "geometry"])
        with pytest.raises(ValueError, match="geometry"):
            read_geoparquet_attributes(path, ["building_id"], optional=["geometry"])
        for read in (read_geoparquet, read_geoparquet_attributes):
            with pytest.raises(InputError, match=rf"{path.name}.*absente.*n_reports"):
                read(path, ["building_id", "n_reports"])
            with pytest.raises(InputError, match="introuvable"):
                read(tmp_path / "absent.parquet", ["building_id"])
    torn = tmp_path / "torn.parquet"
    torn.write_bytes(l93.read_bytes()[:100])
    for read in (read_geoparquet, read_geoparquet_attributes):
        with pytest.raises(InputError, match=r"torn\.parquet.*pas un fichier GeoParquet lisible"):
            read(torn, ["building_id"])


def test_geoparquet_reads_without_geopandas_private_conversion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A geopandas that no longer has the private conversion read_geoparquet imports:
    # pipelines/io.py still imports (a copy of it is loaded here, without those names)
    # and reads every file as geopandas.read_parquet does, the same frame as the fast
    # path's. Real files, written as the stages write them: buildings (write_geoparquet,
    # WGS 84 and Lambert 93) and the BAN's addresses as points (write_points_geoparquet).
    import importlib.util
    import sys
    import types

    import pipelines.io
    from pipelines.io import read_geoparquet, write_geoparquet, write_points_geoparquet

    spec = importlib.util.spec_from_file_location("io_without_private", pipelines.io.__file__)
    assert spec is not None
    assert spec.loader is not None
    fallback = importlib.util.module_from_spec(spec)
    with monkeypatch.context() as m:  # geopandas' own module stays whole for the rest
        m.setitem(sys.modules, "geopandas.io.arrow", types.ModuleType("geopandas.io.arrow"))
        spec.loader.exec_module(fallback)
    assert not fallback.HAS_PRIVATE_GEOPARQUET
    # This geopandas (the lock's) has them: failing here, an upgrade has moved them and
    # every read takes the slower public path.
    assert pipelines.io.HAS_PRIVATE_GEOPARQUET

    b = build_buildings(RAW / "bondy" / "bondy_nord.osm", RAW / "bondy" / "rpls_bondy.gpkg")
    ban = pd.read_csv(RAW / "bondy" / "ban_adresses_bondy.csv", dtype=str, na_values=["NA"])
    ban = ban.assign(lon=ban["lon"].astype(float), lat=ban["lat"].astype(float))
    paths = [
        write_geoparquet(b, tmp_path / "buildings.parquet"),
        tmp_path / "l93.parquet",
        write_points_geoparquet(ban, tmp_path / "addresses.parquet"),
    ]
    b.iloc[::7].to_crs(LAMBERT93).to_parquet(paths[1], index=False)
    for path in paths:
        want = gpd.read_parquet(path)
        got = fallback.read_geoparquet(path)
        assert len(got) > 100
        assert_geodataframe_equal(got, want)
        assert got.crs.to_json() == want.crs.to_json()
        assert_geodataframe_equal(read_geoparquet(path), got)
        # Some columns: geopandas' own read of them and the geometry, on both paths.
        names = [c for c in want.columns if c != "geometry"][:2]
        some = gpd.read_parquet(path, columns=[*names, "geometry"])
        assert_geodataframe_equal(fallback.read_geoparquet(path, names), some)
        assert_geodataframe_equal(read_geoparquet(path, names), some)


def test_geocode_points_inside_nearest_and_unmatched() -> None:
    b = read_osm_buildings(RAW / "bondy" / "bondy_nord.osm").to_crs(LAMBERT93)
    target = b.iloc[100]
    inside = target.geometry.representative_point()
    # A point 10 m east of the building's easternmost vertex, then one 200 m away.
    _minx, miny, maxx, maxy = target.geometry.bounds
    near = Point(maxx + 10, (miny + maxy) / 2)
    far = Point(maxx + 5000, maxy + 5000)
    pts = gpd.GeoSeries([inside, near, far, None], index=[10, 11, 12, 13], crs=LAMBERT93)
    out = geocode_points(pts, b, tolerance_m=25)
    assert list(out.index) == [10, 11, 12, 13]
    assert out.loc[10, "geocode_method"] == "point_in_building"
    assert out.loc[10, "building_id"] == target["building_id"]
    assert out.loc[10, "geocode_distance_m"] == 0
    assert out.loc[11, "geocode_method"] in {"nearest_building", "point_in_building"}
    assert out.loc[11, "geocode_distance_m"] <= 10.0 + 1e-6
    # The nearest building really is the closest footprint.
    d = b.distance(near)
    assert out.loc[11, "building_id"] == b.loc[d.idxmin(), "building_id"]
    assert out.loc[12, "geocode_method"] == "unmatched"
    assert pd.isna(out.loc[12, "building_id"])
    assert out.loc[13, "geocode_method"] == "unmatched"


def test_geocode_points_matches_geopandas_baseline() -> None:
    b = read_osm_buildings(RAW / "paris10" / "paris10.osm").to_crs(LAMBERT93)
    rng = np.random.default_rng(7)
    minx, miny, maxx, maxy = b.total_bounds
    pts = gpd.GeoSeries(
        gpd.points_from_xy(rng.uniform(minx, maxx, 2000), rng.uniform(miny, maxy, 2000)),
        crs=LAMBERT93,
    )
    out = geocode_points(pts, b, tolerance_m=25)
    base = gpd.sjoin_nearest(
        gpd.GeoDataFrame(geometry=pts),
        b[["building_id", "geometry"]],
        max_distance=25,
        distance_col="d",
    )
    base = base[~base.index.duplicated()]
    matched = out["building_id"].notna()
    assert set(out.index[matched]) == set(base.index)
    # Same distances (the building may differ only on exact ties).
    np.testing.assert_allclose(
        out.loc[base.index, "geocode_distance_m"], base["d"].round(2), atol=0.011
    )


def test_config_errors_name_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[sites]]\nid = "x"\nosm = "a.osm"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.toml.*sites\[0\]\.sources"):
        load_config(bad)
    bad.write_text("[[sites]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="TOML invalide"):
        load_config(bad)
    with pytest.raises(ConfigError, match="introuvable"):
        load_config(tmp_path / "missing.toml")


@pytest.mark.parametrize(("key", "value"), [("format", "excel"), ("kind", "signalements")])
def test_a_source_s_unknown_format_or_kind_lists_the_values_in_french(
    tmp_path: Path, key: str, value: str
) -> None:
    # The message showed Python's tuple: « attendu ('auto', 'csv', 'xlsx', …) ».
    bad = tmp_path / "bad.toml"
    bad.write_text(
        f'[[sites]]\nid = "x"\nosm = "a.osm"\n[[sites.sources]]\nid = "s"\npath = "s.csv"\n'
        f'{key} = "{value}"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(bad)
    message = str(caught.value)
    assert f"sites[0].sources[0].{key} » : « {value} » : valeur inconnue" in message
    assert "valeurs possibles : " in message
    assert "(" not in message
    assert "'" not in message


@pytest.mark.parametrize(
    ("text", "where", "why"),
    [
        ("[project\n", "ligne 1, colonne 9", "« ] » manquant"),
        ('[project]\nmaps_dir = "cartes\n', "ligne 2, colonne 19", "guillemet"),
        ("[project]\nmaps_dir = cartes\n", "ligne 2, colonne 12", "guillemets"),
        ('[project]\nmaps_dir = "a"\nmaps_dir = "b"\n', "ligne 3", "deux fois"),
        ("[params.ingest]\nstart_date = 01/02/2024\n", "ligne 2", "AAAA-MM-JJ"),
        ('[project]\nannotation_tags = ["a",\n', "fin du fichier", "valeur"),
    ],
)
def test_toml_syntax_errors_in_french_with_line_and_column(
    tmp_path: Path, text: str, where: str, why: str
) -> None:
    """Hostile run of w9: « TOML invalide : Expected ']' at the end of a table declaration
    (at line 1, column 9) », the parser's English, was all a user got."""
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(bad)
    message = str(caught.value)
    assert "bad.toml" in message
    assert where in message
    assert why in message
    assert "Expected" not in message
    assert " at line " not in message


def test_cli_user_error_exits_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[sites]]\nid = "x"\nosm = "a.osm"\n[[sites.sources]]\nid = "s"\npath = "x.csv"\n'
        'kind = "complaints"\n',
        encoding="utf-8",
    )
    assert main(["run", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err
    assert "sites[0].sources[0].kind" in err
    assert "Traceback" not in err


@pytest.mark.slow  # starts two Python processes
def test_pyarrow_pool_is_jemalloc_unless_chosen(tmp_path: Path) -> None:
    # pipelines chooses jemalloc (ingestion is a third faster with it; see
    # pipelines/__init__.py), and leaves an explicit ARROW_DEFAULT_MEMORY_POOL alone.
    import subprocess
    import sys

    import pyarrow as pa

    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow is built without jemalloc")
    code = "import pipelines, pyarrow as pa; print(pa.default_memory_pool().backend_name)"
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    chosen = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert chosen.stdout.strip() == "jemalloc"
    env["ARROW_DEFAULT_MEMORY_POOL"] = "system"
    kept = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert kept.stdout.strip() == "system"


def test_points_geoparquet_reads_back_as_geopandas_writes_it(tmp_path: Path) -> None:
    # ingested.parquet gets its points from lon/lat by numpy (no shapely object): the
    # file must read back exactly as the one geopandas writes from the same points.
    from pipelines.io import point_wkb, read_geoparquet, write_points_geoparquet

    frame = pd.DataFrame(
        {
            "report_id": ["a", "b", "c", "d"],
            "lon": [2.4851, np.nan, -0.000125, 2.49],
            "lat": [48.9102, 48.91, 45.0, np.nan],
        }
    )
    ours = write_points_geoparquet(frame, tmp_path / "ours.parquet")
    points = [
        Point(x, y) if np.isfinite(x) and np.isfinite(y) else None
        for x, y in zip(frame["lon"], frame["lat"], strict=True)
    ]
    gpd.GeoDataFrame(frame, geometry=points, crs=WGS84).to_parquet(tmp_path / "theirs.parquet")
    got, want = read_geoparquet(ours), read_geoparquet(tmp_path / "theirs.parquet")
    assert got.crs == want.crs
    assert got.geometry.isna().tolist() == [False, True, False, True]
    assert got.geometry.to_wkb().tolist() == want.geometry.to_wkb().tolist()
    pd.testing.assert_frame_equal(pd.DataFrame(got), pd.DataFrame(want), check_dtype=False)
    assert point_wkb(np.zeros(0), np.zeros(0)).to_pylist() == []


def test_csv_cells_a_spreadsheet_would_run_get_an_apostrophe(tmp_path: Path) -> None:
    import csv

    from pipelines.io import neutralise_formulas, write_csv

    texts = ["=1+2", "+33 6 12", "-x", "@SUM(A1)", "\tcmd", "\rcmd", "normal", None, "a=b"]
    safe = neutralise_formulas(pd.DataFrame({"t": texts}))["t"]
    assert safe.fillna("").tolist() == [
        "'=1+2", "'+33 6 12", "'-x", "'@SUM(A1)", "'\tcmd", "'\rcmd", "normal", "", "a=b",
    ]  # fmt: skip
    # (A carriage return inside a cell reads back as a line end with csv.reader: the
    # file is checked below with a newline-free sixth text.)
    texts[5] = "cmd"
    frame = pd.DataFrame(
        {
            "=col": texts,
            "categorie": pd.Categorical(["=c"] * 4 + ["ok"] * 5),
            "chaine": pd.array(["-1", "x"] * 4 + [None], dtype="string"),
            "entier": [-5, 3, 0, -1, 2, 7, 8, 9, -10],
            "decimal": [-0.5, 1.25, -3.0, 0.0, 4.5, -2.5, 1.0, 2.0, -7.75],
            "mixte": ["=a", 3, "b", -4.5, "@x", None, "+1", 7, "c"],
        }
    )
    before = frame.copy()
    write_csv(frame, tmp_path / "t.csv")
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is left alone
    with (tmp_path / "t.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))  # Excel's separator in French
    header, body = rows[0], rows[1:]
    assert header == ["'=col", "categorie", "chaine", "entier", "decimal", "mixte"]
    assert [r[0] for r in body] == [
        "'=1+2", "'+33 6 12", "'-x", "'@SUM(A1)", "'\tcmd", "cmd", "normal", "", "a=b",
    ]  # fmt: skip
    assert [r[1] for r in body] == ["'=c"] * 4 + ["ok"] * 5
    assert [r[2] for r in body] == ["'-1", "x"] * 4 + [""]
    # Numbers stay numbers: a spreadsheet reads -5 and -0.5, not text.
    assert [r[3] for r in body] == ["-5", "3", "0", "-1", "2", "7", "8", "9", "-10"]
    assert body[0][4] == "-0,5"  # a decimal comma, as Excel reads it in French
    assert body[8][4] == "-7,75"
    # A column of texts and numbers: its texts only (its numbers are written as Python
    # writes them: only a column of numbers gets the decimal comma).
    assert [r[5] for r in body] == ["'=a", "3", "b", "-4.5", "'@x", "", "'+1", "7", "c"]


def test_a_csv_of_concatenated_text_columns_holds_their_rows_only(tmp_path: Path) -> None:
    """pandas' ``str`` columns are Arrow arrays: ``pd.concat`` behind an empty piece (a
    site, a month or a category without rows) gives an empty first chunk, after which
    pyarrow's CSV writer writes stale bytes of its buffer (apache/arrow#36889): NULs,
    earlier rows, bytes of other files."""
    from pipelines.io import read_csv, write_csv

    empty = pd.DataFrame({"level": pd.Series([], dtype="str"), "n": pd.Series([], dtype=int)})
    rows = pd.DataFrame({"level": ["bâtiment × mois"] * 8, "n": range(8)})
    frame = pd.concat([empty, rows], ignore_index=True)
    write_csv(frame, tmp_path / "t.csv")
    raw = (tmp_path / "t.csv").read_bytes()
    assert b"\0" not in raw
    back = read_csv(tmp_path / "t.csv")
    assert back["level"].tolist() == ["bâtiment × mois"] * 8
    assert back["n"].tolist() == list(range(8))


def _bondy_before_simulation(tmp_path: Path) -> tuple[Path, Path, str]:
    """The demo configuration pointing at a Bondy folder holding only the real inputs
    (the simulator's are not written yet): that folder, the configuration, its text."""
    raw = tmp_path / "bondy"
    raw.mkdir()
    for name in ("bondy_nord.osm", "ban_adresses_bondy.csv", "rpls_bondy.gpkg"):
        (raw / name).symlink_to(RAW / "bondy" / name)
    text = (Path("config") / "demo.toml").read_text(encoding="utf-8")
    cfg = tmp_path / "demo.toml"
    cfg.write_text(text.replace('"data/raw/bondy/', f'"{raw}/'), encoding="utf-8")
    return raw, cfg, text


def test_load_config_checks_files_and_lets_simulated_exports_wait(tmp_path: Path) -> None:
    # The demo configuration pointing at a Bondy folder holding only the real inputs:
    # loading works (make writes the simulated exports before a stage reads them), the
    # check made before ingestion names the missing export.
    from pipelines.config import check_inputs

    raw, cfg, text = _bondy_before_simulation(tmp_path)
    config = load_config(cfg)
    check_inputs(config, "paris10")
    with pytest.raises(ConfigError, match=r"sites\[0\]\.gazetteer.*gazetteer\.csv.*introuvable"):
        check_inputs(config, "bondy")
    # A site that is not simulated gets no such delay.
    cfg.write_text(
        text.replace('"data/raw/bondy/', f'"{raw}/').replace(
            "simulated = true", "simulated = false"
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"sites\[0\]\.(gazetteer|sources\[0\]\.path)"):
        load_config(cfg)


def test_a_stage_checks_only_the_inputs_it_reads(tmp_path: Path) -> None:
    # Under `make -j`, the buildings stage runs beside `vigie simulate`, which writes the
    # site's exports and gazetteer: the stage reads neither, and must not stop on them
    # (a fresh clone's `make -j2 demo` did). The stages that read them still name them.
    from pipelines.config import check_inputs
    from pipelines.stages import stage

    raw, cfg, _ = _bondy_before_simulation(tmp_path)
    config = load_config(cfg)
    assert {"osm", "rpls"} <= set(stage("buildings").settings)
    check_inputs(config, "bondy", kinds=("osm", "rpls"))
    with pytest.raises(ConfigError, match=r"sites\[0\]\.gazetteer.*introuvable"):
        check_inputs(config, "bondy", kinds=("osm", "refs"))
    with pytest.raises(ConfigError, match=r"sites\[0\]\.sources\[0\]\.path"):
        check_inputs(config, "bondy", kinds=("sources",))
    # The files it reads are still checked.
    (raw / "rpls_bondy.gpkg").unlink()
    with pytest.raises(ConfigError, match=r"sites\[0\]\.rpls.*introuvable"):
        check_inputs(config, "bondy", kinds=("osm", "rpls"))


@pytest.mark.parametrize("name", ["bondy_nord.osm", "ban_adresses_bondy.csv", "rpls_bondy.gpkg"])
def test_a_simulated_site_still_needs_the_files_the_simulator_reads(
    tmp_path: Path, name: str
) -> None:
    # The simulator writes the exports and the gazetteer beside the extract, never the
    # extract, the BAN or the RPLS: one of those missing is refused by `vigie deps` (the
    # check below) in French, not left for make to report as a file with no rule.
    from pipelines.config import check_inputs

    raw = tmp_path / "bondy"
    raw.mkdir()
    for real in ("bondy_nord.osm", "ban_adresses_bondy.csv", "rpls_bondy.gpkg"):
        if real != name:
            (raw / real).symlink_to(RAW / "bondy" / real)
    text = (Path("config") / "demo.toml").read_text(encoding="utf-8")
    cfg = tmp_path / "demo.toml"
    cfg.write_text(text.replace('"data/raw/bondy/', f'"{raw}/'), encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"sites\[0\]\.\w+.*{re.escape(name)}.*introuvable"):
        check_inputs(load_config(cfg), "bondy", simulated_exports=False)


def test_a_configuration_saved_with_a_bom_is_read(tmp_path: Path) -> None:
    # Windows' Notepad writes UTF-8 with a byte-order mark; the TOML is the same.
    text = (Path("config") / "demo.toml").read_text(encoding="utf-8")
    cfg = tmp_path / "demo.toml"
    cfg.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert [s.id for s in load_config(cfg).sites] == ["bondy", "paris10"]


def test_param_keys_and_types_come_from_the_defaults(tmp_path: Path) -> None:
    # Every parameter of DEFAULT_PARAMS is accepted with its default value, at the top
    # and per site; a value of another type is refused naming the key.
    from pipelines.config import DEFAULT_PARAMS

    text = (Path("config") / "demo.toml").read_text(encoding="utf-8")
    cfg = tmp_path / "p.toml"
    blocks = []
    for section, values in DEFAULT_PARAMS.items():
        lines = [f"[params.{section}]"]
        for key, value in values.items():
            if value is None:
                continue
            if isinstance(value, dict):
                inner = ", ".join(f"{k} = {_toml(v)}" for k, v in value.items())
                lines.append(f"{key} = {{ {inner} }}")
            else:
                lines.append(f"{key} = {_toml(value)}")
        blocks.append("\n".join(lines))
    body = text.split("[[sites]]", 1)[1]
    head = text.split("[params.ingest]", 1)[0]
    cfg.write_text(head + "\n\n".join(blocks) + "\n\n[[sites]]" + body, encoding="utf-8")
    config = load_config(cfg)
    assert config.site("paris10").params["hotspots"]["chronic"]["ascenseur"] == [3, 90]
    cfg.write_text(head + "[params.maps]\nonline_tiles = 1\n\n[[sites]]" + body, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"params\.maps\.online_tiles.*vrai ou faux"):
        load_config(cfg)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def test_site_settings_are_frozen_typed_and_match_the_defaults(tmp_path: Path) -> None:
    import dataclasses
    from datetime import date

    from pipelines.config import (
        DEFAULT_PARAMS,
        ActionSettings,
        GeocodeSettings,
        HotspotParams,
        IngestSettings,
        MapSettings,
        TrendSettings,
        ZoneSettings,
    )

    # One field per parameter: a parameter added to DEFAULT_PARAMS needs its field.
    for section, cls in (
        ("ingest", IngestSettings),
        ("geocode", GeocodeSettings),
        ("maps", MapSettings),
        ("zones", ZoneSettings),
        ("hotspots", HotspotParams),
        ("trends", TrendSettings),
        ("actions", ActionSettings),
    ):
        assert {f.name for f in dataclasses.fields(cls)} == set(DEFAULT_PARAMS[section])
    text = (Path("config") / "demo.toml").read_text(encoding="utf-8")
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        text.replace(
            'start_date = "2015-01-01"', 'start_date = "2016-02-03"\ntoday = 2025-06-01'
        ).replace("duplicate_distance_m = 30.0", "duplicate_distance_m = 12"),
        encoding="utf-8",
    )
    settings = load_config(cfg).site("paris10").settings
    assert settings.ingest == IngestSettings(date(2016, 2, 3), date(2025, 6, 1), 12.0, 48.0)
    assert isinstance(settings.ingest.duplicate_distance_m, float)
    assert settings.hotspots.chronic["ascenseur"] == (3, 90)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.ingest.today = None  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.trends["freq"] = "W"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.trends.freq = "W"  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.trends.targets_h["ascenseur"] = 1.0  # type: ignore[index]
    # Built once, when the site is made: every access returns the same object.
    site = load_config(cfg).site("paris10")
    assert site.settings is site.settings


def test_the_installed_environment_holds_its_bytecode() -> None:
    """`make setup` compiles what it installs (the Makefile's BYTECODE): where
    PYTHONDONTWRITEBYTECODE is set, Python never keeps what it compiles, and every
    process of the pipeline compiled pandas, pyarrow and geopandas again (3 s a stage on
    this project's machines). A module imported here has its bytecode beside it."""
    import importlib.util

    import geopandas.geodataframe
    import pandas.core.frame
    import pyarrow.parquet

    for module in (pandas.core.frame, pyarrow.parquet, geopandas.geodataframe):
        source = str(module.__file__)
        cached = Path(importlib.util.cache_from_source(source))
        assert cached.exists(), f"{source}: no bytecode ({cached}); run `make setup`"
        assert cached.stat().st_mtime >= Path(source).stat().st_mtime, cached
