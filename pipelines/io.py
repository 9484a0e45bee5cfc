"""Atomic, logged writers and the few readers shared by every stage.

Every write goes to a temporary file in the destination folder, then ``replace()`` moves
it into place, so that an interrupted run never leaves half a file that ``make`` would
take as up to date. A write that fails (full disk, read-only or forbidden folder) removes
its temporary file and raises an :class:`~pipelines.errors.OutputError` naming the file.

CSV files are meant for people, who open them in a spreadsheet (Excel in French, most of
the time): :func:`write_csv` writes them as Excel does there, ``;``-separated, UTF-8 with a
BOM, decimal commas, and neutralises text cells that a spreadsheet would run as a formula;
:func:`read_csv` reads them back (the few stages that read another's CSV, and the tests).

Long steps (reading a large export, geocoding, Gi*, writing a map, ``vigie run`` over
sites) show their progress with :class:`pipelines.progress.Progress`: a bar on a
terminal, plain log lines elsewhere (make, CI), nothing under ``vigie -q``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pyproj import CRS

from pipelines import __version__
from pipelines.crs import WGS84
from pipelines.errors import InputError, OutputError

# geopandas' own GeoParquet conversion, without its CRS parsing (:func:`read_geoparquet`).
try:
    from geopandas.io.arrow import _arrow_to_geopandas, _remove_id_from_member_of_ensembles
except (ImportError, AttributeError):
    # Private names an upgrade may move: gpd.read_parquet then, slower but the same frame.
    HAS_PRIVATE_GEOPARQUET = False
else:
    HAS_PRIVATE_GEOPARQUET = True

log = logging.getLogger(__name__)


@contextmanager
def atomic_path(dst: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dst``; on success move it onto ``dst``.

    Raises
    ------
    OutputError
        When the folder cannot be made or the file cannot be written or moved into place
        (full disk, read-only or forbidden folder, a file where a folder should be); the
        temporary file is removed first.
    """
    dst = Path(dst)
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
        os.close(fd)
    except OSError as err:
        raise OutputError(dst, err) from err
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates the file readable by its owner only; give it the usual mode.
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)
        tmp.replace(dst)
    except OSError as err:
        # Only I/O on the temporary file and its move can fail here: the writers given
        # to this context write to ``tmp`` and nowhere else.
        raise OutputError(dst, err) from err
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _write(dst: str | Path, writer: Callable[[Path], object], what: str) -> Path:
    with atomic_path(dst) as tmp:
        writer(tmp)
    log.info("wrote %s (%s)", dst, what)
    return Path(dst)


def write_parquet(frame: pd.DataFrame, dst: str | Path) -> Path:
    """Write a table (no geometry) as Parquet (zstd), atomically: a folder it cannot
    write is one :class:`OutputError` naming the file, not pyarrow's message without
    one."""
    return _write(
        dst, lambda p: frame.to_parquet(p, index=False, compression="zstd"), f"{len(frame)} rows"
    )


def write_geoparquet(frame: gpd.GeoDataFrame, dst: str | Path) -> Path:
    """Write a GeoDataFrame as GeoParquet in EPSG:4326, atomically.

    The row order and index are kept so that a re-run gives byte-identical files.
    """
    out = frame if frame.crs is not None and frame.crs.to_string() == WGS84 else frame.to_crs(WGS84)
    return _write(
        dst,
        lambda p: out.to_parquet(p, index=False, compression="zstd", write_covering_bbox=False),
        f"{len(out)} rows",
    )


def point_wkb(lon: np.ndarray, lat: np.ndarray) -> pa.BinaryArray:
    """Well-known binary points (little-endian, 21 bytes each), null where a coordinate
    is missing: the bytes shapely writes for ``Point(lon, lat)``, built by numpy without
    a Python object per point."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    n = len(lon)
    record = np.dtype([("order", "u1"), ("kind", "<u4"), ("x", "<f8"), ("y", "<f8")])
    records = np.zeros(n, dtype=record)  # packed: 21 bytes a point
    records["order"], records["kind"], records["x"], records["y"] = 1, 1, lon, lat
    valid = np.isfinite(lon) & np.isfinite(lat)
    offsets = np.zeros(n + 1, dtype=np.int32)
    offsets[1:] = np.cumsum(np.where(valid, record.itemsize, 0))
    data = records[valid].tobytes()
    validity = None if valid.all() else pa.array(valid).buffers()[1]
    return pa.Array.from_buffers(
        pa.binary(), n, [validity, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data)]
    )


def write_points_geoparquet(
    frame: pd.DataFrame, dst: str | Path, *, lon: str = "lon", lat: str = "lat"
) -> Path:
    """Write a frame with WGS84 ``lon``/``lat`` columns as GeoParquet, with a point
    ``geometry`` column (WKB, null where a coordinate is missing), atomically.

    The points go from the coordinates to WKB with numpy (:func:`point_wkb`): no
    shapely object is made, which spares a million-row frame about half a second. The
    file reads back with :func:`read_geoparquet` like any other; its GeoParquet 1.1
    metadata are those geopandas writes (encoding, CRS as PROJJSON, geometry types,
    bounding box).
    """
    x, y = frame[lon].to_numpy(dtype=float), frame[lat].to_numpy(dtype=float)
    wkb = point_wkb(x, y)
    table = pa.Table.from_pandas(frame, preserve_index=False).append_column("geometry", wkb)
    has = np.asarray(wkb.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    column: dict[str, Any] = {
        "encoding": "WKB",
        "crs": CRS.from_user_input(WGS84).to_json_dict(),
        "geometry_types": ["Point"] if has.any() else [],
    }
    if has.any():
        column["bbox"] = [
            float(x[has].min()),
            float(y[has].min()),
            float(x[has].max()),
            float(y[has].max()),
        ]
    geo = {
        "primary_column": "geometry",
        "columns": {"geometry": column},
        "version": "1.1.0",
        "creator": {"library": "vigie", "version": __version__},
    }
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), b"geo": json.dumps(geo).encode("utf-8")}
    )
    return _write(
        dst,
        lambda p: pq.write_table(table, p, compression="zstd"),
        f"{len(frame)} rows",
    )


@cache
def _crs_of_projjson(text: str) -> CRS:
    """The CRS of a GeoParquet column's PROJJSON (JSON text), read once per process.

    geopandas writes and reads a CRS's PROJJSON without the ids of its datum ensemble's
    members (older PROJ versions do not know the newer ids), so PROJ looks each member
    up by name: about 40 ms for WGS 84, on every read of every file. A portfolio site's
    stages read about twenty files; the CRS is the same each time.
    """
    crs = json.loads(text)
    _remove_id_from_member_of_ensembles(crs)  # as geopandas' reader does
    return CRS.from_user_input(crs)


#: What a reading error adds: the file is made by a stage, which can make it again.
RERUN = "relancez l'étape qui le produit."


def _input_file(src: str | Path) -> Path:
    """``src``, when it is a file; else an :class:`InputError` naming it."""
    src = Path(src)
    if not src.exists():
        raise InputError(src, "fichier introuvable ; lancez d'abord l'étape qui le produit.")
    if src.is_dir():  # pyarrow would read a folder as a dataset of every file in it
        raise InputError(src, "c'est un dossier, pas un fichier GeoParquet.")
    return src


def _names(columns: Iterable[str]) -> list[str]:
    return [columns] if isinstance(columns, str) else list(columns)  # one name, or several


def _columns_to_read(
    src: Path, columns: Iterable[str], optional: Iterable[str], *, geometry: bool
) -> list[str]:
    """The columns of GeoParquet file ``src`` to read: ``columns``, those of
    ``optional`` the file has and, with ``geometry``, the primary geometry column, in
    the file's order (the frame's columns are then in the order a whole read gives
    them).

    Raises
    ------
    InputError
        When the file is not a readable GeoParquet file, or lacks a column asked for.
    ValueError
        Without ``geometry``, when a geometry column is asked for (a mistake in the code).
    """
    try:
        schema = pq.read_schema(src)
    except (pa.ArrowException, OSError) as err:
        raise InputError(
            src, f"pas un fichier GeoParquet lisible (ou écrit à moitié) ; {RERUN}"
        ) from err
    metadata = (schema.metadata or {}).get(b"geo")
    if metadata is None:
        raise InputError(src, f"fichier Parquet sans géométrie (pas un GeoParquet) ; {RERUN}")
    geo = json.loads(metadata)
    wanted, maybe = set(_names(columns)), set(_names(optional))
    if geometry:
        wanted.add(geo["primary_column"])
    elif (wanted | maybe) & set(geo["columns"]):
        geometries = ", ".join(sorted((wanted | maybe) & set(geo["columns"])))
        raise ValueError(f"{geometries}: a geometry column, which read_geoparquet reads")
    missing = sorted(wanted.difference(schema.names))
    if missing:
        raise InputError(
            src,
            f"colonne(s) absente(s) : {', '.join(missing)} ; le fichier vient d'une autre "
            f"version de Vigie ou d'un autre outil, {RERUN}",
        )
    wanted |= maybe
    return [name for name in schema.names if name in wanted]


def read_geoparquet(
    src: str | Path, columns: Iterable[str] | None = None, *, optional: Iterable[str] = ()
) -> gpd.GeoDataFrame:
    """Read a GeoParquet file written by :func:`write_geoparquet`.

    The frame ``geopandas.read_parquet`` gives, made by geopandas' own conversion
    (the one dask-geopandas calls), with each column's CRS from :func:`_crs_of_projjson`;
    ``geopandas.read_parquet`` itself when that conversion cannot be imported
    (:data:`HAS_PRIVATE_GEOPARQUET`).

    Parameters
    ----------
    src
        The file.
    columns
        When given, only these columns are read (pyarrow reads no other from the file,
        and no other is converted: ``reports.parquet`` has 32), with the primary
        geometry column whether asked for or not, in the file's order. A column the
        file lacks is an :class:`~pipelines.errors.InputError` naming the file and the
        column. Without the geometry: :func:`read_geoparquet_attributes`.
    optional
        With ``columns``: more columns, read when the file has them (those the code
        reading the frame uses only when present, e.g. ``duplicate_of`` in
        :func:`pipelines.reports.counted`).
    """
    src = _input_file(src)
    names = None if columns is None else _columns_to_read(src, columns, optional, geometry=True)
    try:
        if not HAS_PRIVATE_GEOPARQUET:
            return gpd.read_parquet(src, columns=names)
        table = pq.read_table(src, columns=names)
    except (pa.ArrowException, ValueError) as err:  # ValueError: geopandas' « no geo »
        raise InputError(
            src, f"pas un fichier GeoParquet lisible (ou écrit à moitié) ; {RERUN}"
        ) from err
    metadata = (table.schema.metadata or {}).get(b"geo")
    if metadata is None:
        raise InputError(src, f"fichier Parquet sans géométrie (pas un GeoParquet) ; {RERUN}")
    geo = json.loads(metadata)
    crs = {}
    for name, column in geo["columns"].items():
        if isinstance(column.get("crs"), dict):
            crs[name] = _crs_of_projjson(json.dumps(column["crs"]))
            column["crs"] = None  # set below, not parsed again
    frame = _arrow_to_geopandas(table, geo)
    for name, value in crs.items():
        if name in frame:
            frame[name] = frame[name].set_crs(value)
    return frame


def read_geoparquet_attributes(
    src: str | Path, columns: Iterable[str], *, optional: Iterable[str] = ()
) -> pd.DataFrame:
    """Some columns of a GeoParquet file, without its geometry: a pandas frame.

    The columns of :func:`read_geoparquet` with the same ``columns`` and ``optional``
    (the same dtypes, index and order), but the geometry column, which is neither read
    nor decoded: for a stage that does not place its rows, the points' decoding is
    most of the read (``reports.parquet`` of a 25,000-report site, 7 columns: 18 ms of
    CPU with the points, 6 ms without).

    Raises
    ------
    InputError
        When the file is missing, not a readable GeoParquet file, or lacks a column of
        ``columns``.
    """
    src = _input_file(src)
    names = _columns_to_read(src, columns, optional, geometry=False)
    try:
        return pq.read_table(src, columns=names).to_pandas()
    except pa.ArrowException as err:
        raise InputError(
            src, f"pas un fichier GeoParquet lisible (ou écrit à moitié) ; {RERUN}"
        ) from err


#: First characters that make a spreadsheet (Excel, LibreOffice) read a text cell as a
#: formula: ``=``, ``+``, ``-``, ``@``, and tab or carriage return (OWASP, "CSV
#: injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _neutralised(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


_FORMULA_START = "^[=+\\-@\t\r]"  # FORMULA_STARTS, as a regular expression


def _neutralised_column(values: pd.Series) -> np.ndarray | None:
    """The cells of a text column with an apostrophe before each formula start, or
    ``None`` when no cell needs one (or the column holds no text)."""
    try:
        arr = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: one cell at a time
        cells = values.to_numpy(dtype=object)
        safe = np.array([_neutralised(v) for v in cells], dtype=object)
        changed = any(a is not b for a, b in zip(safe, cells, strict=True))
        return safe if changed else None
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    # pyarrow's kernels: about ten times faster than pandas' .str on a million cells.
    starts = pc.fill_null(pc.match_substring_regex(arr, _FORMULA_START), False)
    if not pc.any(starts).as_py():
        return None
    quoted = pc.binary_join_element_wise(pa.scalar("'", arr.type), arr, pa.scalar("", arr.type))
    return pc.if_else(starts, quoted, arr).to_numpy(zero_copy_only=False)


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` where every text cell (and column name) that starts with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return gets a leading apostrophe, so that a
    spreadsheet shows it as text instead of running it; numbers stay numbers.

    The frame itself is returned when no cell needs it.
    """
    out = frame.copy()  # lazy: pandas copies on write
    changed = False
    for i in range(frame.shape[1]):
        values = frame.iloc[:, i]
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(object)
        elif not (values.dtype == object or isinstance(values.dtype, pd.StringDtype)):
            continue
        safe = _neutralised_column(values)
        if safe is not None:
            out.isetitem(i, safe)
            changed = True
    names = [_neutralised(c) for c in frame.columns]
    if names != list(frame.columns):
        out = out.set_axis(names, axis=1)
        changed = True
    return out if changed else frame


def _text_and_integers(frame: pd.DataFrame) -> pa.Table | None:
    """The frame as an Arrow table when its columns are all text or integers (which
    pyarrow's CSV writer writes as pandas does, but for quoting every text), else None."""
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # an object column of mixed types
        return None
    kinds = (pa.types.is_string, pa.types.is_large_string, pa.types.is_integer, pa.types.is_null)
    if not all(any(kind(t) for kind in kinds) for t in table.schema.types):
        return None
    # One chunk a column: behind an empty chunk (``pd.concat`` of an empty frame first),
    # pyarrow's CSV writer writes stale bytes of its buffer (apache/arrow#36889).
    return table.combine_chunks()


#: The separator and decimal mark of the CSV files people open (Excel's, in French).
CSV_SEP = ";"
CSV_DECIMAL = ","


def _to_csv(frame: pd.DataFrame, path: Path) -> None:
    """The CSV of :func:`write_csv`: the header by pandas; the rows by pyarrow's writer
    when they are text and integers (rejected.csv of 400,000 rows: 0.3 s instead of
    9 s, its long JSON cells being where Python's csv module is slow), else by pandas."""
    table = _text_and_integers(frame)
    head = frame if table is None else frame.iloc[:0]
    head.to_csv(
        path,
        index=False,
        sep=CSV_SEP,
        decimal=CSV_DECIMAL,
        encoding="utf-8-sig",
        lineterminator="\n",
    )
    if table is not None and table.num_rows:
        options = pacsv.WriteOptions(include_header=False, delimiter=CSV_SEP)
        with path.open("ab") as fh:
            pacsv.write_csv(table, fh, write_options=options)


def write_csv(frame: pd.DataFrame, dst: str | Path) -> Path:
    """Write a CSV for people, atomically: ``;``-separated, decimal commas, UTF-8 with a
    BOM (so that Excel in French opens it in columns, with its accents and numbers).

    Text cells that a spreadsheet would take as a formula get a leading apostrophe
    (:func:`neutralise_formulas`).
    """
    safe = neutralise_formulas(frame)
    return _write(dst, lambda p: _to_csv(safe, p), f"{len(frame)} rows")


def read_csv(src: str | Path, **options: Any) -> pd.DataFrame:
    """Read back a CSV that :func:`write_csv` wrote (``options`` go to
    :func:`pandas.read_csv`: ``dtype``, ``keep_default_na``…)."""
    return pd.read_csv(src, sep=CSV_SEP, decimal=CSV_DECIMAL, encoding="utf-8-sig", **options)


def write_json(data: Any, dst: str | Path) -> Path:
    """Write JSON (UTF-8, sorted keys, indented) atomically."""
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n"
    return _write(dst, lambda p: p.write_text(text, encoding="utf-8"), "json")


def write_text(text: str, dst: str | Path) -> Path:
    """Write a text file (HTML, Markdown) in UTF-8, atomically."""
    return _write(
        dst, lambda p: p.write_text(text, encoding="utf-8"), f"{len(text.encode()) / 1e6:.2f} MB"
    )


def read_json(src: str | Path) -> Any:
    """Read a JSON file, with a clear error when it is missing or malformed."""
    src = Path(src)
    if not src.exists():
        raise InputError(src, "fichier introuvable.")
    try:
        return json.loads(src.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(src, f"JSON invalide ({err.msg})", row=err.lineno) from err
    except RecursionError as err:  # arrays or objects nested thousands deep
        raise InputError(src, "JSON invalide (imbriqué trop profondément).") from err
    except UnicodeDecodeError as err:
        raise InputError(src, "JSON invalide (le fichier doit être encodé en UTF-8).") from err


def list_cell(value: object) -> list[str]:
    """The strings of a list cell: a list or an array (GeoParquet list columns read back
    as numpy arrays), one string, or nothing (None, NaN, ``pd.NA``)."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Iterable):
        return []
    return [str(v) for v in value]
