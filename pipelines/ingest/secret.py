"""The site's secret that keys the household keys (:mod:`pipelines.ingest.household`):
where it lives (:func:`secret_path`, outside the repository's data), how it is read
(:func:`load_secret`, a French message saying how to create a missing or unreadable one)
and created (:func:`create_secret`, ``vigie secret``: never over an existing one).
"""

from __future__ import annotations

import codecs
import os
import re
import secrets as _random
from pathlib import Path

from pipelines.errors import ConfigError, VigieError, os_reason


# --------------------------------------------------------------------------- secret
def secret_path(secrets_dir: str | Path, site_id: str) -> Path:
    """Where the secret of ``site_id`` is kept."""
    return Path(secrets_dir) / f"{site_id}.key"


def _how_to_create(config_path: str, site_id: str) -> str:
    return (
        f"créez-le avec « make secrets » ou « vigie secret --config {config_path} --site "
        f"{site_id} » (une seule fois : il doit rester le même d'un passage à l'autre, hors "
        "du dépôt, et ne jamais être diffusé)"
    )


def load_secret(path: str | Path, *, config_path: str, site_id: str) -> bytes:
    """The site's secret read from ``path``.

    Raises
    ------
    ConfigError
        The file is missing, is a folder, is unreadable, begins with a byte-order mark
        (an editor saved it) or holds no secret (fewer than 32 hex digits): one French
        message naming the file and what to do. Never a key without the secret.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            path,
            f"secret du site « {site_id} » introuvable : les clés de foyer des signalements "
            "(HMAC-SHA256) ne se calculent jamais sans lui ; "
            + _how_to_create(config_path, site_id)
            + ".",
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            path,
            f"ce chemin est un dossier, pas le fichier du secret du site « {site_id} » ; "
            "déplacez ou supprimez ce dossier, puis " + _how_to_create(config_path, site_id) + ".",
        ) from None
    except OSError as err:
        raise ConfigError(
            path, f"secret du site « {site_id} » illisible : {os_reason(err)}."
        ) from None
    if raw.startswith(codecs.BOM_UTF8):
        raise ConfigError(
            path,
            f"le secret du site « {site_id} » commence par une marque d'ordre des octets "
            "(BOM UTF-8) qu'un éditeur de texte a ajoutée ; retirez-la sans rien changer "
            "d'autre (enregistrez le fichier en « UTF-8 sans BOM » ou en ASCII) : le secret "
            "doit rester le même, sinon toutes les clés de foyer changent.",
        )
    text = raw.decode("ascii", errors="replace").strip()
    if not re.fullmatch(r"[0-9a-f]{64,}", text):
        raise ConfigError(
            path,
            f"ce fichier ne contient pas un secret valide (au moins 64 chiffres hexadécimaux) "
            f"pour le site « {site_id} » ; supprimez-le puis "
            + _how_to_create(config_path, site_id)
            + ".",
        )
    return bytes.fromhex(text[: len(text) // 2 * 2])


class SecretExistsError(VigieError):
    """``vigie secret`` met a secret already there: never overwritten."""


def create_secret(path: str | Path) -> Path:
    """Write a new random secret (32 bytes, hex) to ``path``, readable by its owner only
    (folder 700, file 600).

    Raises
    ------
    SecretExistsError
        A file is there already: replacing the secret would change every household key.
    ConfigError
        A folder is there (what to do is said).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    try:
        # O_EXCL: an existing secret is never overwritten, even by a concurrent run.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.is_dir():
            raise ConfigError(
                path,
                "ce chemin est un dossier, pas le fichier du secret ; déplacez ou supprimez "
                "ce dossier, puis relancez « vigie secret » (ou « make secrets »).",
            ) from None
        raise SecretExistsError(
            f"{path} : un secret existe déjà pour ce site ; il n'est jamais remplacé "
            "(toutes les clés de foyer changeraient). Supprimez-le vous-même si vous "
            "voulez vraiment en changer."
        ) from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(_random.token_hex(32) + "\n")
    os.chmod(path, 0o600)
    return path
