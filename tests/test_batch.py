"""Mini-batches in charrnn.rnn (X of shape (T, B)): against B single-sequence passes and PyTorch
float64 autograd."""

import numpy as np
import pytest
import torch

from charrnn.rnn import PARAM_NAMES, init_params, loss_and_grads
from charrnn.rnn import loss_and_grads as loss_and_grads_batch

K, M = 7, 6


def problem(B, T, seed):
    """Random parameters (nonzero biases), X, Y (T, B) and a nonzero H0 (B, m)."""
    rng = np.random.default_rng(seed)
    _, params = init_params(K, M, rng, "scaled")
    params["b"][...] = rng.normal(0, 0.3, M)
    params["c"][...] = rng.normal(0, 0.3, K)
    X = rng.integers(0, K, size=(T, B))
    Y = rng.integers(0, K, size=(T, B))
    H0 = np.tanh(rng.normal(0, 1.0, size=(B, M)))
    return params, X, Y, H0


def torch_batch_loss(params, X, Y, H0, reduction):
    """The batched loss in PyTorch float64 (written independently of charrnn)."""
    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    Xt, Yt = torch.as_tensor(X), torch.as_tensor(Y)
    h = torch.tensor(H0, dtype=torch.float64)
    T, B = X.shape
    per_seq = torch.zeros(B, dtype=torch.float64)
    for t in range(T):
        x_onehot = torch.nn.functional.one_hot(Xt[t], K).to(torch.float64)  # (B, K)
        h = torch.tanh(h @ p["W"].T + x_onehot @ p["U"].T + p["b"])  # (B, m)
        logp = torch.log_softmax(h @ p["V"].T + p["c"], dim=1)  # (B, K)
        per_seq = per_seq - logp[torch.arange(B), Yt[t]]
    if reduction == "mean":
        per_seq = per_seq / T
    loss = per_seq.mean()
    loss.backward()
    return loss.item(), {k: p[k].grad.numpy() for k in PARAM_NAMES}, h.detach().numpy()


def worst(a, b):
    """Largest |a - b| and its index."""
    d = np.abs(a - b)
    i = np.unravel_index(np.argmax(d), d.shape)
    return d[i], i


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("B", [1, 3, 8])
@pytest.mark.parametrize("T", [1, 2, 9])
def test_batch_is_the_mean_of_single_sequences(B, T, reduction):
    params, X, Y, H0 = problem(B, T, seed=10 * B + T)
    loss, grads, H_last = loss_and_grads_batch(params, X, Y, H0, reduction)
    singles = [loss_and_grads(params, X[:, i], Y[:, i], H0[i], reduction) for i in range(B)]
    ref_loss = np.mean([float(s[0]) for s in singles])
    assert abs(loss - ref_loss) <= 1e-12, (loss, ref_loss)
    for k in PARAM_NAMES:
        ref = np.mean([s[1][k] for s in singles], axis=0)
        assert grads[k].shape == ref.shape
        d, i = worst(grads[k], ref)
        assert d <= 1e-12, f"d{k}: worst |diff| {d:.2e} at {i}, allowed 1e-12"
    for i in range(B):
        d, j = worst(H_last[i], singles[i][2])
        assert d <= 1e-12, f"H_last[{i}]: worst |diff| {d:.2e} at {j}"


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("B", [1, 3, 8])
def test_batch_matches_torch_autograd(B, reduction):
    T = 11
    params, X, Y, H0 = problem(B, T, seed=100 + B)
    loss, grads, H_last = loss_and_grads_batch(params, X, Y, H0, reduction)
    ref_loss, ref_grads, ref_H = torch_batch_loss(params, X, Y, H0, reduction)
    assert abs(loss - ref_loss) <= 1e-10 * abs(ref_loss)
    for k in PARAM_NAMES:
        d, i = worst(grads[k], ref_grads[k])
        scale = np.abs(ref_grads[k]).max()
        assert scale > 0
        assert d <= 1e-10 * scale, \
            f"d{k}: worst |diff| {d:.2e} at {i}, allowed 1e-10 x max|grad| = {1e-10 * scale:.2e}"
    d, i = worst(H_last, ref_H)
    assert d <= 1e-12, f"H_last: worst |diff| {d:.2e} at {i}"


def test_first_loss_is_about_ln_K_with_zero_output_layer():
    params, X, Y, H0 = problem(4, 5, seed=0)
    params["V"][...] = 0.0
    params["c"][...] = 0.0
    loss, _, _ = loss_and_grads_batch(params, X, Y, H0, "mean")
    assert loss == pytest.approx(np.log(K), abs=1e-14)
    loss, _, _ = loss_and_grads_batch(params, X, Y, H0, "sum")
    assert loss == pytest.approx(5 * np.log(K), abs=1e-13)


def test_inputs_are_not_modified_and_unknown_reduction_is_refused():
    params, X, Y, H0 = problem(3, 4, seed=1)
    copies = {k: v.copy() for k, v in params.items()}, H0.copy()
    loss_and_grads_batch(params, X, Y, H0, "mean")
    for k in PARAM_NAMES:
        np.testing.assert_array_equal(params[k], copies[0][k])
    np.testing.assert_array_equal(H0, copies[1])
    with pytest.raises(ValueError, match="reduction"):
        loss_and_grads_batch(params, X, Y, H0, "max")
