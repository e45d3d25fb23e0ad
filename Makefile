# Two commands on a fresh machine: `make lab` (the main job) and `make test`.
# Each creates .venv if it is missing and installs into it first: `make lab` the project
# alone (what the lab needs), `make test` the project with its dev and serve extras.
# `make notebook` adds Jupyter (the notebooks extra) and opens notebooks/.
# `make chromium` installs the browser that the playground's browser test drives (the
# test skips, saying so, without it).
#
# torch comes first, and its build is chosen here, in one printed line:
#   TORCH        the requirement (default: the release CI tests with; TORCH=torch for the newest)
#   TORCH_INDEX  the index to take it from. Unset: on a machine without an NVIDIA GPU
#                (no working nvidia-smi) PyTorch's CPU wheel index, TORCH_CPU_INDEX; where
#                that index cannot be reached, pip's default index, which has CPU wheels
#                only for macOS and Windows (on Linux it is a multi-GB CUDA build, unless a
#                CPU wheel of TORCH is on hand, as in pip's find-links on the CI machines).
#                With an NVIDIA GPU: the default index (a CUDA build). Given: that index.
#   e.g.  make lab TORCH_INDEX=https://download.pytorch.org/whl/cu126
# A torch already in .venv is kept; `make clean` starts over.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet
STAMP := $(VENV)/.wordgen-installed
DEV_STAMP := $(VENV)/.wordgen-dev-installed
NOTEBOOK_STAMP := $(VENV)/.wordgen-notebooks-installed

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Jupyter refuses to start as root unless told to; root is the usual user in a container.
JUPYTER_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: setup lab test notebook clean chromium

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	@# One line says which torch and from where; after the install the build is checked,
	@# and a CUDA build on a machine without a GPU is pointed out (-W ignore: torch warns
	@# that numpy, installed with the project next, is not there yet).
	@if $(BIN)/python -c "import torch" 2>/dev/null; then \
	  echo "torch: keeping torch $$($(BIN)/python -c 'import torch; print(torch.__version__)') already in $(VENV)"; \
	  exit 0; \
	fi; \
	set -e; gpu=no; nvidia-smi >/dev/null 2>&1 && gpu=yes; \
	if [ -n "$(TORCH_INDEX)" ]; then \
	  echo "torch: $(TORCH) from $(TORCH_INDEX) (TORCH_INDEX)"; \
	  $(PIP) --index-url "$(TORCH_INDEX)" "$(TORCH)"; \
	elif [ $$gpu = yes ]; then \
	  echo "torch: an NVIDIA GPU answers nvidia-smi: $(TORCH) from pip's default index (a CUDA build)"; \
	  $(PIP) "$(TORCH)"; \
	elif $(BIN)/python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=15)" \
	     "$(TORCH_CPU_INDEX)/torch/" >/dev/null 2>&1; then \
	  echo "torch: no NVIDIA GPU (nvidia-smi missing or failing): $(TORCH), CPU build, from $(TORCH_CPU_INDEX)"; \
	  $(PIP) --index-url "$(TORCH_CPU_INDEX)" "$(TORCH)"; \
	else \
	  echo "torch: no NVIDIA GPU, and $(TORCH_CPU_INDEX) did not answer: $(TORCH) from pip's default index" \
	       "(a CPU build only if one is on hand; the build is checked below)"; \
	  $(PIP) "$(TORCH)"; \
	fi; \
	$(BIN)/python -W ignore -c "import torch; cuda = torch.version.cuda; \
	  print(f'torch: installed {torch.__version__}, ' + (f'a CUDA {cuda} build' if cuda else 'a CPU build'))"; \
	if [ $$gpu = no ] && $(BIN)/python -W ignore -c "import sys, torch; sys.exit(torch.version.cuda is None)"; then \
	  echo "torch: warning: a CUDA build on a machine without an NVIDIA GPU: its NVIDIA libraries take" \
	       "gigabytes and go unused; make clean, then TORCH_INDEX=$(TORCH_CPU_INDEX) or another CPU wheel index"; \
	fi
	$(PIP) -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(PIP) -e ".[dev,serve]"
	touch $(DEV_STAMP)

$(NOTEBOOK_STAMP): $(STAMP)
	$(PIP) -e ".[notebooks]"
	touch $(NOTEBOOK_STAMP)

# The playground's browser test drives the system's Chromium through Playwright
# (Playwright's own browser download is never used). Quick when it is installed.
chromium:
	command -v chromium >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

lab: $(STAMP)
	$(BIN)/wordgen lab

# PYTEST_ARGS: extra pytest arguments, e.g. PYTEST_ARGS="-p randomly" for a shuffled order (the seed is printed).
PYTEST_ARGS ?=
test: $(DEV_STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

notebook: $(NOTEBOOK_STAMP)
	$(BIN)/jupyter lab $(JUPYTER_ROOT) notebooks/

clean:
	rm -rf $(VENV) runs .pytest_cache
