"""Tests of charrnn.model.sampling.beam_search: exhaustive search, greedy decoding, its score,
tie-breaking and its argument checks, on tiny random models."""

import itertools

import numpy as np
import pytest

from charrnn.model.rnn import forward, init_params
from charrnn.model.sampling import beam_search, check_beam_memory


def tiny_model(seed, K=3, m=4):
    """A random model with peaky outputs and a random h0 (so that the search has to choose)."""
    rng = np.random.default_rng(seed)
    _, params = init_params(K, m, rng)
    params["V"] *= 3.0
    params["b"][...] = 0.3 * rng.standard_normal(m)
    params["c"][...] = 0.3 * rng.standard_normal(K)
    return params, 0.5 * np.tanh(rng.standard_normal(m))


def total_log_prob(params, h0, x0, seq):
    """sum_t log p_t[x_t] of ``seq`` after h0 and x0, from the model's forward pass (eq. 5, sum)."""
    y = np.asarray(seq)
    loss, _ = forward(params, np.r_[x0, y[:-1]], y, h0, reduction="sum")
    return -float(loss)


def exhaustive(params, h0, x0, n):
    """Every one of the K^n sequences with its total log-probability, best first (stable)."""
    K = len(params["c"])
    scored = [(seq, total_log_prob(params, h0, x0, seq))
              for seq in itertools.product(range(K), repeat=n)]
    return sorted(scored, key=lambda s: -s[1])


@pytest.mark.parametrize("seed, K, m, n", [(0, 3, 4, 5), (1, 4, 3, 4), (2, 3, 5, 5), (3, 4, 5, 4)])
def test_a_beam_of_all_prefixes_is_the_exhaustive_argmax(seed, K, m, n):
    params, h0 = tiny_model(seed, K, m)
    ranked = exhaustive(params, h0, 1, n)
    (best, best_lp), (_, second_lp) = ranked[:2]
    assert best_lp - second_lp > 1e-6  # a clear winner, so the comparison means something
    for beam in (K ** (n - 1), K ** n):  # every prefix kept at the last step; more than there are
        seq, score = beam_search(params, h0, 1, n, beam)
        assert seq.dtype == np.int64 and seq.shape == (n,)
        assert tuple(seq.tolist()) == best
        assert score == pytest.approx(best_lp / n, abs=1e-12)


def test_a_beam_of_one_is_greedy_decoding(greedy_decode):
    for seed in range(4):
        params, h0 = tiny_model(seed, K=5, m=6)
        expected = greedy_decode(params, h0, 2, 40)
        seq, score = beam_search(params, h0, 2, 40, 1)
        assert seq.tolist() == expected
        assert score == pytest.approx(total_log_prob(params, h0, 2, expected) / 40, abs=1e-12)


def test_greedy_is_not_always_the_best(greedy_decode):
    """Some of these models' exhaustive best is not the greedy sequence, and a wide beam finds it
    (so the exhaustive test above is not passed by greedy decoding alone)."""
    differ = 0
    for seed in range(8):
        params, h0 = tiny_model(seed, K=3, m=4)
        best, _ = exhaustive(params, h0, 0, 5)[0]
        if list(best) != greedy_decode(params, h0, 0, 5):
            differ += 1
            assert tuple(beam_search(params, h0, 0, 5, 81)[0].tolist()) == best
    assert differ > 0


@pytest.mark.parametrize("beam", [1, 2, 3, 7])
def test_the_score_is_the_sequences_own_mean_log_prob(beam):
    for seed in range(3):
        params, h0 = tiny_model(seed, K=4, m=5)
        seq, score = beam_search(params, h0, 3, 30, beam)
        assert score == pytest.approx(total_log_prob(params, h0, 3, seq) / 30, abs=1e-12)
        assert score < 0


def test_wider_beams_score_no_lower_on_these_models():
    """Not a theorem (a wider beam can drop the prefix a narrower one completes best, see the
    docstring), but true of these seeds, and every width stays at or below the exhaustive best."""
    for seed in range(6):
        params, h0 = tiny_model(seed, K=3, m=4)
        best_lp = exhaustive(params, h0, 0, 5)[0][1]
        scores = [beam_search(params, h0, 0, 5, beam)[1] * 5 for beam in (1, 2, 3, 5, 9, 27, 81)]
        assert all(a <= b + 1e-12 for a, b in zip(scores, scores[1:])), scores
        assert max(scores) == pytest.approx(best_lp, abs=1e-12) and scores[0] <= best_lp + 1e-12


def test_ties_go_to_the_lower_character_index():
    """A model whose output is uniform at every step (V = 0, c = 0): every sequence ties, and the
    stable rule picks character 0 every time, scoring -log K per character."""
    K = 4
    _, params = init_params(K, 3, np.random.default_rng(0))
    params["V"][...] = 0.0
    seq, score = beam_search(params, np.zeros(3), 1, 6, 5)
    assert seq.tolist() == [0] * 6
    assert score == pytest.approx(-np.log(K), abs=1e-12)


def test_inputs_are_not_modified_and_the_search_is_deterministic():
    params, h0 = tiny_model(5, K=4, m=5)
    before = {k: v.copy() for k, v in params.items()}
    h_before = h0.copy()
    a = beam_search(params, h0, 0, 25, 4)
    b = beam_search(params, h0, 0, 25, 4)
    assert a[0].tolist() == b[0].tolist() and a[1] == b[1]
    assert np.array_equal(h0, h_before)
    assert all(np.array_equal(params[k], before[k]) for k in params)


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "sample length n must be a positive integer (>= 1), got 0"),
    ({"n": 2.5}, "sample length n must be a positive integer, got 2.5"),
    ({"beam": 0}, "beam width must be a positive integer (>= 1), got 0"),
    ({"beam": True}, "beam width must be a positive integer, got True"),
    ({"x0": 3}, "x0 = 3 is not a character index in 0..2"),
    ({"x0": -1}, "x0 = -1 is not a character index in 0..2"),
    ({"x0": 1.0}, "x0 = 1.0 is not a character index in 0..2"),
])
def test_bad_arguments_raise_one_sentence(kwargs, message):
    params, h0 = tiny_model(0, K=3, m=4)
    args = {"x0": 0, "n": 5, "beam": 2, **kwargs}
    with pytest.raises(ValueError) as err:
        beam_search(params, h0, **args)
    assert str(err.value) == message


def test_the_memory_check_names_n_and_the_beam():
    assert check_beam_memory(1000, 8, available=10**9) == 1000 * 8 * 8 + 1000 * 20
    with pytest.raises(ValueError, match=r"-n = 1,000,000 characters with --beam = 1,000 need "
                                         r"about .* GiB of memory.*lower -n or --beam"):
        check_beam_memory(10**6, 1000, available=10**9)
