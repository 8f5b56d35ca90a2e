"""The in-memory shape of a store: four typed tables.

A :class:`Dataset` is what :func:`asi_lib.store.load_store` and
:func:`asi_lib.datasets.read_dataset` return and what the analysis rooms take.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from .codebook import TABLES


@dataclass
class Dataset:
    """Grund, Uppföljning, bortfall and insatser frames in store format.

    The attributes are also the constructor's parameters.

    Attributes
    ----------
    grund, uppfoljning, bortfall, insatser : pandas.DataFrame
        One row per record; ``client_pid`` instead of any raw identifier.
    meta : dict
        Where the data came from (store path, manifest summary, synthetic
        generator parameters, ...).

    Examples
    --------
    >>> g = pd.DataFrame({"client_pid": ["a", "b"], "municipality": ["Ale", "Bjuv"],
    ...                   "unit": ["u1", "u2"]})
    >>> empty = g.iloc[:0]
    >>> ds = Dataset(grund=g, uppfoljning=empty, bortfall=empty, insatser=empty)
    >>> ds
    Dataset(grund=2, uppfoljning=0, bortfall=0, insatser=0)
    >>> ds.filter(municipality="Ale").table("grund")["client_pid"].tolist()
    ['a']
    """

    grund: pd.DataFrame
    uppfoljning: pd.DataFrame
    bortfall: pd.DataFrame
    insatser: pd.DataFrame
    meta: dict = field(default_factory=dict)

    def table(self, name: str) -> pd.DataFrame:
        if name not in TABLES:
            raise KeyError(name)
        return getattr(self, name)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {t: getattr(self, t) for t in TABLES}

    def filter(self, *, municipality=None, unit=None) -> "Dataset":
        """The same dataset restricted to one or more municipalities/units."""
        def keep(df: pd.DataFrame) -> pd.DataFrame:
            mask = pd.Series(True, index=df.index)
            if municipality is not None:
                vals = [municipality] if isinstance(municipality, str) else list(municipality)
                mask &= df["municipality"].isin(vals)
            if unit is not None:
                vals = [unit] if isinstance(unit, str) else list(unit)
                mask &= df["unit"].isin(vals)
            return df.loc[mask]
        return replace(self, **{t: keep(getattr(self, t)) for t in TABLES})

    def __repr__(self) -> str:
        sizes = ", ".join(f"{t}={len(getattr(self, t))}" for t in TABLES)
        return f"Dataset({sizes})"
