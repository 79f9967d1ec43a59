"""Tests of charrnn.training.train: determinism, the handout's loop (reqs. 12-15), overfitting, config."""

import importlib.util
import math

import numpy as np
import pytest

from charrnn.model.data import Vocabulary, updates_per_epoch
from charrnn.model.optim import make_optimizer
from charrnn.model.rnn import PARAM_NAMES, forward, init_params, loss_and_grads
from charrnn.model.sampling import synthesize
from charrnn.training.config import ENGINES as TRAIN_ENGINES
from charrnn.training.config import PRESETS, TrainConfig
from charrnn.training.train import train

HELLO = "hello world " * 20  # 240 characters, K = 8
TEXT_251 = ("hello world " * 21)[:251]  # the last window ends exactly at the text end for s = 25

#: The readable NumPy loop is the reference; the compiled engine must keep the same behaviour.
HAVE_NUMBA = "numba" in TRAIN_ENGINES and importlib.util.find_spec("numba") is not None
ENGINES = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(
    not HAVE_NUMBA, reason="no numba engine here"))]


def small_config(preset="adam", **kw):
    base = dict(m=12, seq_length=10, n_updates=30, seed=3, sample_every=1000, sample_length=20,
                final_sample_length=40, log_every=1, engine="numpy")
    return TrainConfig.from_preset(preset, **{**base, **kw})


def reference_run(text, cfg):
    """The handout's training loop (reqs. 12-14) written out plainly, one update at a time."""
    vocab = Vocabulary.from_text(text)
    book = np.array([vocab.char_to_ind[ch] for ch in text])
    n, s = len(book), cfg.seq_length
    flat, params = init_params(vocab.K, cfg.m, np.random.default_rng(cfg.seed), cfg.init,
                               cfg.sigma)
    opt = make_optimizer(cfg.optimizer, flat.size, cfg.eta, cfg.beta1, cfg.beta2, cfg.eps)
    e, hprev, epoch = 0, np.zeros(cfg.m), 1
    out = {"loss": [], "smooth": [], "epoch": [], "flat_before": [], "hprev": [], "x0": [],
           "grad_norm": []}
    smooth = None
    for _ in range(cfg.n_updates):
        if e > n - s - 1:  # req. 13: epoch end, reset position and hidden state
            e, hprev, epoch = 0, np.zeros(cfg.m), epoch + 1
        x, y = book[e : e + s], book[e + 1 : e + s + 1]  # req. 12: targets are the next chars
        loss, grads, h_last = loss_and_grads(params, x, y, hprev, cfg.loss)
        g = np.concatenate([grads[k].ravel() for k in PARAM_NAMES])
        out["grad_norm"].append(np.linalg.norm(g))  # before clipping
        if cfg.grad_clip is not None:
            g = np.clip(g, -cfg.grad_clip, cfg.grad_clip)
        smooth = loss if smooth is None else 0.999 * smooth + 0.001 * loss  # req. 14
        out["loss"].append(loss)
        out["smooth"].append(smooth)
        out["epoch"].append(epoch)
        out["flat_before"].append(flat.copy())
        out["hprev"].append(hprev.copy())
        out["x0"].append(int(x[0]))
        opt.step(flat, g)
        hprev = h_last
        e += s
    out["flat"] = flat
    out["hprev_last"] = hprev
    out["vocab"] = vocab
    return out


# ----------------------------------------------------------------------------- the loop


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("preset", ["adam", "adagrad"])
def test_train_matches_handout_loop(preset, engine):
    # 25 updates on 251 characters with s = 25: 10 per epoch, so two epoch resets are crossed
    cfg = small_config(preset, seq_length=25, n_updates=25, m=10, engine=engine)
    res = train(TEXT_251, cfg)
    ref = reference_run(TEXT_251, cfg)
    tol = 1e-12 if engine == "numpy" else 1e-10  # numba sums in another order
    np.testing.assert_allclose(res.history["loss"], ref["loss"], rtol=tol)
    np.testing.assert_allclose(res.history["smooth_loss"], ref["smooth"], rtol=tol)
    assert res.history["epoch"].tolist() == ref["epoch"]
    np.testing.assert_allclose(res.history["grad_norm"], ref["grad_norm"], rtol=tol)
    top = int(np.argmax(ref["grad_norm"]))
    assert res.metrics["max_grad_norm_update"] == top + 1
    assert res.metrics["max_grad_norm"] == pytest.approx(ref["grad_norm"][top], rel=tol)
    np.testing.assert_allclose(res.state.flat, ref["flat"], rtol=tol, atol=1e-13)
    assert res.state.hprev.shape == (1, cfg.m)  # one row per stream; B = 1 here
    np.testing.assert_allclose(res.state.hprev[0], ref["hprev_last"], rtol=tol, atol=1e-13)
    for name in PARAM_NAMES:  # the params dict views the flat buffer
        assert np.shares_memory(res.state.params[name], res.state.flat)


def test_hprev_is_carried_and_reset():
    # Rebuild the loss of update u + 1 from the state train() leaves after u updates: within an
    # epoch h0 is the last hidden state (req. 12); at an epoch start it is zero (req. 13).
    s = 25
    book = Vocabulary.from_text(TEXT_251).encode(TEXT_251)
    for u, e_next, carried in [(1, 25, True), (4, 100, True), (10, 0, False), (12, 50, True)]:
        before = train(TEXT_251, small_config(seq_length=s, n_updates=u, m=10))
        after = train(TEXT_251, small_config(seq_length=s, n_updates=u + 1, m=10))
        x, y = book[e_next : e_next + s], book[e_next + 1 : e_next + s + 1]
        h_carried = before.state.hprev[0]
        assert h_carried.any()
        expected, _ = forward(before.state.params, x, y, h_carried if carried else np.zeros(10))
        other, _ = forward(before.state.params, x, y, np.zeros(10) if carried else h_carried)
        loss = after.history["loss"][u]
        assert loss == pytest.approx(expected, rel=1e-12), u
        assert abs(loss - other) > 1e-9, u  # h0 makes a visible difference here


@pytest.mark.parametrize("engine", ENGINES)
def test_epoch_counter_increments_at_the_right_update(engine):
    s, n_updates = 25, 35
    cfg = small_config(seq_length=s, n_updates=n_updates, m=8, log_every=1, engine=engine)
    res = train(TEXT_251, cfg)
    per_epoch = updates_per_epoch(len(TEXT_251), s)
    assert per_epoch == 10  # e = 0, 25, ..., 225 = 251 - 25 - 1
    u = np.arange(1, n_updates + 1)
    assert res.history["update"].tolist() == u.tolist()
    assert res.history["epoch"].tolist() == (1 + (u - 1) // per_epoch).tolist()
    assert res.metrics["updates_per_epoch"] == per_epoch
    assert res.metrics["epochs"] == pytest.approx(n_updates / per_epoch)
    assert res.metrics["n_chars"] == 251 and res.metrics["K"] == 8


def test_history_rows():
    res = train(HELLO, small_config(n_updates=45, log_every=10))
    h = res.history
    assert h["update"].tolist() == [1, 10, 20, 30, 40]
    assert set(h) == {"update", "loss", "smooth_loss", "grad_norm", "epoch"}
    assert all(len(v) == 5 for v in h.values())
    assert h["update"].dtype == np.int64 and h["epoch"].dtype == np.int64
    full = train(HELLO, small_config(n_updates=45, log_every=1)).history
    for col in ("loss", "smooth_loss", "grad_norm", "epoch"):
        assert np.array_equal(h[col], full[col][h["update"] - 1])
    # the run's largest gradient norm is over every update, not only the logged ones
    assert res.metrics["max_grad_norm"] == full["grad_norm"].max()
    assert res.metrics["max_grad_norm_update"] == int(np.argmax(full["grad_norm"])) + 1
    assert h["smooth_loss"][0] == h["loss"][0]  # smooth loss starts at the first loss


# ----------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("preset", ["adam", "adagrad"])
def test_same_seed_is_bit_identical(preset, engine):
    kw = dict(n_updates=40, sample_every=15, engine=engine)
    a, b = train(HELLO, small_config(preset, **kw)), train(HELLO, small_config(preset, **kw))
    for col in a.history:
        assert np.array_equal(a.history[col], b.history[col]), col
    assert np.array_equal(a.state.flat, b.state.flat)
    assert np.array_equal(a.state.best_smooth.flat, b.state.best_smooth.flat)
    assert a.samples == b.samples
    assert a.final_sample == b.final_sample


@pytest.mark.parametrize("engine", ENGINES)
def test_different_seed_differs(engine):
    a = train(HELLO, small_config(seed=1, engine=engine))
    b = train(HELLO, small_config(seed=2, engine=engine))
    assert not np.array_equal(a.state.flat, b.state.flat)
    assert not np.array_equal(a.history["loss"], b.history["loss"])


def test_sampling_does_not_shift_training():
    a = train(HELLO, small_config(n_updates=40, sample_every=7))
    b = train(HELLO, small_config(n_updates=40, sample_every=1000))
    assert np.array_equal(a.history["loss"], b.history["loss"])
    assert np.array_equal(a.state.flat, b.state.flat)


# ----------------------------------------------------------------------------- learning


def test_initial_loss_is_near_uniform():
    K = 8
    adam = train(HELLO, small_config("adam", seq_length=25, n_updates=1))
    assert abs(adam.history["loss"][0] - math.log(K)) < 0.5  # scaled init: about ln K per char
    ada = train(HELLO, small_config("adagrad", seq_length=25, n_updates=1))
    # sigma = 0.01: the outputs are nearly uniform, the summed loss is nearly 25 ln K
    assert ada.history["loss"][0] == pytest.approx(25 * math.log(K), rel=1e-3)


@pytest.mark.parametrize("engine", ENGINES)
def test_overfits_a_tiny_text(engine):
    text = "hello world " * 50
    cfg = TrainConfig.from_preset("adam", m=32, eta=0.01, n_updates=1500, seq_length=25,
                                  sample_every=500, sample_length=50, final_sample_length=120,
                                  log_every=1, seed=1, engine=engine)
    res = train(text, cfg)
    lnK = math.log(res.vocab.K)
    assert res.vocab.K == 8
    assert res.history["smooth_loss"][-1] < 0.5 * lnK
    assert res.history["loss"][-100:].mean() < 0.01 * lnK  # the text is (nearly) memorised
    assert "hello world hello world" in res.final_sample


# ----------------------------------------------------------------------------- samples, best


@pytest.mark.parametrize("n_updates, expected", [(60, [0, 20, 40, 60]), (50, [0, 20, 40])])
def test_samples_recorded_at_multiples_of_sample_every(n_updates, expected):
    cfg = small_config(n_updates=n_updates, sample_every=20, sample_length=33,
                       final_sample_length=71)
    res = train(HELLO, cfg)
    assert [s["update"] for s in res.samples] == expected
    assert all(len(s["text"]) == 33 for s in res.samples)
    assert len(res.final_sample) == 71
    assert set("".join(s["text"] for s in res.samples) + res.final_sample) <= set(HELLO)


def test_first_sample_and_final_sample_follow_the_documented_rules():
    # sample 0: initial parameters, hprev = 0, x0 = first input char, rng default_rng([seed, 1]);
    # final sample: the best model with its hprev and x0, same rng continued.
    cfg = small_config(n_updates=30, sample_every=1000, sample_length=25, final_sample_length=50)
    res = train(HELLO, cfg)
    ref = reference_run(HELLO, cfg)
    vocab = ref["vocab"]
    _, p0 = init_params(vocab.K, cfg.m, np.random.default_rng(cfg.seed), cfg.init, cfg.sigma)
    rng = np.random.default_rng([cfg.seed, 1])
    s0 = synthesize(p0, np.zeros(cfg.m), vocab.char_to_ind[HELLO[0]], 25, rng)
    assert res.samples == [{"update": 0, "text": vocab.decode(s0)}]
    i = int(np.argmin(ref["smooth"]))
    _, best = init_params(vocab.K, cfg.m, np.random.default_rng(0))
    start = 0
    for name in PARAM_NAMES:
        size = best[name].size
        best[name][...] = ref["flat_before"][i][start : start + size].reshape(best[name].shape)
        start += size
    final = synthesize(best, ref["hprev"][i], ref["x0"][i], 50, rng)
    assert res.final_sample == vocab.decode(final)


@pytest.mark.parametrize("u", [7, 23])  # HELLO with s = 10 has 23 updates per epoch
def test_later_sample_starts_from_the_next_update(u):
    # the sample after u updates uses that moment's params, the next update's hprev and its
    # first input character; after 23 updates the epoch has ended, so e = 0 and hprev = 0
    L = 30
    cfg = small_config(n_updates=u, sample_every=u, sample_length=L)
    res = train(HELLO, cfg)
    before = train(HELLO, small_config(n_updates=u, sample_every=1000, sample_length=L))
    book = Vocabulary.from_text(HELLO).encode(HELLO)
    e, h = 10 * u, before.state.hprev[0].copy()
    if e > len(book) - 10 - 1:
        e, h = 0, np.zeros(cfg.m)
    assert updates_per_epoch(len(HELLO), 10) == 23
    rng = np.random.default_rng([cfg.seed, 1])
    for _ in range(L):  # sample 0 used one draw per character
        rng.random()
    expected = synthesize(before.state.params, h, int(book[e]), L, rng)
    assert [smp["update"] for smp in res.samples] == [0, u]
    assert res.samples[1]["text"] == before.vocab.decode(expected)


@pytest.mark.parametrize("engine", ENGINES)
def test_best_is_argmin_of_smooth_loss(engine):
    rng = np.random.default_rng(0)
    text = "".join(rng.choice(list("abcdefghij"), 300))  # little to learn: the minimum wanders
    n = 200
    inner = 0
    tol = 1e-12 if engine == "numpy" else 1e-9
    for seed in (1, 2, 7):
        cfg = small_config(m=8, eta=1e-3, n_updates=n, seq_length=10, seed=seed, log_every=1,
                           engine=engine)
        res = train(text, cfg)
        ref = reference_run(text, cfg)
        smooth = res.history["smooth_loss"]
        i = int(np.argmin(smooth))
        assert res.state.best_smooth.update == res.history["update"][i] == i + 1
        assert res.state.best_smooth.loss == smooth.min()
        assert res.metrics["best_update"] == i + 1
        assert res.metrics["best_smooth_loss"] == smooth.min()
        # the best model is the parameters *before* that update, with that update's hprev, x0
        assert int(np.argmin(ref["smooth"])) == i
        np.testing.assert_allclose(res.state.best_smooth.flat, ref["flat_before"][i], rtol=tol,
                                   atol=1e-13)
        np.testing.assert_allclose(res.state.best_smooth.hprev, ref["hprev"][i], rtol=tol, atol=1e-13)
        assert res.state.best_smooth.x0 == ref["x0"][i]
        for name in PARAM_NAMES:
            assert res.best_params[name].shape == res.state.params[name].shape
        inner += 1 < i + 1 < n
    assert inner >= 1  # at least one case where the best update is neither the first nor last


# ----------------------------------------------------------------------------- config


def test_presets_follow_the_handouts():
    adam = TrainConfig.from_preset("adam")
    assert (adam.optimizer, adam.eta, adam.loss, adam.init, adam.grad_clip) == (
        "adam", 0.001, "mean", "scaled", None)
    assert (adam.beta1, adam.beta2, adam.eps) == (0.9, 0.999, 1e-8)
    ada = TrainConfig.from_preset("adagrad")
    assert (ada.optimizer, ada.eta, ada.loss, ada.init, ada.sigma, ada.grad_clip) == (
        "adagrad", 0.1, "sum", "small", 0.01, 5.0)
    assert (adam.m, adam.seq_length) == (100, 25)
    assert TrainConfig().validate() == TrainConfig.from_preset("adam")
    assert set(PRESETS) == {"adam", "adagrad"}
    assert TrainConfig.from_preset("adagrad", eta=0.05).eta == 0.05


@pytest.mark.parametrize("field, value", [
    ("m", 0), ("seq_length", -1), ("n_updates", 1.5), ("n_updates", 0), ("eta", 0),
    ("eta", -0.1), ("eta", float("nan")), ("temperature", 0), ("top_p", 1.5), ("top_p", 0),
    ("preset", "rmsprop"), ("engine", "torch"), ("optimizer", "sgd"), ("loss", "max"),
    ("init", "xavier"), ("beta1", 1.0), ("beta2", -0.1), ("grad_clip", 0), ("eps", 0),
    ("sigma", -1.0), ("seed", -1), ("seed", 1.5), ("sample_every", 0), ("sample_length", 0),
    ("final_sample_length", -5), ("log_every", 0), ("m", True),
])
def test_config_validation(field, value):
    # a tiny base config, so that a missing check fails fast instead of training for long
    base = dict(m=8, seq_length=10, n_updates=3, sample_every=1000, sample_length=5,
                final_sample_length=5, engine="numpy")
    TrainConfig(**base).validate()
    cfg = TrainConfig(**{**base, field: value})
    with pytest.raises(ValueError, match=field):
        cfg.validate()
    with pytest.raises(ValueError, match=field):
        train(HELLO, cfg)


def test_from_preset_rejects_unknown_preset_and_field():
    with pytest.raises(ValueError, match="preset"):
        TrainConfig.from_preset("rmsprop")
    with pytest.raises(ValueError, match="hidden"):
        TrainConfig.from_preset("adam", hidden=5)


def test_train_rejects_short_or_non_str_text():
    with pytest.raises(ValueError, match="seq_length"):
        train("x" * 10, small_config(seq_length=10))
    train("ab" * 5 + "c", small_config(seq_length=10, n_updates=2))  # 11 chars is enough
    with pytest.raises(ValueError, match="str"):
        train(b"hello world " * 5, small_config())


def test_the_test_text_is_scored_once_for_the_model_validation_chose():
    from charrnn.model.evaluate import stateful_loss
    from charrnn.model.rnn import param_views

    text = "".join(f"line {i}: the quick brown fox jumps over the lazy dog.\n" for i in range(40))
    cfg = small_config(n_updates=60, holdout=1, n_chunks=10, eval_every=10)
    whole = train(text, cfg)
    split = train(text, small_config(n_updates=60, holdout=1, n_chunks=10, eval_every=10,
                                     test_fraction=0.5))
    # training reads the same text: the same updates to the bit
    assert np.array_equal(whole.history["loss"], split.history["loss"])
    m, vocab = split.metrics, split.vocab
    held = len(text) - m["n_train_chars"]
    assert (m["n_val_chars"], m["n_test_chars"]) == (held - held // 2, held // 2)
    assert m["test_start"] == len(text) - held // 2
    book = np.array(vocab.encode(text))
    chosen = min(split.validation, key=lambda r: r["val_loss"])
    assert m["best_val_update"] == chosen["update"]
    # validation saw only its part; the test loss is the chosen model's, on the rest
    assert chosen["val_loss"] == stateful_loss(
        param_views(split.state.best_val.flat, vocab.K, cfg.m), book[m["n_train_chars"]:m["test_start"]])
    assert m["test_loss"] == stateful_loss(param_views(split.state.best_val.flat, vocab.K, cfg.m),
                                           book[m["test_start"]:])
    assert "test_loss" not in whole.metrics
    with pytest.raises(ValueError, match="test_fraction > 0 needs validation"):
        small_config(test_fraction=0.5).validate()
    with pytest.raises(ValueError, match=r"test_fraction must be a number in \[0, 1\)"):
        small_config(holdout=1, eval_every=5, test_fraction=1.0).validate()
