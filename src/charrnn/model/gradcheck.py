"""Gradient check: NumPy backprop against PyTorch autograd and centered differences.

Two errors per parameter, between our gradient ``a`` and the reference ``b`` (same shape)::

    normwise   err(a, b) = max_i |a_i - b_i| / max(floor, max_i |a_i| + max_i |b_i|)   decides pass/fail
    entrywise  rel(a_i, b_i) = |a_i - b_i| / max(floor, |a_i| + |b_i|)                 reported (cs231n)

with floor = 1e-8. A parameter passes when err(a, b) <= the tolerance (TOL_TORCH, TOL_NUMERIC).

Why the normwise error decides. Every gradient entry is a float64 sum: dW adds T outer-product
terms built from the m-term products W^T dL/da_{t+1} and the K-term V^T dL/do_t. Rounding of a sum
of n terms is bounded relative to the terms, not to the result: |fl(sum x_k) - sum x_k| <=
gamma_{n-1} sum |x_k|, gamma_n = n u / (1 - n u), u = 2^-53 ~ 1.1e-16 (Higham, "Accuracy and
Stability of Numerical Algorithms", 2nd ed. 2002, sec. 3.1 and ch. 4). Two correct
implementations that add in different orders (NumPy's BLAS, PyTorch autograd) therefore differ
on every entry by up to about n u times the size of its terms, however small the entry itself:
an entry that is small because its terms cancel has a large entrywise error. At m = 1000 (seed 0,
the book) dW has entries of 6e-3 and entries of 1.4e-9 that differ from PyTorch's by 3e-18: an
entrywise error of 3e-18 / 1e-8 (the floor, which is absolute and does not follow the sums
either) = 3e-10, over the tolerance 1e-10 although both gradients are right.
The normwise error divides instead by the size of the parameter's largest entries, the scale of
the terms of its sums: the normwise relative error ||a - b|| / ||b|| of Higham sec. 1.2, made
symmetric like cs231n's |a - b| / (|a| + |b|) (whose notes warn that gradient entries of about
1e-10 and below are not to be compared one by one). For correct gradients it stays near u: at most
1.2e-15 for m = 10 to 3000 and seq_length up to 200 (measured). A real bug changes whole entries
at the gradient's scale: a wrong sign of W^T dL/da_{t+1} at one step, a time step dropped from dW
or a tanh' of 1 - h for 1 - h^2 gives 5e-4 to 1 at m = 10 (the book, seed 0), six or more orders
above TOL_TORCH (tests/test_gradcheck.py checks such bugs). The max norm, not the 2-norm, so that
one wrong entry is never diluted by the parameter's size: an entry off by d gives d / (2 max|g|)
whether W has 100 or 9 million entries. The centered differences' error is mostly an absolute
noise of similar size on every entry (the loss's rounding divided by h), so the normwise error
suits them too.

Centered differences, every entry, with the five-point (fourth-order) stencil::

    dL/dθ_i ≈ (-L(θ + 2h e_i) + 8 L(θ + h e_i) - 8 L(θ - h e_i) + L(θ - 2h e_i)) / (12 h)

with h = 1e-4, evaluating :func:`charrnn.model.rnn.forward` in extended precision (``np.longdouble``).
Why: with the plain two-point formula in float64, rounding of a loss near 4.4 (or 110 for the
summed loss) leaves about 1e-11 to 1e-9 of noise in each difference, which is a relative error of
1e-5 to 1e-4 on the smallest gradient entries (|g| ~ 1e-6) even when backprop is exact; the
stencil's O(h^4) truncation and the 64-bit mantissa bring the noise below 1e-8.
The check follows HANDOUT req. 7/9: m = 10, the book's first seq_length characters as inputs and
the next ones as targets, h0 = 0, no clipping.
"""

from __future__ import annotations

import numpy as np

from ..util.checks import check_nonneg_int, check_positive_int
from .rnn import PARAM_NAMES, forward, init_params, loss_and_grads

__all__ = ["relative_error", "normwise_error", "numerical_gradients", "compare", "check_gradients",
           "gradcheck_suite", "all_passed", "decisive_error", "worst_rel_err", "TOL_TORCH", "TOL_NUMERIC",
           "LOSS_DEFINITIONS"]

#: The two handouts' loss definitions and inits, by preset name.
LOSS_DEFINITIONS = {"adam": ("mean", "scaled"), "adagrad": ("sum", "small")}

#: Maximum normwise error (:func:`normwise_error`) allowed against PyTorch float64 autograd.
TOL_TORCH = 1e-10
#: Maximum normwise error (:func:`normwise_error`) allowed against centered differences.
TOL_NUMERIC = 1e-6


def relative_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-8) -> np.ndarray:
    """Element-wise |a - b| / max(floor, |a| + |b|), same shape as ``a`` (reported, not judged:
    rounding makes it large on entries much smaller than the rest, see the module docstring)."""
    return np.abs(a - b) / np.maximum(floor, np.abs(a) + np.abs(b))


def normwise_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-8) -> float:
    """max_i |a_i - b_i| / max(floor, max_i |a_i| + max_i |b_i|) of two arrays of the same shape:
    the largest difference relative to the size of the arrays' largest entries (the max-norm
    relative error ||a - b|| / (||a|| + ||b||)); 0 for equal arrays. The pass/fail measure of
    :func:`compare`, for the rounding argument of the module docstring."""
    a, b = np.asarray(a), np.asarray(b)
    scale = np.max(np.abs(a)) + np.max(np.abs(b))
    return float(np.max(np.abs(a - b)) / max(floor, scale))


def numerical_gradients(params, x, y, h0, reduction: str = "mean", h: float = 1e-4,
                        dtype=np.longdouble, stencil: int = 5):
    """Centered-difference gradients of the loss for every entry of every parameter.

    ``stencil=5`` uses the fourth-order formula above (4 forward passes per entry), ``stencil=3``
    the plain (L(θ+h) - L(θ-h)) / 2h. The forward pass runs in ``dtype``. Returns a dict of
    float64 arrays shaped as the parameters; ``params`` is not modified.
    Raises ``ValueError`` for a stencil other than 3 or 5.
    """
    if stencil not in (3, 5):
        raise ValueError(f"stencil must be 3 or 5, got {stencil!r}")
    p = {k: np.array(v, dtype=dtype) for k, v in params.items()}
    h0 = np.asarray(h0, dtype=dtype)
    step = dtype(h)
    grads = {}
    for name in PARAM_NAMES:
        theta = p[name].reshape(-1)  # a view: writing theta[i] perturbs p[name]
        g = np.empty(theta.size)
        for i in range(theta.size):
            old = theta[i]

            def loss_at(k, theta=theta, i=i, old=old):
                theta[i] = old + k * step
                return forward(p, x, y, h0, reduction)[0]

            if stencil == 3:
                g[i] = (loss_at(1) - loss_at(-1)) / (2 * step)
            else:
                # differences first, so equal losses give exactly 0
                g[i] = (8 * (loss_at(1) - loss_at(-1)) - (loss_at(2) - loss_at(-2))) / (12 * step)
            theta[i] = old
        grads[name] = g.reshape(p[name].shape)
    return grads


def compare(ga: dict, gb: dict, tol: float) -> dict:
    """Per-parameter comparison of two gradient dicts.

    Returns ``{name: {"shape", "max_abs_diff", "norm_rel_err", "max_rel_err", "mean_rel_err",
    "worst_index", "passed"}}``: ``norm_rel_err`` is :func:`normwise_error`, ``max_rel_err`` and
    ``mean_rel_err`` the largest and mean :func:`relative_error`, ``worst_index`` the entry with
    the largest |a - b| (the one that sets ``norm_rel_err``), and ``passed`` means
    norm_rel_err <= tol.
    """
    out = {}
    for name in PARAM_NAMES:
        a, b = ga[name], gb[name]
        diff = np.abs(a - b)
        rel = relative_error(a, b)
        norm = normwise_error(a, b)
        worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
        out[name] = {
            "shape": list(a.shape),
            "max_abs_diff": float(diff.max()),
            "norm_rel_err": norm,
            "max_rel_err": float(rel.max()),
            "mean_rel_err": float(rel.mean()),
            "worst_index": [int(i) for i in worst],
            "passed": bool(norm <= tol),
        }
    return out


def check_gradients(book_data: np.ndarray, K: int, m: int = 10, seq_length: int = 25,
                    seed: int = 0, reduction: str = "mean", init: str = "scaled",
                    sigma: float = 0.01, numeric: bool = True, h: float = 1e-4) -> dict:
    """Check :func:`charrnn.model.rnn.backward` on ``book_data[:seq_length]`` -> ``[1:seq_length+1]``.

    ``book_data`` is an int array of character indices (len >= seq_length + 1), K the vocabulary
    size. Parameters are drawn with ``init`` from ``default_rng(seed)``; h0 = 0. Returns
    ``{"config": {...}, "loss": L, "torch": table, "numeric": table}`` with tables as
    :func:`compare` (``"numeric"`` omitted when ``numeric`` is False).
    Raises ``ValueError`` if the text is too short.
    """
    from .reference import torch_loss_and_grads  # noqa: PLC0415 (torch: only the gradient check needs it)

    check_positive_int("m", m)
    check_positive_int("seq_length", seq_length)
    check_nonneg_int("seed", seed)
    if len(book_data) < seq_length + 1:
        raise ValueError(f"need at least seq_length + 1 = {seq_length + 1} characters")
    _, params = init_params(K, m, np.random.default_rng(seed), init, sigma)
    x, y = book_data[:seq_length], book_data[1 : seq_length + 1]
    h0 = np.zeros(m)
    loss, grads, _ = loss_and_grads(params, x, y, h0, reduction)
    torch_loss, torch_grads = torch_loss_and_grads(params, x, y, h0, reduction)
    result = {
        "config": {"m": m, "K": K, "seq_length": seq_length, "seed": seed,
                   "reduction": reduction, "init": init, "h": h},
        "loss": loss,
        "torch_loss": torch_loss,
        "torch": compare(grads, torch_grads, TOL_TORCH),
    }
    if numeric:
        result["numeric"] = compare(grads, numerical_gradients(params, x, y, h0, reduction, h),
                                    TOL_NUMERIC)
    return result


def gradcheck_suite(book_data: np.ndarray, K: int, m: int = 10, seq_length: int = 25,
                    seed: int = 0, numeric: bool = True, short=(1, 2)) -> dict:
    """The report's full check: both presets' loss definitions at ``seq_length``, plus the short
    sequences ``short`` (a missing recurrent term still passes at length 1, not at 2).

    Returns ``{preset: check_gradients(...) + {"by_seq_length": {"1": {...}, "2": {...}}}}``.
    Raises ``ValueError`` for m, seq_length <= 0 or a negative seed, before any work (the first
    :func:`check_gradients` call checks them).
    """
    out = {}
    for preset, (reduction, init) in LOSS_DEFINITIONS.items():
        r = check_gradients(book_data, K, m, seq_length, seed, reduction, init, numeric=numeric)
        r["by_seq_length"] = {
            str(T): {k: v for k, v in check_gradients(book_data, K, m, T, seed, reduction, init,
                                                      numeric=numeric).items()
                     if k in ("torch", "numeric", "loss")}
            for T in short if T != seq_length}
        out[preset] = r
    return out


def _rows(suite: dict, against=("torch", "numeric")):
    """Every comparison row of a suite (extra top-level keys such as tolerances are skipped)."""
    for preset in LOSS_DEFINITIONS:
        if preset not in suite:
            continue
        r = suite[preset]
        for block in (r, *r.get("by_seq_length", {}).values()):
            for a in against:
                yield from block.get(a, {}).values()


def all_passed(suite: dict) -> bool:
    """True when every row of every table in a :func:`gradcheck_suite` result passed."""
    rows = list(_rows(suite))
    return bool(rows) and all(row["passed"] for row in rows)


def decisive_error(row: dict) -> float:
    """The error that decided ``row["passed"]`` of one :func:`compare` row: ``norm_rel_err``; a
    row written before it existed (an older gradcheck.json) was decided on ``max_rel_err``."""
    return row["norm_rel_err"] if "norm_rel_err" in row else row["max_rel_err"]


def worst_rel_err(suite: dict, against: str) -> float:
    """The largest :func:`decisive_error` (the normwise error) against ``"torch"`` or
    ``"numeric"`` over a whole suite, to set beside that table's tolerance; NaN when there is none."""
    return max((decisive_error(row) for row in _rows(suite, (against,))), default=float("nan"))
