# Shift happens: set-up, tests, course builds and training. `make help` lists the targets.
SHELL := bash
PYTHON ?= python3
EPOCHS ?= 15
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: help setup lab lab-instructor browser-setup test test-quick release solutions grade-demo autograde sandbox-limits sandbox data train benchmark explorer

help:
	@echo "make lab         set up .venv (first time only) and start JupyterLab on the assignments (students)"
	@echo "make lab-instructor  JupyterLab with nbgrader's formgrader and Create Assignment, on the repository"
	@echo "make test        set up .venv, Chromium and bubblewrap if needed, then run the whole test suite (CI runs this)"
	@echo "make browser-setup  install Debian's Chromium for the browser tests (make test does it first)"
	@echo "make test-quick  the fast subset (no notebook execution, no nbgrader round trips, no training)"
	@echo "make release     generate the student versions into assignments/"
	@echo "make solutions   execute the solution notebooks into solutions/"
	@echo "make grade-demo  release, submit three students, autograde them in the sandbox and print the scores"
	@echo "make autograde ASSIGNMENT=<id> [COURSE=course] [WORKERS=n] [SCHEDULER=tcp://host:port]"
	@echo "                 grade every new or changed submission in the sandbox, in parallel (or on Dask), print a table"
	@echo "make sandbox-limits  measure each solution in the sandbox (per-assignment limits, committed)"
	@echo "make sandbox     install or check bubblewrap and try the grading sandbox"
	@echo "make train       train every checkpoint, EPOCHS=15 by default (unpacks the CIFAR-10 JPEG copy first)"
	@echo "make benchmark   print sweep throughput and recompute the checkpoints' metrics"
	@echo "make explorer    serve the shift explorer as a web app on http://127.0.0.1:8866 (PORT=<n> for another)"

# The virtual environment, installed once; it is redone only when pyproject.toml changes.
$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[lab,instructor,test]"
	touch $(INSTALLED)

setup: $(INSTALLED)

# JupyterLab refuses to run as root (containers, CI) unless told; LAB_ARGS adds options (--no-browser --port=8890).
LAB := $(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root)
# jupyter/student switches off nbgrader's instructor extensions (formgrader, Create Assignment, course
# and assignment lists); its Validate button stays. No nbgrader_config.py is read by this lab.
lab: setup
	JUPYTER_CONFIG_PATH=$(CURDIR)/jupyter/student$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH} \
	  $(LAB) --ServerApp.root_dir=$(CURDIR)/assignments $(LAB_ARGS)

# nbgrader's extensions read nbgrader_config.py here; the course directory must lie under the server root.
lab-instructor: setup
	$(LAB) --ServerApp.root_dir=$(CURDIR) $(LAB_ARGS)

# The browser tests (tests/browser) drive Debian's Chromium with PyPI's playwright (in the test extra).
# A browser downloaded by `playwright install` does not run on every machine, so none is downloaded.
CHROMIUM := $(or $(SHIFTLAB_CHROMIUM),/usr/bin/chromium)
browser-setup:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; \
	  else echo "The browser tests need Chromium at $(CHROMIUM): run 'sudo apt-get install -y chromium'" \
	    "(Debian/Ubuntu), or set SHIFTLAB_CHROMIUM to a Chromium or Chrome binary." >&2; exit 1; fi; }

test: setup browser-setup sandbox
	$(BIN)/python -m pytest

test-quick: setup
	$(BIN)/python -m pytest -m "not slow"

# Instructor tooling (python -m shiftlab_instructor --help). COURSE: the course folder.
COURSE ?= course

release: setup
	$(BIN)/python -m shiftlab_instructor release --course $(COURSE)

solutions: setup
	$(BIN)/python -m shiftlab_instructor solutions --course $(COURSE)

grade-demo: sandbox
	$(BIN)/python -m shiftlab_instructor demo --course $(COURSE)

# Grade every submission in $(COURSE)/submitted/ in the sandbox and print a table: WORKERS at once
# (default one per core), on the Dask cluster at SCHEDULER=tcp://host:port if given (or in the environment);
# a second run grades only new or changed submissions.
ifneq ($(filter autograde,$(MAKECMDGOALS)),)
ifndef ASSIGNMENT
$(error usage: make autograde ASSIGNMENT=<id> [COURSE=<course dir>] [WORKERS=<n>] [SCHEDULER=tcp://<host>:<port>])
endif
endif
autograde: sandbox
	$(BIN)/python -m shiftlab_instructor autograde $(ASSIGNMENT) --course $(COURSE) \
	  $(if $(WORKERS),--workers $(WORKERS)) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

# Measure each solution in the sandbox into $(COURSE)/sandbox-limits.json (commit it).
sandbox-limits: sandbox
	$(BIN)/python -m shiftlab_instructor sandbox-limits --course $(COURSE)

# The grading sandbox: bubblewrap (installed here when root), then a trial run that names what is missing.
sandbox: setup
	@command -v bwrap >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get install -y bubblewrap || { apt-get update && apt-get install -y bubblewrap; }; \
	  else echo "missing: bubblewrap (bwrap). Install it as root: apt-get install -y bubblewrap"; exit 1; fi; }
	$(BIN)/python -m shiftlab_instructor check-sandbox

# Unpacks the course's CIFAR-10 JPEG copy where training reads it (nothing to do if it is there).
data: setup
	$(BIN)/python -m shiftlab.train --unpack-data

# Every shipped variant (shiftlab.VARIANTS), each resuming from runs/<name>-<epochs>ep if interrupted;
# each run writes its checkpoint with a complete manifest entry.
train: setup data
	set -e; variants="$$($(BIN)/python -m shiftlab.train --list-variants)"; for variant in $$variants; do \
	  $(BIN)/python -u -m shiftlab.train --variant $$variant --epochs $(EPOCHS) --state-dir runs/$$variant-$(EPOCHS)ep; \
	done

benchmark: setup
	$(BIN)/python benchmarks/sweep.py
	$(BIN)/python benchmarks/checkpoints.py

# The reading-group explorer as a web app: Voila serves src/shiftlab/explorer/app.ipynb (widgets only, code
# hidden, nothing loaded from the internet) on http://127.0.0.1:$(PORT); `make explorer PORT=8870` for another port.
PORT ?= 8866
explorer: setup
	$(BIN)/python -m shiftlab.explorer --port $(PORT)
