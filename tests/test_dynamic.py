"""Dynamic evaluation (charrnn dynamic): predict a segment, then one SGD step on it; rate zero is
the static stateful loss to the bit."""

import numpy as np
import pytest

from charrnn.model.evaluate import stateful_loss
from charrnn.model.rnn import init_params, input_term, loss_and_grads, softmax, step
from charrnn.studies.dynamic import SEGMENT, choose, gated_loss, vanilla_loss


def _params(K=6, m=10, seed=0):
    return init_params(K, m, np.random.default_rng(seed), init="small", sigma=0.3)[1]


@pytest.mark.parametrize("segment", [SEGMENT, 7, 1])
def test_rate_zero_is_the_static_stateful_loss_to_the_bit(segment):
    params, data = _params(), np.random.default_rng(1).integers(0, 6, 301)
    before = {k: v.copy() for k, v in params.items()}
    assert vanilla_loss(params, data, 0.0, segment) == stateful_loss(params, data, block=segment)
    assert vanilla_loss(params, data, 0.05, segment) != stateful_loss(params, data, block=segment)
    for k in params:  # the steps are taken on a copy
        assert np.array_equal(params[k], before[k]), k


def test_each_segment_is_predicted_then_learned_from():
    """Two segments by hand: the first with the model as given, the second after one SGD step on
    the first (its mean loss, from the state before it), the state carried."""
    params, data = _params(seed=3), np.random.default_rng(4).integers(0, 6, 2 * 5 + 1)
    eta, x, y = 0.5, data[:-1], data[1:]
    losses, h = [], np.zeros(10)
    p = {k: v.copy() for k, v in params.items()}
    for s in (slice(0, 5), slice(5, 10)):
        h_start = h
        for xt, yt in zip(x[s], y[s]):
            h = step(p, h, input_term(p, xt))
            losses.append(-np.log(softmax(p["V"] @ h + p["c"])[yt]))
        _, grads, _ = loss_and_grads(p, x[s], y[s], h_start)
        p = {k: p[k] - eta * grads[k] for k in p}
    assert vanilla_loss(params, data, eta, segment=5) == pytest.approx(np.mean(losses), rel=1e-12)


def test_a_repeated_text_is_learned_while_it_is_read():
    params = _params(seed=5)
    data = np.tile(np.array([0, 1, 2, 3, 4, 5, 5, 4]), 60)
    static = vanilla_loss(params, data, 0.0)
    assert vanilla_loss(params, data, 0.1) < static - 0.1
    assert vanilla_loss(params, data, 1e6) == float("inf")  # an overflow is a loss of infinity
    with pytest.raises(ValueError, match="at least 2 characters"):
        vanilla_loss(params, data[:1], 0.0)


def test_the_gated_models_get_the_same_procedure():
    torch = pytest.importorskip("torch")
    from charrnn.studies.gated import CharGated, init_parameters
    from charrnn.studies.gated import stateful_loss as gated_static

    for kind in ("lstm", "gru"):
        model = CharGated(kind, 6, 5)
        init_parameters(model, np.random.default_rng(0))
        before = [q.detach().clone() for q in model.parameters()]
        data = np.tile(np.array([0, 1, 2, 3, 4, 5, 5, 4]), 100)
        static = gated_loss(model, data, 0.0)
        assert static == pytest.approx(gated_static(model, data), rel=1e-5)
        assert gated_loss(model, data, 1.0) < static - 0.1, kind
        assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_the_rate_is_chosen_on_validation_and_used_once_on_test():
    calls = []

    def loss_at(data, eta):
        calls.append((data[0], eta))
        return {0.0: 2.0, 0.01: 1.5, 0.1: 1.5, 1.0: 3.0}[eta] + (0.25 if data[0] == "t" else 0)

    r = choose(loss_at, np.array(["v"]), np.array(["t"]), rates=(0.0, 0.01, 0.1, 1.0))
    assert r["eta"] == 0.01  # the tie goes to the smaller rate
    assert r["validation"] == [2.0, 1.5, 1.5, 3.0]
    assert (r["static"], r["dynamic"]) == (2.25, 1.75)
    assert [c for c in calls if c[0] == "t"] == [("t", 0.0), ("t", 0.01)]
    worse = choose(lambda d, eta: 1.0 + eta, np.array(["v"]), np.array(["t"]), rates=(0.0, 0.1))
    assert worse["eta"] == 0.0 and worse["dynamic"] == worse["static"]


def _model(name, static, dynamic, eta, rates=(0.0, 0.01, 0.1)):
    nat = np.log(2)  # numbers given in bits/char
    return {"name": name, "kind": "k", "static": static * nat, "dynamic": dynamic * nat,
            "eta": eta, "rates": list(rates)}


def test_the_paragraph_says_what_the_numbers_show():
    from charrnn.report import shortfall

    ppmd = {"name": "PPMd", "bits_per_char": 1.6}
    a, b = _model("a", 2.3, 2.2, 0.01), _model("b", 2.0, 1.95, 0.01)
    text = shortfall.dynamic_paragraph([b, a], ppmd)
    assert "lowers the test loss of a from 2.300 to 2.200 and b from 2.000 to 1.950" in text
    assert "None reaches PPMd (1.600 bits/char)" in text and "largest tried" not in text
    # a reversal on the test text, a tie (rate 0), a gain too small to call, the grid's top
    c, d = _model("c", 2.0, 2.05, 0.01), _model("d", 1.9, 1.9, 0.0)
    e, f = _model("e", 1.7, 1.695, 0.01), _model("f", 1.65, 1.55, 0.1)
    text = shortfall.dynamic_paragraph([c, d, e, f], ppmd)
    assert "raises the test loss of c from 2.000 to 2.050" in text
    assert "For d no rate tried helped on the validation text" in text
    assert "For e the gain is below 0.01 bits/char." in text
    assert "lowers the test loss of f" in text and "For f the chosen rate is the largest" in text
    assert "With it, f beats PPMd (1.600 bits/char), which also learns while it reads, although " \
        "no model did statically." in text
    assert "e from" not in text  # a gain below 0.01 is not reported as a lowering
    assert shortfall.dynamic_paragraph([]) == ""
    assert "PPMd" not in shortfall.dynamic_paragraph([a])
