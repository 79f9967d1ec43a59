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
from .data import Vocabulary, check_positive_int, updates_per_epoch
from .optim import OPTIMIZERS, clip_, make_optimizer
from .orders import ORDERS, Reader, split_chunks
from .rnn import INITS, PARAM_NAMES, REDUCTIONS, init_params, loss_and_grads, new_params
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
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) \
                or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
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
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
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
    track_smooth_best: bool = True


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
    start = 0
    for name in PARAM_NAMES:
        size = params[name].size
        params[name][...] = flat[start : start + size].reshape(params[name].shape)
        start += size


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
        if state.track_smooth_best and smooth < state.best_smooth_loss:
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


def train(text: str, config: TrainConfig, progress: bool = False, _compiled: bool = False
          ) -> TrainResult:
    """Train the RNN on ``text`` (str) with ``config``; return a :class:`TrainResult`.

    Deterministic: the same text and config give the same numbers to the bit. Sampling uses its
    own generator ``default_rng([seed, 1])`` and the training order ``default_rng([seed, 2])``,
    so samples never shift the training numbers. ``progress`` shows a tqdm bar (also off when
    ``TQDM_DISABLE=1``). Raises ``ValueError`` for an invalid config or a text too short for it,
    before any work is done.
    """
    from .evaluate import stateful_loss, windowed_loss

    cfg = config.validate()
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    if len(text) < cfg.seq_length + 1:
        raise ValueError(
            f"text of {len(text)} characters is shorter than seq_length + 1 = "
            f"{cfg.seq_length + 1}"
        )
    vocab = Vocabulary.from_text(text)
    book = vocab.encode(text)
    N, s, B = len(book), cfg.seq_length, cfg.batch_size
    n_train, train_bounds = split_text(N, cfg)
    val = book[n_train:]
    if cfg.holdout and len(val) < s + 1:
        raise ValueError(f"the held-out chunk has {len(val)} characters; it needs at least "
                         f"seq_length + 1 = {s + 1}")
    reader = Reader(n_train, s, B, cfg.order, train_bounds, cfg.seed)  # checks segment sizes
    per_epoch = updates_per_epoch(int(np.diff(reader.seg).min()), s) \
        if cfg.order == "sequential" else max(1, n_train // (s * B))
    engine_name = cfg.resolved_engine
    compile_time = 0.0
    if engine_name == "numba":
        from . import engine

        engine._require()
        advance = engine.advance
        if not _compiled:
            compile_time = engine.compile_engine()
    else:
        advance = _advance_numpy
    state = new_state(cfg, vocab.K)
    sample_rng = np.random.default_rng([cfg.seed, 1])
    validating = bool(cfg.holdout and cfg.eval_every)
    best = {"flat": state.best_flat, "hprev": state.best_hprev, "x0": 0, "update": 0,
            "criterion": "smooth_loss", "loss": float("inf")}
    if validating:
        best.update(flat=state.flat.copy(), hprev=np.zeros(cfg.m), criterion="val_loss")
    validation = []

    hist = {"update": [], "loss": [], "smooth_loss": [], "epoch": []}
    samples = []
    chunk = max(1, min(cfg.sample_every, cfg.eval_every or 10_000, 10_000))
    loss_buf = np.empty(chunk)
    smooth_buf = np.empty(chunk)

    def next_window():
        start, reset = reader.peek()
        return (np.zeros(cfg.m) if reset else state.hprev[0].copy()), int(book[start])

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.n_updates, unit="upd", smoothing=0.1)
    # One BLAS thread by default: the 100x100 products are too small to share, and the results
    # then do not depend on the machine's thread count.
    from threadpoolctl import threadpool_limits

    limiter = threadpool_limits(limits=cfg.blas_threads, user_api="blas")
    t0 = time.perf_counter()
    side_time = 0.0  # sampling and validation, not counted as training time
    try:
        while True:
            u = state.update
            if u % cfg.sample_every == 0:
                ts = time.perf_counter()
                h0, x0 = next_window()
                idx = synthesize(state.params, h0, x0, cfg.sample_length, sample_rng,
                                 cfg.temperature, cfg.top_p)
                samples.append({"update": u, "text": vocab.decode(idx)})
                side_time += time.perf_counter() - ts
            if validating and u > 0 and (u % cfg.eval_every == 0 or u == cfg.n_updates):
                ts = time.perf_counter()
                vl = stateful_loss(state.params, val)
                vw = windowed_loss(state.params, val, s)
                validation.append({"update": u, "chars": u * s * B,
                                   "train_time_s": ts - t0 - side_time,
                                   "val_loss": vl, "val_loss_windowed": vw})
                if vl < best["loss"]:
                    h0, x0 = next_window()
                    best.update(loss=vl, update=u, x0=x0, hprev=h0)
                    best["flat"][...] = state.flat
                side_time += time.perf_counter() - ts
            if u >= cfg.n_updates:
                break
            next_stop = min(cfg.n_updates, (u // cfg.sample_every + 1) * cfg.sample_every,
                            u + chunk)
            if validating:
                next_stop = min(next_stop, (u // cfg.eval_every + 1) * cfg.eval_every)
            n = next_stop - u
            starts, resets, epochs = reader.next(n)
            etas = learning_rates(cfg, u + 1, n)
            advance(state, book, cfg, starts, resets, etas, loss_buf, smooth_buf)
            # history rows: update 1 and every log_every-th update of this chunk
            for i in range(n):
                v = u + 1 + i
                if v == 1 or v % cfg.log_every == 0:
                    hist["update"].append(v)
                    hist["loss"].append(loss_buf[i])
                    hist["smooth_loss"].append(smooth_buf[i])
                    hist["epoch"].append(epochs[i])
            if bar is not None:
                bar.update(n)
                bar.set_postfix(smooth_loss=f"{state.smooth_loss:.4f}", refresh=False)
    finally:
        limiter.restore_original_limits()
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - t0 - side_time

    if not validating:
        best.update(x0=state.best_x0, update=state.best_update, loss=state.best_smooth_loss)
    _, best_p = new_params(vocab.K, cfg.m)
    _unflatten_into(best_p, best["flat"])
    final = vocab.decode(synthesize(best_p, best["hprev"], best["x0"], cfg.final_sample_length,
                                    sample_rng, cfg.temperature, cfg.top_p))
    history = {
        "update": np.asarray(hist["update"], dtype=np.int64),
        "loss": np.asarray(hist["loss"]),
        "smooth_loss": np.asarray(hist["smooth_loss"]),
        "epoch": np.asarray(hist["epoch"], dtype=np.int64),
    }
    metrics = {
        "K": vocab.K,
        "n_chars": N,
        "n_train_chars": n_train,
        "updates_per_epoch": per_epoch,
        "n_updates": cfg.n_updates,
        "epochs": cfg.n_updates / per_epoch,
        "best_smooth_loss": float(state.best_smooth_loss),
        "best_update": int(state.best_update),
        "final_smooth_loss": float(state.smooth_loss),
        "wall_time_s": wall,
        "updates_per_s": cfg.n_updates / wall if wall > 0 else float("inf"),
        "chars_per_s": cfg.n_updates * s * B / wall if wall > 0 else float("inf"),
        "sample_and_eval_time_s": side_time,
        "compile_time_s": compile_time,
        "seed": cfg.seed,
        "preset": cfg.preset,
        "engine": engine_name,
        "best_model": best["criterion"],
    }
    if validation:
        vbest = min(validation, key=lambda r: r["val_loss"])
        metrics.update(best_val_loss=vbest["val_loss"], best_val_update=vbest["update"],
                       best_val_bits_per_char=vbest["val_loss"] / np.log(2),
                       final_val_loss=validation[-1]["val_loss"],
                       final_val_loss_windowed=validation[-1]["val_loss_windowed"])
    return TrainResult(cfg, vocab, state, history, samples, final, metrics, best, validation)
