"""Gradient check: NumPy backprop against PyTorch autograd and centered differences.

Relative error of two numbers (cs231n convention)::

    rel(a, b) = |a - b| / max(floor, |a| + |b|),   floor = 1e-8

Centered differences, every entry, with the five-point (fourth-order) stencil::

    dL/dθ_i ≈ (-L(θ + 2h e_i) + 8 L(θ + h e_i) - 8 L(θ - h e_i) + L(θ - 2h e_i)) / (12 h)

with h = 1e-4, evaluating :func:`charrnn.rnn.forward` in extended precision (``np.longdouble``).
Why: with the plain two-point formula in float64, rounding of a loss near 4.4 (or 110 for the
summed loss) leaves about 1e-11 to 1e-9 of noise in each difference, which is a relative error of
1e-5 to 1e-4 on the smallest gradient entries (|g| ~ 1e-6) even when backprop is exact; the
stencil's O(h^4) truncation and the 64-bit mantissa bring the noise below 1e-8.
The check follows HANDOUT req. 7/9: m = 10, the book's first seq_length characters as inputs and
the next ones as targets, h0 = 0, no clipping.
"""

from __future__ import annotations

import numpy as np

from .rnn import PARAM_NAMES, forward, init_params, loss_and_grads

__all__ = ["relative_error", "numerical_gradients", "compare", "check_gradients",
           "gradcheck_suite", "all_passed", "worst_rel_err", "TOL_TORCH", "TOL_NUMERIC", "LOSS_DEFINITIONS"]

#: The two handouts' loss definitions and inits, by preset name.
LOSS_DEFINITIONS = {"adam": ("mean", "scaled"), "adagrad": ("sum", "small")}

#: Maximum relative error allowed against PyTorch float64 autograd.
TOL_TORCH = 1e-10
#: Maximum relative error allowed against centered differences.
TOL_NUMERIC = 1e-6


def relative_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-8) -> np.ndarray:
    """Element-wise |a - b| / max(floor, |a| + |b|), same shape as ``a``."""
    return np.abs(a - b) / np.maximum(floor, np.abs(a) + np.abs(b))


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

    Returns ``{name: {"shape", "max_abs_diff", "max_rel_err", "mean_rel_err", "worst_index",
    "passed"}}`` where ``passed`` means max_rel_err <= tol.
    """
    out = {}
    for name in PARAM_NAMES:
        a, b = ga[name], gb[name]
        rel = relative_error(a, b)
        worst = np.unravel_index(int(np.argmax(rel)), rel.shape)
        out[name] = {
            "shape": list(a.shape),
            "max_abs_diff": float(np.max(np.abs(a - b))),
            "max_rel_err": float(rel.max()),
            "mean_rel_err": float(rel.mean()),
            "worst_index": [int(i) for i in worst],
            "passed": bool(rel.max() <= tol),
        }
    return out


def check_gradients(book_data: np.ndarray, K: int, m: int = 10, seq_length: int = 25,
                    seed: int = 0, reduction: str = "mean", init: str = "scaled",
                    sigma: float = 0.01, numeric: bool = True, h: float = 1e-4) -> dict:
    """Check :func:`charrnn.rnn.backward` on ``book_data[:seq_length]`` -> ``[1:seq_length+1]``.

    ``book_data`` is an int array of character indices (len >= seq_length + 1), K the vocabulary
    size. Parameters are drawn with ``init`` from ``default_rng(seed)``; h0 = 0. Returns
    ``{"config": {...}, "loss": L, "torch": table, "numeric": table}`` with tables as
    :func:`compare` (``"numeric"`` omitted when ``numeric`` is False).
    Raises ``ValueError`` if the text is too short.
    """
    from .checks import check_nonneg_int, check_positive_int
    from .reference import torch_loss_and_grads

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


def worst_rel_err(suite: dict, against: str) -> float:
    """The largest max relative error against ``"torch"`` or ``"numeric"`` over a whole suite."""
    return max((row["max_rel_err"] for row in _rows(suite, (against,))), default=float("nan"))
