"""Saved models: ``.npz`` files with the parameters, the vocabulary and a format version.

Keys: ``b (m,)``, ``c (K,)``, ``U (m, K)``, ``W (m, m)``, ``V (K, m)`` float64; ``hprev (m,)``
float64, the hidden state to start sampling from; ``x0`` int64 scalar, the first input index;
``vocab (K,)`` unicode ``<U1``; ``format_version`` int64; ``meta`` a JSON string (update,
smooth_loss, config). Everything loads with ``allow_pickle=False``: no pickle anywhere.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass

import numpy as np

from .data import Vocabulary
from .files import atomic_open
from .rnn import PARAM_NAMES, param_shapes

__all__ = ["FORMAT_VERSION", "Model", "save_model", "load_model", "check_vocab"]

FORMAT_VERSION = 1


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
        return len(self.params["b"])


def save_model(path, params, vocab: Vocabulary, hprev, x0: int = 0, meta: dict | None = None):
    """Write a model to ``path`` (.npz) atomically. Raises ``ValueError`` if anything is not
    finite (nothing is written then)."""
    arrays = {k: np.asarray(params[k], dtype=np.float64) for k in PARAM_NAMES}
    arrays["hprev"] = np.asarray(hprev, dtype=np.float64)
    for k, a in arrays.items():
        if not np.all(np.isfinite(a)):
            raise ValueError(f"refusing to save a model whose {k} holds non-finite values")
    arrays["x0"] = np.int64(x0)
    arrays["vocab"] = np.array(vocab.chars, dtype="<U1")
    arrays["format_version"] = np.int64(FORMAT_VERSION)
    arrays["meta"] = np.array(json.dumps(meta or {}, ensure_ascii=False))
    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)


def load_model(path) -> Model:
    """Load and validate a model saved by :func:`save_model`.

    Raises ``ValueError`` with one sentence when the file is missing, is not a readable ``.npz``
    (truncated or corrupted), lacks a key, has another format version, or holds arrays whose
    shapes do not fit one another or non-finite values.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"expected a checkpoint file but {path} is a directory")
    if not os.path.isfile(path):
        raise ValueError(f"checkpoint not found: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a readable charrnn checkpoint (not an .npz archive, "
                         "or truncated)")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise ValueError(f"{path} is not a readable charrnn checkpoint (truncated or corrupted?):"
                         f" {err}") from None
    need = set(PARAM_NAMES) | {"hprev", "x0", "vocab", "format_version"}
    missing = sorted(need - set(data))
    if missing:
        raise ValueError(f"{path} is not a charrnn model: missing {', '.join(missing)}")
    version = int(data["format_version"])
    if version != FORMAT_VERSION:
        raise ValueError(f"{path} has format version {version}; this charrnn reads "
                         f"version {FORMAT_VERSION}")
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
    meta = json.loads(str(data["meta"])) if "meta" in data else {}
    params = {k: data[k].astype(np.float64) for k in PARAM_NAMES}
    return Model(params, vocab, data["hprev"].astype(np.float64), x0, meta)


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
