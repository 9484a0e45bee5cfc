"""Private: the Base Adresse Nationale of :mod:`pipelines.geocode.address_index`.

The offline BAN CSV reader (:func:`read_ban`) and the online BAN geocoder client
(:class:`BanClient`, never called unless passed to
:func:`pipelines.geocode.address_index.match_addresses`).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import requests

from pipelines.crs import WGS84
from pipelines.errors import InputError, VigieError
from pipelines.geocode.addresses import normalise_key, normalise_street, repair_mojibake
from pipelines.geocode.osm_addresses import _finish_address_frame

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------
# Reading the BAN
# --------------------------------------------------------------------------------------

_BAN_REQUIRED = ("numero", "rep", "nom_voie", "code_postal", "lon", "lat")


def _ban_separator(path: Path) -> str:
    """``;`` for the BAN as adresse.data.gouv.fr publishes it (``adresses-93.csv.gz``,
    ``adresses-93010.csv``), ``,`` for an extract such as the shipped one: whichever its
    header holds more of. Read with ``,`` only, the official file was one column and
    refused (« colonne manquante »)."""
    import gzip

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        header = fh.readline()
    return ";" if header.count(";") > header.count(",") else ","


def read_ban(path: str | Path) -> gpd.GeoDataFrame:
    """Read a Base Adresse Nationale CSV: the official file (``;``, optionally gzipped) or
    an extract (comma-separated, quoted, ``NA``).

    Parameters
    ----------
    path
        CSV with at least ``numero``, ``rep``, ``nom_voie``, ``code_postal``, ``lon``,
        ``lat`` (WGS84 degrees); ``id``, ``nom_commune``, ``alias`` and ``nom_afnor`` are
        used when present.

    Returns
    -------
    GeoDataFrame
        EPSG:4326 points, columns :data:`ADDRESS_COLUMNS`, ``source`` = ``ban``. Rows
        without a position or a number are dropped and counted in the log.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "fichier BAN introuvable.")
    try:
        raw = pd.read_csv(
            path,
            dtype=str,
            na_values=["NA", ""],
            keep_default_na=False,
            encoding="utf-8",
            sep=_ban_separator(path),
        )
    except pd.errors.EmptyDataError as err:  # a 0-byte file: a traceback before
        raise InputError(path, "fichier BAN vide : attendu un extrait BAN (CSV).") from err
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError) as err:
        raise InputError(path, f"CSV BAN illisible ({err})") from err
    for column in _BAN_REQUIRED:
        if column not in raw.columns:
            raise InputError(
                path, "colonne manquante : attendu un extrait BAN (format « csv »).", column=column
            )
    lon = pd.to_numeric(raw["lon"], errors="coerce")
    lat = pd.to_numeric(raw["lat"], errors="coerce")
    number = pd.to_numeric(raw["numero"], errors="coerce")
    keep = lon.notna() & lat.notna() & number.notna() & raw["nom_voie"].notna()
    if (~keep).any():
        log.info("%s: %d BAN rows without position, number or street dropped", path, (~keep).sum())
    raw, lon, lat, number = raw[keep], lon[keep], lat[keep], number[keep]

    # The published Bondy extract has UTF-8 read as Windows-1252 in its names.
    for column in ("nom_voie", "nom_commune", "alias"):
        if column in raw:
            raw[column] = raw[column].map(repair_mojibake, na_action="ignore")
    names = raw["nom_voie"].astype(str)
    unique_names = {n: normalise_street(n) for n in names.unique()}
    alt_columns = [c for c in ("alias", "nom_afnor") if c in raw.columns]

    def alt_keys(row_index: Any) -> str | None:
        own = unique_names[names.at[row_index]][1]
        keys = {
            k
            for c in alt_columns
            if isinstance(v := raw.at[row_index, c], str)
            and (k := normalise_street(v)[1])
            and k != own
        }
        return "|".join(sorted(keys)) or None

    frame = pd.DataFrame(
        {
            "address_id": raw["id"] if "id" in raw else raw.index.astype(str),
            "source": "ban",
            "housenumber_raw": raw["numero"] + raw["rep"].fillna(""),
            "number": number.astype(int),
            "suffix": [
                (s.strip().lower() or None) if isinstance(s, str) else None for s in raw["rep"]
            ],
            "street_raw": names,
            "street": [unique_names[n][0] for n in names],
            "street_key": [unique_names[n][1] for n in names],
            "street_alt_keys": [alt_keys(i) for i in raw.index] if alt_columns else None,
            "postcode": raw["code_postal"].str.zfill(5),
            "city": [normalise_key(c) for c in raw["nom_commune"]]
            if "nom_commune" in raw
            else None,
            "is_entrance": False,
            "entrance_ref": None,
        }
    ).reset_index(drop=True)
    geoms = gpd.points_from_xy(lon.to_numpy(), lat.to_numpy(), crs=WGS84)
    out = _finish_address_frame(frame, geoms)
    log.info("%s: %d BAN addresses", path, len(out))
    return out


# --------------------------------------------------------------------------------------
# BAN online geocoder
# --------------------------------------------------------------------------------------


class BanServiceError(VigieError, RuntimeError):
    """The BAN geocoding service failed or answered something unreadable."""


class BanClient:
    """Client of the BAN CSV geocoder (``POST /search/csv/``), with an on-disk cache.

    Each request (URL, form fields and CSV body) is hashed (SHA-256); its answer is kept
    in ``cache_dir/<hash>.csv`` and reused, so a re-run never calls the service again.
    Nothing here runs unless a client is created and passed to :func:`match_addresses`.

    Parameters
    ----------
    base_url
        Service root.
    cache_dir
        Folder for cached answers; ``None`` disables the cache.
    timeout
        Seconds per request.
    chunk_size
        Addresses per request.
    """

    def __init__(
        self,
        base_url: str = "https://api-adresse.data.gouv.fr",
        *,
        cache_dir: str | Path | None = None,
        timeout: float = 60.0,
        chunk_size: int = 5000,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.timeout = timeout
        self.chunk_size = chunk_size

    @property
    def url(self) -> str:
        return f"{self.base_url}/search/csv/"

    def geocode(self, queries: pd.Series) -> pd.DataFrame:
        """Geocode free-text addresses.

        Parameters
        ----------
        queries
            Address strings (``"12 allee marguerite duras, 93140 bondy"``).

        Returns
        -------
        DataFrame
            Aligned on ``queries.index``: ``ban_lon``, ``ban_lat`` (WGS84 degrees),
            ``ban_score`` (0–1), ``ban_type`` (``housenumber``, ``street``…),
            ``ban_label``, ``ban_id``; NaN/NA where the service found nothing.
        """
        values = queries.astype("string").fillna("").to_numpy()
        answers = []
        for start in range(0, len(values), self.chunk_size):
            chunk = values[start : start + self.chunk_size]
            body = pd.DataFrame({"row_id": np.arange(start, start + len(chunk)), "q": chunk})
            answers.append(self._post(body.to_csv(index=False).encode("utf-8")))
        found = (
            pd.concat(answers, ignore_index=True)
            if answers
            else pd.DataFrame({"row_id": pd.Series(dtype=str)})
        )
        found.index = pd.Index(pd.to_numeric(found["row_id"], errors="coerce"))
        found = found[found.index.notna() & ~found.index.duplicated()]
        found = found.reindex(pd.RangeIndex(len(values)))
        out = pd.DataFrame(index=queries.index)
        for src, dst in (
            ("longitude", "ban_lon"),
            ("latitude", "ban_lat"),
            ("result_score", "ban_score"),
        ):
            column = found[src] if src in found else pd.Series(np.nan, index=found.index)
            out[dst] = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        for src, dst in (
            ("result_type", "ban_type"),
            ("result_label", "ban_label"),
            ("result_id", "ban_id"),
        ):
            column = found[src] if src in found else pd.Series(pd.NA, index=found.index)
            out[dst] = column.astype("string").to_numpy()
        return out

    def _post(self, body: bytes) -> pd.DataFrame:
        form = {"columns": ["q"]}
        key = hashlib.sha256(
            (self.url + "\n" + json.dumps(form, sort_keys=True) + "\n").encode() + body
        ).hexdigest()
        cached = self.cache_dir / f"{key}.csv" if self.cache_dir is not None else None
        if cached is not None and cached.exists():
            text = cached.read_text(encoding="utf-8")
        else:
            log.info("BAN geocoder: POST %s (%d bytes)", self.url, len(body))
            try:
                response = requests.post(
                    self.url,
                    files={"data": ("adresses.csv", body, "text/csv")},
                    data=form,
                    timeout=self.timeout,
                )
                response.raise_for_status()
            except requests.RequestException as err:
                raise BanServiceError(f"géocodeur BAN injoignable ou en erreur ({err})") from err
            text = response.content.decode("utf-8")
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                tmp = cached.with_suffix(".tmp")
                tmp.write_text(text, encoding="utf-8")
                tmp.replace(cached)
        try:
            answer = pd.read_csv(
                io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""]
            )
        except pd.errors.ParserError as err:
            raise BanServiceError(f"réponse du géocodeur BAN illisible ({err})") from err
        if "row_id" not in answer:
            raise BanServiceError("réponse du géocodeur BAN sans la colonne row_id envoyée.")
        return answer
