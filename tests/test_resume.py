"""Reliability: resuming bit-identically, surviving SIGINT/SIGTERM/SIGKILL, numerical faults."""

import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from charrnn.model.data import updates_per_epoch
from charrnn.training.checkpoint import load_model
from charrnn.training.config import TrainConfig
from charrnn.training.runs import load_run
from charrnn.training.train import Trainer, TrainingDiverged, TrainingInterrupted

TEXT = ("Harry had never been so glad to see the Dursleys. The owl swooped in through the window "
        "and dropped a letter onto Uncle Vernon's plate; he sputtered.\n") * 12


def result_fingerprint(res):
    return {"flat": res.state.flat.copy(), "hist": {k: v.copy() for k, v in res.history.items()},
            "samples": res.samples, "final": res.final_sample, "best_flat": res.best.flat.copy(),
            "best": res.best.meta(),
            "grad_norm_max": (res.metrics["max_grad_norm"], res.metrics["max_grad_norm_update"]),
            "best_hprev": np.array(res.best.hprev),
            "validation": [{k: v for k, v in r.items() if k != "train_time_s"}  # a timing
                           for r in res.validation],
            "smooth": res.state.smooth_loss, "opt": {k: np.array(v) for k, v in
                                                     res.state.optimizer.state().items()}}


def assert_same(a, b):
    assert np.array_equal(a["flat"], b["flat"])
    for k in a["hist"]:
        assert np.array_equal(a["hist"][k], b["hist"][k]), k
    assert a["samples"] == b["samples"] and a["final"] == b["final"]
    assert np.array_equal(a["best_flat"], b["best_flat"])
    assert np.array_equal(a["best_hprev"], b["best_hprev"])
    assert a["best"] == b["best"] and a["validation"] == b["validation"]
    assert a["smooth"] == b["smooth"] and a["grad_norm_max"] == b["grad_norm_max"]
    for k in a["opt"]:
        assert np.array_equal(a["opt"][k], b["opt"][k]), k


CONFIGS = {
    "handout-numba": dict(m=24, seq_length=25, sample_every=40),
    "handout-numpy": dict(m=16, seq_length=25, sample_every=40, engine="numpy"),
    "chunks-B3-validation": dict(m=12, seq_length=10, batch_size=3, order="chunks", n_chunks=6,
                                 holdout=1, eval_every=30, sample_every=50),
    "random-adagrad-cosine": dict(m=12, seq_length=10, order="random", lr_schedule="cosine",
                                  warmup=10, sample_every=35),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_resume_is_bit_identical(tmp_path, name):
    preset = "adagrad" if "adagrad" in name else "adam"
    cfg = TrainConfig.from_preset(preset, n_updates=150, seed=5, log_every=1,
                                  **CONFIGS[name])
    full = result_fingerprint(Trainer(TEXT, cfg).run())
    per_epoch = updates_per_epoch(len(TEXT), 25)
    stops = [1, 37, 149]
    if name.startswith("handout"):
        stops.append(per_epoch)  # exactly at an epoch boundary (the next update resets hprev)
        assert per_epoch < 150
    for stop in stops:
        ckpt = tmp_path / f"{name}-{stop}.npz"
        with pytest.raises(TrainingInterrupted) as info:
            Trainer(TEXT, cfg).run(checkpoint=ckpt, checkpoint_every=1000, stop_at=stop)
        assert info.value.update == stop
        resumed = Trainer.from_checkpoint(ckpt, TEXT)
        assert resumed.state.update == stop
        assert_same(result_fingerprint(resumed.run(checkpoint=ckpt)), full)


def test_resume_twice_and_extend(tmp_path):
    cfg = TrainConfig(m=10, seq_length=20, n_updates=90, seed=2, sample_every=30, log_every=1)
    full = result_fingerprint(Trainer(TEXT, TrainConfig(**{**cfg.to_dict(), "n_updates": 120}))
                              .run())
    ckpt = tmp_path / "c.npz"
    with pytest.raises(TrainingInterrupted):
        Trainer(TEXT, cfg).run(checkpoint=ckpt, stop_at=20)
    with pytest.raises(TrainingInterrupted):
        Trainer.from_checkpoint(ckpt, TEXT).run(checkpoint=ckpt, stop_at=55)
    Trainer.from_checkpoint(ckpt, TEXT).run(checkpoint=ckpt)  # finishes at 90 and checkpoints
    extended = Trainer.from_checkpoint(ckpt, TEXT, n_updates=120)  # a longer run continues exactly
    assert_same(result_fingerprint(extended.run()), full)
    with pytest.raises(ValueError, match="below the 90 updates"):
        Trainer.from_checkpoint(ckpt, TEXT, n_updates=50)


def test_checkpoint_refuses_other_texts_and_broken_files(tmp_path):
    ckpt = tmp_path / "c.npz"
    Trainer(TEXT, TrainConfig(m=6, seq_length=10, n_updates=5)).run(checkpoint=ckpt)
    with pytest.raises(ValueError, match=r"vocabulary mismatch: the text has '#'"):
        Trainer.from_checkpoint(ckpt, TEXT + "#")
    with pytest.raises(ValueError, match=r"the checkpoint has 'H'.*that the text lacks"):
        Trainer.from_checkpoint(ckpt, TEXT.replace("H", "h"))
    with pytest.raises(ValueError, match="text differs"):
        Trainer.from_checkpoint(ckpt, TEXT[::-1])
    broken = tmp_path / "broken.npz"
    broken.write_bytes(ckpt.read_bytes()[:1000])
    with pytest.raises(ValueError, match="not a readable charrnn checkpoint"):
        Trainer.from_checkpoint(broken, TEXT)
    with pytest.raises(ValueError, match="not found"):
        Trainer.from_checkpoint(tmp_path / "none.npz", TEXT)
    with np.load(ckpt, allow_pickle=False) as z:  # no pickle inside
        assert all(z[k].dtype != object for k in z.files)


def test_divergence_stops_with_the_update_and_keeps_the_last_good_checkpoint(tmp_path):
    ckpt = tmp_path / "c.npz"
    cfg = TrainConfig(m=16, seq_length=10, n_updates=400, eta=1e5, seed=1, sample_every=1000)
    with pytest.raises(TrainingDiverged, match=r"non-finite loss or parameters at update \d+") \
            as info:
        Trainer(TEXT, cfg).run(checkpoint=ckpt, checkpoint_every=1)
    bad = info.value.update
    assert 1 <= bad <= 400 and info.value.last_good == bad - 1 or info.value.last_good < bad
    with np.load(ckpt, allow_pickle=False) as z:
        for k in z.files:
            if z[k].dtype.kind == "f":
                assert np.all(np.isfinite(z[k])), k
    meta = json.loads(str(np.load(ckpt)["meta"]))
    assert meta["update"] == info.value.last_good < bad


def cli(*args):
    return [sys.executable, "-m", "charrnn", *map(str, args)]


ENV = dict(os.environ, TQDM_DISABLE="1")


def wait_for(path, proc, timeout=60):
    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < timeout
        time.sleep(0.05)


@pytest.mark.slow  # subprocess runs of 8,000 updates
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_a_checkpoint_and_resume_matches(tmp_path, sig):
    data = tmp_path / "t.txt"
    data.write_text(TEXT * 20, encoding="utf-8")
    common = ["--data", data, "--n-updates", 8000, "--m", 32, "--checkpoint-every", 1000,
              "--sample-every", 2000, "--engine", "numpy"]
    ref = subprocess.run(cli("train", *common, "--out", tmp_path / "full"), env=ENV,
                         capture_output=True, text=True)
    assert ref.returncode == 0, ref.stderr
    proc = subprocess.Popen(cli("train", *common, "--out", tmp_path / "part"), env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(tmp_path / "part" / "checkpoint.npz", proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted after update" in err and "--resume" in err
    r = subprocess.run(cli("train", "--resume", tmp_path / "part"), env=ENV,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    a, b = load_run(tmp_path / "full"), load_run(tmp_path / "part")
    for k in a["history"]:
        assert np.array_equal(a["history"][k], b["history"][k])
    assert a["samples"] == b["samples"] and a["best_sample"] == b["best_sample"]
    ma, mb = load_model(tmp_path / "full" / "best.npz"), load_model(tmp_path / "part" / "best.npz")
    for k in ma.params:
        assert np.array_equal(ma.params[k], mb.params[k])


def check_folder_is_complete(folder):
    for f in folder.iterdir():
        if f.name.endswith(".tmp"):  # a killed writer's temporary: never an output
            continue
        if f.suffix == ".npz":
            with np.load(f, allow_pickle=False) as z:
                for k in z.files:
                    z[k]
        elif f.suffix == ".json":
            json.loads(f.read_text(encoding="utf-8"))
        elif f.suffix == ".csv":
            lines = f.read_text(encoding="utf-8").splitlines()
            assert all(len(line.split(",")) == len(lines[0].split(",")) for line in lines)


def file_version(path):
    """What tells one written version of ``path`` from the next (each write renames a new file
    into place), or None while there is none."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size


def wait_for_new_versions(path, proc, n, timeout=120):
    """Wait until ``path`` has been replaced ``n`` times by the running ``proc`` (checked every
    millisecond); returns the times of the replacements. Fails when ``proc`` ends first."""
    version, times, t0 = file_version(path), [], time.monotonic()
    while len(times) < n:
        now = file_version(path)
        if now != version:
            version = now
            times.append(time.monotonic())
            continue
        assert proc.poll() is None, f"the run ended after {len(times)} of {n} new {path.name}"
        assert time.monotonic() - t0 < timeout, f"no new {path.name} in {timeout} s"
        time.sleep(0.001)
    return times


def wait_for_a_write(path, proc, most=20, timeout=120):
    """Wait until a temporary file of ``path`` appears (its writer has begun a write; the run
    removed stale ones when it started) or ``path`` has been replaced ``most`` times; True in
    the first case."""
    version, n, t0 = file_version(path), 0, time.monotonic()
    while not list(path.parent.glob(f".{path.name}.*.tmp")):
        now = file_version(path)
        if now != version:
            version, n = now, n + 1
            if n >= most:
                return False
        assert proc.poll() is None, f"the run ended while waiting for a write of {path.name}"
        assert time.monotonic() - t0 < timeout, f"no write of {path.name} in {timeout} s"
        time.sleep(0.0005)
    return True


KILLS = 6


@pytest.mark.slow  # kill -9 at random moments of a subprocess run
def test_sigkill_never_leaves_a_broken_file(tmp_path):
    """Exactly KILLS kill -9s at moments set by the run's progress, not by the clock, so the
    count holds on a machine of any speed. In turn: (1) after 2 new checkpoints of the running
    process (every 25 updates), as soon as it begins writing the next (a temporary file is there;
    on a machine too fast to see one in 20 writes, after the 20th); (2) after 2 to 4 new
    checkpoints, a random fraction of the last interval between two, so anywhere in a checkpoint
    interval; (3) at a random moment of a resumed process's start, before its first checkpoint.
    Each round moves the run on by at most about 100 updates of its 6,000 (500 for a machine
    that hides its writes). After every kill every output file is complete; the run then resumes
    to the end with the numbers of an unbroken run."""
    from charrnn.training.checkpoint import checkpoint_meta

    data = tmp_path / "t.txt"
    data.write_text(TEXT * 20, encoding="utf-8")
    out = tmp_path / "run"
    ckpt = out / "checkpoint.npz"
    args = ["--data", data, "--n-updates", 6000, "--m", 48, "--checkpoint-every", 25,
            "--sample-every", 500, "--engine", "numpy"]
    rng = np.random.default_rng(0)
    proc = subprocess.Popen(cli("train", *args, "--out", out), env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started, startup, steps = time.monotonic(), None, []  # steps: (kind, checkpoint's update)
    for k in range(KILLS):
        kind = ("write", "interval", "start")[k % 3]
        if kind == "start":  # a fraction of the time the last process took to its first checkpoint
            time.sleep(float(rng.uniform(0.0, 1.0)) * startup)
        else:
            times = wait_for_new_versions(ckpt, proc, 2 if kind == "write" else int(rng.integers(2, 5)))
            startup = times[0] - started
            if kind == "write" and not wait_for_a_write(ckpt, proc):
                kind = "write (none seen)"
            elif kind == "interval":
                time.sleep(float(rng.uniform(0.0, 1.0)) * (times[-1] - times[-2]))
        assert proc.poll() is None, "the run ended before its kill"
        proc.kill()
        proc.wait()
        proc.stderr.close()
        check_folder_is_complete(out)
        steps.append((kind, checkpoint_meta(ckpt)["update"]))
        proc = subprocess.Popen(cli("train", "--resume", out, "--checkpoint-every", 25), env=ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started = time.monotonic()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    # each resume went on from the checkpoint the kill left: 2 or more new ones before a kill
    # that waited for them, never fewer than before
    last = 0
    for kind, update in steps:
        assert update >= last + (0 if kind == "start" else 50), steps
        last = update
    assert last < 6000, steps
    check_folder_is_complete(out)
    assert not list(out.glob(".*.tmp"))
    ref = tmp_path / "ref"
    r = subprocess.run(cli("train", *args, "--out", ref), env=ENV, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    a, b = load_run(ref), load_run(out)
    assert np.array_equal(a["history"]["smooth_loss"], b["history"]["smooth_loss"])
    assert a["samples"] == b["samples"]
    assert zipfile.is_zipfile(out / "best.npz")


def test_cli_divergence_exit_code(tmp_path):
    data = tmp_path / "t.txt"
    data.write_text(TEXT, encoding="utf-8")
    r = subprocess.run(cli("train", "--data", data, "--n-updates", 300, "--m", 16, "--eta", 1e5,
                           "--checkpoint-every", 1, "--out", tmp_path / "run"),
                       env=ENV, capture_output=True, text=True)
    assert r.returncode == 1
    assert "training diverged: non-finite loss or parameters at update" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "run" / "best.npz").exists()  # nothing non-finite was written
