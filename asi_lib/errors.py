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
