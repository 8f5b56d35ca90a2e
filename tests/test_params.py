"""Region files (parameters/<region>.yaml): validation, period, consent and validation in a rendered run.

The rendered run: the demo region (300 clients) with the demo region file,
released with the file, the region report and three municipal reports
rendered from it; every HTML page and every Excel part is read as text and
searched for the unnamed municipality's name.
"""
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from asi_lib import reports
from asi_lib.datasets import read_dataset
from asi_lib.errors import AsiInputError
from asi_lib.params import PARAMETERS_DIR, build_region_release, load_region_params
from asi_lib.release import REGION, load_release, write_release

ROOT = Path(__file__).resolve().parent.parent
DEMO_FILE = PARAMETERS_DIR / "demo_region.yaml"
UNNAMED, UNVALIDATED, BIG, SMALL = "Östermyra", "Rönnvik", "Älvstad", "Fjällbo"


@pytest.fixture(scope="module")
def ds():
    return read_dataset("demo", n_clients=300)


def _region_file(tmp_path, ds, **changes) -> Path:
    """The demo region file for this dataset (Exempelkommun is the ingested case-system export only)."""
    raw = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
    raw["municipalities"].pop("Exempelkommun")
    raw["period"]["end"] = str(pd.to_datetime(ds.uppfoljning["interview_date"]).max().date())
    raw.update(changes)
    path = tmp_path / "region.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the file on its own
def test_demo_file_semantics():
    p = load_region_params(DEMO_FILE)
    assert UNNAMED not in p.named and UNNAMED in p.counted          # validated, no consent
    assert UNVALIDATED not in p.named and UNVALIDATED not in p.counted  # not validated: published nowhere
    assert BIG in p.named and p.min_cell == 5 and p.lang == "sv"


@pytest.mark.parametrize("mode, counted_unnamed, counted_unvalidated", [
    ("validated", True, False), ("all", True, True), ("named", False, False)])
def test_region_totals_modes(tmp_path, ds, mode, counted_unnamed, counted_unvalidated):
    p = load_region_params(_region_file(tmp_path, ds, region_totals=mode))
    assert (UNNAMED in p.counted, UNVALIDATED in p.counted) == (counted_unnamed, counted_unvalidated)
    assert set(p.named) <= set(p.counted)


BAD = [  # (change to the file, key named in the message, words of the rule)
    ({"period": {"start": "2025-01-01", "end": "2024-01-01"}}, "'period'", "start 2025-01-01 ligger efter end"),
    ({"period": {"start": "2024-13-01", "end": "2025-01-01"}}, "'period.start'", "ska vara ett datum"),
    ({"period": {"start": "2024-01-01"}}, "'period'", "exakt start och end"),
    ({"min_cell": 1}, "'min_cell'", "heltal ≥ 3"),
    ({"min_cell": "5"}, "'min_cell'", "heltal ≥ 3"),
    ({"lang": "de"}, "'lang'", "sv eller en"),
    ({"region_totals": "some"}, "'region_totals'", "validated, all, named"),
    ({"min_cel": 5}, "'min_cel'", "okänd nyckel"),
    ({"municipalities": {"Älvstad": {"consent": "ja", "validated": True}}}, "'municipalities.Älvstad.consent'",
     "true eller false"),
    ({"municipalities": {"Älvstad": {"validated": True}}}, "'municipalities.Älvstad.consent'", "true eller false"),
    ({"municipalities": {"x" * 61: {"consent": True, "validated": True}}}, "'municipalities.xxx", "kodboken"),
]


@pytest.mark.parametrize("change, key, rule", BAD)
def test_bad_file_is_refused_naming_file_key_and_rule(tmp_path, ds, change, key, rule):
    path = _region_file(tmp_path, ds, **change)
    with pytest.raises(AsiInputError) as exc:
        load_region_params(path)
    msg = str(exc.value)
    assert msg.startswith(str(path)) and key in msg and rule in msg, msg


@pytest.mark.parametrize("change, key, rule", [
    ({"municipalities": {"Okändby": {"consent": True, "validated": True}}}, "'municipalities.Okändby'",
     "okänd kommun"),
    ({"period": {"start": "2019-01-01", "end": "2030-01-01"}}, "'period.end'", "efter lagrets sista intervju"),
    ({"period": {"start": "2010-01-01", "end": "2010-12-31"}}, "'period'", "ingen Grund"),
])
def test_file_is_checked_against_the_store(tmp_path, ds, change, key, rule):
    raw_munis = change.get("municipalities")
    if raw_munis:  # an extra, unknown municipality beside the real ones
        full = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))["municipalities"]
        full.pop("Exempelkommun")
        change = {"municipalities": {**full, **raw_munis}}
    path = _region_file(tmp_path, ds, **change)
    with pytest.raises(AsiInputError) as exc:
        load_region_params(path, ds)
    assert key in str(exc.value) and rule in str(exc.value), str(exc.value)


def test_a_municipality_with_data_missing_from_the_file_is_refused(tmp_path, ds):
    full = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))["municipalities"]
    full.pop("Exempelkommun"), full.pop(SMALL)
    with pytest.raises(AsiInputError, match=f"'municipalities'.*kommunen {SMALL} har data"):
        load_region_params(_region_file(tmp_path, ds, municipalities=full), ds)


def test_cli_gives_one_line_and_exit_2(tmp_path, ds):
    path = _region_file(tmp_path, ds, lang="de")
    for cmd in (["release", "--store", str(tmp_path / "nostore"), "--out", str(tmp_path / "rel")],
                ["reports", "--store", str(tmp_path / "nostore"), "--out", str(tmp_path / "rap")]):
        r = subprocess.run([sys.executable, "-m", "asi_lib", *cmd, "--params", str(path)],
                           capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1
        assert str(path) in r.stderr and "'lang'" in r.stderr and "sv eller en" in r.stderr
    r = subprocess.run([sys.executable, "-m", "asi_lib", "release", "--store", "x", "--out", str(tmp_path / "r"),
                        "--params", str(DEMO_FILE), "--min-cell", "3"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "--min-cell går inte ihop med --params" in r.stderr


def test_period_selects_clients_by_their_grund(tmp_path, ds):
    start, end = pd.Timestamp("2023-01-01"), pd.Timestamp("2024-06-30")
    p = load_region_params(_region_file(tmp_path, ds, period={"start": "2023-01-01", "end": "2024-06-30"}), ds)
    sub = p.dataset(ds)
    # independent: plain Python over the rows
    counted = set(p.counted)
    want = {r.client_pid for r in ds.grund.itertuples() if start <= r.interview_date <= end
            and r.municipality in counted}
    want |= {r.client_pid for r in ds.bortfall.itertuples() if r.form == "grund"
             and start <= r.bortfall_date <= end and r.municipality in counted}
    assert set(sub.grund["client_pid"]) | set(sub.bortfall.loc[sub.bortfall["form"] == "grund", "client_pid"]) == want
    assert sub.grund["interview_date"].between(start, end).all()
    assert (sub.uppfoljning["interview_date"] <= end).all() and set(sub.uppfoljning["client_pid"]) <= want
    n_fu = sum(1 for r in ds.uppfoljning.itertuples() if r.client_pid in want and r.interview_date <= end)
    assert len(sub.uppfoljning) == n_fu
    assert UNVALIDATED not in set(sub.grund["municipality"].astype(str))


# --------------------------------------------------------------------------- a rendered run
@pytest.fixture(scope="module")
def run(tmp_path_factory, ds):
    tmp = tmp_path_factory.mktemp("region")
    params = load_region_params(_region_file(tmp, ds), ds)
    release = write_release(build_region_release(params, ds, audit_cells=False), tmp / "release")
    out = tmp / "rapporter"
    results = reports.render_reports(release, out, municipalities=[BIG, UNNAMED, SMALL], region=True, workers=2,
                                     timeout=300, progress=False, params=params)
    return params, release, out, {r.municipality: r for r in results}


def _texts(path: Path) -> str:
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as z:
            return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return path.read_text(encoding="utf-8")


def test_release_leaves_unnamed_and_unvalidated_out(run):
    params, release, _, _ = run
    rel = load_release(release)
    assert UNVALIDATED not in rel.municipalities and UNNAMED in rel.municipalities
    assert {u["unit"] for u in rel.manifest["units"] if not u["named"]} == {UNNAMED}
    assert rel.manifest["region_params"]["region_totals"] == "validated"
    for unit, tabs in rel.published.items():
        for title, frame in tabs.items():
            cells = set(frame.astype(str).to_numpy().ravel()) | set(map(str, frame.columns))
            assert UNVALIDATED not in cells, (unit, title)
            if unit != UNNAMED:
                assert UNNAMED not in cells, (unit, title)
    by_muni = rel.tables(None)["Problem per kommun"]
    assert BIG in set(by_muni.iloc[:, 0])          # the named ones are still there


def test_unnamed_municipality_appears_only_in_its_own_report(run):
    _, _, out, res = run
    assert all(r.ok for r in res.values()), {k: r.error for k, r in res.items()}
    own = reports.report_filename(UNNAMED)
    files = [f for f in out.rglob("*") if f.suffix in (".html", ".xlsx")]
    assert {f.name for f in files} >= {"index.html", "region.html", "region.xlsx", f"{own}.html"}
    needles = re.compile(f"{UNNAMED}|{own}|ostermyra|{UNVALIDATED}", re.I)
    for f in files:
        text = _texts(f)
        if f.stem == own:
            assert UNNAMED in text      # its own report is its own
            continue
        assert not needles.search(text), (f.name, needles.search(text).group(0))
    index = (out / "index.html").read_text(encoding="utf-8")
    assert BIG in index and SMALL in index


def test_reports_refuse_a_release_built_without_the_file(run, tmp_path, ds):
    params, _, _, _ = run
    from asi_lib.release import build_release

    other = write_release(build_release(ds.filter(municipality=[BIG, SMALL]), audit_cells=False), tmp_path / "rel")
    with pytest.raises(AsiInputError, match="inte byggd med den här regionfilen"):
        reports.render_reports(other, tmp_path / "out", municipalities=[BIG], params=params, progress=False)
