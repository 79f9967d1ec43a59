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

DATA_NAME := $(basename $(notdir $(DATA)))
RUN_PREFIX := $(RUNS)/$(DATA_NAME)-$(PRESET)-n$(N_UPDATES)-seed
RUN_DIRS := $(foreach s,$(SEEDS),$(RUN_PREFIX)$(s))
GRADCHECK := $(RUNS)/gradcheck-$(DATA_NAME)/gradcheck.json
EXPERIMENTS_DIR := $(RUNS)/experiments-$(DATA_NAME)-$(EXPERIMENT_CHARS)
SETUP := $(VENV)/.installed
PKG := src/charrnn
CORE_SRC := $(addprefix $(PKG)/,data.py rnn.py batch.py optim.py orders.py sampling.py train.py \
  engine.py evaluate.py runs.py checkpoint.py files.py)

.PHONY: help setup system-deps data experiments report test lab bench clean

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

$(RUN_PREFIX)%/metrics.json: notebooks/02_train.ipynb notebooks/params/$(PRESET).yaml $(DATA) $(CORE_SRC) | $(SETUP)
	@mkdir -p $(@D)
	$(PAPERMILL) notebooks/02_train.ipynb $(@D)/02_train.ipynb -f notebooks/params/$(PRESET).yaml \
	  -p data_path $(abspath $(DATA)) -p seed $* -p n_updates $(N_UPDATES) \
	  -p sample_every $(SAMPLE_EVERY) -p run_dir $(abspath $(@D)) -p force True

$(EXPERIMENTS_DIR)/summary.json: notebooks/04_experiments.ipynb $(DATA) $(CORE_SRC) $(PKG)/experiments.py | $(SETUP)
	@mkdir -p $(@D)
	$(PAPERMILL) notebooks/04_experiments.ipynb $(@D)/04_experiments.ipynb \
	  -p data_path $(abspath $(DATA)) -p chars $(EXPERIMENT_CHARS) -p variants "$(EXPERIMENTS)" \
	  -p out_dir $(abspath $(@D))

experiments: $(EXPERIMENTS_DIR)/summary.json  ## train the comparison variants (EXPERIMENT_CHARS each)

$(REPORTS)/report.ipynb: notebooks/03_report.ipynb $(GRADCHECK) $(RUN_DIRS:%=%/metrics.json) $(EXPERIMENTS_DIR)/summary.json $(wildcard $(REPORTS)/bench.json) $(PKG)/plots.py $(PKG)/tables.py $(PKG)/textmetrics.py | $(SETUP)
	@mkdir -p $(@D)
	$(PAPERMILL) notebooks/03_report.ipynb $@ -p run_dirs "$(abspath $(RUN_DIRS))" \
	  -p gradcheck_json $(abspath $(GRADCHECK)) -p bench_json $(abspath $(REPORTS)/bench.json) \
	  -p experiments_dir $(abspath $(EXPERIMENTS_DIR))

$(REPORTS)/report.pdf: $(REPORTS)/report.ipynb $(PKG)/report.py $(PKG)/templates/print/index.html.j2 | system-deps
	$(PY) -m charrnn pdf $< $@

report: $(SETUP) system-deps $(REPORTS)/report.pdf  ## gradient check, training, experiments: reports/report.pdf
	@echo "report: $(REPORTS)/report.pdf"

test: $(SETUP) system-deps  ## run the test suite
	$(PY) -m pytest

bench: $(SETUP) $(DATA)  ## time classic loop / NumPy / numba / PyTorch side by side, write reports/bench.json
	$(PY) -m charrnn bench --data $(DATA) --json $(REPORTS)/bench.json

lab: $(SETUP)  ## open JupyterLab on notebooks/ with the project's environment
	$(VENV)/bin/jupyter lab notebooks/

clean:  ## remove runs/ and reports/ (generated)
	rm -rf $(RUNS) $(REPORTS)
