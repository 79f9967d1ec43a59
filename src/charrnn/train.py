"""Training: the handout's loop (HANDOUT reqs. 12-15) with Adam or AdaGrad, and its extensions.

One update: B sequences (B = ``batch_size``, 1 in the handout) of ``seq_length`` characters, at
the positions the training order gives (:mod:`charrnn.orders`; the handout's sequential order by
default), each from its stream's hidden state ``hprev`` (zeros at the start of an epoch or
chunk); forward, backward, optional element-wise clipping, optimizer step.

``smooth_loss = 0.999 smooth_loss + 0.001 loss``, initialised with the first loss. The best model
is the one whose smooth loss is lowest: its parameters are those that produced that update's loss
(before the step), saved with that update's hprev and first input character, so that synthesis
from it starts where that update started. With a held-out validation chunk (``holdout > 0``) and
``eval_every > 0``, the saved best model is instead the one with the lowest validation loss
(:mod:`charrnn.evaluate`, stateful) among the evaluations.

Samples (HANDOUT req. 15, 19): ``sample_length`` characters when ``u`` updates are done for
u = 0, sample_every, 2 sample_every, ..., n_updates, from the next update's hprev and first input
character (stream 0); ``final_sample_length`` characters from the best model at the end.

Learning rate: constant ``eta`` (the handouts), or ``lr_schedule="cosine"``: linear warm-up over
``warmup`` updates, then eta (1 + cos(pi k / K)) / 2 down to 0 at the last update.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from .batch import loss_and_grads_batch
from .data import Vocabulary, check_nonneg_int, check_positive_int, updates_per_epoch
from .optim import OPTIMIZERS, clip_, make_optimizer
from .orders import ORDERS, Reader, split_chunks
from .rnn import (INITS, PARAM_NAMES, REDUCTIONS, init_params, loss_and_grads, new_params,
                  param_views)
from .sampling import check_sampling_args, synthesize

__all__ = ["PRESETS", "ENGINES", "TrainConfig", "TrainState", "TrainResult", "train"]

#: Hyper-parameters of the two handouts (HANDOUT reqs. 3-5, 10-11).
PRESETS: dict[str, dict] = {
    "adam": dict(optimizer="adam", eta=0.001, beta1=0.9, beta2=0.999, eps=1e-8, loss="mean",
                 init="scaled", sigma=0.01, grad_clip=None),
    "adagrad": dict(optimizer="adagrad", eta=0.1, beta1=0.9, beta2=0.999, eps=1e-8, loss="sum",
                    init="small", sigma=0.01, grad_clip=5.0),
}

#: Implementations of the training loop: the readable NumPy one (rnn.py, optim.py, batch.py)
#: and the same loop compiled with numba (engine.py, B = 1 only, about 2.5 times faster);
#: "auto" takes numba for B = 1 and NumPy for mini-batches.
ENGINES = ("auto", "numba", "numpy")
SCHEDULES = ("constant", "cosine")


@dataclass
class TrainConfig:
    """Everything that defines a run. Units: eta per update, lengths in characters."""

    preset: str = "adam"  # name of the handout preset the optimizer fields came from
    optimizer: str = "adam"  # "adam" (NEW handout) or "adagrad" (OLD handout)
    eta: float = 0.001  # learning rate
    beta1: float = 0.9  # Adam first-moment decay
    beta2: float = 0.999  # Adam second-moment decay
    eps: float = 1e-8  # optimizer epsilon
    loss: str = "mean"  # "mean" over the sequence (NEW) or "sum" (OLD)
    init: str = "scaled"  # "scaled" N(0,1)/sqrt(fan) (NEW) or "small" N(0, sigma^2) (OLD)
    sigma: float = 0.01  # std of the "small" init
    grad_clip: float | None = None  # element-wise clip bound; None = no clipping
    m: int = 100  # hidden units
    seq_length: int = 25  # characters per update
    n_updates: int = 150_000  # optimizer steps
    seed: int = 1  # fixes initialisation and sampling
    sample_every: int = 10_000  # updates between 200-character samples
    sample_length: int = 200  # characters per monitoring sample
    final_sample_length: int = 1000  # characters sampled from the best model at the end
    temperature: float = 1.0  # sampling temperature T > 0
    top_p: float = 1.0  # nucleus sampling mass in (0, 1]
    log_every: int = 100  # updates between rows of the history
    engine: str = "auto"  # "auto", "numba" (fast, B = 1) or "numpy" (readable, any B)
    order: str = "sequential"  # training order: "sequential" (handout), "random", "chunks"
    batch_size: int = 1  # sequences per update (B)
    n_chunks: int = 20  # chunks the text is cut into (validation split, "chunks" order)
    holdout: int = 0  # last chunks held out for validation; 0 = train on the whole text
    eval_every: int = 0  # updates between validation evaluations; 0 = none
    lr_schedule: str = "constant"  # "constant" or "cosine" (decay to 0 at n_updates)
    warmup: int = 0  # updates of linear learning-rate warm-up (cosine schedule)
    blas_threads: int = 1  # BLAS threads; 1 keeps B = 1 fast and results machine-independent

    @classmethod
    def from_preset(cls, preset: str = "adam", **overrides) -> "TrainConfig":
        """The config of ``preset`` ("adam" or "adagrad") with ``overrides`` applied."""
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; expected one of {tuple(PRESETS)}")
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown training parameter(s): {', '.join(sorted(unknown))}")
        return cls(**{"preset": preset, **PRESETS[preset], **overrides})

    def validate(self) -> "TrainConfig":
        """Raise ``ValueError`` naming the first bad field; return self when all are valid."""
        for name in ("m", "seq_length", "n_updates", "sample_every", "sample_length",
                     "final_sample_length", "log_every"):
            check_positive_int(name, getattr(self, name))
        check_nonneg_int("seed", self.seed)
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; expected one of {tuple(PRESETS)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; expected one of {OPTIMIZERS}")
        if self.loss not in REDUCTIONS:
            raise ValueError(f"unknown loss {self.loss!r}; expected one of {REDUCTIONS}")
        if self.init not in INITS:
            raise ValueError(f"unknown init {self.init!r}; expected one of {INITS}")
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}; expected one of {ENGINES}")
        if self.order not in ORDERS:
            raise ValueError(f"unknown order {self.order!r}; expected one of {ORDERS}")
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(f"unknown lr_schedule {self.lr_schedule!r}; expected one of "
                             f"{SCHEDULES}")
        check_positive_int("batch_size", self.batch_size)
        check_positive_int("blas_threads", self.blas_threads)
        check_positive_int("n_chunks", self.n_chunks)
        for name in ("holdout", "eval_every", "warmup"):
            check_nonneg_int(name, getattr(self, name))
        if self.warmup and self.warmup >= self.n_updates:
            raise ValueError(f"warmup must be smaller than n_updates = {self.n_updates}, "
                             f"got {self.warmup}")
        if self.holdout >= self.n_chunks:
            raise ValueError(f"holdout must be smaller than n_chunks = {self.n_chunks}, "
                             f"got {self.holdout}")
        if self.eval_every and not self.holdout:
            raise ValueError("eval_every > 0 needs a held-out chunk: set holdout >= 1")
        if self.engine == "numba" and self.batch_size != 1:
            raise ValueError("engine 'numba' trains one sequence per update; use engine "
                             "'numpy' (or 'auto') for batch_size > 1")
        for name in ("eta", "eps", "sigma"):
            _check_positive_float(name, getattr(self, name))
        for name in ("beta1", "beta2"):
            v = getattr(self, name)
            if not _is_number(v) or not 0 <= v < 1:
                raise ValueError(f"{name} must be a number in [0, 1), got {v!r}")
        if self.grad_clip is not None:
            _check_positive_float("grad_clip", self.grad_clip)
        check_sampling_args(self.temperature, self.top_p)
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def resolved_engine(self) -> str:
        """The engine that runs: "auto" is numba for B = 1 (when importable), else NumPy."""
        if self.engine != "auto":
            return self.engine
        from . import engine

        return "numba" if self.batch_size == 1 and engine.available() else "numpy"


def learning_rates(cfg: TrainConfig, first: int, n: int) -> np.ndarray:
    """Learning rates (n,) of updates ``first``, ..., ``first + n - 1`` (1-based)."""
    u = np.arange(first, first + n, dtype=np.float64)
    if cfg.lr_schedule == "constant":
        return np.full(n, float(cfg.eta))
    w = cfg.warmup
    decay = np.clip((u - w) / max(1, cfg.n_updates - w), 0.0, 1.0)
    lr = cfg.eta * 0.5 * (1.0 + np.cos(np.pi * decay))
    if w:
        lr = np.where(u <= w, cfg.eta * u / w, lr)
    return lr


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _check_positive_float(name: str, v) -> None:
    if not _is_number(v) or not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {v!r}")


@dataclass
class TrainState:
    """The mutable state of a run; arrays are float64 unless noted.

    ``flat`` (n,) holds b, c, U, W, V (``params`` are views into it); ``hprev`` (B, m), one row
    per stream; ``update`` the number of updates done; ``best_*`` the lowest-smooth-loss model
    (parameters before its step; hprev (m,) and x0 of stream 0).
    """

    flat: np.ndarray
    params: dict
    optimizer: object
    hprev: np.ndarray
    update: int = 0
    smooth_loss: float = float("nan")
    best_flat: np.ndarray = None
    best_hprev: np.ndarray = None
    best_x0: int = 0
    best_update: int = 0
    best_smooth_loss: float = float("inf")


@dataclass
class TrainResult:
    """What :func:`train` returns.

    ``history``: dict of equal-length arrays ``update`` (int), ``loss``, ``smooth_loss`` (nats per
    character, or per sequence for the sum loss) and ``epoch`` (int), one row every ``log_every``
    updates plus update 1. ``samples``: list of ``{"update": u, "text": str}``; ``final_sample``:
    str. ``metrics``: the numbers of ``metrics.json``. ``best``: the saved best model,
    ``{"flat", "hprev", "x0", "update", "criterion", "loss"}``. ``validation``: one dict per
    evaluation (update, chars, train_time_s, val_loss, val_loss_windowed), nats per character.
    """

    config: TrainConfig
    vocab: Vocabulary
    state: TrainState
    history: dict
    samples: list
    final_sample: str
    metrics: dict = field(default_factory=dict)
    best: dict = field(default_factory=dict)
    validation: list = field(default_factory=list)

    @property
    def best_params(self) -> dict:
        """The saved best model's parameters (see the module docstring for which one)."""
        _, p = new_params(self.vocab.K, self.config.m)
        _unflatten_into(p, self.best["flat"])
        return p


def _unflatten_into(params: dict, flat: np.ndarray) -> None:
    """Copy the flat buffer ``flat`` into the parameter arrays ``params``."""
    K, m = params["c"].shape[0], params["b"].shape[0]
    for name, view in param_views(flat, K, m).items():
        params[name][...] = view


def _advance_numpy(state: TrainState, book: np.ndarray, cfg: TrainConfig, starts, resets,
                   etas, loss_out: np.ndarray, smooth_out: np.ndarray) -> None:
    """Run ``len(starts)`` updates with the readable NumPy code, writing per-update losses.

    ``starts``, ``resets`` (n, B) from :class:`charrnn.orders.Reader`; ``etas`` (n,).
    B = 1 uses :func:`charrnn.rnn.loss_and_grads`, B > 1 :func:`charrnn.batch.loss_and_grads_batch`.
    """
    s = cfg.seq_length
    offsets = np.arange(s + 1)
    for i in range(len(starts)):
        if cfg.batch_size == 1:
            e = int(starts[i, 0])
            if resets[i, 0]:
                state.hprev[0] = 0.0
            x0 = int(book[e])
            loss, grads, h_last = loss_and_grads(state.params, book[e : e + s],
                                                 book[e + 1 : e + s + 1], state.hprev[0],
                                                 cfg.loss)
        else:
            state.hprev[resets[i]] = 0.0
            win = book[starts[i][:, None] + offsets]  # (B, s + 1)
            x0 = int(win[0, 0])
            loss, grads, h_last = loss_and_grads_batch(state.params, win[:, :-1].T,
                                                       win[:, 1:].T, state.hprev, cfg.loss)
        g = np.concatenate([grads[k].ravel() for k in PARAM_NAMES])
        clip_(g, cfg.grad_clip)
        smooth = loss if state.update == 0 else 0.999 * state.smooth_loss + 0.001 * loss
        state.smooth_loss = smooth
        if smooth < state.best_smooth_loss:
            state.best_smooth_loss = smooth
            state.best_flat[...] = state.flat
            state.best_hprev[...] = state.hprev[0]
            state.best_x0 = x0
            state.best_update = state.update + 1
        state.optimizer.eta = etas[i]
        state.optimizer.step(state.flat, g)
        state.hprev[...] = h_last
        state.update += 1
        loss_out[i] = loss
        smooth_out[i] = smooth


def new_state(cfg: TrainConfig, K: int) -> TrainState:
    """Fresh parameters (seeded by ``cfg.seed``), optimizer and zero hprev (B, m)."""
    rng = np.random.default_rng(cfg.seed)
    flat, params = init_params(K, cfg.m, rng, cfg.init, cfg.sigma)
    opt = make_optimizer(cfg.optimizer, flat.size, cfg.eta, cfg.beta1, cfg.beta2, cfg.eps)
    return TrainState(flat=flat, params=params, optimizer=opt,
                      hprev=np.zeros((cfg.batch_size, cfg.m)), best_flat=flat.copy(),
                      best_hprev=np.zeros(cfg.m))


def split_text(n_chars: int, cfg: TrainConfig):
    """``(n_train, train_bounds)``: the training part is the text before the last
    ``cfg.holdout`` of ``cfg.n_chunks`` chunks; ``train_bounds`` are its chunks' boundaries."""
    bounds = split_chunks(n_chars, cfg.n_chunks)
    n_train = int(bounds[cfg.n_chunks - cfg.holdout]) if cfg.holdout else n_chars
    return n_train, bounds[: cfg.n_chunks - cfg.holdout + 1]


class TrainingInterrupted(Exception):
    """Raised by :meth:`Trainer.run` after Ctrl-C or SIGTERM, once the checkpoint is saved."""

    def __init__(self, update: int, checkpoint):
        self.update, self.checkpoint = update, checkpoint
        where = f"; checkpoint saved to {checkpoint}" if checkpoint else ""
        super().__init__(f"interrupted after update {update:,}{where}")


class TrainingDiverged(Exception):
    """Raised by :meth:`Trainer.run` when a loss or parameter becomes non-finite."""

    def __init__(self, update: int, last_good: int | None):
        self.update, self.last_good = update, last_good
        keep = (f"; the last good checkpoint is from update {last_good:,}"
                if last_good is not None else "")
        super().__init__(f"training diverged: non-finite loss or parameters at update "
                         f"{update:,}{keep}")


CHECKPOINT_VERSION = 1
CHUNK = 2000  # updates between returns to Python (signal checks, history, checkpoints)


class Trainer:
    """One training run, resumable: :meth:`run` trains to ``config.n_updates``; :meth:`save`
    and :meth:`load` write and read everything needed to continue bit-identically (parameters,
    optimizer state, hidden states, training order and both generators' states, smooth loss,
    best models, history, samples, validation rows).

    Raises ``ValueError`` for an invalid config or a text too short for it, before any work.
    """

    def __init__(self, text: str, config: TrainConfig):
        import hashlib

        cfg = config.validate()
        if not isinstance(text, str):
            raise ValueError(f"text must be a str, got {type(text).__name__}")
        if len(text) < cfg.seq_length + 1:
            raise ValueError(f"text of {len(text)} characters is shorter than seq_length + 1 = "
                             f"{cfg.seq_length + 1}")
        self.cfg = cfg
        self.text_md5 = hashlib.md5(text.encode("utf-8")).hexdigest()
        self.vocab = Vocabulary.from_text(text)
        self.book = self.vocab.encode(text)
        N, s, B = len(self.book), cfg.seq_length, cfg.batch_size
        self.n_train, train_bounds = split_text(N, cfg)
        self.val = self.book[self.n_train:]
        if cfg.holdout and len(self.val) < s + 1:
            raise ValueError(f"the held-out chunk has {len(self.val)} characters; it needs at "
                             f"least seq_length + 1 = {s + 1}")
        self.reader = Reader(self.n_train, s, B, cfg.order, train_bounds, cfg.seed)
        self.per_epoch = updates_per_epoch(int(np.diff(self.reader.seg).min()), s) \
            if cfg.order == "sequential" else max(1, self.n_train // (s * B))
        self.engine = cfg.resolved_engine
        self.state = new_state(cfg, self.vocab.K)
        self.sample_rng = np.random.default_rng([cfg.seed, 1])
        self.validating = bool(cfg.holdout and cfg.eval_every)
        self.best = {"flat": self.state.best_flat, "hprev": self.state.best_hprev, "x0": 0,
                     "update": 0, "criterion": "smooth_loss", "loss": float("inf")}
        if self.validating:
            self.best.update(flat=self.state.flat.copy(), hprev=np.zeros(cfg.m),
                             criterion="val_loss")
        self.validation: list[dict] = []
        self.hist = {"update": [], "loss": [], "smooth_loss": [], "epoch": []}
        self.samples: list[dict] = []
        self.train_time = 0.0
        self.side_time = 0.0
        self.compile_time = 0.0
        self.stop_requested = False
        self.last_checkpoint_update = None

    # ------------------------------------------------------------------ checkpoints
    def save(self, path) -> None:
        """Write the whole state to ``path`` (.npz, no pickle) atomically."""
        import json

        from .files import atomic_open

        st, opt = self.state, self.state.optimizer
        meta = {"version": CHECKPOINT_VERSION, "config": self.cfg.to_dict(),
                "text_md5": self.text_md5, "update": st.update, "smooth_loss": st.smooth_loss,
                "best_smooth_loss": st.best_smooth_loss, "best_update": st.best_update,
                "best_x0": st.best_x0, "opt_t": opt.t, "reader": self.reader.state(),
                "sample_rng": self.sample_rng.bit_generator.state,
                "best": {k: v for k, v in self.best.items() if k not in ("flat", "hprev")},
                "validation": self.validation, "samples": self.samples,
                "history": {k: [float(x) if k in ("loss", "smooth_loss") else int(x)
                                for x in v] for k, v in self.hist.items()},
                "train_time": self.train_time}
        arrays = {"flat": st.flat, "hprev": st.hprev, "best_flat": st.best_flat,
                  "best_hprev": st.best_hprev, "vbest_flat": self.best["flat"],
                  "vbest_hprev": self.best["hprev"],
                  "vocab": np.array(self.vocab.chars, dtype="<U1"),
                  "meta": np.array(json.dumps(meta, allow_nan=True))}
        for k, v in opt.state().items():
            arrays[f"opt_{k}"] = np.asarray(v)
        for k, v in arrays.items():
            if v.dtype.kind == "f" and not np.all(np.isfinite(v)):
                raise ValueError(f"refusing to write a checkpoint whose {k} is not finite")
        with atomic_open(path, "wb") as f:
            np.savez(f, **arrays)
        self.last_checkpoint_update = st.update

    @classmethod
    def load(cls, path, text: str, n_updates: int | None = None) -> "Trainer":
        """A Trainer continuing the checkpoint at ``path`` on ``text``.

        ``n_updates`` may raise the run's length. Raises ``ValueError`` when the file is not a
        readable checkpoint, or ``text`` is not the text it was trained on (naming the
        characters when the vocabularies differ).
        """
        import json
        import zipfile

        from .checkpoint import check_vocab

        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
            meta = json.loads(str(data["meta"]))
        except FileNotFoundError:
            raise ValueError(f"checkpoint not found: {path}") from None
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError) as err:
            raise ValueError(f"{path} is not a readable training checkpoint (truncated or "
                             f"corrupted?): {err}") from None
        if meta.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"{path} has checkpoint version {meta.get('version')}; this "
                             f"charrnn reads version {CHECKPOINT_VERSION}")
        check_vocab(Vocabulary(tuple(str(c) for c in data["vocab"])),
                    Vocabulary.from_text(text))
        config = dict(meta["config"])
        if n_updates is not None:
            check_positive_int("n_updates", n_updates)
            if n_updates < meta["update"]:
                raise ValueError(f"n_updates = {n_updates} is below the {meta['update']} "
                                 "updates the checkpoint has done")
            config["n_updates"] = n_updates
        self = cls(text, TrainConfig(**config))
        if self.text_md5 != meta["text_md5"]:
            raise ValueError("the text differs from the one this run was trained on (same "
                             "characters, other content); resume with the same --data file")
        st = self.state
        st.flat[...] = data["flat"]
        st.hprev[...] = data["hprev"]
        st.best_flat[...] = data["best_flat"]
        st.best_hprev[...] = data["best_hprev"]
        st.update, st.smooth_loss = int(meta["update"]), float(meta["smooth_loss"])
        st.best_smooth_loss, st.best_update = float(meta["best_smooth_loss"]), int(meta["best_update"])
        st.best_x0 = int(meta["best_x0"])
        st.optimizer.load_state({k[4:]: data[k] for k in data if k.startswith("opt_")})
        self.reader.load_state(meta["reader"])
        self.sample_rng.bit_generator.state = meta["sample_rng"]
        if self.validating:
            self.best = {**meta["best"], "flat": data["vbest_flat"].copy(),
                         "hprev": data["vbest_hprev"].copy()}
        else:
            self.best.update(meta["best"])
        self.validation, self.samples = meta["validation"], meta["samples"]
        self.hist = {k: list(v) for k, v in meta["history"].items()}
        self.train_time = float(meta["train_time"])
        self.last_checkpoint_update = st.update
        return self

    # ------------------------------------------------------------------ training
    def _next_window(self):
        start, reset = self.reader.peek()
        return (np.zeros(self.cfg.m) if reset else self.state.hprev[0].copy()), \
            int(self.book[start])

    def run(self, progress: bool = False, checkpoint=None, checkpoint_every: int = 10_000,
            handle_signals: bool = False, stop_at: int | None = None,
            _compiled: bool = False) -> TrainResult:
        """Train until ``config.n_updates``; return the :class:`TrainResult`.

        With ``checkpoint`` (a path), the state is saved there every ``checkpoint_every``
        updates and at the end. With ``handle_signals``, Ctrl-C and SIGTERM stop training at
        the next chunk boundary (at most a few seconds), save the checkpoint and raise
        :class:`TrainingInterrupted`. ``stop_at`` stops the same way once that many updates are
        done (for tests of resuming). A non-finite loss raises :class:`TrainingDiverged`; the
        checkpoint on disk is then the last good one.
        """
        import contextlib
        import signal

        from .evaluate import stateful_loss, windowed_loss

        cfg, st, book = self.cfg, self.state, self.book
        s, B = cfg.seq_length, cfg.batch_size
        checkpoint_every = check_positive_int("checkpoint_every", checkpoint_every)
        if self.engine == "numba":
            from . import engine

            engine._require()
            advance = engine.advance
            if not _compiled:
                self.compile_time = engine.compile_engine()
        else:
            advance = _advance_numpy
        chunk = CHUNK
        loss_buf, smooth_buf = np.empty(chunk), np.empty(chunk)

        def stop(signum, frame):
            self.stop_requested = True

        handlers = {}
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(ValueError):  # not in the main thread
                    handlers[sig] = signal.signal(sig, stop)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=cfg.n_updates, initial=st.update, unit="upd", smoothing=0.1)
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=cfg.blas_threads, user_api="blas")
        try:
            while True:
                u = st.update
                if u % cfg.sample_every == 0 and not any(x["update"] == u for x in self.samples):
                    ts = time.perf_counter()
                    h0, x0 = self._next_window()
                    idx = synthesize(st.params, h0, x0, cfg.sample_length, self.sample_rng,
                                     cfg.temperature, cfg.top_p)
                    self.samples.append({"update": u, "text": self.vocab.decode(idx)})
                    self.side_time += time.perf_counter() - ts
                if self.validating and u > 0 and (u % cfg.eval_every == 0 or u == cfg.n_updates) \
                        and not any(r["update"] == u for r in self.validation):
                    ts = time.perf_counter()
                    vl = stateful_loss(st.params, self.val)
                    vw = windowed_loss(st.params, self.val, s)
                    self.validation.append({"update": u, "chars": u * s * B,
                                            "train_time_s": self.train_time,
                                            "val_loss": vl, "val_loss_windowed": vw})
                    if vl < self.best["loss"]:
                        h0, x0 = self._next_window()
                        self.best.update(loss=vl, update=u, x0=x0, hprev=h0)
                        self.best["flat"][...] = st.flat
                    self.side_time += time.perf_counter() - ts
                if checkpoint is not None and u % checkpoint_every == 0 and u > 0 \
                        and self.last_checkpoint_update != u:
                    self.save(checkpoint)
                if u >= cfg.n_updates:
                    break
                if self.stop_requested or (stop_at is not None and u >= stop_at):
                    if checkpoint is not None and self.last_checkpoint_update != u:
                        self.save(checkpoint)
                    raise TrainingInterrupted(u, checkpoint)
                stops = [cfg.n_updates, (u // cfg.sample_every + 1) * cfg.sample_every,
                         u + chunk, (u // checkpoint_every + 1) * checkpoint_every]
                if stop_at is not None and stop_at > u:
                    stops.append(stop_at)
                if self.validating:
                    stops.append((u // cfg.eval_every + 1) * cfg.eval_every)
                n = min(stops) - u
                reader_before = self.reader.state()
                starts, resets, epochs = self.reader.next(n)
                etas = learning_rates(cfg, u + 1, n)
                t0 = time.perf_counter()
                advance(st, book, cfg, starts, resets, etas, loss_buf, smooth_buf)
                self.train_time += time.perf_counter() - t0
                bad = ~np.isfinite(loss_buf[:n])
                if bad.any() or not np.all(np.isfinite(st.flat)):
                    first = u + 1 + int(np.argmax(bad)) if bad.any() else u + n
                    self.reader.load_state(reader_before)
                    raise TrainingDiverged(first, self.last_checkpoint_update)
                for i in range(n):  # history: update 1 and every log_every-th update
                    v = u + 1 + i
                    if v == 1 or v % cfg.log_every == 0:
                        self.hist["update"].append(v)
                        self.hist["loss"].append(float(loss_buf[i]))
                        self.hist["smooth_loss"].append(float(smooth_buf[i]))
                        self.hist["epoch"].append(int(epochs[i]))
                if bar is not None:
                    bar.update(n)
                    bar.set_postfix(smooth_loss=f"{st.smooth_loss:.4f}", refresh=False)
        finally:
            limiter.restore_original_limits()
            if bar is not None:
                bar.close()
            for sig, h in handlers.items():
                signal.signal(sig, h)
        if checkpoint is not None and self.last_checkpoint_update != st.update:
            self.save(checkpoint)
        return self.result()

    def result(self) -> TrainResult:
        """The :class:`TrainResult` of the run so far (samples the final passage)."""
        cfg, st = self.cfg, self.state
        best = dict(self.best)
        if not self.validating:
            best.update(flat=st.best_flat, hprev=st.best_hprev, x0=st.best_x0,
                        update=st.best_update, loss=st.best_smooth_loss)
        _, best_p = new_params(self.vocab.K, cfg.m)
        _unflatten_into(best_p, best["flat"])
        rng = np.random.default_rng()
        rng.bit_generator.state = self.sample_rng.bit_generator.state  # do not consume it
        final = self.vocab.decode(synthesize(best_p, best["hprev"], best["x0"],
                                             cfg.final_sample_length, rng, cfg.temperature,
                                             cfg.top_p))
        history = {
            "update": np.asarray(self.hist["update"], dtype=np.int64),
            "loss": np.asarray(self.hist["loss"], dtype=np.float64),
            "smooth_loss": np.asarray(self.hist["smooth_loss"], dtype=np.float64),
            "epoch": np.asarray(self.hist["epoch"], dtype=np.int64),
        }
        wall = self.train_time
        s, B = cfg.seq_length, cfg.batch_size
        metrics = {
            "K": self.vocab.K, "n_chars": len(self.book), "n_train_chars": self.n_train,
            "updates_per_epoch": self.per_epoch, "n_updates": st.update,
            "epochs": st.update / self.per_epoch,
            "best_smooth_loss": float(st.best_smooth_loss), "best_update": int(st.best_update),
            "final_smooth_loss": float(st.smooth_loss), "wall_time_s": wall,
            "updates_per_s": st.update / wall if wall > 0 else float("inf"),
            "chars_per_s": st.update * s * B / wall if wall > 0 else float("inf"),
            "sample_and_eval_time_s": self.side_time, "compile_time_s": self.compile_time,
            "seed": cfg.seed, "preset": cfg.preset, "engine": self.engine,
            "best_model": best["criterion"],
        }
        if self.validation:
            vbest = min(self.validation, key=lambda r: r["val_loss"])
            metrics.update(best_val_loss=vbest["val_loss"], best_val_update=vbest["update"],
                           best_val_bits_per_char=vbest["val_loss"] / np.log(2),
                           final_val_loss=self.validation[-1]["val_loss"],
                           final_val_loss_windowed=self.validation[-1]["val_loss_windowed"])
        return TrainResult(cfg, self.vocab, st, history, list(self.samples), final, metrics,
                           best, list(self.validation))


def train(text: str, config: TrainConfig, progress: bool = False, _compiled: bool = False
          ) -> TrainResult:
    """Train the RNN on ``text`` (str) with ``config``; return a :class:`TrainResult`.

    Deterministic: the same text and config give the same numbers to the bit. Sampling uses its
    own generator ``default_rng([seed, 1])`` and the training order ``default_rng([seed, 2])``,
    so samples never shift the training numbers. ``progress`` shows a tqdm bar (also off when
    ``TQDM_DISABLE=1``). Raises ``ValueError`` for an invalid config or a text too short for it,
    before any work is done; :class:`TrainingDiverged` when the loss becomes non-finite. For
    checkpoints and resuming, use :class:`Trainer`.
    """
    return Trainer(text, config).run(progress=progress, _compiled=_compiled)
