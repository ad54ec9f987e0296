# Quick start: `make demo` (set up, ingest the sample articles, ask a question, score our sample questions)
# and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LINT_SITE := var/lint-site

.PHONY: install demo test test-fast lint bench train-reader clean

install: $(STAMP)

# torch==2.13.0 first: it is the CPU build on this machine's disk; an open requirement may pull CUDA.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet 'setuptools>=69'
	$(BIN)/python -m pip install --quiet --no-build-isolation -e '.[dev,voice]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/newsbot ingest examples/articles
	$(BIN)/newsbot stats
	$(BIN)/newsbot ask "Who controls Derna?"
	$(BIN)/newsbot eval examples/questions.jsonl --baseline

# Everything: fast unit tests and the end-to-end ones (real model, Chroma, python-telegram-bot over HTTP).
test: $(STAMP)
	$(BIN)/python -m pytest

# Unit tests only: no model is loaded (a small deterministic encoder stands in for it).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not e2e"

# Style, then the import contracts of pyproject.toml, checked on the package as it installs (the repository's
# top-level folders become subpackages of newsbot only there).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	rm -rf $(LINT_SITE)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --target $(LINT_SITE) .
	cd $(LINT_SITE) && PYTHONPATH=. $(CURDIR)/$(BIN)/lint-imports $(CURDIR)/pyproject.toml

# Retrain the answer reader (qa/weights/reader-v1.*) from ../shared/data: the examples (minutes), then the model
# (about an hour on two cores; about a minute on a GPU with --device cuda); never in CI.
train-reader: $(STAMP)
	$(BIN)/python training/reader_data.py --data ../shared/data --out var/reader-data.json.gz
	$(BIN)/python training/train_reader.py --examples var/reader-data.json.gz --epochs 2 --lr 7e-5 --name reader-v1

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest_bench.py

clean:
	rm -rf $(VENV) var .pytest_cache build
