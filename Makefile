# Gradline — `make run` and `make test` are the two commands (README.md).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP_QUIET := --quiet --disable-pip-version-check
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: install run test lint format bench-setup bench worker beat test-browser-deps clean

# The SDK wheel the server offers at /sdk/ (apps/sdkindex), rebuilt when the SDK changes.
SDK_DIST := $(or $(SDK_DIST_DIR),$(or $(GRADLINE_VAR_DIR),var)/sdk-dist)
SDK_STAMP := $(SDK_DIST)/.built

install: $(STAMP) $(NODE_STAMP) $(SDK_STAMP)

$(SDK_STAMP): $(STAMP) sdk/pyproject.toml sdk/README.md $(shell find sdk/gradline -name '*.py')
	@$(PY) -m apps.sdkindex.build --out $(SDK_DIST)
	@touch $(SDK_STAMP)

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

# torch-based W&B integrations (tests/sdk/test_integrations_torch.py): a CPU torch only
# from a wheel already on the machine (TORCH_WHEELS, +cpu pinned, so pip can never fetch
# a CUDA build of several GB), then Lightning, transformers, accelerate from PyPI.
# Not in requirements/*.txt; without the wheel those tests skip.
TORCH_WHEELS ?= /opt/wheels
TORCH_PINS := lightning==2.6.6 transformers==5.23.0 accelerate==1.15.0
.PHONY: test-torch-deps
test-torch-deps: install
	@if $(PY) -c "import torch, lightning, transformers, accelerate" 2>/dev/null; then :; \
	elif ls $(TORCH_WHEELS)/torch-2.13.0+cpu-*.whl >/dev/null 2>&1; then \
	  echo "Installing CPU torch from $(TORCH_WHEELS) and $(TORCH_PINS)…"; \
	  $(PY) -m pip install $(PIP_QUIET) --find-links $(TORCH_WHEELS) "torch==2.13.0+cpu" $(TORCH_PINS) \
	    || echo "torch integrations could not be installed; their tests will be skipped"; \
	else echo "no CPU torch wheel in $(TORCH_WHEELS); the torch integration tests will be skipped"; fi

# The suite in TEST_WORKERS processes (pytest-xdist), a test module per process at a time:
# most tests wait on servers, browsers and workers, so three keep two cores busy.
# Modules are handed out in tests/conftest.py's order, longest first
# (--no-loadscope-reorder: by default xdist reorders them by test count, which sent the
# one-test, 100-second fuzz module out near the end). TEST_WORKERS=0: one process (pdb, -s).
TEST_WORKERS ?= 3
XDIST = $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)

test: install test-browser-deps test-torch-deps
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

# The suite on a busy box: `make test` LOAD_RUNS times in a row while LOAD_PROCS CPU-bound
# processes keep the cores busy. The burners are stopped when the target ends, passing or
# not; LOAD_SECONDS only caps them should that stop be missed (a pass under load takes
# 20-30 minutes, so three need more than an hour). PYTEST_ARGS narrows it as for `test`.
LOAD_RUNS ?= 3
LOAD_PROCS ?= 2
LOAD_SECONDS ?= 10800
.PHONY: test-under-load
test-under-load: install test-browser-deps test-torch-deps
	@burners=(); \
	for _ in $$(seq $(LOAD_PROCS)); do timeout $(LOAD_SECONDS) $(PY) -c "while True: pass" & burners+=($$!); done; \
	trap 'kill $${burners[*]} 2>/dev/null' EXIT; \
	for run in $$(seq $(LOAD_RUNS)); do \
	  echo "== test-under-load: pass $$run of $(LOAD_RUNS), $(LOAD_PROCS) CPU burners"; \
	  start=$$SECONDS; \
	  $(PY) -m pytest $(XDIST) $(PYTEST_ARGS) || exit 1; \
	  echo "== pass $$run took $$((SECONDS - start)) s"; \
	done

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

# Sweep-suggestion benchmark (docs/benchmarks.md, "Sweep engine"): the shared harness
# ../shared/bench/hpo runs our engines beside random, Optuna TPE and W&B's own GP, in a
# git-ignored venv of its own (`sweeps` pins numpy<2). HPO_SEEDS=3 for a quick check.
HPO_VENV := .venv-hpo
HPO_BENCH ?= ../shared/bench/hpo
HPO_SEEDS ?= 20
HPO_OPTIMIZERS ?= random,optuna_tpe,wandb_bayes,gradline.sweep_engines.random:suggest,gradline.sweep_engines.bayes:suggest
.PHONY: bench-hpo-setup bench-hpo
bench-hpo-setup:
	@test -x $(HPO_VENV)/bin/python || $(PYTHON) -m venv $(HPO_VENV)
	@$(HPO_VENV)/bin/python -m pip install $(PIP_QUIET) sweeps==0.3.0 optuna==5.0.0 -e sdk 2> >(grep -v "is ignored: it is neither" >&2)

bench-hpo: bench-hpo-setup
	@mkdir -p bench/results
	PY=$(HPO_VENV)/bin/python $(HPO_BENCH)/run.sh --optimizers $(HPO_OPTIMIZERS) --seeds $(HPO_SEEDS) --out bench/results/hpo $(HPO_ARGS)

# API fuzzing (tests/fuzz/run.py, docs/operations.md "Fuzzing"): schemathesis against a
# live server with two teams; fails on any 5xx or schema violation. FUZZ_SECONDS=0: run
# FUZZ_EXAMPLES cases per operation and phase; otherwise fuzz for that long.
FUZZ_EXAMPLES ?= 50
FUZZ_SECONDS ?= 0
.PHONY: fuzz
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SECONDS=$(FUZZ_SECONDS) $(PY) -m tests.fuzz.run

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .ruff_cache
