"""Gated baselines: a one-layer LSTM and GRU (PyTorch) trained on the vanilla variants' split.

How good is the vanilla RNN's 1.29 nats/char? These are the usual answers to "what would a gated
recurrent net of the same size get", trained and evaluated exactly like the vanilla m = 256
variants of :mod:`charrnn.studies.experiments`. This is the one training module that imports torch
(``charrnn train`` never does). The models, their equations, sizes, losses and states are in
:mod:`charrnn.studies.gated`; run folders are written and read by
:mod:`charrnn.studies.baselines_io`. A run's settings are one :class:`BaselineConfig`.

Training, as the vanilla ``batch_size=32``, ``order="sequential"`` runs: the last 1 of 20 chunks
of the text is held out (:func:`charrnn.training.train.split_text`); B = 32 streams each read their own
contiguous segment of the training text (:class:`charrnn.training.orders.Reader`), ``seq_length`` = 50
characters per update, carrying their (h, c) state from one update to the next (truncated
backprop through time), from a zero state at the start of a segment. The loss is the mean of
-log p over the B x seq_length predicted characters; Adam (beta1 0.9, beta2 0.999, eps 1e-8),
gradient clipped to global norm 5 (the vanilla runs clip element-wise at 5), the learning rate
following the ``best`` variant's schedule (linear warm-up over min(200, n/10) updates, then
cosine to 0). The number of updates is ``chars // (B * seq_length)``.

Validation: :func:`charrnn.studies.gated.stateful_loss`, the same quantity as
:func:`charrnn.model.evaluate.stateful_loss`. Everything is float32 (on purpose: PyTorch's recurrent
kernels); losses are summed in float64.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..model.data import Vocabulary, text_md5
from ..model.evaluate import BITS_PER_NAT
from ..training import provenance
from ..training.config import TrainConfig, learning_rates
from ..training.orders import Reader
from ..training.train import split_heldout, split_text
from ..util.checks import check_choice, check_nonneg_int, check_positive_float, check_positive_int, is_number
from .experiments import N_EVALS, TEST_FRACTION
from .gated import (
    KINDS,
    VANILLA_M,
    CharGated,
    gated_params,
    init_parameters,
    pick_hidden,
    stateful_loss,
    vanilla_params,
    windowed_loss,
)

__all__ = ["DEFAULT_ETA", "BaselineConfig", "BaselineResult", "BaselineDiverged", "train_baseline"]


#: Peak Adam learning rates of the cosine schedule, chosen by ``make lr`` as every model's (see
#: :data:`charrnn.studies.experiments.VARIANTS`): seed 1, 1,000,000 training characters, the
#: former rate times 0.5, 1, 2 and 4, the validation text's loss in nats/char: LSTM h 120 (6.4e-2)
#: 1.6021 / 1.5190 / 1.4847 / 1.5780; GRU h 142 (1.6e-2) 1.7769 / 1.7289 / 1.8139 / 2.1051. (Both
#: far above the vanilla RNN's rates.)
DEFAULT_ETA = {"lstm": 1.28e-1, "gru": 1.6e-2}


def _n_train(n_chars: int) -> int:
    """Training characters of a text of ``n_chars``: all but the last of 20 chunks, as the
    vanilla variants (:func:`charrnn.training.train.split_text`)."""
    return split_text(n_chars, TrainConfig(holdout=1, n_chunks=20))[0]


def _check_device(device) -> None:
    """Raise ``ValueError`` unless ``device`` (str) names a torch CPU or CUDA device that this
    torch can use ("cpu", "cuda", "cuda:1")."""
    try:
        dev = torch.device(device) if isinstance(device, str) else None
    except RuntimeError:
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be a torch CPU or CUDA device such as 'cpu' or 'cuda', "
                         f"got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: this torch has no CUDA device (use 'cpu' or None)")


@dataclass(frozen=True)
class BaselineConfig:
    """The settings of one baseline run, each field with its meaning: the one list of them
    (``charrnn baseline`` sets kind, chars, seed, eta, hidden and data_path).

    :meth:`validate` checks them for a text of a given length; :meth:`to_dict` is what
    config.json of a run on a text holds; :func:`train_baseline` trains with them.
    """

    kind: str  # "lstm" or "gru" (:data:`charrnn.studies.gated.KINDS`)
    chars: int  # training characters; n_updates = chars // (batch_size x seq_length)
    seed: int = 1  # initialisation: numpy default_rng([seed, 3]), torch.manual_seed(seed)
    eta: float | None = None  # peak Adam learning rate; None: DEFAULT_ETA[kind]
    hidden: int | None = None  # hidden size h; None: pick_hidden (closest to the vanilla m = 256)
    batch_size: int = 32  # B streams, each reading its own segment of the training text
    seq_length: int = 50  # characters per stream and update (truncated backprop through time)
    grad_clip: float = 5.0  # largest global gradient norm
    n_evals: int = N_EVALS  # validation evaluations, every n_updates // n_evals updates (and the last)
    test_fraction: float = TEST_FRACTION  # held-out part kept as test text (scores the chosen model)
    device: str | None = None  # torch device; None: "cuda" when available, else "cpu"
    data_path: str | os.PathLike | None = None  # the text's file, recorded in config.json

    def validate(self, n_chars: int) -> BaselineConfig:
        """Check the settings for a text of ``n_chars`` characters, before any work; return a
        copy with ``eta`` filled in (``DEFAULT_ETA[kind]`` when None) and numbers as Python
        int and float.

        Raises ``ValueError`` naming the first bad one: an unknown kind, a non-positive size,
        ``chars`` below one update (batch_size x seq_length), a training text too short for
        batch_size segments of seq_length + 1 characters, or a held-out chunk (the last 1/20 of
        the text) shorter than seq_length + 1 characters, or a ``device`` that is not a CPU or
        CUDA device name, or is CUDA where this torch has none.
        """
        kind = check_choice("kind", self.kind, KINDS)
        chars, seed = check_positive_int("chars", self.chars), check_nonneg_int("seed", self.seed)
        B = check_positive_int("batch_size", self.batch_size)
        s = check_positive_int("seq_length", self.seq_length)
        n_evals = check_positive_int("n_evals", self.n_evals)
        eta = check_positive_float("eta", DEFAULT_ETA[kind] if self.eta is None else self.eta)
        grad_clip = check_positive_float("grad_clip", self.grad_clip)
        hidden = None if self.hidden is None else check_positive_int("hidden", self.hidden)
        if self.device is not None:
            _check_device(self.device)
        if chars // (B * s) < 1:
            raise ValueError(f"chars must be at least batch_size x seq_length = {B * s} (one "
                             f"update), got {chars}")
        tf = self.test_fraction
        if not is_number(tf) or not 0 <= tf < 1:
            raise ValueError(f"test_fraction must be a number in [0, 1), got {tf!r}")
        n_train = _n_train(n_chars)
        if n_chars - n_train < s + 1:
            raise ValueError(f"the held-out chunk (the last 1/20 of the text) has {n_chars - n_train} "
                             f"characters; it needs at least seq_length + 1 = {s + 1} (the text has "
                             f"{n_chars}; it needs about {20 * (s + 1)})")
        n_test = split_heldout(n_chars, n_train, tf)
        if tf and min(n_test - n_train, n_chars - n_test) < s + 1:
            raise ValueError(f"the held-out chunk's validation and test parts have "
                             f"{n_test - n_train} and {n_chars - n_test} characters; each needs "
                             f"at least seq_length + 1 = {s + 1}")
        if n_train // B < s + 1:
            raise ValueError(f"the training text ({n_train} characters) is too short for {B} streams "
                             f"of at least seq_length + 1 = {s + 1} characters each")
        return replace(self, kind=kind, chars=chars, seed=seed, eta=eta, hidden=hidden,
                       batch_size=B, seq_length=s, grad_clip=grad_clip, n_evals=n_evals,
                       test_fraction=float(tf))

    @property
    def n_updates(self) -> int:
        """Updates of the run: chars // (batch_size x seq_length)."""
        return self.chars // (self.batch_size * self.seq_length)

    def to_dict(self, text: str) -> dict:
        """What ``config.json`` of this run on ``text`` (str) holds: kind, hidden, n_params,
        vanilla_m, vanilla_n_params, K, seed, chars (those read: n_updates x batch_size x
        seq_length), n_updates, seq_length, batch_size, order, holdout, n_chunks, n_train_chars,
        test_fraction, optimizer, eta, lr_schedule, warmup, grad_clip, clip, n_evals, device, data, data_md5,
        vocab, code; computed without training. Raises ``ValueError`` as :meth:`validate`, and
        when ``text`` is not a str."""
        if not isinstance(text, str):
            raise ValueError(f"text must be a str, got {type(text).__name__}")
        c = self.validate(len(text))
        vocab = Vocabulary.from_text(text)
        K, n = vocab.K, c.n_updates
        h = c.hidden or pick_hidden(c.kind, K)
        return {"kind": c.kind, "hidden": h, "n_params": gated_params(c.kind, K, h),
                "vanilla_m": VANILLA_M, "vanilla_n_params": vanilla_params(K), "K": K,
                "seed": c.seed, "chars": n * c.batch_size * c.seq_length,
                "n_updates": n, "seq_length": c.seq_length, "batch_size": c.batch_size,
                "order": "sequential", "holdout": 1, "n_chunks": 20,
                "n_train_chars": _n_train(len(text)), "test_fraction": c.test_fraction,
                "optimizer": "adam", "eta": c.eta, "lr_schedule": "cosine",
                "warmup": min(200, n // 10), "grad_clip": c.grad_clip, "clip": "global norm",
                "n_evals": c.n_evals,
                "device": c.device or ("cuda" if torch.cuda.is_available() else "cpu"),
                "data": os.fspath(c.data_path) if c.data_path is not None else None,
                "data_md5": text_md5(text),
                "vocab": "".join(vocab.chars), "code": provenance.code_hash(("studies.baselines",))}


# ---------------------------------------------------------------------- training
def _carry(state, keep):
    """``state`` detached from the graph (truncated backprop), each stream multiplied by
    ``keep`` (1, B, 1): 0 where a stream starts its segment again from a zero state, else 1."""
    if isinstance(state, tuple):
        return tuple(s.detach() * keep for s in state)
    return state.detach() * keep


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


def train_baseline(text: str, settings: BaselineConfig, threads: int | None = 1,
                   progress: bool = False) -> BaselineResult:
    """Train the LSTM or GRU of ``settings`` (a :class:`BaselineConfig`) on ``text`` (str; see
    the module docstring); return a :class:`BaselineResult`.

    The stateful validation loss (nats/char) is measured every ``n_updates // n_evals`` updates
    and after the last, on the held-out chunk's validation part; with ``test_fraction`` the model
    at the lowest of them is scored once on the test part (``test_loss``) and is the returned
    model (``model.pt``). ``threads``: torch CPU threads while training (None: leave as is);
    ``progress``: show a tqdm bar. On the CPU the seed fixes the result. Times in seconds:
    ``wall_time_s`` is training only (like the vanilla runs), evaluation is ``eval_time_s``.
    Raises ``ValueError`` as :meth:`BaselineConfig.to_dict`, before any work;
    :class:`BaselineDiverged` on a non-finite loss.
    """
    config = settings.to_dict(text)
    kind = config["kind"]
    vocab = Vocabulary(tuple(config["vocab"]))
    K, h, device = vocab.K, config["hidden"], config["device"]
    book = np.asarray(vocab.encode(text), dtype=np.int64)  # (N,)
    n_train, n = config["n_train_chars"], config["n_updates"]
    B, s, seed, eta = config["batch_size"], config["seq_length"], config["seed"], config["eta"]
    n_test = split_heldout(len(book), n_train, config["test_fraction"])
    val, test = book[n_train:n_test], book[n_test:]
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
                if len(test) and vl < min((r["val_loss"] for r in validation), default=math.inf):
                    chosen = {k: v.detach().clone() for k, v in model.state_dict().items()}
                eval_time += time.perf_counter() - t0
                validation.append({"update": u + 1, "chars": (u + 1) * B * s,
                                   "train_time_s": train_time, "val_loss": vl})
                if bar is not None:
                    bar.set_postfix(val_loss=f"{vl:.4f}", refresh=False)
        if bar is not None:
            bar.close()
        t0 = time.perf_counter()
        windowed = windowed_loss(model, val, s)
        scores = {}
        if len(test):  # the model validation chose, scored once on the test text; model.pt holds it
            model.load_state_dict(chosen)
            scores = {"test_loss": stateful_loss(model, test)}
            scores.update(test_bits_per_char=scores["test_loss"] * BITS_PER_NAT,
                          test_loss_windowed=windowed_loss(model, test, s),
                          n_test_chars=len(test), test_start=n_test)
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
               "device": device, "torch_threads": threads, "torch_version": torch.__version__,
               # PyTorch picks its CPU kernels by instruction set: the numbers are this machine's
               "cpu_capability": (torch.backends.cpu.get_cpu_capability()
                                  if str(device).startswith("cpu") else None),
               "seed": seed, "eta": eta, **scores}
    return BaselineResult(model, vocab, config, metrics, validation)
