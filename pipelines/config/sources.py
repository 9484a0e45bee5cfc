"""One ``[[sites.sources]]`` table read and checked: its kind, format, columns, categories,
encoding, separators, date format and coordinate system."""

from __future__ import annotations

import difflib
from datetime import datetime
from typing import Any

from pipelines.config.site import COLUMN_ROLES, SOURCE_FORMATS, SOURCE_KINDS, SourceConfig
from pipelines.config.values import check_known, field_names, take, texts, toml_type
from pipelines.errors import ConfigError
from pipelines.taxonomy import CODES

#: Keys allowed in a source table, from the dataclass they fill.
SOURCE_KEYS = field_names(SourceConfig)


def _check_encoding(value: str, path: str, key: str) -> None:
    name = value.strip().lower().replace("_", "-").replace("-bom", "-sig")
    try:
        b"a".decode(name, errors="replace")  # an empty string would skip the lookup
    except LookupError as err:
        raise ConfigError(
            path,
            f"encodage « {value} » inconnu (exemples : utf-8, cp1252, latin-1).",
            key=key,
        ) from err


def _check_separator(value: str, path: str, key: str) -> None:
    if value in ("tab", "\\t"):
        return
    if len(value) != 1 or value in '\r\n"':
        raise ConfigError(
            path,
            f"séparateur {value!r} : attendu un seul caractère (« ; », « , », « | », "
            "ou « tab »), ni guillemet ni fin de ligne.",
            key=key,
        )


def _check_date_format(value: str, path: str, key: str) -> None:
    """A ``strptime`` format that reads back what it writes (or ``"excel"``)."""
    if value == "excel":
        return
    sample = datetime(2024, 3, 17, 13, 45, 56)
    ok = "%" in value
    if ok:
        try:
            datetime.strptime(sample.strftime(value), value)
        except ValueError:
            ok = False
    if not ok:
        raise ConfigError(
            path,
            f"format de date {value!r} illisible : attendu un format strptime tel que "
            "« %d/%m/%Y %H:%M », ou « excel ».",
            key=key,
        )


def _check_crs(value: str, path: str, key: str) -> None:
    # Imported here, for start-up time: pyproj takes about 0.1-0.3 s to import and only
    # a source with a non-default ``crs`` needs it at load time.
    from pyproj import CRS
    from pyproj.exceptions import CRSError as ProjCRSError

    try:
        CRS.from_user_input(value)
    except ProjCRSError as err:
        raise ConfigError(
            path,
            f"système de coordonnées « {value} » inconnu (exemples : EPSG:4326, EPSG:2154).",
            key=key,
        ) from err


def _not_one_of(value: str, allowed: tuple[str, ...]) -> str:
    """« « excel » : valeur inconnue ; valeurs possibles : auto, csv, … », where the
    message showed Python's tuple (« attendu ('auto', 'csv', …) »)."""
    return f"« {value} » : valeur inconnue ; valeurs possibles : {', '.join(allowed)}."


def read_source(raw: Any, path: str, where: str) -> SourceConfig:
    if not isinstance(raw, dict):
        raise ConfigError(path, f"attendu une table, trouvé {toml_type(raw)}.", key=where)
    check_known(raw, SOURCE_KEYS, path, where)
    sid = take(raw, "id", str, path, where)
    kind = take(raw, "kind", str, path, where, "reports")
    if kind not in SOURCE_KINDS:
        raise ConfigError(path, _not_one_of(kind, SOURCE_KINDS), key=f"{where}.kind")
    fmt = take(raw, "format", str, path, where, "auto")
    if fmt not in SOURCE_FORMATS:
        raise ConfigError(path, _not_one_of(fmt, SOURCE_FORMATS), key=f"{where}.format")
    src_path = take(raw, "path", str, path, where)
    if not src_path.strip():
        raise ConfigError(path, "chemin vide.", key=f"{where}.path")
    columns = take(raw, "columns", dict, path, where, {})
    for role, name in columns.items():
        if role not in COLUMN_ROLES:
            close = difflib.get_close_matches(role, COLUMN_ROLES, n=1)
            hint = f" Vouliez-vous dire « {close[0]} » ?" if close else ""
            raise ConfigError(
                path,
                f"rôle de colonne inconnu.{hint} Rôles possibles : {', '.join(COLUMN_ROLES)}.",
                key=f"{where}.columns.{role}",
            )
        if not isinstance(name, str) or not name:
            raise ConfigError(
                path,
                f"attendu le nom d'une colonne, trouvé {toml_type(name)}.",
                key=f"{where}.columns.{role}",
            )
    categories = take(raw, "categories", dict, path, where, {})
    for label, code in categories.items():
        if code not in CODES:
            raise ConfigError(
                path,
                f"catégorie « {code} » inconnue ; codes : {', '.join(CODES)}.",
                key=f"{where}.categories.{label}",
            )
    default_category = take(raw, "default_category", str, path, where, None)
    if default_category is not None and default_category not in CODES:
        raise ConfigError(
            path, f"catégorie « {default_category} » inconnue.", key=f"{where}.default_category"
        )
    encoding = take(raw, "encoding", str, path, where, None)
    if encoding is not None:
        _check_encoding(encoding, path, f"{where}.encoding")
    separator = take(raw, "separator", str, path, where, None)
    if separator is not None:
        _check_separator(separator, path, f"{where}.separator")
    decimal = take(raw, "decimal", str, path, where, None)
    if decimal is not None and decimal not in (",", "."):
        raise ConfigError(
            path,
            f"séparateur décimal {decimal!r} : attendu « , » ou « . ».",
            key=f"{where}.decimal",
        )
    date_format = take(raw, "date_format", str, path, where, None)
    if date_format is not None:
        _check_date_format(date_format, path, f"{where}.date_format")
    crs = take(raw, "crs", str, path, where, "EPSG:4326")
    if crs != "EPSG:4326":
        _check_crs(crs, path, f"{where}.crs")
    return SourceConfig(
        id=sid,
        kind=kind,
        path=src_path,
        format=fmt,
        encoding=encoding,
        separator=separator,
        decimal=decimal,
        date_format=date_format,
        sheet=take(raw, "sheet", str, path, where, None),
        crs=crs,
        columns=dict(columns),
        categories={str(k): str(v) for k, v in categories.items()},
        personal_columns=texts(raw, "personal_columns", path, where),
        default_category=default_category,
    )
