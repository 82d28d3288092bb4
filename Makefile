# orusage: the front door. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
LAKE ?= lake
BENCH_N ?= 1000000

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# The locked environment: built from uv.lock only when missing or when the lock changes.
$(BIN)/orusage: pyproject.toml uv.lock
	@test -x $(UV) || { $(PYTHON) -m venv $(VENV) && $(BIN)/pip install --quiet --disable-pip-version-check 'uv>=0.5'; }
	@UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --quiet --python $(BIN)/python
	@touch $@

venv: $(BIN)/orusage ## Build the locked environment in .venv/ (other targets do it when needed)

ingest: $(BIN)/orusage ## Ingest the bundled sample data (data/sample) into ./lake
	$(BIN)/orusage ingest data/sample --lake $(LAKE)

test: $(BIN)/orusage ## Run the test suite
	$(BIN)/python -m pytest -q

sample: $(BIN)/orusage ## Rebuild data/sample from the generator (deterministic)
	$(BIN)/python -m pipeline.synth sample data/sample

docs: $(BIN)/orusage ## Regenerate docs/fields.md from the field table
	$(BIN)/python -m pipeline.docs > docs/fields.md

bench: $(BIN)/orusage ## Speed and memory against a raw DuckDB baseline (BENCH_N records, default 1M)
	$(BIN)/python -m pipeline.bench --records $(BENCH_N)

clean: ## Remove the lake, reports and benchmark files (not the venv)
	rm -rf $(LAKE) reports bench

.PHONY: help venv ingest test sample docs bench clean
