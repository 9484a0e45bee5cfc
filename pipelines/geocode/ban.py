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
from pipelines.io import atomic_path

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


#: ``ban_status`` of a query the service answered (found or not, now or in the cache),
#: and of one it could not be asked or answered nothing readable.
BAN_ANSWERED = "answered"
BAN_FAILED = "failed"

#: The answer columns kept in the cache and read by :meth:`BanClient.geocode`.
_ANSWER_COLUMNS = (
    "longitude",
    "latitude",
    "result_score",
    "result_type",
    "result_label",
    "result_id",
)


class BanClient:
    """Client of the BAN CSV geocoder (``POST /search/csv/``), with an on-disk cache.

    Each address's answer (found or not) is kept in ``cache_dir/<hash>.json``, the hash
    (SHA-256) of the service URL and the address, and reused: a re-run asks the service
    only the addresses it never answered, where the cache was one file per request and
    a report added anywhere made the whole request, and every address in it, asked
    again. A service that fails (unreachable, an HTTP error, a connection closed, a
    time-out, an unreadable answer) stops nothing: the addresses it did not answer get
    ``ban_status`` ``failed``, the others keep their answers, no further request is
    sent, and :attr:`failure` says why, in French. Nothing here runs unless a client is
    created and passed to :func:`match_addresses`.

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

    Attributes
    ----------
    failure
        None, or the service's failure of the last :meth:`geocode` (French).
    sent, cached, failed
        Addresses of the last :meth:`geocode` asked to the service, read from the
        cache, and not answered.
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
        self.failure: str | None = None
        self.sent = self.cached = self.failed = 0

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
            ``ban_label``, ``ban_id``; NaN/NA where the service found nothing or was
            not asked; ``ban_status``: :data:`BAN_ANSWERED`, :data:`BAN_FAILED`, NA for
            a blank address (never asked).
        """
        values = queries.astype("string").fillna("").str.strip().to_numpy(dtype=object)
        wanted = list(dict.fromkeys(v for v in values if v))
        answers: dict[str, dict[str, str]] = {}
        for q in wanted:
            found = self._cached(q)
            if found is not None:
                answers[q] = found
        self.cached = len(answers)
        missing = [q for q in wanted if q not in answers]
        self.failure, self.sent = None, 0
        for start in range(0, len(missing), self.chunk_size):
            chunk = missing[start : start + self.chunk_size]
            try:
                answered = self._post(chunk)
            except BanServiceError as err:
                self.failure = str(err)
                # Said once, in French, by the stage's summary and log.
                log.info("BAN geocoder %s failed: %s", self.url, err)
                break
            self.sent += len(chunk)
            for q, answer in zip(chunk, answered, strict=True):
                answers[q] = answer
                self._keep(q, answer)
        self.failed = len(wanted) - len(answers)
        out = pd.DataFrame(index=queries.index)
        rows = [answers.get(v, {}) for v in values]
        for src, dst in (
            ("longitude", "ban_lon"),
            ("latitude", "ban_lat"),
            ("result_score", "ban_score"),
        ):
            column = pd.Series([r.get(src) for r in rows], dtype=object)
            out[dst] = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        for src, dst in (
            ("result_type", "ban_type"),
            ("result_label", "ban_label"),
            ("result_id", "ban_id"),
        ):
            out[dst] = pd.array([r.get(src) or None for r in rows], dtype="string")
        status = [BAN_ANSWERED if v in answers else BAN_FAILED if v else None for v in values]
        out["ban_status"] = pd.array(status, dtype="string")
        return out

    def _cache_file(self, query: str) -> Path | None:
        if self.cache_dir is None:
            return None
        key = hashlib.sha256(f"{self.url}\n{query}".encode()).hexdigest()
        return self.cache_dir / f"{key}.json"

    def _cached(self, query: str) -> dict[str, str] | None:
        """The cached answer to ``query``; None when absent or unreadable (asked again)."""
        path = self._cache_file(query)
        if path is None or not path.exists():
            return None
        try:
            kept = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(kept, dict) or kept.get("q") != query:
            return None
        answer = kept.get("answer")
        return answer if isinstance(answer, dict) else None

    def _keep(self, query: str, answer: dict[str, str]) -> None:
        path = self._cache_file(query)
        if path is None:
            return
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps({"q": query, "answer": answer}), encoding="utf-8")

    def _post(self, chunk: list[str]) -> list[dict[str, str]]:
        """Ask the service ``chunk``; its answers in the same order.

        Raises
        ------
        BanServiceError
            The service is unreachable, failed or answered something unreadable.
        """
        body = pd.DataFrame({"row_id": np.arange(len(chunk)), "q": chunk})
        log.info("BAN geocoder: POST %s (%d addresses)", self.url, len(chunk))
        try:
            response = requests.post(
                self.url,
                files={"data": ("adresses.csv", body.to_csv(index=False).encode(), "text/csv")},
                data={"columns": ["q"]},
                timeout=self.timeout,
            )
            response.raise_for_status()
            text = response.content.decode("utf-8")
        except requests.RequestException as err:
            raise BanServiceError(_cause(err, self.timeout)) from err
        except UnicodeDecodeError as err:
            raise BanServiceError(f"réponse illisible ({err})") from err
        try:
            answer = pd.read_csv(
                io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""]
            )
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            raise BanServiceError(f"réponse illisible ({err})") from err
        if "row_id" not in answer:
            raise BanServiceError("réponse sans la colonne row_id envoyée")
        by_row: dict[int, dict[str, str]] = {}
        row_ids = pd.to_numeric(answer["row_id"], errors="coerce")
        for row, record in zip(row_ids, answer.to_dict("records"), strict=True):
            if pd.notna(row) and int(row) not in by_row:
                by_row[int(row)] = {
                    c: str(record[c]) for c in _ANSWER_COLUMNS if pd.notna(record.get(c))
                }
        if len(by_row) < len(chunk) or set(by_row) != set(range(len(chunk))):
            raise BanServiceError(
                f"réponse incomplète ({len(by_row)} adresse(s) sur {len(chunk)} envoyées)"
            )
        return [by_row[i] for i in range(len(chunk))]


def _cause(err: requests.RequestException, timeout: float) -> str:
    """A requests error in French, its cause first: the HTTP status, a time-out, a
    refused or closed connection (requests' own words after it, shortened)."""
    response = getattr(err, "response", None)
    if isinstance(err, requests.HTTPError) and response is not None:
        return f"erreur HTTP {response.status_code}"
    if isinstance(err, requests.Timeout):
        return f"pas de réponse en {timeout:g} s"
    text = str(err)
    if "refused" in text.lower():
        return "connexion refusée"
    if isinstance(err, requests.ConnectionError):
        return f"connexion impossible ou fermée par le serveur ({text[:160]})"
    return text[:200]
