"""Training: the handout's loop (HANDOUT reqs. 12-15) with Adam or AdaGrad, and its extensions.

One update: B sequences (B = ``batch_size``, 1 in the handout) of ``seq_length`` characters, at
the positions the training order gives (:mod:`charrnn.training.orders`; the handout's sequential order by
default), each from its stream's hidden state ``hprev`` (zeros at the start of an epoch or
chunk); forward and backward (:mod:`charrnn.model.rnn`), optional element-wise clipping, optimizer step
(:mod:`charrnn.model.optim`). ``smooth_loss = 0.999 smooth_loss + 0.001 loss``, initialised with the
first loss (:data:`charrnn.training.state.SMOOTH_DECAY`). The best models are described in
:mod:`charrnn.training.state`.

:meth:`Trainer.run` plans the run in chunks of updates, which an engine runs without returning
to Python (:func:`advance_numpy` here, or the compiled copy in :mod:`charrnn.training.engine`); between
chunks it calls the every-N hooks: samples (HANDOUT req. 15, 19: ``sample_length`` characters when
u updates are done, u = 0, sample_every, ..., from the next update's hprev and first input
character of stream 0), validation (:mod:`charrnn.model.evaluate`, every ``eval_every`` updates and at
the end), checkpoints, and the history (update 1 and every ``log_every``-th update). At the end
``final_sample_length`` characters are sampled from the best model.
"""

from __future__ import annotations

import contextlib
import math
import signal
import time

import numpy as np
from threadpoolctl import threadpool_limits

from ..model.data import Vocabulary, text_md5
from ..model.evaluate import stateful_loss, windowed_loss
from ..model.optim import clip_
from ..model.rnn import PARAM_NAMES, loss_and_grads, param_views
from ..model.sampling import synthesize
from ..util.checks import check_positive_int
from ..util.progress import progress_display
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig, check_sizes, learning_rates
from .orders import Reader, split_chunks
from .state import SMOOTH_DECAY, SMOOTH_WEIGHT, TrainResult, TrainState, new_state

__all__ = ["Trainer", "TrainingInterrupted", "TrainingDiverged", "advance_numpy", "train",
           "split_text", "resolve_engine", "CHUNK"]

CHUNK = 2000  # updates between returns to Python (signal checks, history, checkpoints)


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


def resolve_engine(cfg: TrainConfig) -> str:
    """The engine that runs ``cfg``: "auto" is numba for B = 1 in float64 (when importable),
    else NumPy."""
    if cfg.engine != "auto":
        return cfg.engine
    if cfg.batch_size != 1 or cfg.dtype != "float64":
        return "numpy"  # without importing numba (half a second), which could not run it
    from . import engine  # noqa: PLC0415 (numba: the compiled engine only when engine='numba')

    return "numba" if engine.available() else "numpy"


def split_text(n_chars: int, cfg: TrainConfig):
    """``(n_train, train_bounds)``: the training part is the text before the last
    ``cfg.holdout`` of ``cfg.n_chunks`` chunks; ``train_bounds`` are its chunks' boundaries."""
    bounds = split_chunks(n_chars, cfg.n_chunks)
    n_train = int(bounds[cfg.n_chunks - cfg.holdout]) if cfg.holdout else n_chars
    return n_train, bounds[: cfg.n_chunks - cfg.holdout + 1]


def split_heldout(n_chars: int, n_train: int, test_fraction: float) -> int:
    """Where the test text starts: the held-out characters ``[n_train, n_chars)`` are the
    validation text ``[n_train, n_test)`` and the test text ``[n_test, n_chars)``, its last
    ``test_fraction`` (rounded down; ``n_chars`` when 0)."""
    return n_chars - int((n_chars - n_train) * test_fraction)


def advance_numpy(state: TrainState, book: np.ndarray, cfg: TrainConfig, starts, resets,
                  etas, loss_out: np.ndarray, smooth_out: np.ndarray,
                  gnorm_out: np.ndarray) -> None:
    """Run ``len(starts)`` updates of ``state`` with the readable NumPy code.

    ``starts``, ``resets`` (n, B) from :class:`charrnn.training.orders.Reader`; ``etas`` (n,) learning
    rates; writes each update's loss, smooth loss and gradient norm (the L2 norm of the whole
    gradient, before clipping) into ``loss_out``, ``smooth_out``, ``gnorm_out`` (n,) and keeps
    ``state.best_smooth``. The compiled :func:`charrnn.training.engine.advance` has this contract.
    """
    offsets = np.arange(cfg.seq_length + 1)
    best = state.best_smooth
    for i in range(len(starts)):
        state.hprev[resets[i]] = 0.0  # a new epoch or chunk starts from h = 0 (HANDOUT req. 13)
        win = book[starts[i][:, None] + offsets]  # (B, seq_length + 1)
        loss, grads, h_last = loss_and_grads(state.params, win[:, :-1].T, win[:, 1:].T,
                                             state.hprev, cfg.loss)
        loss = float(loss)  # a Python float whatever the dtype (exact for float64)
        g = np.concatenate([grads[k].ravel() for k in PARAM_NAMES])
        g64 = g.astype(np.float64, copy=False)
        gnorm_out[i] = math.sqrt(float(np.dot(g64, g64)))
        clip_(g, cfg.grad_clip)
        smooth = (loss if state.update == 0
                  else SMOOTH_DECAY * state.smooth_loss + SMOOTH_WEIGHT * loss)
        state.smooth_loss = smooth
        if smooth < best.loss:
            best.loss, best.x0, best.update = smooth, int(win[0, 0]), state.update + 1
            best.flat[...] = state.flat
            best.hprev[...] = state.hprev[0]
        state.optimizer.eta = float(etas[i])  # a Python float keeps float32 runs in float32
        state.optimizer.step(state.flat, g)
        state.hprev[...] = h_last
        state.update += 1
        loss_out[i] = loss
        smooth_out[i] = smooth


class Trainer:
    """One training run, resumable: :meth:`run` trains to ``config.n_updates``;
    :func:`charrnn.training.checkpoint.save_checkpoint` and :meth:`from_checkpoint` write and read
    everything needed to continue bit-identically.

    ``text`` (str) is the whole text; with ``holdout`` its last chunks are the validation text.
    Raises ``ValueError`` for an invalid config or a text too short for it, before any work.
    """

    def __init__(self, text: str, config: TrainConfig):
        cfg = config.validate()
        if not isinstance(text, str):
            raise ValueError(f"text must be a str, got {type(text).__name__}")
        if len(text) < cfg.seq_length + 1:
            raise ValueError(f"text of {len(text)} characters is shorter than seq_length + 1 = "
                             f"{cfg.seq_length + 1}")
        self.cfg = cfg
        self.vocab = Vocabulary.from_text(text)
        check_sizes(cfg, len(text), self.vocab.K)  # before anything of their size is allocated
        self.text_md5 = text_md5(text)
        self.book = self.vocab.encode(text)
        s, B = cfg.seq_length, cfg.batch_size
        self.n_train, train_bounds = split_text(len(self.book), cfg)
        n_test = split_heldout(len(self.book), self.n_train, cfg.test_fraction)
        self.val, self.test = self.book[self.n_train:n_test], self.book[n_test:]
        if cfg.holdout and len(self.val) < s + 1:
            raise ValueError(f"the held-out chunk has {len(self.val)} characters; it needs at "
                             f"least seq_length + 1 = {s + 1}")
        if cfg.test_fraction and len(self.test) < s + 1:
            raise ValueError(f"the test text (the last {cfg.test_fraction:g} of the held-out "
                             f"chunk) has {len(self.test)} characters; it needs at least "
                             f"seq_length + 1 = {s + 1}")
        self.reader = Reader(self.n_train, s, B, cfg.order, train_bounds, cfg.seed)
        self.per_epoch = self.reader.updates_per_epoch
        self.engine = resolve_engine(cfg)
        self.validating = bool(cfg.holdout and cfg.eval_every)
        self.state = new_state(cfg, self.vocab.K, self.validating)
        self.sample_rng = np.random.default_rng([cfg.seed, 1])
        self.validation: list[dict] = []
        self.hist = {"update": [], "loss": [], "smooth_loss": [], "grad_norm": [], "epoch": []}
        #: the largest gradient norm (before clipping) of any update so far, and that update
        self.grad_norm_max = {"norm": 0.0, "update": 0}
        self.samples: list[dict] = []
        self.train_time = self.side_time = self.compile_time = 0.0
        self.stop_requested = False
        self.last_checkpoint_update = None

    @classmethod
    def from_checkpoint(cls, path, text: str, n_updates: int | None = None) -> Trainer:
        """A Trainer continuing the checkpoint at ``path`` on ``text``; ``n_updates`` may raise
        the run's length. Raises ``ValueError`` as :func:`charrnn.training.checkpoint.load_checkpoint`."""
        return load_checkpoint(cls, path, text, n_updates)

    def _bests(self) -> dict:
        st = self.state
        return {"smooth": st.best_smooth, **({"val": st.best_val} if st.best_val is not None
                                             else {})}

    def state_dict(self) -> dict:
        """Everything needed to continue this run bit-identically (PyTorch's convention):
        ``{"meta": JSON-able dict, "arrays": {name: ndarray}}``. ``meta``: the config, the text's
        md5, the update count, smooth loss, the optimizer's step, the training order's and the
        sampling generator's states, the best models' scalars, validation rows, samples, history
        and training time; ``arrays``: ``flat`` (n,), ``hprev_all`` (B, m), the best models'
        ``best_*_flat`` and ``best_*_hprev``, and the optimizer's ``opt_*``."""
        st, opt = self.state, self.state.optimizer
        meta = {"config": self.cfg.to_dict(), "text_md5": self.text_md5, "update": st.update,
                "smooth_loss": st.smooth_loss, "opt_t": opt.t, "reader": self.reader.state(),
                "sample_rng": self.sample_rng.bit_generator.state,
                "best": {k: b.meta() for k, b in self._bests().items()},
                "validation": self.validation, "samples": self.samples,
                "history": self.hist, "grad_norm_max": self.grad_norm_max,
                "train_time": self.train_time}
        arrays = {"flat": st.flat, "hprev_all": st.hprev}
        for k, b in self._bests().items():
            arrays[f"best_{k}_flat"], arrays[f"best_{k}_hprev"] = b.flat, b.hprev
        arrays.update({f"opt_{k}": v for k, v in opt.state().items()})
        return {"meta": meta, "arrays": arrays}

    def load_state_dict(self, state: dict) -> None:
        """Continue from a :meth:`state_dict` of a run of the same config and text (the caller
        checks them: :func:`charrnn.training.checkpoint.load_checkpoint`)."""
        meta, arrays, st = state["meta"], state["arrays"], self.state
        st.flat[...] = arrays["flat"]
        st.hprev[...] = arrays["hprev_all"]
        st.update, st.smooth_loss = int(meta["update"]), float(meta["smooth_loss"])
        for k, b in self._bests().items():
            b.flat[...], b.hprev[...] = arrays[f"best_{k}_flat"], arrays[f"best_{k}_hprev"]
            saved = meta["best"][k]
            b.x0, b.update, b.loss = int(saved["x0"]), int(saved["update"]), float(saved["loss"])
        st.optimizer.load_state({k[4:]: v for k, v in arrays.items() if k.startswith("opt_")})
        self.reader.load_state(meta["reader"])
        self.sample_rng.bit_generator.state = meta["sample_rng"]
        self.validation, self.samples = meta["validation"], meta["samples"]
        self.hist = {k: list(v) for k, v in meta["history"].items()}
        self.grad_norm_max = dict(meta["grad_norm_max"])
        self.train_time = float(meta["train_time"])
        self.last_checkpoint_update = st.update

    def save(self, path) -> None:
        """Write the whole state to ``path`` (see :func:`charrnn.training.checkpoint.save_checkpoint`)."""
        save_checkpoint(path, self)
        self.last_checkpoint_update = self.state.update

    def next_window(self):
        """``(h0 (m,), x0)``: stream 0's hidden state and first input of the next update."""
        start, reset = self.reader.peek()
        return (np.zeros(self.cfg.m) if reset else self.state.hprev[0].copy()), \
            int(self.book[start])

    # ------------------------------------------------------------------ the hooks
    def _sample(self, u: int) -> None:
        if any(x["update"] == u for x in self.samples):
            return
        h0, x0 = self.next_window()
        cfg = self.cfg
        idx = synthesize(self.state.params, h0, x0, cfg.sample_length, self.sample_rng,
                         cfg.temperature, cfg.top_p)
        self.samples.append({"update": u, "text": self.vocab.decode(idx)})

    def _validate(self, u: int) -> None:
        if u == 0 or any(r["update"] == u for r in self.validation):
            return
        st, cfg = self.state, self.cfg
        vl = stateful_loss(st.params, self.val)
        vw = windowed_loss(st.params, self.val, cfg.seq_length)
        self.validation.append({"update": u, "chars": u * cfg.seq_length * cfg.batch_size,
                                "train_time_s": self.train_time, "val_loss": vl,
                                "val_loss_windowed": vw})
        best = st.best_val
        if vl < best.loss:
            h0, best.x0 = self.next_window()
            best.loss, best.update = vl, u
            best.hprev[...] = h0
            best.flat[...] = st.flat

    def _log(self, u: int, losses, smooths, gnorms, epochs) -> None:
        """History rows for updates u + 1, ..., u + n: update 1 and every log_every-th."""
        for i in range(len(losses)):
            v = u + 1 + i
            if v == 1 or v % self.cfg.log_every == 0:
                self.hist["update"].append(v)
                self.hist["loss"].append(float(losses[i]))
                self.hist["smooth_loss"].append(float(smooths[i]))
                self.hist["grad_norm"].append(float(gnorms[i]))
                self.hist["epoch"].append(int(epochs[i]))

    # ------------------------------------------------------------------ training
    def run(self, progress: bool | str = False, checkpoint=None, checkpoint_every: int = 10_000,
            handle_signals: bool = False, stop_at: int | None = None) -> TrainResult:
        """Train until ``config.n_updates``; return the :class:`~charrnn.training.state.TrainResult`.

        ``progress``: True shows a tqdm bar; a string shows
        :class:`~charrnn.util.progress.ProgressLines` with that label (for jobs that share a terminal,
        as under ``make -j``).

        With ``checkpoint`` (a path), the state is saved there every ``checkpoint_every``
        updates and at the end. With ``handle_signals``, Ctrl-C and SIGTERM stop training at
        the next chunk boundary (at most a few seconds), save the checkpoint and raise
        :class:`TrainingInterrupted`. ``stop_at`` stops the same way once that many updates are
        done (for tests of resuming). A non-finite loss raises :class:`TrainingDiverged`; the
        checkpoint on disk is then the last good one.
        """
        cfg, st = self.cfg, self.state
        checkpoint_every = check_positive_int("checkpoint_every", checkpoint_every)
        advance = self._engine()

        def save(u):
            if checkpoint is not None and u > 0 and self.last_checkpoint_update != u:
                self.save(checkpoint)

        # (every, hook, also at the last update): each hook runs when u is a multiple of every
        hooks = [(cfg.sample_every, self._sample, False)]
        if self.validating:
            hooks.append((cfg.eval_every, self._validate, True))
        hooks.append((checkpoint_every, save, False))
        with self._signals(handle_signals), \
                threadpool_limits(limits=cfg.blas_threads, user_api="blas"), \
                progress_display(progress, cfg.n_updates, st.update) as bar:
            while True:
                u = st.update
                for every, hook, at_end in hooks:
                    if u % every == 0 or (at_end and u == cfg.n_updates):
                        ts = time.perf_counter()
                        hook(u)
                        if hook is not save:
                            self.side_time += time.perf_counter() - ts
                if u >= cfg.n_updates:
                    break
                if self.stop_requested or (stop_at is not None and u >= stop_at):
                    if checkpoint is not None and self.last_checkpoint_update != u:
                        self.save(checkpoint)
                    raise TrainingInterrupted(u, checkpoint)
                stops = [cfg.n_updates, u + CHUNK] + [(u // every + 1) * every
                                                      for every, _, _ in hooks]
                if stop_at is not None and stop_at > u:
                    stops.append(stop_at)
                self._chunk(advance, min(stops) - u)
                if bar is not None:
                    bar.set_postfix(smooth_loss=f"{st.smooth_loss:.4f}", refresh=False)
                    bar.update(st.update - u)
        if checkpoint is not None and self.last_checkpoint_update != st.update:
            self.save(checkpoint)
        return self.result()

    def _engine(self):
        if self.engine != "numba":
            return advance_numpy
        from . import engine  # noqa: PLC0415 (numba: the compiled engine only when engine='numba')

        engine.require()
        self.compile_time = engine.compile_engine()
        return engine.advance

    def _chunk(self, advance, n: int) -> None:
        """Run the next ``n`` updates; raise :class:`TrainingDiverged` on a non-finite loss."""
        st, u = self.state, self.state.update
        losses, smooths, gnorms = np.empty(n), np.empty(n), np.empty(n)
        reader_before = self.reader.state()
        starts, resets, epochs = self.reader.next(n)
        etas = learning_rates(self.cfg, u + 1, n)
        t0 = time.perf_counter()
        advance(st, self.book, self.cfg, starts, resets, etas, losses, smooths, gnorms)
        self.train_time += time.perf_counter() - t0
        bad = ~np.isfinite(losses)
        if bad.any() or not np.all(np.isfinite(st.flat)):
            first = u + 1 + int(np.argmax(bad)) if bad.any() else u + n
            self.reader.load_state(reader_before)
            raise TrainingDiverged(first, self.last_checkpoint_update)
        self._log(u, losses, smooths, gnorms, epochs)
        top = int(np.argmax(gnorms))
        if gnorms[top] > self.grad_norm_max["norm"]:
            self.grad_norm_max = {"norm": float(gnorms[top]), "update": u + 1 + top}

    @contextlib.contextmanager
    def _signals(self, enabled: bool):
        """Ctrl-C and SIGTERM set ``stop_requested`` instead of killing the run."""
        def stop(signum, frame):
            self.stop_requested = True

        handlers = {}
        if enabled:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(ValueError):  # not in the main thread
                    handlers[sig] = signal.signal(sig, stop)
        try:
            yield
        finally:
            for sig, h in handlers.items():
                signal.signal(sig, h)

    def result(self) -> TrainResult:
        """The :class:`~charrnn.training.state.TrainResult` of the run so far (samples the final
        passage from the best model without consuming the sampling generator)."""
        cfg, st = self.cfg, self.state
        best = st.best
        rng = np.random.default_rng()
        rng.bit_generator.state = self.sample_rng.bit_generator.state  # do not consume it
        final = self.vocab.decode(synthesize(param_views(best.flat, self.vocab.K, cfg.m),
                                             best.hprev, best.x0, cfg.final_sample_length, rng,
                                             cfg.temperature, cfg.top_p))
        history = {k: np.asarray(v, dtype=np.float64 if k in ("loss", "smooth_loss", "grad_norm")
                                 else np.int64) for k, v in self.hist.items()}
        wall, s, B = self.train_time, cfg.seq_length, cfg.batch_size
        metrics = {
            "K": self.vocab.K, "n_chars": len(self.book), "n_train_chars": self.n_train,
            "updates_per_epoch": self.per_epoch, "n_updates": st.update,
            "epochs": st.update / self.per_epoch,
            "best_smooth_loss": float(st.best_smooth.loss),
            "best_update": int(st.best_smooth.update),
            "final_smooth_loss": float(st.smooth_loss), "wall_time_s": wall,
            "updates_per_s": st.update / wall if wall > 0 else float("inf"),
            "chars_per_s": st.update * s * B / wall if wall > 0 else float("inf"),
            "sample_and_eval_time_s": self.side_time, "compile_time_s": self.compile_time,
            "seed": cfg.seed, "preset": cfg.preset, "engine": self.engine,
            "best_model": best.criterion,
            "max_grad_norm": self.grad_norm_max["norm"],
            "max_grad_norm_update": self.grad_norm_max["update"],
        }
        if self.validation:
            vbest = min(self.validation, key=lambda r: r["val_loss"])
            metrics.update(best_val_loss=vbest["val_loss"], best_val_update=vbest["update"],
                           best_val_bits_per_char=vbest["val_loss"] / np.log(2),
                           final_val_loss=self.validation[-1]["val_loss"],
                           final_val_loss_windowed=self.validation[-1]["val_loss_windowed"])
        if cfg.test_fraction and st.best_val is not None:  # once, for the model validation chose
            chosen = param_views(st.best_val.flat, self.vocab.K, cfg.m)
            test = stateful_loss(chosen, self.test)
            metrics.update(test_loss=test, test_bits_per_char=test / np.log(2),
                           test_loss_windowed=windowed_loss(chosen, self.test, s),
                           n_val_chars=len(self.val), n_test_chars=len(self.test),
                           test_start=len(self.book) - len(self.test))
        return TrainResult(cfg, self.vocab, st, history, list(self.samples), final, metrics,
                           list(self.validation), self.text_md5)


def train(text: str, config: TrainConfig, progress: bool | str = False) -> TrainResult:
    """Train the RNN on ``text`` (str) with ``config``; return a
    :class:`~charrnn.training.state.TrainResult`.

    Deterministic: the same text and config give the same numbers to the bit. Sampling uses its
    own generator ``default_rng([seed, 1])`` and the training order ``default_rng([seed, 2])``,
    so samples never shift the training numbers. ``progress`` shows a tqdm bar, or lines with
    that label (a str); both off when ``TQDM_DISABLE=1``. Raises ``ValueError`` for an invalid
    config or a text too short for it, before any work is done; :class:`TrainingDiverged` when
    the loss becomes non-finite. For checkpoints and resuming, use :class:`Trainer`.
    """
    return Trainer(text, config).run(progress=progress)
