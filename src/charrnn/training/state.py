"""The state of a training run: parameters, optimizer, hidden states, the best model so far.

``TrainState.flat`` (n,) float64 (or ``cfg.dtype``) holds b, c, U, W, V (``params`` are views into it, see
:func:`charrnn.model.rnn.param_views`); ``hprev`` (B, m) holds one hidden state per stream.

The best model is one :class:`Best` record per criterion:

* ``best_smooth``: the lowest smooth loss, tracked by the training loop at every update (both
  engines). Its parameters are those that produced that update's loss (before the step), saved
  with that update's hprev (m,) and first input character x0 (stream 0), so that synthesis from
  it starts where that update started.
* ``best_val``: the lowest validation loss among the evaluations, when the run validates
  (``holdout > 0`` and ``eval_every > 0``); its hprev and x0 are those of the next update.

:attr:`TrainState.best` is the saved best model: ``best_val`` when validating, else
``best_smooth``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..model.data import Vocabulary
from ..model.optim import make_optimizer
from ..model.rnn import init_params, param_views
from .config import TrainConfig

__all__ = ["Best", "TrainState", "TrainResult", "new_state", "SMOOTH_DECAY", "SMOOTH_WEIGHT"]

#: The handout's smooth loss, ``smooth_loss = SMOOTH_DECAY * smooth_loss + SMOOTH_WEIGHT * loss``
#: (initialised with the first loss), in both engines. Two constants, because in float64
#: ``1 - 0.999`` is not ``0.001``: the handout's sum, to the bit.
SMOOTH_DECAY, SMOOTH_WEIGHT = 0.999, 0.001


@dataclass
class Best:
    """A best model: ``flat`` (n,) parameters, ``hprev`` (m,), ``x0`` (first input index),
    ``update`` (updates done when it was taken; 0 = none yet), ``loss`` (its smooth or validation
    loss, nats per character or per sequence) and ``criterion`` ("smooth_loss" or "val_loss")."""

    flat: np.ndarray
    hprev: np.ndarray
    criterion: str
    x0: int = 0
    update: int = 0
    loss: float = float("inf")

    def meta(self) -> dict:
        """The scalar fields, JSON-able."""
        return {"criterion": self.criterion, "x0": int(self.x0), "update": int(self.update),
                "loss": float(self.loss)}


@dataclass
class TrainState:
    """The mutable state of a run (see the module docstring); ``update`` = updates done."""

    flat: np.ndarray
    params: dict
    optimizer: object
    hprev: np.ndarray
    best_smooth: Best
    best_val: Best | None = None
    update: int = 0
    smooth_loss: float = float("nan")

    @property
    def best(self) -> Best:
        """The saved best model: by validation loss when validating, else by smooth loss."""
        return self.best_val if self.best_val is not None else self.best_smooth


def new_state(cfg: TrainConfig, K: int, validating: bool = False) -> TrainState:
    """Fresh parameters (seeded by ``cfg.seed``, HANDOUT req. 4), optimizer, zero hprev (B, m)."""
    rng = np.random.default_rng(cfg.seed)
    dtype = np.dtype(cfg.dtype)
    flat, params = init_params(K, cfg.m, rng, cfg.init, cfg.sigma)  # drawn in float64
    if dtype != flat.dtype:
        flat = flat.astype(dtype)
        params = param_views(flat, K, cfg.m)
    opt = make_optimizer(cfg.optimizer, flat.size, cfg.eta, cfg.beta1, cfg.beta2, cfg.eps, dtype)
    best_val = Best(flat.copy(), np.zeros(cfg.m, dtype), "val_loss") if validating else None
    return TrainState(flat=flat, params=params, optimizer=opt,
                      hprev=np.zeros((cfg.batch_size, cfg.m), dtype),
                      best_smooth=Best(flat.copy(), np.zeros(cfg.m, dtype), "smooth_loss"),
                      best_val=best_val)


@dataclass
class TrainResult:
    """What training returns.

    ``history``: dict of equal-length arrays ``update`` (int), ``loss``, ``smooth_loss`` (nats per
    character, or per sequence for the sum loss) and ``epoch`` (int), one row every ``log_every``
    updates plus update 1. ``samples``: list of ``{"update": u, "text": str}``; ``final_sample``:
    str. ``metrics``: the numbers of ``metrics.json``. ``validation``: one dict per evaluation
    (update, chars, train_time_s, val_loss, val_loss_windowed), nats per character. The saved
    best model is ``state.best``.
    """

    config: TrainConfig
    vocab: Vocabulary
    state: TrainState
    history: dict
    samples: list
    final_sample: str
    metrics: dict = field(default_factory=dict)
    validation: list = field(default_factory=list)
    text_md5: str | None = None  # md5 of the text trained on (charrnn.model.data.text_md5)

    @property
    def best(self) -> Best:
        """The saved best model (see :mod:`charrnn.training.state`)."""
        return self.state.best

    @property
    def best_params(self) -> dict:
        """The saved best model's parameters: views b, c, U, W, V into a copy of its buffer."""
        return param_views(self.best.flat.copy(), self.vocab.K, self.config.m)
