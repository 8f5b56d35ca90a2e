"""asi-kit: ASI interview data → group knowledge for ISU in Swedish social services.

The analysis API is imported lazily so that ``import asi_lib`` stays cheap
for the CLI and for every dashboard kernel.
"""
from __future__ import annotations

from importlib import import_module

from .codebook import load_codebook
from .errors import AsiInputError

__version__ = "0.1.0"

_SUBMODULES = (
    "codebook", "io", "mapping", "validate", "pseudonym", "store", "ingest", "synth",
    "templates", "datasets", "scores", "stats", "publish", "groups", "compare", "monitor",
    "followup", "change", "models", "bortfall", "insatser", "trends", "power", "tables", "demo",
)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return import_module(f"asi_lib.{name}")
    raise AttributeError(f"module 'asi_lib' has no attribute {name!r}")


__all__ = ["AsiInputError", "load_codebook", "__version__", *_SUBMODULES]
