"""Training extensions (charrnn.training.train): learning-rate schedules, held-out validation, best model by
validation loss, mini-batches, training orders and engine choice. Small, fast runs only."""

import math
import re

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import charrnn.training.train as train_mod
from charrnn.model.data import Vocabulary
from charrnn.model.evaluate import BITS_PER_NAT, stateful_loss, windowed_loss
from charrnn.model.rnn import forward, init_params
from charrnn.training.config import TrainConfig, learning_rates
from charrnn.training.orders import Reader
from charrnn.training.train import split_text, train

WORDS = "the cat sat on a mat while a dog ran to the big red barn and back again".split()
TEXT = " ".join(WORDS[i] for i in np.random.default_rng(0).integers(0, len(WORDS), 200))[:800]


def config(**overrides):
    base = dict(m=8, seq_length=5, n_updates=20, sample_every=1000, sample_length=5,
                final_sample_length=5, log_every=1, engine="numpy")
    return TrainConfig.from_preset("adam", **{**base, **overrides})


def held_out(cfg, text=TEXT):
    """(n_train, validation indices), computed here: the last holdout of n_chunks chunks."""
    N = len(text)
    n_train = round(N * (cfg.n_chunks - cfg.holdout) / cfg.n_chunks)
    return n_train, Vocabulary.from_text(text).encode(text)[n_train:]


# ---------------------------------------------------------------- learning rates


def test_constant_learning_rate():
    cfg = config(eta=0.02, n_updates=50, warmup=7)  # warm-up belongs to the cosine schedule
    np.testing.assert_array_equal(learning_rates(cfg, 1, 50), np.full(50, 0.02))
    np.testing.assert_array_equal(learning_rates(cfg, 31, 4), np.full(4, 0.02))


@pytest.mark.parametrize("n_updates, warmup", [(10, 0), (37, 0), (10, 3), (40, 9), (5, 1)])
def test_cosine_learning_rate(n_updates, warmup):
    eta = 0.004
    cfg = config(eta=eta, n_updates=n_updates, lr_schedule="cosine", warmup=warmup)
    expected = []
    for u in range(1, n_updates + 1):
        if u <= warmup:
            expected.append(eta * u / warmup)
        else:
            k, K = u - warmup, n_updates - warmup
            expected.append(eta * (1 + math.cos(math.pi * k / K)) / 2)
    got = learning_rates(cfg, 1, n_updates)
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-14 * eta)  # 1 + cos cancels
    assert got[-1] == pytest.approx(0.0, abs=1e-19)  # zero at the last update
    if warmup:
        assert got[warmup - 1] == pytest.approx(eta, rel=1e-15)  # eta at the end of warm-up
        assert got[0] == pytest.approx(eta / warmup, rel=1e-15)
    assert np.all(np.diff(got[warmup:]) < 0)  # decays after warm-up
    # any piece of the schedule is the same slice of the whole
    for first, n in ((1, 1), (2, 3), (n_updates, 1), (warmup + 1, n_updates - warmup)):
        np.testing.assert_array_equal(learning_rates(cfg, first, n), got[first - 1 : first - 1 + n])


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_training_uses_the_schedule(engine):
    # one update under the cosine schedule without warm-up has learning rate 0: nothing moves
    cfg = config(n_updates=1, lr_schedule="cosine", engine=engine)
    init, _ = init_params(len(set(TEXT)), 8, np.random.default_rng(cfg.seed), "scaled")
    r = train(TEXT, cfg)
    np.testing.assert_array_equal(r.state.flat, init)
    r = train(TEXT, config(n_updates=1, engine=engine))  # the constant schedule moves them
    assert np.abs(r.state.flat - init).max() > 1e-4


# ---------------------------------------------------------------- held-out text


def test_split_text_holds_out_the_last_chunks():
    for n_chunks, holdout, N in ((20, 2, 800), (7, 1, 1001), (5, 4, 99), (20, 0, 800)):
        cfg = config(n_chunks=n_chunks, holdout=holdout)
        n_train, bounds = split_text(N, cfg)
        assert n_train == round(N * (n_chunks - holdout) / n_chunks)
        assert len(bounds) == n_chunks - holdout + 1
        assert bounds[0] == 0 and bounds[-1] == n_train


@pytest.mark.parametrize("order, B", [("sequential", 1), ("sequential", 3), ("random", 1),
                                      ("random", 4), ("chunks", 1), ("chunks", 2)])
def test_training_windows_never_touch_the_held_out_text(monkeypatch, order, B):
    seen = []

    class RecordingReader(Reader):
        def next(self, n):
            out = super().next(n)
            seen.append(out[0])
            return out

    monkeypatch.setattr(train_mod, "Reader", RecordingReader)
    cfg = config(order=order, batch_size=B, holdout=3, eval_every=50, n_updates=150)
    r = train(TEXT, cfg)
    n_train, _ = held_out(cfg)
    assert r.metrics["n_train_chars"] == n_train == 680
    starts = np.concatenate(seen)
    assert starts.min() >= 0
    assert starts.max() + cfg.seq_length + 1 <= n_train  # targets stay before the held-out part
    if order == "sequential" and B == 1:  # the handout's order reaches the end of the part
        assert starts.max() == (n_train - cfg.seq_length - 1) // 5 * 5
    if order == "random":
        assert starts.max() > n_train - 4 * cfg.seq_length


def test_validation_rows_and_best_model():
    cfg = config(batch_size=3, eta=0.1, holdout=2, eval_every=5, n_updates=58)
    r = train(TEXT, cfg)
    _, val = held_out(cfg)
    updates = [row["update"] for row in r.validation]
    assert updates == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 58]  # multiples and the end
    assert [row["chars"] for row in r.validation] == [u * 5 * 3 for u in updates]
    losses = [row["val_loss"] for row in r.validation]
    i = int(np.argmin(losses))
    assert updates[i] != updates[-1], "precondition: the best model is not the last one"
    assert r.best.update == updates[i] and r.best.criterion == "val_loss"
    assert r.best.loss == losses[i]
    with threadpool_limits(limits=1, user_api="blas"):
        assert stateful_loss(r.best_params, val) == losses[i]
        assert stateful_loss(r.state.params, val) == losses[-1]  # the last row is the final model
        assert windowed_loss(r.state.params, val, 5) == r.validation[-1]["val_loss_windowed"]
    m = r.metrics
    assert m["best_model"] == "val_loss"
    assert m["best_val_loss"] == losses[i] and m["best_val_update"] == updates[i]
    assert m["best_val_bits_per_char"] == pytest.approx(losses[i] * BITS_PER_NAT, rel=1e-14)
    assert m["best_val_bits_per_char"] == pytest.approx(losses[i] / math.log(2), rel=1e-14)
    assert m["final_val_loss"] == losses[-1]
    assert m["final_val_loss_windowed"] == r.validation[-1]["val_loss_windowed"]


def test_no_extra_row_when_the_end_is_a_multiple():
    r = train(TEXT, config(holdout=1, eval_every=5, n_updates=20))
    assert [row["update"] for row in r.validation] == [5, 10, 15, 20]


def test_validation_rows_are_the_models_of_those_updates():
    # a shorter run with the same config stops at the model the longer run evaluated there
    cfg = dict(eta=0.1, holdout=2, eval_every=5)
    long = train(TEXT, config(n_updates=35, **cfg))
    _, val = held_out(config(**cfg))
    rows = {row["update"]: row for row in long.validation}
    for u in (5, 20):
        short = train(TEXT, config(n_updates=u, **cfg))
        with threadpool_limits(limits=1, user_api="blas"):
            assert stateful_loss(short.state.params, val) == rows[u]["val_loss"]
            assert windowed_loss(short.state.params, val, 5) == rows[u]["val_loss_windowed"]
    losses = [row["val_loss"] for row in long.validation]
    assert long.best.update == long.validation[int(np.argmin(losses))]["update"]


def test_without_validation_the_best_model_is_by_smooth_loss():
    r = train(TEXT, config(holdout=2, n_updates=30))
    assert r.validation == [] and "best_val_loss" not in r.metrics
    assert r.best.criterion == "smooth_loss" and r.metrics["best_model"] == "smooth_loss"
    assert r.metrics["n_train_chars"] == 720


# ---------------------------------------------------------------- config validation


@pytest.mark.parametrize("overrides, message", [
    (dict(eval_every=10), "eval_every > 0 needs a held-out chunk"),
    (dict(holdout=20, n_chunks=20), "holdout must be smaller than n_chunks = 20"),
    (dict(holdout=5, n_chunks=3), "holdout must be smaller than n_chunks = 3"),
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=-2), "batch_size"),
    (dict(engine="numba", batch_size=2), "engine 'numba' trains one sequence per update"),
    (dict(order="shuffle"), "unknown order 'shuffle'"),
    (dict(lr_schedule="linear"), "unknown lr_schedule 'linear'"),
    (dict(holdout=-1), "holdout must be a non-negative integer"),
    (dict(warmup=1.5), "warmup must be a non-negative integer"),
    (dict(n_chunks=0), "n_chunks"),
])
def test_bad_configs_are_refused(overrides, message):
    cfg = config(**overrides)
    with pytest.raises(ValueError, match=re.escape(message)):
        cfg.validate()
    with pytest.raises(ValueError, match=re.escape(message)):  # before any work
        train(TEXT, cfg)


def test_held_out_part_too_short_is_refused():
    with pytest.raises(ValueError, match="n_chunks = 20 chunks of at least seq_length"):
        train(TEXT[:100], config(holdout=1, n_chunks=20))


def test_training_segments_too_short_are_refused():
    with pytest.raises(ValueError, match="batch_size = 8 streams of at least seq_length"):
        train(TEXT[:40], config(batch_size=8))  # 8 segments of 5 characters < seq_length + 1


# ---------------------------------------------------------------- mini-batches, engines


@pytest.mark.parametrize("order", ["sequential", "random", "chunks"])
def test_batch_training_is_deterministic_for_a_seed(order):
    cfg = dict(batch_size=3, order=order, holdout=2, eval_every=10, n_updates=25)
    a, b = train(TEXT, config(**cfg)), train(TEXT, config(**cfg))
    np.testing.assert_array_equal(a.state.flat, b.state.flat)
    for k in a.history:
        np.testing.assert_array_equal(a.history[k], b.history[k])
    assert [r["val_loss"] for r in a.validation] == [r["val_loss"] for r in b.validation]
    assert a.final_sample == b.final_sample
    c = train(TEXT, config(seed=2, **cfg))
    assert not np.array_equal(a.state.flat, c.state.flat)


@pytest.mark.parametrize("order, B", [("sequential", 3), ("random", 2), ("chunks", 4),
                                      ("sequential", 1)])
def test_first_loss_is_the_mean_over_the_readers_windows(order, B):
    cfg = config(batch_size=B, order=order, holdout=2, n_updates=1)
    r = train(TEXT, cfg)
    vocab = Vocabulary.from_text(TEXT)
    book = vocab.encode(TEXT)
    n_train, bounds = split_text(len(book), cfg)
    starts, resets, _ = Reader(n_train, 5, B, order, bounds, cfg.seed).next(1)
    assert resets.all()
    _, params = init_params(vocab.K, 8, np.random.default_rng(cfg.seed), "scaled")
    losses = [float(forward(params, book[e : e + 5], book[e + 1 : e + 6], np.zeros(8))[0])
              for e in starts[0]]
    assert r.history["update"].tolist() == [1]
    assert r.history["loss"][0] == pytest.approx(np.mean(losses), rel=1e-13)


def test_engine_auto_resolves_by_batch_size():
    one = train(TEXT, config(engine="auto", n_updates=3))
    many = train(TEXT, config(engine="auto", batch_size=2, n_updates=3))
    assert one.metrics["engine"] == "numba"
    assert many.metrics["engine"] == "numpy"
    assert train(TEXT, config(n_updates=3)).metrics["engine"] == "numpy"


@pytest.mark.book
@pytest.mark.slow  # two mini-batch runs of 600,000 characters on the book
def test_float32_reaches_the_float64_validation_loss(book_path):
    from charrnn.model.data import read_text

    text = read_text(book_path)
    losses = {}
    for dtype in ("float64", "float32"):
        cfg = TrainConfig(m=64, batch_size=16, seq_length=25, eta=3e-3, n_updates=1500,
                          holdout=1, eval_every=500, sample_every=1500, dtype=dtype)
        r = train(text, cfg)
        assert r.state.flat.dtype == np.dtype(dtype) and r.metrics["engine"] == "numpy"
        losses[dtype] = r.metrics["best_val_loss"]
    from charrnn.report.prose import FLOAT32_TOLERANCE  # the report quotes this bound

    assert abs(losses["float32"] - losses["float64"]) <= FLOAT32_TOLERANCE, losses


def test_float32_is_refused_by_the_numba_engine():
    with pytest.raises(ValueError, match="engine 'numba' computes in float64"):
        TrainConfig(engine="numba", dtype="float32").validate()
    with pytest.raises(ValueError, match="unknown dtype 'float16'"):
        TrainConfig(dtype="float16").validate()
