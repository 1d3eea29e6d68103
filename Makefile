# School data ELT. `make` lists the targets; every target creates the virtualenv on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
CLI := $(PY) -m dlt_pipelines
BENCH_JSON ?= bench/results/latest.json
DOCS_PORT ?= 8080
PYTEST_ARGS ?=
# test files run on this many workers (each with its own embedded Postgres); 0 runs in this process
PYTEST_WORKERS ?= 2
# SCHOOLDATA_DESTINATION=lake (or DESTINATION=lake): extract-aeries / extract-iready land Parquet
# under LAKE_URL for the Spark engine instead of loading Postgres (docs/scale.md)
DESTINATION ?= $(or $(SCHOOLDATA_DESTINATION),warehouse)
ifeq ($(DESTINATION),lake)
AERIES_CMD := lake aeries
IREADY_CMD := lake iready
else
AERIES_CMD := aeries
IREADY_CMD := iready
endif
SPARK_STAMP := $(VENV)/.spark-stamp
# the CLI ends (and ends its dbt child) when make is killed: dlt_pipelines/common/processes.py
export SCHOOLDATA_DIE_WITH_PARENT := 1

.PHONY: help setup db-up db-down db-status db-env db-roles simulate demo demo-csv extract extract-aeries \
	extract-aeries-files extract-iready extract-bakalari sync-bakalari sweep-aeries nightly weekly transform freshness \
	quality docs docs-serve lint pii-check test unit-test bench clean clean-db

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) ## create the virtualenv and install pinned dependencies

db-up: $(STAMP) ## start the embedded Postgres (or check the configured server)
	@$(CLI) db up

db-down: $(STAMP) ## stop the embedded Postgres
	@$(CLI) db down

db-status: $(STAMP) ## show the embedded Postgres status
	@$(CLI) db status

db-env: $(STAMP) ## print PG* exports for psql/dbt: eval "$$(make -s db-env)" (ARGS="--role analyst")
	@$(CLI) db env $(ARGS)

db-roles: $(STAMP) ## create the loader/transformer/analyst/pii_reader roles and grants (idempotent)
	@$(CLI) db roles

simulate: $(STAMP) ## serve the synthetic district (Aeries, Bakalari) and write i-Ready files
	@$(CLI) simulate

demo: $(STAMP) ## everything end to end: database, simulators, pipelines, dbt build, docs (ARGS="--sources bakalari")
	@$(CLI) demo $(ARGS)

demo-csv: $(STAMP) ## the demo with Aeries loaded from its CSV exports instead of the API
	@$(CLI) demo --aeries-via csv $(ARGS)

ifeq ($(DESTINATION),lake)
extract: extract-aeries extract-iready
else
extract: extract-aeries extract-iready extract-bakalari ## run every source (DESTINATION=lake: Aeries and i-Ready, the lake-able ones)
endif

extract-aeries: $(STAMP) ## load Aeries SIS (ARGS="--school-code 101 --dry-run")
	@$(CLI) $(AERIES_CMD) $(ARGS)

extract-aeries-files: $(STAMP) ## load Aeries CSV exports instead of the API (ARGS="--source-url /data/aeries")
	@$(CLI) aeries-files $(ARGS)

sweep-aeries: $(STAMP) ## weekly: refetch the year's attendance for late corrections (locked months skipped)
	@$(CLI) aeries --refetch $(ARGS)

extract-iready: $(STAMP) ## load i-Ready diagnostic exports (ARGS="--source-url ...")
	@$(CLI) $(IREADY_CMD) $(ARGS)

extract-bakalari: $(STAMP) ## sync the Bakalari roster
	@$(CLI) bakalari $(ARGS)

sync-bakalari: $(STAMP) ## what cron runs every 15 minutes (exits at once if a run is active)
	@$(CLI) bakalari $(ARGS)

nightly: $(STAMP) ## cron, Mon-Sat: the configured sources, then dbt builds what changed
	@$(CLI) nightly $(ARGS)

weekly: $(STAMP) ## cron, Sunday: the Aeries sweep, the other sources, then a full dbt build
	@$(CLI) weekly $(ARGS)

transform: $(STAMP) ## dbt build (seeds, models, snapshots, tests)
	@$(CLI) dbt build $(ARGS)

freshness: $(STAMP) ## dbt source freshness from the load timestamps
	@$(CLI) dbt source freshness

quality: $(STAMP) ## readable data-quality report: failing tests and latest rejects
	@$(CLI) quality

docs: $(STAMP) ## build the dbt documentation site
	@$(CLI) dbt docs generate

docs-serve: $(STAMP) ## serve the docs site on http://localhost:8080 (DOCS_PORT=...)
	@$(CLI) dbt docs serve --port $(DOCS_PORT) --host 127.0.0.1 --no-browser

.PHONY: dashboard
dashboard: $(STAMP) ## serve the dashboards on http://localhost:8501 as the analyst role (ARGS="--port 8502", "--pii")
	@$(CLI) dashboard $(ARGS)

lint: $(STAMP) ## ruff (Python), sqlfluff (dbt SQL) and the PII inventory check
	$(VENV)/bin/ruff check dlt_pipelines tests bench
	$(CLI) pii-check
	@eval "$$($(CLI) db env)" && cd dbt_project && DBT_PROFILES_DIR=../profiles ../$(VENV)/bin/sqlfluff lint $$(ls -d models macros snapshots tests analyses 2>/dev/null) --processes 2

pii-check: $(STAMP) ## PII inventory: no PII outside locked schemas, every PII-like column tagged
	$(CLI) pii-check

.PHONY: serve
serve: $(STAMP) ## the operations service on http://127.0.0.1:8090: sync API, webhooks, /metrics (ARGS="--port 8091")
	@$(CLI) serve $(ARGS)

unit-test: $(STAMP) ## fast tests only
	$(PY) -m pytest tests/unit -q $(PYTEST_ARGS)

test: $(SPARK_STAMP) lint ## lint, then the whole suite, the Spark equality test included (starts its own database and simulators)
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile -m 'spark or not spark' $(PYTEST_ARGS)

.PHONY: setup-spark transform-spark test-spark
$(SPARK_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev,spark]'
	@touch $(SPARK_STAMP)

setup-spark: $(SPARK_STAMP) ## the Spark engine's extra (pyspark, dbt-spark; needs Java 17)

transform-spark: $(SPARK_STAMP) ## dbt build on Spark (local[2]) of the ported models, raw tables from LAKE_URL
	@DBT_TARGET=spark $(CLI) dbt build --selector spark $(ARGS)

test-spark: $(SPARK_STAMP) ## the Spark-equals-Postgres test (about 3 minutes on 2 cores)
	$(PY) -m pytest -q -m spark tests/integration/test_spark_equality.py $(PYTEST_ARGS)

bench: $(STAMP) ## benchmarks; prints a table and writes $(BENCH_JSON)
	$(PY) -m bench --output $(BENCH_JSON)

clean: ## remove build output, caches and generated files (keeps the database)
	rm -rf dbt_project/target dbt_project/logs .pytest_cache .ruff_cache .hypothesis .local/dlt .local/demo
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

clean-db: ## stop and delete the embedded database
	-@test -x $(PY) && $(CLI) db down
	rm -rf .local/pg
