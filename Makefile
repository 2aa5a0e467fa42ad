# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test bench accuracy clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

test: install
	$(BIN)/pytest -q

accuracy: install
	@for f in seed/*.txt; do $(BIN)/python -m app.extraction.accuracy $$f tests/extraction/gold/seeds.json; echo; done

bench: install
	$(BIN)/python bench/extract_seeds.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
