# SchemaAdmin: `make run` serves the dashboard on an embedded PostgreSQL with demo data; `make test` tests it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?= -n auto
# Where make run serves the dashboard: make run ADDRPORT=127.0.0.1:8080 (or 0.0.0.0:8000 to listen on every interface).
ADDRPORT ?= 127.0.0.1:8000

.PHONY: help setup run test lint bench clean

help:
	@echo "make run    set up, then serve the dashboard at http://$(ADDRPORT) with a worker (Ctrl-C stops all; ADDRPORT=host:port to move it)"
	@echo "make test   set up, then run the whole test suite"
	@echo "make lint   ruff check and format check, mypy on the package"

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || { interpreter=$$(bin/find-python) && echo "Creating $(VENV) with $$interpreter" && "$$interpreter" -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

# npm ci empties node_modules first: through a link that would be another tree's install (and its running tests).
node_modules/.installed: package.json package-lock.json frontend/sql-editor.js
	@if [ -L node_modules ]; then echo "node_modules is a link to $$(readlink -f node_modules), another tree's install: not reinstalling it from here. Run make in that tree, or remove the link." >&2; exit 1; fi
	npm ci --no-audit --no-fund --loglevel=error
	npm run build --silent
	@touch $@

run: setup
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py run_dashboard --addrport $(ADDRPORT)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy schemaadmin

clean:
	rm -rf $(VENV) node_modules staticfiles test-artifacts .pytest_cache
