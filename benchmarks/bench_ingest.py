"""Benchmark: ingest of the national set, whole files (the earlier path) against chunked reading, in one run.

Usage::

    python benchmarks/bench_ingest.py [--scale 1.0] [--repeat 1] [--out DIR]
    python benchmarks/bench_ingest.py --grund 12000 120000     # the earlier read_csv comparison

Default: the national synthetic set of issue 12 (``synth.generate(n_clients=350,000 × scale,
municipalities=290 × scale, seed=12)``, four CSV files, ~970,000 rows at scale 1) is written
once; then, alternating so that both see the same machine load, each path ingests all four
files into a fresh store **in its own child process**, which reports its wall time and its
peak resident memory (``VmHWM`` of ``/proc/self/status``; ``ru_maxrss`` is not used: on Linux
it keeps the high-water mark of the pages forked from the parent, which holds the generated
region):

* ``whole``: ``ingest(..., chunk_rows=0)``: every file read whole (``io.read_file``), as before
  streaming;
* ``chunked``: ``ingest(...)`` with the default chunk size (about eight million cells, at most
  100,000 rows per chunk; plain files parsed by pyarrow's CSV reader).

Printed: rows, seconds (wall and the child's CPU time: on a shared machine the CPU time varies
less with the load), peak RSS, peak RSS per 1,000,000 input rows, and the ratios, with the
load average before and after. ``--grund N ...`` keeps the earlier comparison of one Grund file
against ``pandas.read_csv`` alone.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from asi_lib.ingest import ingest
args = json.loads(sys.argv[1])
t0, c0 = time.perf_counter(), time.process_time()
rep = ingest(args["paths"], args["store"], key_path=args["key"], as_of=args["as_of"], chunk_rows=args["chunk_rows"])
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
t = rep.totals()
assert all(f.status == "ok" for f in rep.files), rep.summary_sv()
assert t["read"] == t["accepted_new"] + t["accepted_unchanged"] + t["corrected"] + t["quarantined"], t
assert t["accepted_unchanged"] == 0, "not a fresh store"  # every run ingests into an empty store
try:  # this process's own high-water mark: ru_maxrss would include the parent's pages it forked with
    hwm = next(int(ln.split()[1]) for ln in open("/proc/self/status") if ln.startswith("VmHWM:"))
except (OSError, StopIteration):
    hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "maxrss_mb": hwm / 1024,
                  "read": t["read"], "accepted_new": t["accepted_new"], "quarantined": t["quarantined"],
                  "exit": rep.exit_code}))
"""


def run_child(paths, store, key, as_of, chunk_rows) -> dict:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]) + os.pathsep
           + os.environ.get("PYTHONPATH", "")}
    arg = json.dumps({"paths": [str(p) for p in paths], "store": str(store), "key": str(key), "as_of": as_of,
                      "chunk_rows": chunk_rows})
    res = subprocess.run([sys.executable, "-c", CHILD, arg], capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise SystemExit(f"ingest child failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def national(scale: float, repeat: int, out: str | None, seed: int = 12) -> dict:
    from asi_lib import synth

    k, n = max(2, round(290 * scale)), round(350_000 * scale)
    work = Path(out) if out else Path(tempfile.mkdtemp(prefix="asi-bench-ingest-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    region = synth.generate(n_clients=n, seed=seed, municipalities=k)
    files = [p for p in region.write(work / "export", format="csv") if p.suffix == ".csv"]
    as_of = region.truth["horizon"]
    rows = sum(len(df) for df in region.tables.values())
    del region
    print(f"national set x{scale}: {k} municipalities, {n:,} clients, {rows:,} rows in 4 CSV files "
          f"({sum(p.stat().st_size for p in files) / 2**20:,.0f} MB), generated in {time.perf_counter() - t0:.1f} s",
          flush=True)
    load0 = os.getloadavg()[0]
    runs = {"whole": [], "chunked": []}
    for i in range(repeat):
        for name, chunk in (("whole", 0), ("chunked", None)) if i % 2 == 0 else (("chunked", None), ("whole", 0)):
            store, key = work / f"store-{name}-{i}", work / f"key-{name}-{i}"
            shutil.rmtree(store, ignore_errors=True)  # a fresh store every time: a kept --out folder from an
            key.unlink(missing_ok=True)               # earlier run would make this a re-ingest (other figures)
            r = run_child(files, store, key, as_of, chunk)
            runs[name].append(r)
            r["load"] = os.getloadavg()[0]
            print(f"  {name:<8} run {i + 1}: {r['seconds']:6.1f} s (CPU {r['cpu_seconds']:5.1f} s), peak RSS "
                  f"{r['maxrss_mb']:,.0f} MB ({r['read']:,} rows read, {r['quarantined']} quarantined; "
                  f"load average {r['load']:.1f})", flush=True)
    load1 = os.getloadavg()[0]
    best = {name: {"seconds": min(r["seconds"] for r in rs), "cpu_seconds": min(r["cpu_seconds"] for r in rs),
                   "maxrss_mb": max(r["maxrss_mb"] for r in rs), "read": rs[0]["read"]} for name, rs in runs.items()}
    print(f"\n{'path':<10} {'rows':>10} {'time (best)':>12} {'CPU (best)':>11} {'peak RSS (max)':>15} "
          f"{'RSS per 10^6 rows':>18}")
    for name, b in best.items():
        print(f"{name:<10} {b['read']:>10,} {b['seconds']:>11.1f}s {b['cpu_seconds']:>10.1f}s {b['maxrss_mb']:>13,.0f} MB "
              f"{b['maxrss_mb'] / b['read'] * 1e6:>15,.0f} MB")
    w, c = best["whole"], best["chunked"]
    print(f"chunked / whole: time {c['seconds'] / w['seconds']:.2f}x, CPU {c['cpu_seconds'] / w['cpu_seconds']:.2f}x, "
          f"peak RSS {c['maxrss_mb'] / w['maxrss_mb']:.2f}x; load average {load0:.1f} -> {load1:.1f}")
    print(f"target (issue 12): <= 1,000 MB per 10^6 rows: {'met' if c['maxrss_mb'] / c['read'] * 1e6 <= 1000 else 'NOT met'}")
    return {"rows": rows, "best": best, "runs": runs, "load": [load0, load1]}


def grund_vs_read_csv(sizes):
    """The earlier benchmark: one Grund file, ingest against ``pandas.read_csv`` (best of 3)."""
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

    print(f"{'rows':>9} {'read_csv':>9} {'ingest':>8} {'rows/s':>9} {'ratio':>7}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as d:
            d = Path(d)
            generate(n_clients=n).write(d / "export", format="csv")
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the national set (default 1.0)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each path, alternating (default 1)")
    ap.add_argument("--out", help="work folder (default a temporary one, kept)")
    ap.add_argument("--json", help="write the figures as JSON")
    ap.add_argument("--grund", type=int, nargs="*", help="the earlier one-file comparison with read_csv")
    a = ap.parse_args(argv)
    if a.grund is not None:
        grund_vs_read_csv(a.grund or [12_000, 120_000])
        return 0
    fig = national(a.scale, a.repeat, a.out)
    if a.json:
        Path(a.json).write_text(json.dumps(fig, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
