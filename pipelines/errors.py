"""Exception classes for user-facing errors.

Every error a user can cause (a bad configuration, a malformed input file) is raised as a
subclass of :class:`VigieError`. The CLI catches these, prints one clear message naming the
file (and the row, column or key) and exits with code 2, without a traceback. Programming
errors are left to propagate as ordinary exceptions.
"""

from __future__ import annotations

import errno
from pathlib import Path

#: French words for the operating-system failures a user can cause or fix (a full disk,
#: a read-only or forbidden folder, a path through a file); others keep their own text.
_OS_REASONS = {
    errno.ENOSPC: "disque plein ; libérez de la place puis relancez",
    errno.EDQUOT: "quota de disque dépassé ; libérez de la place puis relancez",
    errno.EROFS: "système de fichiers en lecture seule ; choisissez un autre dossier",
    errno.EACCES: "permission refusée ; vérifiez les droits sur ce chemin",
    errno.EPERM: "opération non permise ; vérifiez les droits sur ce chemin",
    errno.ENOTDIR: "un élément du chemin est un fichier, pas un dossier",
    errno.EISDIR: "ce chemin est un dossier, pas un fichier",
    errno.EEXIST: "un fichier porte déjà ce nom",
    errno.ENOENT: "fichier ou dossier introuvable",
    errno.ENAMETOOLONG: "chemin trop long",
}


def os_reason(err: OSError) -> str:
    """What an :class:`OSError` means, in French, without the path (callers name it)."""
    if err.errno in _OS_REASONS:
        return _OS_REASONS[err.errno]
    return f"erreur du système ({err.strerror or type(err).__name__})"


class VigieError(Exception):
    """Base class for errors caused by the user's inputs or configuration.

    It pickles with its message and fields, whatever its subclass's ``__init__`` takes
    (:func:`_restore`): a user error raised in another process, such as the extract's cut
    that ``vigie split`` runs beside the rows' split, reaches the CLI as it was raised.
    """

    exit_code = 2

    def __reduce__(self) -> tuple[object, ...]:
        return (_restore, (type(self), self.args, self.__dict__))


def _restore(
    kind: type[VigieError], args: tuple[object, ...], fields: dict[str, object]
) -> VigieError:
    """A pickled :class:`VigieError` again, without calling its ``__init__`` (pickle's
    default calls ``kind(*args)``: ``InputError(message)`` lacks its ``message``)."""
    err = kind.__new__(kind, *args)
    err.args = args
    err.__dict__.update(fields)
    return err


class ConfigError(VigieError, ValueError):
    """The configuration file is missing, malformed or inconsistent."""

    def __init__(self, path: str | Path, message: str, *, key: str | None = None) -> None:
        where = f"{path}" + (f", clé « {key} »" if key else "")
        super().__init__(f"{where} : {message}")
        self.path = str(path)
        self.key = key
        self.message = message


class InputError(VigieError, ValueError):
    """An input data file is missing, unreadable or malformed.

    Parameters
    ----------
    path
        The file at fault.
    message
        What is wrong and, where possible, how to fix it.
    row
        1-based line number in the file (header is line 1), if known.
    column
        Column name, if known.
    """

    def __init__(
        self,
        path: str | Path,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        where = str(path)
        if row is not None:
            where += f", ligne {row}"
        if column is not None:
            where += f", colonne « {column} »"
        super().__init__(f"{where} : {message}")
        self.path = str(path)
        self.row = row
        self.column = column


class OutputError(VigieError):
    """A result could not be written (full disk, read-only or forbidden folder…).

    Parameters
    ----------
    path
        The file that was being written.
    err
        The operating system's error.
    """

    def __init__(self, path: str | Path, err: OSError) -> None:
        super().__init__(f"{path} : écriture impossible : {os_reason(err)}.")
        self.path = str(path)
        self.errno = err.errno


class PublicationError(VigieError):
    """A publication that must not reach its readers: its audit of the statistical
    secret failed, or the ledger of the periods already published does not match the
    data (:mod:`pipelines.publish.ledger`)."""


class CRSError(VigieError, ValueError):
    """A metric computation was asked of data in a geographic (degree) CRS."""


class NotEnoughFeaturesError(VigieError, ValueError):
    """Too few features for a hotspot analysis (Getis-Ord Gi* or the automatic band).

    The hotspot stage catches it, writes its French message in the method note and the
    summary and computes no Gi*: with fewer than 30 features (DOMAIN.md) the normal
    approximation behind the z-scores is not trustworthy.

    Parameters
    ----------
    n_features
        Features available.
    minimum
        Features required.
    what
        What the features are, in French (plural), for the message.
    """

    def __init__(self, n_features: int, minimum: int, what: str = "objets") -> None:
        super().__init__(
            f"Seulement {n_features} {what} : il en faut au moins {minimum} pour une "
            "analyse de points chauds (Getis-Ord Gi*) fiable ; aucun point chaud n'est "
            "calculé."
        )
        self.n_features = n_features
        self.minimum = minimum
