# The project's one script: `make demo` runs the main job, `make test` runs what CI runs.
# Both set everything up from scratch on a fresh machine and can be run again at will.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CARGO_DIR := rust

.PHONY: demo test setup build system-deps rust-test py-test bench clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

setup: $(VENV)/bin/activate  ## create .venv with maturin in it
	$(PY) -m pip install --quiet "maturin>=1.16,<2"

build: setup  ## build the Rust extension (release) into sim/ and install the dependencies
	rm -f sim/_core*.so
	VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH \
	  $(VENV)/bin/maturin develop --release --quiet --extras test

# The browser test (tests/outputs/test_report.py) drives Debian's chromium through chromedriver; install them
# only when missing, so the step costs nothing on a machine that has them.
system-deps:  ## install chromium and chromium-driver (Debian) for the browser test, if missing
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; \
	elif command -v sudo >/dev/null 2>&1; then \
	  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; \
	else \
	  echo "system-deps: /usr/bin/chromium is missing; install the Debian packages chromium and chromium-driver (needs root or sudo)" >&2; \
	  exit 1; \
	fi

demo: build  ## replay the shipped synthetic scenarios and print a summary
	$(PY) -m sim demo

rust-test:  ## cargo tests of the Rust workspace (the core compiles and tests without PyO3)
	cd $(CARGO_DIR) && cargo test --workspace --exclude sim-bindings --quiet

py-test: build system-deps  ## pytest
	$(PY) -m pytest

test: build system-deps rust-test  ## everything CI runs
	$(PY) -m pytest

bench: build  ## benchmarks (they report numbers; they do not pass or fail on speed)
	cd $(CARGO_DIR) && cargo bench -p sim-backtest --bench engine && cargo bench -p sim-features --bench features
	$(PY) -m pytest benches --benchmark-enable -s

clean:
	rm -rf $(VENV) $(CARGO_DIR)/target sim/_core*.so
