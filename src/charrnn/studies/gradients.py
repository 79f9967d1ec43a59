"""How the gradients vanish (``charrnn gradients``): the norm of dL_t/dh_{t-1-k}, how much the loss
at one character depends on the state k characters before the state that predicts it.

For positions t of the test text (:func:`charrnn.studies.context.positions`), h_{t-1} is the state
that predicts ``text[t]`` (the loss L_t) and h_{t-1-k} the state k inputs earlier, both with the
state carried from the start of the test text. The model reads ``text[t-k : t]`` from h_{t-1-k}; the
gradient of L_t alone with respect to that state is taken by backprop through time, its Euclidean
norm averaged over the positions, for each k. Through a vanilla RNN the gradient is multiplied at
every step by W^T diag(1 - h^2) (Lecture 9; Bengio et al., 1994; Pascanu et al., 2013), so it
shrinks about geometrically when that product's norm is below 1; the gates of an LSTM or GRU let it
through. The singular values and the spectral radius of W (:func:`spectrum`) are the part of that
product the weights set.

The vanilla RNN's gradient is :func:`charrnn.model.rnn.backward` with ``dh0`` (the package's own
backprop through time; the earlier steps' dL/do_t set to zero, so only L_t counts); the gated models'
is PyTorch autograd, with respect to the whole state (h and, for the LSTM, the cell c).
"""

from __future__ import annotations

import numpy as np

from ..model.rnn import backward, forward, stateful_pass

__all__ = ["last_loss_grad", "vanilla_norms", "gated_last_loss_grad", "gated_norms", "spectrum"]


def last_loss_grad(params, h0: np.ndarray, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """dL/dh0 (B, m) of each sequence's last-step loss L = -log p_T[y_T] (eqs. 1-5 with one
    term), for states ``h0`` (B, m) and inputs, targets ``X``, ``Y`` int (T, B): the vanilla RNN's
    own backprop through time (:func:`charrnn.model.rnn.backward` with ``dh0``)."""
    _, cache = forward(params, X, Y, h0, "sum")
    T, B = cache.Y.shape
    P = cache.P
    P[:-1] = 0.0  # p_t = onehot(y_t) before the last step: their dL/do_t = p_t - onehot(y_t) = 0
    tt, bb = np.meshgrid(np.arange(T - 1), np.arange(B), indexing="ij")
    P[tt, bb, cache.Y[:-1]] = 1.0
    return backward(params, cache, dh0=True)["h0"] * B  # backward takes the batch's mean


def vanilla_norms(params, data: np.ndarray, pos: np.ndarray, test_start: int, ks) -> list[float]:
    """Mean over ``pos`` of ||dL_t/dh_{t-1-k}|| for each k of ``ks``: ``data`` int (N,), ``pos``
    positions of the predicted characters, each at least ``max(ks) + 1`` after ``test_start``
    (the states come from one :func:`charrnn.model.rnn.stateful_pass` from there)."""
    data, pos = np.asarray(data), np.asarray(pos)
    if (pos - max(ks) - 1 < test_start).any():
        raise ValueError("every position must lie more than max(ks) characters into the test text")
    H = np.concatenate([H for _, H in stateful_pass(params, data[test_start:])])
    out = []
    for k in ks:
        h0 = H[pos - 1 - k - test_start]  # (P, m): after reading text[t - 1 - k]
        X = np.stack([data[pos - k + j] for j in range(k)])  # (k, P): text[t-k : t]
        grad = last_loss_grad(params, h0, X, np.stack([data[pos - k + 1 + j] for j in range(k)]))
        out.append(float(np.linalg.norm(grad, axis=1).mean()))
    return out


def gated_last_loss_grad(model, state, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The gated model's (:class:`charrnn.studies.gated.CharGated`) gradient of each sequence's
    last-step loss with respect to its state ``state`` (as ``model.zero_state(B)``; the LSTM's h
    and c side by side): float64 (B, h) for the GRU, (B, 2h) for the LSTM. Autograd."""
    import torch  # noqa: PLC0415 (torch: only for gated models)

    parts = [s.detach().clone().requires_grad_(True)
             for s in (state if isinstance(state, tuple) else (state,))]
    logits, _, _ = model(torch.from_numpy(np.asarray(X, dtype=np.int64)),
                         tuple(parts) if len(parts) == 2 else parts[0])
    y = torch.from_numpy(np.asarray(Y[-1], dtype=np.int64))
    torch.nn.functional.cross_entropy(logits[-1], y, reduction="sum").backward()
    return np.concatenate([p.grad[0].double().numpy() for p in parts], axis=1)


def _states_at(model, data: np.ndarray, test_start: int, at: np.ndarray) -> dict:
    """The gated model's state after reading ``data[j]`` for each j of ``at`` (sorted), the state
    carried from ``test_start``: {j: state of one stream}."""
    import torch  # noqa: PLC0415

    state, done, out = model.zero_state(1), test_start, {}
    with torch.no_grad():
        for j in at:
            if j + 1 > done:
                x = torch.from_numpy(np.asarray(data[done : j + 1], dtype=np.int64)).view(-1, 1)
                _, _, state = model(x, state)
                done = j + 1
            out[int(j)] = state
    return out


def gated_norms(model, data: np.ndarray, pos: np.ndarray, test_start: int, ks) -> list[float]:
    """The same as :func:`vanilla_norms` for a gated model (autograd; the norm of the whole
    state's gradient)."""
    import torch  # noqa: PLC0415

    data, pos = np.asarray(data, dtype=np.int64), np.asarray(pos)
    if (pos - max(ks) - 1 < test_start).any():
        raise ValueError("every position must lie more than max(ks) characters into the test text")
    states = _states_at(model, data, test_start, np.unique([pos - 1 - k for k in ks]))
    out = []
    for k in ks:
        rows = [states[int(t - 1 - k)] for t in pos]
        if isinstance(rows[0], tuple):
            state = tuple(torch.cat([r[i] for r in rows], dim=1) for i in range(2))
        else:
            state = torch.cat(rows, dim=1)
        X = np.stack([data[pos - k + j] for j in range(k)])
        grad = gated_last_loss_grad(model, state, X, np.stack([data[pos - k + 1 + j]
                                                               for j in range(k)]))
        out.append(float(np.linalg.norm(grad, axis=1).mean()))
    return out


def spectrum(W: np.ndarray) -> dict:
    """``{"singular_values" (descending), "sigma_max", "spectral_radius"}`` of the recurrent
    weights W (m, m): the largest singular value bounds how much one step can grow a gradient
    (with |tanh'| <= 1), the spectral radius is the growth rate over many steps."""
    W = np.asarray(W, dtype=np.float64)
    s = np.linalg.svd(W, compute_uv=False)
    return {"singular_values": s.tolist(), "sigma_max": float(s[0]),
            "spectral_radius": float(np.abs(np.linalg.eigvals(W)).max())}
