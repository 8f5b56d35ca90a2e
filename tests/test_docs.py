"""Documentation that other files promise exists and is current."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_methods", ROOT / "tools" / "build_methods.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_methods_md_is_assembled_from_its_parts():
    expected = _load_builder().build()
    actual = (ROOT / "docs" / "methods.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/methods.md is stale: run `python tools/build_methods.py`"


def test_methods_state_the_key_thresholds():
    text = (ROOT / "docs" / "methods.md").read_text(encoding="utf-8")
    for needle in ("min_cell", "Wilson", "Hodges", "Jacobson", "YSASCSB", "90", "730"):
        assert needle in text, needle


def test_readme_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head = text[: text.find("## What is in the box")]
    assert "make demo" in head and "make test" in head


def test_readme_library_example_runs():
    """The README's JupyterLab example is real code (on the demo dataset instead of out/store)."""
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert 'asi.store.load_store("out/store")' in block
    code = block.replace('asi.store.load_store("out/store")', 'asi.datasets.read_dataset("demo", n_clients=1500)')
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["pairing"].pairs.shape[0] > 100


def test_environment_yml_has_every_pyproject_dependency():
    import re
    import tomllib

    root = Path(__file__).resolve().parent.parent
    meta = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    deps = list(meta["dependencies"]) + [d for ds in meta["optional-dependencies"].values() for d in ds]
    env = (root / "environment.yml").read_text(encoding="utf-8")
    for dep in deps:  # same name and the same lower bound (conda-forge spells names the same here)
        assert re.search(rf"^\s*-\s*{re.escape(dep)}\s*$", env, re.M), dep


def test_codebook_md_is_generated_from_the_codebook():
    """docs/codebook.md documents every column and code list; it is the codebook's own rendering."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "asi_lib", "codebook", "--format", "markdown"],
                         capture_output=True, text=True, check=True).stdout
    actual = (ROOT / "docs" / "codebook.md").read_text(encoding="utf-8")
    assert actual == out, "docs/codebook.md is stale: run `asi-kit codebook --format markdown > docs/codebook.md`"
    from asi_lib.codebook import load_codebook
    cb = load_codebook()
    for name, codes in cb.raw["codelists"].items():
        assert f"### {name}" in actual
        assert all(f"| `{k}` |" in actual for k in codes), name
    assert "| car_access | Har tillgång till bil |" in actual and "| E5 |" in actual
