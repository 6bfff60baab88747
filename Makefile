# wpeval: two commands on a fresh machine.
#   make demo   set up, generate the default synthetic data, run every notebook, write outputs/index.html
#   make test   set up and run the test suite
# Everything is installed into .venv from requirements.lock (exact pins); nothing outside the repo.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.wpeval-installed
N      ?= 200000
SEED   ?= 20110601
DATA   ?= data_synthetic/default.parquet
JOBS   ?= 2

.PHONY: help setup demo data run test test-fast bench browser-deps lint format clean reference lab

help:  ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP)  ## create .venv and install the pinned dependencies

$(DATA): $(STAMP) wpeval/data/synthetic.py wpeval/config/synthetic.yaml
	$(BIN)/wpeval generate --n $(N) --seed $(SEED) --out $(DATA)

data: $(DATA)  ## generate the default synthetic data (N=200000)

demo: $(DATA) browser-deps  ## set up, generate data, run every notebook (reports, CSV, ODS/XLSX, PNG/SVG, PDF), write outputs/index.html
	$(BIN)/wpeval run --data $(DATA) --jobs $(JOBS)
	@echo "Open outputs/index.html"

lint: $(STAMP)  ## ruff (lint and format, notebooks included) and nbstripout --verify
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/nbstripout --verify notebooks/*.ipynb tests/run_fixtures/*.ipynb

format: $(STAMP)  ## apply ruff's fixes and formatting, strip notebook outputs
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/nbstripout notebooks/*.ipynb tests/run_fixtures/*.ipynb

KERNEL := wpeval

lab: $(STAMP)  ## set up, register the environment as the "Python (wpeval)" kernel, open JupyterLab on notebooks/
	$(BIN)/python -m ipykernel install --prefix $(abspath $(VENV)) --name $(KERNEL) --display-name "Python (wpeval)" >/dev/null
	@test -f $(DATA) || echo "note: $(DATA) is absent; run 'make data' to make it (the notebooks' default data)"
	cd notebooks && JUPYTER_PATH=$(abspath $(VENV))/share/jupyter $(abspath $(BIN))/jupyter lab

test: $(STAMP) browser-deps lint  ## lint, then run the test suite
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)  ## the suite without slow and browser tests
	WPEVAL_FAST=1 $(BIN)/python -m pytest -q -m "not slow and not browser"

browser-deps:  ## install Debian chromium for the browser test when absent
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { echo "installing chromium (apt-get)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "WARNING: could not install chromium; the browser test will fail"; }

bench: $(STAMP)  ## side-by-side benchmarks (installs pyfixest; uses R where installed)
	$(BIN)/python -m pip install -q "pyfixest>=0.30"
	$(BIN)/wpeval bench

reference:  ## regenerate the frozen R reference values (needs r-base-core r-cran-survival r-cran-estimatr r-cran-metafor r-cran-jsonlite)
	cd tests/reference && for f in *.R; do Rscript $$f; done

clean:  ## remove outputs and generated data (keeps .venv)
	rm -rf outputs/* $(DATA)
	@touch outputs/.gitkeep
