# charrnn: `make` prints this menu. The pipeline is a DAG of real files, so a second
# `make report` re-runs only what changed.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PAPERMILL := $(PY) -m papermill -k python3 --cwd $(CURDIR) --log-level WARNING

DATA ?= $(if $(wildcard data/goblet_book.txt),data/goblet_book.txt,data/shakespeare.txt)
PRESET ?= adam
SEEDS ?= 1
N_UPDATES ?= 150000
SAMPLE_EVERY ?= 10000
EXPERIMENT_CHARS ?= 22400000
EXPERIMENTS ?= sequential random chunks B8 B32 m256 best
RUNS ?= runs
REPORTS ?= reports

BENCH_UPDATES ?= 2000
BENCH_REPS ?= 5

# Runs are named after the text's file name and the first 8 hex digits of its md5, so two
# different files with the same name never share a run folder.
DATA_NAME := $(basename $(notdir $(DATA)))$(if $(wildcard $(DATA)),-$(shell md5sum < "$(DATA)" | cut -c1-8))

# Fail early, with a sentence, on settings that cannot work (only for targets that use them).
ifneq ($(filter report experiments bench,$(MAKECMDGOALS)),)
  ifeq ($(wildcard $(DATA)),)
    ifneq ($(DATA),data/shakespeare.txt)
      $(error DATA=$(DATA) does not exist: give a UTF-8 text file (see README.md, "The data"))
    endif
  endif
  ifeq ($(wildcard notebooks/params/$(PRESET).yaml),)
    $(error PRESET=$(PRESET) is unknown: use adam or adagrad)
  endif
  ifneq ($(shell echo "$(SEEDS) $(N_UPDATES) $(EXPERIMENT_CHARS) $(BENCH_UPDATES) $(BENCH_REPS)" | grep -Eq '^[0-9 ]+$$' && echo ok),ok)
    $(error SEEDS, N_UPDATES, EXPERIMENT_CHARS, BENCH_UPDATES and BENCH_REPS must be whole numbers)
  endif
  ifneq ($(words $(DATA)),1)
    $(error DATA must be a path without spaces; copy or link the text to one)
  endif
endif
RUN_PREFIX := $(RUNS)/$(DATA_NAME)-$(PRESET)-n$(N_UPDATES)-seed
RUN_DIRS := $(foreach s,$(SEEDS),$(RUN_PREFIX)$(s))
GRADCHECK := $(RUNS)/gradcheck-$(DATA_NAME)/gradcheck.json
EXPERIMENTS_DIR := $(RUNS)/experiments-$(DATA_NAME)-$(EXPERIMENT_CHARS)
SETUP := $(VENV)/.installed
PKG := src/charrnn
# The modules that training runs (charrnn.provenance follows their imports), else every module.
TRAIN_SRC := $(or $(shell test -x $(PY) && $(PY) -m charrnn.provenance 2>/dev/null),$(wildcard $(PKG)/*.py))

.PHONY: help setup system-deps data experiments report test test-fast lint lab bench clean FORCE

# The report's settings; the stamp changes (and the report is rebuilt) only when they do.
SETTINGS := DATA=$(abspath $(DATA)) NAME=$(DATA_NAME) PRESET=$(PRESET) SEEDS=$(SEEDS) N_UPDATES=$(N_UPDATES) SAMPLE_EVERY=$(SAMPLE_EVERY) EXPERIMENT_CHARS=$(EXPERIMENT_CHARS) EXPERIMENTS=$(EXPERIMENTS)
$(REPORTS)/.settings: FORCE
	@mkdir -p $(@D)
	@echo '$(SETTINGS)' | cmp -s - $@ || echo '$(SETTINGS)' > $@

help:  ## show this menu
	@echo "charrnn: a character-level vanilla RNN (DD2424 Assignment 4) and its report"
	@echo
	@grep -E '^[a-z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'
	@echo
	@echo "Variables: DATA=$(DATA) PRESET=$(PRESET) SEEDS=\"$(SEEDS)\" N_UPDATES=$(N_UPDATES)"
	@echo "           RUNS=$(RUNS) REPORTS=$(REPORTS)"

setup: $(SETUP) system-deps  ## create .venv with the pinned packages, apt-install chromium + MathJax

$(SETUP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . \
	  || $(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

system-deps:  ## apt-install chromium, libjs-mathjax, fonts and poppler when missing
	@bash .ci/system-deps.sh

data: data/shakespeare.txt  ## build the default (public-domain) corpus

data/shakespeare.txt: | $(SETUP)
	$(PY) -m charrnn.corpus $@

$(GRADCHECK): notebooks/01_gradient_check.ipynb $(DATA) $(PKG)/gradcheck.py $(PKG)/reference.py $(PKG)/rnn.py | $(SETUP)
	@mkdir -p $(@D)
	$(PAPERMILL) notebooks/01_gradient_check.ipynb $(@D)/01_gradient_check.ipynb \
	  -p data_path $(abspath $(DATA)) -p out_json $(abspath $@)

$(RUN_PREFIX)%/metrics.json: notebooks/02_train.ipynb notebooks/params/$(PRESET).yaml $(DATA) $(TRAIN_SRC) | $(SETUP)
	@mkdir -p $(@D)
	$(PAPERMILL) notebooks/02_train.ipynb $(@D)/02_train.ipynb -f notebooks/params/$(PRESET).yaml \
	  -p data_path $(abspath $(DATA)) -p seed $* -p n_updates $(N_UPDATES) \
	  -p sample_every $(SAMPLE_EVERY) -p run_dir $(abspath $(@D)) -p force True

$(EXPERIMENTS_DIR)/summary.json: notebooks/04_experiments.ipynb $(DATA) $(TRAIN_SRC) $(PKG)/experiments.py | $(SETUP)
	@mkdir -p $(@D)
	$(PAPERMILL) notebooks/04_experiments.ipynb $(@D)/04_experiments.ipynb \
	  -p data_path $(abspath $(DATA)) -p chars $(EXPERIMENT_CHARS) -p variants "$(EXPERIMENTS)" \
	  -p out_dir $(abspath $(@D))

# The public targets first make sure DATA exists (the default corpus may have to be built), then
# run make again, so that the run names can include the text's md5.
experiments: $(SETUP) $(DATA)  ## train the comparison variants (EXPERIMENT_CHARS each)
	@$(MAKE) --no-print-directory $(EXPERIMENTS_DIR)/summary.json

BENCH_SETTINGS := DATA=$(abspath $(DATA)) NAME=$(DATA_NAME) BENCH_UPDATES=$(BENCH_UPDATES) BENCH_REPS=$(BENCH_REPS)
$(REPORTS)/.bench-settings: FORCE
	@mkdir -p $(@D)
	@echo '$(BENCH_SETTINGS)' | cmp -s - $@ || echo '$(BENCH_SETTINGS)' > $@

$(REPORTS)/bench.json: $(REPORTS)/.bench-settings $(DATA) $(TRAIN_SRC) $(wildcard benchmarks/*.py) | $(SETUP)
	@mkdir -p $(@D)
	$(PY) benchmarks/bench.py --data $(DATA) --n-updates $(BENCH_UPDATES) --reps $(BENCH_REPS) --json $@

# The sampling study of the best seed's run (lowest best smooth loss); .settings: the seeds or text changed.
$(REPORTS)/sampling_study.json: $(REPORTS)/.settings $(RUN_DIRS:%=%/metrics.json) $(PKG)/study.py $(PKG)/textmetrics.py $(PKG)/sampling.py | $(SETUP)
	@mkdir -p $(@D)
	$(PY) -m charrnn study --runs $(abspath $(RUN_DIRS)) --json $@

$(REPORTS)/report.ipynb: notebooks/03_report.ipynb $(REPORTS)/.settings $(GRADCHECK) $(RUN_DIRS:%=%/metrics.json) $(REPORTS)/sampling_study.json $(EXPERIMENTS_DIR)/summary.json $(REPORTS)/bench.json $(PKG)/plots.py $(PKG)/tables.py $(PKG)/prose.py $(PKG)/experiments.py | $(SETUP)
	@mkdir -p $(@D)
	$(PAPERMILL) notebooks/03_report.ipynb $@ -p run_dirs "$(abspath $(RUN_DIRS))" \
	  -p gradcheck_json $(abspath $(GRADCHECK)) -p bench_json $(abspath $(REPORTS)/bench.json) \
	  -p sampling_json $(abspath $(REPORTS)/sampling_study.json) -p experiments_dir $(abspath $(EXPERIMENTS_DIR))

$(REPORTS)/report.pdf: $(REPORTS)/report.ipynb $(PKG)/report.py $(PKG)/templates/print/index.html.j2 | system-deps
	$(PY) -m charrnn pdf $< $@

report: $(SETUP) system-deps $(DATA)  ## gradient check, training, experiments, benchmark: reports/report.pdf
	@$(MAKE) --no-print-directory $(REPORTS)/report.pdf
	@echo "report: $(REPORTS)/report.pdf"

test: $(SETUP) system-deps  ## run the whole test suite (what CI runs)
	$(PY) -m pytest

test-fast: $(SETUP)  ## the tests not marked slow: no system packages, under a minute
	$(PY) -m pytest -m "not slow"

lint: $(SETUP)  ## ruff check of src, tests, benchmarks and tools (config in pyproject.toml)
	$(VENV)/bin/ruff check src tests benchmarks tools

bench: $(SETUP) $(DATA)  ## time classic loop / NumPy / numba / PyTorch side by side (reports/bench.json)
	@$(MAKE) --no-print-directory $(REPORTS)/bench.json

lab: $(SETUP)  ## open JupyterLab on notebooks/ with the project's environment
	$(VENV)/bin/jupyter lab notebooks/

clean:  ## remove runs/ and what reports/ holds (generated; reports/README.md stays)
	rm -rf $(RUNS)
	test ! -d $(REPORTS) || find $(REPORTS) -mindepth 1 ! -name README.md -delete
