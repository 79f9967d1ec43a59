"""What defines a training run: :class:`TrainConfig`, the handouts' presets, the learning-rate
schedule. The one list of hyper-parameters: the CLI's ``train`` flags and notebook 02's parameters
are made from these fields (names, defaults and the comment after each field as help).

Learning rate (updates counted from 1): constant ``eta`` (the handouts), or
``lr_schedule="cosine"``: linear warm-up over ``warmup`` updates, then
eta (1 + cos(pi k / K)) / 2 down to 0 at the last update (Loshchilov & Hutter, SGDR, ICLR 2017,
without restarts).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import asdict, dataclass, fields

import numpy as np

from ..model.data import NEWLINES
from ..model.optim import OPTIMIZERS
from ..model.rnn import INITS, REDUCTIONS
from ..model.sampling import SAMPLE_BYTES_PER_CHAR, check_sampling_args
from ..util.checks import (
    check_choice,
    check_memory,
    check_nonneg_int,
    check_positive_float,
    check_positive_int,
    is_number,
    plural,
)
from .orders import ORDERS

__all__ = ["PRESETS", "ENGINES", "SCHEDULES", "CHOICES", "PRESET_FIELDS", "TrainConfig",
           "learning_rates", "field_help", "changed_settings"]

#: Hyper-parameters of the two handouts (HANDOUT reqs. 3-5, 10-11).
PRESETS: dict[str, dict] = {
    "adam": dict(optimizer="adam", eta=0.001, beta1=0.9, beta2=0.999, eps=1e-8, loss="mean",
                 init="scaled", sigma=0.01, grad_clip=None),
    "adagrad": dict(optimizer="adagrad", eta=0.1, beta1=0.9, beta2=0.999, eps=1e-8, loss="sum",
                    init="small", sigma=0.01, grad_clip=5.0),
}

#: Implementations of the training loop: the readable NumPy one (rnn.py, optim.py) and the same
#: loop compiled with numba (engine.py, B = 1 only, about 2.5 times faster); "auto" takes numba
#: for B = 1 and NumPy for mini-batches.
ENGINES = ("auto", "numba", "numpy")
SCHEDULES = ("constant", "cosine")
#: Floating-point types: float64 everywhere by default; float32 halves the work of the NumPy
#: engine's matrix products (the experiments' mini-batch variants use it, see experiments.py).
DTYPES = ("float64", "float32")
#: The fields whose default comes from the preset.
PRESET_FIELDS = tuple(PRESETS["adam"])
#: The allowed values of the fields that take a name.
CHOICES = {"preset": tuple(PRESETS), "optimizer": OPTIMIZERS, "loss": REDUCTIONS, "init": INITS,
           "engine": ENGINES, "order": ORDERS, "lr_schedule": SCHEDULES, "newline": NEWLINES,
           "dtype": DTYPES}


@dataclass
class TrainConfig:
    """Everything that defines a run. Units: eta per update, lengths in characters."""

    preset: str = "adam"  # handout preset the optimizer settings come from: adam (2025/26) or adagrad (older)
    optimizer: str = "adam"  # adam (NEW handout) or adagrad (OLD handout)
    eta: float = 0.001  # learning rate [per update]
    beta1: float = 0.9  # Adam first-moment decay
    beta2: float = 0.999  # Adam second-moment decay
    eps: float = 1e-8  # optimizer epsilon
    loss: str = "mean"  # loss over the sequence: mean (NEW handout, nats/char) or sum (OLD)
    init: str = "scaled"  # scaled N(0,1)/sqrt(fan) (NEW handout) or small N(0, sigma^2) (OLD)
    sigma: float = 0.01  # std of the small init
    grad_clip: float | None = None  # element-wise gradient clip bound; None (CLI: 0) turns clipping off
    m: int = 100  # hidden units
    seq_length: int = 25  # characters per update [characters]
    n_updates: int = 150_000  # optimizer steps [updates]
    seed: int = 1  # fixes initialisation, training order and sampling
    sample_every: int = 10_000  # updates between monitoring samples [updates]
    sample_length: int = 200  # characters per monitoring sample [characters]
    final_sample_length: int = 1000  # characters sampled from the best model at the end
    temperature: float = 1.0  # sampling temperature T > 0
    top_p: float = 1.0  # nucleus (top-p) sampling mass in (0, 1]
    log_every: int = 100  # updates between rows of history.csv [updates]
    engine: str = "auto"  # auto (numba for one sequence per update, else numpy), numba (fast) or numpy (readable)
    order: str = "sequential"  # training order: sequential (handout), random or chunks
    batch_size: int = 1  # sequences per update (B)
    n_chunks: int = 20  # chunks the text is cut into (validation split, chunks order)
    holdout: int = 0  # last chunks held out for validation; 0 trains on the whole text
    test_fraction: float = 0.0  # the held-out chunks' last part kept as test text (scored once, at the end, for the model chosen on validation); 0 for none
    eval_every: int = 0  # updates between validation losses; 0 for none (needs holdout)
    lr_schedule: str = "constant"  # learning-rate schedule: constant or cosine (to 0 at n_updates)
    warmup: int = 0  # updates of linear learning-rate warm-up (cosine schedule) [updates]
    blas_threads: int = 1  # BLAS threads; 1 keeps single-sequence training fast and results machine-independent
    newline: str = "keep"  # line endings of the text: keep them, or lf reads Windows \r\n as \n
    dtype: str = "float64"  # floating-point type of parameters and activations: float64, or float32 (NumPy engine)


    @classmethod
    def from_preset(cls, preset: str = "adam", **overrides) -> TrainConfig:
        """The config of ``preset`` ("adam" or "adagrad") with ``overrides`` applied.

        Raises ``ValueError`` for an unknown preset or field name."""
        check_choice("preset", preset, PRESETS)
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown training parameter(s): {', '.join(sorted(unknown))}")
        return cls(**{"preset": preset, **PRESETS[preset], **overrides})

    def validate(self) -> TrainConfig:
        """Raise ``ValueError`` naming the first bad field; return self when all are valid."""
        for name in ("m", "seq_length", "n_updates", "sample_every", "sample_length",
                     "final_sample_length", "log_every", "batch_size", "blas_threads",
                     "n_chunks"):
            check_positive_int(name, getattr(self, name))
        for name in ("seed", "holdout", "eval_every", "warmup"):
            check_nonneg_int(name, getattr(self, name))
        for name, choices in CHOICES.items():
            check_choice(name, getattr(self, name), choices)
        if self.optimizer != PRESETS[self.preset]["optimizer"]:
            raise ValueError(f"preset {self.preset!r} uses optimizer "
                             f"{PRESETS[self.preset]['optimizer']!r}, not {self.optimizer!r}: "
                             f"set all of the preset's settings (papermill: -f "
                             f"notebooks/params/{self.preset}.yaml; CLI: --preset {self.preset})")
        if self.warmup and self.warmup >= self.n_updates:
            raise ValueError(f"warmup must be smaller than n_updates = {self.n_updates}, "
                             f"got {self.warmup}")
        if self.holdout >= self.n_chunks:
            raise ValueError(f"holdout must be smaller than n_chunks = {self.n_chunks}, "
                             f"got {self.holdout}")
        if self.eval_every and not self.holdout:
            raise ValueError("eval_every > 0 needs a held-out chunk: set holdout >= 1")
        if not is_number(self.test_fraction) or not 0 <= self.test_fraction < 1:
            raise ValueError(f"test_fraction must be a number in [0, 1), got {self.test_fraction!r}")
        if self.test_fraction and not (self.holdout and self.eval_every):
            raise ValueError("test_fraction > 0 needs validation to choose the model it scores: "
                             "set holdout >= 1 and eval_every >= 1")
        if self.engine == "numba" and self.batch_size != 1:
            raise ValueError("engine 'numba' trains one sequence per update; use engine "
                             "'numpy' (or 'auto') for batch_size > 1")
        if self.engine == "numba" and self.dtype != "float64":
            raise ValueError(f"engine 'numba' computes in float64; use engine 'numpy' (or "
                             f"'auto') for dtype {self.dtype}")
        for name in ("eta", "eps", "sigma"):
            check_positive_float(name, getattr(self, name))
        for name in ("beta1", "beta2"):
            v = getattr(self, name)
            if not is_number(v) or not 0 <= v < 1:
                raise ValueError(f"{name} must be a number in [0, 1), got {v!r}")
        if self.grad_clip is not None:
            check_positive_float("grad_clip", self.grad_clip)
        check_sampling_args(self.temperature, self.top_p)
        return self

    def to_dict(self) -> dict:
        """The fields as a plain dict (what ``config.json`` stores)."""
        return asdict(self)


def field_help() -> dict[str, str]:
    """``{field name: the comment after it}`` for every :class:`TrainConfig` field, in order."""
    found = dict(re.findall(r"^\s+(\w+): [^=]+=.*?  # (.*)$", inspect.getsource(TrainConfig),
                            flags=re.M))
    return {f.name: found.get(f.name, "") for f in fields(TrainConfig)}


def learning_rates(cfg: TrainConfig, first: int, n: int) -> np.ndarray:
    """Learning rates (n,) float64 of updates ``first``, ..., ``first + n - 1`` (1-based)."""
    u = np.arange(first, first + n, dtype=np.float64)
    if cfg.lr_schedule == "constant":
        return np.full(n, float(cfg.eta))
    w = cfg.warmup
    decay = np.clip((u - w) / max(1, cfg.n_updates - w), 0.0, 1.0)
    lr = cfg.eta * 0.5 * (1.0 + np.cos(np.pi * decay))
    if w:
        lr = np.where(u <= w, cfg.eta * u / w, lr)
    return lr


def changed_settings(saved: dict, wanted: dict, may_change=("n_updates",), names=None,
                     has: str = "the run has") -> list[str]:
    """The settings of ``wanted`` (name -> value) that differ from ``saved`` (a run's
    ``config.json``), except ``may_change``, each as ``"seed 9 (the run has 1)"``.

    ``names``: the settings compared; by default the :class:`TrainConfig` fields that both
    dicts hold. Given explicitly, a name missing on one side counts as a difference (its value
    shown as None). ``has`` words the other side (``"the run has"``)."""
    if names is None:
        names = [f.name for f in fields(TrainConfig) if f.name in wanted and f.name in saved]
    return [f"{k} {wanted.get(k)!r} ({has} {saved.get(k)!r})" for k in names
            if k not in may_change and saved.get(k) != wanted.get(k)]


def memory_parts(cfg: TrainConfig, n_chars: int, K: int) -> list[tuple[str, int, tuple]]:
    """What training ``cfg`` on a text of ``n_chars`` characters (K distinct) needs memory for,
    roughly (float64 and int64, 8 bytes each), as ``(what, bytes, settings that lower it)``: the
    encoded text and its temporaries; parameters, gradients, optimizer state and best-model copies
    (10 buffers of n = m (2K + m + 1) + K); one update's work arrays (T x B x (5 m + 4 K): U x + b,
    H, dA, dH, probabilities, the dU indicator); a chunk of training positions; the windowed
    validation's block of 1,024 windows; the longest sample while it is drawn
    (:data:`~charrnn.model.sampling.SAMPLE_BYTES_PER_CHAR` per character); the samples kept (one byte
    per character at least: n_updates // sample_every + 1 of sample_length, one of
    final_sample_length)."""
    m, T, B = cfg.m, cfg.seq_length, cfg.batch_size
    sl, fsl = cfg.sample_length, cfg.final_sample_length
    n_params = m * (2 * K + m + 1) + K
    longest, name = (sl, "sample_length") if sl >= fsl else (fsl, "final_sample_length")
    n_samples = cfg.n_updates // cfg.sample_every + 1
    parts = [
        (f"the encoded text ({n_chars:,} characters)", 24 * n_chars, ()),
        (f"the parameters, gradients and optimizer state (m = {m:,}, K = {K})",
         10 * 8 * n_params, ("m",)),
        (f"one update's arrays (m = {m:,}, batch_size = {B:,}, seq_length = {T:,}, K = {K})",
         8 * T * B * (5 * m + 4 * K) + 8 * B * m, ("m", "batch_size", "seq_length")),
        (f"the training positions (batch_size = {B:,})", 9 * 2000 * B + 8 * B * (T + 1),
         ("batch_size",)),
        (f"the validation windows (1,024 of seq_length = {T:,}; m = {m:,}, K = {K})",
         3 * 8 * 1024 * T * (m + K) if cfg.holdout else 0, ("m", "seq_length")),
        (f"drawing a sample of {name} = {longest:,} characters ({SAMPLE_BYTES_PER_CHAR} bytes "
         "each)", SAMPLE_BYTES_PER_CHAR * longest, (name,)),
        (f"the samples kept ({n_samples:,} of sample_length = {sl:,} characters and one of "
         f"final_sample_length = {fsl:,})", n_samples * sl + fsl,
         ("sample_length", "sample_every") if n_samples * sl >= fsl else ("final_sample_length",)),
    ]
    return parts


def memory_estimate(cfg: TrainConfig, n_chars: int, K: int) -> int:
    """Bytes that training ``cfg`` on a text of ``n_chars`` characters and K distinct ones needs,
    roughly: the sum of :func:`memory_parts`."""
    return sum(n for _, n, _ in memory_parts(cfg, n_chars, K))


def check_sizes(cfg: TrainConfig, n_chars: int, K: int, available: int | None = None) -> None:
    """Raise ``ValueError`` when ``cfg``'s sizes cannot work on a text of ``n_chars`` characters
    (K distinct): B streams that do not fit in the training text, chunks shorter than
    seq_length + 1, or a :func:`memory_estimate` above the memory available (``available`` bytes,
    by default MemAvailable), naming the largest parts of the estimate and their settings (see
    :func:`charrnn.util.checks.check_memory`). Cheap: it allocates nothing of those sizes."""
    s, B = cfg.seq_length, cfg.batch_size
    if cfg.holdout or cfg.order == "chunks":
        if cfg.n_chunks * (s + 1) > n_chars:
            raise ValueError(f"n_chunks = {plural(cfg.n_chunks, 'chunk')} of at least seq_length "
                             f"+ 1 = {s + 1} characters do not fit in the text's "
                             f"{plural(n_chars, 'character')} (at most {n_chars // (s + 1):,})")
    n_train = n_chars - (n_chars * cfg.holdout) // cfg.n_chunks
    if cfg.order == "sequential" and B * (s + 1) > n_train:
        most = max(1, n_train // (s + 1))
        raise ValueError(f"batch_size = {plural(B, 'stream')} of at least seq_length + 1 = {s + 1} "
                         f"characters do not fit in the {plural(n_train, 'training character')} "
                         f"(at most {plural(most, 'stream')})")
    check_memory(memory_parts(cfg, n_chars, K), available=available)
