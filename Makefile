# Two entry points, each doing its own install into .venv:
#   make demo   the main job on the bundled default example (offline, CPU)
#   make test   the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# The dev/test install pins torch to the CPU build on this machine's disk.
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "torch==2.13.0" -e ".[dev]"
	touch $@ $(VENV)/.installed-run

demo: $(VENV)/.installed-run
	$(BIN)/tether compare --base examples/toy/base.jsonl.gz --rl examples/toy/rl.jsonl.gz

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/analysis.py

clean:
	rm -rf $(VENV)
