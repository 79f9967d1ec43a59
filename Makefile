# charrnn: `make` prints this menu. The pipeline is a DAG of real files, so a second
# `make report` re-runs only what changed.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

# Two jobs at a time by default (the machine has two cores): independent runs, variants and seeds
# are targets of their own, and the public targets run make -j$(JOBS). JOBS=1 runs one at a time. Each job's BLAS uses one thread, so two jobs
# do not fight over the cores; the benchmark runs alone, after everything else (see bench.json).
JOBS ?= 2
SUBMAKE = $(MAKE) -j$(JOBS) --no-print-directory CHECK_FOR=$@
export OMP_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1
export MKL_NUM_THREADS := 1

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The kernel's stderr (the training runs' progress lines) goes to the terminal, through stdout.
PAPERMILL := $(PY) -m charrnn.nbrun -k python3 --cwd $(CURDIR) --log-level WARNING --no-progress-bar \
  --stderr-file -

DATA ?= $(if $(wildcard data/goblet_book.txt),data/goblet_book.txt,data/shakespeare.txt)
# QUICK=1: every section of the report in a few minutes, with small budgets (each can still be
# given), into reports/quick; its title says so. Its numbers are not the full report's.
QUICK ?=
ifeq ($(QUICK),1)
  N_UPDATES ?= 5000
  SAMPLE_EVERY ?= 1000
  EXPERIMENT_CHARS ?= 200000
  BENCH_UPDATES ?= 200
  BENCH_REPS ?= 1
  SCALING ?= sweeps/scaling-quick.yaml
  REPORTS ?= reports/quick
  # the studies of single models on part of the held-out text (tied to QUICK's own REPORTS)
  CONTEXT_POSITIONS := 200
  GRADIENT_POSITIONS := 50
  DYNAMIC_CHARS := 5000
  CONTEXT_LIMITS := --positions $(CONTEXT_POSITIONS)
  GRADIENT_LIMITS := --positions $(GRADIENT_POSITIONS)
  DYNAMIC_LIMITS := --chars $(DYNAMIC_CHARS)
  TITLE_NOTE ?= Quick report (make report QUICK=1): $(N_UPDATES) updates per handout seed, \
    $(EXPERIMENT_CHARS) training characters per experiment, a $(BENCH_UPDATES)-update benchmark, \
    the scaling sweep $(SCALING), context and gradients at $(CONTEXT_POSITIONS) and \
    $(GRADIENT_POSITIONS) test positions, dynamic evaluation on the first $(DYNAMIC_CHARS) \
    characters of the validation and of the test text. \
    Every section is here, but its numbers are not those of the full report (make report).
else ifneq ($(QUICK),)
  $(error QUICK="$(QUICK)" must be 1 (small budgets) or empty)
endif
TITLE_NOTE ?=
PRESET ?= adam
SEEDS ?= 1 2 3
N_UPDATES ?= 150000
SAMPLE_EVERY ?= 10000
EXPERIMENT_CHARS ?= 2000000
EXPERIMENTS ?= sequential random chunks B8 B32 m256 m256s50 m256cos best
# The scaling sweep of the report: a reduced spec that fits its time; sweeps/scaling.yaml is the
# full one (45 runs: a cluster's work, with SCHEDULER=tcp://HOST:8786).
SCALING ?= sweeps/scaling-report.yaml
RUNS ?= runs
REPORTS ?= reports
# A Dask scheduler (tcp://HOST:8786): make sweep, and make report's experiments and baselines, run
# on its cluster instead of here
SCHEDULER ?=

BENCH_UPDATES ?= 300
BENCH_REPS ?= 3

# Runs are named after the text's file name and the first 8 hex digits of its md5, so two
# different files with the same name never share a run folder.
DATA_NAME := $(basename $(notdir $(DATA)))$(if $(wildcard $(DATA)),-$(shell md5sum < "$(DATA)" | cut -c1-8))

# Fail early, with a sentence, on settings that cannot work (only for targets that use them; the
# public targets pass CHECK_FOR to the make they start, which checks again). Whole numbers are
# checked with make's own functions, without starting a shell.
CHECK_FOR ?=
# $(call whole,TEXT): TEXT when it is one or more whole numbers (0, 1, 2, ...; no leading
# zeros, which would name other run folders for the same number), else empty
digitless = $(strip $(subst 0,,$(subst 1,,$(subst 2,,$(subst 3,,$(subst 4,,$(subst 5,,$(subst 6,,$(subst 7,,$(subst 8,,$(subst 9,,$(1))))))))))))
whole = $(if $(strip $(1)),$(if $(or $(call digitless,$(1)),$(filter-out 0,$(filter 0%,$(1)))),,$(1)))
# $(call positive,TEXT): TEXT when it is one whole number above 0, else empty
positive = $(if $(and $(call whole,$(1)),$(filter 1,$(words $(1))),$(subst 0,,$(strip $(1)))),$(1))
CHECKED := $(filter report experiments baselines bench,$(MAKECMDGOALS) $(CHECK_FOR))
ifneq ($(CHECKED),)
  ifneq ($(word 2,$(DATA)),)
    $(error DATA must be a path without spaces; copy or link the text to one)
  endif
  ifeq ($(wildcard $(DATA)),)
    ifneq ($(DATA),data/shakespeare.txt)
      $(error DATA=$(DATA) does not exist: give a UTF-8 text file (see README.md, "The data"))
    endif
  endif
  ifeq ($(wildcard $(SCALING)),)
    $(error SCALING=$(SCALING) does not exist: give a sweep spec such as sweeps/scaling-report.yaml)
  endif
  ifeq ($(wildcard notebooks/params/$(PRESET).yaml),)
    $(error PRESET=$(PRESET) is unknown: use adam or adagrad)
  endif
  $(foreach v,N_UPDATES SAMPLE_EVERY EXPERIMENT_CHARS BENCH_UPDATES BENCH_REPS JOBS,$(if $(call positive,$($(v))),,\
    $(error $(v)="$($(v))" must be a positive whole number (1, 2, 3, ...))))
  ifeq ($(and $(call whole,$(SEEDS)),$(filter $(words $(SEEDS)),$(words $(sort $(SEEDS))))),)
    $(error SEEDS="$(SEEDS)" must be one or more different whole numbers (0, 1, 2, ...), one handout run each)
  endif
endif

# The (variant, seed) jobs of EXPERIMENTS, longest first, then the gated baselines' (KIND-seedS);
# for unknown variants, charrnn's error line (checked below; one Python start, which every make pays).
BASELINES := lstm gru
EXPERIMENT_JOBS_OUT := $(shell test -x $(PY) && { $(PY) -m charrnn experiment --jobs "$(EXPERIMENTS)" --baselines "$(BASELINES)" 2>&1 >&3 | grep '^charrnn: error:'; } 3>&1)
EXPERIMENTS_ERROR := $(if $(filter charrnn:,$(firstword $(EXPERIMENT_JOBS_OUT))),$(EXPERIMENT_JOBS_OUT))
ALL_EXPERIMENT_JOBS := $(if $(EXPERIMENTS_ERROR),,$(EXPERIMENT_JOBS_OUT))
BASELINE_JOBS := $(filter $(BASELINES:%=%-seed%),$(ALL_EXPERIMENT_JOBS))
EXPERIMENT_JOBS := $(filter-out $(BASELINE_JOBS),$(ALL_EXPERIMENT_JOBS))
ifneq ($(CHECKED),)
  ifneq ($(EXPERIMENTS_ERROR),)
    $(error EXPERIMENTS="$(EXPERIMENTS)": $(wordlist 3,$(words $(EXPERIMENTS_ERROR)),$(EXPERIMENTS_ERROR)))
  endif
endif
RUN_PREFIX := $(RUNS)/$(DATA_NAME)-$(PRESET)-n$(N_UPDATES)-seed
RUN_DIRS := $(foreach s,$(SEEDS),$(RUN_PREFIX)$(s))
# The same runs with the last 1/20 of the text held out (half validation, half test): the handout
# model's test loss.
HELDOUT_PREFIX := $(RUNS)/$(DATA_NAME)-$(PRESET)-n$(N_UPDATES)-holdout-seed
HELDOUT_DIRS := $(foreach s,$(SEEDS),$(HELDOUT_PREFIX)$(s))
GRADCHECK := $(RUNS)/gradcheck-$(DATA_NAME)/gradcheck.json
EXPERIMENTS_DIR := $(RUNS)/experiments-$(DATA_NAME)-$(EXPERIMENT_CHARS)
SETUP := $(VENV)/.installed
PKG := src/charrnn
# The package modules that each rule runs: charrnn.training.provenance follows the imports of its command,
# notebook or script (`python -m charrnn.training.provenance --make`). They are kept in $(PREREQS), made again
# (and make started again) when a module, notebook or script changes, so reading them costs no
# Python start; before `make setup` has installed the package, every module. $(PREREQS) takes the
# date of a file dated in the future, which would otherwise have make start again and again.
PREREQ_LISTS := TRAIN_SRC EXPERIMENT_SRC SUMMARY_SRC BASELINE_SRC GRID_SRC UNITS_SRC \
  UNITS_BASELINE_SRC GRADCHECK_SRC STUDY_SRC CALIBRATE_SRC CONTEXT_SRC DYNAMIC_SRC GRADIENTS_SRC \
  SCALING_SRC BENCH_SRC REPORT_SRC PDF_SRC
PKG_FILES := $(wildcard $(PKG)/*.py $(PKG)/*/*.py)
PKG_DIRS := $(PKG) $(filter-out %/__pycache__/,$(wildcard $(PKG)/*/))
$(foreach v,$(PREREQ_LISTS),$(eval $(v) := $(PKG_FILES)))
PREREQS := $(VENV)/prereqs.mk
ifneq ($(wildcard $(SETUP)),)
  -include $(PREREQS)
  $(PREREQS): $(PKG_DIRS) $(PKG_FILES) $(wildcard notebooks/*.ipynb benchmarks/*.py)
	@$(PY) -m charrnn.training.provenance --make > $@.$$$$ && mv $@.$$$$ $@ || { rm -f $@.$$$$; exit 1; }
	@for f in $?; do test ! $$f -nt $@ || touch -r $$f $@; done
endif

.PHONY: help setup system-deps data experiments baselines lr report test test-fast test-e2e lint lab bench sweep clean FORCE

# The report's settings; the stamp changes (and the report is rebuilt) only when they do.
SETTINGS := DATA=$(abspath $(DATA)) NAME=$(DATA_NAME) PRESET=$(PRESET) SEEDS=$(SEEDS) N_UPDATES=$(N_UPDATES) SAMPLE_EVERY=$(SAMPLE_EVERY) EXPERIMENT_CHARS=$(EXPERIMENT_CHARS) EXPERIMENTS=$(EXPERIMENTS) QUICK=$(QUICK)
$(REPORTS)/.settings: FORCE
	@mkdir -p $(@D)
	@echo '$(SETTINGS)' | cmp -s - $@ || echo '$(SETTINGS)' > $@

help:  ## show this menu
	@echo "charrnn: a character-level vanilla RNN (DD2424 Assignment 4) and its report"
	@echo
	@grep -hE '^[a-z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'
	@echo
	@echo "Variables: DATA=$(DATA) PRESET=$(PRESET) SEEDS=\"$(SEEDS)\" N_UPDATES=$(N_UPDATES)"
	@echo "           EXPERIMENT_CHARS=$(EXPERIMENT_CHARS) EXPERIMENTS=\"$(EXPERIMENTS)\" SCALING=$(SCALING)"
	@echo "           JOBS=$(JOBS) RUNS=$(RUNS) REPORTS=$(REPORTS) SCHEDULER=$(SCHEDULER)"

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

data/shakespeare.txt: data/prepare_shakespeare.py | $(SETUP)
	$(PY) data/prepare_shakespeare.py $@

$(GRADCHECK): notebooks/01_gradient_check.ipynb $(DATA) $(GRADCHECK_SRC) | $(SETUP)
	@mkdir -p $(@D)
	$(PAPERMILL) notebooks/01_gradient_check.ipynb $(@D)/01_gradient_check.ipynb \
	  -p data_path $(abspath $(DATA)) -p out_json $(abspath $@)

$(RUN_PREFIX)%/metrics.json: notebooks/02_train.ipynb notebooks/params/$(PRESET).yaml $(DATA) $(TRAIN_SRC) | $(SETUP)
	@mkdir -p $(@D)
	$(PAPERMILL) notebooks/02_train.ipynb $(@D)/02_train.ipynb -f notebooks/params/$(PRESET).yaml \
	  -p data_path $(abspath $(DATA)) -p seed $* -p n_updates $(N_UPDATES) \
	  -p sample_every $(SAMPLE_EVERY) -p run_dir $(abspath $(@D)) -p force True \
	  -p progress_label "handout seed $*"
	@touch -c $@  # a reused run (same settings, text and training code) does not rewrite it

$(HELDOUT_PREFIX)%/metrics.json: $(DATA) $(TRAIN_SRC) | $(SETUP)
	$(PY) -m charrnn train --data $(abspath $(DATA)) --preset $(PRESET) --seed $* \
	  --n-updates $(N_UPDATES) --holdout 1 --test-fraction 0.5 --eval-every $$(( ($(N_UPDATES) + 19) / 20 )) \
	  --sample-every $(N_UPDATES) --out $(@D) --force --progress-label "handout held-out seed $*"
	@touch -c $@  # a reused run does not rewrite it

# One job per (variant, seed): charrnn.studies.experiments.VARIANTS says which variants run three seeds.
# A job whose run is reused (same config, text and training code) only touches its metrics.json.
EXPERIMENT_RUNS := $(EXPERIMENT_JOBS:%=$(EXPERIMENTS_DIR)/%/metrics.json)
ifeq ($(SCHEDULER),)
$(EXPERIMENT_RUNS): $(EXPERIMENTS_DIR)/%/metrics.json: $(DATA) $(EXPERIMENT_SRC) | $(SETUP)
	$(PY) -m charrnn experiment $(subst -seed, --seed ,$*) --chars $(EXPERIMENT_CHARS) \
	  --data $(abspath $(DATA)) --out-dir $(abspath $(EXPERIMENTS_DIR)) --progress-label "experiment $*"
	@touch -c $@
endif

$(EXPERIMENTS_DIR)/summary.json: notebooks/04_experiments.ipynb $(EXPERIMENT_RUNS) $(SUMMARY_SRC) | $(SETUP)
	@mkdir -p $(@D)
	$(PAPERMILL) notebooks/04_experiments.ipynb $(@D)/04_experiments.ipynb \
	  -p data_path $(abspath $(DATA)) -p chars $(EXPERIMENT_CHARS) -p variants "$(EXPERIMENTS)" \
	  -p out_dir $(abspath $(@D))

# The public targets first make sure DATA exists (the default corpus may have to be built), then
# run make again, so that the run names can include the text's md5.
experiments: $(SETUP) $(DATA)  ## train the comparison variants (budgets: EXPERIMENT_CHARS times each one's scale)
	@$(SUBMAKE) $(EXPERIMENTS_DIR)/summary.json

# Gated baselines (PyTorch LSTM and GRU of the vanilla m = 256 RNN's size) on the experiments'
# split and budget, one folder per seed (KIND-seedS) beside the variants; the report's experiments
# section shows them.
BASELINE_RUNS := $(BASELINE_JOBS:%=$(EXPERIMENTS_DIR)/%/metrics.json)
# A run that is reused (same config, text and training code) only touches its metrics.json.
ifeq ($(SCHEDULER),)
$(BASELINE_RUNS): $(EXPERIMENTS_DIR)/%/metrics.json: $(DATA) $(BASELINE_SRC) | $(SETUP)
	$(PY) -m charrnn baseline --kind $(firstword $(subst -seed, ,$*)) --data $(abspath $(DATA)) \
	  --chars $(EXPERIMENT_CHARS) --seed $(lastword $(subst -seed, ,$*)) --out $(@D) --force
	@touch -c $@
else
# With SCHEDULER=tcp://HOST:8786 the variants and baselines are one sweep on that Dask cluster
# (charrnn experiment --all: the same jobs, folders and config.json, so runs made either way are
# reused), with EXPERIMENTS_DIR/results.csv; the other jobs of the report run here, JOBS at once.
$(EXPERIMENT_RUNS) $(BASELINE_RUNS) &: $(DATA) $(EXPERIMENT_SRC) $(BASELINE_SRC) $(GRID_SRC) | $(SETUP)
	$(PY) -m charrnn experiment --all "$(EXPERIMENTS)" --baselines "$(BASELINES)" \
	  --chars $(EXPERIMENT_CHARS) --data $(abspath $(DATA)) --out-dir $(abspath $(EXPERIMENTS_DIR)) \
	  --scheduler $(SCHEDULER)
	@touch -c $(EXPERIMENT_RUNS) $(BASELINE_RUNS)
endif

# A run's metrics.json is written last and atomically by charrnn itself, and it marks a finished
# run: make must never delete one. Without this, .DELETE_ON_ERROR would let a make whose recipe
# failed (another make holds the folder) delete the metrics.json the other one had just written.
.PRECIOUS: $(RUN_DIRS:%=%/metrics.json) $(HELDOUT_DIRS:%=%/metrics.json) $(EXPERIMENT_RUNS) \
  $(BASELINE_RUNS)

# The learning-rate selection: seed 1 of every variant (but the long run, whose recipe is
# m256cos's) and baseline at its own rate times each of LR_FACTORS, LR_CHARS training characters
# each, scored on the validation text; prints each model's rate and writes lr.json beside the runs.
LR_CHARS ?= 1000000
LR_FACTORS ?= 0.5 1 2
LR_DIR := $(RUNS)/lr-$(DATA_NAME)-$(LR_CHARS)
lr: $(SETUP) $(DATA)  ## choose each model's learning rate on the validation text (LR_FACTORS, LR_CHARS)
	$(PY) -m charrnn experiment --all "$(filter-out best,$(EXPERIMENTS))" --baselines "$(BASELINES)" \
	  --lr-factors "$(LR_FACTORS)" --chars $(LR_CHARS) --data $(abspath $(DATA)) \
	  --out-dir $(abspath $(LR_DIR)) $(if $(SCHEDULER),--scheduler $(SCHEDULER),--workers $(JOBS))

baselines: $(SETUP) $(DATA)  ## train the LSTM and GRU baselines (EXPERIMENT_CHARS each, PyTorch)
	@$(SUBMAKE) $(BASELINE_RUNS)

# What the hidden units learned (charrnn units, after Karpathy et al. 2015) on the last 1/20 of
# the text: the first seed's handout run (trained on all of it), the experiments' sequential
# variant and the LSTM baseline's h_t and c_t (both trained with that part held out).
$(REPORTS)/units.json: $(word 1,$(RUN_DIRS))/metrics.json $(DATA) $(UNITS_SRC) | $(SETUP)
	@mkdir -p $(@D)
	$(PY) -m charrnn units --checkpoint $(word 1,$(RUN_DIRS))/best.npz --data $(DATA) --json $@

# The sequential variant's folder is sequential/ or, with one folder per seed, sequential-seed1/.
$(REPORTS)/units-holdout.json: $(filter %/sequential-seed1/metrics.json,$(EXPERIMENT_RUNS)) $(DATA) $(UNITS_SRC) | $(SETUP)
	@mkdir -p $(@D)
	ckpt=$(EXPERIMENTS_DIR)/sequential-seed1/best.npz; test -f $$ckpt || ckpt=$(EXPERIMENTS_DIR)/sequential/best.npz; \
	  $(PY) -m charrnn units --checkpoint $$ckpt --data $(DATA) --json $@

$(REPORTS)/units-lstm.json: $(EXPERIMENTS_DIR)/lstm-seed1/metrics.json $(DATA) $(UNITS_BASELINE_SRC) | $(SETUP)
	@mkdir -p $(@D)
	$(PY) -m charrnn units --baseline $(EXPERIMENTS_DIR)/lstm-seed1 --data $(DATA) --json $@

# Reference points for bits/char on the experiments' test text (n-grams, PPMd, compressors).
$(REPORTS)/calibrate.json: $(DATA) $(CALIBRATE_SRC) | $(SETUP)
	@mkdir -p $(@D)
	$(PY) -m charrnn calibrate --data $(abspath $(DATA)) --json $@

# How much context each model uses and how its gradients vanish: the first held-out handout run,
# m256cos and the long run (when EXPERIMENTS has them), the first seed of each gated baseline.
# Dynamic evaluation, the longest study, takes the handout model, the long run and the gated
# models, not m256cos.
# $(call study_models,VARIANTS): the --checkpoint and --baseline arguments; study_runs: their runs
study_models = --checkpoint handout=$(word 1,$(HELDOUT_DIRS))/best.npz \
  $(foreach v,$(1),$(if $(filter $(v),$(EXPERIMENTS)),--checkpoint $(v)=$(EXPERIMENTS_DIR)/$(v)-seed1/best.npz)) \
  $(foreach b,$(filter %-seed1,$(BASELINE_JOBS)),--baseline $(firstword $(subst -, ,$(b)))=$(EXPERIMENTS_DIR)/$(b))
# They wait for these runs only (not for every experiment), so that make can start them early.
study_runs = $(word 1,$(HELDOUT_DIRS))/metrics.json \
  $(foreach v,$(1),$(if $(filter $(v),$(EXPERIMENTS)),$(EXPERIMENTS_DIR)/$(v)-seed1/metrics.json)) \
  $(filter %-seed1/metrics.json,$(BASELINE_RUNS)) $(DATA)
STUDY_MODELS := $(call study_models,m256cos best)
STUDY_RUNS := $(call study_runs,m256cos best)
DYNAMIC_MODELS := $(call study_models,best)
DYNAMIC_RUNS := $(call study_runs,best)
$(REPORTS)/context.json: $(STUDY_RUNS) $(CONTEXT_SRC) | $(SETUP)
	@mkdir -p $(@D)
	$(PY) -m charrnn context --data $(abspath $(DATA)) $(STUDY_MODELS) $(CONTEXT_LIMITS) --json $@

$(REPORTS)/dynamic.json: $(DYNAMIC_RUNS) $(DYNAMIC_SRC) | $(SETUP)
	@mkdir -p $(@D)
	$(PY) -m charrnn dynamic --data $(abspath $(DATA)) $(DYNAMIC_MODELS) $(DYNAMIC_LIMITS) --json $@

$(REPORTS)/gradients.json: $(STUDY_RUNS) $(GRADIENTS_SRC) | $(SETUP)
	@mkdir -p $(@D)
	$(PY) -m charrnn gradients --data $(abspath $(DATA)) $(STUDY_MODELS) $(GRADIENT_LIMITS) --json $@

# The scaling sweep (SCALING) into its own folder per spec and text; one local worker (make runs
# other jobs beside it), or the Dask cluster at SCHEDULER. A run of the same settings, text and
# training code is reused.
SCALING_DIR := $(RUNS)/sweep-$(basename $(notdir $(SCALING)))-$(DATA_NAME)
$(SCALING_DIR)/results.json: $(SCALING) $(DATA) $(SCALING_SRC) | $(SETUP)
	$(PY) -m charrnn sweep $(SCALING) --data $(abspath $(DATA)) --out $(abspath $(SCALING_DIR)) \
	  $(if $(SCHEDULER),--scheduler $(SCHEDULER),--workers 1)

BENCH_SETTINGS := DATA=$(abspath $(DATA)) NAME=$(DATA_NAME) BENCH_UPDATES=$(BENCH_UPDATES) BENCH_REPS=$(BENCH_REPS)
$(REPORTS)/.bench-settings: FORCE
	@mkdir -p $(@D)
	@echo '$(BENCH_SETTINGS)' | cmp -s - $@ || echo '$(BENCH_SETTINGS)' > $@

# Within make report the benchmark waits (order-only) for every other input of the report, so it
# never runs beside another job; `make bench` alone runs only the benchmark.
# The holdout model is the sequential variant: without it in EXPERIMENTS the report says "not yet".
UNITS_HOLDOUT := $(if $(filter sequential,$(EXPERIMENTS)),$(REPORTS)/units-holdout.json)
# make starts them in this order, two at a time, as their prerequisites are done: the first
# held-out handout run (which the studies of single models need) beside the experiments, whose list
# begins with the long run, then the baselines, the scaling sweep and those studies, of which
# dynamic evaluation is the longest; the other handout runs, about a minute each, then the short
# jobs fill the end, so that no job is left running alone.
STUDY_FIRST := $(word 1,$(HELDOUT_DIRS:%=%/metrics.json))
SHORT_JOBS = $(REPORTS)/calibrate.json $(GRADCHECK) $(UNITS_HOLDOUT) $(REPORTS)/units-lstm.json
REPORT_INPUTS = $(STUDY_FIRST) $(EXPERIMENTS_DIR)/summary.json $(BASELINE_RUNS) \
  $(SCALING_DIR)/results.json $(REPORTS)/dynamic.json $(REPORTS)/context.json $(REPORTS)/gradients.json \
  $(RUN_DIRS:%=%/metrics.json) $(filter-out $(STUDY_FIRST),$(HELDOUT_DIRS:%=%/metrics.json)) \
  $(SHORT_JOBS) $(REPORTS)/sampling_study.json $(REPORTS)/units.json
BENCH_AFTER = $(if $(filter %report.pdf %report.ipynb,$(MAKECMDGOALS)),$(REPORT_INPUTS))
# make starts every target whose prerequisites are done, the training runs (the leaves) first:
# left alone, the handout runs and the short jobs would start beside the experiments, and the
# studies of single models, which need a few of the last runs, would end the report one at a
# time. Within make report the handout runs but the first held-out one, and the short jobs,
# therefore wait (order-only) for dynamic evaluation.
ifneq ($(filter %report.pdf %report.ipynb,$(MAKECMDGOALS)),)
$(RUN_DIRS:%=%/metrics.json) $(filter-out $(STUDY_FIRST),$(HELDOUT_DIRS:%=%/metrics.json)) $(SHORT_JOBS): | $(REPORTS)/dynamic.json
endif
$(REPORTS)/bench.json: $(REPORTS)/.bench-settings $(DATA) $(BENCH_SRC) benchmarks/bench.py benchmarks/classic.py | $(SETUP) $(BENCH_AFTER)
	@mkdir -p $(@D)
	$(PY) benchmarks/bench.py --data $(DATA) --n-updates $(BENCH_UPDATES) --reps $(BENCH_REPS) --json $@

# The sampling study of the best seed's run (lowest best smooth loss), and the test loss against
# the temperature of the held-out run with the lowest validation loss; .settings: the seeds or text changed.
$(REPORTS)/sampling_study.json: $(REPORTS)/.settings $(RUN_DIRS:%=%/metrics.json) \
  $(HELDOUT_DIRS:%=%/metrics.json) $(STUDY_SRC) | $(SETUP)
	@mkdir -p $(@D)
	$(PY) -m charrnn study --runs $(abspath $(RUN_DIRS)) --json $@ \
	  $(if $(HELDOUT_DIRS),--heldout $(abspath $(HELDOUT_DIRS)))

$(REPORTS)/report.ipynb: notebooks/03_report.ipynb $(REPORTS)/.settings $(REPORT_INPUTS) $(REPORTS)/bench.json $(REPORT_SRC) | $(SETUP)
	@mkdir -p $(@D)
	$(PAPERMILL) notebooks/03_report.ipynb $@ -p run_dirs "$(abspath $(RUN_DIRS))" \
	  -p heldout_dirs "$(abspath $(HELDOUT_DIRS))" -p calibrate_json $(abspath $(REPORTS)/calibrate.json) \
	  -p context_json $(abspath $(REPORTS)/context.json) -p dynamic_json $(abspath $(REPORTS)/dynamic.json) \
	  -p gradients_json $(abspath $(REPORTS)/gradients.json) -p scaling_json $(abspath $(SCALING_DIR)/results.json) \
	  -p gradcheck_json $(abspath $(GRADCHECK)) -p bench_json $(abspath $(REPORTS)/bench.json) \
	  -p sampling_json $(abspath $(REPORTS)/sampling_study.json) -p experiments_dir $(abspath $(EXPERIMENTS_DIR)) \
	  -p units_json $(abspath $(REPORTS)/units.json) -p units_holdout_json '$(abspath $(UNITS_HOLDOUT))' \
	  -p units_lstm_json $(abspath $(REPORTS)/units-lstm.json) -p title_note "$(strip $(TITLE_NOTE))"

$(REPORTS)/report.pdf: $(REPORTS)/report.ipynb $(PDF_SRC) $(PKG)/report/templates/print/index.html.j2 | system-deps
	$(PY) -m charrnn pdf $< $@

report: $(SETUP) system-deps $(DATA)  ## gradient check, training, experiments, baselines, units, benchmark: reports/report.pdf
	@$(SUBMAKE) $(REPORTS)/report.pdf
	@echo "report: $(REPORTS)/report.pdf"

# The tests run in JOBS pytest-xdist workers; the end-to-end tests (make report interrupted, two at
# once, the PDF; notebooks run several times; a Dask cluster with a worker killed) take minutes and
# have a target of their own, which CI also runs.
test: $(SETUP) system-deps  ## run the test suite but the end-to-end tests (JOBS workers)
	$(PY) -m pytest -n $(JOBS) -m "not e2e"

test-fast: $(SETUP)  ## the tests not marked slow: no system packages, under a minute
	$(PY) -m pytest -n $(JOBS) -m "not slow"

test-e2e: $(SETUP) system-deps  ## the end-to-end tests: make report, notebooks, a cluster (minutes)
	$(PY) -m pytest -n $(JOBS) -m e2e

lint: $(SETUP)  ## ruff check of src, tests, benchmarks, tools and data (config in pyproject.toml)
	$(VENV)/bin/ruff check src tests benchmarks tools data

bench: $(SETUP) $(DATA)  ## time classic loop / NumPy / numba / PyTorch side by side (reports/bench.json)
	@$(SUBMAKE) $(REPORTS)/bench.json

# A sweep (charrnn sweep, sweeps/*.yaml): every run of SPEC into $(RUNS)/sweep-NAME/ on JOBS local
# worker processes, or on the Dask scheduler at SCHEDULER (tcp://HOST:8786); finished runs are
# reused, so it is safe to run again. DATA given to make replaces the spec's text.
SPEC ?= sweeps/smoke.yaml
SWEEP_DIR ?= $(RUNS)/sweep-$(basename $(notdir $(SPEC)))
sweep: $(SETUP)  ## train a sweep's runs: SPEC=sweeps/smoke.yaml [SCHEDULER=tcp://HOST:8786] [JOBS=2]
	$(PY) -m charrnn sweep $(SPEC) --out $(SWEEP_DIR) \
	  $(if $(SCHEDULER),--scheduler $(SCHEDULER),--workers $(JOBS)) \
	  $(if $(filter command line environment%,$(origin DATA)),--data $(DATA))

lab: $(SETUP)  ## open JupyterLab on notebooks/ with the project's environment
	$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root )notebooks/

clean:  ## remove runs/ and what reports/ holds (generated; reports/README.md stays)
	rm -rf $(RUNS)
	test ! -d $(REPORTS) || find $(REPORTS) -mindepth 1 ! -name README.md -delete
