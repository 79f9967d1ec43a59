"""Every file format of charrnn: models (``best.npz``) and training checkpoints
(``checkpoint.npz``), ``.npz`` archives under one format version, loaded with
``allow_pickle=False`` (no pickle anywhere).

A **model** file holds: ``b (m,)``, ``c (K,)``, ``U (m, K)``, ``W (m, m)``, ``V (K, m)`` float64;
``hprev (m,)`` float64, the hidden state to start sampling from; ``x0`` int64 scalar, the first
input index; ``vocab (K,)`` unicode ``<U1``; ``format_version`` int64; ``meta`` a JSON string
(update, criterion, loss, smooth_loss, config).

A **checkpoint** is a model file too (its parameters are the current ones, hprev and x0 those of
the next update, so ``sample`` and ``evaluate`` accept it) plus everything needed to continue
training bit-identically: ``flat`` (n,), ``hprev_all (B, m)``, the best models' ``best_smooth_*``
and ``best_val_*`` arrays, the optimizer state ``opt_*``, and in ``meta`` the config, the text's
md5, the update count, smooth loss, the training order's and the sampling generator's states,
the best models' scalars, history, samples and validation rows.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass

import numpy as np

from ..model.data import Vocabulary
from ..model.rnn import PARAM_NAMES, param_shapes
from ..util.checks import check_positive_int
from ..util.files import atomic_open, check_regular_file
from .config import TrainConfig

__all__ = ["FORMAT_VERSION", "Model", "save_model", "load_model", "check_vocab",
           "save_checkpoint", "checkpoint_meta", "load_checkpoint"]

#: Version of both file kinds; 1 was charrnn 0.1's (separate model and checkpoint layouts).
FORMAT_VERSION = 2


@dataclass
class Model:
    """A loaded model: ``params`` dict of float64 arrays, ``vocab``, ``hprev (m,)``, ``x0``,
    ``meta`` dict."""

    params: dict
    vocab: Vocabulary
    hprev: np.ndarray
    x0: int
    meta: dict

    @property
    def m(self) -> int:
        """Hidden units m."""
        return len(self.params["b"])


def _model_arrays(params, vocab: Vocabulary, hprev, x0: int, meta: dict | None) -> dict:
    arrays = {k: np.asarray(params[k], dtype=np.float64) for k in PARAM_NAMES}
    arrays["hprev"] = np.asarray(hprev, dtype=np.float64)
    arrays["x0"] = np.int64(x0)
    arrays["vocab"] = np.array(vocab.chars, dtype="<U1")
    arrays["format_version"] = np.int64(FORMAT_VERSION)
    arrays["meta"] = np.array(json.dumps(meta or {}, ensure_ascii=False, allow_nan=True))
    return arrays


def _write(path, arrays: dict) -> None:
    for k, a in arrays.items():
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise ValueError(f"refusing to write {os.fspath(path)}: its {k} holds non-finite "
                             "values")
    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)


def save_model(path, params, vocab: Vocabulary, hprev, x0: int = 0, meta: dict | None = None):
    """Write a model to ``path`` (.npz) atomically. Raises ``ValueError`` if anything is not
    finite (nothing is written then)."""
    _write(path, _model_arrays(params, vocab, hprev, x0, meta))


def _read(path) -> dict:
    """The arrays of a charrnn ``.npz`` of this format version, or one ``ValueError``."""
    path = check_regular_file(path, "checkpoint")  # not found, a directory, a FIFO, a device
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a readable charrnn checkpoint (not an .npz archive, "
                         "or truncated)")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        meta = json.loads(str(data["meta"])) if "meta" in data else {}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise ValueError(f"{path} is not a readable charrnn checkpoint (truncated or corrupted?):"
                         f" {err}") from None
    version = int(data["format_version"]) if "format_version" in data \
        else meta.get("version") if isinstance(meta, dict) else None
    if version is not None and version != FORMAT_VERSION:
        raise ValueError(f"{path} was made by an older charrnn (format version {version}); "
                         f"this charrnn reads version {FORMAT_VERSION}: train again, or use the "
                         "charrnn that wrote it")
    need = set(PARAM_NAMES) | {"hprev", "x0", "vocab", "format_version"}
    missing = sorted(need - set(data))
    if missing:
        raise ValueError(f"{path} is not a charrnn model: missing {', '.join(missing)}")
    data["meta"] = meta
    return data


def load_model(path) -> Model:
    """Load and validate a model: a ``best.npz`` or a ``checkpoint.npz`` (its current parameters).

    Raises ``ValueError`` with one sentence when the file is missing, is not a readable ``.npz``
    (truncated or corrupted), lacks a key, has another format version, or holds arrays whose
    shapes do not fit one another or non-finite values.
    """
    path = os.fspath(path)
    data = _read(path)
    try:
        vocab = Vocabulary(tuple(str(c) for c in data["vocab"]))
    except ValueError as err:
        raise ValueError(f"{path} has a broken vocabulary: {err}") from None
    m = data["b"].shape[0] if data["b"].ndim == 1 else -1
    expected = param_shapes(vocab.K, m)
    for k in PARAM_NAMES:
        if data[k].shape != expected[k]:
            raise ValueError(f"{path}: {k} has shape {data[k].shape}, expected {expected[k]} "
                             f"for K = {vocab.K}, m = {m}")
    if data["hprev"].shape != (m,):
        raise ValueError(f"{path}: hprev has shape {data['hprev'].shape}, expected ({m},)")
    for k in (*PARAM_NAMES, "hprev"):
        if data[k].dtype.kind != "f":
            raise ValueError(f"{path}: {k} holds {data[k].dtype} values, not floats")
        if not np.all(np.isfinite(data[k])):
            raise ValueError(f"{path}: {k} holds non-finite values")
    x0 = int(data["x0"])
    if not 0 <= x0 < vocab.K:
        raise ValueError(f"{path}: x0 = {x0} is outside the vocabulary (K = {vocab.K})")
    params = {k: data[k].astype(np.float64) for k in PARAM_NAMES}
    return Model(params, vocab, data["hprev"].astype(np.float64), x0, data["meta"])


def check_vocab(model_vocab: Vocabulary, text_vocab: Vocabulary, what: str = "checkpoint") -> None:
    """Raise ``ValueError`` naming the differing characters unless the vocabularies are equal."""
    only_model, only_text = model_vocab.difference(text_vocab)
    if only_model or only_text:
        parts = []
        if only_text:
            parts.append("the text has " + ", ".join(repr(c) for c in only_text)
                         + f" that the {what} lacks")
        if only_model:
            parts.append(f"the {what} has " + ", ".join(repr(c) for c in only_model)
                         + " that the text lacks")
        raise ValueError(f"vocabulary mismatch: {'; '.join(parts)}")


def save_checkpoint(path, trainer) -> None:
    """Write a :class:`charrnn.training.train.Trainer`'s :meth:`~charrnn.training.train.Trainer.state_dict` to
    ``path`` atomically, as a model of its current parameters (hprev and x0 of the next update)
    plus the training state's arrays, its scalars in ``meta``."""
    state = trainer.state_dict()
    h0, x0 = trainer.next_window()
    arrays = _model_arrays(trainer.state.params, trainer.vocab, h0, x0, state["meta"])
    arrays.update({k: np.asarray(v) for k, v in state["arrays"].items()})
    _write(path, arrays)


def checkpoint_meta(path) -> dict:
    """The ``meta`` of the training checkpoint at ``path``: its ``config`` (the TrainConfig
    fields), ``text_md5``, ``update`` (updates done) and the rest (see the module docstring).
    Raises ``ValueError`` as :func:`load_checkpoint` when the file is not a readable checkpoint
    of this version, or is a model without training state."""
    data = _read(path)
    meta = data["meta"]
    if "flat" not in data or not isinstance(meta, dict) or "config" not in meta:
        raise ValueError(f"{os.fspath(path)} is a model, not a training checkpoint")
    return meta


def load_checkpoint(trainer_cls, path, text: str, n_updates: int | None = None):
    """A ``trainer_cls`` (:class:`charrnn.training.train.Trainer`) continuing the checkpoint at ``path``
    on ``text``. ``n_updates`` may raise the run's length.

    Raises ``ValueError`` when the file is not a readable checkpoint of this version, or ``text``
    is not the text it was trained on (naming the characters when the vocabularies differ).
    """
    data = _read(path)
    meta = data["meta"]
    if "flat" not in data or "config" not in meta:
        raise ValueError(f"{os.fspath(path)} is a model, not a training checkpoint")
    if "grad_norm_max" not in meta:
        raise ValueError(f"{os.fspath(path)} was written by an older charrnn (no gradient-norm "
                         "record): train again, or resume with the charrnn that wrote it")
    check_vocab(Vocabulary(tuple(str(c) for c in data["vocab"])), Vocabulary.from_text(text))
    config = dict(meta["config"])
    if n_updates is not None:
        check_positive_int("n_updates", n_updates)
        if n_updates < meta["update"]:
            raise ValueError(f"n_updates = {n_updates} is below the {meta['update']} "
                             "updates the checkpoint has done")
        config["n_updates"] = n_updates
    self = trainer_cls(text, TrainConfig(**config))
    if self.text_md5 != meta["text_md5"]:
        raise ValueError("the text differs from the one this run was trained on (same "
                         "characters, other content); resume with the same --data file")
    model_keys = {*PARAM_NAMES, "hprev", "x0", "vocab", "format_version", "meta"}
    self.load_state_dict({"meta": meta, "arrays": {k: v for k, v in data.items()
                                                   if k not in model_keys}})
    return self
