# sipas-bot: `make run` shows the product on the embedded SQLite default, `make test` checks everything.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: run test lint install

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: $(BIN)/.installed
	$(BIN)/sipas demo

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mkdocs build --strict --site-dir site

test: $(BIN)/.installed lint
	scripts/ensure-services
	$(BIN)/pytest -n auto  # one worker per core: the suite is mostly CPU (14 → 9.5 minutes on 2 cores)
