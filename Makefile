# asi-kit: two commands for users — `make demo` and `make test`.
# Everything is installed into the project's own .venv from PyPI; nothing
# outside the checkout is needed except Python 3.11+ with pip and venv.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
KERNEL := asi-kit
OUT    ?= out

.PHONY: all demo test test-fast test-notebooks notebooks bench bench-national templates venv clean help lab dashboard test-browser browser-deps

all: help

help:
	@echo "make demo   - sätter upp .venv och kör huvudjobbet på syntetiska demodata"
	@echo "make test   - sätter upp .venv och kör alla tester"
	@echo "make bench  - kör prestandamätningarna i benchmarks/ (se docs/benchmarks.md)"
	@echo "make bench-national - 290 kommuner, alla rapporter mot papermill (SCALE=0.05 för en snabb körning)"
	@echo "make notebooks - generera, kör och gör notebookarna lätta innan de checkas in"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[notebooks,test]"
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (asi-kit)" >/dev/null
	@touch $(STAMP)

# browser-deps: Chromium prints the PDF of each report; without it (no root) the demo says so and writes no PDF
demo: $(STAMP) browser-deps
	$(VENV)/bin/asi-kit demo --out $(OUT)

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --ignore=tests/browser tests asi_lib
	$(MAKE) test-notebooks
	$(MAKE) test-browser

test-fast: $(STAMP)
	$(PY) -m pytest -q -x --ignore=tests/browser tests asi_lib

# Regenerate the committed notebooks: 00-05 from their jupytext sources notebooks/NN_*.py (the
# source of truth; the report notebook from its generator), one execution (reference output of the
# NBVAL_CHECK_OUTPUT cells), then every other output dropped (docs/notebooks.md).
NOTEBOOKS = $(sort $(wildcard notebooks/0[0-5]_*.ipynb)) notebooks/report/kommunrapport.ipynb
notebooks: $(STAMP)
	$(VENV)/bin/jupytext --to ipynb --update $(sort $(wildcard notebooks/0[0-5]_*.py))
	$(PY) tools/notebook_report.py
	for nb in $(NOTEBOOKS); do (cd $$(dirname $$nb) && $(CURDIR)/$(VENV)/bin/jupyter nbconvert --to notebook \
		--execute --inplace --ExecutePreprocessor.kernel_name=$(KERNEL) $$(basename $$nb)) || exit 1; done
	$(PY) tools/lighten_notebooks.py $(NOTEBOOKS)

test-notebooks: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider --nbval-lax --nbval-kernel-name $(KERNEL) \
		--nbval-sanitize-with tests/nbval_sanitize.cfg notebooks/

bench: $(STAMP)
	$(PY) benchmarks/bench_scores.py
	$(PY) benchmarks/bench_groups.py
	$(PY) benchmarks/bench_synth.py
	$(PY) benchmarks/bench_ingest.py
	$(PY) benchmarks/bench_dashboard.py

# The national set end to end (docs/benchmarks.md); SCALE=0.05 for a quick run.
SCALE ?= 1.0
bench-national: $(STAMP)
	$(PY) benchmarks/bench_national.py --scale $(SCALE)

templates: $(STAMP)
	$(VENV)/bin/asi-kit template --out data_templates

clean:
	rm -rf $(OUT) .pytest_cache .hypothesis

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

# Dashboard for managers (Voilà), one municipality per page: http://127.0.0.1:$(DASHBOARD_PORT)/?kommun=Älvstad
# Settings (kernel pool, culling, max. concurrent pages, template, allowed municipalities) are in
# notebooks/dashboard/voila.json, read from the working directory; the launcher asi_lib.dashboard_server
# is Voilà with a gate in front (docs/dashboard.md). The pages render a protected release
# (ASI_KIT_RELEASE, else the demo release, built first with `asi-kit release` so the preheated
# kernels do not race to build it).
DASHBOARD_PORT ?= 8866
dashboard: $(STAMP)
	@test -n "$$ASI_KIT_RELEASE" || test -f out/demo/release/manifest.json || { \
		$(PY) -c "from asi_lib.demo import ensure_demo_store; ensure_demo_store('out/demo')" && \
		$(PY) -m asi_lib release --store out/demo/store --out out/demo/release; }
	cd notebooks/dashboard && ASI_KIT_RELEASE=$${ASI_KIT_RELEASE:-$(CURDIR)/out/demo/release} \
		JUPYTER_PATH=$(CURDIR)/notebooks/dashboard/share \
		$(CURDIR)/$(PY) -m asi_lib.dashboard_server oversikt.ipynb --port=$(DASHBOARD_PORT)

# Chromium for the PDF reports and the browser tests (Debian package; playwright's own download is not used).
# Never fails: without apt-get or root it says what to do, and the demo writes no PDF.
browser-deps:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			(apt-get update && apt-get install -y chromium) || echo "Chromium kunde inte installeras: inga PDF:er, webbläsartesterna hoppas över."; \
		else echo "Chromium saknas och kan inte installeras här (inte root eller inte Debian/Ubuntu): installera chromium (t.ex. 'sudo apt-get install chromium') eller sätt ASI_KIT_CHROMIUM; inga PDF:er skrivs och webbläsartesterna hoppas över."; fi; }

test-browser: $(STAMP) browser-deps
	$(PY) -m pytest -q -p no:cacheprovider tests/browser
