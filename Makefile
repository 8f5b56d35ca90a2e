# asi-kit: two commands for users — `make demo` and `make test`.
# Everything is installed into the project's own .venv from PyPI; nothing
# outside the checkout is needed except Python 3.11+ with pip and venv.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
KERNEL := asi-kit
OUT    ?= out

.PHONY: all demo test test-fast test-notebooks bench templates venv clean help lab

all: help

help:
	@echo "make demo   - sätter upp .venv och kör huvudjobbet på syntetiska demodata"
	@echo "make test   - sätter upp .venv och kör alla tester"
	@echo "make bench  - kör prestandamätningarna i benchmarks/"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[notebooks,test]"
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (asi-kit)" >/dev/null
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/asi-kit demo --out $(OUT)

test: $(STAMP)
	$(PY) -m pytest -q -n 2 tests asi_lib
	$(MAKE) test-notebooks

test-fast: $(STAMP)
	$(PY) -m pytest -q -x tests asi_lib

test-notebooks: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider --nbval-lax --nbval-kernel-name $(KERNEL) \
		--nbval-sanitize-with tests/nbval_sanitize.cfg notebooks/

bench: $(STAMP)
	$(PY) benchmarks/bench_scores.py
	$(PY) benchmarks/bench_groups.py
	$(PY) benchmarks/bench_synth.py

templates: $(STAMP)
	$(VENV)/bin/asi-kit template --out data_templates

clean:
	rm -rf $(OUT) .pytest_cache .hypothesis

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/
