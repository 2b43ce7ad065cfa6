# The two set-up commands: `make run` and `make test`. Both create .venv and install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test bench lint schema clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24" "setuptools>=77" wheel
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/adpipe up

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/eventstore.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/render.py
	$(BIN)/python bench/cluster.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	# mypy cannot follow the package-dir mapping of an editable install: type-check a symlink tree
	# laid out like the wheel (adpipe/{events,projections,services} inside adpipe/).
	rm -rf build/typecheck && mkdir -p build/typecheck
	cp -rs $(CURDIR)/src/adpipe build/typecheck/adpipe
	ln -s $(CURDIR)/events $(CURDIR)/projections $(CURDIR)/services build/typecheck/adpipe/
	cd build/typecheck && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml -p adpipe

schema: install
	$(BIN)/adpipe events schema

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
