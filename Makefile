# fsivr — developer entry points. `make run` and `make test` work on a fresh Debian 12 machine.
#
# Everything is installed into ./.venv (Python 3.11). Re-running `make install` is cheap: the
# Python side is redone only when setup.cfg / pyproject.toml change (stamp file in .venv), and the
# system tools are only checked with `command -v`.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.11 for the venv: python3.11 if on PATH, else python3 (Debian 12's python3 is 3.11).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.fsivr-install.stamp
BENCH_STAMP := $(VENV)/.fsivr-bench.stamp

# Database for `run` / `migrate` / `deploy-conf` (not exported to the tests: they make their own).
FSIVR_DATABASE_URL ?= sqlite:///var/fsivr.sqlite3
# Where `deploy-conf` writes the rendered FreeSWITCH XML.
FS_CONF_DIR ?= var/freeswitch-conf
# Demo bundle loaded by `make run`.
DEMO ?= examples/demo.yaml
# SIP realm of `run` / `deploy-conf` (SIP passwords are kept as their a1-hash for it; README "SIP
# passwords and PINs"), unless FSIVR_SIP_REALM is set: what a stock FreeSWITCH here calls
# $${domain} (vars.xml: $${local_ip_v4}), found as switch_utils.c switch_find_local_ip does — the
# source address of a UDP socket connected to 82.45.148.209 (nothing is sent), else 127.0.0.1.
FSIVR_SIP_REALM ?= $(shell python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); \
	s.connect(("82.45.148.209", 9)); print(s.getsockname()[0])' 2>/dev/null || echo 127.0.0.1)
# Extra arguments for pytest, e.g. `make test PYTEST_ARGS="-k store -x"`.
PYTEST_ARGS ?=
# Parallel pytest processes (pytest-xdist); 0 runs the tests in pytest's own process. Four on the
# 2-core CI machine: most of the suite's time is waiting (real seconds, child processes), not CPU.
PYTEST_WORKERS ?= 4

# command=Debian package, for the tools the product shells out to (prompts/TTS, fax, graphs).
SYSTEM_TOOLS := sox=sox espeak-ng=espeak-ng gs=ghostscript dot=graphviz tiff2pdf=libtiff-tools

.PHONY: help install system-tools run test lint bench bench-scale deploy-conf migrate clean distclean

help:
	@echo "fsivr make targets:"
	@echo "  install      create .venv (Python 3.11), pip install -e '.[test]', install missing system tools"
	@echo "  run          install, migrate, import $(DEMO), run 'fsivr serve' on $(FSIVR_DATABASE_URL)"
	@echo "  test         install, ruff check, pytest (PYTEST_ARGS=... to pass options)"
	@echo "  lint         ruff check"
	@echo "  bench        install the bench extra and run 'python -m bench' (call path, ~3 min)"
	@echo "  bench-scale  'make bench', then the hosted-PBX directory, queue, outbox and campaign pace figures (~11 min more)"
	@echo "  migrate      fsivr db upgrade on FSIVR_DATABASE_URL"
	@echo "  deploy-conf  render FreeSWITCH XML into FS_CONF_DIR ($(FS_CONF_DIR))"
	@echo "  clean        remove caches, build output and var/;  distclean: also .venv"

install: system-tools $(STAMP)

# Missing tools are installed from Debian's packages when we can (root + apt-get), otherwise we say
# which packages to install and go on: only the tests/features that use a tool need it. sox reads
# MP3 uploads (fsivr prompts add) through its separately packaged mp3 format module.
system-tools:
	@missing=""; \
	for pair in $(SYSTEM_TOOLS); do \
	  command -v "$${pair%%=*}" >/dev/null 2>&1 || missing="$$missing $${pair#*=}"; \
	done; \
	if ! command -v sox >/dev/null 2>&1 || ! sox --help-format mp3 2>/dev/null | grep -q '^Description'; then \
	  missing="$$missing libsox-fmt-mp3"; \
	fi; \
	if [ ! -x "$(BIN)/python" ] && [ -n "$(PYTHON)" ] \
	   && ! "$(PYTHON)" -c 'import ensurepip, venv' >/dev/null 2>&1; then \
	  missing="$$missing python3-venv"; \
	fi; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "fsivr: installing missing Debian packages:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    { apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } \
	      || echo "fsivr: WARNING: could not install:$$missing — install them by hand" >&2; \
	  else \
	    echo "fsivr: WARNING: missing system packages:$$missing" >&2; \
	    echo "fsivr:          install them with: sudo apt-get install$$missing (continuing without)" >&2; \
	  fi; \
	fi

$(BIN)/python: | system-tools
	@if [ -z "$(PYTHON)" ]; then echo "fsivr: python3.11 (or python3) not found on PATH" >&2; exit 1; fi
	@"$(PYTHON)" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
	  || { echo "fsivr: $(PYTHON) is not Python 3.11; run 'make PYTHON=/path/to/python3.11 ...'" >&2; exit 1; }
	@echo "fsivr: creating $(VENV) with $(PYTHON)"
	@"$(PYTHON)" -m venv $(VENV)

$(STAMP): setup.cfg pyproject.toml | $(BIN)/python
	@echo "fsivr: pip install -e '.[test]' into $(VENV)"
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

run: install
	@mkdir -p var
	FSIVR_DATABASE_URL='$(FSIVR_DATABASE_URL)' $(BIN)/fsivr db upgrade
	FSIVR_DATABASE_URL='$(FSIVR_DATABASE_URL)' FSIVR_SIP_REALM='$(FSIVR_SIP_REALM)' $(BIN)/fsivr import $(DEMO)
	exec env FSIVR_DATABASE_URL='$(FSIVR_DATABASE_URL)' $(BIN)/fsivr serve

# ruff first and pytest last, so that pytest's summary line closes the output; both always run.
# fsivr's bytecode is compiled once up front: where PYTHONDONTWRITEBYTECODE is set (it is on the CI
# machines) every `fsivr` child process of the tests would otherwise compile its modules from source
# again (~0.15 s each); compileall writes the .pyc files regardless and imports then read them.
test: install
	@$(BIN)/python -m compileall -q -j 0 fsivr bench >/dev/null || true
	@rc=0; \
	$(BIN)/ruff check --output-format=concise . || rc=1; \
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS) || rc=$$?; \
	exit $$rc

lint: install
	$(BIN)/ruff check .

$(BENCH_STAMP): setup.cfg pyproject.toml $(STAMP)
	@echo "fsivr: pip install -e '.[bench]' into $(VENV)"
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[bench]'
	@touch $@

bench: install $(BENCH_STAMP)
	$(BIN)/python -m bench

# The call-path figures first (so every run keeps them, and a regression shows), then the
# hosted PBX's directory: 10,000 accounts, 2,000 scenarios (bench/scale.py), callers waiting in
# queues (bench/queues.py), the outbox on PostgreSQL (bench/outbox.py; FSIVR_BENCH_PG_URL,
# default the test database's server) and the campaign pace: 20 calls/s, 200 at once, a minute
# (bench/campaign.py).
bench-scale: bench
	$(BIN)/python -m bench.scale
	$(BIN)/python -m bench.queues
	$(BIN)/python -m bench.outbox
	$(BIN)/python -m bench.campaign

migrate: install
	@mkdir -p var
	FSIVR_DATABASE_URL='$(FSIVR_DATABASE_URL)' $(BIN)/fsivr db upgrade

deploy-conf: install
	@mkdir -p '$(FS_CONF_DIR)'
	FSIVR_DATABASE_URL='$(FSIVR_DATABASE_URL)' FS_CONF_DIR='$(FS_CONF_DIR)' FSIVR_SIP_REALM='$(FSIVR_SIP_REALM)' \
	  $(BIN)/fsivr render-conf --out-dir '$(FS_CONF_DIR)'

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache .hypothesis var
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
