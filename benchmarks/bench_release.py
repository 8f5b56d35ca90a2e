"""Benchmark: computing and publishing a release's tables, per unit (before) against grouped (now).

Usage::

    python benchmarks/bench_release.py                       # demo region + national shape (290 municipalities,
                                                             # 17,500 clients = the 5 % national set)
    python benchmarks/bench_release.py --municipalities 290 --clients 350000 --sample 20   # full national scale
    python benchmarks/bench_release.py --no-national         # the demo region only (about a minute)
    python benchmarks/bench_release.py --full                # also the whole build_release (with the protection)

In one run, on the same data, for the demo region and a national-shaped region
(``asi_lib.synth.generate(municipalities=K)``, pseudonymised as the demo):

1. **grouped**: ``release._raw_tables`` — every unit's raw tables, the shared
   work done once (one pairing of every municipality, one split of each table,
   grouped ASI use and Grund bortfall);
2. **per unit**: ``tables.raw_tables`` + ``reports.overview_raw`` unit by unit
   (the path before, and still the analysts' API). On the national shape only
   the region and a sample of municipalities spread over the sizes are timed
   and the rest is extrapolated (region + mean of the sample × K); the
   sample's tables are checked equal to the grouped ones;
3. **publish** of every table (``publish(..., hidden=primary, one_marker=True)``
   as the release calls it, with the primary cells standing in for the joint
   decision), per table;
4. with ``--full``: the whole ``build_release`` (joint protection and audit included).

Wall-clock seconds and CPU seconds of this process are printed side by side:
on a shared machine the CPU seconds are the comparable figure (the code is
single-threaded). Figures are recorded in ``docs/benchmarks.md``.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self):
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.w, time.process_time() - self.c


def national(n_clients: int, k: int, seed: int = 20261122):
    from asi_lib.dataset import Dataset
    from asi_lib.datasets import DEMO_KEY, _pseudonymise
    from asi_lib.synth import generate

    region = generate(n_clients=n_clients, seed=seed, municipalities=k)
    frames = {}
    for name, df in region.tables.items():
        pid = _pseudonymise(df["client_id"], df["municipality"], DEMO_KEY)
        out = df.drop(columns="client_id")
        out.insert(0, "client_pid", pd.Series(pid.to_numpy(), index=out.index, dtype="string"))
        frames[name] = out
    return Dataset(**frames, meta={})


def sample_of(sizes: pd.Series, k: int) -> list[str]:
    """k municipalities spread over the sizes (smallest … largest)."""
    names = sizes.sort_values(kind="stable").index.tolist()
    if k >= len(names):
        return names
    return [names[i] for i in sorted({round(i * (len(names) - 1) / max(1, k - 1)) for i in range(k)})]


def bench(label: str, ds, *, sample: int | None, full: bool, publish_tables: bool = True) -> dict:
    from asi_lib import release as R
    from asi_lib import reports, scores
    from asi_lib.change import estimate_rci_reference
    from asi_lib.followup import pair_followups
    from asi_lib.publish import publish, table_cells
    from asi_lib.tables import raw_tables

    ref = R.reference_date(ds)
    sizes = ds.grund.groupby("municipality", observed=True)["client_pid"].nunique()
    munis = sorted(map(str, sizes.index))
    units = [R.REGION, *munis]
    with Clock() as setup:   # done once per release in both paths
        region_pairing = pair_followups(ds, window=(90, 730), as_of=ref)
        rci = estimate_rci_reference(region_pairing.pairs, ("composite",), label="x")
        region_grund = scores.add_scores(ds.grund)
    with Clock() as grouped:
        tables = R._raw_tables(ds, units, as_of=ref, lang="sv", window=(90, 730), rci=rci,
                               region_pairing=region_pairing)
    print(f"[{label}] grouped compute: {grouped.wall:.1f} s wall, {grouped.cpu:.1f} s CPU", flush=True)
    timed = munis if sample is None else sample_of(sizes.set_axis(sizes.index.astype(str)), sample)
    per = {}
    by_unit = {}
    for t in tables:
        by_unit.setdefault(t.unit, []).append(t)
    for unit in [R.REGION, *timed]:
        m = None if unit == R.REGION else unit
        with Clock() as c:
            got = [reports.overview_raw(ds, m, as_of=ref, lang="sv", window=(90, 730))]
            got += [s.raw for s in raw_tables(ds, municipality=m, as_of=ref, lang="sv", window=(90, 730),
                                              region_grund=region_grund, rci=rci)]
        per[unit] = c
        mine = [t.raw for t in by_unit[unit] if t.key != "index"]
        assert len(mine) == len(got)
        for a, b in zip(got, mine):
            pd.testing.assert_frame_equal(a, b, check_exact=True)
    print(f"[{label}] per unit: " + ", ".join(f"{u} {per[u].cpu:.2f}" for u in per) + " s CPU", flush=True)
    mean_w = np.mean([per[m].wall for m in timed]) if timed else 0.0
    mean_c = np.mean([per[m].cpu for m in timed]) if timed else 0.0
    per_wall = per[R.REGION].wall + mean_w * len(munis)
    per_cpu = per[R.REGION].cpu + mean_c * len(munis)
    hidden = [table_cells(t.raw, min_cell=5).primary for t in tables] if publish_tables else []
    with Clock() as pub:
        for t, h in zip(tables, hidden):
            publish(t.raw, min_cell=5, lang="sv", hidden=h, labels=t.key != "index", one_marker=True)
    out = {"label": label, "units": len(units), "clients": int(ds.grund["client_pid"].nunique()),
           "tables": len(tables), "setup": setup, "grouped": grouped, "per_wall": per_wall, "per_cpu": per_cpu,
           "timed": len(timed), "publish": pub, "extrapolated": len(timed) < len(munis),
           "published": publish_tables}
    if full:
        with Clock() as whole:
            rel = R.build_release(ds)
        out["full"] = whole
        out["protection"] = rel.manifest["protection"]
    return out


def report(r: dict) -> None:
    g, p = r["grouped"], r["publish"]
    est = f" (region + {r['timed']} municipalities timed, the rest extrapolated)" if r["extrapolated"] else ""
    print(f"\n## {r['label']}: {r['units']} units, {r['clients']:,} clients with Grund, {r['tables']} tables")
    print(f"{'step':<44}{'wall s':>10}{'CPU s':>10}")
    print(f"{'shared: region pairing, RCI, scores':<44}{r['setup'].wall:>10.2f}{r['setup'].cpu:>10.2f}")
    print(f"{'compute, per unit (before)' + ('*' if est else ''):<44}{r['per_wall']:>10.1f}{r['per_cpu']:>10.1f}")
    print(f"{'compute, grouped (now)':<44}{g.wall:>10.1f}{g.cpu:>10.1f}")
    print(f"{'  ratio per unit / grouped':<44}{r['per_wall'] / g.wall:>9.1f}×{r['per_cpu'] / g.cpu:>9.1f}×")
    if r["published"]:
        print(f"{'publish, every table':<44}{p.wall:>10.1f}{p.cpu:>10.1f}"
              f"   ({1000 * p.cpu / r['tables']:.0f} ms CPU per table)")
    print(f"{'compute + publish (now)':<44}{g.wall + p.wall + r['setup'].wall:>10.1f}"
          f"{g.cpu + p.cpu + r['setup'].cpu:>10.1f}")
    if "full" in r:
        pr = r["protection"]
        print(f"{'whole build_release (with protection)':<44}{r['full'].wall:>10.1f}{r['full'].cpu:>10.1f}"
              f"   ({pr.get('cells')} cells)")
    if est:
        print(f"* {est.strip(' ()')}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--municipalities", type=int, default=290)
    ap.add_argument("--clients", type=int, default=17_500)
    ap.add_argument("--sample", type=int, default=20, help="municipalities timed per unit (national shape)")
    ap.add_argument("--no-demo", action="store_true")
    ap.add_argument("--no-national", action="store_true")
    ap.add_argument("--full", action="store_true", help="also the whole build_release (joint protection)")
    ap.add_argument("--no-publish", action="store_true", help="time the computation only")
    a = ap.parse_args(argv)
    if not a.no_demo:
        from asi_lib.datasets import read_dataset

        report(bench("demo region", read_dataset("demo"), sample=None, full=a.full,
                     publish_tables=not a.no_publish))
    if not a.no_national:
        ds = national(a.clients, a.municipalities)
        report(bench(f"national shape ({a.municipalities} municipalities)", ds, sample=a.sample, full=a.full,
                     publish_tables=not a.no_publish))


if __name__ == "__main__":
    main()
