"""``python -m asi_lib``: the ``asi-kit`` command line.

Guarded, so that importing this module (as ``multiprocessing``'s ``spawn`` does
with the main module of a process it starts) does not run the command again.
"""
from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
