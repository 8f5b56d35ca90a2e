"""Benchmark: the dashboard's setup and filter changes, demo region and a 300,000-interview region.

The big region replicates the whole demo dataset (Grund, Uppföljning,
bortfall, insatser; new client ids per copy) until Grund has ``--rows``
interviews. Copy c's municipalities are renamed "<name> <c mod 25>", except
that the demo's largest municipality keeps its name in the first ``--big``
copies, so one municipality is large (a city) and the rest are ~275 small
and middle-sized ones.

For each region: the setup time of ``Dashboard(ds, municipality=...)`` and
the time of every filter change (4 views × 6 groups × 2 periods, area
"alcohol", each combination once: no cache hits), median and max.

Run: ``.venv/bin/python benchmarks/bench_dashboard.py [--rows 300000] [--big 20]``.
Target: median filter change well under 1 s.
"""
from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import pandas as pd

from asi_lib.dashboard import GROUPS, VIEWS, Dashboard
from asi_lib.dataset import Dataset
from asi_lib.datasets import read_dataset


def replicate(ds: Dataset, rows: int, big: int) -> Dataset:
    reps = -(-rows // len(ds.grund))
    largest = ds.grund["municipality"].value_counts().index[0]
    out = {}
    for t, frame in ds.tables().items():
        parts = []
        for c in range(reps):
            f = frame.copy()
            f["client_pid"] = (f["client_pid"].astype(str) + f"-{c}").astype("string")
            m = f["municipality"].astype("string")
            keep = (m == largest) & (c < big)
            f["municipality"] = m.where(keep, m + f" {c % 25}")
            if "unit" in f.columns:
                u = f["unit"].astype("string")
                f["unit"] = u.where(keep, u + f" {c % 25}")
            parts.append(f)
        out[t] = pd.concat(parts, ignore_index=True)
    out["grund"] = out["grund"].iloc[:rows]
    return replace(ds, **out)


def run(ds: Dataset, municipality: str, label: str) -> None:
    t0 = time.perf_counter()
    d = Dashboard(ds, municipality=municipality)
    setup = time.perf_counter() - t0
    times = []
    for period in (None, d.years[1]):
        for view in VIEWS:
            for group in GROUPS:
                times.append(d.compute(view=view, group=group, area="alcohol", period=period).seconds)
    own = int((ds.grund["municipality"] == municipality).sum())
    print(f"{label}: {len(ds.grund):,} Grund, {municipality} {own:,} Grund; setup {setup:.2f} s; "
          f"filter change median {statistics.median(times):.3f} s, max {max(times):.3f} s ({len(times)} changes)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--big", type=int, default=20)
    a = ap.parse_args()
    demo = read_dataset("demo")
    largest = str(demo.grund["municipality"].value_counts().index[0])
    run(demo, largest, "demo region")
    region = replicate(demo, a.rows, a.big)
    run(region, largest, "big region, the city")
    run(region, f"{demo.grund['municipality'].value_counts().index[3]} 7", "big region, a middle-sized one")


if __name__ == "__main__":
    main()
