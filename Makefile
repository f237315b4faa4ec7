# repool — the two entry points a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install run test bench clean

$(BIN)/repool: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/repool

run: install
	$(BIN)/repool run

test: install
	$(BIN)/python -m tests.browser_setup || true
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/bench_generate.py
	$(BIN)/python bench/bench_pipeline.py

clean:
	rm -rf $(VENV) data/repool.duckdb* data/results
