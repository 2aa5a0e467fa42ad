# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
SCALE ?= M

.PHONY: install run test test-sqlite test-postgresql postgresql bench accuracy clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# Serves http://127.0.0.1:8000 on the embedded SQLite database (data/duban.db): applies the
# migrations and imports the documents in seed/ on first start.
run: install
	$(BIN)/python -m app.serve

# The whole suite, once on SQLite and once on a real PostgreSQL the harness starts itself.
test: install postgresql test-sqlite test-postgresql

test-sqlite: install
	DUBAN_TEST_DATABASE=sqlite $(BIN)/pytest -q

test-postgresql: install postgresql
	DUBAN_TEST_DATABASE=postgresql $(BIN)/pytest -q

# The test cluster needs PostgreSQL's server binaries (initdb, pg_ctl); Debian ships them in
# its postgresql package, off PATH.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
	  { echo "installing Debian's postgresql package for the test cluster"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

accuracy: install
	@for f in seed/*.txt; do $(BIN)/python -m app.extraction.accuracy $$f tests/extraction/gold/seeds.json; echo; done

# Duban beside the raw-asyncpg baseline on a generated province (S 1k, M 100k, L 1M tasks): starts
# its own PostgreSQL, loads the scale, drives both with wrk and prints the table (bench/run.py).
bench: install postgresql
	$(BIN)/python -m bench.run --scale $(SCALE) --ledger

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
