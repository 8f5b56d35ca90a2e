"""The one domain exception for unusable input.

Row-level problems are *collected* as records (see :mod:`asi_lib.validate`);
``AsiInputError`` is raised only when something cannot be used at all: an
unreadable file, a missing required column, a store made with another key, an
unknown parameter. The CLI turns it into a one-line message and a non-zero
exit code, never a traceback.
"""
from __future__ import annotations


class AsiInputError(Exception):
    """Input that cannot be used at all.

    Parameters
    ----------
    message : str
        Message for the user (Swedish first, English after " / " when given).
    file : str, optional
        The file concerned, named in the message.

    Attributes
    ----------
    file : str or None
        The ``file`` given.

    Examples
    --------
    >>> err = AsiInputError("saknad kolumn / missing column", file="grund.csv")
    >>> str(err), err.file
    ('grund.csv: saknad kolumn / missing column', 'grund.csv')
    """

    def __init__(self, message: str, *, file: str | None = None):
        self.file = file
        super().__init__(f"{file}: {message}" if file else message)


_OS_REASONS = {
    "EACCES": "behörighet saknas / permission denied",
    "EPERM": "åtgärden är inte tillåten / operation not permitted",
    "EROFS": "skrivskyddat filsystem / read-only file system",
    "ENOTDIR": "en del av sökvägen är en fil, inte en katalog / part of the path is a file, not a directory",
    "EISDIR": "är en katalog, inte en fil / is a directory, not a file",
    "EEXIST": "finns redan / already exists",
    "ENOENT": "finns inte / does not exist",
    "ENOSPC": "disken är full / no space left on the device",
    "EDQUOT": "diskkvoten är slut / disk quota exceeded",
}


def os_error_reason(exc: OSError) -> str:
    """A short Swedish / English reason for an operating-system error (permission, read-only, ...).

    Parameters
    ----------
    exc : OSError

    Returns
    -------
    str
        The reason in both languages; the system's own text for rarer errors.

    Examples
    --------
    >>> import errno
    >>> os_error_reason(PermissionError(errno.EACCES, "Permission denied", "/x"))
    'behörighet saknas / permission denied'
    """
    import errno

    name = errno.errorcode.get(exc.errno or 0, "")
    return _OS_REASONS.get(name, exc.strerror or exc.__class__.__name__)
