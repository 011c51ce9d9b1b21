# Two commands do all set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Optional extras installed by both commands: the test tools, and the 16 massive asteroids
# (sb441-n16.bsp, ~650 MB) for the full N-body force model.
EXTRAS ?= test,asteroids

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sso demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/accuracy_horizons.py
	$(BIN)/python benchmarks/bench_ephemeris.py
	$(BIN)/python benchmarks/bench_propagation.py
	$(BIN)/python benchmarks/bench_cache.py
	$(BIN)/python benchmarks/bench_association.py
	$(BIN)/python benchmarks/bench_linking.py
	$(BIN)/python benchmarks/bench_scale.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache demo_out
