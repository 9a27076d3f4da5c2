# dacscreen: everything a user or CI needs, from a clean clone.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv install test test-browser test-all lint demo bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip

# torch==2.13.0 is the CPU wheel on this machine's disk; pyproject asks torch>=2.4 so a CUDA
# build also satisfies it on a GPU machine.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(BIN)/python
install: $(STAMP)

lint: install
	$(BIN)/ruff check .

test: install lint
	$(BIN)/python -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then exit 0; else exit $$rc; fi

test-browser: install
	$(BIN)/python -m pytest -q -m browser

test-all: install
	$(BIN)/python -m pytest -q -m "" 

# The main job on the embedded data: build the store from the shipped shards, then screen all
# 434 sites (406 pairs + 28 single atoms) with the shipped model.
demo: install
	$(BIN)/dacscreen dataset info
	$(BIN)/dacscreen screen --config configs/screen.yaml --out out/screen
	@echo "report: out/screen/report.html  table: out/screen/candidates.csv"

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) out runs data/cache
