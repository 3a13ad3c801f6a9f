# The two commands a new user needs are `make demo` and `make test`; both install what they need.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install test demo bench lint clean

install:
	@bash tools/install.sh

test:
	@ASR_TEST_DEPS=1 bash tools/install.sh
	$(PY) -m pytest $(PYTEST_ARGS)

# The default recipe end to end (about 30 minutes on 2 CPU cores); a second run reuses finished stages.
demo: install
	@bash recipes/synthetic/run.sh

bench: install
	@$(PY) -m pip install -q --disable-pip-version-check -e ".[dev,bench]" 2> >(grep -v "is ignored" >&2)
	@set -e; for b in bench/[!_]*.py; do echo "== $$b"; $(PY) $$b; done

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
