# orusage: the front door. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
LAKE ?= lake
BENCH_N ?= 1000000
BENCH_PERIOD_N ?= 10000000
# Optional extras to install with the venv: `make venv EXTRAS=spark` (Apache Spark, sqlglot).
EXTRAS ?=
# The native JSON lines parser (pipeline/ingest/jsonl_native.cpp on simdjson): built by the
# targets that ingest when a C++ compiler and simdjson are installed; without them the ingest
# uses Arrow's JSON reader, with the same results (README: Performance).
NATIVE := pipeline/ingest/jsonl_native.so
NATIVE_SRC := pipeline/ingest/jsonl_native.cpp
NATIVE_FLAGS := -O2 -std=c++17 -shared -fPIC $(if $(filter Darwin,$(shell uname -s)),-undefined dynamic_lookup)
FUZZ_LINES ?= 1000000

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

venv: $(BIN)/orusage $(NATIVE) $(foreach extra,$(EXTRAS),$(VENV)/.extra-$(extra)) ## Build the locked environment in .venv/ and the native parser (other targets do it when needed; EXTRAS=spark adds Spark)

# Built only when a compiler and simdjson (pkg-config, or the header alone) are found; a failed
# build is reported and the ingest falls back to Arrow's reader.
$(NATIVE): $(NATIVE_SRC) $(BIN)/orusage
	@if command -v $(CXX) >/dev/null 2>&1 && { pkg-config --exists simdjson 2>/dev/null || \
	    echo '#include <simdjson.h>' | $(CXX) -std=c++17 -E -x c++ - >/dev/null 2>&1; }; then \
	  $(CXX) $(NATIVE_FLAGS) $$(pkg-config --cflags simdjson 2>/dev/null) \
	    -I"$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" \
	    $(NATIVE_SRC) -o $@ $$(pkg-config --libs simdjson 2>/dev/null || echo -lsimdjson) \
	  || echo "warning: building $@ failed; the ingest uses Arrow's JSON reader" >&2; \
	fi

native: $(NATIVE) ## Build the native JSON lines parser alone (needs g++ or clang and simdjson)

fuzz: $(BIN)/orusage ## Mutation fuzz of the native parser under AddressSanitizer/UBSan (FUZZ_LINES lines)
	$(BIN)/python -m tools.fuzz_native --lines $(FUZZ_LINES)

ingest: $(BIN)/orusage $(NATIVE) ## Ingest the bundled sample data (data/sample) into ./lake
	$(BIN)/orusage ingest data/sample --lake $(LAKE)

test: $(BIN)/orusage $(NATIVE) $(VENV)/.extra-spark ## Run the test suite (installs the extra `spark` into the venv first)
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

bench: $(BIN)/orusage $(NATIVE) ## Speed and memory against a raw DuckDB baseline (BENCH_N records, default 1M), then bench-period
	$(BIN)/python -m tools.bench --records $(BENCH_N)
	$(MAKE) bench-period

bench-period: $(BIN)/orusage $(NATIVE) ## Report cost follows the period, not the history (a year of BENCH_PERIOD_N records, default 10M; long), then what 3 years of small daily files cost a report
	$(BIN)/python -m tools.bench_period --records $(BENCH_PERIOD_N)
	$(BIN)/python -m tools.bench_files

report: $(BIN)/orusage $(NATIVE) ## Usage and cost report of the lake, and the page reports/latest.html (ingests data/sample first when there is no lake)
	@test -e $(LAKE)/current || $(BIN)/orusage ingest data/sample --lake $(LAKE)
	$(BIN)/orusage report --lake $(LAKE)
	@mkdir -p reports
	$(BIN)/orusage report --lake $(LAKE) --format html --out reports/latest.html

sql: $(BIN)/orusage $(NATIVE) ## Interactive SQL shell on the lake's views (orusage sql; see docs/report.md)
	@test -e $(LAKE)/current || $(BIN)/orusage ingest data/sample --lake $(LAKE)
	$(BIN)/orusage sql --lake $(LAKE)

golden: $(BIN)/orusage ## Regenerate the report's golden outputs (tests/golden/) from data/sample; review the diff
	ORUSAGE_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/test_report_golden.py

cron: $(BIN)/orusage $(NATIVE) ## One scheduled run: ingest the inbox, views, reports, checks (CONFIG=orusage.toml; see docs/operations.md)
	$(BIN)/orusage run --config $(or $(CONFIG),orusage.toml)

clean: ## Remove the lake, reports and benchmark files (not the venv)
	rm -rf $(LAKE) reports bench

.PHONY: help venv native fuzz ingest test lint sample docs bench bench-period clean report sql golden cron
