# Shift happens: set-up, tests, course builds and training. `make help` lists the targets.
SHELL := bash
PYTHON ?= python3
EPOCHS ?= 15
# name:padding:downsampling of every shipped checkpoint
VARIANTS := baseline:zeros:max reflect:reflect:max replicate:replicate:max circular:circular:max \
            blurpool:zeros:blur aps-circular:circular:aps
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
SHARED_DATA := ../shared/data
DATA := data/cifar10-jpeg

.PHONY: help setup lab test test-quick release solutions grade-demo data train benchmark

help:
	@echo "make lab         set up .venv (first time only) and start JupyterLab on the course"
	@echo "make test        set up .venv if needed, then run the whole test suite (CI runs this)"
	@echo "make test-quick  the fast subset (no notebook execution, no nbgrader round trips, no training)"
	@echo "make release     generate the student versions into assignments/"
	@echo "make solutions   execute the solution notebooks into solutions/"
	@echo "make grade-demo  release, submit three students, autograde and print the scores"
	@echo "make train       train every checkpoint, EPOCHS=15 by default (unpacks the CIFAR-10 JPEG copy first)"
	@echo "make benchmark   print sweep throughput and recompute the checkpoints' metrics"

# The virtual environment, installed once; it is redone only when pyproject.toml changes.
$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[course,test]"
	touch $(INSTALLED)

setup: $(INSTALLED)

lab: setup
	$(BIN)/jupyter lab --notebook-dir=. assignments/

test: setup
	$(BIN)/python -m pytest

test-quick: setup
	$(BIN)/python -m pytest -m "not slow"

release: setup
	$(BIN)/python -m shiftlab.grading release

solutions: setup
	$(BIN)/python -m shiftlab.grading solutions

grade-demo: setup
	$(BIN)/python -m shiftlab.grading demo

$(DATA)/train:
	mkdir -p $(DATA)
	tar xJf $(SHARED_DATA)/cifar10-jpeg.tar.xz -C $(DATA)

data: $(DATA)/train

# Each variant resumes from runs/<name>-<epochs>ep if interrupted; afterwards the consistency metrics
# are measured and written into the manifest.
train: setup data
	set -e; for variant in $(VARIANTS); do \
	  IFS=: read -r name padding downsampling <<< "$$variant"; \
	  $(BIN)/python -u -m shiftlab.train --name $$name --padding-mode $$padding --downsampling $$downsampling \
	    --epochs $(EPOCHS) --state-dir runs/$$name-$(EPOCHS)ep; \
	done
	$(BIN)/python benchmarks/checkpoints.py --write

benchmark: setup
	$(BIN)/python benchmarks/sweep.py
	$(BIN)/python benchmarks/checkpoints.py
