"""Validation loss on held-out text (bonus B-N1), in nats and bits per character.

Two numbers, both the mean of -log p_t[y_t] over the predicted characters, both computed with
the model's own functions (:func:`charrnn.model.rnn.step`, :func:`charrnn.model.rnn.forward`):

* **stateful** (the honest one): one pass over the text from h = 0, the hidden state carried
  from each character to the next, as the model is used when it generates text; the recurrence
  runs alone (one mat-vec per character), the output layer over blocks of steps;
* **windowed** (comparable with the course's per-sequence losses): the text cut into
  non-overlapping windows of ``seq_length`` inputs, each from h0 = 0, run as one mini-batch. It
  is higher, because the first characters of every window are predicted without context.
"""

from __future__ import annotations

import math

import numpy as np

from ..util.checks import check_positive_int
from .rnn import forward, softmax, stateful_pass

__all__ = ["stateful_loss", "windowed_loss", "BITS_PER_NAT"]

BITS_PER_NAT = 1.0 / math.log(2.0)


def stateful_loss(params, data: np.ndarray, block: int = 4096) -> float:
    """Mean loss (nats per character) predicting ``data[1:]`` from ``data[:-1]``, h carried.

    ``data`` int array (N,), N >= 2; ``block`` steps share one output-layer product. Raises
    ``ValueError`` if shorter.
    """
    check_positive_int("block", block)
    data = np.asarray(data)
    if len(data) < 2:
        raise ValueError("validation text needs at least 2 characters")
    x, y = data[:-1], data[1:]
    total = 0.0
    for start, H in stateful_pass(params, x, block=block):
        n = len(H)
        P = softmax(H @ params["V"].T + params["c"])  # (n, K)
        total -= np.log(P[np.arange(n), y[start : start + n]]).sum()
    return float(total / len(x))


def windowed_loss(params, data: np.ndarray, seq_length: int = 25, block: int = 1024) -> float:
    """Mean loss (nats per character) over non-overlapping windows of ``seq_length``, h0 = 0.

    ``block`` windows at a time form one mini-batch (memory: block x seq_length x (m + K)
    floats). Raises ``ValueError`` if ``data`` holds fewer than seq_length + 1 characters.
    """
    seq_length = check_positive_int("seq_length", seq_length)
    block = check_positive_int("block", block)
    data = np.asarray(data)
    n_win = (len(data) - 1) // seq_length
    if n_win < 1:
        raise ValueError(f"validation text needs at least seq_length + 1 = {seq_length + 1} "
                         "characters")
    total = 0.0
    for first in range(0, n_win, block):
        starts = np.arange(first, min(first + block, n_win)) * seq_length
        idx = np.arange(seq_length)[:, None] + starts  # (T, B) positions of B windows
        loss, _ = forward(params, data[idx], data[idx + 1], np.zeros((len(starts), len(params["b"]))))
        total += float(loss) * len(starts)  # loss is the mean over the B windows
    return total / n_win
