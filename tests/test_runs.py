"""The run-folder contract (charrnn.training.runs) under misuse: paths from anywhere, one writer at a time,
sizes checked before work, settings never silently ignored. Real `charrnn train` subprocesses."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from charrnn.model.data import read_text, text_md5
from charrnn.training.runs import LOCK_NAME, acquire, resolve_data

pytestmark = pytest.mark.slow  # about 30 charrnn subprocesses

ROOT = Path(__file__).resolve().parents[1]
TEXT = ("Mr and Mrs Dursley, of number four, Privet Drive, were proud to say that they were "
        "perfectly normal, thank you very much.\n") * 30


def cli(*args, cwd=None, env=None):
    full = {"TQDM_DISABLE": "1", "PATH": "/usr/bin:/bin", **(env or {})}
    return subprocess.run([sys.executable, "-m", "charrnn", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=full)


def one_line_error(r, *fragments):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("charrnn: error: "), r.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture()
def project(tmp_path):
    """A text in a project-like folder with a notebooks/ subfolder (where Jupyter runs)."""
    (tmp_path / "data").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "data" / "t.txt").write_text(TEXT, encoding="utf-8")
    return tmp_path


# ------------------------------------------------------------------ 1. paths from anywhere

def test_a_run_folder_works_from_any_working_directory(project):
    r = cli("train", "--data", "data/t.txt", "--n-updates", 300, "--m", 8, "--checkpoint-every",
            100, "--out", "runs/mine", cwd=project)
    assert r.returncode == 0, r.stderr
    cfg = json.loads((project / "runs" / "mine" / "config.json").read_text())
    assert cfg["data"] == str(project / "data" / "t.txt")  # absolute, with md5 and length
    assert cfg["data_md5"] == text_md5(TEXT) and cfg["data_chars"] == len(TEXT)
    r = cli("train", "--resume", "../runs/mine", "--n-updates", 400, cwd=project / "notebooks")
    assert r.returncode == 0, r.stderr
    assert json.loads((project / "runs" / "mine" / "metrics.json").read_text())["n_updates"] == 400


def test_a_moved_or_changed_text_is_named_and_data_points_at_it_again(project):
    run = project / "runs" / "mine"
    r = cli("train", "--data", "data/t.txt", "--n-updates", 200, "--m", 8, "--checkpoint-every",
            100, "--out", run, cwd=project)
    assert r.returncode == 0, r.stderr
    shutil.move(project / "data" / "t.txt", project / "moved.txt")
    r = cli("train", "--resume", run, "--n-updates", 300)
    one_line_error(r, "the run's text", "t.txt is not there any more", "give --data PATH",
                   text_md5(TEXT))
    (project / "data" / "t.txt").write_text(TEXT.upper(), encoding="utf-8")  # same name, other text
    one_line_error(cli("train", "--resume", run, "--n-updates", 300), "is not the text this run "
                   "was trained on")
    r = cli("train", "--resume", run, "--n-updates", 300, "--data", project / "moved.txt")
    assert r.returncode == 0, r.stderr
    saved = json.loads((run / "config.json").read_text())
    assert saved["data"] == str(project / "moved.txt") and saved["n_updates"] == 300


def test_resolve_data_reads_the_run_text_the_same_way(tmp_path):
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(TEXT.replace("\n", "\r\n").encode())
    lf = read_text(crlf, newline="lf")
    path, text = resolve_data({"data": str(crlf), "data_md5": text_md5(lf)}, newline="lf")
    assert text == lf and path == crlf
    with pytest.raises(ValueError, match="is not the text"):
        resolve_data({"data": str(crlf), "data_md5": text_md5(lf)}, newline="keep")


# ------------------------------------------------------------------ 2. one writer at a time

HOLDER = textwrap.dedent("""
    import sys, time
    from charrnn.training.runs import acquire
    lock = acquire(sys.argv[1])
    print("locked", flush=True)
    time.sleep(60)
""")


def test_a_second_writer_is_refused_and_kill_9_leaves_no_stale_lock(tmp_path):
    run = tmp_path / "busy"
    data = tmp_path / "t.txt"
    data.write_text(TEXT, encoding="utf-8")
    r = cli("train", "--data", data, "--n-updates", 200, "--m", 8, "--checkpoint-every", 100,
            "--out", run)
    assert r.returncode == 0, r.stderr
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
        for args in (["--resume", run, "--n-updates", 300],
                     ["--data", data, "--n-updates", 100, "--m", 8, "--out", run, "--force"]):
            one_line_error(cli("train", *args), f"in use by another charrnn process (pid "
                           f"{holder.pid})")
        after = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
        assert after == before  # nothing touched, temporaries included
        with pytest.raises(ValueError, match=f"pid {holder.pid}"):
            acquire(run)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with acquire(run):  # the kernel released the dead holder's lock
        assert (run / LOCK_NAME).read_text().strip() == str(os.getpid())
    r = cli("train", "--resume", run, "--n-updates", 300)
    assert r.returncode == 0, r.stderr


# ------------------------------------------------------------------ 3. sizes before work

def test_sizes_are_checked_against_the_text_and_memory_before_anything_is_allocated(tmp_path):
    import resource

    data = tmp_path / "t51.txt"
    data.write_text(TEXT[:51], encoding="utf-8")

    def small_address_space():  # a run that allocated before checking would fail differently
        resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))

    cases = [(["--batch-size", 10**9], "batch_size = 1,000,000,000 streams"),
             (["--batch-size", 10**9, "--order", "random"], "GiB of memory"),
             (["--m", 10**6], "GiB of memory"),
             (["--n-chunks", 10**9, "--holdout", 1], "n_chunks = 1,000,000,000 chunks"),
             (["--sample-length", 10**12], "GiB of memory"),
             (["--final-sample-length", 10**12], "GiB of memory")]
    for args, message in cases:
        out = tmp_path / "out"
        r = subprocess.run([sys.executable, "-m", "charrnn", "train", "--data", str(data),
                            "--out", str(out), *map(str, args)], capture_output=True, text=True,
                           env={"TQDM_DISABLE": "1", "PATH": "/usr/bin:/bin"},
                           preexec_fn=small_address_space)
        one_line_error(r, message)
        assert not out.exists(), args


# ------------------------------------------------------------------ 4. offline default data

def test_no_text_gives_one_line_saying_what_to_do_and_downloads_nothing(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    r = cli("train", "--out", "runs/x", "--n-updates", 10, cwd=tmp_path,
            env={"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "", "HOME": str(tmp_path)})
    one_line_error(r, "no text to train on", "make data", "--data PATH", "data/goblet_book.txt")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "data").exists()


# ------------------------------------------------------------------ 6. nothing ignored on resume

def test_resume_refuses_other_settings_and_another_out(tmp_path):
    data = tmp_path / "t.txt"
    data.write_text(TEXT, encoding="utf-8")
    run = tmp_path / "a"
    r = cli("train", "--data", data, "--n-updates", 200, "--m", 8, "--checkpoint-every", 100,
            "--out", run)
    assert r.returncode == 0, r.stderr
    one_line_error(cli("train", "--resume", run, "--seed", 9), "only --n-updates may change",
                   "seed 9 (the run has 1)")
    one_line_error(cli("train", "--resume", run, "--seed", 9, "--eta", 0.5), "seed 9",
                   "eta 0.5 (the run has 0.001)")
    r = cli("train", "--resume", run, "--seed", 1, "--m", 8, "--n-updates", 250)  # the same: fine
    assert r.returncode == 0, r.stderr
    before = (run / "metrics.json").read_bytes()
    one_line_error(cli("train", "--resume", run, "--out", tmp_path / "b"), "--out", "is refused")
    assert not (tmp_path / "b").exists() and (run / "metrics.json").read_bytes() == before


# ------------------------------------------------------------------ 7. Windows line endings

def test_windows_line_endings_are_named_and_can_be_read_as_lf(tmp_path):
    lf, crlf = tmp_path / "lf.txt", tmp_path / "crlf.txt"
    lf.write_text(TEXT, encoding="utf-8")
    crlf.write_bytes(TEXT.replace("\n", "\r\n").encode())
    K = len(set(TEXT))
    r = cli("train", "--data", crlf, "--n-updates", 50, "--m", 8, "--out", tmp_path / "keep")
    assert r.returncode == 0, r.stderr
    note = [line for line in r.stderr.splitlines() if "Windows line endings" in line]
    assert len(note) == 1 and f"K = {K + 1}" in note[0] and "--newline lf" in note[0]
    r = cli("train", "--data", crlf, "--n-updates", 50, "--m", 8, "--newline", "lf", "--out",
            tmp_path / "lf")
    assert r.returncode == 0 and "Windows" not in r.stderr, r.stderr
    assert f"K = {K}," in r.stdout
    assert json.loads((tmp_path / "lf" / "config.json").read_text())["newline"] == "lf"
    r = cli("evaluate", "--checkpoint", tmp_path / "lf" / "best.npz", "--data", lf)
    assert r.returncode == 0, r.stderr  # the LF text is evaluable by the model of the CRLF copy
    r = cli("evaluate", "--checkpoint", tmp_path / "lf" / "best.npz", "--data", crlf)
    assert r.returncode == 0, r.stderr  # read the way the run read it: \r\n as \n
    r = cli("train", "--resume", tmp_path / "lf", "--n-updates", 60)  # resume reads it as lf too
    assert r.returncode == 0, r.stderr


# ------------------------------------------------------------------ 9. divergence, 11. wording

def test_divergence_names_only_files_that_exist_and_the_folder_can_be_reused(tmp_path):
    data = tmp_path / "t.txt"
    data.write_text(TEXT, encoding="utf-8")
    run = tmp_path / "run"
    r = cli("train", "--data", data, "--n-updates", 300, "--m", 16, "--eta", 1e5, "--out", run)
    assert r.returncode == 1 and "training diverged" in r.stderr
    assert "checkpoint.npz" not in r.stderr and not (run / "checkpoint.npz").exists()
    r = cli("train", "--data", data, "--n-updates", 30, "--m", 16, "--out", run)  # no --force
    assert r.returncode == 0, r.stderr


def test_counts_are_worded_for_one(tmp_path):
    data = tmp_path / "t.txt"
    data.write_text(TEXT[:30], encoding="utf-8")
    r = cli("train", "--data", data, "--n-updates", 1, "--m", 4, "--seq-length", 29, "--out",
            tmp_path / "run")
    assert r.returncode == 0, r.stderr
    assert "1 update per epoch; 1 update in" in r.stdout
    assert "updates" not in r.stdout.split("best")[0].replace("updates/s", "")
    assert "0 updates/s" not in r.stdout
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["n_updates"] == 1 and np.isfinite(m["best_smooth_loss"])
