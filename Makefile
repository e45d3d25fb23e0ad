# Two commands on a fresh machine: `make lab` (the main job) and `make test`.
# Each creates .venv if it is missing and installs the project into it first
# (with the dev and serve extras). `make chromium` installs the browser that the
# playground's browser test drives (the test skips, saying so, without it).
#
# TORCH is the torch requirement installed before the project. Left as `torch`,
# pip picks the build that fits this machine; CI pins it (see .ci/run), e.g.
#   make test TORCH=torch==2.13.0
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch
BIN := $(VENV)/bin
STAMP := $(VENV)/.wordgen-installed

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup lab test clean chromium

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev,serve]"
	touch $(STAMP)

# The playground's browser test drives the system's Chromium through Playwright
# (Playwright's own browser download is never used). Quick when it is installed.
chromium:
	command -v chromium >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

lab: $(STAMP)
	$(BIN)/wordgen lab

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) runs .pytest_cache
