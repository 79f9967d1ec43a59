"""The one run start (charrnn.training.runs.start_run): reuse, resume, new, refuse; a checkpoint must
belong to its folder; config.json is never rewritten by a resume (issue 14, items 1, 2 and 5)."""

import json
import shutil

import numpy as np
import pytest

from charrnn.model.data import text_md5
from charrnn.training.config import TrainConfig
from charrnn.training.runs import load_run, resume_config, run_config, save_run, start_run
from charrnn.training.train import Trainer

TEXT = ("Mr and Mrs Dursley, of number four, Privet Drive, were proud to say that they were "
        "perfectly normal, thank you very much.\n") * 20


def cfg(**kw):
    base = dict(m=8, n_updates=60, sample_every=30, log_every=10, seed=1)
    return TrainConfig(**{**base, **kw})


def want(c, text=TEXT):
    return run_config(c, "t.txt", text_md5(text), len(text))


def train_into(out, c, stop_at=None, force=False):
    """What the CLI does: start, then train from the start's trainer; returns the action."""
    fresh = Trainer(TEXT, c)
    with start_run(out, want(c), force=force) as start:
        if start.action != "reuse":
            trainer = start.trainer(TEXT, fresh)
            try:
                result = trainer.run(checkpoint=start.checkpoint, checkpoint_every=20,
                                     stop_at=stop_at)
            except Exception:
                return start.action + " interrupted"
            save_run(result, out, "t.txt")
        return start.action


def test_new_then_reuse_then_a_different_run_is_refused_and_force_replaces(tmp_path):
    out = tmp_path / "run"
    assert train_into(out, cfg()) == "new"
    stamp = (out / "best.npz").stat().st_mtime_ns
    assert train_into(out, cfg()) == "reuse"  # finished, same settings: nothing trained
    assert (out / "best.npz").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match=r"holds a different run \(m 16 \(the folder has 8\)"):
        start_run(out, want(cfg(m=16)))
    assert json.loads((out / "config.json").read_text())["m"] == 8  # nothing touched
    assert train_into(out, cfg(m=16), force=True) == "new"
    assert load_run(out)["config"]["m"] == 16


def test_an_interrupted_run_resumes_and_ends_like_one_that_ran_through(tmp_path):
    through, broken = tmp_path / "through", tmp_path / "broken"
    assert train_into(through, cfg()) == "new"
    assert train_into(broken, cfg(), stop_at=40) == "new interrupted"
    assert not (broken / "metrics.json").exists() and (broken / "checkpoint.npz").exists()
    assert train_into(broken, cfg()) == "resume"  # not "is not a finished run folder"
    a, b = load_run(through), load_run(broken)
    assert a["metrics"]["best_smooth_loss"] == b["metrics"]["best_smooth_loss"]
    np.testing.assert_array_equal(a["history"]["smooth_loss"], b["history"]["smooth_loss"])
    assert a["samples"] == b["samples"] and a["best_sample"] == b["best_sample"]


def test_an_unfinished_folder_without_a_checkpoint_starts_afresh(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text(json.dumps(want(cfg())))  # killed before any checkpoint
    assert train_into(out, cfg()) == "new"
    assert (out / "metrics.json").exists()


def test_a_second_writer_is_refused_with_the_pid_before_deciding(tmp_path):
    out = tmp_path / "run"
    with start_run(out, want(cfg())):
        with pytest.raises(ValueError, match=r"in use by another charrnn process \(pid \d+\)"):
            start_run(out, want(cfg()))


def test_a_checkpoint_from_another_run_is_refused_naming_what_differs(tmp_path):
    small, big = tmp_path / "m4", tmp_path / "m8"
    assert train_into(small, cfg(m=4), stop_at=40) == "new interrupted"
    assert train_into(big, cfg(m=8), stop_at=40) == "new interrupted"
    shutil.copy(small / "checkpoint.npz", big / "checkpoint.npz")  # swapped in by hand
    before = (big / "config.json").read_bytes()
    with pytest.raises(ValueError, match=r"checkpoint.npz does not belong to the run in .*m 4 "
                                         r"\(config.json has 8\)"):
        start_run(big, want(cfg(m=8)))
    with pytest.raises(ValueError, match="does not belong"):
        start_run(big, resume_config(big, {}), resume=True)
    assert (big / "config.json").read_bytes() == before  # never rewritten


def test_a_hand_edited_config_is_not_reverted(tmp_path):
    out = tmp_path / "run"
    assert train_into(out, cfg(), stop_at=40) == "new interrupted"
    config = json.loads((out / "config.json").read_text())
    config["eta"] = 0.5
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"eta 0.001 \(config.json has 0.5\)"):
        start_run(out, resume_config(out, {}), resume=True)
    assert json.loads((out / "config.json").read_text())["eta"] == 0.5


def test_resume_with_a_longer_run_updates_only_n_updates_and_a_finished_run_is_reused(tmp_path):
    out = tmp_path / "run"
    assert train_into(out, cfg()) == "new"
    with start_run(out, resume_config(out, {}), resume=True) as start:
        assert start.action == "reuse"  # finished at its length: nothing to resume
    with start_run(out, resume_config(out, {"n_updates": 80}), resume=True) as start:
        assert start.action == "resume" and start.config["n_updates"] == 80
        assert not (out / "metrics.json").exists()  # a longer run is not finished yet
        save_run(start.trainer(TEXT).run(checkpoint=start.checkpoint), out, "t.txt")
    assert load_run(out)["metrics"]["n_updates"] == 80
    with pytest.raises(ValueError, match="only n_updates may change: seed 2"):
        resume_config(out, {"seed": 2})
    with pytest.raises(ValueError, match="nothing to resume"):
        resume_config(tmp_path / "empty", {})


def test_broken_or_empty_names_are_refused_naming_the_file(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"run/config.json is broken"):
        start_run(out, want(cfg()))
    assert start_run(out, want(cfg()), force=True).action == "new"
    with pytest.raises(ValueError, match="output folder is empty"):
        start_run("", want(cfg()))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        start_run(tmp_path / "file", want(cfg()))


def test_other_training_code_is_another_run(tmp_path, monkeypatch):
    import charrnn.training.provenance

    out = tmp_path / "run"
    assert train_into(out, cfg()) == "new"
    monkeypatch.setattr(charrnn.training.provenance, "code_hash", lambda roots=None: "other code")
    with pytest.raises(ValueError, match="code 'other code'"):
        start_run(out, want(cfg()))
    assert train_into(out, cfg(), force=True) == "new"


# ------------------------------------------------------------------ runs that must not be mixed

def test_seeds_of_one_run_only_differ_in_the_seed():
    from charrnn.training.runs import check_seeds

    a, b = want(cfg(seed=1)), want(cfg(seed=2))
    check_seeds({"s1": a, "s2": b})  # fine, also with another path to the same text
    check_seeds({"s1": a, "s2": dict(b, data="/elsewhere/t.txt")})
    with pytest.raises(ValueError, match=r"not seeds of one run: s2 and s1 have different texts "
                                         r"\(data_md5"):
        check_seeds({"s1": a, "s2": want(cfg(seed=2), TEXT.upper())})
    with pytest.raises(ValueError, match=r"different settings \(m 16 \(s1 has 8\)"):
        check_seeds({"s1": a, "s2": want(cfg(seed=2, m=16))})


def test_the_study_refuses_runs_on_different_texts(tmp_path):
    from charrnn.studies.study import best_run_dir

    for name, c, text in (("a", cfg(seed=1), TEXT), ("b", cfg(seed=2), TEXT.upper())):
        fresh = Trainer(text, c)
        with start_run(tmp_path / name, want(c, text)) as start:
            save_run(start.trainer(text, fresh).run(), tmp_path / name, "t.txt")
    with pytest.raises(ValueError, match="different texts"):
        best_run_dir([tmp_path / "a", tmp_path / "b"])


def test_the_best_passage_of_a_held_out_run_names_the_validation_loss():
    from charrnn.report.prose import best_passage

    held_out = {"text": "abc", "update": 900, "criterion": "val_loss", "smooth_loss": None,
                "loss": 1.52345}  # what save_run writes for a run with a held-out chunk
    assert "lowest validation loss (1.5234 nats/char, update 900)" in best_passage(held_out)
    handout = {"text": "abc", "update": 900, "criterion": "smooth_loss", "smooth_loss": 1.47,
               "loss": 1.5}
    assert "lowest smooth loss (1.4700, update 900)" in best_passage(handout)


def test_an_empty_out_is_refused_and_nothing_lands_in_the_working_directory(tmp_path,
                                                                             monkeypatch, capsys):
    from charrnn.cli import main

    data = tmp_path / "t.txt"
    data.write_text(TEXT, encoding="utf-8")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    for flags in (["--data", str(data), "--out", ""], ["--resume", ""]):
        with pytest.raises(SystemExit) as err:
            main(["train", *flags, "--n-updates", "10"])
        assert err.value.code == 2
        assert "the output folder is empty" in capsys.readouterr().err
    assert not list(work.iterdir())  # no .lock, config.json or checkpoint in the cwd


def test_resume_is_advised_only_where_it_would_work(tmp_path):
    out = tmp_path / "run"
    assert train_into(out, cfg(), stop_at=40) == "new interrupted"
    with pytest.raises(ValueError, match="with a checkpoint; continue it with --resume"):
        start_run(out, want(cfg(seed=5)))
    config = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps(dict(config, eta=0.5)))  # edited by hand
    with pytest.raises(ValueError, match="holds a different run") as err:
        start_run(out, want(cfg(seed=5)))
    assert "--resume" not in str(err.value)  # the checkpoint no longer belongs to config.json
