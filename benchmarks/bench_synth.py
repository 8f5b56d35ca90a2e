"""Benchmark: synthetic region generation and Parquet write.

Usage: ``python benchmarks/bench_synth.py [n_clients ...]`` (default 3000 100000 1000000).
The brief's bar: 1,000,000 clients written as Parquet in under 30 s on 2 cores.
"""
import sys
import tempfile
import time

from asi_lib.synth import generate


def main(sizes):
    for n in sizes:
        t0 = time.perf_counter()
        region = generate(n_clients=n)
        t1 = time.perf_counter()
        with tempfile.TemporaryDirectory() as d:
            region.write(d, format="parquet")
        t2 = time.perf_counter()
        rows = sum(len(df) for df in region.tables.values())
        print(f"n_clients={n:>9,}  rows={rows:>10,}  generate={t1 - t0:6.2f} s  write={t2 - t1:6.2f} s"
              f"  total={t2 - t0:6.2f} s  {'OK' if n < 1_000_000 or t2 - t0 < 30 else 'OVER 30 s'}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [3000, 100_000, 1_000_000])
