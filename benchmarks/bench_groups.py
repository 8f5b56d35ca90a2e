"""Benchmark: group profiles, comparisons and publish on 300,000 interviews.

Replicates the demo region's Grund table (new client ids per copy, spread
over 290 municipalities) to ``--rows`` interviews, adds the composite scores
once (as a notebook would), then times each call (best of ``--repeat``).

Run: ``.venv/bin/python benchmarks/bench_groups.py [--rows 300000]``.
Target: each call ≤ 0.3 s.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from asi_lib import compare, groups
from asi_lib.datasets import read_dataset
from asi_lib.publish import publish
from asi_lib.scores import add_scores


def build(rows: int, n_municipalities: int = 290, seed: int = 1) -> pd.DataFrame:
    base = add_scores(read_dataset("demo").grund)
    reps = int(np.ceil(rows / len(base)))
    big = pd.concat([base] * reps, ignore_index=True).iloc[:rows].copy()
    rng = np.random.default_rng(seed)
    copy = np.repeat(np.arange(reps), len(base))[:rows]
    big["client_pid"] = (big["client_pid"].astype(str) + "-" + pd.Series(copy).astype(str)).astype("string")
    # skewed municipality sizes (a few large, many small), as in Sweden
    w = 1 / np.arange(1, n_municipalities + 1) ** 0.9
    big["municipality"] = pd.Series(rng.choice([f"K{i:03d}" for i in range(n_municipalities)],
                                               size=rows, p=w / w.sum())).astype("string")
    return big


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    t = time.perf_counter()
    g = build(args.rows)
    print(f"data: {len(g):,} Grund interviews, {g['client_pid'].nunique():,} clients, "
          f"{g['municipality'].nunique()} municipalities (built in {time.perf_counter() - t:.1f} s)")
    latest = groups.latest_grund(g)
    big_unit = latest["municipality"].value_counts().index[0]
    cases = {
        "latest_grund": lambda: groups.latest_grund(g),
        "profile by municipality, all areas (latest)": lambda: groups.profile(g, by="municipality"),
        "profile by municipality, all areas (selection=all)":
            lambda: groups.profile(g, by="municipality", selection="all"),
        "category_profile sex+main_substance by municipality":
            lambda: groups.category_profile(g, ["sex", "main_substance"], by="municipality"),
        "compare_one_vs_rest, all areas": lambda: compare.compare_one_vs_rest(g, unit=big_unit),
    }
    results = {}
    for name, fn in cases.items():
        sec, out = best(fn, args.repeat)
        results[name] = out
        print(f"{sec:7.3f} s  {name}")
    for name in ("profile by municipality, all areas (latest)", "category_profile sex+main_substance by municipality",
                 "compare_one_vs_rest, all areas"):
        frame = results[name]
        sec, out = best(lambda: publish(frame), args.repeat)
        a = out.attrs["asi"]
        print(f"{sec:7.3f} s  publish({name}) [{len(frame)} rows; "
              f"{a['suppressed_primary']} primary, {a['suppressed_secondary']} secondary]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
