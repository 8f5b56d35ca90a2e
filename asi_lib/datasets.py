"""Built-in datasets, pingouin style: ``read_dataset("demo")``.

The demo dataset is the synthetic region of :mod:`asi_lib.synth` in store
format: ``client_id`` replaced by ``client_pid`` (HMAC-SHA256 with the fixed,
public demo key ``b"asi-kit-demo-key"`` - fine for invented data, never for
real data), so analysis code, tests and notebooks can run without a store on
disk.
"""
from __future__ import annotations

import copy
import hashlib
import hmac
from dataclasses import replace
from functools import lru_cache

import pandas as pd

from .dataset import Dataset
from .errors import AsiInputError

DEMO_KEY = b"asi-kit-demo-key"
DEMO_SEED = 20261122
DATASETS = ("demo",)


def _pseudonymise(ids: pd.Series, municipality: pd.Series, key: bytes) -> pd.Series:
    """``client_pid`` via :func:`asi_lib.pseudonym.pseudonymise_ids` (local fallback: same semantics)."""
    try:
        from .pseudonym import pseudonymise_ids
    except ImportError:  # pragma: no cover - the ingest helper's module exists on main
        keys = municipality.astype("str").str.strip().str.casefold() + "|" + ids.astype("str").str.strip()
        uniq = keys.unique()
        table = {k: hmac.new(key, k.encode("utf-8"), hashlib.sha256).hexdigest() for k in uniq}
        return keys.map(table).astype("string")
    return pseudonymise_ids(ids, municipality, key)


@lru_cache(maxsize=8)
def _demo(n_clients: int, seed: int, start_year: int, end_year: int) -> Dataset:
    from .synth import generate

    region = generate(n_clients=n_clients, seed=seed, start_year=start_year, end_year=end_year)
    frames = {}
    for name, df in region.tables.items():
        pid = _pseudonymise(df["client_id"], df["municipality"], DEMO_KEY)
        out = df.drop(columns="client_id")
        out.insert(0, "client_pid", pd.Series(pid.to_numpy(), index=out.index, dtype="string"))
        frames[name] = out
    meta = {"source": "synthetic", "dataset": "demo", "generator": "asi_lib.synth.generate",
            "n_clients": n_clients, "seed": seed, "start_year": start_year, "end_year": end_year,
            "key": "demo key (public, synthetic data only)", "truth": region.truth}
    return Dataset(**frames, meta=meta)


def read_dataset(name: str = "demo", *, n_clients: int = 3000, seed: int = DEMO_SEED,
                 start_year: int = 2019, end_year: int = 2025) -> Dataset:
    """Load a built-in dataset.

    Parameters
    ----------
    name : {"demo"}
        ``"demo"``: the synthetic region of :func:`asi_lib.synth.generate`.
    n_clients, seed, start_year, end_year
        Passed to the generator. Results are cached per argument set, so
        repeated calls are cheap; each call returns fresh (copy-on-write)
        frames and a deep copy of ``meta``, so callers cannot spoil the cache.

    Returns
    -------
    Dataset
        Store-format tables with ``client_pid``; ``meta["truth"]`` holds the
        generator's true parameters (effects, outcome and bortfall models).

    Examples
    --------
    >>> ds = read_dataset("demo", n_clients=200, seed=1)
    >>> "client_pid" in ds.grund.columns and "client_id" not in ds.grund.columns
    True
    >>> ds.meta["truth"]["null_intervention"]
    'contact_person'
    """
    if name not in DATASETS:
        raise AsiInputError(f"okänt dataset '{name}' (finns: {', '.join(DATASETS)}) / unknown dataset")
    ds = _demo(int(n_clients), int(seed), int(start_year), int(end_year))
    return replace(ds, **{t: df.copy(deep=False) for t, df in ds.tables().items()},
                   meta=copy.deepcopy(ds.meta))
