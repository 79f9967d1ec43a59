"""The vanilla RNN of DD2424 Assignment 4: forward pass, loss and backprop through time.

This is the readable NumPy reference that the report explains and the gradient check tests.
Equations (NEW handout numbering, HANDOUT.md "Model")::

    a_t = W h_{t-1} + U x_t + b        (1)
    h_t = tanh(a_t)                    (2)
    o_t = V h_t + c                    (3)
    p_t = softmax(o_t)                 (4)
    L   = (1/T) sum_t -log p_t[y_t]    (5)  reduction "mean" (NEW handout, nats per character)
    L   = sum_t -log p_t[y_t]               reduction "sum"  (OLD handout)

Symbols and shapes (float64): K vocabulary size, m hidden units, T = seq_length;
``b (m,)``, ``c (K,)``, ``U (m, K)``, ``W (m, m)``, ``V (K, m)``; inputs ``x (T,)`` and targets
``y (T,)`` are int indices (one-hot vectors are never built: U x_t is column ``U[:, x_t]``);
activations are time-major rows, ``H (T, m)``, ``P (T, K)``.

Speed-ups from the handout's bonus exercise B-N4 that keep the code readable: U x_t + b is one
gather before the time loop, the output layer and softmax run on all T steps at once after it, dV
and dW are single matrix products over all steps and dU is accumulated by index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "PARAM_NAMES",
    "param_shapes",
    "new_params",
    "param_views",
    "init_params",
    "ForwardCache",
    "forward",
    "backward",
    "loss_and_grads",
    "softmax",
]

PARAM_NAMES = ("b", "c", "U", "W", "V")
REDUCTIONS = ("mean", "sum")
INITS = ("scaled", "small")


def param_shapes(K: int, m: int) -> dict[str, tuple[int, ...]]:
    """Shapes of the parameters: b (m,), c (K,), U (m, K), W (m, m), V (K, m)."""
    return {"b": (m,), "c": (K,), "U": (m, K), "W": (m, m), "V": (K, m)}


def new_params(K: int, m: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Zeroed parameters as views into one flat float64 buffer.

    Returns ``(flat, params)``: ``flat`` of shape (m + K + mK + m^2 + Km,) and a dict of views
    (b, c, U, W, V in that order), so an optimizer can update all of them with a few ufuncs.
    """
    flat = np.zeros(sum(int(np.prod(s)) for s in param_shapes(K, m).values()), dtype=np.float64)
    return flat, param_views(flat, K, m)


def param_views(flat: np.ndarray, K: int, m: int) -> dict[str, np.ndarray]:
    """Views b (m,), c (K,), U (m, K), W (m, m), V (K, m) into the flat buffer ``flat``, in that
    order (also used for flat gradient buffers)."""
    shapes, params, start = param_shapes(K, m), {}, 0
    for name in PARAM_NAMES:
        size = int(np.prod(shapes[name]))
        params[name] = flat[start : start + size].reshape(shapes[name])
        start += size
    return params


def init_params(
    K: int, m: int, rng: np.random.Generator, init: str = "scaled", sigma: float = 0.01
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Initial parameters (HANDOUT req. 4), drawn from ``rng`` in the order U, W, V.

    ``init="scaled"`` (NEW handout): b, c = 0; U ~ N(0,1)/sqrt(2K), W ~ N(0,1)/sqrt(2m),
    V ~ N(0,1)/sqrt(m). ``init="small"`` (OLD handout): b, c = 0; U, W, V ~ N(0, sigma^2).
    Returns ``(flat, params)`` as :func:`new_params`. Raises ``ValueError`` for an unknown init.
    """
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; expected one of {INITS}")
    flat, p = new_params(K, m)
    if init == "scaled":
        scales = {"U": 1 / np.sqrt(2 * K), "W": 1 / np.sqrt(2 * m), "V": 1 / np.sqrt(m)}
    else:
        scales = {"U": sigma, "W": sigma, "V": sigma}
    for name in ("U", "W", "V"):
        p[name][...] = rng.standard_normal(p[name].shape) * scales[name]
    return flat, p


def softmax(o: np.ndarray) -> np.ndarray:
    """Row-wise softmax (eq. 4) of ``o`` of shape (..., K); max subtracted for stability."""
    z = o - o.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


@dataclass
class ForwardCache:
    """What :func:`backward` needs: x, y (T,) int; h0 (m,); H (T, m); P (T, K); reduction."""

    x: np.ndarray
    y: np.ndarray
    h0: np.ndarray
    H: np.ndarray
    P: np.ndarray
    reduction: str


def forward(params, x, y, h0, reduction: str = "mean") -> tuple[float, ForwardCache]:
    """Loss of one sequence (eqs. 1-5) and the cache for :func:`backward`.

    ``x`` and ``y`` are int arrays of shape (T,), ``h0`` float64 of shape (m,).
    Returns ``(loss, cache)``: the loss (a NumPy scalar of the parameters' dtype, float64 in
    training) in nats per character (``"mean"``) or nats per sequence (``"sum"``); ``cache.H[-1]`` is the last hidden state, the next update's hprev.
    Raises ``ValueError`` for an unknown reduction.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown loss reduction {reduction!r}; expected one of {REDUCTIONS}")
    b, c, U, W, V = (params[k] for k in PARAM_NAMES)
    x = np.asarray(x)
    y = np.asarray(y)
    T, m = len(x), len(b)
    A = U[:, x].T + b  # (T, m): U x_t + b for every step, before the loop
    H = np.empty((T, m), dtype=A.dtype)  # float64 (or the params' dtype, e.g. longdouble)
    h = h0
    for t in range(T):
        h = np.tanh(W @ h + A[t])  # eqs. 1-2
        H[t] = h
    P = softmax(H @ V.T + c)  # (T, K), eqs. 3-4 for all steps at once
    nll = -np.log(P[np.arange(T), y])
    loss = nll.mean() if reduction == "mean" else nll.sum()  # a NumPy scalar of the params' dtype
    return loss, ForwardCache(x, y, np.asarray(h0, dtype=A.dtype), H, P, reduction)


def backward(params, cache: ForwardCache) -> dict[str, np.ndarray]:
    """Gradients of the loss w.r.t. b, c, U, W, V by backprop through time (Lecture 9).

    dL/do_t = p_t - onehot(y_t) (divided by T for the mean loss); dL/dh_t = V^T dL/do_t +
    W^T dL/da_{t+1}; dL/da_t = dL/dh_t * (1 - h_t^2). Returns a dict with the parameters' keys and
    shapes, float64. h0 is treated as a constant.
    """
    W, V = params["W"], params["V"]
    x, y, H, P = cache.x, cache.y, cache.H, cache.P
    T, m = H.shape
    G = P.copy()  # (T, K): dL/do_t
    G[np.arange(T), y] -= 1.0
    if cache.reduction == "mean":
        G /= T
    dV = G.T @ H  # (K, m)
    dc = G.sum(axis=0)
    dH = G @ V  # (T, m): the output layer's share of dL/dh_t
    dA = np.empty((T, m))
    da_next = np.zeros(m)
    for t in range(T - 1, -1, -1):
        dh = dH[t] + W.T @ da_next  # the recurrent term comes from step t + 1
        da_next = dh * (1.0 - H[t] ** 2)
        dA[t] = da_next
    H_prev = np.vstack([cache.h0[None, :], H[:-1]])  # (T, m): h_{t-1}
    dW = dA.T @ H_prev  # (m, m): sum of outer products da_t h_{t-1}^T
    db = dA.sum(axis=0)
    dUT = np.zeros((P.shape[1], m))  # (K, m): row k collects the da_t with x_t = k
    np.add.at(dUT, x, dA)
    return {"b": db, "c": dc, "U": dUT.T.copy(), "W": dW, "V": dV}


def loss_and_grads(params, x, y, h0, reduction: str = "mean"):
    """``(loss, grads, h_last)`` for one sequence: :func:`forward` then :func:`backward`."""
    loss, cache = forward(params, x, y, h0, reduction)
    return loss, backward(params, cache), cache.H[-1].copy()
