"""The main job on the embedded synthetic demo region (``asi-kit demo``).

What ``make demo`` runs: generate the synthetic region, export it as the
municipalities would (CSV and Excel in template format, plus a case-system
export in its own format and a deliberately faulty file), ingest everything
into a pseudonymised store, write the published group tables and render one
HTML report per municipality (papermill, :mod:`asi_lib.reports`).
Nothing here is analysis logic: it only calls the library's rooms in order.
"""
from __future__ import annotations

import argparse
import contextlib
import shutil
from pathlib import Path

import pandas as pd

from . import ingest as ingest_mod
from .datasets import DEMO_SEED
from .safe import csv_frame, file_stem

TEMPLATES = Path(__file__).resolve().parent.parent / "data_templates"


def _faulty_rows(grund_csv: Path, out: Path) -> Path:
    """A small export with the mistakes real exports have, one per row.

    Rows are taken from the synthetic Grund export and broken on purpose so
    that the demo (and the quickstart notebook) show the quarantine at work.
    """
    df = pd.read_csv(grund_csv, dtype=str, keep_default_na=False, nrows=8)
    df["client_id"] = [f"DEMO-FEL-{i:03d}" for i in range(len(df))]
    df.loc[0, "interview_date"] = "2031-01-15"          # date in the future
    df.loc[1, "age"] = "16"                             # under 18
    df.loc[1, "birth_year"] = ""
    df.loc[2, "main_substance"] = "alkohol?"            # not a code
    df.loc[3, "alcohol_days"] = "3"                     # intoxication days > alcohol days
    df.loc[3, "alcohol_intox_days"] = "12"
    df.loc[4, "comment"] = "ring 811218-9876"           # identity number in free text
    df.loc[5, "rating_alcohol"] = "12"                  # out of range 0–9
    df.loc[6, "sex"] = ""                               # required field empty
    path = out / "grund_med_fel.csv"
    csv_frame(df).to_csv(path, index=False, sep=";", encoding="utf-8-sig")
    return path


def build_demo_store(out, *, n_clients: int = 3000, seed: int = DEMO_SEED, as_of=None,
                     quiet: bool = False, fresh: bool = True) -> dict:
    """Generate, export and ingest the demo region under ``out``.

    Parameters
    ----------
    out : str or Path
        Output folder; gets ``export/``, ``store/`` and ``nyckel/``.
    n_clients, seed : int
        Size and seed of the synthetic region.
    as_of : date-like, optional
        Reference date for "date in the future" (default today).
    quiet : bool
        Do not print the ingest summaries.
    fresh : bool
        Remove an earlier store first (the demo is reproducible).

    Returns
    -------
    dict
        Paths (``export``, ``store``, ``key``) and the ingest reports.
    """
    from .synth import generate

    out = Path(out)
    export, store, key = out / "export", out / "store", out / "nyckel" / "demo.key"
    if fresh:
        shutil.rmtree(store, ignore_errors=True)
    export.mkdir(parents=True, exist_ok=True)
    region = generate(n_clients=n_clients, seed=seed)
    region.write(export, format="csv")
    region.write(export / "excel", format="xlsx")
    faulty = _faulty_rows(export / "grund.csv", export)
    reports = []
    files = [export / f"{t}.csv" for t in ("grund", "uppfoljning", "bortfall", "insatser")] + [faulty]
    reports.append(ingest_mod.ingest(files, store, key_path=key, as_of=as_of))
    case_export = TEMPLATES / "example_case_system_export.csv"
    mapping = TEMPLATES / "mapping_example.yaml"
    if case_export.exists() and mapping.exists():
        reports.append(ingest_mod.ingest([case_export], store, mapping=mapping, key_path=key, as_of=as_of))
    if not quiet:
        for rep in reports:
            print(rep.summary_sv(max_problems=12))
            print()
    return {"export": export, "store": store, "key": key, "reports": reports}


@contextlib.contextmanager
def _building(out):
    """One builder at a time under ``out``: a second caller (another notebook, test or kernel) waits
    for the first and then finds the store or release there, instead of stopping at the store's lock."""
    import fcntl

    Path(out).mkdir(parents=True, exist_ok=True)
    with open(Path(out) / ".demo-build.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def ensure_demo_store(out="out/demo", **kw) -> Path:
    """The demo store under ``out``, built if it does not exist yet."""
    store = Path(out) / "store"
    if not (store / "manifest.json").exists():
        with _building(out):
            if not (store / "manifest.json").exists():
                build_demo_store(out, quiet=True, **kw)
    return store


def ensure_demo_release(out="out/demo", **kw) -> Path:
    """The demo release under ``out`` (``out/release``), built (with its store) if missing."""
    from .release import build_release, write_release
    from .store import load_store

    rel = Path(out) / "release"
    if not (rel / "manifest.json").exists():
        store = ensure_demo_store(out, **kw)
        with _building(out):
            if not (rel / "manifest.json").exists():
                write_release(build_release(load_store(store)), rel)
    return rel


def write_demo_tables(release, out) -> list[Path]:
    """The release's published tables for the region and for each municipality, as Excel."""
    from .release import load_release
    from .tables import write_excel

    rel = load_release(release)
    out = Path(out)
    paths = [write_excel(rel.tables(None), out / "region.xlsx", title="Hela regionen")]
    for kommun in rel.municipalities:
        paths.append(write_excel(rel.tables(kommun), out / f"{file_stem(kommun)}.xlsx", title=kommun))
    return paths


def run_demo(out="out", *, n_clients: int = 3000, seed: int = DEMO_SEED, as_of=None, reports: bool = True,
             workers: int = 2) -> int:
    """Store, published Excel tables and (with ``reports``) one HTML report per municipality.

    Returns 0, or 1 when a report failed (the others are still written).
    """
    import time

    out = Path(out)
    from .release import build_release, write_release
    from .store import load_store

    res = build_demo_store(out, n_clients=n_clients, seed=seed, as_of=as_of)
    t0 = time.perf_counter()
    rel = build_release(load_store(res["store"]))
    release = write_release(rel, out / "release")
    t_release = time.perf_counter() - t0
    tables = write_demo_tables(release, out / "tabeller")
    failed = []
    if reports:
        from .reports import render_reports

        t0 = time.perf_counter()
        results = render_reports(release, out / "rapporter", workers=workers)
        seconds = time.perf_counter() - t0
        failed = [r for r in results if not r.ok]
    print("Resultat / results:")
    print(f"  exportfiler (syntetiska):        {res['export']}")
    print(f"  pseudonymiserat lager:           {res['store']}")
    print(f"  nyckel (demo, utanför lagret):   {res['key']}")
    p = rel.manifest["protection"]
    print(f"  skyddad utgåva (allt publicerat): {release} (referensdatum {rel.reference_date}; "
          f"{p['cells']} celler skyddade tillsammans, {t_release:.0f} s)")
    print(f"  publicerade tabeller (Excel):    {out / 'tabeller'} ({len(tables)} filer: region + en per kommun)")
    if reports:
        print(f"  kommunrapporter (HTML + Excel):  {out / 'rapporter' / 'index.html'} "
              f"({len(results) - len(failed)} av {len(results)} klara på {seconds:.0f} s)")
        pdfs = [r.pdf for r in results if r.pdf is not None]
        if pdfs:
            print(f"  rapporter som PDF (utskrift):    {out / 'rapporter'} ({len(pdfs)} filer *.pdf, t.ex. "
                  f"{pdfs[0].name})")
        else:
            why = next((r.note for r in results if r.note), "")
            print(f"  rapporter som PDF (utskrift):    inga skrivna. {why}")
        for r in failed:
            print(f"    misslyckades: {r.name}: {r.error}")
    print("  Alla tabeller har passerat skyddet för små tal, tillsammans ('..' = dolt: färre än 5 klienter, "
          "eller dolt så att inget litet antal kan räknas fram).")
    return 1 if failed else 0


def _cmd(args: argparse.Namespace) -> int:
    return run_demo(args.out, n_clients=args.clients, seed=args.seed, as_of=args.as_of,
                    reports=not args.no_reports, workers=args.workers)


def register_cli(subparsers) -> None:
    from .errors import output_dir_arg

    p = subparsers.add_parser("demo", help="kör huvudjobbet på syntetiska demodata / run the demo")
    p.add_argument("--out", default="out", type=output_dir_arg, help="utmapp (standard: out)")
    p.add_argument("--clients", type=int, default=3000)
    p.add_argument("--seed", type=int, default=DEMO_SEED)
    p.add_argument("--as-of", default=None, help="datumgräns ÅÅÅÅ-MM-DD (standard: i dag)")
    p.add_argument("--no-reports", action="store_true", help="hoppa över kommunrapporterna (HTML)")
    p.add_argument("--workers", type=int, default=2, help="rapporter samtidigt (standard 2)")
    p.set_defaults(func=_cmd)
