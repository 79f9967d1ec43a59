"""Tests of charrnn.model.sampling: temperature, nucleus (top-p) filter and inverse-CDF synthesis."""

import math

import numpy as np
import pytest

from charrnn.model.rnn import init_params
from charrnn.model.sampling import check_sampling_args, probabilities, synthesize, top_p_filter

K, M = 7, 16


def small_model(seed=0):
    rng = np.random.default_rng(seed)
    _, params = init_params(K, M, rng)
    params["V"] *= 4.0  # peakier outputs, so that sampling is not near-uniform
    params["b"][...] = 0.1 * rng.standard_normal(M)
    params["c"][...] = 0.1 * rng.standard_normal(K)
    return params


def constant_model(p):
    """A model whose output distribution is ``p`` at every step (V = 0, c = log p)."""
    Kp = len(p)
    _, params = init_params(Kp, 3, np.random.default_rng(0))
    params["V"][...] = 0.0
    params["c"][...] = np.log(p)
    return params


class ScriptedRng:
    """Stands in for a Generator: ``random()`` returns the given values in order."""

    def __init__(self, values):
        self.values = list(values)

    def random(self):
        return self.values.pop(0)


# ----------------------------------------------------------------------------- top-p


@pytest.mark.parametrize(
    "p, top_p, expected",
    [
        ([0.5, 0.3, 0.2], 0.8, [0.625, 0.375, 0.0]),
        ([0.5, 0.3, 0.2], 1.0, [0.5, 0.3, 0.2]),
        ([0.5, 0.3, 0.2], 0.5, [1.0, 0.0, 0.0]),
        ([0.5, 0.3, 0.2], 0.3, [1.0, 0.0, 0.0]),
        ([0.5, 0.3, 0.2], 0.79, [0.625, 0.375, 0.0]),
        ([0.5, 0.3, 0.2], 0.81, [0.5, 0.3, 0.2]),
        ([0.2, 0.5, 0.3], 0.8, [0.0, 0.625, 0.375]),  # unsorted input order
        ([0.1, 0.2, 0.3, 0.4], 0.7, [0.0, 0.0, 3 / 7, 4 / 7]),
        ([0.25, 0.25, 0.25, 0.25], 0.5, [0.5, 0.5, 0.0, 0.0]),  # ties: lower index first
        ([0.0, 1.0, 0.0], 0.9, [0.0, 1.0, 0.0]),
    ],
)
def test_top_p_filter_cases(p, top_p, expected):
    p = np.array(p)
    before = p.copy()
    q = top_p_filter(p, top_p)
    np.testing.assert_allclose(q, expected, rtol=1e-14, atol=1e-15)
    assert q.sum() == pytest.approx(1.0, rel=1e-15)
    assert np.array_equal(p, before)  # input untouched


def test_top_p_filter_keeps_smallest_set_reaching_mass():
    # brute force: the smallest k such that the k largest entries sum to >= top_p
    rng = np.random.default_rng(3)
    for _ in range(200):
        p = rng.dirichlet(np.ones(9))
        top_p = rng.uniform(0.05, 1.0)
        s = np.sort(p)[::-1]
        k = next(i + 1 for i in range(len(s)) if s[: i + 1].sum() >= top_p - 1e-12)
        q = top_p_filter(p, top_p)
        assert np.count_nonzero(q) == k
        kept = q > 0
        assert p[kept].min() >= p[~kept].max(initial=0.0)
        np.testing.assert_allclose(q[kept], p[kept] / p[kept].sum(), rtol=1e-13)


# ----------------------------------------------------------------------------- probabilities


def test_probabilities_temperature():
    o = np.array([0.3, 2.0, -1.0, 1.5])
    for T in (1.0, 0.5, 2.0):
        e = [math.exp(v / T) for v in o]
        np.testing.assert_allclose(probabilities(o, T), np.array(e) / sum(e), rtol=1e-14)


def test_probabilities_low_temperature_is_one_hot_argmax():
    o = np.array([0.3, 2.0, -1.0, 1.5])
    p = probabilities(o, 1e-3)
    assert p[1] == 1.0
    assert np.delete(p, 1).max() < 1e-200  # exp(-0.5 / 1e-3)
    assert np.isfinite(probabilities(np.array([1e3, -1e3, 0.0]), 1e-3)).all()  # no overflow


def test_probabilities_high_temperature_flattens():
    o = np.array([0.3, 2.0, -1.0, 1.5])
    np.testing.assert_allclose(probabilities(o, 1e6), 0.25, rtol=1e-5)


def test_probabilities_applies_top_p_after_temperature():
    o = np.log(np.array([0.5, 0.3, 0.2]))
    np.testing.assert_allclose(probabilities(o, 1.0, 0.8), [0.625, 0.375, 0.0], rtol=1e-13,
                               atol=1e-15)
    # at T = 2 the probabilities are proportional to sqrt(p): 0.5 alone no longer reaches 0.5 ...
    sq = np.sqrt([0.5, 0.3, 0.2])
    pt = sq / sq.sum()  # [0.418, 0.324, 0.259]
    np.testing.assert_allclose(probabilities(o, 2.0, 0.7), [pt[0] / (pt[0] + pt[1]),
                                                            pt[1] / (pt[0] + pt[1]), 0.0],
                               rtol=1e-13, atol=1e-15)


# ----------------------------------------------------------------------------- synthesize


def test_synthesize_tiny_temperature_is_greedy(greedy_decode):
    params = small_model(1)
    h0 = 0.3 * np.tanh(np.random.default_rng(2).standard_normal(M))
    expected = greedy_decode(params, h0, 3, 60)
    got = synthesize(params, h0, 3, 60, np.random.default_rng(0), temperature=1e-8)
    assert got.tolist() == expected
    assert len(set(expected)) > 1  # not a constant sequence
    plain = synthesize(params, h0, 3, 60, np.random.default_rng(0), temperature=1.0)
    assert plain.tolist() != expected  # at T = 1 the draws do matter


def test_synthesize_deterministic_given_seed():
    params = small_model(2)
    h0 = np.zeros(M)
    a = synthesize(params, h0, 0, 200, np.random.default_rng(5))
    b = synthesize(params, h0, 0, 200, np.random.default_rng(5))
    c = synthesize(params, h0, 0, 200, np.random.default_rng(6))
    assert a.dtype == np.int64 and a.shape == (200,)
    assert ((a >= 0) & (a < K)).all()
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_synthesize_uses_one_uniform_draw_per_character():
    params = small_model(3)
    rng = np.random.default_rng(9)
    synthesize(params, np.zeros(M), 0, 37, rng)
    ref = np.random.default_rng(9)
    for _ in range(37):
        ref.random()
    assert rng.random() == ref.random()


def test_synthesize_does_not_modify_h0_or_params():
    params = small_model(4)
    before = {k: v.copy() for k, v in params.items()}
    h0 = np.full(M, 0.2)
    synthesize(params, h0, 1, 20, np.random.default_rng(0))
    assert (h0 == 0.2).all()
    assert all(np.array_equal(before[k], params[k]) for k in params)


def test_inverse_cdf_rule_with_scripted_draws():
    # p = [0.5, 0.3, 0.2], cumsum = [0.5, 0.8, 1.0]: first index whose cumsum exceeds u
    params = constant_model(np.array([0.5, 0.3, 0.2]))
    u = [0.0, 0.25, 0.4999, 0.5001, 0.79, 0.8001, 0.9999999]
    got = synthesize(params, np.zeros(3), 0, len(u), ScriptedRng(u))
    assert got.tolist() == [0, 0, 0, 1, 1, 2, 2]


def test_inverse_cdf_rule_with_top_p_and_scripted_draws():
    # top_p 0.8 leaves [0.625, 0.375, 0]: u < 0.625 -> 0, else 1; index 2 is never drawn
    params = constant_model(np.array([0.5, 0.3, 0.2]))
    u = [0.1, 0.6, 0.65, 0.9999999]
    got = synthesize(params, np.zeros(3), 0, len(u), ScriptedRng(u), top_p=0.8)
    assert got.tolist() == [0, 0, 1, 1]


def test_zero_probability_characters_are_never_drawn():
    # top_p 0.8 on [0.2, 0.5, 0.3] zeroes index 0: even u = 0 must give index 1, and u close to
    # 1 must not run past the last kept index
    params = constant_model(np.array([0.2, 0.5, 0.3]))
    u = [0.0, 0.3, 0.7, 0.9999999]
    got = synthesize(params, np.zeros(3), 0, len(u), ScriptedRng(u), top_p=0.8)
    assert got.tolist() == [1, 1, 2, 2]
    params = constant_model(np.array([0.5, 0.3, 0.2]))
    got = synthesize(params, np.zeros(3), 0, 3, ScriptedRng([0.0, 0.7, 0.9999999]), top_p=0.5)
    assert got.tolist() == [0, 0, 0]


def test_sampling_frequencies_match_p():
    p = np.array([0.05, 0.4, 0.15, 0.3, 0.1])
    params = constant_model(p)
    n = 20_000
    draws = synthesize(params, np.zeros(3), 0, n, np.random.default_rng(123))
    freq = np.bincount(draws, minlength=len(p)) / n
    se = np.sqrt(p * (1 - p) / n)
    assert (np.abs(freq - p) < 4.5 * se).all(), (freq, p)


@pytest.mark.parametrize("kwargs", [
    dict(temperature=0.0), dict(temperature=-1.0), dict(temperature=float("nan")),
    dict(temperature=float("inf")), dict(temperature="1"), dict(temperature=True),
    dict(top_p=0.0), dict(top_p=1.5), dict(top_p=-0.1), dict(top_p=float("nan")),
    dict(top_p=None),
])
def test_invalid_sampling_args_raise(kwargs):
    params = small_model(0)
    with pytest.raises(ValueError, match="temperature" if "temperature" in kwargs else "top_p"):
        synthesize(params, np.zeros(M), 0, 5, np.random.default_rng(0), **kwargs)
    args = {"temperature": 1.0, "top_p": 1.0, **kwargs}
    with pytest.raises(ValueError):
        check_sampling_args(args["temperature"], args["top_p"])


@pytest.mark.parametrize("n", [0, -3, 2.5, None])
def test_invalid_n_raises(n):
    with pytest.raises(ValueError, match="n"):
        synthesize(small_model(0), np.zeros(M), 0, n, np.random.default_rng(0))


def test_valid_sampling_args_accepted():
    check_sampling_args(1e-8, 1e-8)
    check_sampling_args(5, 1)
    check_sampling_args(np.float32(0.7), np.float64(0.9))
