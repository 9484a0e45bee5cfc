"""The shortcuts taken for speed give the answers of the general path.

Hand-made files and columns with known answers: line numbers of quote-free CSV files
with and without empty lines, trimming only where a value has surrounding whitespace,
and accepted text gathered through dictionary codes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.ingest import cells as _ingest_cells
from pipelines.ingest import coords as _coords
from pipelines.ingest import csvfile as _csv
from pipelines.ingest import dates as _dates
from pipelines.ingest import gather as _ingest_gather
from pipelines.ingest import partition as _ingest_partition
from pipelines.ingest import scrub as _scrub
from pipelines.ingest import source as _source
from pipelines.ingest import values as _values


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("a;b\n1;x\n2;y\n3;z\n", [2, 3, 4]),
        ("a;b\n1;x\n2;y\n3;z", [2, 3, 4]),
        ("a;b\n1;x\n\n2;y\n3;z\n", [2, 4, 5]),
        ("a;b\n\n1;x\n2;y\n\n\n3;z\n\n", [3, 4, 7]),
        ('a;b\n1;"x\ny"\n2;y\n', [2, 4]),
    ],
)
def test_csv_line_numbers(tmp_path: Path, text: str, lines: list[int]) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(text.encode("utf-8"))
    raw = _csv.read_csv(path)
    assert raw.lines.tolist() == lines
    assert raw.table.column("a").to_pylist() == [str(i) for i in range(1, len(lines) + 1)]


@pytest.mark.parametrize(
    "values",
    [
        ["a", "b", "c"],
        ["a", " b", "c"],
        ["a", "b\t", "c"],
        ["\u00a0a", "b", ""],
        ["a", "b\u2003", None],
        ["", "", ""],
        [],
    ],
)
def test_trim_whitespace_matches_pyarrow(values: list[str | None]) -> None:
    column = pa.chunked_array([pa.array(values, pa.large_string())], pa.large_string())
    cleaned = _values.clean_cells(column)
    assert cleaned.tolist() == [("" if v is None else v.strip()) for v in values]


def test_text_rows_equal_take_then_scrub() -> None:
    values = pd.Series(
        ["Appeler au 06 12 34 56 78", "", "Fuite", "Appeler au 06 12 34 56 78", "Mme Martin"],
        dtype="str",
    )
    idx = np.array([3, 1, 4, 0], dtype=np.int64)
    got, counts = _ingest_gather._text_rows(values, idx, scrub=True)
    taken = values.iloc[idx].reset_index(drop=True)
    want, want_counts = _scrub.scrub_series(taken.mask(taken == ""))
    pd.testing.assert_series_equal(got, want)
    assert counts == want_counts == {"phones": 2, "emails": 0, "flats": 0, "names": 1}
    plain, none = _ingest_gather._text_rows(values, idx, scrub=False)
    assert plain.isna().tolist() == [False, True, False, False]
    assert plain[0] == "Appeler au 06 12 34 56 78"
    assert none == _scrub.empty_counts()


def test_note_strings() -> None:
    flags = np.array([0, 1, 16, 1 | 2, 0, 32 | 16], dtype=np.int64)
    notes = _ingest_gather._note_strings(flags).tolist()
    assert notes == [
        "",
        "decimal_comma",
        "geo_point",
        "decimal_comma+swapped_fixed",
        "",
        "geo_point+representative_point",
    ]
    assert _ingest_gather._note_strings(np.zeros(0, np.int64)).tolist() == []


def test_quoted_line_breaks_across_pyarrow_blocks(tmp_path: Path) -> None:
    """A file larger than pyarrow's blocks, every record quoted and one in three holding
    a line break: the fast attempt (blocks cut at line ends) fails and the careful
    parse gives every value and the line each record starts on."""
    n = 150_000
    rows = [f'"{i}";"texte {i}\nsuite"' if i % 3 == 0 else f'"{i}";"texte {i}"' for i in range(n)]
    path = tmp_path / "f.csv"
    path.write_bytes(('"a";"b"\n' + "\n".join(rows) + "\n").encode("utf-8"))
    assert path.stat().st_size > 2 * 2**20
    raw = _csv.read_csv(path)
    assert raw.table.column("a").to_pylist() == [str(i) for i in range(n)]
    b = raw.table.column("b").to_pylist()
    assert b[:2] == ["texte 0\nsuite", "texte 1"]
    assert b[-1] == f"texte {n - 1}"
    starts = np.cumsum([2] + [2 if i % 3 == 0 else 1 for i in range(n - 1)])
    assert raw.lines.tolist() == starts.tolist()
    assert not raw.malformed


def test_quoted_file_without_line_breaks(tmp_path: Path) -> None:
    n = 60_000
    path = tmp_path / "f.csv"
    body = "\n".join(f'"{i}";"texte ; {i}"' for i in range(n))
    path.write_bytes(('"a";"b"\n' + body + "\n").encode("utf-8"))
    raw = _csv.read_csv(path)
    assert raw.table.column("b").to_pylist()[-1] == f"texte ; {n - 1}"
    assert raw.lines.tolist() == list(range(2, n + 2))


def test_dictionary_codes_of_a_chunked_column() -> None:
    chunks = [["b", "", "a"], ["a", None, "c"], ["b", "d"]]
    arrow = pa.chunked_array([pa.array(c, pa.large_string()) for c in chunks])
    values = _values.to_str_series(arrow)
    dictionary, codes = _ingest_gather._dictionary_codes(values)
    flat = [v for c in chunks for v in c]
    assert [None if k < 0 else dictionary[int(k)].as_py() for k in codes] == flat
    assert sorted(dictionary.to_pylist()) == ["", "a", "b", "c", "d"]
    single, single_codes = _ingest_gather._dictionary_codes(pd.Series(["x", "y", "x"], dtype="str"))
    assert single.to_pylist() == ["x", "y"]
    assert single_codes.tolist() == [0, 1, 0]


def test_leading_days_equal_the_regular_expression() -> None:
    values = ["7/03/2024", "07/03/2024", "31/02/2024 10:00", "123/4", "a1/02", "1", "", "9/", "/1"]
    column = pa.chunked_array(
        [pa.array(values[:4], pa.large_string()), pa.array(values[4:], pa.large_string())]
    )
    found = pc.extract_regex(column, r"^(?P<d>[0-9]{1,2})/")
    expected = [-1 if d is None else int(d["d"]) for d in found.to_pylist()]
    assert _dates._leading_days(column).tolist() == expected
    # A sliced chunk (non-zero offset) reads its own values.
    sliced = pa.array(values, pa.large_string()).slice(1, 3)
    assert _dates._leading_days(sliced).tolist() == expected[1:4]


@pytest.mark.parametrize("na_tokens", [True, False])
def test_clean_labels_equal_clean_cells(na_tokens: bool) -> None:
    chunks = [
        pa.array([" Fuite", "Fuite", "NA", None, "-", "Fuite "], pa.large_string()),
        pa.array(["Ascenseur", "", " ", "n/a", "Fuite"], pa.large_string()),
    ]
    column = pa.chunked_array(chunks)
    labels = _values.clean_labels(column, na_tokens=na_tokens)
    assert isinstance(labels.dtype, pd.CategoricalDtype)
    assert labels.cat.categories.is_unique
    expected = (
        _values.clean_cells(column).tolist()
        if na_tokens
        else _values.to_str_series(pc.utf8_trim_whitespace(pc.fill_null(column, ""))).tolist()
    )
    assert labels.astype("str").tolist() == expected


def test_label_columns_hash_like_text() -> None:
    # Rows without an id are named by a hash of their cells: label columns, held as
    # categories, must hash as their text does.
    text = pd.DataFrame(
        {"a": pd.Series(["x", "y", "x", ""], dtype="str"), "b": ["1", "2", "3", "4"]}
    )
    labels = text.assign(a=_values.clean_labels(pa.chunked_array([text["a"].tolist()])))
    assert (
        _ingest_partition._hash_hex(labels).tolist() == _ingest_partition._hash_hex(text).tolist()
    )


def test_text_rows_of_labels_equal_those_of_text() -> None:
    values = ["Joignable au 06 12 34 56 78", "", "Fuite", "Fuite", "appt 12 au 3e"]
    text = pd.Series(values, dtype="str")
    labels = _values.clean_labels(pa.chunked_array([values]), na_tokens=False)
    idx = np.array([4, 0, 2, 1])
    for scrub in (False, True):
        got, got_counts = _ingest_gather._text_rows(labels, idx, scrub=scrub)
        want, want_counts = _ingest_gather._text_rows(text, idx, scrub=scrub)
        assert got.isna().tolist() == want.isna().tolist() == [False, False, False, True]
        assert got.dropna().tolist() == want.dropna().tolist()
        assert got_counts == want_counts


@pytest.mark.parametrize(
    "data",
    [
        b"cat;id;texte\nFuite;1;a\n  ;  ;\nAscenseur;2;b\nFuite;3; c \n",  # a blank row
        b'cat;id;texte\n"Fuite";1;"a\nb"\n"Ascenseur";2;b\n',  # a line break in a value
        b"cat;id;texte\nFuite;1;a;x\nAscenseur;2;b\n",  # a ragged row
    ],
)
def test_label_columns_read_dictionary_encoded_read_the_same(tmp_path: Path, data: bytes) -> None:
    # Columns mapped to label roles come from pyarrow dictionary-encoded; the cells, the
    # line numbers and the cleaned labels are those of the plain read.
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    plain = _csv.read_csv(path)
    coded = _csv.read_csv(path, labels=lambda name: name in ("cat", "texte"))
    assert coded.lines.tolist() == plain.lines.tolist()
    assert coded.blank_rows == plain.blank_rows
    assert len(coded.malformed) == len(plain.malformed)
    for name in plain.table.column_names:
        got = coded.table.column(name)
        if name in ("cat", "texte") and not coded.malformed:
            assert pa.types.is_dictionary(got.type)
        assert got.cast(pa.large_string()).to_pylist() == plain.table.column(name).to_pylist()
        assert (
            _values.clean_labels(got).astype("str").tolist()
            == _values.clean_labels(plain.table.column(name)).astype("str").tolist()
        )


def test_checked_strptime_refuses_impossible_dates() -> None:
    # Every day 00..33 of every month 00..13, years around the edges, hours and minutes
    # in and out of range, and a few near-misses of the form: strptime (checked) gives
    # the date numpy's calendar gives, and refuses what it refuses (31/02 is not rolled
    # over to March, 0999 is not a year).
    rng = np.random.default_rng(3)
    values = [
        f"{d:02d}/{m:02d}/{y:04d} {h:02d}:{mi:02d}"
        for d in range(34)
        for m in range(14)
        for y in (999, 1000, 1900, 2023, 2024, 2100)
        for h, mi in ((0, 0), (23, 59), (int(rng.integers(0, 26)), int(rng.integers(0, 62))))
    ]
    values += ["29/02/2024 10:00", "01-02-2024 10:00", "01/02/2024T10:00"]
    values += ["01/02/2024 10:0x", "", "0a/02/2024 10:00"]
    checked = _dates._strptime_checked(pd.Series(values, dtype="str"), "%d/%m/%Y %H:%M").to_numpy()
    want = []
    for v in values:
        try:
            d, m, y, h, mi = int(v[0:2]), int(v[3:5]), int(v[6:10]), int(v[11:13]), int(v[14:16])
            ok = v[2] + v[5] + v[10] + v[13] == "// :" and y >= 1000 and h < 24 and mi < 60
            stamp = np.datetime64(f"{y:04d}-{m:02d}-{d:02d}T{h:02d}:{mi:02d}", "us")
        except ValueError:
            ok = False
        want.append(stamp if ok else np.datetime64("NaT", "us"))
    assert np.array_equal(checked, np.array(want, dtype="datetime64[us]"), equal_nan=True)
    assert (~np.isnat(checked)).sum() > 1000  # the valid days of 12 months x 5 years x 2-3
    assert checked[values.index("29/02/2024 10:00")] == np.datetime64("2024-02-29T10:00")
    assert np.isnat(checked[values.index("29/02/2023 00:00")])


def _chunked(values: list[str | None], cut: int, large: bool = True) -> pa.ChunkedArray:
    """Two chunks, the second a slice of a longer array (a non-zero offset)."""
    kind = pa.large_string() if large else pa.string()
    tail = pa.array(["pad", *values[cut:], "pad"], kind).slice(1, len(values) - cut)
    return pa.chunked_array([pa.array(values[:cut], kind), tail], kind)


_NUMBERISH = st.text(alphabet="0123456789,.-+ eE", max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(_NUMBERISH, st.sampled_from(["", "48,906800", "2.35", "1e3"])), max_size=30
    ),
    decimal=st.sampled_from([None, ",", "."]),
    cut=st.integers(0, 30),
    large=st.booleans(),
)
def test_numbers_from_the_bytes_equal_pyarrows_string_kernels(
    values: list[str], decimal: str | None, cut: int, large: bool
) -> None:
    # The fast path (commas turned into points in the bytes, then one cast) and the
    # string kernels give the same numbers, signs of zero included, and the same commas.
    column = _chunked(values, min(cut, len(values)), large)
    series = _values.to_str_series(column)
    x, comma = _values.parse_numbers(series, decimal=decimal)
    numbers, had = _values._parse_numbers_arrow(pc.fill_null(column, ""), decimal)
    want = np.array(numbers.to_numpy(zero_copy_only=False), dtype=np.float64)
    want[~np.isfinite(want)] = np.nan
    assert np.array_equal(x.to_numpy(), want, equal_nan=True)
    assert np.array_equal(np.signbit(x.to_numpy()), np.signbit(want))
    want_comma = np.asarray(pc.fill_null(had, False).to_pylist(), dtype=bool) & ~np.isnan(want)
    assert comma.tolist() == want_comma.tolist()


def test_numbers_from_the_bytes_on_a_large_column() -> None:
    rng = np.random.default_rng(5)
    lat = np.char.replace(np.char.mod("%.6f", 48.9 + rng.random(5000) * 0.01), ".", ",")
    values = np.where(rng.random(5000) < 0.3, "", lat).tolist()
    values[17] = "-0,0"
    series = _values.to_str_series(_chunked(values, 2500))
    x, comma = _values.parse_numbers(series)
    assert np.array_equal(
        x.to_numpy(), [float(v.replace(",", ".")) if v else np.nan for v in values], equal_nan=True
    )
    assert np.signbit(x.to_numpy()[17])
    assert comma.tolist() == [bool(v) for v in values]


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.text(max_size=20)), max_size=40),
    cut=st.integers(0, 40),
    large=st.booleans(),
)
def test_repeats(values: list[str | None], cut: int, large: bool) -> None:
    column = _chunked(values, min(cut, len(values)), large)
    series = _values.to_str_series(column)
    assert _ingest_cells._has_repeats(series) == (len(set(values)) < len(values))


def test_repeats_of_long_values() -> None:
    long = ["x" * 65, "x" * 64 + "y", "x" * 65]
    assert _ingest_cells._has_repeats(pd.Series(long, dtype="str"))
    assert not _ingest_cells._has_repeats(pd.Series(long[:2], dtype="str"))
    # Values alike in their first 8 bytes, or differing past them, are told apart.
    ids = [f"DI-2024-{i:06d}" for i in range(100_000)]
    assert not _ingest_cells._has_repeats(pd.Series(ids, dtype="str"))
    assert _ingest_cells._has_repeats(pd.Series([*ids, ids[54_321]], dtype="str"))


def test_flags() -> None:
    flags = pa.chunked_array([[True, None, False], pa.array([False, True, None, True]).slice(1)])
    assert _values.flags(flags).tolist() == [True, False, False, True, False, True]


@pytest.mark.parametrize(
    ("data", "unread"),
    [
        (b"id;nom;texte\n1;Mme Martin;a\n2;M. Sow;b\n", True),
        (b"id;nom;texte\n1;Mme Martin;a\n;;\n2;;b\n", False),  # a blank row
        (b"id;nom;texte\n1;Mme Martin;a\n;M. Sow;\n2;;b\n", False),  # blank but the name
        (b'id;nom;texte\n1;"Mme\nMartin";a\n2;M. Sow;b\n', False),  # a line break in a name
        (b"id;nom;texte\n1;Mme Martin;a;x\n2;M. Sow;b\n", False),  # a ragged row
    ],
)
def test_personal_columns_left_unread_read_the_same(
    tmp_path: Path, data: bytes, unread: bool
) -> None:
    # The fast path does not read personal columns; the other cells, the line numbers
    # and the blank rows are those of the full read (a row blank but for its personal
    # columns is still a row).
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    full = _csv.read_csv(path)
    lean = _csv.read_csv(path, personal=lambda name: name == "nom")
    assert ("nom" not in lean.table.column_names) == unread
    others = [c for c in full.table.column_names if c != "nom"]
    assert lean.table.select(others).equals(full.table.select(others))
    assert lean.lines.tolist() == full.lines.tolist()
    assert lean.blank_rows == full.blank_rows
    assert [(m.line, m.fields) for m in lean.malformed] == [
        (m.line, m.fields) for m in full.malformed
    ]


def test_a_personal_column_mapped_to_a_role_is_read(tmp_path: Path) -> None:
    from pipelines.config import SourceConfig

    source = SourceConfig(
        id="s",
        kind="reports",
        path=str(tmp_path / "f.csv"),
        format="csv",
        columns={"id": "id", "date": "date", "address": "Adresse"},
        personal_columns=("nom", "adresse", "nom de l'agent"),
    )
    personal = _source._personal_columns(source)
    assert personal is not None
    assert personal("Nom de l'agent")  # personal, keys no household: not read
    assert not personal("Adresse")  # mapped: the role needs it
    assert not personal("texte")
    # A report's name keys its household (pipelines.ingest.household): read, never
    # written; an observation's names a surveyor: not read.
    assert not personal("Nom")
    observations = _source._personal_columns(dataclasses.replace(source, kind="observations"))
    assert observations is not None
    assert observations("Nom")


def test_ordinary_degrees_classified_as_by_the_full_checks() -> None:
    # When every pair is degrees in France the checks are skipped; one pair that is not
    # (a swapped one, appended) makes them run: the ordinary pairs come out the same.
    rng = np.random.default_rng(11)
    n = 1000
    lat = 48.8 + rng.random(n) * 0.1
    lon = 2.3 + rng.random(n) * 0.1
    lat[rng.random(n) < 0.2] = np.nan
    lon[7] = np.nan
    flags = rng.integers(0, 2, n).astype(np.int64)
    quick = _coords._classify_degrees(lat, lon, flags)
    full = _coords._classify_degrees(
        np.append(lat, 2.35), np.append(lon, 48.85), np.append(flags, 0)
    )
    for got, want in zip(quick, full, strict=True):
        assert np.array_equal(got, want[:n], equal_nan=True)
    assert full[2][n] == 1  # the swapped pair, fixed
    assert full[3][n] == 2


def test_few_rows_taken_chunk_by_chunk() -> None:
    # A few rows of a chunked column are taken from their own chunks, in the order
    # asked (repeats included), as pyarrow's take of the whole column gives them.
    values = [f"DI-{i}" if i % 7 else "" for i in range(1000)]
    column = pa.chunked_array(
        [pa.array(values[i : i + 90], pa.string()) for i in range(0, 1000, 90)]
    )
    rng = np.random.default_rng(4)
    for idx in (rng.integers(0, 1000, 60), np.array([999, 0, 0, 455]), np.zeros(0, np.int64)):
        got = _ingest_gather._take_from_chunks(column, idx)
        assert got.to_pylist() == [values[i] for i in idx]
        assert pa.types.is_large_string(got.type)
    series = _values.to_str_series(column)
    assert _ingest_gather._rows(series, np.array([5, 3])).tolist() == ["DI-5", "DI-3"]


@settings(max_examples=200, deadline=None)
@given(
    minutes=st.lists(st.integers(0, 30), min_size=1, max_size=60),
    ids=st.lists(st.sampled_from(["DI-1", "DI-10", "DI-2", "DI-9", "A", "", "é"]), min_size=60),
    shuffle=st.booleans(),
)
def test_presorted_order_is_pyarrows_stable_sort(
    minutes: list[int], ids: list[str], shuffle: bool
) -> None:
    # Rows sorted by time (ties in any id order, repeated ids) are ordered as pyarrow's
    # stable sort by (time, id) orders them; unsorted times are left to pyarrow.
    times = np.array(minutes if shuffle else sorted(minutes), dtype="datetime64[m]")
    times = times.astype("datetime64[us]")
    column = pa.chunked_array(
        [
            pa.array(ids[: len(times) // 2], pa.string()),
            pa.array(ids[len(times) // 2 : len(times)], pa.string()),
        ]
    )
    keys = pa.table({"t": pa.array(times), "r": column})
    want = pc.sort_indices(keys, sort_keys=[("t", "ascending"), ("r", "ascending")]).to_pylist()
    got = _ingest_gather._presorted_order(times, column)
    if got is None:
        assert shuffle
        assert (np.diff(times.astype(np.int64)) < 0).any()
    else:
        assert got.tolist() == want
    series = _values.to_str_series(column)
    assert _ingest_gather._order(pd.Series(times), series).tolist() == want


def test_presorted_order_leaves_missing_times_to_pyarrow() -> None:
    times = np.array(["2024-01-01", "NaT", "2024-01-02"], dtype="datetime64[us]")
    assert _ingest_gather._presorted_order(times, pa.array(["a", "b", "c"])) is None
    order = _ingest_gather._order(pd.Series(times), pd.Series(["a", "b", "c"], dtype="str"))
    assert order.tolist() == [0, 2, 1]
    # A run of equal times with its ids out of order is sorted, stably; too many such
    # runs go to pyarrow.
    same = np.array(["2024-01-01"] * 4 + ["2024-01-02"] * 2, dtype="datetime64[us]")
    ids = pa.array(["b", "a", "b", "a", "d", "c"])
    assert _ingest_gather._presorted_order(same, ids).tolist() == [1, 3, 0, 2, 5, 4]
    assert _ingest_gather._presorted_order(same, ids, most_groups=1) is None


def test_filled_cells() -> None:
    column = pa.chunked_array([["", "a", None], pa.array(["x", "", "", None]).slice(1)])
    filled = _values.filled_cells(_values.to_str_series(column))
    assert filled.tolist() == [False, True, False, False, False, False]


def test_a_ragged_row_that_says_utf8_is_a_ragged_row(tmp_path: Path) -> None:
    # pyarrow's parse error quotes the row: a row reading "UTF8" once passed for an
    # encoding error, and the file, re-decoded, raised instead of setting it aside.
    path = tmp_path / "f.csv"
    path.write_bytes(b"a;b\n1;x\nUTF8\n2;utf-8;z\n3;y\n")
    raw = _csv.read_csv(path)
    assert raw.encoding == "utf-8"
    assert raw.table.column("a").to_pylist() == ["1", "3"]
    assert [m.line for m in raw.malformed] == [3, 4]
    # Bytes that are not UTF-8 are still recognised as such.
    path.write_bytes("a;b\n1;caf\u00e9\n".encode("cp1252"))
    assert _csv.read_csv(path).encoding != "utf-8"
