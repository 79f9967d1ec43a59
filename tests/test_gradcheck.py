"""Tests of charrnn.gradcheck: it passes on correct gradients and catches tiny errors."""

import numpy as np
import pytest

import charrnn.gradcheck as gc
from charrnn.data import Vocabulary, read_text
from charrnn.gradcheck import (
    TOL_NUMERIC,
    TOL_TORCH,
    check_gradients,
    compare,
    numerical_gradients,
    relative_error,
)
from charrnn.reference import torch_loss_and_grads
from charrnn.rnn import PARAM_NAMES, init_params, loss_and_grads

SMALL_TEXT = "the cat sat on the mat; the dog sat on the log.\n" * 2


@pytest.fixture(scope="module")
def book_data(book_path):
    """(indices of the book's first 200 characters under the full book vocabulary, K)."""
    text = read_text(book_path)
    vocab = Vocabulary.from_text(text)
    return vocab.encode(text[:200]), vocab.K


def small_data():
    vocab = Vocabulary.from_text(SMALL_TEXT)
    return vocab.encode(SMALL_TEXT), vocab.K


def assert_all_passed(result, tables=("torch", "numeric")):
    for table, tol in (("torch", TOL_TORCH), ("numeric", TOL_NUMERIC)):
        if table not in tables:
            continue
        assert set(result[table]) == set(PARAM_NAMES)
        for name, row in result[table].items():
            assert row["passed"], (table, name, row)
            assert row["max_rel_err"] <= tol, (table, name, row)


def test_tolerances_are_strict():
    assert TOL_TORCH <= 1e-10
    assert TOL_NUMERIC <= 1e-6


def test_relative_error_by_hand():
    a = np.array([1.0, 1.0, 0.0, 1e-9, 2.0, -3.0])
    b = np.array([1.0, -1.0, 0.0, 0.0, 1.0, -3.0 * (1 + 1e-6)])
    expected = [0.0, 1.0, 0.0, 0.1, 1 / 3, 3e-6 / (6 + 3e-6)]
    np.testing.assert_allclose(relative_error(a, b), expected, rtol=1e-9, atol=0)


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


def test_compare_flags_an_entry_off_by_1e6_relative():
    data, K = small_data()
    _, params = init_params(K, 6, np.random.default_rng(1))
    _, grads, _ = loss_and_grads(params, data[:25], data[1:26], np.zeros(6))
    # pick an entry whose size is well above the 1e-8 floor
    idx = np.unravel_index(int(np.argmax(np.abs(grads["W"]))), grads["W"].shape)
    bad = altered(grads, "W", idx, 1e-6)  # relative error ~ 5e-7
    table = compare(grads, bad, TOL_TORCH)
    assert not table["W"]["passed"]
    assert table["W"]["worst_index"] == [int(i) for i in idx]
    assert table["W"]["max_rel_err"] == pytest.approx(1e-6 / (2 + 1e-6), rel=1e-6)
    assert all(table[n]["passed"] for n in PARAM_NAMES if n != "W")
    # against centered differences (tolerance 1e-6), an entry off by 1e-5 relative is caught
    table_num = compare(grads, altered(grads, "V", (0, 0), 1e-5), TOL_NUMERIC)
    assert not table_num["V"]["passed"]
    assert compare(grads, grads, TOL_TORCH)["W"]["max_rel_err"] == 0.0


def test_check_gradients_reports_a_perturbed_backward(monkeypatch):
    """A backward pass with one dW entry wrong by 1e-6 relative fails the torch check."""
    real = gc.loss_and_grads

    def slightly_wrong(params, x, y, h0, reduction="mean"):
        loss, grads, h = real(params, x, y, h0, reduction)
        grads["W"][1, 2] *= 1 + 1e-6
        grads["b"][3] *= 1 + 1e-4
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
