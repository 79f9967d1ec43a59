"""Validation loss on held-out text (bonus B-N1), in nats and bits per character.

Two numbers, both the mean of -log p_t[y_t] over the predicted characters:

* **stateful** (the honest one): one pass over the text from h = 0, the hidden state carried
  from each character to the next, as the model is used when it generates text;
* **windowed** (comparable with the course's per-sequence losses): the text cut into
  non-overlapping windows of ``seq_length`` inputs, each from h0 = 0. It is higher, because the
  first characters of every window are predicted without context.

Both are batched: the stateful pass runs the recurrence alone (one mat-vec per character) and
the output layer over blocks of steps; the windowed pass runs all windows as one mini-batch.
"""

from __future__ import annotations

import math

import numpy as np

from .rnn import softmax

__all__ = ["stateful_loss", "windowed_loss", "BITS_PER_NAT"]

BITS_PER_NAT = 1.0 / math.log(2.0)


def stateful_loss(params, data: np.ndarray, block: int = 4096) -> float:
    """Mean loss (nats per character) predicting ``data[1:]`` from ``data[:-1]``, h carried.

    ``data`` int array (N,), N >= 2. Raises ``ValueError`` if shorter.
    """
    from .data import check_positive_int

    check_positive_int("block", block)
    data = np.asarray(data)
    if len(data) < 2:
        raise ValueError("validation text needs at least 2 characters")
    b, c, U, W, V = (params[k] for k in ("b", "c", "U", "W", "V"))
    x, y = data[:-1], data[1:]
    h = np.zeros(len(b))
    total = 0.0
    Hb = np.empty((block, len(b)))
    for start in range(0, len(x), block):
        xs = x[start : start + block]
        A = U.T[xs] + b  # (n, m)
        n = len(xs)
        for t in range(n):
            h = np.tanh(W @ h + A[t])
            Hb[t] = h
        P = softmax(Hb[:n] @ V.T + c)
        total -= np.log(P[np.arange(n), y[start : start + n]]).sum()
    return float(total / len(x))


def windowed_loss(params, data: np.ndarray, seq_length: int = 25) -> float:
    """Mean loss (nats per character) over non-overlapping windows of ``seq_length``, h0 = 0.

    Raises ``ValueError`` if ``data`` holds fewer than seq_length + 1 characters.
    """
    from .data import check_positive_int

    seq_length = check_positive_int("seq_length", seq_length)
    data = np.asarray(data)
    n_win = (len(data) - 1) // seq_length
    if n_win < 1:
        raise ValueError(f"validation text needs at least seq_length + 1 = {seq_length + 1} "
                         "characters")
    b, c, U, W, V = (params[k] for k in ("b", "c", "U", "W", "V"))
    idx = np.arange(n_win)[:, None] * seq_length + np.arange(seq_length)  # (n_win, T)
    X, Y = data[idx].T, data[idx + 1].T  # (T, n_win)
    h = np.zeros((n_win, len(b)))
    total = 0.0
    for t in range(seq_length):
        h = np.tanh(h @ W.T + U.T[X[t]] + b)
        P = softmax(h @ V.T + c)
        total -= np.log(P[np.arange(n_win), Y[t]]).sum()
    return float(total / (n_win * seq_length))
