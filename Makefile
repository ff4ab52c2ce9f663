# Gradline — `make run` and `make test` are the two commands (README.md).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP_QUIET := --quiet --disable-pip-version-check
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: install run test lint format bench-setup bench worker beat test-browser-deps clean

install: $(STAMP) $(NODE_STAMP)

$(STAMP): requirements/base.txt requirements/dev.txt sdk/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing Python requirements into $(VENV)…"
	@$(PY) -m pip install $(PIP_QUIET) -r requirements/dev.txt -e sdk 2> >(grep -v "is ignored: it is neither" >&2)
	@touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	@echo "Installing front-end packages (npm ci)…"
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

run: install
	$(PY) -m config.serve

worker: install
	$(VENV)/bin/celery -A config worker --loglevel=info

beat: install
	$(VENV)/bin/celery -A config beat --loglevel=info

# Browser tests drive Debian's chromium; install it when missing and we may.
test-browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "Installing Debian chromium for browser tests…"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "chromium could not be installed; browser tests will be skipped"; \
	  else echo "chromium missing (apt-get install -y chromium); browser tests will be skipped"; fi; \
	fi

test: install test-browser-deps
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Peers for benchmarks (MLflow, wandb, Optuna) live in their own git-ignored venv.
PEERS := .venv-peers
bench-setup: install
	@test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	@$(PEERS)/bin/python -m pip install $(PIP_QUIET) -r bench/requirements-peers.txt 2> >(grep -v "is ignored: it is neither" >&2)

# All benchmarks with their peers, side by side (docs/benchmarks.md); ~12 minutes.
bench: bench-setup
	bench/run_all.sh

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .ruff_cache
