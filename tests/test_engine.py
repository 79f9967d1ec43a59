"""The numba engine against the readable NumPy reference (rnn.py, optim.py, train.py)."""

import subprocess
import sys

import numpy as np
import pytest

from charrnn.model.data import Vocabulary
from charrnn.model.rnn import PARAM_NAMES, init_params, loss_and_grads
from charrnn.training import engine
from charrnn.training.config import TrainConfig
from charrnn.training.train import train

TEXT = ("It was a bright cold day in April, and the clocks were striking thirteen. "
        "Harry looked at the clock; the clock looked at Harry.\n") * 30


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("T", [1, 2, 25])
def test_sequence_loss_and_gradients_agree(reduction, T):
    vocab = Vocabulary.from_text(TEXT)
    book = vocab.encode(TEXT)
    _, params = init_params(vocab.K, 100, np.random.default_rng(3))
    h0 = np.tanh(np.random.default_rng(4).standard_normal(100))
    x, y = book[7 : 7 + T], book[8 : 8 + T]
    l_ref, g_ref, h_ref = loss_and_grads(params, x, y, h0, reduction)
    l_fast, g_fast, h_fast = engine.loss_and_grads(params, x, y, h0, reduction)
    assert abs(l_ref - l_fast) <= 1e-12 * max(1.0, abs(l_ref))
    for k in PARAM_NAMES:
        np.testing.assert_allclose(g_fast[k], g_ref[k], rtol=0, atol=1e-12, err_msg=k)
    np.testing.assert_allclose(h_fast, h_ref, rtol=0, atol=1e-15)


def _pair(preset, n_updates, **kw):
    cfgs = [TrainConfig.from_preset(preset, n_updates=n_updates, m=100, sample_every=250,
                                    log_every=1, engine=e, **kw) for e in ("numpy", "numba")]
    return [train(TEXT, c) for c in cfgs]


def test_parameters_after_1000_adam_updates_agree():
    ref, fast = _pair("adam", 1000)
    # the text is short, so 1,000 updates cross many epoch boundaries (hprev resets)
    assert ref.history["epoch"][-1] > 5
    assert np.max(np.abs(ref.state.flat - fast.state.flat)) <= 1e-9
    assert np.max(np.abs(ref.history["loss"] - fast.history["loss"])) <= 1e-9
    assert np.max(np.abs(ref.history["smooth_loss"] - fast.history["smooth_loss"])) <= 1e-9
    assert np.array_equal(ref.history["epoch"], fast.history["epoch"])
    assert ref.state.best_smooth.update == fast.state.best_smooth.update
    assert np.max(np.abs(ref.state.best_smooth.flat - fast.state.best_smooth.flat)) <= 1e-9
    np.testing.assert_allclose(fast.state.best_smooth.hprev, ref.state.best_smooth.hprev, atol=1e-9)
    assert ref.state.best_smooth.x0 == fast.state.best_smooth.x0


def test_adagrad_with_clipping_agrees_over_the_first_updates():
    # AdaGrad at eta 0.1 with the summed loss is chaotic in its first updates (the loss jumps
    # from 81 to 147): rounding differences of 1e-14 grow about 20-fold per update. So compare
    # the first 4 updates, where the two must still agree far below that growth.
    ref, fast = _pair("adagrad", 4)
    assert np.max(np.abs(ref.history["loss"] - fast.history["loss"])) <= 1e-10
    assert np.max(np.abs(ref.state.flat - fast.state.flat)) <= 1e-9


def test_clipping_is_applied_by_the_engine():
    on = train(TEXT, TrainConfig.from_preset("adam", n_updates=5, m=20, grad_clip=1e-4,
                                             engine="numba", sample_every=100))
    off = train(TEXT, TrainConfig.from_preset("adam", n_updates=5, m=20, engine="numba",
                                              sample_every=100))
    ref = train(TEXT, TrainConfig.from_preset("adam", n_updates=5, m=20, grad_clip=1e-4,
                                              engine="numpy", sample_every=100))
    assert np.max(np.abs(on.state.flat - off.state.flat)) > 1e-6
    assert np.max(np.abs(on.state.flat - ref.state.flat)) <= 1e-12


def test_train_imports_neither_torch_nor_dask(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text(TEXT, encoding="utf-8")
    code = ("import sys; from charrnn.cli import main; "
            f"main(['train', '--data', {str(text)!r}, '--n-updates', '50', '--m', '8', "
            f"'--out', {str(tmp_path / 'run')!r}]); "
            "print(sorted(m for m in ('dask', 'distributed', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("n", [1, 7, 8, 9, 26_480, 26_483])
def test_sum_of_squares_of_the_gradient_norm(n):
    # the engine's eight partial sums (the gradient norm it logs) against a plain sum in
    # extended precision, for lengths that are and are not multiples of 8
    g = np.random.default_rng(n).standard_normal(n)
    exact = float(np.sum(np.square(g.astype(np.longdouble))))
    assert engine._sum_squares(g) == pytest.approx(exact, rel=1e-14)
    assert engine._sum_squares(np.zeros(n)) == 0.0


def test_auto_engine_does_not_import_numba_for_a_numpy_run():
    # float32 or mini-batch runs go to the NumPy engine without numba's half-second import
    code = ("import sys; from charrnn.training.config import TrainConfig; "
            "from charrnn.training.train import resolve_engine; "
            "c = TrainConfig.from_preset('adam', batch_size=8); "
            "print(resolve_engine(c), 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["numpy", "False"]
