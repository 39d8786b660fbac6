# TRINETRA developer entry points. `make demo` and `make test` each set up everything
# they need first (virtualenvs, model weights, test media), so each is one command on a
# fresh machine.

PYTHON ?= python3
VENV := .venv
SERVER_VENV := .venv-triton
BIN := $(VENV)/bin
UV := $(BIN)/uv
# The demo gateway's port: `make demo PORT=8090`.
PORT ?= 8080
# Installs show their progress bars on a terminal; in a log (CI) uv and pip print only
# what they resolved and installed, without bars.
PIP_PROGRESS := $(shell [ -t 2 ] && echo on || echo off)

.PHONY: setup system-packages models media dashboard-assets demo test lint typecheck perf clean

setup: system-packages $(VENV)/.installed $(SERVER_VENV)/.installed models media dashboard-assets

# Debian packages: GStreamer's RTSP server for the test cameras (skips what is installed).
system-packages:
	@echo "==> system packages (scripts/install-system-packages.sh)"
	bash scripts/install-system-packages.sh

# uv is bootstrapped into the app venv with the interpreter's own pip; everything else
# installs through it.
$(UV):
	@echo "==> $(VENV): a virtualenv for the applications, with uv to install into it"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar $(PIP_PROGRESS) uv==0.13.8

$(VENV)/.installed: pyproject.toml | $(UV)
	@echo "==> $(VENV): the applications' packages (pyproject.toml: dev, bench, services)"
	$(UV) pip install --python $(BIN)/python -e '.[dev,bench,services]'
	touch $@

# The server venv also gets this project (no dependencies) so python-backend models can
# import the shared `ensembles.ops` functions.
$(SERVER_VENV)/.installed: triton/requirements-server.txt pyproject.toml | $(UV)
	@echo "==> $(SERVER_VENV): the Triton server and its backends (triton/requirements-server.txt)"
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(SERVER_VENV)
	$(UV) pip install --python $(SERVER_VENV)/bin/python -r triton/requirements-server.txt
	$(UV) pip install --python $(SERVER_VENV)/bin/python --no-deps -e .
	touch $@

models:
	@echo "==> model weights into model_repository/ (sha256-checked)"
	$(PYTHON) triton/assets.py weights

media:
	@echo "==> test media into .cache/media/ (sha256-checked)"
	$(PYTHON) triton/assets.py media

# The dashboard's charting library (Apache ECharts), pinned with its integrity hash in
# gateway/dashboard/package-lock.json, installed into .cache/npm and copied next to the
# page that loads it: git-ignored build output, served locally (no CDN), and package data
# of a wheel built after setup (gateway/dashboard/__init__.py).
ECHARTS := gateway/dashboard/static/echarts.min.js
dashboard-assets: $(ECHARTS)

$(ECHARTS): gateway/dashboard/package.json gateway/dashboard/package-lock.json
	@echo "==> the dashboard's chart library (npm ci into .cache/npm)"
	@command -v npm >/dev/null || { echo "npm is missing: install Debian's npm package"; exit 1; }
	mkdir -p .cache/npm
	cp gateway/dashboard/package.json gateway/dashboard/package-lock.json .cache/npm/
	npm ci --prefix .cache/npm --no-audit --no-fund --ignore-scripts
	cp .cache/npm/node_modules/echarts/dist/echarts.min.js $@

# The port is checked before anything starts; a busy one fails naming a free one.
demo: setup
	$(BIN)/python -m devservices.demo --port $(PORT)

# The committed GraphQL SDL for frontend codegen (tests/gateway/api/test_sdl.py fails
# while it is stale).
.PHONY: schema
schema: $(VENV)/.installed
	$(BIN)/python -m gateway.api.sdl --write

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Each python-backend model is its own `model.py` module, so each is checked on its own.
typecheck: $(VENV)/.installed
	$(BIN)/mypy trinetra orchestrator identity gateway analytics devservices ensembles/ops ensembles/triton_io.py triton perf tests
	for model in ensembles/repository/*/1/model.py; do $(BIN)/mypy $$model || exit 1; done

test: setup lint typecheck
	$(BIN)/python -m pytest -ra $(PYTEST_ARGS)

# Benchmarks print their figures; none is part of `make test`.
# bench_faces.py needs a labelled face set that a clone does not have: `make perf FACES=dir`.
perf: setup
	for bench in perf/bench_*.py; do \
		case $$bench in perf/bench_faces.py) continue;; esac; \
		$(BIN)/python $$bench || exit 1; \
	done
	if [ -n "$(FACES)" ]; then $(BIN)/python perf/bench_faces.py --faces "$(FACES)"; fi
	$(BIN)/python perf/run_perf_analyzer.py

clean:
	rm -rf $(VENV) $(SERVER_VENV) .cache
