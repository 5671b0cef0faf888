# marsad — the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_DB ?= demo.db
DEMO_PORT ?= 8000

.PHONY: install browser postgres demo test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian chromium, chromium-driver and an Arabic font for the browser tests, installed when absent.
browser:
	@sh scripts/install_browser.sh

# Debian's PostgreSQL server binaries for the PostgreSQL tests (each run starts its own throwaway
# cluster in a temporary folder), installed when absent.
postgres:
	@sh scripts/install_postgres.sh

# Ingests the bundled sample, then serves the reader on 127.0.0.1:$(DEMO_PORT) until Ctrl-C.
demo: install
	$(BIN)/marsad --db $(DEMO_DB) demo --port $(DEMO_PORT)

test: install browser postgres
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python benchmarks/bench_ingest.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
