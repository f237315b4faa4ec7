# repool — the two entry points a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install run test bench bench-10m clean

$(BIN)/repool: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/repool

run: install
	$(BIN)/repool run

# The suite runs in one worker process more than there are cores (at most 4; pytest-xdist), a test file
# per worker at a time (--dist loadfile: a module's fixtures, e.g. a corpus's published base, are built
# once). xdist hands out the files with the most tests first. Keeping the collection order instead
# (--no-loadscope-reorder, longest files first) made no difference that this machine's swings would
# show: fresh clones took 12 min 43 s and 14 min 10 s with it, 10 min 4 s and 13 min 20 s without.
# The end-to-end tests wait on servers and subprocesses: with 2 workers on 2 cores the cores were 10%
# idle, and 3 workers took 10 min 31 s where 2 took 11 min 51 s (same slow period).
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(max(1, min(4, len(os.sched_getaffinity(0)) + 1)))")

test: install
	$(BIN)/python -m tests.browser_setup || true
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# Figures and ratios, never pass/fail (bench/README.md): the bundled data against a running Prefect
# server beside bench/bare.py, then 1,000,000 patients in 100 studies (generated once, outside the
# repository, under ~/.cache/repool-bench) against the DuckDB floor and issue 10's baseline.
bench: install
	$(BIN)/python bench/bench_server.py
	$(BIN)/python bench/bench_scale.py --studies 100 --patients-per-study 10000

# 10,000,000 patients in 1,000 studies: generating them takes about half an hour, once.
bench-10m: install
	$(BIN)/python bench/bench_scale.py --studies 1000 --patients-per-study 10000 --skip-floor

clean:
	rm -rf $(VENV) data/repool.duckdb* data/results
