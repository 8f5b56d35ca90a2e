"""Command line: ``asi-kit <command>`` (also ``python -m asi_lib``).

Thin by design: each domain module registers its own sub-command through a
``register_cli(subparsers)`` function and does the work; this module only
parses arguments and turns :class:`~asi_lib.errors.AsiInputError` (and an
``OSError`` on a path the user gave) into a clear message and exit code 2,
never a traceback. Output paths are checked when the arguments are parsed
(:func:`~asi_lib.errors.output_file_arg`, :func:`~asi_lib.errors.output_dir_arg`),
before anything is read or written.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys

from .errors import AsiInputError, os_error_reason

# Modules that contribute sub-commands, in the order `--help` lists them.
COMMAND_MODULES = ("demo", "ingest", "store", "synth", "templates", "scores", "release", "reports")


def _codebook_cmd(args: argparse.Namespace) -> int:
    from .codebook import load_codebook

    cb = load_codebook()
    records = cb.to_records()
    if args.table:
        records = [r for r in records if r["table"] == args.table]
    if args.format == "json":
        json.dump(records, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    elif args.format == "markdown":
        sys.stdout.write(codebook_markdown(cb, tables=[args.table] if args.table else None))
    else:
        for r in records:
            extra = r.get("asi5_code") or ""
            print(f"{r['table']:<12} {r['name']:<30} {r['type']:<9} {'*' if r['required'] else ' '} {extra:<4} {r['label_sv']}")
    return 0


_CODEBOOK_INTRO = """\
# Kodbok / Codebook

*Generated from `asi_lib/data/codebook.yaml`: regenerate with
`asi-kit codebook --format markdown > docs/codebook.md`; `tests/test_docs.py`
fails when this file and the codebook disagree. Edit the YAML, not this file.*

Column names are stable English snake_case; values are stored as codes (the
first column of each code list); Swedish labels are the default everywhere.
X = *ej svar* (not answered) is stored as -8, N = *ej relevant* (not relevant)
as -9, an empty cell as empty; a column accepts X/N only where its `missing`
allows them (column "X/N tillåtet"). The bortfall
reasons are those of the ASI guidance, per form (`g_*` Grund, `u_*`
Uppföljning). Where the guidance names no codes (main substance, housing,
income, living situation, intervention types, termination reasons, the
client-view and caseworker-rating scales) the lists are the kit's own
choice of what a Swedish unit would recognise; a unit whose case system
uses other categories recodes them with a mapping file (`docs/ingest.md`).
The two 1–5 scales are balanced, with a neutral middle.
"""


def codebook_markdown(cb, tables=None) -> str:
    """The codebook as Markdown: one table of columns per data table, then every code list.

    Parameters
    ----------
    cb : asi_lib.codebook.Codebook
    tables : list of str, optional
        Data tables to include (default all four).

    Returns
    -------
    str
        Markdown text (what ``docs/codebook.md`` holds).
    """
    from .codebook import TABLES

    def md_table(frame) -> list[str]:
        esc = [[str(v).replace("|", "\\|") for v in row] for row in frame.itertuples(index=False)]
        return ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns),
                *("| " + " | ".join(r) + " |" for r in esc), ""]

    out = [_CODEBOOK_INTRO]
    for t in tables or list(TABLES):
        out += [f"## {t}", "", *md_table(cb.describe(t, lang="sv"))]
    if not tables:
        out += ["## Kodlistor / code lists", ""]
        for name, codes in cb.raw["codelists"].items():
            rows = [f"| `{k}` | {v['sv']} | {v['en']} |" for k, v in codes.items()]
            out += [f"### {name}", "", "| kod | svenska | English |", "|---|---|---|", *rows, ""]
    return "\n".join(out).rstrip() + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asi-kit",
        description="ASI-data för individbaserad systematisk uppföljning (ISU) / ASI data for ISU.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("codebook", help="skriv ut kodboken / print the codebook")
    p.add_argument("--format", choices=["json", "text", "markdown"], default="text")
    p.add_argument("--table", choices=["grund", "uppfoljning", "bortfall", "insatser"])
    p.set_defaults(func=_codebook_cmd)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"asi_lib.{name}")
        except ModuleNotFoundError as exc:  # a command not built yet
            if exc.name != f"asi_lib.{name}":
                raise
            continue
        register = getattr(module, "register_cli", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except AsiInputError as exc:
        print(f"asi-kit: fel / error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `asi-kit codebook | head`
        return 0
    except OSError as exc:  # a path the user gave that cannot be read or written: a message, not a traceback
        where = exc.filename or "?"
        print(f"asi-kit: fel / error: {where}: {os_error_reason(exc)}", file=sys.stderr)
        return 2
    except UnicodeDecodeError as exc:
        print(f"asi-kit: fel / error: en fil är inte UTF-8 (byte {exc.start}: {exc.object[exc.start:exc.start + 1]!r}); "
              f"spara den som UTF-8 / a file is not UTF-8: save it as UTF-8", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("asi-kit: avbrutet / interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
