"""Every path argument of every sub-command: a user's mistake gives one clear message naming the path,
exit code 2, no traceback, and nothing half-written (issue 8, "Tracebacks where a message belongs")."""
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "ingest"))
from make_rows import valid_rows  # noqa: E402

from asi_lib.cli import main
from asi_lib.ingest import ingest

AS_OF = "2025-06-01"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def env(tmp_path):
    g = tmp_path / "g.csv"
    valid_rows("grund", 2).to_csv(g, index=False)
    return {"store": tmp_path / "store", "key": tmp_path / "k.key", "dir": tmp_path, "g": g}


def run(argv, capsys):
    """main(argv) -> (exit code, stderr); argparse's own refusals (SystemExit 2) count as exit code 2."""
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:
        rc = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err


def ingest_args(env, *extra):
    return ["ingest", env["g"], "--store", env["store"], "--key", env["key"], "--as-of", AS_OF, *extra]


def snapshot(store):
    store = Path(store)
    return {p.name: p.read_bytes() for p in sorted(store.iterdir()) if p.name != ".lock"} if store.exists() else None


def test_report_pointing_at_a_folder_is_refused_before_the_store_is_written(env, capsys):
    folder = env["dir"] / "rapporter"
    folder.mkdir()
    rc, err = run(ingest_args(env, "--report", folder), capsys)
    assert rc == 2 and str(folder) in err and "katalog" in err
    assert not env["store"].exists()  # checked before anything was read or written
    # a report whose parent is a file: same
    rc, err = run(ingest_args(env, "--report", env["g"] / "r.json"), capsys)
    assert rc == 2 and "är en fil" in err and not env["store"].exists()
    # a report in a folder that does not exist yet is fine: the folder is made
    assert run(ingest_args(env, "--report", env["dir"] / "ny" / "r.json"), capsys)[0] == 0
    assert json.loads((env["dir"] / "ny" / "r.json").read_text())["exit_code"] == 0
    assert not list((env["dir"] / "ny").glob(".*.tmp"))


def test_store_whose_parent_is_a_file(env, capsys):
    rc, err = run(ingest_args(env)[:2] + ["--store", env["g"] / "lager", "--key", env["key"], "--as-of", AS_OF], capsys)
    assert rc == 2 and str(env["g"]) in err and "är en fil" in err
    assert not env["key"].exists()  # no key made for a store that cannot be
    rc, err = run(["store", "--store", env["g"]], capsys)
    assert rc == 2 and "katalog" in err
    rc, err = run(["forget", "--store", env["g"] / "lager", "--client", "K1", "--municipality", "Ale"], capsys)
    assert rc == 2 and "manifest" in err


def test_mapping_file_saved_as_cp1252(env, capsys):
    # a mapping saved as cp1252 is read as such (ingest-hostile); a file mixing encodings is refused
    m = env["dir"] / "mappning.yaml"
    m.write_bytes("columns:\n  Kön: sex\n".encode("cp1252"))
    rc, err = run(ingest_args(env, "--mapping", m), capsys)
    assert rc in (0, 1) and "Traceback" not in err
    mixed = env["dir"] / "blandad.yaml"
    mixed.write_bytes("columns:\n  Kön: sex\n".encode("cp1252") + "  Ålder: age\n".encode("utf-8"))
    rc, err = run(ingest_args(env, "--mapping", mixed), capsys)
    assert rc == 2 and "Traceback" not in err
    rc, err = run(ingest_args(env, "--mapping", env["dir"]), capsys)  # a folder as mapping
    assert rc == 2 and str(env["dir"]) in err and "mappningsfilen" in err


def test_corrupt_quarantine_is_refused_with_a_repair_hint(env, capsys):
    bad = valid_rows("grund", 2)
    bad.loc[0, "alcohol_days"] = "99"
    bad.to_csv(env["g"], index=False)
    assert run(ingest_args(env), capsys)[0] == 1
    (env["store"] / "quarantine.parquet").write_bytes(b"PAR1 this is not parquet")
    before = snapshot(env["store"])
    rc, err = run(ingest_args(env), capsys)
    assert rc == 2 and "quarantine.parquet" in err and "säkerhetskopian" in err
    assert snapshot(env["store"]) == before  # nothing half-written
    assert run(["store", "--store", env["store"]], capsys)[0] == 2


def test_output_folders_and_files_of_the_other_commands(env, capsys):
    f = env["g"]
    for argv, word in [(["reports", "--store", env["store"], "--out", f], "är en fil"),
                       (["synth", "--out", f], "är en fil"),
                       (["template", "--out", f / "mallar"], "är en fil"),
                       (["demo", "--out", f], "är en fil"),
                       (["scores", f, "--out", env["dir"]], "katalog")]:
        rc, err = run(argv, capsys)
        assert rc == 2 and str(f if argv[0] != "scores" else env["dir"]) in err and word in err, (argv, err)
    assert sorted(p.name for p in env["dir"].iterdir()) == ["g.csv"]  # nothing written anywhere


def test_read_only_store_gives_a_message_not_a_traceback(env):
    """A real child process without write permission on the store. As root (who may write anywhere) the child
    runs in a new user namespace (`unshare --user`), where the root-owned files are only its own files under
    their modes."""
    assert ingest([env["g"]], env["store"], key_path=env["key"], as_of=AS_OF).exit_code == 0
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("unshare"):
            pytest.skip("root without unshare: permissions cannot be taken away")
        prefix = ["unshare", "--user"]
    store = env["store"]
    try:
        for p in [store, *store.iterdir()]:
            os.chmod(p, 0o555 if p.is_dir() else 0o444)
        before = snapshot(store)
        res = subprocess.run([*prefix, sys.executable, "-m", "asi_lib", "ingest", str(env["g"]), "--store", str(store),
                              "--key", str(env["key"]), "--as-of", AS_OF], capture_output=True, text=True, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert res.returncode == 2, res.stderr
        assert "Traceback" not in res.stderr and str(store) in res.stderr
        assert "behörighet saknas" in res.stderr
        assert snapshot(store) == before
    finally:
        for p in [store, *store.iterdir()]:
            os.chmod(p, stat.S_IRWXU)


def test_importing_the_main_module_does_not_run_the_command():
    # multiprocessing's spawn imports a process's main module as __mp_main__; `python -m asi_lib` must
    # then not run the command line a second time (it did: the module ended in raise SystemExit(main()))
    import importlib
    import subprocess
    import sys

    importlib.reload(importlib.import_module("asi_lib.__main__"))   # no SystemExit
    out = subprocess.run([sys.executable, "-m", "asi_lib", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "release" in out.stdout
