# Two commands do all the set-up on a fresh machine:
#   make run   – install and serve on :8000 (first run: words at once, semantic search built in the background)
#   make test  – install what the tests need (incl. Debian's chromium for the browser tests), run them
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-test browser bench eval

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	# torch is pinned (==2.13.0, CPU build) in the st extra; unpinned it would pull a CUDA build.
	$(BIN)/pip install --quiet -e ".[test,st-test,postgres]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test browser node_modules/axe-core/axe.min.js

# axe-core (npm registry) is injected into pages by the accessibility tests.
node_modules/axe-core/axe.min.js: package.json
	npm install --no-audit --no-fund --silent
	touch $@

# Debian's chromium drives the browser tests: Playwright never downloads a browser of its own here.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; }

run: install
	$(BIN)/kunskap serve --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/python -m pytest -q -ra

bench: install
	$(BIN)/python bench/pipeline.py

eval: install
	$(BIN)/kunskap eval --set eval/climate
	$(BIN)/kunskap eval --set ../shared/eval/swefaq
	$(BIN)/kunskap eval --set ../shared/eval/swequad_mc
