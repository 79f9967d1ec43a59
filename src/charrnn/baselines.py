"""Gated baselines: a one-layer LSTM and GRU (PyTorch) trained on the vanilla variants' split.

How good is the vanilla RNN's 1.29 nats/char? These are the usual answers to "what would a gated
recurrent net of the same size get", trained and evaluated exactly like the vanilla m = 256
variants of :mod:`charrnn.experiments`. This is the one training module that imports torch
(``charrnn train`` never does).

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

Training, as the vanilla ``batch_size=32``, ``order="sequential"`` runs: the last 1 of 20 chunks
of the text is held out (:func:`charrnn.train.split_text`); B = 32 streams each read their own
contiguous segment of the training text (:class:`charrnn.orders.Reader`), ``seq_length`` = 50
characters per update, carrying their (h, c) state from one update to the next (truncated
backprop through time), from a zero state at the start of a segment. The loss is the mean of
-log p over the B x seq_length predicted characters; Adam (beta1 0.9, beta2 0.999, eps 1e-8),
gradient clipped to global norm 5 (the vanilla runs clip element-wise at 5), the learning rate
following the ``best`` variant's schedule (linear warm-up over min(200, n/10) updates, then
cosine to 0). The number of updates is ``chars // (B * seq_length)``.

Validation: :func:`stateful_loss`, the same quantity as :func:`charrnn.evaluate.stateful_loss`.
Everything is float32 (on purpose: PyTorch's recurrent kernels); losses are summed in float64.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .checks import check_choice, check_nonneg_int, check_positive_float, check_positive_int
from .config import TrainConfig, learning_rates
from .data import Vocabulary
from .evaluate import BITS_PER_NAT
from .files import atomic_open, write_json, write_text
from .orders import Reader
from .train import split_text

__all__ = ["KINDS", "DEFAULT_ETA", "vanilla_params", "gated_params", "pick_hidden",
           "CharGated", "stateful_loss", "hidden_states", "BaselineResult", "BaselineDiverged",
           "check_baseline_args", "baseline_config", "train_baseline", "prepare_baseline_dir",
           "save_baseline", "load_baseline"]

KINDS = ("lstm", "gru")
GATES = {"lstm": 4, "gru": 3}  # gate blocks in weight_ih / weight_hh
VANILLA_M = 256  # the vanilla variants compared with (m256, best)
PARAM_TOLERANCE = 0.15  # allowed relative difference from the vanilla RNN's parameter count

#: Peak Adam learning rates of the cosine schedule, from a sweep on the book (seed 1, 1,600,000
#: training characters = 1,000 updates, best stateful validation loss in nats/char):
#: LSTM h 120: 2.193 (2e-3), 2.002 (4e-3), 1.783 (8e-3), 1.603 (1.6e-2), 1.484 (3.2e-2),
#: 1.431 (6.4e-2), 1.425 (1.28e-1); GRU h 142: 1.971 (2e-3), 1.703 (4e-3), 1.510 (8e-3),
#: 1.434 (1.6e-2), 1.541 (3.2e-2). The LSTM's curve is flat above 6.4e-2, and longer runs favour
#: smaller rates, so 6.4e-2 rather than 1.28e-1. (Both are far above the vanilla RNN's 2e-3.)
DEFAULT_ETA = {"lstm": 6.4e-2, "gru": 1.6e-2}


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


def _carry(state, keep):
    """``state`` detached from the graph (truncated backprop), each stream multiplied by
    ``keep`` (1, B, 1): 0 where a stream starts its segment again from a zero state, else 1."""
    if isinstance(state, tuple):
        return tuple(s.detach() * keep for s in state)
    return state.detach() * keep


# ---------------------------------------------------------------------- evaluation
@torch.no_grad()
def stateful_loss(model: CharGated, data: np.ndarray, block: int = 8192) -> float:
    """Mean loss (nats per character) predicting ``data[1:]`` from ``data[:-1]``: one pass from
    a zero state, the state carried from each character to the next (the quantity of
    :func:`charrnn.evaluate.stateful_loss`); bits per character = nats / ln 2.

    ``data`` int array (N,) of indices in 0..K-1, N >= 2; ``block`` steps run per call of the
    recurrent kernel (the state is carried across blocks). float32 model, the sum in float64.
    Raises ``ValueError`` if ``data`` is shorter than 2 characters.
    """
    check_positive_int("block", block)
    data = np.asarray(data, dtype=np.int64)
    if len(data) < 2:
        raise ValueError("validation text needs at least 2 characters")
    dev = next(model.parameters()).device
    seq = torch.from_numpy(data).to(dev)
    state = model.zero_state(1, dev)
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
    each from a zero state (the quantity of :func:`charrnn.evaluate.windowed_loss`).

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
    check_positive_int("block", block)
    data = np.asarray(data, dtype=np.int64)
    if len(data) < 1:
        raise ValueError("need at least 1 character")
    dev = next(model.parameters()).device
    seq = torch.from_numpy(data).to(dev)
    state = model.zero_state(1, dev)
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


# ---------------------------------------------------------------------- training
class BaselineDiverged(RuntimeError):
    """The training loss became non-finite (at update ``update``)."""

    def __init__(self, update: int):
        super().__init__(f"the training loss became non-finite at update {update:,}")
        self.update = update


@dataclass
class BaselineResult:
    """A trained baseline: the model (on its device), its vocabulary, ``config`` (what
    config.json stores), ``metrics`` (metrics.json) and ``validation`` (rows of validation.csv:
    update, chars, train_time_s [s], val_loss [nats/char])."""

    model: CharGated
    vocab: Vocabulary
    config: dict
    metrics: dict
    validation: list[dict] = field(default_factory=list)


def check_baseline_args(kind: str, n_chars: int, chars: int, seed: int = 1, eta: float | None = None,
                        hidden: int | None = None, batch_size: int = 32, seq_length: int = 50,
                        grad_clip: float = 5.0, n_evals: int = 10) -> dict:
    """Check the settings of a baseline on a text of ``n_chars`` characters, before any work;
    return them completed (``eta`` and ``hidden`` filled in, ``n_updates``, ``n_train``).

    Raises ``ValueError`` naming the first bad one: an unknown kind, a non-positive size,
    ``chars`` below one update (batch_size x seq_length), a training text too short for
    batch_size segments of seq_length + 1 characters, or a held-out chunk (the last 1/20 of
    the text) shorter than seq_length + 1 characters.
    """
    kind = check_choice("kind", kind, KINDS)
    chars, seed = check_positive_int("chars", chars), check_nonneg_int("seed", seed)
    B, s = check_positive_int("batch_size", batch_size), check_positive_int("seq_length", seq_length)
    check_positive_int("n_evals", n_evals)
    eta = check_positive_float("eta", DEFAULT_ETA[kind] if eta is None else eta)
    grad_clip = check_positive_float("grad_clip", grad_clip)
    if hidden is not None:
        check_positive_int("hidden", hidden)
    n_updates = chars // (B * s)
    if n_updates < 1:
        raise ValueError(f"chars must be at least batch_size x seq_length = {B * s} (one update), "
                         f"got {chars}")
    split = TrainConfig(holdout=1, n_chunks=20, seq_length=s, batch_size=B)
    n_train, _ = split_text(n_chars, split)
    if n_chars - n_train < s + 1:
        raise ValueError(f"the held-out chunk (the last 1/20 of the text) has {n_chars - n_train} "
                         f"characters; it needs at least seq_length + 1 = {s + 1} (the text has "
                         f"{n_chars}; it needs about {20 * (s + 1)})")
    if n_train // B < s + 1:
        raise ValueError(f"the training text ({n_train} characters) is too short for {B} streams "
                         f"of at least seq_length + 1 = {s + 1} characters each")
    return {"kind": kind, "chars": chars, "seed": seed, "eta": eta, "hidden": hidden,
            "batch_size": B, "seq_length": s, "grad_clip": grad_clip, "n_evals": n_evals,
            "n_updates": n_updates, "n_train": n_train}


def baseline_config(text: str, kind: str, chars: int, seed: int = 1, eta: float | None = None,
                    hidden: int | None = None, batch_size: int = 32, seq_length: int = 50,
                    grad_clip: float = 5.0, n_evals: int = 10, device: str | None = None,
                    data_path=None) -> dict:
    """What ``config.json`` of this run will hold (kind, hidden, n_params, seed, chars,
    n_updates, seq_length, batch_size, eta, grad_clip, data, data_md5, vocab, ...), computed
    without training. Raises ``ValueError`` as :func:`check_baseline_args`."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    a = check_baseline_args(kind, len(text), chars, seed, eta, hidden, batch_size, seq_length,
                            grad_clip, n_evals)
    vocab = Vocabulary.from_text(text)
    K, n = vocab.K, a["n_updates"]
    h = a["hidden"] or pick_hidden(kind, K)
    return {"kind": a["kind"], "hidden": h, "n_params": gated_params(a["kind"], K, h),
            "vanilla_m": VANILLA_M, "vanilla_n_params": vanilla_params(K), "K": K,
            "seed": a["seed"], "chars": n * a["batch_size"] * a["seq_length"],
            "n_updates": n, "seq_length": a["seq_length"], "batch_size": a["batch_size"],
            "order": "sequential", "holdout": 1, "n_chunks": 20, "n_train_chars": a["n_train"],
            "optimizer": "adam", "eta": a["eta"], "lr_schedule": "cosine",
            "warmup": min(200, n // 10), "grad_clip": a["grad_clip"], "clip": "global norm",
            "n_evals": a["n_evals"],
            "device": device or ("cuda" if torch.cuda.is_available() else "cpu"),
            "data": os.fspath(data_path) if data_path is not None else None,
            "data_md5": hashlib.md5(text.encode("utf-8")).hexdigest(),
            "vocab": "".join(vocab.chars)}


def train_baseline(text: str, kind: str, chars: int, seed: int = 1, eta: float | None = None,
                   hidden: int | None = None, batch_size: int = 32, seq_length: int = 50,
                   grad_clip: float = 5.0, n_evals: int = 10, device: str | None = None,
                   threads: int | None = 1, data_path=None, progress: bool = False) -> BaselineResult:
    """Train an LSTM or GRU (``kind``) on ``text`` (str) for ``chars`` training characters (see
    the module docstring); return a :class:`BaselineResult`.

    ``hidden`` defaults to :func:`pick_hidden` (m = 256), ``eta`` to ``DEFAULT_ETA[kind]``; the
    stateful validation loss (nats/char) is measured every ``n_updates // n_evals`` updates and
    after the last. ``device``: "cuda" when available, else "cpu"; ``threads`` torch CPU threads
    while training (None: leave as is). On the CPU the seed fixes the result (initialisation from
    ``numpy.random.default_rng([seed, 3])``, ``torch.manual_seed(seed)``). Times in seconds:
    ``wall_time_s`` is training only (like the vanilla runs), evaluation is ``eval_time_s``.
    Raises ``ValueError`` as :func:`check_baseline_args`, before any work;
    :class:`BaselineDiverged` on a non-finite loss.
    """
    config = baseline_config(text, kind, chars, seed, eta, hidden, batch_size, seq_length,
                             grad_clip, n_evals, device, data_path)
    vocab = Vocabulary(tuple(config["vocab"]))
    K, h, device = vocab.K, config["hidden"], config["device"]
    book = np.asarray(vocab.encode(text), dtype=np.int64)  # (N,)
    n_train, n = config["n_train_chars"], config["n_updates"]
    B, s, seed, eta = config["batch_size"], config["seq_length"], config["seed"], config["eta"]
    val = book[n_train:]
    reader = Reader(n_train, s, B, "sequential")
    schedule = TrainConfig.from_preset("adam", eta=eta, lr_schedule="cosine",
                                       warmup=config["warmup"], n_updates=n).validate()
    etas = learning_rates(schedule, 1, n)  # (n,) the rate of updates 1..n
    eval_every = max(1, n // config["n_evals"])

    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(check_positive_int("threads", threads))
    try:
        torch.manual_seed(seed)
        model = CharGated(kind, K, h)
        init_parameters(model, np.random.default_rng([seed, 3]))
        model.to(device)
        opt = torch.optim.Adam(model.parameters(), lr=eta, betas=(0.9, 0.999), eps=1e-8)
        dev_book = torch.from_numpy(book).to(device)
        offsets = torch.arange(s + 1, device=device)
        state = model.zero_state(B, device)
        starts, resets, _ = reader.next(n)  # (n, B) each stream's window start, zero-state flag
        dev_starts = torch.from_numpy(starts).to(device)
        keeps = torch.from_numpy(~resets).to(device, torch.float32)[:, None, :, None]  # (n, 1, B, 1)
        validation, train_time, eval_time = [], 0.0, 0.0
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=n, unit="upd", smoothing=0.1)
        for u in range(n):
            t0 = time.perf_counter()
            state = _carry(state, keeps[u])
            win = dev_book[dev_starts[u][:, None] + offsets]  # (B, s + 1)
            x, y = win[:, :-1].T, win[:, 1:].T  # (s, B) inputs and targets
            logits, _, state = model(x, state)  # (s, B, K)
            loss = nn.functional.cross_entropy(logits.reshape(-1, K), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), config["grad_clip"])
            for g in opt.param_groups:
                g["lr"] = float(etas[u])
            opt.step()
            if (u + 1) % 100 == 0 or u + 1 == n:  # checking every update would sync the GPU
                if not math.isfinite(loss.item()):
                    raise BaselineDiverged(u + 1)
            train_time += time.perf_counter() - t0
            if bar is not None:
                bar.update(1)
            if (u + 1) % eval_every == 0 or u + 1 == n:
                t0 = time.perf_counter()
                vl = stateful_loss(model, val)
                eval_time += time.perf_counter() - t0
                validation.append({"update": u + 1, "chars": (u + 1) * B * s,
                                   "train_time_s": train_time, "val_loss": vl})
                if bar is not None:
                    bar.set_postfix(val_loss=f"{vl:.4f}", refresh=False)
        if bar is not None:
            bar.close()
        t0 = time.perf_counter()
        windowed = windowed_loss(model, val, s)
        eval_time += time.perf_counter() - t0
    finally:
        torch.set_num_threads(old_threads)
    best = min(validation, key=lambda r: r["val_loss"])
    metrics = {"kind": kind, "hidden": h, "n_params": config["n_params"], "K": K,
               "n_chars": len(book), "n_train_chars": n_train, "n_val_chars": len(val),
               "n_updates": n, "chars": n * B * s,
               "best_val_loss": best["val_loss"], "best_val_update": best["update"],
               "best_val_bits_per_char": best["val_loss"] * BITS_PER_NAT,
               "final_val_loss": validation[-1]["val_loss"],
               "final_val_bits_per_char": validation[-1]["val_loss"] * BITS_PER_NAT,
               "final_val_loss_windowed": windowed,
               "wall_time_s": train_time, "eval_time_s": eval_time,
               "chars_per_s": n * B * s / train_time if train_time > 0 else float("inf"),
               "updates_per_s": n / train_time if train_time > 0 else float("inf"),
               "device": device, "torch_threads": threads, "seed": seed, "eta": eta}
    return BaselineResult(model, vocab, config, metrics, validation)


# ---------------------------------------------------------------------- run folders
RUN_FILES = ("config.json", "validation.csv", "model.pt", "metrics.json")


def prepare_baseline_dir(out_dir, config: dict, force: bool = False) -> Path:
    """Make ``out_dir`` ready for a new run of ``config`` (from :func:`baseline_config`), before
    training: remove the results of an older run there and write ``config.json``.

    Raises ``ValueError`` if ``out_dir`` is a file, or holds a finished run (``metrics.json``)
    whose ``config.json`` differs from ``config``, unless ``force``.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output folder {out} exists and is not a folder")
    old = out / "config.json"
    if old.is_file() and (out / "metrics.json").is_file() and not force:
        try:
            previous = json.loads(old.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = None
        if previous != json.loads(json.dumps(config)):
            raise ValueError(f"output folder {out} holds a different run; choose another folder, "
                             "or overwrite it with --force")
    out.mkdir(parents=True, exist_ok=True)
    for tmp in out.glob(".*.tmp"):  # left by a killed writer (files.atomic_open)
        tmp.unlink(missing_ok=True)
    for name in ("metrics.json", "model.pt", "validation.csv"):
        (out / name).unlink(missing_ok=True)  # no result of an older run survives
    write_json(out / "config.json", config)
    return out


def save_baseline(result: BaselineResult, out_dir) -> Path:
    """Write ``out_dir/``: ``model.pt`` (the state_dict, CPU tensors, ``torch.save``),
    ``validation.csv`` (update, chars, train_time_s, val_loss), ``config.json`` and, last (it
    marks a complete run), ``metrics.json``; each file atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_open(out / "model.pt", "wb") as f:
        torch.save({k: v.detach().cpu() for k, v in result.model.state_dict().items()}, f)
    lines = ["update,chars,train_time_s,val_loss"]
    lines += [f"{r['update']},{r['chars']},{r['train_time_s']!r},{r['val_loss']!r}"
              for r in result.validation]
    write_text(out / "validation.csv", "\n".join(lines) + "\n")
    write_json(out / "config.json", result.config)
    write_json(out / "metrics.json", result.metrics)
    return out


def load_baseline(run_dir, device: str = "cpu") -> BaselineResult:
    """Read a run folder written by :func:`save_baseline` (model on ``device``, validation rows
    as dicts). Raises ``ValueError`` if a file is missing."""
    d = Path(run_dir)
    missing = [n for n in RUN_FILES if not (d / n).is_file()]
    if missing:
        raise ValueError(f"{d} is not a complete baseline run folder: missing {', '.join(missing)}")
    config = json.loads((d / "config.json").read_text(encoding="utf-8"))
    metrics = json.loads((d / "metrics.json").read_text(encoding="utf-8"))
    vocab = Vocabulary(tuple(config["vocab"]))
    model = CharGated(config["kind"], vocab.K, config["hidden"])
    model.load_state_dict(torch.load(d / "model.pt", map_location="cpu", weights_only=True))
    rows = (d / "validation.csv").read_text(encoding="utf-8").splitlines()[1:]
    validation = [{"update": int(u), "chars": int(c), "train_time_s": float(t), "val_loss": float(v)}
                  for u, c, t, v in (r.split(",") for r in rows)]
    return BaselineResult(model.to(device), vocab, config, metrics, validation)
