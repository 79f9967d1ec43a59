"""`make report` end to end on a small text: the PDF has the report's sections, rendered math,
and a second `make report` does nothing."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.e2e]  # make report end to end: minutes (make test-e2e)

ROOT = Path(__file__).resolve().parents[1]
TEXT = ("Mr and Mrs Dursley, of number four, Privet Drive, were proud to say that they were "
        "perfectly normal, thank you very much.\n") * 60


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip("runs make with the project's .venv (make test)")
    tmp = tmp_path_factory.mktemp("pipeline")
    data = tmp / "small.txt"
    data.write_text(TEXT, encoding="utf-8")
    args = ["make", "-C", str(ROOT), "report", f"DATA={data}", "N_UPDATES=300", "SEEDS=1 2",
            "SAMPLE_EVERY=100", f"RUNS={tmp / 'runs'}", f"REPORTS={tmp / 'reports'}",
            "EXPERIMENT_CHARS=20000", "EXPERIMENTS=sequential B8 m256",
            "BENCH_UPDATES=30", "BENCH_REPS=2", "SCALING=sweeps/smoke.yaml"]
    env = dict(os.environ, TQDM_DISABLE="1")
    first = subprocess.run(args, capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for noise in ("KeyboardInterrupt caught in kernel", "without encryption", "Traceback"):
        assert noise not in first.stdout + first.stderr, noise  # charrnn.nbrun keeps the kernel quiet
    pdf = tmp / "reports" / "report.pdf"
    mtime = pdf.stat().st_mtime_ns
    second = subprocess.run(args, capture_output=True, text=True, env=env)
    assert second.returncode == 0, second.stderr[-2000:]
    return tmp, pdf, mtime, second


def test_pdf_has_the_four_items_and_rendered_math(report):
    from pypdf import PdfReader

    _, pdf, _, _ = report
    import unicodedata

    text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    text = unicodedata.normalize("NFKC", text)  # the PDF's fonts use ligatures such as "fi"
    for heading in ("(i) Gradient check", "(ii) Smooth loss", "(iii) Evolution of the synthesized",
                    "(iv) A passage from the best model", "Seeds", "Data and settings",
                    "Sampling strategies", "Experiments: training order", "Lowest loss:",
                    "Gated baselines", "What the hidden units learned"):
        assert heading in text, heading
    assert "We believe the gradients are correct" in text
    assert "mean ± std" in text.replace("\u00a0", " ")  # two seeds give the seed table's summary row
    assert "$" not in text  # MathJax rendered every formula
    assert "after 300 updates" in text and "before the first update" in text
    assert "Speed" in text and "numba" in text
    assert "then every 100 updates" in text
    # the baselines beside the vanilla m256 variant, the units of three models, no "not yet"
    text = " ".join(text.split())  # table cells wrap
    assert "vanilla m 256" in text and "LSTM h " in text and "GRU h " in text
    assert re.search(r"bits/char on the test text \((one seed|mean of \d seeds)\), against", text)
    assert "War and Peace" in text
    for section in ("Reference points", "How much context each model uses",
                    "Learning while reading: dynamic evaluation", "How the gradients vanish",
                    "How the models scale"):
        assert section in text, section
    assert "Figure 1." in text and "Table 1." in text  # numbered captions
    assert "handout model" in text and "holdout model" in text and "LSTM c_t" in text
    assert "Karpathy, Johnson & Fei-Fei" in text and "Not yet" not in text


def test_runs_have_their_files_and_the_second_make_does_nothing(report):
    tmp, pdf, mtime, second = report
    import hashlib

    digest = hashlib.md5((tmp / "small.txt").read_bytes()).hexdigest()[:8]
    for seed in (1, 2):
        run = tmp / "runs" / f"small-{digest}-adam-n300-seed{seed}"
        for name in ("02_train.ipynb", "config.json", "history.csv", "samples.json",
                     "metrics.json", "best.npz"):
            assert (run / name).is_file(), (seed, name)
    assert (tmp / "runs" / f"gradcheck-small-{digest}" / "gradcheck.json").is_file()
    assert (tmp / "reports" / "bench.json").is_file()
    for name in ("units.json", "units-holdout.json", "units-lstm.json"):
        assert (tmp / "reports" / name).is_file(), name
    experiments = tmp / "runs" / f"experiments-small-{digest}-20000"
    assert {f"{k}-seed{s}" for k in ("lstm", "gru") for s in (1, 2, 3)} <= \
        {d.name for d in experiments.iterdir() if (d / "model.pt").is_file()}
    for name in ("calibrate.json", "context.json"):
        assert (tmp / "reports" / name).is_file(), name
    for seed in (1, 2):  # the handout runs with the held-out chunk removed
        assert (tmp / "runs" / f"small-{digest}-adam-n300-holdout-seed{seed}" / "metrics.json").is_file()
    assert pdf.stat().st_mtime_ns == mtime
    assert "charrnn.nbrun" not in second.stdout  # no notebook ran


# ------------------------------------------------------------------ interrupted, and two at once

TIMINGS = ("time", "per_s", "markdown")  # measured, not computed: they differ between runs


def numbers(runs: Path) -> dict:
    """Every metrics.json and summary.json under ``runs`` (by path relative to it), without the
    timings."""
    import json

    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if not any(t in k for t in TIMINGS)}
        return [strip(v) for v in x] if isinstance(x, list) else x

    return {str(p.relative_to(runs)): strip(json.loads(p.read_text()))
            for name in ("metrics.json", "summary.json") for p in sorted(runs.rglob(name))}


def start_make(report, tmp, name):
    """``make report`` of the fixture's settings into other RUNS and REPORTS, in a process
    group of its own (as a terminal starts it)."""
    first_tmp = report[0]
    args = ["make", "-C", str(ROOT), "report", f"DATA={first_tmp / 'small.txt'}", "N_UPDATES=300",
            "SEEDS=1 2", "SAMPLE_EVERY=100", f"RUNS={tmp / 'runs'}",
            f"REPORTS={tmp / ('reports-' + name)}", "EXPERIMENT_CHARS=20000",
            "EXPERIMENTS=sequential B8 m256", "BENCH_UPDATES=30", "BENCH_REPS=2",
            "SCALING=sweeps/smoke.yaml"]
    env = dict(os.environ, TQDM_DISABLE="1")
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, start_new_session=True)


@pytest.mark.parametrize("sig", ["SIGINT", "SIGKILL"])
def test_an_interrupted_make_report_carries_on_and_ends_with_the_same_numbers(report, tmp_path,
                                                                              sig):
    import signal
    import time

    proc = start_make(report, tmp_path, "a")
    deadline = time.monotonic() + 300
    # stop it as soon as an experiment has started (its config.json is written first)
    while not list((tmp_path / "runs").glob("experiments-*/*-seed*/config.json")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()[-3000:]
        time.sleep(0.02)
    os.killpg(proc.pid, getattr(signal, sig))
    proc.wait(timeout=120)
    assert proc.returncode != 0
    again = start_make(report, tmp_path, "a")
    out, _ = again.communicate(timeout=900)
    assert again.returncode == 0, out[-3000:]
    assert "is not a finished run folder" not in out
    assert numbers(tmp_path / "runs") == numbers(report[0] / "runs")


def test_two_make_reports_on_one_runs_folder(report, tmp_path):
    a, b = start_make(report, tmp_path, "a"), start_make(report, tmp_path, "b")
    out_a, _ = a.communicate(timeout=900)
    out_b, _ = b.communicate(timeout=900)
    for code, out in ((a.returncode, out_a), (b.returncode, out_b)):
        # each finishes, or stops at a folder the other one writes, with the lock's sentence
        assert code == 0 or "in use by another charrnn process (pid" in out, out[-3000:]
        assert "is not a finished run folder" not in out
    if a.returncode and b.returncode:
        # each can stop at a folder the other holds (a at X while b writes Y, b at Y while a
        # writes X): nothing is half-written, and make report run again finishes what is left
        again = start_make(report, tmp_path, "a")
        out, _ = again.communicate(timeout=900)
        assert again.returncode == 0, out[-3000:]
    assert numbers(tmp_path / "runs") == numbers(report[0] / "runs")
