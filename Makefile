# Nil — `make dev` runs the platform, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLCHAINS := builder/toolchains

.PHONY: setup dev test lint format clean

setup: $(VENV)/.installed $(TOOLCHAINS)/node_modules/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

$(TOOLCHAINS)/node_modules/.installed: $(TOOLCHAINS)/package.json $(TOOLCHAINS)/package-lock.json
	cd $(TOOLCHAINS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

dev: setup
	$(PY) -m tools.dev

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf .nil .pytest_cache
