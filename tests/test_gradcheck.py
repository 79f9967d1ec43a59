"""Tests of charrnn.model.gradcheck: it passes on correct gradients and catches tiny errors."""

import numpy as np
import pytest

import charrnn.model.gradcheck as gc
from charrnn.model.data import Vocabulary, read_text
from charrnn.model.gradcheck import (
    TOL_NUMERIC,
    TOL_TORCH,
    all_passed,
    check_gradients,
    compare,
    decisive_error,
    gradcheck_suite,
    normwise_error,
    numerical_gradients,
    relative_error,
    worst_rel_err,
)
from charrnn.model.reference import torch_loss_and_grads
from charrnn.model.rnn import PARAM_NAMES, forward, init_params, loss_and_grads
from charrnn.report.tables import fmt, gradcheck_html

SMALL_TEXT = "the cat sat on the mat; the dog sat on the log.\n" * 2


@pytest.fixture(scope="module")
def book_data(book_path):
    """(indices of the book's first 200 characters under the full book vocabulary, K)."""
    text = read_text(book_path)
    vocab = Vocabulary.from_text(text)
    return vocab.encode(text[:200]), vocab.K


def small_data(text=SMALL_TEXT):
    vocab = Vocabulary.from_text(text)
    return vocab.encode(text), vocab.K


def assert_all_passed(result, tables=("torch", "numeric"), entrywise=True):
    """Every row passed on the normwise error; with ``entrywise`` (small m, where rounding is
    far below the tolerance on every entry) the entrywise relative error is within it too."""
    for table, tol in (("torch", TOL_TORCH), ("numeric", TOL_NUMERIC)):
        if table not in tables:
            continue
        assert set(result[table]) == set(PARAM_NAMES)
        for name, row in result[table].items():
            assert row["passed"], (table, name, row)
            assert row["norm_rel_err"] <= tol, (table, name, row)
            if entrywise:
                assert row["max_rel_err"] <= tol, (table, name, row)


def test_relative_error_by_hand():
    a = np.array([1.0, 1.0, 0.0, 1e-9, 2.0, -3.0])
    b = np.array([1.0, -1.0, 0.0, 0.0, 1.0, -3.0 * (1 + 1e-6)])
    expected = [0.0, 1.0, 0.0, 0.1, 1 / 3, 3e-6 / (6 + 3e-6)]
    np.testing.assert_allclose(relative_error(a, b), expected, rtol=1e-9, atol=0)


def test_normwise_error_by_hand():
    a = np.array([[1e-3, -2e-3], [1e-20, 3e-17]])
    assert normwise_error(a, a.copy()) == 0.0
    assert normwise_error(np.zeros(3), np.zeros(3)) == 0.0
    # rounding-sized differences on entries far below the largest: tiny beside 2e-3 + 2e-3
    b = a + np.array([[0.0, 0.0], [1e-17, -1e-17]])
    assert normwise_error(a, b) == pytest.approx(1e-17 / 4e-3, rel=1e-9)
    assert normwise_error(a, b) <= TOL_TORCH
    assert relative_error(a, b).max() == pytest.approx(1e-9)  # over TOL_TORCH: the old criterion failed
    # a difference on the largest entry is judged against the largest entries
    a2, b2 = np.array([1.0, -3.0]), np.array([1.0, -3.0 * (1 + 1e-6)])
    assert normwise_error(a2, b2) == pytest.approx(3e-6 / (6 + 3e-6), rel=1e-9)
    assert normwise_error(b2, a2) == normwise_error(a2, b2)
    # a difference on the smallest entry counts as much as one on the largest
    a3, b3 = np.array([1.0, 1e-9]), np.array([1.0, 1e-9 + 3e-6])
    assert normwise_error(a3, b3) == pytest.approx(3e-6 / 2, rel=1e-6)
    # the floor 1e-8 below arrays that are all tiny
    assert normwise_error(np.zeros(2), np.array([1e-9, 0.0])) == pytest.approx(0.1, rel=1e-12)
    assert normwise_error(np.zeros(2), np.array([1e-9, 0.0]), floor=1e-9) == 1.0


def test_compare_passes_on_the_normwise_error():
    """Rows decide on norm_rel_err, however large the entrywise error of tiny entries."""
    a = np.array([[1e-3, -2e-3], [1e-20, 3e-17]])
    b = a + np.array([[0.0, 0.0], [1e-17, -1e-17]])
    table = compare({n: a for n in PARAM_NAMES}, {n: b for n in PARAM_NAMES}, TOL_TORCH)
    row = table["W"]
    assert row["passed"] and row["norm_rel_err"] == pytest.approx(2.5e-15, rel=1e-9)
    assert row["max_rel_err"] > TOL_TORCH and row["max_abs_diff"] == pytest.approx(1e-17, rel=1e-9)
    assert row["worst_index"] in ([1, 0], [1, 1])
    # the same differences beside entries of 1e-7 are 1e-10 of them: over a tolerance of 1e-11
    small = a * 1e-4
    row = compare({n: small for n in PARAM_NAMES},
                  {n: small + (b - a) for n in PARAM_NAMES}, 1e-11)["W"]
    assert not row["passed"] and row["norm_rel_err"] == pytest.approx(2.5e-11, rel=1e-6)
    # worst_index is the entry of the largest |a - b| (not of the largest entrywise error)
    a, b = np.array([1.0, 1e-6]), np.array([1.0 + 1e-9, 1e-6 + 1e-12])
    row = compare({n: a for n in PARAM_NAMES}, {n: b for n in PARAM_NAMES}, TOL_TORCH)["b"]
    assert row["worst_index"] == [0] and row["max_rel_err"] == pytest.approx(5e-7, rel=1e-3)


def test_decisive_and_worst_error():
    new = {"norm_rel_err": 2e-15, "max_rel_err": 3e-10, "passed": True}
    old = {"max_rel_err": 4e-14, "passed": True}  # a row of a gradcheck.json older than norm_rel_err
    assert decisive_error(new) == 2e-15 and decisive_error(old) == 4e-14
    block = {"torch": {"W": new, "V": {**new, "norm_rel_err": 5e-15}}}
    suite = {"adam": {**block, "by_seq_length": {"2": {"torch": {"W": {**new, "norm_rel_err": 7e-15}}}}}}
    assert worst_rel_err(suite, "torch") == 7e-15
    assert worst_rel_err(suite, "numeric") != worst_rel_err(suite, "numeric")  # NaN: none
    assert all_passed(suite)


def test_gradcheck_html_shows_the_deciding_error():
    data, K = small_data()
    res = check_gradients(data, K, m=5, seq_length=8, numeric=False)
    res["torch"]["W"].update(norm_rel_err=1.25e-3, passed=False)
    html = gradcheck_html(res)
    assert "<th>normwise err</th>" in html and f"<td>{fmt(1.25e-3)}</td>" in html
    assert "<b>no</b>" in html


@pytest.mark.book
@pytest.mark.slow  # centered differences over all 2,000 entries, twice
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_check_gradients_on_book_seq25(book_data, reduction):
    data, K = book_data
    assert K == 80
    res = check_gradients(data, K, m=10, seq_length=25, reduction=reduction, numeric=True)
    assert_all_passed(res)
    assert res["config"]["m"] == 10 and res["config"]["seq_length"] == 25
    assert res["loss"] == pytest.approx(res["torch_loss"], rel=1e-13)
    assert res["torch"]["U"]["shape"] == [10, 80]
    # the loss at init is near the uniform-prediction loss ln K per character
    per_char = res["loss"] / (25 if reduction == "sum" else 1)
    assert abs(per_char - np.log(80)) < 0.5


@pytest.mark.book
@pytest.mark.parametrize("seq_length", [1, 2])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_check_gradients_on_book_short(book_data, seq_length, reduction):
    data, K = book_data
    res = check_gradients(data, K, m=10, seq_length=seq_length, reduction=reduction)
    assert_all_passed(res)


@pytest.mark.parametrize("init", ["scaled", "small"])
def test_check_gradients_small_text(init):
    data, K = small_data()
    res = check_gradients(data, K, m=5, seq_length=25, init=init, seed=3)
    assert_all_passed(res)


def test_check_gradients_too_short():
    with pytest.raises(ValueError, match="seq_length"):
        check_gradients(np.arange(25) % 5, 5, seq_length=25, numeric=False)


def test_numerical_gradients_against_torch_and_leaves_params_alone():
    data, K = small_data()
    _, params = init_params(K, 4, np.random.default_rng(0))
    before = {k: v.copy() for k, v in params.items()}
    x, y, h0 = data[:6], data[1:7], np.zeros(4)
    _, t_grads = torch_loss_and_grads(params, x, y, h0)
    num5 = numerical_gradients(params, x, y, h0)
    num3 = numerical_gradients(params, x, y, h0, stencil=3, dtype=np.float64)
    for name in PARAM_NAMES:
        assert num5[name].dtype == np.float64 and num5[name].shape == params[name].shape
        assert relative_error(num5[name], t_grads[name]).max() <= TOL_NUMERIC
        # the plain float64 two-point formula is good to ~1e-5 relative at best
        assert relative_error(num3[name], t_grads[name]).max() <= 1e-4
        assert np.array_equal(params[name], before[name])
    with pytest.raises(ValueError, match="stencil"):
        numerical_gradients(params, x, y, h0, stencil=4)


def altered(grads, name, index, rel):
    out = {k: v.copy() for k, v in grads.items()}
    out[name][index] *= 1 + rel
    return out


def shifted(grads, name, index, rel):
    """A copy of ``grads`` with ``grads[name][index]`` moved by ``rel`` times the parameter's
    largest |entry|."""
    out = {k: v.copy() for k, v in grads.items()}
    out[name][index] += rel * np.abs(grads[name]).max()
    return out


def test_compare_flags_an_entry_off_by_1e6_relative():
    data, K = small_data()
    _, params = init_params(K, 6, np.random.default_rng(1))
    _, grads, _ = loss_and_grads(params, data[:25], data[1:26], np.zeros(6))
    # the largest entry off by 1e-6 of itself: normwise error 1e-6 / (2 + 1e-6)
    idx = np.unravel_index(int(np.argmax(np.abs(grads["W"]))), grads["W"].shape)
    bad = altered(grads, "W", idx, 1e-6)
    table = compare(grads, bad, TOL_TORCH)
    assert not table["W"]["passed"]
    assert table["W"]["worst_index"] == [int(i) for i in idx]
    assert table["W"]["norm_rel_err"] == pytest.approx(1e-6 / (2 + 1e-6), rel=1e-6)
    assert table["W"]["max_rel_err"] == pytest.approx(1e-6 / (2 + 1e-6), rel=1e-6)
    assert all(table[n]["passed"] for n in PARAM_NAMES if n != "W")
    # the smallest entry off by 1e-6 of the largest is caught just the same (5e-7)
    tiny = np.unravel_index(int(np.argmin(np.abs(grads["W"]))), grads["W"].shape)
    table = compare(grads, shifted(grads, "W", tiny, 1e-6), TOL_TORCH)
    assert not table["W"]["passed"] and table["W"]["worst_index"] == [int(i) for i in tiny]
    assert table["W"]["norm_rel_err"] == pytest.approx(5e-7, rel=1e-6)
    # against centered differences (tolerance 1e-6), an entry off by 1e-5 of the largest is caught
    table_num = compare(grads, shifted(grads, "V", (0, 0), 1e-5), TOL_NUMERIC)
    assert not table_num["V"]["passed"]
    assert table_num["V"]["norm_rel_err"] == pytest.approx(5e-6, rel=1e-3)
    assert compare(grads, grads, TOL_TORCH)["W"]["norm_rel_err"] == 0.0
    assert compare(grads, grads, TOL_TORCH)["W"]["max_rel_err"] == 0.0


def test_check_gradients_reports_a_perturbed_backward(monkeypatch):
    """A backward pass with one dW entry wrong by 1e-6 of dW's largest entry fails the torch
    check; one db entry wrong by 1e-4 of db's largest fails against centered differences too."""
    real = gc.loss_and_grads

    def slightly_wrong(params, x, y, h0, reduction="mean"):
        loss, grads, h = real(params, x, y, h0, reduction)
        grads["W"][1, 2] += 1e-6 * np.abs(grads["W"]).max()
        grads["b"][3] += 1e-4 * np.abs(grads["b"]).max()
        return loss, grads, h

    monkeypatch.setattr(gc, "loss_and_grads", slightly_wrong)
    data, K = small_data()
    res = check_gradients(data, K, m=5, seq_length=8, numeric=True)
    assert not res["torch"]["W"]["passed"]
    assert res["torch"]["W"]["worst_index"] == [1, 2]
    assert not res["torch"]["b"]["passed"] and not res["numeric"]["b"]["passed"]
    assert res["numeric"]["b"]["worst_index"] == [3]
    for name in ("c", "U", "V"):
        assert res["torch"][name]["passed"] and res["numeric"][name]["passed"]


def test_check_gradients_fails_ten_times_over_its_tolerances_and_passes_a_tenth_under(monkeypatch):
    """What check_gradients accepts, pinned by behaviour (the numbers are written out here, not
    read from the module): a backward whose gradient is off by 1e-9 of the gradient's scale fails
    against PyTorch, and off by 1e-5 fails against centered differences; off by 1e-11 passes both
    (a difference near rounding), off by 1e-7 still passes centered differences."""
    real = gc.loss_and_grads
    # normwise error of each parameter's gradient: one entry moved by 2 err max|g| gives
    # 2 err max|g| / (max|g| + max|g|) = err
    errs = {"b": 1e-5, "c": 1e-7, "U": 1e-9, "W": 1e-11, "V": 0.0}

    def off_by(params, x, y, h0, reduction="mean"):
        loss, grads, h = real(params, x, y, h0, reduction)
        for name, err in errs.items():
            g = grads[name].reshape(-1)
            i = int(np.argmin(np.abs(g)))  # an entry below the largest: the max stays as it is
            g[i] += 2 * err * np.abs(g).max()
        return loss, grads, h

    monkeypatch.setattr(gc, "loss_and_grads", off_by)
    data, K = small_data()
    res = check_gradients(data, K, m=5, seq_length=8, numeric=True)
    passed = {table: {n for n, row in res[table].items() if row["passed"]}
              for table in ("torch", "numeric")}
    assert passed == {"torch": {"W", "V"}, "numeric": {"c", "U", "W", "V"}}
    for name, err in errs.items():
        assert res["torch"][name]["norm_rel_err"] == pytest.approx(err, rel=1e-3, abs=1e-15), name
    assert res["numeric"]["b"]["norm_rel_err"] == pytest.approx(1e-5, rel=1e-3)
    assert res["numeric"]["c"]["norm_rel_err"] == pytest.approx(1e-7, rel=1e-2)


def bptt(params, x, y, h0, reduction="mean", bug=None):
    """Backprop through time one step at a time (an independent copy of the equations), with an
    optional bug: ``"sign"`` flips W^T dL/da_{t+1} at step T - 2, ``"tanh"`` uses 1 - h_t for
    1 - h_t^2 at step T // 2, ``"drop"`` leaves step 1 out of dW. Returns (loss, grads, h_T)."""
    loss, cache = forward(params, x, y, h0, reduction)
    H, P = cache.H[:, 0], cache.P[:, 0]  # (T, m), (T, K)
    T, m = H.shape
    G = P.copy()  # (T, K): dL/do_t
    G[np.arange(T), y] -= 1.0
    G /= T if reduction == "mean" else 1
    H_prev = np.vstack([h0[None], H[:-1]])  # (T, m): h_{t-1}
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    da_next = np.zeros(m)
    for t in range(T - 1, -1, -1):
        recurrent = params["W"].T @ da_next
        if bug == "sign" and t == T - 2:
            recurrent = -recurrent
        dh = params["V"].T @ G[t] + recurrent
        da = dh * ((1 - H[t]) if bug == "tanh" and t == T // 2 else (1 - H[t] ** 2))
        grads["V"] += np.outer(G[t], H[t])
        grads["c"] += G[t]
        if not (bug == "drop" and t == 1):
            grads["W"] += np.outer(da, H_prev[t])
        grads["b"] += da
        grads["U"][:, x[t]] += da
        da_next = da
    return loss, grads, H[-1].copy()


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("bug, wrong", [(None, set()), ("sign", {"b", "U", "W"}),
                                        ("tanh", {"b", "U", "W"}), ("drop", {"W"})])
def test_a_wrong_backward_fails_by_orders_of_magnitude(monkeypatch, reduction, bug, wrong):
    """A real bug moves whole entries at the gradient's scale: a normwise error of 1e-6 or more,
    at least 10,000 times TOL_TORCH, while a correct step-by-step backward passes."""
    monkeypatch.setattr(gc, "loss_and_grads",
                        lambda params, x, y, h0, reduction="mean": bptt(params, x, y, h0, reduction, bug))
    data, K = small_data()
    res = check_gradients(data, K, m=10, seq_length=25, reduction=reduction,
                          init="scaled" if reduction == "mean" else "small", numeric=False)
    assert {n for n, row in res["torch"].items() if not row["passed"]} == wrong
    for name in wrong:
        assert res["torch"][name]["norm_rel_err"] > 1e4 * TOL_TORCH, (name, res["torch"][name])
    for name in set(PARAM_NAMES) - wrong:
        assert res["torch"][name]["norm_rel_err"] < 1e-14, (name, res["torch"][name])


def test_gradcheck_passes_at_m_1000():
    """m = 1000: float64 sums over 1,000 terms leave entrywise errors near 1e-10 on dW's tiny
    entries (the fixed entrywise tolerance failed here); the normwise error stays near 1e-15."""
    data, K = small_data()
    suite = gradcheck_suite(data, K, m=1000, seq_length=25, numeric=False)
    assert all_passed(suite)
    for preset in suite:
        assert_all_passed(suite[preset], tables=("torch",), entrywise=False)
    assert worst_rel_err(suite, "torch") < 1e-13


@pytest.mark.slow  # about 8 s
def test_gradcheck_passes_at_m_1000_seq_length_200():
    data, K = small_data(SMALL_TEXT * 5)
    suite = gradcheck_suite(data, K, m=1000, seq_length=200, numeric=False, short=())
    assert all_passed(suite)
    assert worst_rel_err(suite, "torch") < 1e-13
