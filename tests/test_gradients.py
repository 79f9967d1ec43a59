"""How the gradients vanish (charrnn gradients): dL_t/dh_(t-1-k) by the package's backprop through
time, checked against finite differences; W's spectrum."""

import numpy as np
import pytest

from charrnn.model.rnn import forward, init_params, stateful_pass
from charrnn.studies.gradients import (
    gated_last_loss_grad,
    gated_norms,
    last_loss_grad,
    spectrum,
    vanilla_norms,
)


def _params(K=6, m=8, seed=0, sigma=0.6):
    return init_params(K, m, np.random.default_rng(seed), init="small", sigma=sigma)[1]


def _last_loss(params, h0, X, Y):
    _, cache = forward(params, X, Y, h0, "sum")
    return -np.log(cache.P[-1, np.arange(X.shape[1]), Y[-1]])  # (B,): L_T of each sequence


@pytest.mark.parametrize("k", [1, 2, 5])
def test_the_gradient_of_the_last_loss_matches_finite_differences(k):
    rng = np.random.default_rng(k)
    params = _params()
    h0 = np.tanh(rng.standard_normal((3, 8)))
    X, Y = rng.integers(0, 6, (k, 3)), rng.integers(0, 6, (k, 3))
    grad = last_loss_grad(params, h0, X, Y)
    eps, fd = 1e-6, np.empty_like(h0)
    for i in range(8):
        d = np.zeros_like(h0)
        d[:, i] = eps
        fd[:, i] = (_last_loss(params, h0 + d, X, Y) - _last_loss(params, h0 - d, X, Y)) / (2 * eps)
    assert np.abs(fd).max() > 1e-3
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)


def test_the_norms_use_the_carried_states_and_shrink_through_a_small_w():
    rng = np.random.default_rng(2)
    data, test_start = rng.integers(0, 6, 400), 100
    params = _params(sigma=0.15)  # a contracting recurrence: the gradient must vanish
    pos = np.array([150, 260, 399])
    norms = vanilla_norms(params, data, pos, test_start, ks=(1, 4, 16))
    assert norms[0] > norms[1] > norms[2] > 0 and norms[2] < 1e-3 * norms[0]
    H = np.concatenate([H for _, H in stateful_pass(params, data[test_start:])])
    t, k = 260, 4  # by hand: the state after text[t - 1 - k], then text[t - k : t]
    g = last_loss_grad(params, H[[t - 1 - k - test_start]], data[t - k:t, None],
                       data[t - k + 1:t + 1, None])
    one = vanilla_norms(params, data, np.array([t]), test_start, ks=(k,))
    assert one[0] == pytest.approx(np.linalg.norm(g), rel=1e-12)
    with pytest.raises(ValueError, match="more than max"):
        vanilla_norms(params, data, np.array([test_start + 16]), test_start, ks=(16,))


def test_the_gated_gradient_is_the_whole_state_s_and_matches_finite_differences():
    torch = pytest.importorskip("torch")
    from charrnn.studies.gated import CharGated, init_parameters

    for kind, width in (("lstm", 10), ("gru", 5)):  # float32 (the model's dtype): a coarse check
        model = CharGated(kind, 6, 5)
        init_parameters(model, np.random.default_rng(0))
        rng = np.random.default_rng(1)
        X, Y = rng.integers(0, 6, (3, 2)), rng.integers(0, 6, (3, 2))
        state = model.zero_state(2)
        state = tuple(s + 0.3 for s in state) if kind == "lstm" else state + 0.3
        grad = gated_last_loss_grad(model, state, X, Y)
        assert grad.shape == (2, width) and np.abs(grad).max() > 1e-2

        def loss(s, model=model, X=X, Y=Y):
            with torch.no_grad():
                logits, _, _ = model(torch.from_numpy(X), s)
                return torch.nn.functional.cross_entropy(logits[-1].double(), torch.from_numpy(Y[-1]),
                                                         reduction="none").numpy()

        flat = torch.cat(state if isinstance(state, tuple) else (state,), dim=2)
        split = (lambda f: (f[..., :5].contiguous(), f[..., 5:].contiguous())) \
            if kind == "lstm" else (lambda f: f)
        eps = 1e-2
        for i in range(width):
            d = torch.zeros_like(flat)
            d[..., i] = eps
            fd = (loss(split(flat + d)) - loss(split(flat - d))) / (2 * eps)
            np.testing.assert_allclose(grad[:, i], fd, rtol=2e-2, atol=2e-4)
    model = CharGated("gru", 6, 5)
    init_parameters(model, np.random.default_rng(0))
    data = np.random.default_rng(3).integers(0, 6, 300)
    norms = gated_norms(model, data, np.array([150, 299]), 100, ks=(1, 8))
    assert len(norms) == 2 and all(n > 0 for n in norms)


def test_the_spectrum_of_w():
    W = np.diag([3.0, -0.5, 0.1])
    W[0, 1] = 4.0  # not symmetric: the largest singular value exceeds the spectral radius
    s = spectrum(W)
    assert s["spectral_radius"] == pytest.approx(3.0)
    assert s["sigma_max"] == pytest.approx(np.linalg.norm(W, 2)) and s["sigma_max"] > 3.0
    assert s["singular_values"] == sorted(s["singular_values"], reverse=True)


def _curve(name, norms, rho=None):
    m = {"name": name, "kind": "k", "ks": [1, 4, 16, 64, 256], "norms": norms}
    if rho is not None:
        m.update(spectral_radius=rho, sigma_max=rho + 1)
    return m


def test_the_paragraph_says_what_the_numbers_show():
    from charrnn.report import shortfall

    van = _curve("handout", [1.0, 0.5, 1e-2, 1e-9, 1e-30], rho=2.5)
    gru = _curve("gru", [1.0, 0.8, 0.5, 0.2, 0.1])
    text = shortfall.gradients_paragraph([gru, van], quote_auc=0.54)
    assert "shrinks by a factor of $10^{9}$ in handout and 5.0 in gru." in text
    assert "above 1, W alone" not in text and "The spectral radius of W is 2.50, above 1" in text
    assert "no unit of the handout model follows quotations (best unit AUC 0.54" in text
    assert "gradient $10^{9}$ times smaller" in text
    # a contracting W, a unit that does follow quotations, a gradient that grows
    small = _curve("small", [1.0, 0.1, 1e-3, 1e-6, 1e-12], rho=0.5)
    grows = _curve("grows", [1.0, 2.0, 4.0, 8.0, 16.0])
    text = shortfall.gradients_paragraph([small, grows], quote_auc=0.93)
    assert "$10^{6}$ in small." in text and "In grows it does not shrink." in text
    assert "below 1 (0.50 at most): W alone shrinks the gradient" in text
    assert "Even so, a unit of the handout model follows quotations (best unit AUC 0.93)" in text
    # k_ref beyond the curve: the largest k that was measured
    assert "From k = 1 to k = 4," in shortfall.gradients_paragraph([_curve("x", [1, .5, .1, .1, .1])],
                                                                 k_ref=10)
    assert "does not shrink in any model" in shortfall.gradients_paragraph([grows])
    assert shortfall.gradients_paragraph([]) == ""


def _run(seed, norms, max_norm, max_update, clip=None, optimizer="adam", every=100):
    """A load_run dict whose history logged ``norms`` every ``every`` updates."""
    updates = [1, *range(every, every * len(norms), every)][: len(norms)]
    return {"history": {"update": np.array(updates), "grad_norm": np.array(norms, dtype=float)},
            "metrics": {"seed": seed, "max_grad_norm": max_norm, "max_grad_norm_update": max_update},
            "config": {"grad_clip": clip, "optimizer": optimizer}}


def test_the_gradient_norm_paragraph_says_what_the_numbers_show():
    from charrnn.report import shortfall

    # two seeds without clipping; a spike of 40 times the median in seed 2, still below 5
    calm = _run(1, [0.2, 0.1, 0.1, 0.1, 0.12], 0.3, 17)
    spiky = _run(2, [0.1, 0.1, 0.1, 0.1, 0.1], 4.0, 12345)
    facts = shortfall.grad_norm_facts([calm, spiky])
    assert [f["median"] for f in facts] == [0.1, 0.1] and facts[1]["max"] == 4.0
    text = shortfall.grad_norm_paragraph(facts)
    assert "(Adam, without clipping)" in text
    assert "a median of 0.100 to 0.100 across the 2 seeds" in text
    assert "The largest norm of any update was 4.00, at update 12,345 of seed 2: 40.0 times that" \
        in text
    assert "does spike" in text and "Adam divides each step" in text
    assert "would never have acted" in text  # 4 < 5: no entry can exceed 5
    # one seed, no spike, a norm above the clip bound: nothing said about the clip
    big = _run(1, [6.0, 5.0, 7.0], 20.0, 2)
    text = shortfall.grad_norm_paragraph(shortfall.grad_norm_facts([big]))
    assert "a median of 6.00 over its 3 logged updates" in text and "seed" not in text
    assert "3.3 times the median" in text and "did not explode" in text
    assert "never have acted" not in text and "does spike" not in text
    # a clipped run: the clip is named, and nothing is said about what it would have done
    clipped = _run(1, [0.1, 0.1], 0.2, 1, clip=5.0, optimizer="adagrad")
    text = shortfall.grad_norm_paragraph(shortfall.grad_norm_facts([clipped]))
    assert "(AdaGrad, with an element-wise clip at 5.0)" in text and "never have acted" not in text
    # runs that did not log the norm (an older charrnn): no facts, no sentence, a "not yet"
    old = {"history": {"update": np.array([1])}, "metrics": {"seed": 1}, "config": {}}
    assert shortfall.grad_norm_facts([old]) == [] and shortfall.grad_norm_paragraph([]) == ""
    assert "Not yet" in shortfall.grad_norm_history([old])[0][1]
    parts = shortfall.grad_norm_history([calm, spiky])
    assert [k for k, _ in parts] == ["figure", "markdown", "markdown"]
    assert "every 100th update" in parts[1][1]
