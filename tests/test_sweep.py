"""Sweeps (charrnn sweep, issue 16): the spec's checks and names, results and the summary over
seeds, reuse, failed jobs, the training code's hash, and on real Dask clusters (slow): a worker
killed with SIGKILL mid-job, an unreachable scheduler, Ctrl-C of the client."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from charrnn import cli
from charrnn.studies.experiments import variant_config
from charrnn.studies.sweep import format_value, job_name, load_spec, plan
from charrnn.studies.sweep_results import format_summary, read_results, summarize, write_results
from charrnn.training.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "sweeps" / "smoke.yaml"
#: A text of a few KB: the runs train in well under a second.
TEXT = "".join(f"The {w} cat sat on mat number {i}. Who saw it? {w.upper()} did!\n"
               for i, w in enumerate(["quick", "lazy", "brown", "sleepy", "wild"] * 16))
TINY = {"chars": 10000, "n_evals": 2, "grid": {"m": [8, 12]}, "seeds": [1]}


def write(path: Path, obj) -> Path:
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")
    return path


@pytest.fixture
def text(tmp_path) -> Path:
    return write(tmp_path / "text.txt", TEXT)


def sweep_cli(argv, capsys) -> tuple[int, str, str]:
    """``charrnn ARGV`` in this process: (exit status, stdout, stderr)."""
    try:
        rc = cli.main(argv)
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


# ---------------------------------------------------------------------- the spec
def _train_message(**fields) -> str:
    with pytest.raises(ValueError) as e:
        TrainConfig(**fields).validate()
    return str(e.value)


@pytest.mark.parametrize("spec, expected", [
    ("grid: {m: [16}\n", "is not YAML: expected ',' or ']'"),
    ("- 1\n- 2\n", "is not a sweep spec: expected a mapping"),
    ({"grid": {"mm": [16]}}, "unknown vanilla setting 'mm'; expected one of ('preset', 'optimizer'"),
    ({"kind": "rnn"}, "unknown kind 'rnn'; expected one of ('vanilla', 'lstm', 'gru')"),
    ({"grid": {"m": []}}, "grid: m is an empty list"),
    ({"grid": {"m": [16, 16]}}, "grid: m lists 16 twice: the same point twice"),
    ({"grid": {"eta": ["1e-3", 0.001]}}, "grid: eta lists 0.001 twice: the same point twice"),
    ({"seeds": [1, 2, 1]}, "seeds lists 1 twice"),
    ({"grid": {"m": [16, 0]}}, "job m0-seed1: " + _train_message(m=0)),
    ({"base": {"beta1": 1.5}}, "job seed1: " + _train_message(beta1=1.5)),
    ({"base": {"holdout": 0}, "chars": 1000}, "job seed1: eval_every > 0 needs a held-out chunk"),
    ({"chars": 1000, "base": {"n_updates": 5}}, "n_updates is set by chars"),
    ({"colour": 1}, "unknown key in the sweep spec 'colour'; expected one of ('text'"),
    ({"grid": {"m": 16}}, "grid: m must be a list of values"),
    ({"kind": "lstm"}, "lstm runs need chars"),
])
def test_a_bad_spec_is_one_line_before_anything_starts(tmp_path, text, capsys, spec, expected):
    path = write(tmp_path / "spec.yaml", spec)
    out = tmp_path / "out"
    rc, stdout, err = sweep_cli(["sweep", str(path), "--out", str(out), "--data", str(text)], capsys)
    assert rc == 2 and stdout == ""
    assert err.startswith("charrnn: error: ") and err.count("\n") == 1, err
    assert expected in err, err
    assert not out.exists()  # nothing started


def test_a_missing_text_or_bad_flags_are_one_line(tmp_path, text, capsys):
    spec = write(tmp_path / "spec.yaml", {"text": str(tmp_path / "nowhere.txt")})
    rc, _, err = sweep_cli(["sweep", str(spec), "--out", str(tmp_path / "o")], capsys)
    assert (rc, err) == (2, f"charrnn: error: text file not found: {tmp_path / 'nowhere.txt'}\n")
    for flags, expected in ((["--workers", "0"], "--workers must be a positive integer"),
                            (["--workers", "2", "--scheduler", "tcp://h:1"], "give one of them"),
                            ([], "give a SPEC and --out DIR")):
        out = ["--out", str(tmp_path / "o")] if flags else []
        rc, _, err = sweep_cli(["sweep", str(spec), *out, *flags], capsys)
        assert rc == 2 and expected in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_an_unknown_field_names_every_allowed_one(tmp_path, text):
    with pytest.raises(ValueError) as e:
        plan(load_spec(write(tmp_path / "s.yaml", {"grid": {"colour": [1]}})), text)
    allowed = [f for f in TrainConfig.__dataclass_fields__ if f != "seed"]
    assert all(repr(f) in str(e.value) for f in allowed)


def test_names_come_from_the_grid_and_the_seed():
    assert job_name({"m": 64, "eta": 0.01}, 2) == "m64-eta0.01-seed2"
    assert job_name({}, 7) == "seed7"
    assert job_name({"hidden": 43}, 1, kind="lstm") == "lstm-hidden43-seed1"
    assert [format_value(v) for v in (1e-5, 0.1 + 0.2, 2.0, None, True, "cosine")] == \
        ["1e-05", "0.30000000000000004", "2", "none", "true", "cosine"]


def test_the_plan_is_the_product_in_order_with_the_experiments_budget(tmp_path, text):
    spec = {"chars": 20000, "n_evals": 4, "base": {"batch_size": 2},
            "grid": {"m": [8, 12], "eta": [1e-3, "2e-3"]}, "seeds": [3, 1]}
    jobs, texts = plan(load_spec(write(tmp_path / "s.yaml", spec)), text)
    assert [j.name for j in jobs] == [f"m{m}-eta{e}-seed{s}" for m in (8, 12)
                                      for e in ("0.001", "0.002") for s in (3, 1)]
    want = variant_config("sequential", 20000, 4, 1, scale=1, m=12, eta=0.002, batch_size=2).to_dict()
    assert jobs[-1].settings == want and jobs[-1].want["n_updates"] == 20000 // (2 * 25)
    assert jobs[-1].want["data_md5"] and jobs[-1].want["code"] and texts == {"keep": TEXT}
    # without chars: n_updates as given, the preset's settings
    jobs, _ = plan(load_spec(write(tmp_path / "h.yaml", {"base": {"preset": "adagrad",
                                                                    "n_updates": 30}})), text)
    assert jobs[0].settings == TrainConfig.from_preset("adagrad", n_updates=30).to_dict()


def test_smoke_spec_has_four_jobs(text):
    jobs, _ = plan(load_spec(SMOKE), text)
    assert len(jobs) == 4 and len({j.name for j in jobs}) == 4


# ---------------------------------------------------------------------- results and summary
def test_summary_groups_over_seeds_with_the_sample_std(tmp_path, capsys):
    rows = [{"name": f"m16-seed{s}", "kind": "vanilla", "m": 16, "seed": s, "n_params": 100,
             "n_updates": 10, "chars": 250, "best_val_loss": v, "best_val_bits_per_char": v / 2,
             "best_smooth_loss": None, "wall_time_s": t, "chars_per_s": 250 / t}
            for s, v, t in ((1, 1.0, 1.0), (2, 1.2, 2.0), (3, 1.4, 3.0))]
    rows.append(dict(rows[0], name="m32-seed1", m=32, best_val_loss=2.0))
    groups = summarize(rows)
    assert [(g["settings"], g["n"]) for g in groups] == [({"kind": "vanilla", "m": 16}, 3),
                                                         ({"kind": "vanilla", "m": 32}, 1)]
    assert groups[0]["best_val_loss_mean"] == pytest.approx(1.2)
    assert groups[0]["best_val_loss_std"] == pytest.approx(0.2)  # ddof 1: sqrt(0.08 / 2)
    assert groups[0]["wall_time_s_std"] == pytest.approx(1.0)
    assert groups[1]["best_val_loss_std"] is None and "best_smooth_loss_mean" not in groups[0]
    table = format_summary(groups)
    assert "| vanilla m 16 | 3 | 1.2000 ± 0.2000 |" in table
    assert "| vanilla m 32 | 1 | 2.0000 | 0.5000 | - |" in table
    write_results(tmp_path, rows)
    assert read_results(tmp_path) == rows
    lines = (tmp_path / "results.csv").read_text().splitlines()
    assert lines[0].startswith("name,kind,m,seed,n_params,") and lines[1].endswith(",1.0,250.0")
    rc, out, _ = sweep_cli(["sweep", "--summary", str(tmp_path)], capsys)
    assert rc == 0 and out.strip() == table
    rc, _, err = sweep_cli(["sweep", "--summary", str(tmp_path / "none")], capsys)
    assert rc == 2 and "results.json does not exist" in err


def test_install_replaces_a_folder_whole_and_finished_compares_all_but_the_path(tmp_path):
    from charrnn.studies.sweep_results import finished, install

    want = {"m": 8, "seed": 1, "data": "/a/text.txt", "data_md5": "x", "code": "c"}
    (tmp_path / "r").mkdir()
    write(tmp_path / "r" / "stale.txt", "an older run")
    files = {"config.json": json.dumps(dict(want, data="/b/text.txt")).encode(),
             "metrics.json": b"{}"}
    install(tmp_path, "r", files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # no temporaries, no stale file
    assert {p.name: p.read_bytes() for p in (tmp_path / "r").iterdir()} == files
    assert finished(tmp_path / "r", want)
    assert not finished(tmp_path / "r", dict(want, code="d"))
    assert not finished(tmp_path / "r", dict(want, seed=2))
    (tmp_path / "r" / "metrics.json").unlink()
    assert not finished(tmp_path / "r", want)
    with pytest.raises(ValueError, match="bad names"):
        install(tmp_path, "s", {"../x": b""})


# ---------------------------------------------------------------------- running
@pytest.fixture(scope="module")
def client():
    """An in-process Dask cluster (two worker threads): quick to start."""
    from distributed import Client

    c = Client(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=":0")
    yield c
    c.close()


def run(tmp_path, text, spec, out, **kw):
    from charrnn.studies.cluster import run_sweep

    jobs, texts = plan(load_spec(write(tmp_path / "spec.yaml", spec)), text)
    return run_sweep(jobs, texts, out, **kw)


def test_run_job_refuses_other_training_code(tmp_path, text):
    from charrnn.studies.cluster import run_job

    jobs, texts = plan(load_spec(write(tmp_path / "s.yaml", TINY)), text)
    result = run_job(jobs[0].payload(), texts["keep"], worker_code="f" * 32)
    assert "files" not in result
    assert f"training code hash {'f' * 32} on the worker, {jobs[0].want['code']} on the client" \
        in result["error"]


@pytest.mark.slow
def test_a_sweep_trains_once_and_reuses_its_runs(tmp_path, text, client):
    out = tmp_path / "out"
    first = run(tmp_path, text, TINY, out, client=client)
    assert (first.trained, first.reused, first.failed) == (2, 0, [])
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*/*")}
    assert len(stamps) == 2 * 8 and not list(out.glob(".*.tmp"))
    config = json.loads((out / "m8-seed1" / "config.json").read_text())
    assert config["data_md5"] and config["code"] and config["data"] == str(text.resolve())
    rows = read_results(out)
    assert [r["name"] for r in rows] == ["m8-seed1", "m12-seed1"]
    K, m = len(set(TEXT)), 8
    assert rows[0]["n_params"] == m * K + m * m + m + K * m + K  # U, W, b, V, c
    assert rows[0]["best_val_bits_per_char"] == pytest.approx(rows[0]["best_val_loss"] / math.log(2))
    # again: nothing trained, and no cluster needed (this scheduler cannot be reached)
    again = run(tmp_path, text, TINY, out, scheduler="tcp://127.0.0.1:9")
    assert (again.trained, again.reused) == (0, 2)
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/*")} == stamps
    # another setting of a run: that run alone is trained again
    changed = dict(TINY, base={"eta": 0.002})
    assert run(tmp_path, text, changed, out, client=client).trained == 2
    assert run(tmp_path, text, dict(TINY, grid={"m": [8, 12, 16]}), out, client=client).trained == 3


@pytest.mark.slow
def test_kinds_sweep_trains_vanilla_and_gated_runs(tmp_path, text, client):
    from charrnn.studies.gated import gated_params

    spec = {"chars": 2000, "n_evals": 2, "seeds": [1, 2],
            "kinds": {"vanilla": {"grid": {"m": [8]}},
                      "gru": {"base": {"batch_size": 2, "seq_length": 10}, "grid": {"hidden": [6]}}}}
    outcome = run(tmp_path, text, spec, tmp_path / "out", client=client)
    assert outcome.failed == [] and outcome.trained == 4
    rows = {r["name"]: r for r in outcome.rows}
    assert list(rows) == ["vanilla-m8-seed1", "vanilla-m8-seed2", "gru-hidden6-seed1",
                          "gru-hidden6-seed2"]
    gru = rows["gru-hidden6-seed1"]
    assert gru["n_params"] == gated_params("gru", len(set(TEXT)), 6) and gru["chars"] == 2000
    assert gru["best_smooth_loss"] is None and gru["best_val_loss"] > 0
    config = json.loads((tmp_path / "out" / "gru-hidden6-seed2" / "config.json").read_text())
    assert (config["kind"], config["seed"], config["device"]) == ("gru", 2, "cpu")
    assert [g["n"] for g in summarize(outcome.rows)] == [2, 2]
    assert run(tmp_path, text, spec, tmp_path / "out", client=client).reused == 4


def test_a_failed_job_is_reported_and_the_others_finish(tmp_path, text, client, capsys,
                                                        monkeypatch):
    import contextlib

    from charrnn.studies import cluster

    monkeypatch.setattr(cluster, "open_client", lambda *a, **k: contextlib.nullcontext(client))
    spec = write(tmp_path / "s.yaml", dict(TINY, grid={"eta": [0.002, 1e4]}))
    out = tmp_path / "out"
    rc, stdout, err = sweep_cli(["sweep", str(spec), "--out", str(out), "--data", str(text)],
                                capsys)
    assert rc == 1
    assert err.strip() == f"charrnn: error: run {out / 'eta10000-seed1'} failed: training " \
        "diverged: non-finite loss or parameters at update 2"
    assert "2 runs in" in stdout and "1 trained, 0 reused, 1 failed" in stdout
    assert (out / "eta0.002-seed1" / "metrics.json").is_file()
    assert not (out / "eta10000-seed1").exists()
    assert [r["name"] for r in read_results(out)] == ["eta0.002-seed1"]


def test_workers_with_other_code_refuse_every_job(tmp_path, text, client):
    outcome = run(tmp_path, text, TINY, tmp_path / "out", client=client, worker_code="0" * 32)
    assert outcome.trained == 0 and len(outcome.failed) == 2
    assert all("0" * 32 in reason and "on the client" in reason for _, _, reason in outcome.failed)


# ---------------------------------------------------------------------- real clusters (slow)
def charrnn(*args, **kw) -> subprocess.Popen:
    """``python -m charrnn ARGS`` with Ctrl-C as in a terminal (a background shell ignores it)."""
    return subprocess.Popen([sys.executable, "-m", "charrnn", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kw)


def same_runs(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.iterdir() if p.is_dir())
    assert names == sorted(p.name for p in b.iterdir() if p.is_dir()) and len(names) == 4
    for name in names:
        x, y = a / name, b / name
        for f in ("best.npz", "history.csv", "samples.json", "best_sample.json", "config.json"):
            assert (x / f).read_bytes() == (y / f).read_bytes(), (name, f)
        untimed = lambda p: {k: v for k, v in json.loads(p.read_text()).items()
                             if not k.endswith(("time_s", "_per_s"))}
        assert untimed(x / "metrics.json") == untimed(y / "metrics.json"), name


@pytest.mark.slow
@pytest.mark.e2e  # a dask scheduler and two workers, one killed: make test-e2e
def test_a_worker_killed_mid_job_changes_nothing(tmp_path, text):
    from distributed import Client

    local = tmp_path / "local"
    p = charrnn("sweep", str(SMOKE), "--out", str(local), "--data", str(text), "--workers", "2")
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    port = 20000 + os.getpid() % 20000
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                               "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for i in (1, 2):  # each in its own folder, without the text
            (tmp_path / f"w{i}").mkdir()
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", f"tcp://127.0.0.1:{port}",
                 "--nthreads", "1", "--no-dashboard"], cwd=tmp_path / f"w{i}",
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        watcher = Client(f"tcp://127.0.0.1:{port}", timeout="30s")
        watcher.wait_for_workers(2, timeout=60)
        remote = tmp_path / "remote"
        p = charrnn("sweep", str(SMOKE), "--out", str(remote), "--data", str(text),
                    "--scheduler", f"tcp://127.0.0.1:{port}")
        busy = {}
        while not busy:
            busy = {w: ks for w, ks in watcher.processing().items()
                    if any(str(k).startswith("charrnn-m") for k in ks)}
            time.sleep(0.05)
        time.sleep(1.0)  # the job imports, compiles and trains for a few seconds
        worker, keys = next(iter(busy.items()))
        done = {d.name for d in remote.glob("*") if (d / "metrics.json").is_file()}
        os.kill(watcher.run(os.getpid, workers=[worker])[worker], signal.SIGKILL)
        killed = {str(k)[len("charrnn-"):].rsplit("-", 1)[0] for k in keys}
        assert not killed & done  # its jobs were not finished
        out, err = p.communicate(timeout=300)
        watcher.close()
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    assert p.returncode == 0, err
    assert "4 trained, 0 reused, 0 failed" in out
    same_runs(local, remote)
    assert not [p for p in (tmp_path / "w1").rglob("*") if p.name == "text.txt"]


@pytest.mark.slow
def test_an_unreachable_scheduler_is_one_line_within_10_s(tmp_path, text):
    t0 = time.perf_counter()
    p = charrnn("sweep", str(SMOKE), "--out", str(tmp_path / "o"), "--data", str(text),
                "--scheduler", "tcp://127.0.0.1:9")
    out, err = p.communicate(timeout=60)
    assert time.perf_counter() - t0 < 10
    assert p.returncode == 2 and out == ""
    assert err.startswith("charrnn: error: cannot reach the Dask scheduler at tcp://127.0.0.1:9 "
                          "within 5 s") and err.count("\n") == 1, err


@pytest.mark.slow
def test_ctrl_c_keeps_finished_runs_and_stops_the_others(tmp_path, text):
    spec = write(tmp_path / "s.yaml", {"chars": 200000, "n_evals": 2,
                                       "grid": {"m": [16, 24, 32, 48, 64]}, "seeds": [1, 2]})
    out = tmp_path / "out"
    p = charrnn("sweep", str(spec), "--out", str(out), "--data", str(text), "--workers", "2")
    while not list(out.glob("*/metrics.json")):
        assert p.poll() is None
        time.sleep(0.1)
    os.killpg(p.pid, signal.SIGINT)
    stdout, err = p.communicate(timeout=60)
    assert p.returncode == 130 and stdout == ""
    finished = sorted(d.name for d in out.iterdir() if (d / "metrics.json").is_file())
    assert err == f"charrnn: sweep interrupted: {len(finished)} of 10 runs finished and kept in " \
        f"{out}; the same command trains the rest\n"
    assert 1 <= len(finished) < 10 and not [d for d in out.iterdir() if d.name.endswith(".tmp")]
    time.sleep(1)
    ps = subprocess.run(["ps", "-o", "stat=", "-g", str(p.pid)], capture_output=True, text=True)
    assert [s for s in ps.stdout.split() if not s.startswith("Z")] == []  # the workers are gone


@pytest.mark.slow
def test_the_report_grid_as_a_sweep_is_make_s_own_runs(tmp_path, text, client, capsys):
    """make report SCHEDULER=...: ``charrnn experiment --all`` trains the same runs, in the same
    folders with the same config.json, as make's one-job commands, so each reuses the other's."""
    from charrnn.studies.cluster import run_sweep
    from charrnn.studies.experiments import run_variant
    from charrnn.studies.sweep import experiment_jobs
    from charrnn.studies.sweep_results import finished

    jobs, texts = experiment_jobs(["sequential"], ["gru"], 4000, text, n_evals=2)
    assert [j.name for j in jobs] == ["sequential-seed1", "sequential-seed2", "sequential-seed3",
                                      "gru-seed1", "gru-seed2", "gru-seed3"]
    grid, alone = tmp_path / "grid", tmp_path / "alone"
    run_variant("sequential", TEXT, text, grid, 4000, 2, seed=1)  # as make trains it here
    outcome = run_sweep(jobs, texts, grid, client=client)
    assert (outcome.trained, outcome.reused, outcome.failed) == (5, 1, [])
    run_variant("sequential", TEXT, text, alone, 4000, 2, seed=2)
    for f in ("best.npz", "history.csv", "config.json"):
        assert (grid / "sequential-seed2" / f).read_bytes() == \
            (alone / "sequential-seed2" / f).read_bytes(), f
    rc, _, err = sweep_cli(["baseline", "--kind", "gru", "--data", str(text), "--chars", "4000",
                            "--seed", "2", "--out", str(alone / "gru-seed2")], capsys)
    assert rc == 0, err
    assert finished(alone / "gru-seed2", jobs[4].want)  # make's baseline is the sweep's job
    assert [r["name"] for r in read_results(grid)] == [j.name for j in jobs]
    with pytest.raises(ValueError, match="unknown variant 'nosuch'"):
        experiment_jobs(["nosuch"], [], 4000, text)
    with pytest.raises(ValueError, match="baseline kind"):
        experiment_jobs([], ["vanilla"], 4000, text)


def test_the_learning_rate_selection_tries_each_model_s_rate_times_the_factors(tmp_path, text,
                                                                             client):
    """make lr: seed 1 of each variant and baseline at its own rate times each factor, scored
    on the validation text; the chosen rate is the one with the lowest validation loss."""
    from charrnn.studies.baselines import DEFAULT_ETA
    from charrnn.studies.cluster import run_sweep
    from charrnn.studies.experiments import variant_config
    from charrnn.studies.sweep import chosen_rates, experiment_jobs

    jobs, texts = experiment_jobs(["B8"], ["gru"], 4000, text, n_evals=2, eta_factors=[0.5, 2])
    b8 = variant_config("B8", 4000).eta
    assert [(j.name, j.seed, j.point["eta"]) for j in jobs] == [
        (f"B8-eta{b8 * 0.5:g}-seed1", 1, b8 * 0.5), (f"B8-eta{b8 * 2:g}-seed1", 1, b8 * 2),
        (f"gru-eta{DEFAULT_ETA['gru'] * 0.5:g}-seed1", 1, DEFAULT_ETA["gru"] * 0.5),
        (f"gru-eta{DEFAULT_ETA['gru'] * 2:g}-seed1", 1, DEFAULT_ETA["gru"] * 2)]
    assert [j.settings["eta"] for j in jobs] == [j.point["eta"] for j in jobs]  # trained with it
    # every model's rate is chosen on the same characters, whatever its budget in the report
    assert all(j.settings["n_updates"] * j.settings["batch_size"] * j.settings["seq_length"] > 3000
               for j in jobs[:2])  # B8's scale (0.5) is not applied: 4000 // 200 = 20 updates
    outcome = run_sweep(jobs, texts, tmp_path / "lr", client=client)
    assert outcome.failed == []
    chosen = chosen_rates(outcome.rows)
    for name in ("B8", "gru"):
        rows = [r for r in outcome.rows if r["variant"] == name]
        assert chosen[name]["eta"] == min(rows, key=lambda r: r["best_val_loss"])["eta"]
        assert chosen[name]["losses"] == {r["eta"]: r["best_val_loss"] for r in rows}
    # a tie goes to the smaller rate; the order of the rows does not matter
    tie = [{"variant": "x", "eta": 0.004, "best_val_loss": 1.5},
           {"variant": "x", "eta": 0.002, "best_val_loss": 1.5},
           {"variant": "x", "eta": 0.001, "best_val_loss": 1.6}]
    assert chosen_rates(tie)["x"]["eta"] == 0.002
    for bad in ([0.5, 0.5], [0.0], [-1.0]):
        with pytest.raises(ValueError, match="learning-rate factor"):
            experiment_jobs(["B8"], [], 4000, text, eta_factors=bad)


def test_a_run_folder_held_by_another_process_is_not_replaced(tmp_path, text, client):
    from charrnn.training.runs import acquire

    out = tmp_path / "out"
    with acquire(out / "m8-seed1"):  # a local charrnn trains it
        outcome = run(tmp_path, text, TINY, out, client=client)
    assert [name for name, _, _ in outcome.failed] == ["m8-seed1"]
    assert "in use by another charrnn process" in outcome.failed[0][2]
    assert not (out / "m8-seed1" / "metrics.json").exists()
    assert (out / "m12-seed1" / "metrics.json").is_file()
