# lingxi: `make demo` and `make test` are all a fresh machine needs (Debian, Python 3.11).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_HOME ?= $(CURDIR)/.demo-home
LX     := $(BIN)/lingxi --home $(DEMO_HOME)

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@echo "==> creating virtualenv in $(VENV) with $(PYTHON)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --upgrade --quiet pip
	@echo "==> installing lingxi and its dependencies (first run only)"
	@$(BIN)/python -m pip install --progress-bar on -e '.[dev]'
	@touch $(STAMP)

demo: setup
	@echo "==> ingesting the bundled demo corpus into $(DEMO_HOME)"
	@$(LX) ingest demo/corpus
	@echo
	@$(LX) stats

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check lingxi tests bench
	$(BIN)/ruff format --check lingxi tests bench
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/ingest_throughput.py --notes 10000

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache
