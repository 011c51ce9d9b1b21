# Two commands do all set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Optional extras installed by both commands: the test tools, and the 16 massive asteroids
# (sb441-n16.bsp, ~650 MB) for the full N-body force model.
EXTRAS ?= test,asteroids

# The documentation's tools (Sphinx, numpydoc, myst-nb), installed into the same environment on
# top of the extras above, so that the notebooks run where the tests run them.
DOCS_STAMP := $(VENV)/.installed-docs

# Benchmark-only environment with the peers run side by side (never runtime dependencies):
# the C++ HelioLinC3D's Python package, which needs NumPy 1 (and a pyarrow built for it).
PEERS := .venv-peers
PEERS_STAMP := $(PEERS)/.installed

.PHONY: demo test docs wheel-check bench bench-linking bench-propagation-peer clean

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

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $(DOCS_STAMP)

# HTML into docs/_build/html (open docs/_build/html/index.html); warnings are errors. Every page
# is read again (-E), so that a warning shows on every run, not only on the run that first met
# it; the notebooks are executed once and cached in docs/_build/.jupyter_cache until their code
# changes (SSO_DOCS_EXECUTE=force re-executes them).
docs: $(DOCS_STAMP)
	$(BIN)/sphinx-build -E -W --keep-going -b html docs docs/_build/html

# Benchmark-only environment of ASSIST (REBOUND's ephemeris-quality integrator), run side by side
# with the N-body integrator by bench_propagation.py --peer assist; never a runtime dependency.
ASSIST_VENV := .venv-assist
ASSIST_STAMP := $(ASSIST_VENV)/.installed

$(ASSIST_STAMP):
	$(PYTHON) -m venv $(ASSIST_VENV)
	$(ASSIST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(ASSIST_VENV)/bin/python -m pip install --quiet assist numpy
	touch $(ASSIST_STAMP)

bench-propagation-peer: $(STAMP) $(ASSIST_STAMP)
	$(BIN)/python benchmarks/bench_propagation.py --peer assist

# The distribution as users get it (.ci/wheel-check): sdist and wheel built, the wheel installed
# in a fresh environment, the command line and the tests that need no source tree run against it.
wheel-check: $(STAMP)
	PYTHON=$(PYTHON) .ci/wheel-check

$(PEERS_STAMP): pyproject.toml
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS)/bin/python -m pip install --quiet -e . "heliolinx==0.0.2" "numpy<2" "pyarrow<22"
	touch $(PEERS_STAMP)

bench-linking: $(PEERS_STAMP)
	$(PEERS)/bin/python benchmarks/bench_linking.py

bench: $(STAMP)
	$(BIN)/python benchmarks/accuracy_horizons.py
	$(BIN)/python benchmarks/bench_ephemeris.py
	$(BIN)/python benchmarks/bench_propagation.py
	$(BIN)/python benchmarks/bench_cache.py
	$(BIN)/python benchmarks/bench_association.py
	$(BIN)/python benchmarks/bench_trails.py
	$(BIN)/python benchmarks/bench_orbit_determination.py
	$(MAKE) bench-linking
	$(MAKE) bench-propagation-peer
	$(BIN)/python benchmarks/bench_scale.py

clean:
	rm -rf $(VENV) $(PEERS) $(ASSIST_VENV) build dist *.egg-info .pytest_cache .ruff_cache demo_out \
		docs/_build docs/_notebooks docs/api/generated
