# Two commands for a newcomer: `make run` and `make test`. Both build .venv first.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
# Two installs, each with its stamp: `make run` needs only what serving and training need
# (the train extra); `make test` and the tooling targets add the dev extra (which includes train).
STAMP_RUN := $(VENV)/.installed-run
STAMP     := $(VENV)/.installed-dev

.PHONY: install install-run run test test-fast lint format bench bench-strict screenshots hooks clean image image-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[train]'
	touch $(STAMP_RUN)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $(STAMP_RUN)

install: $(STAMP)

install-run: $(STAMP_RUN)

## Train iris if the registry is empty, then serve it on 127.0.0.1:5000 (another port: make run PORT=5001).
run: install-run
	$(BIN)/tabserve train --if-empty
	$(BIN)/tabserve serve $(if $(PORT),--port $(PORT))

# Test processes (pytest-xdist): `auto` is one per core; each gets its own backend databases, and
# a test file stays in one process so its module fixtures are built once. TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= auto
PYTEST_PARALLEL = -n $(TEST_WORKERS) --dist loadfile
# Tests write bytecode even where PYTHONDONTWRITEBYTECODE is set: every test process and every
# `tabserve` process a test starts would otherwise compile the package again, and pytest would
# rewrite the asserts of every test module again (half of collecting the tests).
test test-fast: export PYTHONDONTWRITEBYTECODE :=

## Lint, then the whole suite (backends included; see README for the services).
test: install lint
	$(BIN)/python -m pytest $(PYTEST_PARALLEL)

## What the pre-commit hook runs: lint and the tests not marked slow or backend.
## It uses .venv as it is (no install step), so a commit never downloads anything.
test-fast:
	@test -x $(BIN)/ruff || { echo "no .venv yet: run 'make test' once first"; exit 1; }
	@$(BIN)/python -c 'import xdist' 2>/dev/null || { echo "pytest-xdist missing from .venv: run 'make install'"; exit 1; }
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -m "not slow and not backend" -x $(PYTEST_PARALLEL)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Benchmarks report every target as pass/miss and exit 0; bench-strict fails on a miss.
bench: install
	$(BIN)/python benchmarks/serve.py
	$(BIN)/python benchmarks/single_row_parts.py
	$(BIN)/python benchmarks/models_memory.py
	$(BIN)/python benchmarks/swaps.py
	$(BIN)/python benchmarks/console.py
	$(BIN)/python benchmarks/watch.py
	$(BIN)/python benchmarks/canary.py
	$(BIN)/python benchmarks/protocols.py
	$(BIN)/python benchmarks/grpc.py
	$(BIN)/python benchmarks/slow_clients.py
	$(BIN)/python benchmarks/guard.py
	$(BIN)/python benchmarks/cli.py
	$(BIN)/python benchmarks/boost.py
	$(BIN)/python benchmarks/batching.py
	$(BIN)/python benchmarks/intervals.py

bench-strict: install
	$(BIN)/python benchmarks/serve.py --strict
	$(BIN)/python benchmarks/models_memory.py
	$(BIN)/python benchmarks/swaps.py
	$(BIN)/python benchmarks/cli.py --strict
	$(BIN)/python benchmarks/intervals.py --strict

## Pictures of the console for the README (docs/images/), from a server it starts; needs /usr/bin/chromium.
screenshots: install
	$(BIN)/python scripts/screenshots.py

## The container image, built with buildah on a local Debian stand-in base (no Docker engine).
image:
	deploy/image/build.sh

## Build, then run the image with podman and check probes, a prediction, uid, HEALTHCHECK, SIGTERM.
image-test: install image
	deploy/image/test.sh

hooks: install
	printf '#!/bin/sh\nexec make --no-print-directory test-fast\n' > .git/hooks/pre-commit
	chmod +x .git/hooks/pre-commit
	@echo "pre-commit hook installed: runs ruff and the fast tests"

clean:
	rm -rf var .pytest_cache .ruff_cache
