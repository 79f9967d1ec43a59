"""How much context a model uses (charrnn context): zero states k characters back, k = infinity
as the stateful loss."""

import json

import numpy as np
import pytest

from charrnn.model.evaluate import stateful_loss
from charrnn.model.rnn import init_params, input_term, softmax, step
from charrnn.report import shortfall
from charrnn.studies.context import KS, curve, fitting, gated_losses, positions, vanilla_losses, within


def _params(K=7, m=12, seed=0):
    return init_params(K, m, np.random.default_rng(seed), init="small", sigma=0.5)[1]


def test_each_window_starts_from_a_zero_state_and_infinity_is_the_stateful_loss():
    rng = np.random.default_rng(1)
    params, data = _params(), rng.integers(0, 7, 400)
    test_start = 100
    pos = np.array([test_start + 8, 150, 399])
    losses, inf = vanilla_losses(params, data, pos, test_start, ks=(1, 3, 8))
    for k, got in zip((1, 3, 8), losses):  # a plain loop over each window
        want = []
        for t in pos:
            h = np.zeros(12)
            for x in data[t - k:t]:
                h = step(params, h, input_term(params, x))
            want.append(-np.log(softmax(params["V"] @ h + params["c"])[data[t]]))
        assert got == pytest.approx(np.mean(want), rel=1e-12)
    # every position of the test text: k = infinity is the report's stateful test loss
    every = np.arange(test_start + 1, len(data))
    _, inf_all = vanilla_losses(params, data, every, test_start, ks=(1,))
    assert inf_all == pytest.approx(stateful_loss(params, data[test_start:]), rel=1e-13)
    # a window that reaches back to the start of the test text is the stateful pass itself
    first = np.array([test_start + 8])
    (w,), inf_first = vanilla_losses(params, data, first, test_start, ks=(8,))
    assert w == pytest.approx(inf_first, rel=1e-12)


def test_positions_lie_a_full_context_into_the_test_text_and_are_fixed_by_the_seed():
    pos = positions(1000, 5000, 300)
    assert len(pos) == 300 and pos.min() >= 1000 + KS[-1] and pos.max() < 5000
    assert np.all(np.diff(pos) > 0) and np.array_equal(pos, positions(1000, 5000, 300))
    assert len(positions(1000, 1600, 10**6)) == 1600 - 1000 - KS[-1]  # all of them
    with pytest.raises(ValueError, match="not longer than the longest context"):
        positions(1000, 1400, 10)


def test_gated_models_get_the_same_measurement():
    torch = pytest.importorskip("torch")
    from charrnn.studies.gated import CharGated, init_parameters

    model = CharGated("gru", 7, 6)
    init_parameters(model, np.random.default_rng(0))
    data = np.random.default_rng(2).integers(0, 7, 300)
    pos = np.array([120, 200, 299])
    losses, inf = gated_losses(model, data, pos, 100, ks=(1, 20))
    with torch.no_grad():  # position 120 with k = 20 reads from the start of the test text
        x = torch.from_numpy(data[100:120].astype(np.int64)).view(-1, 1)
        logits, _, _ = model(x, model.zero_state(1))
        p = torch.softmax(logits[-1, 0].double(), -1)[data[120]].item()
    one, inf_one = gated_losses(model, data, pos[:1], 100, ks=(20,))
    assert one[0] == pytest.approx(-np.log(p), rel=1e-5) == pytest.approx(inf_one, rel=1e-5)
    assert len(losses) == 2 and np.isfinite(inf)


def test_within_and_the_paragraph_follow_the_numbers():
    assert within((1, 2, 4), [3.0, 1.6, 1.505], 1.5) == 4
    assert within((1, 2, 4), [3.0, 1.6, 1.52], 1.5) is None
    a = curve("handout", "vanilla m 100", (1, 2, 4, 8), [3.0, 2.0, 1.7, 1.561], 1.56)
    b = curve("gru", "GRU h 142", (1, 2, 4, 8), [3.0, 2.0, 1.6, 1.4], 1.3)
    text = shortfall.context_paragraph([b, a])
    assert text.index("handout") < text.index("gru")  # the one using the least context first
    assert "handout at k = 8" in text
    assert "gru is still more than 0.01 nats/char above its stateful loss (1.300) at k = 8" in text
    assert "about the last" not in text  # only one model comes within: nothing to set apart
    c = curve("lstm", "LSTM h 120", (1, 2, 4, 8), [3.0, 1.7, 1.31, 1.305], 1.3)
    d = curve("m256", "vanilla m 256", (1, 2, 4, 8), [3.0, 1.7, 1.51, 1.505], 1.5)
    text = shortfall.context_paragraph([a, c, d])
    assert "(k = ∞): lstm and m256 at k = 4 and handout at k = 8." in text  # grouped by k
    assert "So lstm makes its predictions from about the last 4 characters, handout from about 8" in text
    assert shortfall.context_paragraph([]) == ""
    assert json.loads(json.dumps(a))["within"] == 8


def test_only_the_contexts_that_fit_in_the_test_text_are_tried():
    assert fitting(1000, 1200) == (1, 2, 4, 8, 16, 32, 64, 128)
    assert fitting(1000, 5000) == KS
    with pytest.raises(ValueError, match="too short to measure"):
        fitting(1000, 1001)
