# Two commands on a fresh machine: `make lab` (the main job) and `make test`.
# Each creates .venv if it is missing and installs the project into it first.
#
# TORCH is the torch requirement installed before the project. Left as `torch`,
# pip picks the build that fits this machine; CI pins it (see .ci/run), e.g.
#   make test TORCH=torch==2.13.0
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch
BIN := $(VENV)/bin
STAMP := $(VENV)/.wordgen-installed

.PHONY: setup lab test clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/wordgen lab

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) runs .pytest_cache
