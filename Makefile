# Two commands: `make run` opens the app, `make test` runs every check. Both create .venv first.
# `make test-fast` is the inner loop: the tests not marked slow (torchrun, ONNX, model zoos), no lint.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint screenshots bench peers clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# compat: a plain path in a .pth, no import-hook finder to load (~25 ms) before the app starts
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,deploy,openvino]' --config-settings editable_mode=compat
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/sepconv-tui

lint: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check sepconv_tui tests benchmarks examples scripts
	$(BIN)/ruff format --check sepconv_tui tests benchmarks examples scripts
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow"

screenshots: $(STAMP)
	$(BIN)/python scripts/export_screenshots.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_compare.py
	$(BIN)/python benchmarks/bench_app.py
	$(BIN)/python benchmarks/bench_latency.py

peers: $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,bench]' --config-settings editable_mode=compat
	$(BIN)/python benchmarks/peers.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
