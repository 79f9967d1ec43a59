"""What the hidden units learned: text features, the unit that tracks each, linear probes.

After Karpathy, Johnson & Fei-Fei, "Visualizing and Understanding Recurrent Networks" (arXiv
1506.02078, 2015), sections 4.2-4.4: run the model over a text with the state carried, label
every character with a property of the text (inside a quotation, position in the line, ...), and
ask which single hidden unit predicts the label best and how well a linear read-out of all units
does. The analysis takes any activations ``A (N, n)``, so it works for other models' states too
(:func:`baseline_unit_report`: the LSTM's h_t and c_t, the GRU's h_t).

Alignment: character t of the text is the input x_t; ``H[t]`` is h_t, the state just after the
model has read x_t (eqs. 1-2 of :mod:`charrnn.model.rnn`). Every label of character t describes the text
up to and including x_t (``next_upper`` alone looks one character ahead: it is what h_t has to
predict).

Scores (computed by :mod:`charrnn.studies.probes`):

* 0/1 features: ROC AUC of one unit's activation as a score for the label. A unit can track a
  feature with either sign: the unit and its ``sign`` (+1 when high activations mean label 1) are
  the ones with the largest max(AUC, 1 - AUC) on the first half of the characters, and its score
  is the AUC of that signed unit on the second half (below 0.5 when the sign does not hold there).
* numeric features: Pearson r; the unit and the sign of r are chosen by |r| on the first half,
  the score is sign x r on the second half.
* probe: the best linear read-out of all n units, fitted on the first half of the characters and
  scored on the second (AUC or r), as the single unit is chosen on one half and scored on the other.

Controls (:func:`unit_report`, ``"controls"``): the same table for the untrained network, the
parameters training starts from (same shape, seed and initialisation, drawn by
:func:`charrnn.training.state.new_state`) run over the same characters, and a probe on the
one-hot input x_t alone (:func:`input_only`): how much of each feature the current character
tells without any memory.
* saturation (paper's Fig. 5): for each unit, the fraction of characters with h < -0.99 (left)
  and h > 0.99 (right).

The plain-text table and the heat maps are drawn by :mod:`charrnn.report.unitviz`.
"""

from __future__ import annotations

import numpy as np

from ..model.rnn import stateful_pass
from ..training.config import TrainConfig
from ..training.orders import split_chunks
from ..training.state import new_state
from ..util.checks import check_positive_int
from .probes import auc_per_unit, pearson_per_unit, probe_score

__all__ = ["FEATURES", "SATURATION", "hidden_states", "text_features", "saturation", "analyze",
           "pick_passage", "analysis_part", "states_report", "unit_report", "baseline_unit_report",
           "untrained_params", "one_hot", "input_only"]

#: The features, in table order: name -> (kind, meaning). See :func:`text_features`.
FEATURES: dict[str, tuple[str, str]] = {
    "quote": ("binary", 'inside a double quotation (toggled by each ", reset at each newline)'),
    "line_position": ("numeric", "characters since the last newline"),
    "in_word": ("binary", "a letter or digit (not a space or punctuation)"),
    "sentence_start": ("binary", "first character of a sentence"),
    "next_upper": ("binary", "the next character is upper case"),
    "paren": ("binary", "inside parentheses (reset at each newline)"),
}

#: |h| above this counts as saturated.
SATURATION = 0.99


def hidden_states(params, indices, h0=None, block: int = 4096) -> np.ndarray:
    """Hidden states ``H (N, m)`` float64 of the model run statefully over ``indices``.

    ``indices`` int (N,), the text's character indices; the run starts from ``h0`` (m,) (default
    zeros) and carries h from each character to the next: ``H[t]`` = h_t = tanh(W h_{t-1} + U x_t
    + b) (eqs. 1-2, :func:`charrnn.model.rnn.stateful_pass`), the state after reading ``indices[t]``;
    memory beyond H is one block of ``block`` x m floats. Raises
    ``ValueError`` for no indices or a non-positive block.
    """

    check_positive_int("block", block)
    indices = np.asarray(indices)
    if indices.ndim != 1 or len(indices) == 0:
        raise ValueError("hidden_states needs a non-empty 1-D array of character indices")
    H = np.empty((len(indices), len(params["b"])))
    for start, Hb in stateful_pass(params, indices, h0, block):
        H[start : start + len(Hb)] = Hb
    return H


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _char_test(codes: np.ndarray, test) -> np.ndarray:
    """``test(ch)`` for every character, evaluated once per distinct character: bool (N,)."""
    uniq, inv = np.unique(codes, return_inverse=True)
    return np.array([test(chr(c)) for c in uniq], dtype=bool)[inv.reshape(-1)]


def text_features(text: str) -> dict[str, np.ndarray]:
    """Labels of every character of ``text`` (length N), computed from the text alone.

    Returns ``{name: labels (N,)}`` in :data:`FEATURES` order; 0/1 features are int8, the numeric
    one int64. The label of character t describes the state after reading text[t] (see the module
    docstring); the text is taken to start just after a newline. With the quotation's state ``q``
    and the parenthesis depth ``d`` updated by text[t] first:

    * ``quote``: 1 when an odd number of ``"`` lie between the last newline and text[t],
      text[t] included: the opening ``"`` and the characters after it are 1, the closing ``"`` is 0;
      a newline is 0 and resets the count (in the book a line is a paragraph, and speech running
      on into the next paragraph opens it with a new ``"``).
    * ``line_position``: characters read since the last newline: a newline is 0, the character
      after it 1, text[0] is 1.
    * ``in_word``: text[t] is a letter or digit (``str.isalnum``); spaces, punctuation (the
      apostrophe included), tabs and newlines are 0.
    * ``sentence_start``: text[t] is a letter or digit, and going back from text[t - 1] over
      spaces, tabs, ``(`` and opening ``"`` (those with ``quote`` 1) one reaches the start of the
      text, a newline, or one of ``. ! ?``. Abbreviations count ("Mr. Crouch": the C is 1); a
      closing ``"`` ends the look-back (in '"Why?" said Harry' the s is 0).
    * ``next_upper``: text[t + 1] is upper case (``str.isupper``); 0 for the last character.
    * ``paren``: the depth of parentheses, +1 at ``(``, -1 at ``)`` (never below 0), reset to 0
      at each newline, is positive after text[t]: ``(`` is 1, a ``)`` that closes the last one is
      0.
    """
    codes = _codes(text)
    N = len(codes)
    t = np.arange(N)
    is_nl = codes == ord("\n")
    last_nl = np.maximum.accumulate(np.where(is_nl, t, -1)) if N else t  # (N,): -1 before any
    line_position = (t - last_nl).astype(np.int64)
    cq = np.cumsum(codes == ord('"'))
    base = np.where(last_nl >= 0, cq[np.maximum(last_nl, 0)], 0)
    quote = ((cq - base) % 2).astype(np.int8)
    alnum = _char_test(codes, str.isalnum) if N else np.zeros(0, dtype=bool)
    upper = _char_test(codes, str.isupper) if N else np.zeros(0, dtype=bool)
    next_upper = np.zeros(N, dtype=np.int8)
    next_upper[:-1] = upper[1:]
    paren = np.zeros(N, dtype=np.int8)
    sentence_start = np.zeros(N, dtype=np.int8)
    depth, boundary = 0, True  # boundary: the look-back from the next character ends at a start
    for i, ch in enumerate(text):
        sentence_start[i] = alnum[i] and boundary
        if ch == "\n":
            depth, boundary = 0, True
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(depth - 1, 0)
        paren[i] = depth > 0
        if not (ch in " \t(" or (ch == '"' and quote[i])):
            boundary = ch in ".!?"
    return {"quote": quote, "line_position": line_position, "in_word": alnum.astype(np.int8),
            "sentence_start": sentence_start, "next_upper": next_upper, "paren": paren}


def saturation(A: np.ndarray, threshold: float = SATURATION) -> tuple[np.ndarray, np.ndarray]:
    """``(left, right)``, each (n,) float64: the fraction of rows of ``A (N, n)`` with
    a < -threshold and with a > threshold (paper's Fig. 5; threshold 0.99 for tanh units)."""
    A = np.asarray(A)
    return (A < -threshold).mean(axis=0), (A > threshold).mean(axis=0)


def _kind(name: str, y: np.ndarray) -> str:
    return FEATURES[name][0] if name in FEATURES else \
        "binary" if np.isin(y, (0, 1)).all() else "numeric"


def _row(name: str, y: np.ndarray, n_rows: int) -> dict:
    """A feature's row before any score: kind, metric, whether it varies in both halves."""
    y = np.asarray(y)
    if len(y) != n_rows:
        raise ValueError(f"feature {name!r} has {len(y)} labels for {n_rows} characters")
    kind = _kind(name, y)
    binary = kind == "binary"
    half = len(y) // 2
    varies = lambda v: bool(len(v) > 1 and v.min() != v.max())  # noqa: E731
    row = {"feature": name, "kind": kind, "metric": "AUC" if binary else "|r|",
           "applicable": varies(y[:half]) and varies(y[half:]), "constant": not varies(y),
           "unit": None, "sign": None, "score": None, "probe_score": None}
    row["positive_fraction" if binary else "mean"] = float(y.mean()) if len(y) else None
    return row


def analyze(A: np.ndarray, labels: dict[str, np.ndarray], probe: bool = True) -> dict:
    """For each feature, the unit of ``A (N, n)`` that predicts it best, and the probe's score.

    ``labels``: ``{name: (N,)}`` as :func:`text_features` returns (kinds from :data:`FEATURES`;
    a name not listed there counts as 0/1 when its values are only 0 and 1). The unit and its
    sign are chosen on the first N // 2 characters and scored on the rest, as the probe is fitted
    on the first half and scored on the second (:func:`charrnn.studies.probes.probe_score`).
    Returns ``{"features": [row, ...], "saturation": {"threshold", "left", "right"}, "N", "n"}``;
    a row is ``{"feature", "kind", "metric", "applicable", "constant", "positive_fraction" |
    "mean", "unit", "sign", "fit_score", "score", "unit_auc" | "unit_r", "probe_score"}``:
    ``fit_score`` is max(AUC, 1 - AUC) or |r| of the chosen unit on the first half, ``score`` its
    AUC with its sign (the AUC of -a when ``sign`` is -1) or sign x r on the second half,
    ``unit_auc`` / ``unit_r`` its unsigned AUC or r there. A feature whose label is constant in
    either half has ``applicable`` False (``constant`` True when it is constant in all of A) and
    None for the unit and the scores. Raises ``ValueError`` when a label array's length is not N.
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2:
        raise ValueError(f"activations must have shape (N, n), got {A.shape}")
    half = A.shape[0] // 2
    rows = []
    for name, y in labels.items():
        row = _row(name, y, A.shape[0])
        y = np.asarray(y)
        binary = row["kind"] == "binary"
        if row["applicable"]:
            per_unit = auc_per_unit if binary else pearson_per_unit
            raw = per_unit(A[:half], y[:half])  # (n,): the choice sees the first half only
            strength = np.abs(raw - 0.5) if binary else np.abs(raw)
            j = int(np.argmax(strength))
            sign = 1 if raw[j] >= (0.5 if binary else 0.0) else -1
            held = float(per_unit(A[half:, j : j + 1], y[half:])[0])  # the second half
            row.update(unit=j, sign=sign,
                       fit_score=float(max(raw[j], 1 - raw[j]) if binary else abs(raw[j])),
                       score=(held if sign > 0 else 1.0 - held) if binary else sign * held)
            row["unit_auc" if binary else "unit_r"] = held
            if probe:
                row["probe_score"] = probe_score(A, y, binary)
        rows.append(row)
    left, right = saturation(A)
    return {"N": int(A.shape[0]), "n": int(A.shape[1]), "features": rows,
            "saturation": {"threshold": SATURATION, "left": left.tolist(), "right": right.tolist()}}


def one_hot(indices, K: int) -> np.ndarray:
    """The one-hot inputs ``X (N, K)`` float64 of character indices ``indices`` int (N,)."""
    indices = np.asarray(indices)
    X = np.zeros((len(indices), K))
    X[np.arange(len(indices)), indices] = 1.0
    return X


def input_only(indices, K: int, labels: dict[str, np.ndarray]) -> dict:
    """The input-only control: the linear probe of :func:`analyze` fitted on the one-hot input
    x_t alone (``X (N, K)``, :func:`one_hot` of ``indices`` int (N,)) instead of the hidden
    states, on the first half of the characters, scored on the second.

    It reads each feature from the current character only, with no memory of the characters
    before it: a feature that is a function of the current character (``in_word``) scores about
    1, one that needs memory (``quote``, ``line_position``, ``paren``) scores what the current
    character happens to tell about it. A network's probe above this one shows what its state
    adds. Returns ``{"features": [{"feature", "kind", "metric", "applicable", "constant",
    "probe_score", ...}]}`` (rows as :func:`analyze`'s, without a unit). Memory: N x K float64.
    """
    X = one_hot(indices, K)
    rows = []
    for name, y in labels.items():
        row = _row(name, y, len(X))
        if row["applicable"]:
            row["probe_score"] = probe_score(X, np.asarray(y), row["kind"] == "binary")
        rows.append(row)
    return {"K": int(K), "features": rows}


def untrained_params(config: dict, K: int) -> dict | None:
    """The parameters training starts from for the run whose ``config.json`` (or checkpoint
    meta) is ``config``: the ``params`` of :func:`charrnn.training.state.new_state` for the
    :class:`charrnn.training.config.TrainConfig` of its fields (the run's m, init, sigma, seed
    and dtype), with ``K`` characters: the same draw, bit for bit, as the run's first update
    saw. None when ``config`` does not give the seed and the init (an older or a hand-made
    checkpoint)."""
    if not {"seed", "init", "m"} <= set(config):
        return None
    names = set(TrainConfig.__dataclass_fields__)
    cfg = TrainConfig(**{k: v for k, v in config.items() if k in names})
    return new_state(cfg, K).params


def pick_passage(text: str, labels: np.ndarray, length: int = 600) -> int:
    """Start of a ``length``-character passage of ``text`` where ``labels (N,)`` vary most.

    Candidates start just after a newline (or at 0); the one whose labels have the largest
    standard deviation wins (the first on ties). Returns an int in 0..max(0, N - length).
    """
    N = len(text)
    if N <= length:
        return 0
    codes = _codes(text)
    starts = np.r_[0, np.flatnonzero(codes[: N - length] == ord("\n")) + 1]
    starts = starts[starts <= N - length]
    y = np.asarray(labels, dtype=np.float64)
    c1, c2 = np.r_[0.0, np.cumsum(y)], np.r_[0.0, np.cumsum(y * y)]
    mean = (c1[starts + length] - c1[starts]) / length
    var = (c2[starts + length] - c2[starts]) / length - mean ** 2
    return int(starts[int(np.argmax(np.round(var, 12)))])


def analysis_part(text: str, split: str = "holdout", n_chunks: int = 20):
    """The part of ``text`` (str) to analyse and its labels: ``(start, part, labels)``.

    ``split="holdout"``: the last 1/``n_chunks`` of the text (where
    :func:`charrnn.training.orders.split_chunks` puts the held-out chunk); ``"all"``: all of it. ``part``
    is ``text[start:]``; ``labels`` are :func:`text_features` of the part, computed from the start
    of the line the part starts in (so ``quote`` and ``line_position`` are right from the first
    character). Raises ``ValueError`` for an unknown split, a non-positive ``n_chunks`` or a part
    shorter than 2 characters.
    """

    if split not in ("holdout", "all"):
        raise ValueError(f"split must be 'holdout' or 'all', got {split!r}")
    check_positive_int("n_chunks", n_chunks)
    start = 0 if split == "all" else int(split_chunks(len(text), n_chunks)[-2])
    if len(text) - start < 2:
        raise ValueError(f"the part to analyse has {len(text) - start} characters; need 2")
    line_start = text.rfind("\n", 0, start) + 1
    labels = {k: v[start - line_start :] for k, v in text_features(text[line_start:]).items()}
    return start, text[start:], labels


def states_report(A: np.ndarray, part: str, labels: dict, start: int = 0, n_passages: int = 3,
                  passage_length: int = 600) -> dict:
    """:func:`analyze` of the states ``A (N, n)`` of any model that read ``part`` (str, N
    characters; ``labels`` as :func:`analysis_part` returns them), plus ``"passages"``: for the
    best ``n_passages`` distinct units (by their score), ``{"unit", "feature", "score", "sign",
    "start", "text", "activations"}`` with a ``passage_length``-character passage (chosen by
    :func:`pick_passage` for the unit's feature; ``start`` counted in the whole text, the part
    beginning at ``start``) and the unit's activations (rounded to 4 decimals) for each of its
    characters. JSON-able."""
    result = analyze(A, labels)
    ranked = sorted((r for r in result["features"] if r["applicable"]), key=lambda r: -r["score"])
    passages, seen = [], set()
    for r in ranked:
        if r["unit"] in seen or len(passages) == n_passages:
            continue
        seen.add(r["unit"])
        s = pick_passage(part, labels[r["feature"]], passage_length)
        passages.append({"unit": r["unit"], "feature": r["feature"], "score": r["score"],
                         "sign": r["sign"], "start": start + s, "text": part[s : s + passage_length],
                         "activations": np.round(np.asarray(A[s : s + passage_length, r["unit"]],
                                                            dtype=np.float64), 4).tolist()})
    result["passages"] = passages
    return result


def unit_report(model, text: str, split: str = "holdout", n_chunks: int = 20,
                n_passages: int = 3, passage_length: int = 600) -> dict:
    """Everything ``charrnn units`` shows for a vanilla RNN, JSON-able: the table, saturation
    and passages (:func:`states_report` of its hidden states on :func:`analysis_part`), and the
    controls.

    ``model`` a :class:`charrnn.training.checkpoint.Model`; ``text`` the whole text (str; every character
    of the part in the model's vocabulary); the model runs from h = 0 at the part's start. Adds
    ``"split", "start", "end", "m"`` and ``"controls"``: ``"untrained"`` (the same analysis of
    the network training started from, :func:`untrained_params` of the checkpoint's config, run
    over the same characters from h = 0: ``{"seed", "init", "features", "saturation"}``, or None
    when the checkpoint does not say its seed and init) and ``"input_only"``
    (:func:`input_only`). Memory: H is N x m float64 (the book's holdout part with m = 100:
    44 MB; ``"all"``: 0.9 GB), twice for the untrained network. Raises ``ValueError`` as
    :func:`analysis_part`, and for a character the model does not know (named).
    """
    start, part, labels = analysis_part(text, split, n_chunks)
    indices = model.vocab.encode(part)  # names the characters the model does not know
    H = hidden_states(model.params, indices)  # (N, m)
    result = states_report(H, part, labels, start, n_passages, passage_length)
    result.update(split=split, start=start, end=len(text), m=model.m)
    config = model.meta.get("config") or {}
    initial = untrained_params(config, model.vocab.K)
    untrained = None
    if initial is not None:
        u = analyze(hidden_states(initial, indices), labels)
        untrained = {"seed": config["seed"], "init": config["init"], "features": u["features"],
                     "saturation": u["saturation"]}
    result["controls"] = {"untrained": untrained,
                          "input_only": input_only(indices, model.vocab.K, labels)}
    return result


def baseline_unit_report(run, text: str, split: str = "holdout", n_chunks: int = 20,
                         n_passages: int = 3, passage_length: int = 600) -> dict:
    """:func:`unit_report` for a gated baseline: ``run`` a
    :class:`charrnn.studies.baselines.BaselineResult` (e.g. from
    :func:`charrnn.studies.baselines_io.load_baseline`),
    ``text`` the whole text. The model runs from a zero state at the part's start
    (:func:`charrnn.studies.gated.hidden_states`); each of its states is analysed like a vanilla RNN's h.

    Returns ``{"kind", "hidden", "split", "start", "end", "N", "states": {"h": report, "c":
    report}}`` (``"c"`` for the LSTM only), each report as :func:`states_report` returns it. c_t is
    not bounded by 1, so its saturation fractions mean little. Raises ``ValueError`` as
    :func:`unit_report`.
    """
    from .gated import hidden_states as gated_states  # noqa: PLC0415 (torch: gated runs only)

    start, part, labels = analysis_part(text, split, n_chunks)
    states = gated_states(run.model, run.vocab.encode(part))  # {"h": (N, h), "c": (N, h)}
    return {"kind": run.config["kind"], "hidden": run.config["hidden"], "split": split,
            "start": start, "end": len(text), "N": len(part),
            "states": {name: states_report(A, part, labels, start, n_passages, passage_length)
                       for name, A in states.items()}}
