"""The Makefile's early checks (issue 14): a bad variable stops make at parse time, with one sentence
naming it and what is allowed, before any recipe runs; and `make lab` as root passes --allow-root.

Every test runs ``make -n`` (print, do not run) with RUNS and REPORTS in pytest's tmp_path: a parse-time
error prints no command at all and creates no folder.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")

#: Variables of the Makefile (and make's own) that the caller's environment must not set here.
CLEAN_ENV = ("MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKELEVEL", "DATA", "PRESET", "SEEDS",
             "N_UPDATES", "SAMPLE_EVERY", "EXPERIMENT_CHARS", "EXPERIMENTS", "RUNS", "REPORTS",
             "BENCH_UPDATES", "BENCH_REPS", "JOBS", "CHECK_FOR", "QUICK", "TITLE_NOTE", "SCHEDULER")


def make_n(tmp_path, *args, goal="report", data=None):
    """``make -n GOAL ARGS`` in the project, with a small text and output folders in tmp_path."""
    if data is None:
        data = tmp_path / "text.txt"
        data.write_text("hello world\n" * 10, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    cmd = ["make", "-n", goal, f"RUNS={tmp_path / 'runs'}", f"REPORTS={tmp_path / 'reports'}",
           f"DATA={data}", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def assert_stops(out, tmp_path, sentence):
    """make failed at parse time with ``sentence``: no command printed, no folder made."""
    assert out.returncode != 0, out.stdout
    assert sentence in out.stderr, out.stderr
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "reports").exists()


@pytest.mark.parametrize("goal", ["report", "experiments", "baselines", "bench"])
@pytest.mark.parametrize("var", ["N_UPDATES", "SAMPLE_EVERY", "EXPERIMENT_CHARS", "BENCH_UPDATES",
                                 "BENCH_REPS", "JOBS"])
def test_zero_is_refused_for_every_count(tmp_path, var, goal):
    out = make_n(tmp_path, f"{var}=0", goal=goal)
    assert_stops(out, tmp_path, f'{var}="0" must be a positive whole number (1, 2, 3, ...)')


@pytest.mark.parametrize("value", ["", "-5", "1.5", "4e6", "10 20", "x", "007"])
def test_counts_must_be_one_positive_whole_number(tmp_path, value):
    out = make_n(tmp_path, f"N_UPDATES={value}")
    assert_stops(out, tmp_path, f'N_UPDATES="{value}" must be a positive whole number')


@pytest.mark.parametrize("value", ["", "1 x", "-1", "1 2 1", "01 1"])  # 01 is seed 1 again
def test_seeds_must_be_different_whole_numbers(tmp_path, value):
    out = make_n(tmp_path, f"SEEDS={value}")
    assert_stops(out, tmp_path, f'SEEDS="{value}" must be one or more different whole numbers '
                                "(0, 1, 2, ...), one handout run each")


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "python").exists(), reason="needs .venv")
def test_unknown_experiment_variants_are_named(tmp_path):
    out = make_n(tmp_path, "EXPERIMENTS=B8 nosuch")
    assert_stops(out, tmp_path, 'EXPERIMENTS="B8 nosuch": unknown variant(s) nosuch; expected some '
                                "of sequential, random")
    # the make that the public targets start checks again (it runs after setup, on a fresh clone)
    out = make_n(tmp_path, "EXPERIMENTS=nosuch", "CHECK_FOR=report",
                 goal=str(tmp_path / "reports" / "report.pdf"))
    assert_stops(out, tmp_path, 'EXPERIMENTS="nosuch": unknown variant(s) nosuch')


def test_a_path_with_a_space_gets_the_sentence_about_spaces(tmp_path):
    data = tmp_path / "my text.txt"
    data.write_text("hello world\n" * 10, encoding="utf-8")
    out = make_n(tmp_path, data=data)
    assert_stops(out, tmp_path, "DATA must be a path without spaces; copy or link the text to one")


def test_a_missing_text_is_named(tmp_path):
    out = make_n(tmp_path, data=tmp_path / "nope.txt")
    assert_stops(out, tmp_path, f"DATA={tmp_path / 'nope.txt'} does not exist")


def test_good_settings_pass_and_reach_the_sub_make(tmp_path):
    out = make_n(tmp_path, "SEEDS=0 7", "N_UPDATES=10", "JOBS=1", "EXPERIMENTS=B8 sequential")
    assert out.returncode == 0, out.stderr
    assert "-j1 --no-print-directory CHECK_FOR=report" in out.stdout
    assert not (tmp_path / "runs").exists() and not (tmp_path / "reports").exists()


def test_other_targets_are_not_checked(tmp_path):
    out = make_n(tmp_path, "N_UPDATES=0", "JOBS=0", goal="help")
    assert out.returncode == 0, out.stderr


def test_lab_allows_root_only_as_root(tmp_path):
    out = make_n(tmp_path, goal="lab")
    assert out.returncode == 0, out.stderr
    lab = [line for line in out.stdout.splitlines() if "jupyter lab" in line]
    assert len(lab) == 1
    assert ("--allow-root" in lab[0]) == (os.geteuid() == 0)


def test_a_scheduler_trains_the_report_grid_as_one_sweep(tmp_path):
    """SCHEDULER: the variants' seeds and the baselines are one ``charrnn experiment --all`` on the
    cluster; without it, one make job each (JOBS at once)."""
    pdf = str(tmp_path / "reports" / "report.pdf")  # the inner make's goal: make -n shows its recipes
    out = make_n(tmp_path, "SCHEDULER=tcp://127.0.0.1:8786", "EXPERIMENTS=sequential B8", goal=pdf)
    assert out.returncode == 0, out.stderr
    grid = [line for line in out.stdout.splitlines() if "charrnn experiment" in line]
    assert len(grid) == 1 and '--all "sequential B8" --baselines "lstm gru"' in grid[0]
    assert "--scheduler tcp://127.0.0.1:8786" in out.stdout and "charrnn baseline" not in out.stdout
    here = make_n(tmp_path, "EXPERIMENTS=sequential B8", goal=pdf)
    assert here.stdout.count("charrnn experiment ") == 6 and "--all" not in here.stdout
    assert here.stdout.count("charrnn baseline ") == 6  # LSTM and GRU, 3 seeds each
    for kind in ("lstm", "gru"):
        for seed in (1, 2, 3):
            assert f"--kind {kind} " in here.stdout and f"--seed {seed} --out " in here.stdout
            assert f"/{kind}-seed{seed} --force" in here.stdout


def test_quick_makes_small_budgets_and_says_so_on_the_title_page(tmp_path):
    pdf = str(tmp_path / "reports" / "report.pdf")
    out = make_n(tmp_path, "QUICK=1", goal=pdf)
    assert out.returncode == 0, out.stderr
    assert "-p n_updates 5000" in out.stdout and "--chars 200000" in out.stdout
    assert "--n-updates 200 --reps 1" in out.stdout
    assert '-p title_note "Quick report (make report QUICK=1): 5000 updates per handout seed' \
        in out.stdout
    # the studies of single models read part of the held-out text, and the title says so
    lines = out.stdout.splitlines()
    for cmd, limit in (("context", "--positions 200"), ("gradients", "--positions 50"),
                       ("dynamic", "--chars 5000")):
        assert any(f"charrnn {cmd} " in ln and limit in ln for ln in lines), cmd
    assert "dynamic evaluation on the first 5000 characters" in out.stdout
    full = make_n(tmp_path, goal=pdf)
    assert '-p title_note ""' in full.stdout and "-p n_updates 150000" in full.stdout
    assert "--chars 5000" not in full.stdout and "--positions" not in full.stdout
    # a budget given beside QUICK wins; a QUICK the Makefile does not know is refused
    assert "-p n_updates 700" in make_n(tmp_path, "QUICK=1", "N_UPDATES=700", goal=pdf).stdout
    assert_stops(make_n(tmp_path, "QUICK=yes"), tmp_path, 'QUICK="yes" must be 1')


def test_make_never_deletes_a_run_s_metrics_json(tmp_path):
    """A run's metrics.json marks a finished run and charrnn writes it atomically: every one is
    .PRECIOUS, so that .DELETE_ON_ERROR cannot delete the file that another make (holding the
    folder) has just written, when this make's recipe for it fails on the lock."""
    text = tmp_path / "text.txt"
    text.write_text("hello world\n" * 10, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    out = subprocess.run(["make", "-pn", "report", f"RUNS={tmp_path / 'runs'}",
                          f"REPORTS={tmp_path / 'reports'}", f"DATA={text}"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    runs = {}
    for block in out.stdout.split("\n\n"):
        for line in block.splitlines():
            target = line.split(":")[0]
            if line.startswith(str(tmp_path / "runs")) and target.endswith("/metrics.json") \
                    and "%" not in target:  # not the pattern rules themselves
                runs[target] = block
    kinds = {Path(t).parent.name.rpartition("-seed")[0].rsplit("-", 1)[-1] for t in runs}
    assert {"holdout", "n150000", "m256", "lstm", "gru", "sequential"} <= kinds, sorted(kinds)
    loose = [t for t, b in runs.items() if "Precious file" not in b]
    assert not loose, loose


def test_make_report_keeps_the_handout_runs_and_short_jobs_for_the_end(tmp_path):
    """make starts every leaf first; within make report the handout runs (but the first held-out
    one, which the studies need) and the short jobs wait (order-only) for dynamic evaluation, so
    that they fill the end and the studies and the scaling sweep do not run last."""
    text = tmp_path / "text.txt"
    text.write_text("hello world\n" * 10, encoding="utf-8")
    reports = tmp_path / "reports"
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    out = subprocess.run(["make", "-pn", str(reports / "report.pdf"), f"RUNS={tmp_path / 'runs'}",
                          f"REPORTS={reports}", f"DATA={text}"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rules = {}
    for line in out.stdout.splitlines():
        target, sep, rest = line.partition(": ")
        if sep and not line.startswith(("#", "\t")) and "%" not in target:
            rules.setdefault(target, []).append(rest)
    dynamic = str(reports / "dynamic.json")

    def waits(target: str) -> bool:
        return any("|" in r and dynamic in r.split("|", 1)[1] for r in rules.get(target, []))

    runs = [t for t in rules if t.endswith("/metrics.json") and "-adam-n150000-" in t]
    first = [t for t in runs if t.endswith("holdout-seed1/metrics.json")]
    assert len(runs) == 6 and len(first) == 1, runs
    assert not waits(first[0]) and all(waits(t) for t in runs if t != first[0])
    for short in ("calibrate.json", "units-lstm.json", "units-holdout.json"):
        assert waits(str(reports / short)), short
    sweep = [t for t in rules if t.endswith("/results.json") and "sweep-scaling" in t]
    waits_for = " ".join(r.split("|", 1)[1] for r in rules[sweep[0]] if "|" in r)
    assert sweep and not any(s in waits_for for s in ("dynamic", "context", "gradients"))
