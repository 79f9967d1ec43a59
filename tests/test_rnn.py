"""Tests of charrnn.model.rnn: initialisation, forward pass and backprop through time.

References: a plain per-step loop with one-hot vectors written here, PyTorch float64 autograd
(charrnn.model.reference) and, for the sensitivity check, a hand-written BPTT with and without the
recurrent term.
"""

import math

import numpy as np
import pytest

from charrnn.model.reference import torch_loss_and_grads
from charrnn.model.rnn import (
    PARAM_NAMES,
    backward,
    forward,
    init_params,
    loss_and_grads,
    new_params,
    param_shapes,
    softmax,
)

K, M = 11, 7


def rel_err(a, b, floor=1e-8):
    return np.abs(a - b) / np.maximum(floor, np.abs(a) + np.abs(b))


def random_problem(T, seed=0, K=K, m=M, h0_zero=False):
    rng = np.random.default_rng(seed)
    _, params = init_params(K, m, rng)
    params["b"][...] = 0.1 * rng.standard_normal(m)  # non-zero biases exercise db, dc
    params["c"][...] = 0.1 * rng.standard_normal(K)
    x = rng.integers(0, K, T)
    y = rng.integers(0, K, T)
    h0 = np.zeros(m) if h0_zero else 0.5 * np.tanh(rng.standard_normal(m))
    return params, x, y, h0


def onehot(i, K):
    v = np.zeros(K)
    v[i] = 1.0
    return v


# ----------------------------------------------------------------------------- init


def test_param_shapes_and_views():
    assert param_shapes(K, M) == {"b": (M,), "c": (K,), "U": (M, K), "W": (M, M), "V": (K, M)}
    flat, p = new_params(K, M)
    assert flat.dtype == np.float64
    assert flat.shape == (M + K + M * K + M * M + K * M,)
    assert list(p) == list(PARAM_NAMES)
    assert not flat.any()
    for name, arr in p.items():
        assert arr.shape == param_shapes(K, M)[name]
        assert np.shares_memory(arr, flat)
    flat += 1.0  # an optimizer updating flat updates every parameter
    assert all((arr == 1.0).all() for arr in p.values())


def test_init_scaled_shapes_scales_and_zero_biases():
    Kb, mb = 80, 400
    flat, p = init_params(Kb, mb, np.random.default_rng(3))
    for name, shape in param_shapes(Kb, mb).items():
        assert p[name].shape == shape and p[name].dtype == np.float64
        assert np.shares_memory(p[name], flat)
    assert not p["b"].any() and not p["c"].any()
    expected = {"U": 1 / math.sqrt(2 * Kb), "W": 1 / math.sqrt(2 * mb), "V": 1 / math.sqrt(mb)}
    for name, sd in expected.items():
        a = p[name]
        # the sample std of n normals has relative standard error ~ 1/sqrt(2n) <= 0.4% here
        assert abs(a.std() / sd - 1) < 0.03, name
        assert abs(a.mean()) < 5 * sd / math.sqrt(a.size), name


def test_init_small_uses_sigma():
    _, p = init_params(80, 400, np.random.default_rng(4), init="small", sigma=0.05)
    for name in ("U", "W", "V"):
        assert abs(p[name].std() / 0.05 - 1) < 0.03
    assert not p["b"].any() and not p["c"].any()


def test_init_draws_U_W_V_in_order_from_rng():
    flat, p = init_params(K, M, np.random.default_rng(42))
    rng = np.random.default_rng(42)
    U = rng.standard_normal((M, K)) / math.sqrt(2 * K)
    W = rng.standard_normal((M, M)) / math.sqrt(2 * M)
    V = rng.standard_normal((K, M)) / math.sqrt(M)
    np.testing.assert_allclose(p["U"], U, rtol=1e-15, atol=0)
    np.testing.assert_allclose(p["W"], W, rtol=1e-15, atol=0)
    np.testing.assert_allclose(p["V"], V, rtol=1e-15, atol=0)


def test_init_is_deterministic_for_a_seed():
    a, _ = init_params(K, M, np.random.default_rng(7))
    b, _ = init_params(K, M, np.random.default_rng(7))
    c, _ = init_params(K, M, np.random.default_rng(8))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_init_unknown_raises():
    with pytest.raises(ValueError, match="init"):
        init_params(K, M, np.random.default_rng(0), init="xavier")


# ----------------------------------------------------------------------------- forward


@pytest.mark.parametrize("T", [1, 5, 25])
def test_initial_loss_is_ln_K_for_uniform_output(T):
    params, x, y, h0 = random_problem(T, seed=T)
    params["V"][...] = 0.0
    params["c"][...] = 0.0
    loss_mean, cache = forward(params, x, y, h0, "mean")
    loss_sum, _ = forward(params, x, y, h0, "sum")
    np.testing.assert_allclose(cache.P, 1.0 / K, rtol=1e-15)
    assert loss_mean == pytest.approx(math.log(K), rel=1e-14)
    assert loss_sum == pytest.approx(T * math.log(K), rel=1e-14)


def test_initial_loss_near_ln_K_with_handout_init():
    # NEW handout: "about 4.4-4.6 at init" for K = 80, m = 100
    rng = np.random.default_rng(1)
    _, params = init_params(80, 100, rng)
    x, y = rng.integers(0, 80, 25), rng.integers(0, 80, 25)
    loss, _ = forward(params, x, y, np.zeros(100))
    assert abs(loss - math.log(80)) < 0.5


def test_softmax_rows():
    o = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, 0.0]])
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(softmax(o)[0], e / e.sum(), rtol=1e-15)
    np.testing.assert_allclose(softmax(o)[1], [0.5, 0.5, 0.0], atol=1e-300)  # no overflow


@pytest.mark.parametrize("T", [1, 2, 9])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_forward_matches_plain_loop(T, reduction):
    params, x, y, h0 = random_problem(T, seed=10 + T)
    b, c, U, W, V = (params[k] for k in PARAM_NAMES)
    h = h0.copy()
    Hs, Ps, nll = [], [], 0.0
    for t in range(T):
        a = W @ h + U @ onehot(x[t], K) + b  # eq. 1 with the one-hot x_t
        h = np.tanh(a)  # eq. 2
        o = V @ h + c  # eq. 3
        p = np.exp(o) / np.exp(o).sum()  # eq. 4
        nll += -math.log(p[y[t]])
        Hs.append(h)
        Ps.append(p)
    expected = nll / T if reduction == "mean" else nll
    loss, cache = forward(params, x, y, h0, reduction)
    np.testing.assert_allclose(cache.H[:, 0], np.array(Hs), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(cache.P[:, 0], np.array(Ps), rtol=1e-13, atol=1e-15)
    assert loss == pytest.approx(expected, rel=1e-13)
    assert cache.H.shape == (T, 1, M) and cache.P.shape == (T, 1, K)  # a batch of one
    _, _, h_last = loss_and_grads(params, x, y, h0, reduction)
    np.testing.assert_array_equal(h_last, cache.H[-1, 0])


def test_forward_does_not_modify_inputs_and_uses_h0():
    params, x, y, h0 = random_problem(4, seed=3)
    before = {k: v.copy() for k, v in params.items()}
    h0_before = h0.copy()
    loss_h0, _ = forward(params, x, y, h0)
    loss_zero, _ = forward(params, x, y, np.zeros(M))
    assert loss_h0 != loss_zero
    assert all(np.array_equal(before[k], params[k]) for k in params)
    assert np.array_equal(h0, h0_before)


def test_forward_unknown_reduction():
    params, x, y, h0 = random_problem(3)
    with pytest.raises(ValueError, match="reduction"):
        forward(params, x, y, h0, "max")


# ----------------------------------------------------------------------------- backward


@pytest.mark.parametrize("T", [1, 2, 25])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("h0_zero", [True, False])
def test_backward_matches_torch(T, reduction, h0_zero):
    params, x, y, h0 = random_problem(T, seed=100 + T, h0_zero=h0_zero)
    loss, grads, _ = loss_and_grads(params, x, y, h0, reduction)
    t_loss, t_grads = torch_loss_and_grads(params, x, y, h0, reduction)
    assert loss == pytest.approx(t_loss, rel=1e-13)
    assert set(grads) == set(PARAM_NAMES)
    for name in PARAM_NAMES:
        assert grads[name].shape == params[name].shape
        assert grads[name].dtype == np.float64
        err = rel_err(grads[name], t_grads[name]).max()
        assert err <= 1e-10, (name, err)
        if name == "W" and T == 1 and h0_zero:
            assert not grads["W"].any()  # dW = da_1 h0^T = 0 when h0 = 0
        else:
            assert np.abs(t_grads[name]).max() > 0, name  # the comparison is not vacuous


@pytest.mark.parametrize("T", [1, 3, 25])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_the_gradient_wrt_h0_matches_torch_and_leaves_the_others_alone(T, reduction):
    params, x, y, h0 = random_problem(T, seed=200 + T)
    loss, cache = forward(params, x, y, h0, reduction)
    grads = backward(params, cache, dh0=True)
    _, t_grads = torch_loss_and_grads(params, x, y, h0, reduction, dh0=True)
    assert grads["h0"].shape == h0.shape and np.abs(t_grads["h0"]).max() > 0
    assert rel_err(grads["h0"], t_grads["h0"]).max() <= 1e-10
    _, plain, _ = loss_and_grads(params, x, y, h0, reduction)
    assert set(plain) == set(PARAM_NAMES)
    for name in PARAM_NAMES:  # the flag changes nothing else, to the bit
        assert np.array_equal(grads[name], plain[name]), name
    # a batch: each row's own gradient, divided by B (the loss is the batch's mean)
    X, Y = np.stack([x, x[::-1]], 1), np.stack([y, y[::-1]], 1)
    H0 = np.stack([h0, -h0])
    _, cache = forward(params, X, Y, H0, reduction)
    batch = backward(params, cache, dh0=True)["h0"]
    for b in range(2):
        _, one = torch_loss_and_grads(params, X[:, b], Y[:, b], H0[b], reduction, dh0=True)
        assert rel_err(2 * batch[b], one["h0"]).max() <= 1e-10


def test_backward_mean_is_sum_over_T():
    params, x, y, h0 = random_problem(6, seed=5)
    _, g_mean, _ = loss_and_grads(params, x, y, h0, "mean")
    _, g_sum, _ = loss_and_grads(params, x, y, h0, "sum")
    for name in PARAM_NAMES:
        np.testing.assert_allclose(6 * g_mean[name], g_sum[name], rtol=1e-12, atol=1e-15)


def test_backward_repeated_input_accumulates_U_column():
    # x = (k, k, k): all three steps add into column k of dU; other columns stay zero.
    params, _, y, h0 = random_problem(3, seed=6)
    x = np.array([4, 4, 4])
    _, grads, _ = loss_and_grads(params, x, y, h0)
    _, t_grads = torch_loss_and_grads(params, x, y, h0)
    assert rel_err(grads["U"], t_grads["U"]).max() <= 1e-10
    assert np.count_nonzero(np.delete(grads["U"], 4, axis=1)) == 0


def hand_bptt_dW(params, x, y, h0, reduction, recurrent=True):
    """dL/dW written out step by step (Lecture 9); ``recurrent=False`` drops W^T da_{t+1}."""
    b, c, U, W, V = (params[k] for k in PARAM_NAMES)
    T = len(x)
    hs, ps = [h0], []
    for t in range(T):
        hs.append(np.tanh(W @ hs[-1] + U[:, x[t]] + b))
        o = V @ hs[-1] + c
        ps.append(np.exp(o) / np.exp(o).sum())
    scale = 1.0 / T if reduction == "mean" else 1.0
    dW = np.zeros_like(W)
    da_next = np.zeros(len(b))
    for t in reversed(range(T)):
        g = scale * (ps[t] - onehot(y[t], len(c)))  # dL/do_t = p_t - y_t
        dh = V.T @ g + (W.T @ da_next if recurrent else 0.0)
        da = dh * (1.0 - hs[t + 1] ** 2)
        dW += np.outer(da, hs[t])  # h_{t-1} = hs[t]
        da_next = da
    return dW


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradient_check_would_catch_a_missing_recurrent_term(reduction):
    params, x, y, h0 = random_problem(2, seed=21)
    _, t_grads = torch_loss_and_grads(params, x, y, h0, reduction)
    _, grads, _ = loss_and_grads(params, x, y, h0, reduction)
    right = hand_bptt_dW(params, x, y, h0, reduction, recurrent=True)
    wrong = hand_bptt_dW(params, x, y, h0, reduction, recurrent=False)
    # the hand-written BPTT agrees with autograd, and so does the code under test ...
    assert rel_err(right, t_grads["W"]).max() <= 1e-10
    assert rel_err(grads["W"], t_grads["W"]).max() <= 1e-10
    # ... while dropping W^T da_{t+1} is off by far more than the 1e-10 tolerance
    assert rel_err(wrong, t_grads["W"]).max() > 1e-3
    # and at T = 1 there is no step t + 1, so both versions agree (the term really is the cause)
    p1, x1, y1, h1 = random_problem(1, seed=21)
    np.testing.assert_allclose(hand_bptt_dW(p1, x1, y1, h1, reduction, False),
                               hand_bptt_dW(p1, x1, y1, h1, reduction, True), rtol=0, atol=0)


def test_backward_returns_fresh_arrays():
    params, x, y, h0 = random_problem(4, seed=8)
    loss, cache = forward(params, x, y, h0)
    g = backward(params, cache)
    for name in PARAM_NAMES:
        assert not np.shares_memory(g[name], params[name])


def test_the_stateful_pass_carries_h_across_blocks_and_is_the_one_used_everywhere():
    from charrnn.model.evaluate import stateful_loss
    from charrnn.model.rnn import init_params, softmax, stateful_pass
    from charrnn.model.sampling import prime
    from charrnn.studies.units import hidden_states

    rng = np.random.default_rng(4)
    K, m = 7, 5
    _, params = init_params(K, m, rng)
    params["b"][:] = rng.normal(size=m)  # nonzero biases
    x = rng.integers(0, K, size=50)
    h0 = rng.normal(size=m)
    h, want = h0.copy(), []
    for xt in x:  # eqs. 1-2 by hand, one-hot input
        h = np.tanh(params["W"] @ h + params["U"] @ np.eye(K)[xt] + params["b"])
        want.append(h)
    want = np.array(want)
    for block in (1, 7, 50, 4096):  # block edges never reset h
        got = np.concatenate([H for _, H in stateful_pass(params, x, h0, block)])
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)
        starts = [s for s, _ in stateful_pass(params, x, h0, block)]
        assert starts == list(range(0, 50, block))
    H = hidden_states(params, x)  # from h = 0
    np.testing.assert_array_equal(H, np.concatenate([b for _, b in stateful_pass(params, x)]))
    P = softmax(H[:-1] @ params["V"].T + params["c"])
    assert stateful_loss(params, x, block=9) == pytest.approx(
        -np.log(P[np.arange(49), x[1:]]).mean(), rel=1e-13)
    h_primed, x0 = prime(params, x)
    np.testing.assert_array_equal(h_primed, H[-2])
    assert x0 == x[-1]
