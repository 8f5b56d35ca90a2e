"""Benchmark: composite scores for 1,000,000 synthetic interviews.

Run: ``.venv/bin/python benchmarks/bench_scores.py [--rows 1000000] [--sample 2000]``

Builds random valid item values (compact nullable Int16 / Int32 for money)
with X, N and empty cells at realistic rates (generation is not timed),
scores all of them with :func:`asi_lib.scores.composite_scores` (all areas,
all missing-data rules), and a row-by-row baseline that interprets the same
spec with ``DataFrame.apply(axis=1)`` on a sample. Checks that both agree on
the sample, and prints both timings, the ratio measured in the same run and
the peak memory of the scoring (tracemalloc). Targets: <= 0.5 s for the
million, >= 300x the row-wise baseline, peak < 1 GB.
"""
from __future__ import annotations

import argparse
import math
import time
import tracemalloc

import numpy as np
import pandas as pd

from asi_lib.codebook import N_CODE, X_CODE, load_codebook
from asi_lib.scores import composite_scores, load_spec

# Rates of ASI's X (not answered) and of empty cells per item; N per kind of item.
X_RATE = 0.02
EMPTY_RATE = 0.01
N_RATE = {"gambling": 0.90, "family": 0.20, "money": 0.05, "employment": 0.15}


def make_interviews(n: int, seed: int = 1) -> pd.DataFrame:
    """Random valid interviews in store format (every composite item + ratings)."""
    rng = np.random.default_rng(seed)
    cb = load_codebook()
    spec = load_spec()
    cols = list(dict.fromkeys(t.column for t in spec.terms()))
    cols += [f"rating_{a}" for a in spec.areas]
    data = {}
    for name in cols:
        col = cb.column("grund", name)
        lo, hi = col.range
        if col.is_money:
            amount = np.exp(rng.uniform(0, math.log(hi), n))
            vals = np.where(rng.random(n) < 0.4, 0, np.minimum(amount, hi)).astype(np.int32)
        else:
            vals = rng.integers(int(lo), int(hi) + 1, n).astype(np.int16)
        u = rng.random(n)
        if "X" in col.missing:
            vals[u < X_RATE] = X_CODE
        if "N" in col.missing:
            rate = N_RATE["money"] if col.is_money else N_RATE.get(col.area, 0.1)
            if col.area == "gambling":
                rate = N_RATE["gambling"]
            vals[(u >= X_RATE) & (u < X_RATE + rate)] = N_CODE
        mask = rng.random(n) < EMPTY_RATE
        data[name] = pd.arrays.IntegerArray(vals, mask)
    return pd.DataFrame(data)


def rowwise_scores(frame: pd.DataFrame, spec=None) -> pd.DataFrame:
    """Baseline: the same spec interpreted one interview at a time (apply axis=1)."""
    spec = spec or load_spec()

    def value(term, v):
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            return None
        v = int(v)
        if v == X_CODE:
            return 0.0 if term.x == "zero" else None
        if v == N_CODE:
            return 0.0 if term.n == "zero" else None
        if not term.lo <= v <= term.hi:
            return None
        if term.transform == "recode":
            return term.recode.get(v)
        if term.transform == "ln_money":
            conv = v / spec.sek_per_unit
            return min(math.log(conv), term.ln_cap) if conv > 1 else 0.0
        return float(v)

    def one(row):
        out = {}
        for name, area in spec.areas.items():
            total = 0.0
            for term in area.terms:
                val = value(term, row[term.column])
                if val is None:
                    total = None
                    break
                total += val / term.divisor
            if total is not None and area.reverse:
                total = 1.0 - total
            out[f"composite_{name}"] = np.nan if total is None else min(max(total, 0.0), 1.0)
        return pd.Series(out)

    return frame.apply(one, axis=1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    frame = make_interviews(args.rows)
    print(f"generated {len(frame):,} interviews x {frame.shape[1]} columns in "
          f"{time.perf_counter() - t0:.1f} s (not timed); frame memory "
          f"{frame.memory_usage(deep=True).sum() / 2**20:.0f} MiB")

    composite_scores(frame.iloc[:1000])  # warm-up: spec parsing and lookup tables
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        scores = composite_scores(frame)
        times.append(time.perf_counter() - t)
    fast = min(times)
    t = time.perf_counter()
    composite_scores(frame, min_share=0.75)
    relaxed_t = time.perf_counter() - t
    tracemalloc.start()
    composite_scores(frame)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    sample = frame.sample(n=min(args.sample, len(frame)), random_state=7)
    t = time.perf_counter()
    slow = rowwise_scores(sample)
    slow_t = time.perf_counter() - t
    per_row_slow = slow_t / len(sample)
    extrapolated = per_row_slow * len(frame)

    vec = scores.loc[sample.index]
    both_nan = vec.isna().to_numpy() == slow.isna().to_numpy()
    diff = np.nanmax(np.abs(vec.to_numpy() - slow[vec.columns].to_numpy()))
    agree = bool(both_nan.all()) and diff < 1e-5
    print(f"vectorised: {fast:.3f} s for {len(frame):,} rows (best of {args.repeat}: "
          f"{', '.join(f'{x:.3f}' for x in times)})")
    print(f"with the minimum-share rule (min_share=0.75): {relaxed_t:.3f} s")
    print(f"row-wise apply: {slow_t:.2f} s for {len(sample):,} rows -> "
          f"{extrapolated:.0f} s extrapolated to {len(frame):,}")
    print(f"speed-up: {extrapolated / fast:,.0f}x (same run)")
    print(f"peak traced memory of the scoring: {peak / 2**20:.1f} MiB")
    print(f"agreement on the sample: {'yes' if agree else 'NO'} (max |diff| {diff:.2e}, "
          f"NaN patterns equal: {bool(both_nan.all())})")
    print("share computable per area:",
          ", ".join(f"{c.removeprefix('composite_')} {scores[c].notna().mean():.2f}" for c in scores))
    ok = fast <= 0.5 and extrapolated / fast >= 300 and peak < 2**30 and agree
    print("targets met" if ok else "TARGETS NOT MET (see figures above)")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
