"""Mini-batches in charrnn.model.rnn (X of shape (T, B)): against B single-sequence computations written
here step by step, and PyTorch float64 autograd."""

import numpy as np
import pytest
import torch

from charrnn.model.rnn import PARAM_NAMES, init_params, loss_and_grads

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


def single_sequence(params, x, y, h0, reduction):
    """Loss, gradients and last hidden state of ONE sequence x, y (T,) from h0 (m,): eqs. 1-5 and
    backprop through time one step and one vector at a time, with one-hot inputs, written here
    independently of charrnn.model.rnn (no batch axis anywhere, so nothing to mix)."""
    b, c, U, W, V = (params[k] for k in PARAM_NAMES)
    T, m, n_chars = len(x), len(b), len(c)
    hs, ps = [np.asarray(h0, dtype=float)], []
    loss = 0.0
    for t in range(T):
        onehot = np.zeros(n_chars)
        onehot[x[t]] = 1.0
        hs.append(np.tanh(W @ hs[-1] + U @ onehot + b))
        o = V @ hs[-1] + c
        p = np.exp(o - o.max())
        p /= p.sum()
        ps.append(p)
        loss -= np.log(p[y[t]])
    scale = 1.0 / T if reduction == "mean" else 1.0
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    da_next = np.zeros(m)
    for t in range(T - 1, -1, -1):
        g = ps[t].copy()  # dL/do_t
        g[y[t]] -= 1.0
        g *= scale
        grads["V"] += np.outer(g, hs[t + 1])
        grads["c"] += g
        da = (V.T @ g + W.T @ da_next) * (1.0 - hs[t + 1] ** 2)
        grads["W"] += np.outer(da, hs[t])
        grads["U"][:, x[t]] += da
        grads["b"] += da
        da_next = da
    return loss * scale, grads, hs[-1]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("B", [1, 3, 8])
@pytest.mark.parametrize("T", [1, 2, 9])
def test_batch_is_the_mean_of_single_sequences(B, T, reduction):
    """The batch of B streams against B single-sequence computations done one stream at a time
    by the step-by-step reference above: the loss and gradients are their means, and stream i's
    last hidden state is that of sequence i alone (a bug that mixes streams, or one that the batch
    and single-sequence code paths of charrnn.model.rnn share, fails here, at B = 1 too)."""
    params, X, Y, H0 = problem(B, T, seed=10 * B + T)
    loss, grads, H_last = loss_and_grads(params, X, Y, H0, reduction)
    singles = [single_sequence(params, X[:, i], Y[:, i], H0[i], reduction) for i in range(B)]
    ref_loss = np.mean([s[0] for s in singles])
    assert abs(loss - ref_loss) <= 1e-12, (loss, ref_loss)
    for k in PARAM_NAMES:
        ref = np.mean([s[1][k] for s in singles], axis=0)
        assert grads[k].shape == ref.shape
        d, i = worst(grads[k], ref)
        assert d <= 1e-12, f"d{k}: worst |diff| {d:.2e} at {i}, allowed 1e-12"
    assert H_last.shape == (B, M)
    for i in range(B):
        d, j = worst(H_last[i], singles[i][2])
        assert d <= 1e-12, f"H_last[{i}]: worst |diff| {d:.2e} at {j}"
    # one sequence given as x, y (T,) and h0 (m,) (the single-sequence interface) is that
    # sequence's loss and gradients, not those of the batch it came from
    i = B - 1
    one_loss, one_grads, one_h = loss_and_grads(params, X[:, i], Y[:, i], H0[i], reduction)
    assert abs(one_loss - singles[i][0]) <= 1e-12 and one_h.shape == (M,)
    assert np.abs(one_h - singles[i][2]).max() <= 1e-12
    for k in PARAM_NAMES:
        assert np.abs(one_grads[k] - singles[i][1][k]).max() <= 1e-12, k


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("B", [1, 3, 8])
def test_batch_matches_torch_autograd(B, reduction):
    T = 11
    params, X, Y, H0 = problem(B, T, seed=100 + B)
    loss, grads, H_last = loss_and_grads(params, X, Y, H0, reduction)
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
    loss, _, _ = loss_and_grads(params, X, Y, H0, "mean")
    assert loss == pytest.approx(np.log(K), abs=1e-14)
    loss, _, _ = loss_and_grads(params, X, Y, H0, "sum")
    assert loss == pytest.approx(5 * np.log(K), abs=1e-13)


def test_inputs_are_not_modified_and_unknown_reduction_is_refused():
    params, X, Y, H0 = problem(3, 4, seed=1)
    copies = {k: v.copy() for k, v in params.items()}, H0.copy()
    loss_and_grads(params, X, Y, H0, "mean")
    for k in PARAM_NAMES:
        np.testing.assert_array_equal(params[k], copies[0][k])
    np.testing.assert_array_equal(H0, copies[1])
    with pytest.raises(ValueError, match="reduction"):
        loss_and_grads(params, X, Y, H0, "max")
