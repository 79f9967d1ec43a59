"""The vanilla RNN of DD2424 Assignment 4: one step, forward pass, loss and backprop through time.

This is the readable NumPy reference that the report explains, the gradient check tests and every
other part of the package calls (training, sampling, priming, validation). Equations (NEW handout
numbering, HANDOUT.md "Model")::

    a_t = W h_{t-1} + U x_t + b        (1)
    h_t = tanh(a_t)                    (2)
    o_t = V h_t + c                    (3)
    p_t = softmax(o_t)                 (4)
    L   = (1/T) sum_t -log p_t[y_t]    (5)  reduction "mean" (NEW handout, nats per character)
    L   = sum_t -log p_t[y_t]               reduction "sum"  (OLD handout)

Symbols and shapes (float64 unless the parameters have another float dtype): K vocabulary size,
m hidden units, T = seq_length, B sequences per batch; ``b (m,)``, ``c (K,)``, ``U (m, K)``,
``W (m, m)``, ``V (K, m)``. Inputs and targets are int indices, time-major: ``X, Y (T, B)`` for a
batch (cs231n style) or ``x, y (T,)`` for one sequence, which is a batch of one. One-hot vectors
are never built: U x_t is column ``U[:, x_t]``. Activations: ``H (T, B, m)``, ``P (T, B, K)``
(``(T, m)``, ``(T, K)`` for one sequence). The loss of a batch is the mean over its B sequences of
each sequence's loss (5), so its gradient is the mean of the B single-sequence gradients.

Speed-ups from the handout's bonus exercise B-N4 that keep the code readable: U x_t + b is one
gather before the time loop, the output layer and softmax run on all steps at once after it, dV,
dW and dU are single matrix products over all steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "PARAM_NAMES",
    "REDUCTIONS",
    "INITS",
    "param_shapes",
    "new_params",
    "param_views",
    "init_params",
    "input_term",
    "step",
    "stateful_pass",
    "softmax",
    "ForwardCache",
    "forward",
    "backward",
    "loss_and_grads",
]

PARAM_NAMES = ("b", "c", "U", "W", "V")
REDUCTIONS = ("mean", "sum")
INITS = ("scaled", "small")


def param_shapes(K: int, m: int) -> dict[str, tuple[int, ...]]:
    """Shapes of the parameters: b (m,), c (K,), U (m, K), W (m, m), V (K, m)."""
    return {"b": (m,), "c": (K,), "U": (m, K), "W": (m, m), "V": (K, m)}


def new_params(K: int, m: int, dtype=np.float64) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Zeroed parameters as views into one flat buffer of ``dtype`` (float64 by default).

    Returns ``(flat, params)``: ``flat`` of shape (m + K + mK + m^2 + Km,) and a dict of views
    (b, c, U, W, V in that order), so an optimizer can update all of them with a few ufuncs.
    """
    n = sum(int(np.prod(s)) for s in param_shapes(K, m).values())
    flat = np.zeros(n, dtype=dtype)
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


def input_term(params, x) -> np.ndarray:
    """U x_t + b of eq. 1 for inputs ``x`` (int indices of any shape S): shape S + (m,).

    A gather of U's columns, so one-hot vectors are never built.
    """
    return params["U"].T[x] + params["b"]


def step(params, h: np.ndarray, a: np.ndarray) -> np.ndarray:
    """One step of the recurrence, eqs. 1-2: h_t = tanh(W h_{t-1} + a_t), a_t = U x_t + b.

    ``h`` is one hidden state (m,) or a batch of row states (B, m); ``a`` has the same shape
    (from :func:`input_term`). Returns h_t, shaped as ``h``. The only place in the package (outside
    the compiled copy in :mod:`charrnn.training.engine`) that computes the recurrence.
    """
    W = params["W"]
    return np.tanh((W @ h if h.ndim == 1 else h @ W.T) + a)


def stateful_pass(params, indices, h0=None, block: int = 4096):
    """The model run over a text of any length, h carried from each character to the next
    (eqs. 1-2 via :func:`step`, as when it generates text): yields ``(start, H)`` per block of at
    most ``block`` characters, ``H (n, m)`` float64 the states after reading ``indices[start :
    start + n]`` (``H[t]`` = h_{start+t}). ``indices`` int (N,), ``h0`` (m,) the state before the
    first character (default zeros). Memory: one block of states and of U x_t + b. The one
    stateful pass of the package: validation, the hidden units and priming use it."""
    indices = np.asarray(indices)
    h = np.zeros(len(params["b"])) if h0 is None else np.array(h0, dtype=np.float64)
    # W in float64 once: with a float32 W, W @ h would cast it at every step (the product is the
    # same float64 one, bit for bit, about 3 times slower)
    recur = {**params, "W": np.asarray(params["W"], dtype=np.float64)}
    for start in range(0, len(indices), block):
        A = input_term(params, indices[start : start + block])  # (n, m): U x_t + b
        H = np.empty(A.shape)
        for t in range(len(A)):
            h = step(recur, h, A[t])
            H[t] = h
        yield start, H


def softmax(o: np.ndarray) -> np.ndarray:
    """Row-wise softmax (eq. 4) of ``o`` of shape (..., K); max subtracted for stability."""
    z = o - o.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


@dataclass
class ForwardCache:
    """What :func:`backward` needs: X, Y (T, B) int; H0 (B, m); H (T, B, m); P (T, B, K);
    reduction; and whether the caller passed one sequence (then results drop the B axis)."""

    X: np.ndarray
    Y: np.ndarray
    H0: np.ndarray
    H: np.ndarray
    P: np.ndarray
    reduction: str
    single: bool


def forward(params, X, Y, h0, reduction: str = "mean"):
    """Loss (eqs. 1-5) of one sequence or a batch, and the cache for :func:`backward`.

    ``X``, ``Y`` int arrays of shape (T, B), ``h0`` of shape (B, m); or one sequence: ``x``, ``y``
    of shape (T,) and ``h0`` (m,). Returns ``(loss, cache)``: the loss, a NumPy scalar of the
    parameters' dtype, in nats per character (``"mean"``) or nats per sequence (``"sum"``),
    averaged over the B sequences. ``cache.H[-1]`` (B, m) holds the last hidden states, the next
    update's hprev. Raises ``ValueError`` for an unknown reduction.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown loss reduction {reduction!r}; expected one of {REDUCTIONS}")
    X, Y = np.asarray(X), np.asarray(Y)
    single = X.ndim == 1
    if single:  # one sequence is a batch of one
        X, Y, h0 = X[:, None], Y[:, None], np.asarray(h0)[None, :]
    T, B = X.shape
    A = input_term(params, X)  # (T, B, m): U x_t + b for every step, before the loop
    H = np.empty(A.shape, dtype=A.dtype)  # (T, B, m)
    h = np.asarray(h0, dtype=A.dtype)
    for t in range(T):
        h = step(params, h, A[t])  # eqs. 1-2
        H[t] = h
    P = softmax(H @ params["V"].T + params["c"])  # (T, B, K), eqs. 3-4 for all steps at once
    tt, bb = np.meshgrid(np.arange(T), np.arange(B), indexing="ij")
    nll = -np.log(P[tt, bb, Y])  # (T, B): -log p_t[y_t] of every step of every sequence
    per_seq = nll.mean(axis=0) if reduction == "mean" else nll.sum(axis=0)  # (B,)
    loss = per_seq.mean()  # a NumPy scalar of the params' dtype
    return loss, ForwardCache(X, Y, np.asarray(h0, dtype=A.dtype), H, P, reduction, single)


def backward(params, cache: ForwardCache, dh0: bool = False) -> dict[str, np.ndarray]:
    """Gradients of the loss w.r.t. b, c, U, W, V by backprop through time (Lecture 9).

    dL/do_t = p_t - onehot(y_t) (divided by T for the mean loss, and by B: the batch's mean);
    dL/dh_t = V^T dL/do_t + W^T dL/da_{t+1}; dL/da_t = dL/dh_t * (1 - h_t^2). Returns a dict with
    the parameters' keys and shapes, in the parameters' dtype. h0 is treated as a constant; with
    ``dh0`` the dict also holds ``"h0"``, dL/dh_0 = W^T dL/da_1, shaped as the ``h0`` given to
    :func:`forward` ((B, m), or (m,) for one sequence): how the loss depends on the state before
    the sequence (the vanishing-gradient study). Overwrites ``cache.P``.
    """
    W, V = params["W"], params["V"]
    X, Y, H, H0 = cache.X, cache.Y, cache.H, cache.H0
    T, B, m = H.shape
    K = V.shape[0]
    tt, bb = np.meshgrid(np.arange(T), np.arange(B), indexing="ij")
    G = cache.P  # reused: dL/do_t for every sequence, (T, B, K)
    G[tt, bb, Y] -= 1.0
    G /= B * (T if cache.reduction == "mean" else 1)
    Hf, Gf = H.reshape(T * B, m), G.reshape(T * B, K)
    dV = Gf.T @ Hf  # (K, m)
    dc = Gf.sum(axis=0)
    dH = G @ V  # (T, B, m): the output layer's share of dL/dh_t
    dA = np.empty_like(H)
    da = np.zeros((B, m), dtype=H.dtype)
    for t in range(T - 1, -1, -1):
        da = (dH[t] + da @ W) * (1.0 - H[t] ** 2)  # da @ W = (W^T da) for each sequence
        dA[t] = da
    dAf = dA.reshape(T * B, m)
    # dW = sum_t da_t h_{t-1}^T over all sequences: h_{t-1} is H0 at t = 0, else H[t - 1]
    dW = dAf[B:].T @ Hf[:-B] + dA[0].T @ H0
    db = dAf.sum(axis=0)
    # dU: column x of U collects the da_t of the steps whose input is x (one product with the
    # (K, T B) indicator matrix is faster here than np.add.at over T B rows)
    onehot = np.zeros((K, T * B), dtype=H.dtype)
    onehot[X.reshape(-1), np.arange(T * B)] = 1.0
    dU = (onehot @ dAf).T
    grads = {"b": db, "c": dc, "U": np.ascontiguousarray(dU), "W": dW, "V": dV}
    if dh0:
        grads["h0"] = (da @ W)[0] if cache.single else da @ W  # da is dL/da_1 here
    return grads


def loss_and_grads(params, X, Y, h0, reduction: str = "mean"):
    """``(loss, grads, h_last)``: :func:`forward` then :func:`backward`; ``h_last`` (B, m), or
    (m,) for one sequence, is a fresh copy of the last hidden states."""
    loss, cache = forward(params, X, Y, h0, reduction)
    h_last = cache.H[-1, 0].copy() if cache.single else cache.H[-1].copy()
    return loss, backward(params, cache), h_last
