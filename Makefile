# gonghui — two commands: `make run` (demo data + pipeline + publish) and `make test`.
# Needs only Python 3.11+, make and git: the first call bootstraps uv into .tools/ and creates
# .venv from uv.lock (bytecode compiled, so imports stay fast).

PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
BIN := $(VENV)/bin
DEV_PORT ?= 3000

export UV_COMPILE_BYTECODE := 1
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)

.PHONY: install run test lint unit dev docs bench bench-incremental clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python "$$(command -v $(PYTHON))"
	$(BIN)/dbt parse --quiet --project-dir dbt_project --profiles-dir dbt_project
	touch $@

install: $(VENV)/.synced

## make run — generate the demo submissions if raw/ is empty, run the pipeline, publish
run: install
	$(BIN)/gonghui demo-data --if-missing
	$(BIN)/gonghui run

## make test — lint (ruff, sqlfluff) and the test suite
test: lint unit

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project

unit: install
	# refresh the dbt manifest once, before the workers start (they would each re-parse)
	$(BIN)/dbt parse --quiet --project-dir dbt_project --profiles-dir dbt_project
	$(BIN)/pytest -n 2 --dist loadgroup --durations=15

## make dev — Dagster UI on http://localhost:3000 with the same instance `gonghui run` records in
# (exec: dagster dev replaces the shell, so make's SIGTERM and Ctrl-C reach it and it stops
# its webserver, daemon and code servers)
dev: install
	export DAGSTER_HOME=$${DAGSTER_HOME:-$$($(BIN)/python -c 'from orchestration.lib.settings import Settings; print(Settings.from_env().dagster_home)')}; \
	$(BIN)/python -m orchestration.lib.instance_config "$$DAGSTER_HOME" && \
	PATH="$(CURDIR)/$(BIN):$$PATH" exec $(BIN)/dagster dev -m orchestration.definitions -p $(DEV_PORT)

## make docs — dbt docs (models, columns, lineage) into warehouse/dbt-docs/static_index.html
docs: install
	$(BIN)/gonghui docs

## make bench [SCALE=10] [REPEAT=3] — read floor vs full run, alternating; medians, CPU, peak RSS
SCALE ?= 1
REPEAT ?= 3
bench: install
	$(BIN)/python benchmarks/pipeline.py --scale $(SCALE) --repeat $(REPEAT)

## make bench-incremental — full run vs nothing changed vs one street changed
bench-incremental: install
	$(BIN)/python benchmarks/incremental.py

clean:
	rm -rf warehouse dbt_project/target dbt_project/logs
