# Two commands from a fresh clone:  `make lab`  starts the course,  `make test`  runs every test.
# Both create ./.venv with Python 3.11 and install the course into it when needed.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
# nbgrader calls `alembic` (and jupyter calls its own sub-commands) through PATH.
export PATH := $(BIN):$(PATH)
export PYTHONHASHSEED := 0
PORT ?= 8888
LAB_ARGS ?=
# JupyterLab refuses to start as root (containers, cloud notebooks) without --allow-root: add it there.
ROOT_ARGS := $(if $(filter 0,$(shell id -u)),--allow-root)
# nbval executes the solution notebooks and compares their deterministic outputs. Each notebook
# gets a fresh kernel forked from one warm process (tests/conftest.py, tests/_warm.py);
# `COURSE_TEST_COLD=1 make test` starts every kernel from a fresh interpreter instead.
NBVAL := solutions --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg
# pytest-xdist: one worker per core, a file's tests (a notebook's cells) on one worker, so module
# fixtures are built once and nbval keeps one kernel per notebook; files go out in the order
# tests/conftest.py gives them (longest first), not by their number of tests; each worker's torch
# (and its kernels' and grading runs') gets cores / workers threads. `make test XDIST=` runs
# serially.
XDIST ?= -n auto --dist loadfile --no-loadscope-reorder

.PHONY: lab test test-fast lint bench bench-zoo release install doctor clean hub hub-stop hub-remove-users

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

# A student's Lab: no instructor panels, no news pop-up (hub/lab-config/). LAB_ROLE=instructor
# keeps Create Assignment, Formgrader and Course List.
LAB_ROLE ?= student
lab: $(STAMP)
	JUPYTER_CONFIG_PATH=$(CURDIR)/hub/lab-config/$(LAB_ROLE)$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH} \
	MPLBACKEND=module://matplotlib_inline.backend_inline $(BIN)/jupyter lab --port=$(PORT) \
	  --ServerApp.root_dir=$(CURDIR) $(ROOT_ARGS) $(LAB_ARGS) notebooks/lesson1/lesson1.ipynb

test: $(STAMP)
	$(BIN)/ruff check course_utils tests grader bench
	$(BIN)/ruff format --check course_utils tests grader bench
	@# mypy (one core, slow from a cold cache) runs beside pytest; its report follows pytest's.
	@# pytest exits 5 when it collected nothing: for us that is a failure with a reason.
	@log=$$(mktemp); $(BIN)/mypy > $$log 2>&1 & mypy=$$!; \
	  $(BIN)/python -m pytest tests --doctest-modules course_utils $(NBVAL) $(XDIST) $(PYTEST_ARGS); rc=$$?; \
	  wait $$mypy; mypy_rc=$$?; echo "$(BIN)/mypy"; cat $$log; rm -f $$log; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; \
	  if [ $$rc -eq 0 ] && [ $$mypy_rc -ne 0 ]; then exit $$mypy_rc; fi; exit $$rc

test-fast: $(STAMP)
	$(BIN)/python -m pytest tests -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check course_utils tests grader bench
	$(BIN)/ruff format --check course_utils tests grader bench

doctor: $(STAMP)
	$(BIN)/course doctor

release: $(STAMP)
	$(BIN)/course release --verify

bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/readme_table.py

# find_head/replace_head on every timm architecture and transformers image classifier.
bench-zoo: $(STAMP)
	nice -n 10 $(BIN)/python bench/zoo_sweep.py

clean:
	rm -rf artifacts .pytest_cache .ruff_cache .mypy_cache

# A class on this machine (docs/hub.md): JupyterHub, real accounts student1..N + instructor,
# nbgrader's exchange. Needs root, useradd and npm (.ci/install-hub.sh). Ctrl-C stops it.
# It refuses to start while a student could read this clone (solutions, .git) and prints the
# `chmod 700` that fixes it (HUB_ARGS=--make-private runs it).
STUDENTS ?= 5
HUB_PORT ?= 8000
HUB_ARGS ?=
hub: $(STAMP)
	.ci/install-hub.sh
	$(BIN)/python -m grader.hub.deploy up --students $(STUDENTS) --port $(HUB_PORT) $(HUB_ARGS)

hub-stop:
	$(BIN)/python -m grader.hub.deploy stop $(HUB_ARGS)

# Deletes the class's accounts (those the last `make hub` started with), their homes (students'
# work included) and every file they still own in the hub's folder, /tmp, /var/tmp and /dev/shm.
hub-remove-users:
	$(BIN)/python -m grader.hub.deploy remove-users $(HUB_ARGS)
