"""Training: the handout's sequential loop (HANDOUT reqs. 12-15) with Adam or AdaGrad.

One update at position ``e``: inputs ``book_data[e:e+seq_length]``, targets shifted by one,
h0 = ``hprev`` (the last hidden state of the previous update, zeros at the start of an epoch);
forward, backward, optional element-wise clipping, optimizer step; then ``e += seq_length``.
When ``e > len(book) - seq_length - 1`` the epoch ends: ``e = 0`` and ``hprev = 0``.

``smooth_loss = 0.999 smooth_loss + 0.001 loss``, initialised with the first loss. The best model
is the one whose smooth loss is lowest: its parameters are those that produced that update's loss
(before the step), saved with that update's hprev and first input character, so that synthesis
from it starts where that update started.

Samples (HANDOUT req. 15, 19): ``sample_length`` characters when ``u`` updates are done for
u = 0, sample_every, 2 sample_every, ..., n_updates, from the next update's hprev and first input
character; ``final_sample_length`` characters from the best model at the end.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from .data import Vocabulary, check_positive_int, updates_per_epoch
from .optim import OPTIMIZERS, clip_, make_optimizer
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

#: Implementations of the training loop: the readable NumPy one (rnn.py, optim.py) and the
#: same loop compiled with numba (engine.py), about 3-4 times faster.
ENGINES = ("numpy", "numba")


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
    engine: str = "numba"  # implementation of the training loop: "numba" (fast) or "numpy"

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


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _check_positive_float(name: str, v) -> None:
    if not _is_number(v) or not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {v!r}")


@dataclass
class TrainState:
    """The mutable state of a run; arrays are float64 unless noted.

    ``flat`` (n,) holds b, c, U, W, V (``params`` are views into it); ``hprev`` (m,); ``e`` the
    position in the book; ``update`` the number of updates done; ``epoch`` the current epoch
    (1-based); ``best_*`` the lowest-smooth-loss model (parameters before its step).
    """

    flat: np.ndarray
    params: dict
    optimizer: object
    hprev: np.ndarray
    e: int = 0
    update: int = 0
    epoch: int = 1
    smooth_loss: float = float("nan")
    best_flat: np.ndarray = None
    best_hprev: np.ndarray = None
    best_x0: int = 0
    best_update: int = 0
    best_smooth_loss: float = float("inf")

    def wrap_epoch(self, n_chars: int, seq_length: int) -> None:
        """Apply the epoch-end rule (HANDOUT req. 13) if ``e`` has run past the last window."""
        if self.e > n_chars - seq_length - 1:
            self.e = 0
            self.hprev[...] = 0.0
            self.epoch += 1


@dataclass
class TrainResult:
    """What :func:`train` returns.

    ``history``: dict of equal-length arrays ``update`` (int), ``loss``, ``smooth_loss`` (nats per
    character, or per sequence for the sum loss) and ``epoch`` (int), one row every ``log_every``
    updates plus update 1. ``samples``: list of ``{"update": u, "text": str}``; ``final_sample``:
    str. ``metrics``: the numbers of ``metrics.json``.
    """

    config: TrainConfig
    vocab: Vocabulary
    state: TrainState
    history: dict
    samples: list
    final_sample: str
    metrics: dict = field(default_factory=dict)

    @property
    def best_params(self) -> dict:
        _, p = new_params(self.vocab.K, self.config.m)
        _unflatten_into(p, self.state.best_flat)
        return p


def _unflatten_into(params: dict, flat: np.ndarray) -> None:
    start = 0
    for name in PARAM_NAMES:
        size = params[name].size
        params[name][...] = flat[start : start + size].reshape(params[name].shape)
        start += size


def _advance_numpy(state: TrainState, book: np.ndarray, cfg: TrainConfig, n: int,
                   loss_out: np.ndarray, smooth_out: np.ndarray, epoch_out: np.ndarray) -> None:
    """Run ``n`` updates of the readable NumPy implementation, writing per-update losses."""
    s = cfg.seq_length
    N = len(book)
    for i in range(n):
        state.wrap_epoch(N, s)
        e = state.e
        x, y = book[e : e + s], book[e + 1 : e + s + 1]
        loss, grads, h_last = loss_and_grads(state.params, x, y, state.hprev, cfg.loss)
        g = np.concatenate([grads[k].ravel() for k in PARAM_NAMES])
        clip_(g, cfg.grad_clip)
        smooth = loss if state.update == 0 else 0.999 * state.smooth_loss + 0.001 * loss
        state.smooth_loss = smooth
        if smooth < state.best_smooth_loss:
            state.best_smooth_loss = smooth
            state.best_flat[...] = state.flat
            state.best_hprev[...] = state.hprev
            state.best_x0 = int(x[0])
            state.best_update = state.update + 1
        state.optimizer.step(state.flat, g)
        state.hprev[...] = h_last
        state.e = e + s
        state.update += 1
        loss_out[i] = loss
        smooth_out[i] = smooth
        epoch_out[i] = state.epoch


def new_state(cfg: TrainConfig, K: int) -> TrainState:
    """Fresh parameters (seeded by ``cfg.seed``), optimizer and zero hprev."""
    rng = np.random.default_rng(cfg.seed)
    flat, params = init_params(K, cfg.m, rng, cfg.init, cfg.sigma)
    opt = make_optimizer(cfg.optimizer, flat.size, cfg.eta, cfg.beta1, cfg.beta2, cfg.eps)
    return TrainState(flat=flat, params=params, optimizer=opt, hprev=np.zeros(cfg.m),
                      best_flat=flat.copy(), best_hprev=np.zeros(cfg.m))


def train(text: str, config: TrainConfig, progress: bool = False, _compiled: bool = False
          ) -> TrainResult:
    """Train the RNN on ``text`` (str) with ``config``; return a :class:`TrainResult`.

    Deterministic: the same text and config give the same numbers to the bit. Sampling uses its
    own generator ``default_rng([seed, 1])`` so samples never shift the training numbers.
    ``progress`` shows a tqdm bar (also off when ``TQDM_DISABLE=1``).
    Raises ``ValueError`` for an invalid config or a text shorter than seq_length + 1, before any
    work is done.
    """
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
    N, s = len(book), cfg.seq_length
    per_epoch = updates_per_epoch(N, s)
    compile_time = 0.0
    if cfg.engine == "numba":
        from . import engine

        engine._require()
        advance = engine.advance
        if not _compiled:
            compile_time = engine.compile_engine()
    else:
        advance = _advance_numpy
    state = new_state(cfg, vocab.K)
    sample_rng = np.random.default_rng([cfg.seed, 1])

    hist = {"update": [], "loss": [], "smooth_loss": [], "epoch": []}
    samples = []
    chunk = max(1, min(cfg.sample_every, 10_000))
    loss_buf = np.empty(chunk)
    smooth_buf = np.empty(chunk)
    epoch_buf = np.empty(chunk, dtype=np.int64)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.n_updates, unit="upd", smoothing=0.1)
    # One BLAS thread: the 100x100 products are too small to share, and the results then do not
    # depend on the machine's thread count.
    from threadpoolctl import threadpool_limits

    limiter = threadpool_limits(limits=1, user_api="blas")
    t0 = time.perf_counter()
    sample_time = 0.0
    try:
        while True:
            if state.update % cfg.sample_every == 0:
                ts = time.perf_counter()
                state.wrap_epoch(N, s)
                idx = synthesize(state.params, state.hprev, int(book[state.e]), cfg.sample_length,
                                 sample_rng, cfg.temperature, cfg.top_p)
                samples.append({"update": state.update, "text": vocab.decode(idx)})
                sample_time += time.perf_counter() - ts
            if state.update >= cfg.n_updates:
                break
            next_stop = min(cfg.n_updates, (state.update // cfg.sample_every + 1) * cfg.sample_every,
                            state.update + chunk)
            n = next_stop - state.update
            first = state.update + 1
            advance(state, book, cfg, n, loss_buf, smooth_buf, epoch_buf)
            # history rows: update 1 and every log_every-th update of this chunk
            for i in range(n):
                u = first + i
                if u == 1 or u % cfg.log_every == 0:
                    hist["update"].append(u)
                    hist["loss"].append(loss_buf[i])
                    hist["smooth_loss"].append(smooth_buf[i])
                    hist["epoch"].append(epoch_buf[i])
            if bar is not None:
                bar.update(n)
                bar.set_postfix(smooth_loss=f"{state.smooth_loss:.4f}", refresh=False)
    finally:
        limiter.restore_original_limits()
    wall = time.perf_counter() - t0 - sample_time
    if bar is not None:
        bar.close()

    _, best = new_params(vocab.K, cfg.m)
    _unflatten_into(best, state.best_flat)
    final = vocab.decode(synthesize(best, state.best_hprev, state.best_x0,
                                    cfg.final_sample_length, sample_rng, cfg.temperature,
                                    cfg.top_p))
    history = {
        "update": np.asarray(hist["update"], dtype=np.int64),
        "loss": np.asarray(hist["loss"]),
        "smooth_loss": np.asarray(hist["smooth_loss"]),
        "epoch": np.asarray(hist["epoch"], dtype=np.int64),
    }
    metrics = {
        "K": vocab.K,
        "n_chars": N,
        "updates_per_epoch": per_epoch,
        "n_updates": cfg.n_updates,
        "epochs": cfg.n_updates / per_epoch,
        "best_smooth_loss": float(state.best_smooth_loss),
        "best_update": int(state.best_update),
        "final_smooth_loss": float(state.smooth_loss),
        "wall_time_s": wall,
        "updates_per_s": cfg.n_updates / wall if wall > 0 else float("inf"),
        "sample_time_s": sample_time,
        "compile_time_s": compile_time,
        "seed": cfg.seed,
        "preset": cfg.preset,
        "engine": cfg.engine,
    }
    return TrainResult(cfg, vocab, state, history, samples, final, metrics)
