"""Benchmark: the national set end to end — generate, ingest, (release), every report — against plain papermill.

Usage::

    python benchmarks/bench_national.py                 # 290 municipalities, ~350,000 clients (tens of minutes)
    python benchmarks/bench_national.py --scale 0.05    # 15 municipalities, 17,500 clients (a few minutes)
    python benchmarks/bench_national.py --scheduler tcp://host:8786   # render on a Dask cluster

``make bench-national`` runs the full scale (``SCALE=0.05 make bench-national``
for a quick run). In one run it:

1. generates the national region (``asi_lib.synth.generate(municipalities=K)``,
   K = 290 × scale, clients = 350,000 × scale) and writes the four CSV files;
2. ingests them into a fresh store (``asi-kit ingest`` in a child process, so
   its peak resident memory is measured alone);
3. builds the release — a hook (:func:`build_release`) that does nothing until
   the release command exists; the reports then read the store;
4. renders every report, municipalities and the region
   (``asi_lib.reports.render_reports``: warm kernels, local threads or Dask);
5. renders the smallest and the largest municipality once more, each alone
   on one warm kernel (the per-report cost without start-up or a second
   report running beside it);
6. renders a sample of the same municipalities (smallest, middle, largest)
   one after another with the plain command line, ``papermill`` and then
   ``jupyter nbconvert --to html --no-input``, and extrapolates to all reports;

and prints the figures and the ratio side by side.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from asi_lib import reports, synth

FULL_MUNICIPALITIES = 290
FULL_CLIENTS = 350_000


def build_release(store: Path, out: Path, as_of=None, phases: dict | None = None) -> Path | None:
    """The release (issue 9): every published table of every municipality, protected together.

    ``phases`` gets the seconds of each step: reading the store, the build's
    own steps (``manifest["build_seconds"]``: compute, protection, publish,
    fingerprint) and writing.
    """
    from asi_lib.release import build_release as build, write_release
    from asi_lib.store import load_store

    t0 = time.perf_counter()
    ds = load_store(store)
    t1 = time.perf_counter()
    rel = build(ds, as_of=as_of)
    t2 = time.perf_counter()
    path = write_release(rel, out)
    if phases is not None:
        phases.update({"load store": t1 - t0, **rel.manifest.get("build_seconds", {}),
                       "rest of the build": (t2 - t1) - sum(rel.manifest.get("build_seconds", {}).values()),
                       "write": time.perf_counter() - t2})
        phases["rounds"] = rel.manifest["protection"].get("rounds")
        phases["hidden"] = rel.manifest["protection"].get("hidden")
    return path


def run(cmd: list[str], **kw) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    return time.perf_counter() - t0


def sample_of(sizes: dict, k: int) -> list[str]:
    """k municipalities spread over the sizes: smallest, ..., largest."""
    names = sorted(sizes, key=lambda m: (sizes[m], m))
    if k >= len(names):
        return names
    idx = sorted({round(i * (len(names) - 1) / max(1, k - 1)) for i in range(k)})
    return [names[i] for i in idx]


def cells_seconds(result) -> float | None:
    """Seconds inside the notebook's cells (papermill's per-cell durations): no kernel start, no HTML."""
    import nbformat

    if result.notebook is None:
        return None
    nb = nbformat.read(result.notebook, as_version=4)
    return sum(float(c.metadata.get("papermill", {}).get("duration") or 0) for c in nb.cells)


def warm_alone(store, out, names, as_of, release) -> list[dict]:
    """Each of ``names`` rendered alone on one already warm kernel: per-report cost without start-up.

    Like the batch, each writes HTML, PDF and Excel (the worker's Chromium is
    started by the warm-up report).
    """
    from asi_lib.rendering import KernelWorker, ReportTask

    w = KernelWorker(reports.ensure_kernel(reports.KERNEL_NAME))
    try:
        def task(m):
            params = {"KOMMUN": m, "LANG": "sv"}
            if release is not None:
                params["RELEASE"] = str(release)
            return ReportTask(municipality=m, name=m, stem=reports.report_filename(m), title=m, parameters=params,
                              pdf=True)   # as in the batch: HTML, PDF and Excel

        w.render(task(names[0]), out)  # warm-up: kernel start and imports
        rows = []
        for m in names:
            r = w.render(task(m), out)
            rows.append({"name": m, "s": r.seconds, "cells_s": cells_seconds(r), "pdf_s": r.pdf_seconds, "ok": r.ok})
        return rows
    finally:
        w.close()


def cell_profile(results) -> dict:
    """Where the time of a report goes: papermill's per-cell durations, summed over every report.

    The rest of a report's time (parameterising, resetting the kernel, the
    HTML export) is "outside the cells".
    """
    import nbformat

    by_cell: dict = {}
    inside = 0.0
    for r in results:
        nb = nbformat.read(r.notebook, as_version=4)
        for cell in nb.cells:
            d = cell.get("metadata", {}).get("papermill", {}).get("duration")
            if cell.cell_type != "code" or d is None:
                continue
            first = next((ln for ln in cell.source.splitlines() if ln.strip() and not ln.startswith("#")), "")
            by_cell[first[:60]] = by_cell.get(first[:60], 0.0) + float(d)
            inside += float(d)
    total = sum(r.seconds for r in results)
    top = sorted(by_cell.items(), key=lambda kv: -kv[1])[:6]
    return {"reports": len(results), "total_s": total, "cells_s": inside, "outside_cells_s": total - inside,
            "top_cells": [{"cell": c, "s_per_report": v / max(1, len(results)), "share": v / total if total else 0}
                          for c, v in top]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the national set (default 1.0)")
    ap.add_argument("--workers", type=int, default=2, help="local report workers (default 2)")
    ap.add_argument("--sample", type=int, default=3, help="reports in the papermill CLI baseline (default 3)")
    ap.add_argument("--scheduler", default=None, help="Dask scheduler address (default: local threads)")
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--out", default=None, help="keep everything here (default: a temporary folder)")
    args = ap.parse_args(argv)

    k = max(3, round(FULL_MUNICIPALITIES * args.scale))
    n = max(20 * k, round(FULL_CLIENTS * args.scale))
    work = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="asi-national-"))
    work.mkdir(parents=True, exist_ok=True)
    bindir = Path(sys.executable).parent
    fig: dict = {"scale": args.scale, "municipalities": k, "clients": n, "workers": args.workers,
                 "scheduler": args.scheduler or "local", "load_before": os.getloadavg()[0]}
    print(f"National set x{args.scale}: {k} municipalities, {n:,} clients -> {work}", flush=True)

    # 1. generate + CSV
    t0 = time.perf_counter()
    region = synth.generate(n_clients=n, seed=args.seed, municipalities=k)
    files = region.write(work / "export", format="csv")
    fig["generate_s"] = time.perf_counter() - t0
    rows = sum(len(df) for df in region.tables.values())
    fig["rows"] = rows
    as_of = region.truth["horizon"]
    sizes = {m: v["clients"] for m, v in region.truth["municipalities"].items()}
    del region
    print(f"  generated {rows:,} rows in {fig['generate_s']:.1f} s", flush=True)

    # 2. ingest (child process: its own peak RSS)
    store, key = work / "store", work / "pseudonym.key"
    csvs = [str(p) for p in files if p.suffix == ".csv"]
    # the child reports its own high-water mark (VmHWM): RUSAGE_CHILDREN's maxrss counts the
    # parent's pages at fork, i.e. the generated region held here
    wrapper = ("import runpy, sys\nsys.argv = ['asi-kit', *sys.argv[1:]]\ntry:\n"
               "    runpy.run_module('asi_lib', run_name='__main__')\nfinally:\n"
               "    print('VmHWM', next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')),"
               " file=sys.stderr)\n")
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", wrapper, "ingest", *csvs, "--store", str(store), "--key", str(key),
                          "--as-of", as_of], capture_output=True, text=True)
    fig["ingest_s"] = time.perf_counter() - t0
    if res.returncode not in (0, 1):
        print(res.stderr, file=sys.stderr)
        return 2
    hwm = [ln.split()[1] for ln in res.stderr.splitlines() if ln.startswith("VmHWM ")]
    fig["ingest_peak_rss_mb"] = int(hwm[-1]) / 1024 if hwm else None
    print(f"  ingested in {fig['ingest_s']:.1f} s, peak RSS {fig['ingest_peak_rss_mb'] or 0:,.0f} MB", flush=True)

    # 3. release (hook)
    t0 = time.perf_counter()
    fig["release_phases"] = {}
    release = build_release(store, work / "release", as_of=as_of, phases=fig["release_phases"])
    fig["release_s"] = time.perf_counter() - t0 if release is not None else None
    print(f"  release in {fig['release_s']:.1f} s: " + ", ".join(
        f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in fig["release_phases"].items()), flush=True)
    extra = {"RELEASE": str(release)} if release is not None else None

    # 4. every report
    out = work / "reports"
    t0 = time.perf_counter()
    results = reports.render_reports(release or store, out, as_of=as_of, workers=args.workers, progress=False,
                                     scheduler=args.scheduler, parameters=extra)
    fig["reports_s"] = time.perf_counter() - t0
    fig["reports"] = len(results)
    fig["reports_failed"] = [(r.name, r.error) for r in results if not r.ok]
    by_name = {r.name: r for r in results}
    smallest, largest = min(sizes, key=sizes.get), max(sizes, key=sizes.get)
    fig["per_report_smallest"] = {"name": smallest, "clients": sizes[smallest], "s": by_name[smallest].seconds,
                                  "cells_s": cells_seconds(by_name[smallest])}
    fig["per_report_largest"] = {"name": largest, "clients": sizes[largest], "s": by_name[largest].seconds,
                                 "cells_s": cells_seconds(by_name[largest])}
    fig["per_report_region_s"] = results[0].seconds
    secs = sorted(r.seconds for r in results)
    fig["per_report_median_s"] = secs[len(secs) // 2]
    print(f"  {len(results)} reports in {fig['reports_s']:.1f} s ({len(fig['reports_failed'])} failed)", flush=True)
    fig["profile"] = cell_profile([r for r in results if r.ok])
    fig["warm_alone"] = warm_alone(store, work / "warm", [smallest, largest], as_of, release)
    for w in fig["warm_alone"]:
        print(f"  warm kernel, alone: {w['name']} ({sizes[w['name']]} clients) {w['s']:.2f} s", flush=True)

    # 5. baseline: plain papermill CLI + nbconvert, one after another, on a sample
    base = work / "baseline"
    base.mkdir(exist_ok=True)
    kernel = reports.ensure_kernel(reports.KERNEL_NAME)
    sample = sample_of(sizes, args.sample)
    times = []
    for m in sample:
        stem = reports.report_filename(m)
        nb = base / f"{stem}.ipynb"
        params = ["-p", "KOMMUN", m, "-p", "LANG", "sv", "-p", "EXCEL", str(base / f"{stem}.xlsx")]
        if release is not None:
            params += ["-p", "RELEASE", str(release)]
        t_pm = run([str(bindir / "papermill"), str(reports.REPORT_NOTEBOOK), str(nb), "-k", kernel, *params])
        t_nb = run([str(bindir / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(nb)])
        times.append({"name": m, "clients": sizes[m], "papermill_s": t_pm, "nbconvert_s": t_nb})
        print(f"  baseline {m} ({sizes[m]} clients): papermill {t_pm:.1f} s + nbconvert {t_nb:.1f} s", flush=True)
    per_base = sum(t["papermill_s"] + t["nbconvert_s"] for t in times) / len(times)
    fig["baseline"] = times
    fig["baseline_per_report_s"] = per_base
    fig["baseline_all_s"] = per_base * len(results)
    fig["engine_per_report_s"] = fig["reports_s"] / len(results)
    fig["ratio"] = fig["baseline_all_s"] / fig["reports_s"]
    fig["load_after"] = os.getloadavg()[0]

    pre = (fig["release_s"] or 0.0)
    print()
    print(f"{'step':<46} {'seconds':>9}")
    print(f"{'generate + write CSV (' + format(rows, ',') + ' rows)':<46} {fig['generate_s']:>9.1f}")
    print(f"{'ingest (peak RSS ' + format(fig['ingest_peak_rss_mb'] or 0, ',.0f') + ' MB)':<46} {fig['ingest_s']:>9.1f}")
    print(f"{'release':<46} " + ("        –  (hook: no release built yet)" if release is None
                                  else f"{fig['release_s']:>9.1f}"))
    for k, v in fig.get("release_phases", {}).items():
        if isinstance(v, float):
            print(f"{'  ' + k:<46} {v:>9.1f}")
    print(f"{'all ' + str(len(results)) + ' reports, asi-kit (' + fig['scheduler'] + ')':<46} {fig['reports_s']:>9.1f}")
    print(f"{'  per report (slope)':<46} {fig['engine_per_report_s']:>9.2f}")
    for key, label in (("per_report_smallest", "smallest"), ("per_report_largest", "largest")):
        p = fig[key]
        print(f"{'  ' + label + ': ' + p['name'] + ' (' + str(p['clients']) + ' clients)':<46} {p['s']:>9.2f}"
              f"   of which in the cells {p['cells_s'] or 0:.2f} s")
    for w in fig["warm_alone"]:
        print(f"{'  alone on a warm kernel: ' + w['name'] + ' (' + str(sizes[w['name']]) + ')':<46} {w['s']:>9.2f}"
              f"   of which in the cells {w['cells_s'] or 0:.2f} s")
    print(f"{'papermill CLI + nbconvert, per report (' + str(len(times)) + ' sampled)':<46} {per_base:>9.2f}")
    print(f"{'  extrapolated to ' + str(len(results)) + ' reports':<46} {fig['baseline_all_s']:>9.1f}")
    print(f"{'ratio (sequential papermill / asi-kit reports)':<46} {fig['ratio']:>8.1f}x")
    print(f"{'release + all reports':<46} {pre + fig['reports_s']:>9.1f}")
    print(f"load average before/after: {fig['load_before']:.1f} / {fig['load_after']:.1f}")
    prof = fig["profile"]
    if prof["reports"]:
        n_ok = prof["reports"]
        print(f"\nwhere a report's time goes (mean over {n_ok} reports, {prof['total_s'] / n_ok:.2f} s each):")
        for c in prof["top_cells"]:
            print(f"  {c['s_per_report']:6.2f} s {c['share']:5.0%}  {c['cell']}")
        print(f"  {prof['outside_cells_s'] / n_ok:6.2f} s {prof['outside_cells_s'] / prof['total_s']:5.0%}  "
              "outside the cells (kernel start/reset, parameters, HTML export, PDF)")
    (work / "bench_national.json").write_text(json.dumps(fig, indent=1, ensure_ascii=False), encoding="utf-8")
    if not args.out:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
