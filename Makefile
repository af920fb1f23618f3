# trialhub: `make serve` runs the app on SQLite, `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
# the reliability suite (crashes, the lifecycle state machine) runs apart: `make reliability`
PYTEST_ARGS ?= -n auto --durations=10 -m "not reliability"
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: serve sandbox test reliability lint typecheck unit pytest bench bench-flat clean install vendor

$(BIN)/python:
	@echo "Creating the virtual environment in $(VENV)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# pip shows what it fetches and builds: the first run takes about two minutes
$(STAMP): $(BIN)/python pyproject.toml
	@echo "Installing trialhub and its dependencies into $(VENV) (about two minutes the first time)..."
	$(BIN)/python -m pip install --progress-bar on -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)  ## run the API and pages on an embedded SQLite database, with demo data
	TRIALHUB_WEBHOOK_ALLOW_LOOPBACK=true $(BIN)/trialhub serve --demo --port $(PORT)

# the same database as `make serve` and every trialhub command (TRIALHUB_DATABASE_URL, else
# var/trialhub.db), so that `trialhub clock advance 7d` in another terminal moves this clock
sandbox: $(STAMP)  ## the same, on a sandbox clock you can move (trialhub clock advance 7d)
	TRIALHUB_WEBHOOK_ALLOW_LOOPBACK=true $(BIN)/trialhub serve --demo --sandbox --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# with bytecode caching on (some machines set PYTHONDONTWRITEBYTECODE=1), the test processes,
# the servers they start and the next run share compiled modules instead of compiling each
pytest: $(STAMP)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q $(PYTEST_ARGS)

# every check CI runs: lint and typecheck beside the tests (they mostly wait on one core
# while pytest-xdist fills both), each one's output kept together; any failure fails `make`
test: $(STAMP)
	$(MAKE) --no-print-directory -j3 --output-sync=target lint typecheck pytest

# issue 11: the crash test on PostgreSQL (servers and workers SIGKILLed at random points), the
# other tests that kill real processes, and the hypothesis state machine over the trial
# lifecycle, each bounded to about a minute;
# CI runs it after `make test` (TRIALHUB_FUZZ=thorough for many more examples)
reliability: $(STAMP)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -n 2 --durations=5 -m reliability

bench: $(STAMP)  ## issue 11's goals, one table (TRIALHUB_BENCH_SIZE=smoke for a small run)
	$(BIN)/python benchmarks/run.py

bench-flat: $(STAMP)  ## N vs 10 x N: lists, a worker pass, a start and the portal's pages stay flat
	$(BIN)/python benchmarks/flat.py

# htmx, the portal's one script: the unmodified release from the npm registry, checked against
# the registry's checksum (and SHA256SUMS); `make vendor HTMX_VERSION=2.0.x` moves to another
vendor:
	sh scripts/vendor_htmx.sh $(HTMX_VERSION)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
