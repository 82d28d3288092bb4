# orusage: the front door. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
LAKE ?= lake
BENCH_N ?= 1000000
# Optional extras to install with the venv: `make venv EXTRAS=spark` (Apache Spark, sqlglot).
EXTRAS ?=

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# The locked environment: built from uv.lock only when missing or when the lock changes.
$(BIN)/orusage: pyproject.toml uv.lock
	@test -x $(UV) || { $(PYTHON) -m venv $(VENV) && $(BIN)/pip install --quiet --disable-pip-version-check 'uv>=0.5'; }
	@UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --quiet --inexact --python $(BIN)/python
	@touch $@

# The extra `spark` (pyspark, sqlglot), added to the venv: the tests need it (the Spark parity tests).
$(VENV)/.extra-spark: $(BIN)/orusage
	@UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --quiet --inexact --extra spark --python $(BIN)/python
	@touch $@

venv: $(BIN)/orusage $(foreach extra,$(EXTRAS),$(VENV)/.extra-$(extra)) ## Build the locked environment in .venv/ (other targets do it when needed; EXTRAS=spark adds Spark)

ingest: $(BIN)/orusage ## Ingest the bundled sample data (data/sample) into ./lake
	$(BIN)/orusage ingest data/sample --lake $(LAKE)

test: $(BIN)/orusage $(VENV)/.extra-spark ## Run the test suite (installs the extra `spark` into the venv first)
	$(BIN)/python -m pytest -q

lint: $(BIN)/orusage ## Lint and check the formatting (ruff; the rules are in pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

sample: $(BIN)/orusage ## Rebuild data/sample from the generator (deterministic)
	$(BIN)/python -m tools.synth sample data/sample

docs: $(BIN)/orusage ## Regenerate docs/fields.md from the field table, and the list of dimensions in docs/report.md
	$(BIN)/python -m pipeline.schema.docs > docs/fields.md
	$(BIN)/python -m pipeline.schema.docs --update docs/report.md

bench: $(BIN)/orusage ## Speed and memory against a raw DuckDB baseline (BENCH_N records, default 1M)
	$(BIN)/python -m tools.bench --records $(BENCH_N)

report: $(BIN)/orusage ## Usage and cost report of the lake, and the page reports/latest.html (ingests data/sample first when there is no lake)
	@test -e $(LAKE)/current || $(BIN)/orusage ingest data/sample --lake $(LAKE)
	$(BIN)/orusage report --lake $(LAKE)
	@mkdir -p reports
	$(BIN)/orusage report --lake $(LAKE) --format html --out reports/latest.html

sql: $(BIN)/orusage ## Interactive SQL shell on the lake's views (orusage sql; see docs/report.md)
	@test -e $(LAKE)/current || $(BIN)/orusage ingest data/sample --lake $(LAKE)
	$(BIN)/orusage sql --lake $(LAKE)

golden: $(BIN)/orusage ## Regenerate the report's golden outputs (tests/golden/) from data/sample; review the diff
	ORUSAGE_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/test_report_golden.py

cron: $(BIN)/orusage ## One scheduled run: ingest the inbox, views, reports, checks (CONFIG=orusage.toml; see docs/operations.md)
	$(BIN)/orusage run --config $(or $(CONFIG),orusage.toml)

clean: ## Remove the lake, reports and benchmark files (not the venv)
	rm -rf $(LAKE) reports bench

.PHONY: help venv ingest test lint sample docs bench clean report sql golden cron
