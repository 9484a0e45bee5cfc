"""What lets ``vigie split`` hold one part of a large export at a time (issue 18): the
export read part by part with the file's own line numbers, and the points placed by
dask-geopandas' partitioned join, each compared with the whole-file reader and the
plain geopandas query on the real Bondy export and on a hand-made file holding what
cuts a file wrongly (values over several lines, blank lines, ragged rows, a quote
left open).
"""

from __future__ import annotations

import functools
import random
from pathlib import Path

import dask_geopandas
import numpy as np
import pyarrow as pa
import pytest

from pipelines.config import load_config
from pipelines.ingest import (
    RawFile,
    notes_of_parts,
    read_file,
    read_file_chunks,
    reading_notes,
)
from pipelines.portfolio import owners_of_points, read_perimeters
from tests.conftest import ROOT
from tests.test_portfolio import degrees, export_rows


def assert_parts_read_as_whole(path: Path, chunk_bytes: int, fmt: str = "csv") -> int:
    """The parts put together are the file read whole (rows, lines, malformed rows,
    blank rows, columns, encoding, the notes of its reading); returns the number of
    parts."""
    whole = read_file(path, fmt)
    parts = list(read_file_chunks(path, fmt, chunk_bytes=chunk_bytes))
    assert notes_read(functools.reduce(notes_of_parts, parts, None)) == notes_read(whole)
    assert pa.concat_tables([p.table for p in parts]).equals(whole.table)
    np.testing.assert_array_equal(np.concatenate([p.lines for p in parts]), whole.lines)
    np.testing.assert_array_equal(
        np.concatenate([np.asarray(p.malformed.lines) for p in parts]),
        np.asarray(whole.malformed.lines),
    )
    assert sum(p.blank_rows for p in parts) == whole.blank_rows
    for p in parts:
        assert (p.columns, p.encoding, p.separator, p.format) == (
            whole.columns,
            whole.encoding,
            whole.separator,
            whole.format,
        )
    return len(parts)


def notes_read(raw: RawFile) -> list[tuple[str, str, list[int] | None]]:
    """The notes of a file's reading (:func:`pipelines.ingest.reading_notes`), its
    lines as a list."""
    return [
        (reason, detail, None if lines is None else [int(n) for n in lines])
        for reason, detail, lines in reading_notes(raw)
    ]


@pytest.mark.parametrize("chunk_bytes", [4_000, 100_000])
def test_the_bondy_export_read_in_parts_is_the_file_read_whole(
    simulated_bondy: Path, chunk_bytes: int
) -> None:
    export = simulated_bondy / "signalements_bailleur.csv"  # cp1252, CRLF, ";"
    n = assert_parts_read_as_whole(export, chunk_bytes)
    assert n >= export.stat().st_size // chunk_bytes
    kobo = simulated_bondy / "observations_kobo.csv"  # UTF-8, ",", recognised as Kobo
    assert assert_parts_read_as_whole(kobo, chunk_bytes // 4, "auto") > 1


def awkward_file(path: Path, *, open_quote: bool) -> Path:
    """A UTF-8 file with a BOM and blank lines before its header, CRLF line ends,
    values over several lines with doubled quotes, blank lines, rows too wide and
    too narrow, and (``open_quote``) quotes opened and never closed."""
    rng = random.Random(7)
    rows = ["id;description;lat;lon"]
    for i in range(3000):
        r = rng.random()
        if r < 0.05:
            rows.append(f'{i};"Fuite\nau plafond ""salle de bain""\nsignalée";48,9;2,48')
        elif r < 0.08:
            rows.append("")
        elif r < 0.10:
            rows.append(f"{i};trop;de;champs;ici")
        elif r < 0.11 and open_quote:
            rows.append(f'{i};"guillemet ouvert;48,9;2,48')
        elif r < 0.12:
            rows.append(f"{i};court")
        else:
            rows.append(f"{i};Porte d'entrée forcée;48,9{i % 10};2,48")
    path.write_bytes(b"\xef\xbb\xbf" + ("\n\n" + "\r\n".join(rows) + "\n").encode())
    return path


@pytest.mark.parametrize("open_quote", [False, True])
@pytest.mark.parametrize("chunk_bytes", [300, 5_000])
def test_a_file_cut_anywhere_keeps_its_records_and_lines(
    tmp_path: Path, open_quote: bool, chunk_bytes: int
) -> None:
    path = awkward_file(tmp_path / "export.csv", open_quote=open_quote)
    whole = read_file(path, "csv")
    assert len(whole.malformed) > 0
    assert (
        whole.table.column("description")
        .to_pylist()
        .count('Fuite\nau plafond "salle de bain"\nsignalée')
        > 0
    )
    n = assert_parts_read_as_whole(path, chunk_bytes)
    # A quote left open (line 136): the rest of the file is read in its part.
    assert n > 1 if not open_quote else n <= 1 + 5_000 // chunk_bytes


def encoded_export(path: Path, kind: str) -> Path:
    """An export of 400 rows with French accents, in ``kind``: « cp850 » (DOS),
    « mac_roman », « latin-1 » (cp1252 with a byte it leaves undefined, 0x81, and lines
    holding bytes 0x80-0x9F), « utf-8 » with two rows in cp1252, « cp1252 » with two
    rows in UTF-8."""
    rows = ["id;description;adresse"] + [
        f"{i};Fuite d'eau à l'étage, façade abîmée, problème {i};{i} rue de la Gaîté"
        for i in range(400)
    ]
    if kind in ("cp850", "mac_roman"):
        data = "\n".join(rows).encode(kind) + b"\n"
    elif kind == "latin-1":
        rows[57] += " \x81"  # a C1 control character: no letter in latin-1 nor cp1252
        rows[300] += " \x8d"
        data = "\n".join(rows).encode("latin-1") + b"\n"
    else:
        other = "cp1252" if kind == "utf-8" else "utf-8"
        lines = [r.encode(other if k in (120, 333) else kind) for k, r in enumerate(rows)]
        data = b"\n".join(lines) + b"\n"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("kind", "reason", "lines"),
    [
        ("cp850", "unknown_encoding", 400),
        ("mac_roman", "unknown_encoding", 400),
        ("latin-1", "unknown_encoding", 2),
        ("utf-8", "mixed_encoding", 2),
        ("cp1252", "mixed_encoding", 2),
    ],
)
def test_a_file_read_in_parts_gets_the_notes_of_its_encoding(
    tmp_path: Path, kind: str, reason: str, lines: int
) -> None:
    """A file read in parts (``vigie split``, and any export over CHUNK_BYTES) is noted as
    when read whole: a DOS or Mac Roman export, a file whose bytes no encoding reads as
    letters, a file mixing UTF-8 and cp1252 rows. The parts were read with the
    encoding detected over the file and none of its checks: a cp850 export was read
    « Fuite d'eau … l'‚tage » without a word."""
    path = encoded_export(tmp_path / "export.csv", kind)
    whole = notes_read(read_file(path, "csv"))
    assert [(r, len(n or [])) for r, _, n in whole] == [(reason, lines)]
    parts = list(read_file_chunks(path, "csv", chunk_bytes=2_000))
    assert len(parts) > 5
    assert notes_read(functools.reduce(notes_of_parts, parts, None)) == whole
    assert_parts_read_as_whole(path, 2_000)


@pytest.mark.parametrize("chunk_bytes", [300, 100_000])
def test_a_short_utf8_export_with_one_cp1252_row_read_in_parts_keeps_its_header(
    tmp_path: Path, chunk_bytes: int
) -> None:
    """Twenty lines in UTF-8, one pasted from a cp1252 export: read whole, UTF-8 (its
    accented letters outnumber the bad bytes), the line noted; read in parts (the
    split), the encoding was detected by a rule without that count, cp1252, its header
    garbled (« Date de crÃ©ation »), and the split stopped: columns not found."""
    lines = ["N° ticket;Date de création;Catégorie;Adresse"]
    lines += [f"T-{k};0{k % 9 + 1}/02/2024;Dégât des eaux;{k} rue de l'Église" for k in range(19)]
    data = b"\n".join(
        line.encode("cp1252" if k == 6 else "utf-8") for k, line in enumerate(lines, 1)
    )
    path = tmp_path / "court.csv"
    path.write_bytes(data + b"\n")
    assert_parts_read_as_whole(path, chunk_bytes)
    (part, *_) = read_file_chunks(path, "csv", chunk_bytes=chunk_bytes)
    assert (part.encoding, part.columns[1]) == ("utf-8", "Date de création")
    assert [(r, n) for r, _, n in notes_read(part)] == [("mixed_encoding", [6])]


def test_a_header_with_an_unnamed_column_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("id;adresse;\n" + "".join(f"{i};rue {i};\n" for i in range(500)))
    assert len(list(read_file_chunks(path, "csv", chunk_bytes=200))) == 1
    assert_parts_read_as_whole(path, 200)


def test_the_partitioned_join_places_points_as_the_spatial_index(
    simulated_bondy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Bondy export's points placed by dask-geopandas' join (partitions of 500
    points) and by one query of the perimeters' index: the same site for every row."""
    config = load_config(ROOT / "config" / "portfolio.toml")
    assert config.portfolio is not None
    perimeters = read_perimeters(config.portfolio)
    rows = export_rows(simulated_bondy / "signalements_bailleur.csv")
    lon = np.array([degrees(r["Longitude"], 180) for r in rows])
    lat = np.array([degrees(r["Latitude"], 90) for r in rows])
    calls = []
    sjoin = dask_geopandas.sjoin
    monkeypatch.setattr(dask_geopandas, "sjoin", lambda *a, **k: calls.append(1) or sjoin(*a, **k))
    plain = owners_of_points(lon, lat, perimeters)
    assert not calls
    partitioned = owners_of_points(lon, lat, perimeters, points_per_partition=500)
    assert calls
    np.testing.assert_array_equal(partitioned, plain)
    # Every site and the outside are there, and some points lie in two perimeters.
    assert set(np.unique(plain)) == {-1, 0, 1, 2}
