"""Test loss against the temperature T: is T = 1 the best-calibrated?

Sampling at temperature T draws from p_t(T) = softmax(o_t / T) (eq. 4 with the logits o_t = V h_t
+ c divided by T). The same division gives a loss at every T on a text the model never saw:

    L(T) = -(1 / N) sum_t log softmax(o_t / T)[y_t]    [nats per character]

with h carried through the whole text from h = 0, as :func:`charrnn.model.evaluate.stateful_loss`
computes L(1) (the hidden states do not depend on T, so they are computed once). T above 1
flattens every distribution, T below 1 sharpens it: the T that minimises L(T) says whether the
model is over-confident (best T > 1), under-confident (best T < 1) or calibrated in this
one-parameter sense (best T = 1). The best T is found by ``scipy.optimize.minimize_scalar``
(bounded, on log T).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar

from ..model.rnn import softmax, stateful_pass
from ..util.checks import check_positive_int

__all__ = ["TEMPERATURES", "BOUNDS", "output_blocks", "loss_at", "temperature_curve"]

#: The temperatures of the curve.
TEMPERATURES = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0)
#: The interval searched for the best temperature.
BOUNDS = (0.2, 5.0)


def output_blocks(params, data, block: int = 4096) -> list[tuple[np.ndarray, np.ndarray]]:
    """The logits of the model run statefully over ``data`` (int (N,), N >= 2) predicting
    ``data[1:]`` from ``data[:-1]``, h carried from h = 0: a list of ``(O (n, K) float64,
    y (n,) int)`` per block of at most ``block`` characters, O = H V^T + c computed exactly as
    :func:`charrnn.model.evaluate.stateful_loss` computes it (the same
    :func:`charrnn.model.rnn.stateful_pass` and blocks). Memory: N x K floats. Raises
    ``ValueError`` for fewer than 2 characters or a non-positive block."""
    check_positive_int("block", block)
    data = np.asarray(data)
    if data.ndim != 1 or len(data) < 2:
        raise ValueError("the test text needs at least 2 characters")
    x, y = data[:-1], data[1:]
    return [(H @ params["V"].T + params["c"], y[start : start + len(H)])
            for start, H in stateful_pass(params, x, block=block)]


def loss_at(blocks, temperature: float) -> float:
    """L(T), the mean loss [nats per character] of :func:`output_blocks`' ``blocks`` with every
    logit divided by ``temperature`` T > 0; at T = 1 the same operations in the same order as
    :func:`charrnn.model.evaluate.stateful_loss`, so the same float. Raises ``ValueError`` for
    T <= 0."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    total, n = 0.0, 0
    for O, y in blocks:
        P = softmax(O / temperature)  # (n, K)
        total -= np.log(P[np.arange(len(y)), y]).sum()
        n += len(y)
    return float(total / n)


def temperature_curve(params, data, temperatures=TEMPERATURES, bounds=BOUNDS,
                      block: int = 4096) -> dict:
    """L(T) of the model ``params`` on the text ``data`` (int (N,), the test text's indices) at
    each of ``temperatures``, and the T in ``bounds`` that minimises it.

    Returns a JSON-able dict: ``temperatures``, ``losses`` [nats/char], ``loss_at_1`` (L(1),
    equal to :func:`charrnn.model.evaluate.stateful_loss` on the same characters),
    ``best_temperature``, ``best_loss``, ``bounds``, ``n_chars`` (characters predicted, N - 1).
    The best T minimises L over log T in log ``bounds`` (``minimize_scalar``, bounded, to 1e-5
    in log T); one that lands on a bound means the minimum lies outside. Raises ``ValueError``
    as :func:`output_blocks` and for a temperature or a bound that is not positive."""
    lo, hi = (float(b) for b in bounds)
    if not 0 < lo < hi:
        raise ValueError(f"bounds must satisfy 0 < low < high, got {bounds}")
    blocks = output_blocks(params, data, block)
    losses = [loss_at(blocks, float(T)) for T in temperatures]
    res = minimize_scalar(lambda s: loss_at(blocks, math.exp(s)), bounds=(math.log(lo), math.log(hi)),
                          method="bounded", options={"xatol": 1e-5})
    return {"temperatures": [float(T) for T in temperatures], "losses": losses,
            "loss_at_1": loss_at(blocks, 1.0), "best_temperature": float(math.exp(res.x)),
            "best_loss": float(res.fun), "bounds": [lo, hi], "n_chars": int(len(data) - 1)}
