# `make demo` and `make test` each build .venv when missing, install biocl into it, then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.biocl-installed
DEMO_DIR ?= runs/demo

.PHONY: install demo test test-all bench bench-binning results clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m biocl_cli.demo --out $(DEMO_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m ''

# Runs the quick protocols, then rewrites every <!-- results:start NAME --> block of README.md
# and docs/*.md from those runs, so the published numbers are what the code gives.
results: $(STAMP)
	$(BIN)/python -m biocl_cli.results --run --runs runs/results

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# biocl beside VAMB and SemiBin2 (each in its own venv under runs/peer_venvs; not part of `make test`).
bench-binning: $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[bam]'
	$(BIN)/python benchmarks/peer_binning.py --json runs/peer_binning.json

clean:
	rm -rf $(VENV) runs .biocl_cache
