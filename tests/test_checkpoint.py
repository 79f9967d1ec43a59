"""Saving and loading models and run folders."""

import json
import os

import numpy as np
import pytest

from charrnn.model.data import Vocabulary
from charrnn.model.rnn import init_params
from charrnn.training.checkpoint import FORMAT_VERSION, check_vocab, load_model, save_model
from charrnn.training.config import TrainConfig
from charrnn.training.runs import load_run, save_run
from charrnn.training.train import train


@pytest.fixture
def model(tmp_path):
    vocab = Vocabulary.from_text("hello world\n")
    _, params = init_params(vocab.K, 6, np.random.default_rng(0))
    hprev = np.linspace(-0.5, 0.5, 6)
    path = tmp_path / "m.npz"
    save_model(path, params, vocab, hprev, x0=3, meta={"update": 7})
    return path, params, vocab, hprev


def test_round_trip_without_pickle(model):
    path, params, vocab, hprev = model
    m = load_model(path)
    for k, v in params.items():
        assert np.array_equal(m.params[k], v)
    assert m.vocab == vocab and m.x0 == 3 and m.meta == {"update": 7}
    assert np.array_equal(m.hprev, hprev)
    with np.load(path, allow_pickle=False) as z:  # every array loads without pickle
        assert int(z["format_version"]) == FORMAT_VERSION
        assert "".join(z["vocab"]) == "".join(vocab.chars)


def test_truncated_file_gets_a_clear_error(model, tmp_path):
    path = model[0]
    bad = tmp_path / "bad.npz"
    bad.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="not a readable charrnn checkpoint"):
        load_model(bad)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a readable charrnn checkpoint"):
        load_model(junk)
    with pytest.raises(ValueError, match="not found"):
        load_model(tmp_path / "missing.npz")


def test_wrong_version_and_missing_keys_are_refused(model, tmp_path):
    path = model[0]
    with np.load(path) as z:
        data = dict(z)
    data["format_version"] = np.int64(99)
    np.savez(tmp_path / "v.npz", **data)
    with pytest.raises(ValueError, match="format version 99"):
        load_model(tmp_path / "v.npz")
    del data["W"]
    data["format_version"] = np.int64(FORMAT_VERSION)
    np.savez(tmp_path / "k.npz", **data)
    with pytest.raises(ValueError, match="missing W"):
        load_model(tmp_path / "k.npz")


def test_non_finite_parameters_are_never_written(model, tmp_path):
    _, params, vocab, hprev = model
    params = dict(params, W=params["W"].copy())
    params["W"][0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        save_model(tmp_path / "nan.npz", params, vocab, hprev)
    assert not (tmp_path / "nan.npz").exists()
    assert list(tmp_path.glob(".nan.npz*")) == []


def test_vocabulary_mismatch_names_the_characters():
    a = Vocabulary.from_text("abc")
    with pytest.raises(ValueError, match=r"the text has 'd'.*lacks"):
        check_vocab(a, Vocabulary.from_text("abcd"))
    with pytest.raises(ValueError, match=r"the checkpoint has 'c'"):
        check_vocab(a, Vocabulary.from_text("ab"))
    check_vocab(a, Vocabulary.from_text("cab"))


def test_run_folder_round_trip(tmp_path):
    text = "the cat sat on the mat. " * 20
    cfg = TrainConfig(m=12, n_updates=120, sample_every=50, log_every=10)
    res = train(text, cfg)
    out = save_run(res, tmp_path / "run", "t.txt")
    run = load_run(out)
    assert run["metrics"]["n_updates"] == 120 and run["metrics"]["K"] == len(set(text))
    assert [s["update"] for s in run["samples"]] == [0, 50, 100]
    assert all(len(s["text"]) == cfg.sample_length for s in run["samples"])
    assert np.array_equal(run["history"]["update"], [1, *range(10, 121, 10)])
    np.testing.assert_array_equal(run["history"]["smooth_loss"], res.history["smooth_loss"])
    np.testing.assert_array_equal(run["history"]["grad_norm"], res.history["grad_norm"])
    assert run["config"]["data"] == os.path.abspath("t.txt") and run["config"]["m"] == 12
    assert run["config"]["data_md5"] == res.text_md5 and run["config"]["data_chars"] == len(text)
    best = load_model(out / "best.npz")
    assert best.meta["update"] == res.state.best_smooth.update
    assert np.array_equal(best.params["W"], res.best_params["W"])
    assert json.loads((out / "best_sample.json").read_text())["text"] == res.final_sample
    assert not list(out.glob(".*.tmp"))  # no temporary files left behind


def test_a_checkpoint_without_the_gradient_norm_record_is_refused(tmp_path):
    from charrnn.training.checkpoint import load_checkpoint
    from charrnn.training.train import Trainer

    text = "the cat sat on the mat. " * 20
    trainer = Trainer(text, TrainConfig(m=8, n_updates=20, sample_every=50))
    trainer.run(checkpoint=tmp_path / "c.npz")
    assert load_checkpoint(Trainer, tmp_path / "c.npz", text).grad_norm_max["update"] >= 1
    with np.load(tmp_path / "c.npz") as z:
        data = dict(z)
    meta = json.loads(str(data["meta"]))
    del meta["grad_norm_max"]  # as an older charrnn wrote it
    data["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "old.npz", **data)
    with pytest.raises(ValueError, match="older charrnn"):
        load_checkpoint(Trainer, tmp_path / "old.npz", text)
