"""Mini-batches (bonus B-N2): B sequences per update as matrix-matrix products in NumPy.

The same equations as :mod:`charrnn.rnn` for B sequences at once, time-major:
``X, Y (T, B)`` int indices, ``H0 (B, m)``, activations ``H (T, B, m)``, probabilities
``P (T, B, K)``. The loss is the mean over the B sequences of each sequence's loss (mean or sum
over its T steps), so the gradient is the mean of the B single-sequence gradients (a test checks
this to 1e-12).
"""

from __future__ import annotations

import numpy as np

from .rnn import PARAM_NAMES, softmax

__all__ = ["loss_and_grads_batch"]


def loss_and_grads_batch(params, X, Y, H0, reduction: str = "mean"):
    """Loss, gradients and last hidden states of B sequences.

    ``X``, ``Y`` int arrays of shape (T, B); ``H0`` float64 (B, m). Returns ``(loss, grads,
    H_last)``: loss a float (mean over sequences), grads a dict shaped as the parameters,
    ``H_last`` (B, m). Raises ``ValueError`` for an unknown reduction.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"unknown loss reduction {reduction!r}")
    b, c, U, W, V = (params[k] for k in PARAM_NAMES)
    T, B = X.shape
    m, K = len(b), len(c)
    A = U.T[X] + b  # (T, B, m): U x_t + b by row gather
    H = np.empty((T, B, m))
    h = H0
    for t in range(T):
        h = np.tanh(h @ W.T + A[t])  # (B, m), eqs. 1-2
        H[t] = h
    P = softmax(H @ V.T + c)  # (T, B, K), eqs. 3-4
    tt, bb = np.meshgrid(np.arange(T), np.arange(B), indexing="ij")
    nll = -np.log(P[tt, bb, Y])  # (T, B)
    per_seq = nll.mean(axis=0) if reduction == "mean" else nll.sum(axis=0)
    loss = float(per_seq.mean())
    G = P  # reuse: dL/do_t for every sequence, (T, B, K)
    G[tt, bb, Y] -= 1.0
    G /= B * (T if reduction == "mean" else 1)
    Hf, Gf = H.reshape(T * B, m), G.reshape(T * B, K)
    dV = Gf.T @ Hf
    dc = Gf.sum(axis=0)
    dH = G @ V  # (T, B, m)
    dA = np.empty((T, B, m))
    da = np.zeros((B, m))
    for t in range(T - 1, -1, -1):
        da = (dH[t] + da @ W) * (1.0 - H[t] ** 2)  # da @ W = (W^T da) for each sequence
        dA[t] = da
    dAf = dA.reshape(T * B, m)
    # dW = sum_t da_t h_{t-1}^T over all sequences: h_{t-1} is H0 at t = 0, else H[t - 1]
    dW = dAf[B:].T @ Hf[:-B] + dA[0].T @ H0
    db = dAf.sum(axis=0)
    # dU: column x of U collects the da_t of the steps whose input is x (one product with the
    # (K, T B) indicator matrix is faster here than np.add.at over T B rows)
    onehot = np.zeros((K, T * B))
    onehot[X.reshape(-1), np.arange(T * B)] = 1.0
    dU = (onehot @ dAf).T
    return loss, {"b": db, "c": dc, "U": np.ascontiguousarray(dU), "W": dW, "V": dV}, H[-1].copy()
