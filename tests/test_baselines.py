"""The LSTM/GRU baselines: the loss against an independent NumPy float64 implementation of the
equations (from the state_dict's weights), parameter counts, seeds, the split, bad input."""

import hashlib
import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from charrnn.model.data import Vocabulary  # noqa: E402
from charrnn.studies.baselines import DEFAULT_ETA, BaselineConfig, train_baseline  # noqa: E402
from charrnn.studies.baselines_io import load_baseline, read_baseline  # noqa: E402
from charrnn.studies.experiments import N_EVALS  # noqa: E402
from charrnn.studies.gated import (  # noqa: E402
    CharGated,
    gated_params,
    hidden_states,
    init_parameters,
    pick_hidden,
    stateful_loss,
    vanilla_params,
    windowed_loss,
)
from charrnn.training.config import TrainConfig  # noqa: E402
from charrnn.training.train import split_heldout, split_text  # noqa: E402

LINE = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
TEXT = LINE * 30  # 2,550 characters: 32 streams of >= 51 characters and a held-out chunk of 128


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def numpy_run(kind, sd, data):
    """The equations of the module docstring in NumPy float64, one character at a time, from a
    zero state: (mean -log p of data[1:] in nats, h_t (N, h), c_t (N, h) or None)."""
    w = {k: v.detach().cpu().double().numpy() for k, v in sd.items()}
    Wih, Whh = w["rnn.weight_ih_l0"], w["rnn.weight_hh_l0"]  # (G h, K), (G h, h)
    bih, bhh = w["rnn.bias_ih_l0"], w["rnn.bias_hh_l0"]  # (G h,) each
    V, c_out = w["out.weight"], w["out.bias"]
    m = Whh.shape[1]
    h, c = np.zeros(m), np.zeros(m)
    Hs, Cs, nll = [], [], []
    for t, x in enumerate(data):
        ai, ah = Wih[:, x] + bih, Whh @ h + bhh  # one-hot input: a column of W_ih
        if kind == "lstm":
            a = ai + ah
            i, f, g, o = sigmoid(a[:m]), sigmoid(a[m:2 * m]), np.tanh(a[2 * m:3 * m]), sigmoid(a[3 * m:])
            c = f * c + i * g
            h = o * np.tanh(c)
        else:
            r = sigmoid(ai[:m] + ah[:m])
            z = sigmoid(ai[m:2 * m] + ah[m:2 * m])
            n = np.tanh(ai[2 * m:] + r * ah[2 * m:])
            h = (1 - z) * n + z * h
        Hs.append(h)
        Cs.append(c)
        if t + 1 < len(data):
            o = V @ h + c_out
            o = o - o.max()
            nll.append(np.log(np.exp(o).sum()) - o[data[t + 1]])
    return float(np.mean(nll)), np.array(Hs), (np.array(Cs) if kind == "lstm" else None)


def small_model(kind, K, h=7, seed=0, scale=3.0):
    model = CharGated(kind, K, h)
    init_parameters(model, np.random.default_rng(seed))
    with torch.no_grad():  # larger weights than the default init, so that the gates matter
        for p in model.parameters():
            p.mul_(scale)
    return model


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_stateful_loss_and_states_match_numpy(kind):
    vocab = Vocabulary.from_text(LINE)
    data = vocab.encode(LINE * 2)  # (170,)
    model = small_model(kind, vocab.K)
    ref_loss, ref_h, ref_c = numpy_run(kind, model.state_dict(), data)
    for block in (8192, 7):  # the state is carried across blocks
        got = stateful_loss(model, data, block=block)
        assert abs(got - ref_loss) <= 1e-5, (kind, block, got, ref_loss)
    assert abs(ref_loss - math.log(vocab.K)) > 0.1  # not a trivially uniform model
    states = hidden_states(model, data, block=50)
    assert states["h"].shape == (len(data), 7) and states["h"].dtype == np.float32
    err = np.abs(states["h"] - ref_h)
    assert err.max() <= 1e-5, f"h_t: worst {err.max():.2e} at {np.unravel_index(err.argmax(), err.shape)}"
    if kind == "lstm":
        err = np.abs(states["c"] - ref_c)
        assert err.max() <= 1e-5, f"c_t: worst {err.max():.2e} at {np.unravel_index(err.argmax(), err.shape)}"
        assert np.abs(ref_c).max() > 1.0  # c_t is not bounded by 1, unlike h_t
    else:
        assert set(states) == {"h"}


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_windowed_loss_matches_numpy(kind):
    vocab = Vocabulary.from_text(LINE)
    data = vocab.encode(LINE * 2)
    model = small_model(kind, vocab.K)
    T = 20
    refs = [numpy_run(kind, model.state_dict(), data[s : s + T + 1])[0] for s in range(0, 160, T)]
    assert abs(windowed_loss(model, data, T) - np.mean(refs)) <= 1e-5


def test_parameter_counts_and_hidden_sizes():
    K = 80
    assert vanilla_params(K, 256) == K * 256 + 256 * 256 + 256 + K * 256 + K == 106_832
    assert gated_params("lstm", K, 128) == 117_840  # TOOLCHAIN.md: 118k
    assert gated_params("gru", K, 150) == 116_480  # TOOLCHAIN.md: 117k
    for kind, h in (("lstm", 128), ("gru", 150), ("lstm", 3), ("gru", 5)):
        model = CharGated(kind, K, h)
        assert sum(p.numel() for p in model.parameters()) == gated_params(kind, K, h)
    assert pick_hidden("lstm", K) == 120 and gated_params("lstm", K, 120) == 106_640
    assert pick_hidden("gru", K) == 142 and gated_params("gru", K, 142) == 106_864
    for kind in ("lstm", "gru"):
        h = pick_hidden(kind, K)
        assert abs(gated_params(kind, K, h) / vanilla_params(K) - 1) < 0.15
        gap = abs(gated_params(kind, K, h) - vanilla_params(K))  # no other h is closer
        assert all(abs(gated_params(kind, K, g) - vanilla_params(K)) >= gap for g in range(1, 400))
    assert pick_hidden("gru", 65, m=100) > 0
    with pytest.raises(ValueError, match="unknown kind 'rnn'"):
        gated_params("rnn", K, 10)


def tiny(seed=1, kind="lstm"):
    return train_baseline(TEXT, BaselineConfig(kind, chars=24 * 4 * 10, seed=seed, hidden=16,
                                               batch_size=4, seq_length=10, n_evals=3))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_seed_fixes_the_result(kind):
    a, b, c = tiny(1, kind), tiny(1, kind), tiny(2, kind)
    va = [r["val_loss"] for r in a.validation]
    assert [r["update"] for r in a.validation] == [8, 16, 24]
    assert va == [r["val_loss"] for r in b.validation]
    assert va != [r["val_loss"] for r in c.validation]
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    assert va[-1] < math.log(a.vocab.K)  # it learned something


def test_split_is_the_vanilla_one():
    r = tiny()
    n_train, bounds = split_text(len(TEXT), TrainConfig(holdout=1, n_chunks=20))
    assert r.metrics["n_train_chars"] == n_train == int(bounds[-1])
    n_test = split_heldout(len(TEXT), n_train, 0.5)  # the held-out chunk's halves
    assert r.metrics["n_val_chars"] == n_test - n_train and r.metrics["test_start"] == n_test
    assert r.metrics["best_val_loss"] == min(row["val_loss"] for row in r.validation)
    # model.pt holds the model validation chose, and the test loss is its, on the second half
    assert stateful_loss(r.model, r.vocab.encode(TEXT[n_train:n_test])) == r.metrics["best_val_loss"]
    assert stateful_loss(r.model, r.vocab.encode(TEXT[n_test:])) == r.metrics["test_loss"]
    assert r.config["holdout"] == 1 and r.config["n_chunks"] == 20
    assert r.config["test_fraction"] == 0.5
    # the numbers are this machine's: PyTorch's version and the CPU kernels it picked
    assert r.metrics["torch_version"] == torch.__version__
    assert r.metrics["cpu_capability"] == torch.backends.cpu.get_cpu_capability()


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"chars must be at least batch_size x seq_length = 1600"):
        BaselineConfig("lstm", 1599).validate(len(TEXT))
    with pytest.raises(ValueError, match="unknown kind 'rnn'; expected one of"):
        BaselineConfig("rnn", 10_000).validate(len(TEXT))
    with pytest.raises(ValueError, match="held-out chunk .* has 50 characters; it needs at least "
                                         r"seq_length \+ 1 = 51"):
        BaselineConfig("gru", 10_000).validate(1000)
    with pytest.raises(ValueError, match="too short for 32 streams"):
        BaselineConfig("gru", 10_000, seq_length=45, test_fraction=0.0).validate(1500)
    with pytest.raises(ValueError, match="validation and test parts have 38 and 37 characters; "
                                         r"each needs at least seq_length \+ 1 = 46"):
        BaselineConfig("gru", 10_000, seq_length=45).validate(1500)
    with pytest.raises(ValueError, match="eta must be a finite number > 0, got 0.0"):
        BaselineConfig("gru", 10_000, eta=0.0).validate(len(TEXT))
    with pytest.raises(ValueError, match="hidden must be a positive integer"):
        BaselineConfig("gru", 10_000, hidden=0).validate(len(TEXT))
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        BaselineConfig("gru", 10_000, seed=-1).validate(len(TEXT))
    with pytest.raises(ValueError, match="text must be a str"):
        train_baseline(b"abc" * 1000, BaselineConfig("lstm", 10_000))
    for bad in ("tpu", "gpu0", "meta", 0):  # not a device name, or not a CPU or CUDA one
        with pytest.raises(ValueError, match="device must be a torch CPU or CUDA device"):
            BaselineConfig("gru", 10_000, device=bad).validate(len(TEXT))
    if not torch.cuda.is_available():  # a setting this machine cannot honour
        with pytest.raises(ValueError, match="no CUDA device"):
            BaselineConfig("gru", 10_000, device="cuda").validate(len(TEXT))
    assert BaselineConfig("gru", 10_000, device="cpu").validate(len(TEXT)).device == "cpu"


def test_validate_completes_the_settings():
    c = BaselineConfig("gru", np.int64(3300), seed=np.int64(2)).validate(len(TEXT))
    assert c.eta == DEFAULT_ETA["gru"] and c.hidden is None and c.n_updates == 2
    assert type(c.chars) is int and type(c.seed) is int and type(c.eta) is float
    assert BaselineConfig("lstm", 3200, eta=1e-3).validate(len(TEXT)).eta == 1e-3


def test_config_json_holds_the_settings_and_what_follows_from_the_text():
    # TEXT has 2,550 characters: 20 chunks of 127.5, the last starts at 2,422; 3,300 characters
    # are 2 updates of 32 x 50 (3,200 read), warm-up min(200, 2 // 10) = 0
    config = BaselineConfig("gru", 3300, seed=3, device="cpu", data_path="/d/t.txt").to_dict(TEXT)
    K, h = len(set(TEXT)), pick_hidden("gru", len(set(TEXT)))  # 23, 145
    code = config.pop("code")
    assert len(code) == 32 and int(code, 16) >= 0  # an md5 of the code
    want = {
        "kind": "gru", "hidden": h, "n_params": gated_params("gru", K, h),
        "vanilla_m": 256, "vanilla_n_params": vanilla_params(K), "K": K, "seed": 3,
        "chars": 3200, "n_updates": 2, "seq_length": 50, "batch_size": 32, "order": "sequential",
        "holdout": 1, "n_chunks": 20, "n_train_chars": 2422, "test_fraction": 0.5,
        "optimizer": "adam", "eta": 1.6e-2,
        "lr_schedule": "cosine", "warmup": 0, "grad_clip": 5.0, "clip": "global norm",
        "n_evals": N_EVALS, "device": "cpu", "data": "/d/t.txt",
        "data_md5": hashlib.md5(TEXT.encode()).hexdigest(), "vocab": "".join(sorted(set(TEXT)))}
    assert config == want and list(config) == list(want)  # the order is config.json's too


def cli(capsys, *args):
    """``charrnn baseline ARGS`` in this process: (exit status, stdout, stderr)."""
    from charrnn.cli import main

    try:
        rc = main(["baseline", *map(str, args)])
    except SystemExit as stop:
        rc = stop.code
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_refuses_bad_input(tmp_path, capsys):
    short = tmp_path / "short.txt"
    short.write_text(LINE * 10, encoding="utf-8")
    good = tmp_path / "t.txt"
    good.write_text(TEXT, encoding="utf-8")
    for args, words in ((("--kind", "lstm", "--data", short, "--chars", 4000), "held-out chunk"),
                        (("--kind", "lstm", "--data", good, "--chars", 100), "chars must be at least"),
                        (("--kind", "rnn", "--data", good, "--chars", 4000), "invalid choice: 'rnn'"),
                        (("--kind", "gru", "--data", good, "--chars", 4000, "--hidden", 0),
                         "hidden must be a positive integer"),
                        (("--kind", "gru", "--data", tmp_path / "no.txt", "--chars", 4000), "not found")):
        rc, _, err = cli(capsys, *args, "--out", tmp_path / "out")
        assert rc == 2, err
        assert err.count("\n") == 1 and err.startswith("charrnn: error: ") and words in err, err
        assert not (tmp_path / "out").exists()


def test_cli_writes_a_run_folder(tmp_path, capsys):
    good = tmp_path / "t.txt"
    good.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "gru"
    rc, stdout, err = cli(capsys, "--kind", "gru", "--data", good, "--chars", 3200, "--seed", 3,
                          "--out", out)
    assert rc == 0, err
    assert "best validation loss" in stdout
    config = json.loads((out / "config.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert config["kind"] == "gru" and config["seed"] == 3 and config["n_updates"] == 2
    assert config["n_params"] == metrics["n_params"] == gated_params("gru", len(set(TEXT)), config["hidden"])
    assert config["data_md5"] == hashlib.md5(TEXT.encode()).hexdigest()
    rows = (out / "validation.csv").read_text().splitlines()
    assert rows[0] == "update,chars,train_time_s,val_loss" and rows[-1].startswith("2,3200,")
    run = load_baseline(out)
    n_train = config["n_train_chars"]
    n_test = metrics["test_start"]  # model.pt: the model validation chose, scored on the rest
    # float32 sums over another number of torch threads than in training: equal to rounding
    assert stateful_loss(run.model, run.vocab.encode(TEXT[n_train:n_test])) == \
        pytest.approx(metrics["best_val_loss"], rel=1e-6)
    assert stateful_loss(run.model, run.vocab.encode(TEXT[n_test:])) == \
        pytest.approx(metrics["test_loss"], rel=1e-6)
    for key in ("best_val_loss", "best_val_update", "best_val_bits_per_char", "final_val_loss",
                "test_bits_per_char", "n_params", "wall_time_s", "chars_per_s", "device"):
        assert key in metrics, key
    rc, _, err = cli(capsys, "--kind", "lstm", "--data", good, "--chars", 3200, "--out", out)
    assert rc == 2 and "holds a different run" in err  # refused before any work: still the GRU
    assert json.loads((out / "config.json").read_text())["kind"] == "gru"


def test_units_of_an_lstm_run_folder(tmp_path, capsys):
    from charrnn.cli import main
    from charrnn.studies import units
    from charrnn.studies.baselines_io import save_baseline

    good = tmp_path / "t.txt"
    good.write_text(TEXT, encoding="utf-8")
    out = save_baseline(tiny(), tmp_path / "lstm")
    light = read_baseline(out)  # no model: what the report reads
    assert light["metrics"] == json.loads((out / "metrics.json").read_text())
    assert [r["update"] for r in light["validation"]] == [8, 16, 24]
    rc = main(["units", "--baseline", str(out), "--data", str(good), "--json", str(tmp_path / "u.json")])
    stdout = capsys.readouterr().out
    assert rc == 0 and "h_t of the lstm" in stdout and "c_t of the lstm" in stdout
    saved = json.loads((tmp_path / "u.json").read_text())
    assert set(saved["states"]) == {"h", "c"} and saved["kind"] == "lstm" and saved["hidden"] == 16
    assert saved["trained_holdout"] == 1
    # the same numbers from the states computed here, independently of the command
    start, part, labels = units.analysis_part(TEXT)
    assert saved["start"] == start == read_baseline(out)["config"]["n_train_chars"]
    run = load_baseline(out)
    states = hidden_states(run.model, run.vocab.encode(part))
    for name in ("h", "c"):
        want = units.analyze(states[name], labels, probe=False)["features"]
        got = saved["states"][name]["features"]
        assert [(r["unit"], r["score"]) for r in got] == [(r["unit"], r["score"]) for r in want]
        assert len(saved["states"][name]["saturation"]["left"]) == 16
    first = saved["states"]["c"]["passages"][0]
    assert first["text"] == TEXT[first["start"] : first["start"] + len(first["text"])]
    with pytest.raises(SystemExit) as stop:
        main(["units", "--data", str(good)])
    assert stop.value.code == 2 and "either --checkpoint" in capsys.readouterr().err
