"""Tests of charrnn.model.optim against the update rules written out with plain Python floats."""

import math

import numpy as np
import pytest

from charrnn.model.optim import AdaGrad, Adam, clip_, make_optimizer
from charrnn.model.rnn import new_params

THETA0 = [1.0, -2.0, 0.5, 0.0]
G1 = [0.1, -0.2, 3.0, 1e-3]
G2 = [-0.05, 0.4, 0.0, 1e-3]


def adam_by_hand(theta, grads, eta, beta1, beta2, eps):
    theta = list(theta)
    m = [0.0] * len(theta)
    v = [0.0] * len(theta)
    for t, g in enumerate(grads, start=1):
        for i in range(len(theta)):
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] ** 2
            mhat = m[i] / (1 - beta1**t)
            vhat = v[i] / (1 - beta2**t)
            theta[i] = theta[i] - eta * mhat / (math.sqrt(vhat) + eps)
    return theta, m, v


def adagrad_by_hand(theta, grads, eta, eps):
    theta = list(theta)
    G = [0.0] * len(theta)
    for g in grads:
        for i in range(len(theta)):
            G[i] = G[i] + g[i] ** 2
            theta[i] = theta[i] - eta * g[i] / math.sqrt(G[i] + eps)
    return theta, G


@pytest.mark.parametrize("eta, beta1, beta2, eps", [(1e-3, 0.9, 0.999, 1e-8),
                                                    (0.1, 0.5, 0.9, 1e-3)])
def test_adam_two_steps_by_hand(eta, beta1, beta2, eps):
    theta = np.array(THETA0)
    opt = Adam(4, eta, beta1, beta2, eps)
    opt.step(theta, np.array(G1))
    exp1, _, _ = adam_by_hand(THETA0, [G1], eta, beta1, beta2, eps)
    np.testing.assert_allclose(theta, exp1, rtol=1e-14, atol=1e-16)
    opt.step(theta, np.array(G2))
    exp2, m, v = adam_by_hand(THETA0, [G1, G2], eta, beta1, beta2, eps)
    np.testing.assert_allclose(theta, exp2, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(opt.m, m, rtol=1e-14, atol=1e-18)
    np.testing.assert_allclose(opt.v, v, rtol=1e-14, atol=1e-20)
    assert opt.t == 2


def test_adam_first_step_is_eta_times_sign():
    # with bias correction, mhat = g and vhat = g^2 at t = 1: the step is eta * g / (|g| + eps)
    theta = np.array(THETA0)
    Adam(4, eta=0.01, eps=1e-8).step(theta, np.array(G1))
    g = np.array(G1)
    np.testing.assert_allclose(theta, np.array(THETA0) - 0.01 * g / (np.abs(g) + 1e-8),
                               rtol=1e-12)


def test_adagrad_two_steps_by_hand():
    theta = np.array(THETA0)
    opt = AdaGrad(4, eta=0.1, eps=1e-8)
    opt.step(theta, np.array(G1))
    exp1, _ = adagrad_by_hand(THETA0, [G1], 0.1, 1e-8)
    np.testing.assert_allclose(theta, exp1, rtol=1e-14, atol=1e-16)
    opt.step(theta, np.array(G2))
    exp2, G = adagrad_by_hand(THETA0, [G1, G2], 0.1, 1e-8)
    np.testing.assert_allclose(theta, exp2, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(opt.G, G, rtol=1e-14)
    assert opt.t == 2
    # step 1, entry 0 by hand: 1 - 0.1 * 0.1 / sqrt(0.01 + 1e-8)
    assert exp1[0] == pytest.approx(1 - 0.01 / math.sqrt(0.01 + 1e-8), rel=1e-15)


@pytest.mark.parametrize("name", ["adam", "adagrad"])
def test_step_updates_parameter_views_in_place(name):
    flat, params = new_params(3, 2)
    opt = make_optimizer(name, flat.size, eta=0.5)
    g = np.ones(flat.size)
    opt.step(flat, g)
    assert (flat < 0).all()
    assert all((p < 0).all() for p in params.values())  # the views saw the update


def test_make_optimizer():
    a = make_optimizer("adam", 5, 0.01, beta1=0.8, beta2=0.99, eps=1e-6)
    assert isinstance(a, Adam)
    assert (a.eta, a.beta1, a.beta2, a.eps, a.m.shape) == (0.01, 0.8, 0.99, 1e-6, (5,))
    g = make_optimizer("adagrad", 5, 0.1, eps=1e-7)
    assert isinstance(g, AdaGrad) and (g.eta, g.eps, g.G.shape) == (0.1, 1e-7, (5,))
    with pytest.raises(ValueError, match="rmsprop"):
        make_optimizer("rmsprop", 5, 0.1)


@pytest.mark.parametrize("cls", [Adam, AdaGrad])
def test_state_round_trip_continues_identically(cls):
    rng = np.random.default_rng(0)
    theta_a = rng.standard_normal(6)
    a = cls(6, eta=0.05)
    for _ in range(3):
        a.step(theta_a, rng.standard_normal(6))
    b = cls(6, eta=0.05)
    b.load_state({k: np.array(v) for k, v in a.state().items()})
    theta_b = theta_a.copy()
    g = rng.standard_normal(6)
    a.step(theta_a, g)
    b.step(theta_b, g)
    assert np.array_equal(theta_a, theta_b)
    assert a.t == b.t == 4


def test_clip_elementwise_in_place():
    g = np.array([-10.0, -5.0, -1.0, 0.0, 3.0, 5.0, 7.5])
    out = clip_(g, 5.0)
    assert out is g
    assert g.tolist() == [-5.0, -5.0, -1.0, 0.0, 3.0, 5.0, 5.0]
    g2 = np.array([[0.3, -0.7], [2.0, -0.1]])
    clip_(g2, 0.5)
    assert g2.tolist() == [[0.3, -0.5], [0.5, -0.1]]


def test_clip_none_is_a_no_op():
    g = np.array([-1e6, 0.0, 1e6])
    out = clip_(g, None)
    assert out is g
    assert g.tolist() == [-1e6, 0.0, 1e6]
