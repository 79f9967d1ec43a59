"""The classic per-time-step char-RNN update: the benchmark's anchor, deliberately naive.

This is the shape of the well-known minimal char-RNN scripts: one-hot column vectors (K, 1),
a forward loop that computes U x_t as a matrix product with the one-hot vector and the softmax at
every step, a backward loop with per-step outer products for every gradient, and Adam written
per parameter. Same equations, init and loss (mean over the sequence) as charrnn, so its losses
agree with the library's; only the speed differs. Not used for training.
"""

import numpy as np

NAMES = ("b", "c", "U", "W", "V")


def classic_update(P, inputs, targets, hprev, state, eta=1e-3, beta1=0.9, beta2=0.999,
                   eps=1e-8):
    """One Adam update of the dict ``P`` of column-vector parameters; returns (loss, h_last)."""
    K, m = P["V"].shape
    T = len(inputs)
    xs, hs, ps = {}, {-1: np.copy(hprev).reshape(m, 1)}, {}
    loss = 0.0
    for t in range(T):
        xs[t] = np.zeros((K, 1))
        xs[t][inputs[t]] = 1.0
        hs[t] = np.tanh(P["U"] @ xs[t] + P["W"] @ hs[t - 1] + P["b"])
        o = P["V"] @ hs[t] + P["c"]
        ps[t] = np.exp(o - o.max()) / np.sum(np.exp(o - o.max()))
        loss += -np.log(ps[t][targets[t], 0])
    grads = {k: np.zeros_like(v) for k, v in P.items()}
    dhnext = np.zeros((m, 1))
    for t in reversed(range(T)):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1.0
        dy /= T
        grads["V"] += dy @ hs[t].T
        grads["c"] += dy
        dh = P["V"].T @ dy + dhnext
        dhraw = (1.0 - hs[t] * hs[t]) * dh
        grads["b"] += dhraw
        grads["U"] += dhraw @ xs[t].T
        grads["W"] += dhraw @ hs[t - 1].T
        dhnext = P["W"].T @ dhraw
    state["t"] += 1
    t_ = state["t"]
    for k in NAMES:
        g = grads[k]
        state["m"][k] = beta1 * state["m"][k] + (1 - beta1) * g
        state["v"][k] = beta2 * state["v"][k] + (1 - beta2) * g * g
        mhat = state["m"][k] / (1 - beta1**t_)
        vhat = state["v"][k] / (1 - beta2**t_)
        P[k] -= eta * mhat / (np.sqrt(vhat) + eps)
    return loss / T, hs[T - 1].ravel(), grads


def from_charrnn(params):
    """Column-vector copies of charrnn's parameters (b, c become (m, 1), (K, 1))."""
    P = {k: np.array(params[k], dtype=np.float64) for k in NAMES}
    P["b"] = P["b"].reshape(-1, 1)
    P["c"] = P["c"].reshape(-1, 1)
    return P


def new_state(P):
    return {"t": 0, "m": {k: np.zeros_like(v) for k, v in P.items()},
            "v": {k: np.zeros_like(v) for k, v in P.items()}}


def run(params, book, n, seq_length=25):
    """``n`` sequential updates from position 0 (the handout's loop); returns the losses."""
    P = from_charrnn(params)
    state = new_state(P)
    m = P["W"].shape[0]
    hprev = np.zeros(m)
    e = 0
    losses = np.empty(n)
    for i in range(n):
        if e > len(book) - seq_length - 1:
            e, hprev = 0, np.zeros(m)
        loss, hprev, _ = classic_update(P, book[e : e + seq_length],
                                        book[e + 1 : e + seq_length + 1], hprev, state)
        losses[i] = loss
        e += seq_length
    return losses, P
