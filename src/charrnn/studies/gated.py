"""The gated models of the baselines: a one-layer LSTM or GRU (PyTorch) on one-hot characters,
its sizes, its stateful and windowed losses and its states h_t (and c_t), for
:mod:`charrnn.studies.baselines` (training) and :mod:`charrnn.studies.units` (what the units learned).

The model, for a one-hot input x_t (K,) and hidden size h (PyTorch ``nn.LSTM`` / ``nn.GRU`` docs,
gate order i, f, g, o and r, z, n as in their ``weight_ih_l0`` (4h or 3h, K), ``weight_hh_l0``):

LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000)::

    i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)
    f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
    o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)

GRU (Cho et al. 2014)::

    r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

and for both the output layer ``nn.Linear(h, K)``: p_t = softmax(V h_t + c). Parameters:
LSTM 4h(K + h) + 8h, GRU 3h(K + h) + 6h (two bias vectors each), plus K h + K for the output
layer; the vanilla RNN has K m + m m + m + K m + K (106,832 with K = 80, m = 256).

Everything is float32 (on purpose: PyTorch's recurrent kernels); losses are summed in float64.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..util.checks import check_choice, check_positive_int

__all__ = ["KINDS", "VANILLA_M", "vanilla_params", "gated_params", "pick_hidden", "CharGated",
           "init_parameters", "stateful_loss", "windowed_loss", "hidden_states"]

KINDS = ("lstm", "gru")
GATES = {"lstm": 4, "gru": 3}  # gate blocks in weight_ih / weight_hh
VANILLA_M = 256  # the vanilla variants compared with (m256, best)
PARAM_TOLERANCE = 0.15  # allowed relative difference from the vanilla RNN's parameter count


# ---------------------------------------------------------------------- sizes
def vanilla_params(K: int, m: int = VANILLA_M) -> int:
    """Parameters of the vanilla RNN: K m (U) + m m (W) + m (b) + K m (V) + K (c)."""
    K, m = check_positive_int("K", K), check_positive_int("m", m)
    return K * m + m * m + m + K * m + K


def gated_params(kind: str, K: int, h: int) -> int:
    """Parameters of a one-layer ``nn.LSTM(K, h)`` or ``nn.GRU(K, h)`` plus ``nn.Linear(h, K)``:
    G h (K + h) + 2 G h + K h + K with G = 4 gates (LSTM) or 3 (GRU).

    Raises ``ValueError`` for an unknown kind or a non-positive K or h.
    """
    G = GATES[check_choice("kind", kind, KINDS)]
    K, h = check_positive_int("K", K), check_positive_int("h", h)
    return G * h * (K + h) + 2 * G * h + K * h + K


def pick_hidden(kind: str, K: int, m: int = VANILLA_M, tol: float = PARAM_TOLERANCE) -> int:
    """The hidden size h whose parameter count :func:`gated_params` is closest to the vanilla
    RNN's with m hidden units (:func:`vanilla_params`); the smaller h on a tie.

    With K = 80, m = 256 (106,832 parameters): LSTM h = 120 (106,640), GRU h = 142 (106,864).
    Raises ``ValueError`` for an unknown kind, or if no h is within ``tol`` (relative) of it.
    """
    target = vanilla_params(K, m)
    h = min(range(1, 2 * m + 1), key=lambda h: (abs(gated_params(kind, K, h) - target), h))
    if abs(gated_params(kind, K, h) - target) > tol * target:
        raise ValueError(f"no {kind} hidden size has within {tol:.0%} of the vanilla RNN's "
                         f"{target:,} parameters (K = {K}, m = {m})")
    return h


# ---------------------------------------------------------------------- the model
class CharGated(nn.Module):
    """``nn.LSTM(K, h)`` or ``nn.GRU(K, h)`` (one layer) on one-hot inputs, then
    ``nn.Linear(h, K)``; float32. See the module docstring for the equations."""

    def __init__(self, kind: str, K: int, h: int):
        super().__init__()
        self.kind = check_choice("kind", kind, KINDS)
        self.K, self.h = check_positive_int("K", K), check_positive_int("h", h)
        self.rnn = (nn.LSTM if kind == "lstm" else nn.GRU)(K, h)  # time-major (T, B, .)
        self.out = nn.Linear(h, K)

    def zero_state(self, B: int, device=None):
        """Zero state: ``(h0, c0)`` each (1, B, h) for the LSTM, ``h0`` (1, B, h) for the GRU."""
        z = torch.zeros(1, B, self.h, device=device)
        return (z, z.clone()) if self.kind == "lstm" else z

    def forward(self, x, state):
        """``x`` int64 (T, B) character indices, ``state`` as :meth:`zero_state`; returns the
        logits (T, B, K) float32, the states h_t (T, B, h) and the state after the last step."""
        onehot = nn.functional.one_hot(x.long(), self.K).to(torch.float32)  # (T, B, K)
        H, state = self.rnn(onehot, state)  # (T, B, h)
        return self.out(H), H, state


def init_parameters(model: CharGated, rng: np.random.Generator) -> None:
    """PyTorch's default initialisation (every parameter U(-1/sqrt(h), 1/sqrt(h)), which is
    also ``nn.Linear(h, K)``'s default bound), drawn from ``rng`` so that the seed alone fixes
    it, whatever torch's global generator did before."""
    bound = 1.0 / math.sqrt(model.h)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rng.uniform(-bound, bound, size=tuple(p.shape))
                                     .astype(np.float32)))


# ---------------------------------------------------------------------- evaluation
def _one_stream(model: CharGated, data, block: int, need: int, message: str):
    """``(data int64 (N,), device, data as a tensor, zero state of one stream)`` for a stateful
    pass in blocks; ``ValueError`` (``message``) when ``data`` has fewer than ``need`` items."""
    check_positive_int("block", block)
    data = np.asarray(data, dtype=np.int64)
    if len(data) < need:
        raise ValueError(message)
    dev = next(model.parameters()).device
    return data, dev, torch.from_numpy(data).to(dev), model.zero_state(1, dev)


@torch.no_grad()
def stateful_loss(model: CharGated, data: np.ndarray, block: int = 8192) -> float:
    """Mean loss (nats per character) predicting ``data[1:]`` from ``data[:-1]``: one pass from
    a zero state, the state carried from each character to the next (the quantity of
    :func:`charrnn.model.evaluate.stateful_loss`); bits per character = nats / ln 2.

    ``data`` int array (N,) of indices in 0..K-1, N >= 2; ``block`` steps run per call of the
    recurrent kernel (the state is carried across blocks). float32 model, the sum in float64.
    Raises ``ValueError`` if ``data`` is shorter than 2 characters.
    """
    data, dev, seq, state = _one_stream(model, data, block, 2, "validation text needs at least "
                                        "2 characters")
    total = torch.zeros((), dtype=torch.float64, device=dev)
    for start in range(0, len(data) - 1, block):
        x = seq[start : start + block].view(-1, 1)  # (n, 1)
        y = seq[start + 1 : start + 1 + len(x)]  # (n,)
        x = x[: len(y)]
        logits, _, state = model(x, state)  # (n, 1, K)
        logp = torch.log_softmax(logits[:, 0], dim=-1)  # (n, K)
        total -= logp.gather(1, y.view(-1, 1)).to(torch.float64).sum()
    return float(total) / (len(data) - 1)


@torch.no_grad()
def windowed_loss(model: CharGated, data: np.ndarray, seq_length: int = 50) -> float:
    """Mean loss (nats per character) over non-overlapping windows of ``seq_length`` inputs,
    each from a zero state (the quantity of :func:`charrnn.model.evaluate.windowed_loss`).

    Raises ``ValueError`` if ``data`` holds fewer than seq_length + 1 characters."""
    seq_length = check_positive_int("seq_length", seq_length)
    data = np.asarray(data, dtype=np.int64)
    n_win = (len(data) - 1) // seq_length
    if n_win < 1:
        raise ValueError(f"validation text needs at least seq_length + 1 = {seq_length + 1} "
                         "characters")
    dev = next(model.parameters()).device
    idx = np.arange(seq_length)[:, None] + np.arange(n_win) * seq_length  # (T, n_win)
    x, y = torch.from_numpy(data[idx]).to(dev), torch.from_numpy(data[idx + 1]).to(dev)
    total = 0.0
    for first in range(0, n_win, 1024):
        xs, ys = x[:, first : first + 1024], y[:, first : first + 1024]
        logits, _, _ = model(xs, model.zero_state(xs.shape[1], dev))
        total += float(nn.functional.cross_entropy(logits.reshape(-1, model.K), ys.reshape(-1),
                                                   reduction="sum"))
    return total / (n_win * seq_length)


@torch.no_grad()
def hidden_states(model: CharGated, data: np.ndarray, block: int = 8192) -> dict[str, np.ndarray]:
    """The states after each input character of ``data`` (int array (N,)), from a zero state,
    carried from each character to the next (as :func:`stateful_loss` runs the model).

    Returns ``{"h": h_t (N, h) float32}`` for the GRU and ``{"h": h_t, "c": c_t}`` (each (N, h)
    float32) for the LSTM: row t is the state after reading ``data[t]``. h_t comes from the
    recurrent kernel; c_t, which ``nn.LSTM`` returns only for the last step, is recomputed from
    the gates (equal to the kernel's to float32 rounding, ~1e-7). Raises ``ValueError`` for an
    empty ``data``.
    """
    data, dev, seq, state = _one_stream(model, data, block, 1, "need at least 1 character")
    out = {"h": np.empty((len(data), model.h), dtype=np.float32)}
    if model.kind == "lstm":
        out["c"] = np.empty_like(out["h"])
    for start in range(0, len(data), block):
        x = seq[start : start + block].view(-1, 1)  # (n, 1)
        before = state
        _, H, state = model(x, state)  # H (n, 1, h): h_t for every t
        out["h"][start : start + len(x)] = H[:, 0].cpu().numpy()
        if model.kind == "lstm":  # nn.LSTM returns c_t only for the last t: recompute the rest
            out["c"][start : start + len(x)] = _lstm_cells(model, x[:, 0], H[:, 0], before)
    return out


def _lstm_cells(model: CharGated, x, H, state) -> np.ndarray:
    """c_t (n, h) float32 of the LSTM steps that read ``x`` (n,) from ``state`` = (h0, c0) and
    produced ``H`` (n, h): the gates from the known h_{t-1} at once, then the elementwise
    recurrence c_t = f_t * c_{t-1} + i_t * g_t (module docstring) one step at a time."""
    r = model.rnn
    h0, c0 = state[0][0, 0], state[1][0, 0]  # (h,)
    H_prev = torch.cat([h0[None], H[:-1]])  # (n, h) h_{t-1}
    A = r.weight_ih_l0[:, x].T + r.bias_ih_l0 + H_prev @ r.weight_hh_l0.T + r.bias_hh_l0  # (n, 4h)
    i, f, g, _ = A.chunk(4, dim=1)  # gate order i, f, g, o
    i, f, g = torch.sigmoid(i).cpu().numpy(), torch.sigmoid(f).cpu().numpy(), torch.tanh(g).cpu().numpy()
    ig = i * g  # (n, h)
    C = np.empty_like(ig)
    c = c0.cpu().numpy()
    for t in range(len(C)):
        c = f[t] * c + ig[t]
        C[t] = c
    return C
