# Quick start: `make demo` (set up, ingest the sample articles, ask a question, score our sample questions)
# and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test lint bench clean

install: $(STAMP)

# torch==2.13.0 first: it is the CPU build on this machine's disk; an open requirement may pull CUDA.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/newsbot ingest examples/articles
	$(BIN)/newsbot stats
	$(BIN)/newsbot ask "Who controls Derna?"
	$(BIN)/newsbot eval examples/questions.jsonl --baseline

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest_bench.py

clean:
	rm -rf $(VENV) var .pytest_cache
