# hephaestus: every target sets up its own virtual environment in .venv on first use.
#   make test   notebooks/modules sync check, then pytest (module tests + every notebook executed)
#   make demo   context groups from the built-in renderer -> reports/demo/
#   make dashboard  the dashboards in Voila on 127.0.0.1 (a free port, printed); make lab: JupyterLab on 127.0.0.1
#   make report the measured report from the shipped checkpoints -> reports/REPORT.md, REPORT.html (cached)
# More: make export | clean-nbs | readme | docs | bench | sync | venv | clean-venv | help

SHELL       := /bin/bash
PYTHON      ?= python3
VENV        ?= .venv
BIN         := $(VENV)/bin
PY          := $(BIN)/python
STAMP       := $(VENV)/.installed
# Installed first, and only when the venv has no torch yet: pins the release that lies on this
# machine's disk, so pip never goes looking for a newer multi-GB build. Override to taste.
TORCH_SPEC  ?= torch==2.14.1 torchvision==0.29.1
# Dev tools beyond settings.ini's dev_requirements (which hold Sphinx, myst-nb and furo for `make docs`).
DEV_EXTRAS  ?= nbconvert>=7
PIP_INSTALL := $(BIN)/pip install --disable-pip-version-check --progress-bar off -q
# This machine's pip configuration warns once per package about index folders it lacks.
PIP_NOISE   := is ignored: it is neither a file nor a directory
PYTEST_ARGS ?=
# pytest workers (pytest-xdist): the tests are independent processes pinned to one torch thread each,
# so two workers use both cores of a 2-core machine; 0 runs them in this process, one by one.
PYTEST_WORKERS ?= 2
DEMO_ARGS   ?= --out reports/demo
DOCS_DIR    ?= _docs
# tools/build_docs.py options, e.g. --clean (a cold build), -v (Sphinx's progress), -j 1
DOCS_ARGS   ?=
# `hephaestus report` options, e.g. --refresh, --only ranking, --data-dir DIR (default: ../shared/data when present)
REPORT_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv test sync demo report export clean-nbs readme docs bench clean-venv lab dashboard

help:
	@sed -n '1,6s/^# \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

venv: $(STAMP)

$(STAMP): settings.ini setup.py
	@test -x $(PY) || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@$(PY) -c 'import torch' 2>/dev/null || { echo "installing $(TORCH_SPEC)"; \
	  $(PIP_INSTALL) $(TORCH_SPEC) 2>&1 | grep -v "$(PIP_NOISE)"; exit $${PIPESTATUS[0]}; }
	@echo "installing hephaestus (editable) with its dev requirements"
	@$(PIP_INSTALL) -e '.[dev]' '$(DEV_EXTRAS)' 2>&1 | grep -v "$(PIP_NOISE)"; exit $${PIPESTATUS[0]}
	@touch $@

test: $(STAMP)
	@$(PY) tools/nbsync.py
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist load $(PYTEST_ARGS)

sync: $(STAMP)
	$(PY) tools/nbsync.py

demo: $(STAMP)
	$(BIN)/hephaestus demo $(DEMO_ARGS)

report: $(STAMP)
	$(BIN)/hephaestus report $(REPORT_ARGS)

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --no-browser --notebook-dir=nbs $$([ "$$(id -u)" = 0 ] && echo --allow-root)

dashboard: $(STAMP)
	$(PY) tools/serve_dashboard.py

export: $(STAMP)
	$(BIN)/nbdev_export

clean-nbs: $(STAMP)
	$(BIN)/nbdev_clean

readme: $(STAMP)
	$(PY) tools/nbdocs.py readme

docs: $(STAMP)
	$(PY) tools/build_docs.py --out $(DOCS_DIR) $(DOCS_ARGS)

bench: $(STAMP)
	@shopt -s nullglob; files=(benchmarks/*.py); \
	if [ $${#files[@]} -eq 0 ]; then echo "no benchmarks/*.py yet"; exit 0; fi; \
	for f in "$${files[@]}"; do echo "== $$f"; $(PY) "$$f" || exit 1; done

clean-venv:
	rm -rf $(VENV)
