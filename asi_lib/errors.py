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


def _writable_place(path, kind: str) -> str:
    """Why ``path`` cannot be written as a ``kind`` ("file" or "dir"); "" when it can (or can be created)."""
    import os
    from pathlib import Path

    p = Path(path)
    if p.exists():
        if kind == "file" and p.is_dir():
            return "är en katalog; ange en fil / is a directory; give a file"
        if kind == "dir" and not p.is_dir():
            return "är en fil; ange en katalog / is a file; give a directory"
        if kind == "file" and not os.access(p, os.W_OK):
            return "filen är skrivskyddad / the file is not writable"
        anchor = p if kind == "dir" else p.parent
    else:
        anchor = p.parent
        while not anchor.exists() and anchor != anchor.parent:  # the first part of the path that exists
            anchor = anchor.parent
        if not anchor.is_dir():
            return f"{anchor} är en fil, så sökvägen kan inte skapas / {anchor} is a file, so the path cannot be created"
    if not os.access(anchor, os.W_OK | os.X_OK):
        return f"{anchor} är skrivskyddad / {anchor} is not writable"
    return ""


def output_file_arg(value: str) -> str:
    """``argparse`` type for an output file: refuse a directory, a parent that is a file, a read-only place.

    Checked when the arguments are parsed, so nothing has been read or
    written when it fails (exit code 2, a one-line message naming the path).

    Parameters
    ----------
    value : str

    Returns
    -------
    str
        ``value`` unchanged.

    Raises
    ------
    argparse.ArgumentTypeError

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> output_file_arg(d + "/r.json") == d + "/r.json"
    True
    >>> output_file_arg(d)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    argparse.ArgumentTypeError: ...: är en katalog; ange en fil / is a directory; give a file
    """
    import argparse

    why = _writable_place(value, "file")
    if why:
        raise argparse.ArgumentTypeError(f"{value}: {why}")
    return value


def output_dir_arg(value: str) -> str:
    """``argparse`` type for an output directory: refuse a file, a parent that is a file, a read-only place.

    Parameters
    ----------
    value : str

    Returns
    -------
    str
        ``value`` unchanged (the directory is created later, by the command).

    Raises
    ------
    argparse.ArgumentTypeError

    Examples
    --------
    >>> import tempfile
    >>> f = tempfile.mkstemp()[1]
    >>> output_dir_arg(f + "/sub")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    argparse.ArgumentTypeError: ...är en fil, så sökvägen kan inte skapas / ...
    """
    import argparse

    why = _writable_place(value, "dir")
    if why:
        raise argparse.ArgumentTypeError(f"{value}: {why}")
    return value
