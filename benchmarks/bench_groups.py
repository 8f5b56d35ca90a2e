"""Benchmark: group profiles, comparisons and publish on 300,000 interviews.

Replicates the demo region's Grund table (new client ids per copy, spread
over 290 municipalities) to ``--rows`` interviews, adds the composite scores
once (as a notebook would), then times each call (best of ``--repeat``).

The baseline is the implementation of ``asi_lib/groups.py`` and
``asi_lib/compare.py`` at git revision ``--baseline`` (default: the commit
before the speed work of issue 3), loaded from git into memory as
``asi_lib._baseline_groups``/``_baseline_compare``; old and new are timed
alternately in the same process, so both see the same machine load, and
their outputs are compared (same rows, columns, dtypes; values to 1e-9),
after :func:`harmonise` restates the baseline in definitions changed since
(category n, truncated CIs).

Run: ``.venv/bin/python benchmarks/bench_groups.py [--rows 300000] [--baseline REV|none]``.
Target: each call ≤ 0.3 s.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd

from asi_lib import compare, groups
from asi_lib.datasets import read_dataset
from asi_lib.publish import publish
from asi_lib.scores import add_scores

#: groups.py/compare.py before the issue-3 speed work.
BASELINE_REV = "f28b77e"


def build(rows: int, n_municipalities: int = 290, seed: int = 1, repeat_share: float = 0.0) -> pd.DataFrame:
    """The demo Grund table replicated to ``rows`` interviews.

    ``repeat_share``: share of the interviews re-assigned to the client of
    another (random) interview, so that clients have several Grund
    interviews and "latest" really drops rows.
    """
    base = add_scores(read_dataset("demo").grund)
    reps = int(np.ceil(rows / len(base)))
    big = pd.concat([base] * reps, ignore_index=True).iloc[:rows].copy()
    rng = np.random.default_rng(seed)
    copy = np.repeat(np.arange(reps), len(base))[:rows]
    # a fresh pseudonym per copy, 64 hex characters like the store's HMAC-SHA256 ids
    pid = pd.Series([hashlib.sha256(f"{p}-{c}".encode()).hexdigest()
                     for p, c in zip(big["client_pid"].astype(str), copy)], index=big.index)
    if repeat_share > 0:
        again = rng.random(rows) < repeat_share
        pid = pid.where(~again, pid.iloc[rng.integers(0, rows, rows)].to_numpy())
    big["client_pid"] = pid.astype("string")
    # skewed municipality sizes (a few large, many small), as in Sweden
    w = 1 / np.arange(1, n_municipalities + 1) ** 0.9
    big["municipality"] = pd.Series(rng.choice([f"K{i:03d}" for i in range(n_municipalities)],
                                               size=rows, p=w / w.sum())).astype("string")
    return big


def load_baseline(rev: str) -> tuple[types.ModuleType, types.ModuleType]:
    """groups and compare as they were at ``rev`` (read with ``git show``, not checked out)."""
    root = Path(__file__).resolve().parents[1]
    mods = []
    for name in ("groups", "compare"):
        src = subprocess.run(["git", "-C", str(root), "show", f"{rev}:asi_lib/{name}.py"],
                             capture_output=True, text=True, check=True).stdout
        src = src.replace("from .groups import", "from asi_lib._baseline_groups import")
        modname = f"asi_lib._baseline_{name}"
        mod = types.ModuleType(modname)
        mod.__package__ = "asi_lib"
        mod.__file__ = f"{rev}:asi_lib/{name}.py"
        sys.modules[modname] = mod
        exec(compile(src, mod.__file__, "exec"), mod.__dict__)
        mods.append(mod)
    return mods[0], mods[1]


#: attrs keys added after the baseline (metadata for publish, not results)
_NEW_ATTRS = {"group_n"}


def harmonise(old: pd.DataFrame) -> pd.DataFrame:
    """The baseline's output in today's definitions, where a definition changed after it.

    * ``category_profile``: n is now all clients of the group (was: clients
      with a value), share and CI still over n − n_missing;
    * ``profile``: mean CIs are truncated to the measure's scale.
    """
    old = old.copy()
    meta = old.attrs.get("asi", {})
    if meta.get("category_col") == "category" and {"n", "n_missing", "k"} <= set(old.columns):
        old["n"] = old["n"] + old["n_missing"]
    elif {"measure", "ci_low", "ci_high", "mean"} <= set(old.columns):
        old["ci_low"], old["ci_high"] = groups.clip_ci(old["ci_low"], old["ci_high"], old["measure"].to_numpy())
    return old


def same(a: pd.DataFrame, b: pd.DataFrame) -> str:
    """'identical', 'equal (max rel. diff …)' or what differs."""
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return f"DIFFERENT SHAPE {a.shape} vs {b.shape}"
    drop = (lambda d: {k: v for k, v in d.get("asi", {}).items() if k not in _NEW_ATTRS})
    if drop(a.attrs) != drop(b.attrs):
        return "DIFFERENT ATTRS"
    if not a.dtypes.equals(b.dtypes):
        return "DIFFERENT DTYPES"
    worst = 0.0
    for c in a.columns:
        x, y = a[c], b[c]
        if pd.api.types.is_float_dtype(x.dtype):
            xv, yv = x.to_numpy(), y.to_numpy()
            if not np.array_equal(np.isnan(xv), np.isnan(yv)):
                return f"DIFFERENT NaN in {c}"
            ok = ~np.isnan(xv)
            d = np.abs(xv[ok] - yv[ok]) / np.maximum(np.abs(yv[ok]), 1e-300)
            worst = max(worst, float(d.max()) if d.size else 0.0)
        elif not x.equals(y):
            return f"DIFFERENT {c}"
    if worst > 1e-9:
        return f"DIFFERENT values (max rel. diff {worst:.1e})"
    return "identical" if worst == 0 else f"equal (max rel. diff {worst:.0e})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--repeat-share", type=float, default=0.0,
                    help="share of interviews re-assigned to another interview's client (default 0: all distinct)")
    ap.add_argument("--baseline", default=BASELINE_REV, help="git revision to compare with, or 'none'")
    ap.add_argument("--publish", action="store_true", help="also time publish() of the tables")
    args = ap.parse_args(argv)
    old = None
    if args.baseline != "none":
        try:
            old = load_baseline(args.baseline)
        except (subprocess.CalledProcessError, FileNotFoundError) as e:
            print(f"(no baseline: {e})")
    t = time.perf_counter()
    g = build(args.rows, repeat_share=args.repeat_share)
    print(f"data: {len(g):,} Grund interviews, {g['client_pid'].nunique():,} clients, "
          f"{g['municipality'].nunique()} municipalities (built in {time.perf_counter() - t:.1f} s)")
    latest = groups.latest_grund(g)
    big_unit = latest["municipality"].value_counts().index[0]

    def cases(gr, co):
        return {
            "latest_grund": lambda: gr.latest_grund(g),
            "profile by municipality, all areas (latest)": lambda: gr.profile(g, by="municipality"),
            "profile by municipality, all areas (selection=all)":
                lambda: gr.profile(g, by="municipality", selection="all"),
            "profile by sex + age_band, all areas (latest)": lambda: gr.profile(g, by=["sex", "age_band"]),
            "category_profile sex+main_substance by municipality":
                lambda: gr.category_profile(g, ["sex", "main_substance"], by="municipality"),
            "compare_one_vs_rest, all areas": lambda: co.compare_one_vs_rest(g, unit=big_unit),
        }

    new_cases = cases(groups, compare)
    old_cases = cases(*old) if old else {}
    print(f"load average before timing: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} cores); best of {args.repeat}, old and new alternating")
    head = f"{'baseline':>9} {'new':>8} {'speed-up':>8}  call" if old else f"{'new':>8}  call"
    print(head)
    results = {}
    for name, fn in new_cases.items():
        t_new, t_old, out, ref = [], [], None, None
        for _ in range(args.repeat):
            if old:
                s = time.perf_counter()
                ref = old_cases[name]()
                t_old.append(time.perf_counter() - s)
            s = time.perf_counter()
            out = fn()
            t_new.append(time.perf_counter() - s)
        results[name] = out
        if old:
            check = same(out.reset_index(drop=True), harmonise(ref).reset_index(drop=True))
            print(f"{min(t_old):8.3f}s {min(t_new):7.3f}s {min(t_old) / min(t_new):7.1f}x  {name}  [{check}]")
        else:
            print(f"{min(t_new):7.3f}s  {name}")
    print(f"load average after timing: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.publish:
        for name in ("profile by municipality, all areas (latest)",
                     "category_profile sex+main_substance by municipality", "compare_one_vs_rest, all areas"):
            frame = results[name]
            times = []
            for _ in range(args.repeat):
                s = time.perf_counter()
                out = publish(frame)
                times.append(time.perf_counter() - s)
            a = out.attrs["asi"]
            print(f"{min(times):7.3f}s  publish({name}) [{len(frame)} rows; "
                  f"{a['suppressed_primary']} primary, {a['suppressed_secondary']} secondary]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
