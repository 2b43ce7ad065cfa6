# The two set-up commands: `make run` and `make test`. Both create .venv and install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install browser run test bench lint schema clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24" "setuptools>=77" wheel
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/adpipe up

# The studio's browser tests drive Debian's chromium through its chromedriver; a browser is never
# downloaded at run time. Installed here with apt-get when missing (as root); otherwise stop and say.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then \
	  exit 0; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium and chromium-driver for the studio's browser tests"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  { apt-get update -q && apt-get install -y -q chromium chromium-driver; } || { \
	    echo "make test: apt-get could not install chromium and chromium-driver" >&2; exit 1; }; \
	else \
	  echo "make test needs chromium and chromium-driver for the studio's browser tests;" >&2; \
	  echo "install them (sudo apt-get install chromium chromium-driver) or run make test as root" >&2; \
	  exit 1; \
	fi

test: install browser
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/eventstore.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/render.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/cluster.py
	$(BIN)/python bench/voice.py
	$(BIN)/python bench/media.py

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
