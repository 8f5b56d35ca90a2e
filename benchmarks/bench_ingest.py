"""Benchmark: ingest (read, validate, pseudonymise, store) against reading the file alone.

Usage: ``python benchmarks/bench_ingest.py [n_clients ...]`` (default 12000 120000,
about 10,000 and 100,000 Grund rows). For each size the synthetic region's
``grund.csv`` is written once, then, in the same run:

* the baseline: ``pandas.read_csv`` of the file, all columns as text (what any
  reader must do at least);
* ``asi_lib.ingest.ingest`` of the same file into a fresh store, with a fresh key.

It prints both, rows per second and the ratio ingest / read: the price of
validation, pseudonymisation and the atomic store write per row read.
"""
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from asi_lib.ingest import ingest
from asi_lib.synth import generate


def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(sizes):
    print(f"{'rows':>9} {'read_csv':>9} {'ingest':>8} {'rows/s':>9} {'ratio':>7}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as d:
            d = Path(d)
            region = generate(n_clients=n)
            region.write(d / "export", format="csv")
            path = d / "export" / "grund.csv"
            t_read, raw = best(lambda: pd.read_csv(path, dtype=str, keep_default_na=False))
            runs = iter(range(100))

            def one_ingest():
                i = next(runs)
                return ingest([path], d / f"store{i}", key_path=d / f"key{i}", as_of="2026-06-30")

            t_ing, rep = best(one_ingest)
            f = rep.files[0]
            assert f.read == len(raw) == f.accepted_new + f.quarantined, "rows not accounted for"
            print(f"{len(raw):>9,} {t_read:>8.2f}s {t_ing:>7.2f}s {len(raw) / t_ing:>9,.0f} {t_ing / t_read:>6.1f}x")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [12_000, 120_000])
