"""What the hidden units learned: text features, the unit that tracks each, linear probes.

After Karpathy, Johnson & Fei-Fei, "Visualizing and Understanding Recurrent Networks" (arXiv
1506.02078, 2015), sections 4.2-4.4: run the model over a text with the state carried, label
every character with a property of the text (inside a quotation, position in the line, ...), and
ask which single hidden unit predicts the label best and how well a linear read-out of all units
does. The analysis takes any activations ``A (N, n)``, so it works for other models' states too.

Alignment: character t of the text is the input x_t; ``H[t]`` is h_t, the state just after the
model has read x_t (eqs. 1-2 of :mod:`charrnn.rnn`). Every label of character t describes the text
up to and including x_t (``next_upper`` alone looks one character ahead: it is what h_t has to
predict).

Scores:

* 0/1 features: ROC AUC of one unit's activation as a score for the label, the Mann-Whitney
  statistic AUC = (R_1 - n_1 (n_1 + 1) / 2) / (n_1 n_0), R_1 the sum of the positives' ranks
  (ties get their average rank, so a tie counts one half). A unit can track a feature with either
  sign: the score is max(AUC, 1 - AUC), ``sign`` +1 when high activations mean label 1.
* numeric features: Pearson r; the score is |r|, ``sign`` the sign of r.
* probe: the best linear read-out of all n units, fitted on the first half of the characters and
  scored on the second: L2-regularised logistic regression (Newton's method, on units
  standardised with the first half's mean and std) scored by AUC, or least squares scored by r.
* saturation (paper's Fig. 5): for each unit, the fraction of characters with h < -0.99 (left)
  and h > 0.99 (right).
"""

from __future__ import annotations

import html

import numpy as np

from .rnn import input_term, step

__all__ = ["FEATURES", "SATURATION", "hidden_states", "text_features", "average_ranks",
           "auc_per_unit", "pearson_per_unit", "fit_logistic", "probe_score", "saturation",
           "analyze", "pick_passage", "unit_report", "format_table", "heatmap_html"]

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
    + b) (eqs. 1-2, via :func:`charrnn.rnn.step`), the state after reading ``indices[t]``. U x_t + b
    is gathered ``block`` characters at a time, so memory beyond H is block x m floats. Raises
    ``ValueError`` for no indices or a non-positive block.
    """
    from .checks import check_positive_int

    check_positive_int("block", block)
    indices = np.asarray(indices)
    if indices.ndim != 1 or len(indices) == 0:
        raise ValueError("hidden_states needs a non-empty 1-D array of character indices")
    m = len(params["b"])
    h = np.zeros(m) if h0 is None else np.array(h0, dtype=np.float64)
    H = np.empty((len(indices), m))
    for start in range(0, len(indices), block):
        A = input_term(params, indices[start : start + block])  # (n, m): U x_t + b
        for t in range(len(A)):
            h = step(params, h, A[t])
            H[start + t] = h
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


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..N (float64, (N,)) of ``x`` (N,), ties given the mean of the ranks they share."""
    x = np.asarray(x)
    order = np.argsort(x, kind="stable")
    xs = x[order]
    cut = np.flatnonzero(xs[1:] != xs[:-1]) + 1
    starts, ends = np.r_[0, cut], np.r_[cut, len(x)]
    ranks = np.empty(len(x))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def auc_per_unit(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ROC AUC (n,) float64 of each column of ``A (N, n)`` as a score for 0/1 labels ``y (N,)``.

    AUC = P(a_pos > a_neg) + P(a_pos = a_neg) / 2 over all (positive, negative) pairs, computed
    from average ranks (Mann-Whitney U / (n_1 n_0)); one column at a time (memory O(N)). Raises
    ``ValueError`` unless ``y`` holds both 0 and 1 and matches A's rows.
    """
    A, y = np.asarray(A), np.asarray(y).astype(bool)
    if A.ndim != 2 or len(y) != A.shape[0]:
        raise ValueError(f"activations of shape (N, n) and N labels expected, got {A.shape} "
                         f"and {y.shape}")
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        raise ValueError("AUC needs both labels 0 and 1")
    out = np.empty(A.shape[1])
    for j in range(A.shape[1]):
        out[j] = (average_ranks(A[:, j])[y].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0)
    return out


def pearson_per_unit(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r (n,) float64 between each column of ``A (N, n)`` and ``y (N,)``; 0 for a
    constant column. Raises ``ValueError`` when ``y`` is constant or does not match A's rows."""
    A, y = np.asarray(A, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if A.ndim != 2 or len(y) != A.shape[0]:
        raise ValueError(f"activations of shape (N, n) and N values expected, got {A.shape} "
                         f"and {y.shape}")
    yc = y - y.mean()
    ny = np.sqrt(yc @ yc)
    if ny == 0:
        raise ValueError("Pearson r needs a non-constant feature")
    Ac = A - A.mean(axis=0)
    na = np.sqrt(np.einsum("ij,ij->j", Ac, Ac))  # (n,)
    r = (Ac.T @ yc) / np.where(na > 0, na * ny, 1.0)
    return np.where(na > 0, r, 0.0)


def _standardize(train: np.ndarray, test: np.ndarray):
    mu, sd = train.mean(axis=0), train.std(axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    return (train - mu) / sd, (test - mu) / sd


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1e-3, max_iter: int = 100,
                 tol: float = 1e-16) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method with backtracking.

    Minimises mean_i log(1 + exp(-s_i z_i)) + l2 / 2 ||w||^2 with z = X w + b, s_i = 2 y_i - 1
    (the bias b is not penalised). ``X (N, n)`` float (standardised units), ``y (N,)`` 0/1.
    Returns ``(w (n,), b)``. Stops when the Newton decrement falls below ``tol``, when the line
    search finds no decrease, or after ``max_iter`` steps. Raises ``ValueError`` unless ``y``
    holds both labels.
    """
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if y.min() == y.max():
        raise ValueError("logistic regression needs both labels 0 and 1")
    N, n = X.shape
    Xb = np.hstack([X, np.ones((N, 1))])  # (N, n + 1): the last column is the bias
    reg = np.full(n + 1, l2)
    reg[-1] = 1e-10  # keeps the Hessian invertible on separable data without biasing b
    s = 2.0 * y - 1.0

    def objective(theta):
        return np.logaddexp(0.0, -s * (Xb @ theta)).mean() + 0.5 * (reg * theta * theta).sum()

    theta = np.zeros(n + 1)
    theta[-1] = np.log(y.mean() / (1.0 - y.mean()))
    f = objective(theta)
    for _ in range(max_iter):
        p = 0.5 * (1.0 + np.tanh(0.5 * (Xb @ theta)))  # sigmoid without overflow
        g = Xb.T @ (p - y) / N + reg * theta
        Hs = (Xb * (p * (1.0 - p))[:, None]).T @ Xb / N + np.diag(reg)
        d = np.linalg.solve(Hs, g)
        if g @ d / 2.0 < tol:  # the Newton decrement: f - min of the local quadratic model
            break
        step_size = 1.0
        while True:  # backtracking (Armijo) line search
            new = theta - step_size * d
            f_new = objective(new)
            if f_new <= f - 1e-4 * step_size * (g @ d):
                break
            step_size *= 0.5
            if step_size < 1e-10:  # no decrease left to find in float64
                return theta[:-1], float(theta[-1])
        theta, f = new, f_new
    return theta[:-1], float(theta[-1])


def probe_score(A: np.ndarray, y: np.ndarray, binary: bool) -> float | None:
    """The linear probe's score on the second half of the rows of ``A (N, n)``.

    Fitted on the first N // 2 rows (units standardised with their mean and std): logistic
    regression (:func:`fit_logistic`) scored by ROC AUC for 0/1 labels ``y``, least squares with
    a bias scored by Pearson r for numeric ones. ``None`` when a half's labels are constant.
    """
    A = np.asarray(A, dtype=np.float64)
    half = len(y) // 2
    y_train, y_test = np.asarray(y[:half]), np.asarray(y[half:])
    if half == 0 or y_train.min() == y_train.max() or y_test.min() == y_test.max():
        return None
    X_train, X_test = _standardize(A[:half], A[half:])
    if binary:
        w, b = fit_logistic(X_train, y_train)
        return float(auc_per_unit((X_test @ w + b)[:, None], y_test)[0])
    Xb = np.hstack([X_train, np.ones((half, 1))])
    theta = np.linalg.lstsq(Xb, y_train.astype(np.float64), rcond=None)[0]
    pred = X_test @ theta[:-1] + theta[-1]
    return float(pearson_per_unit(pred[:, None], y_test)[0])


def saturation(A: np.ndarray, threshold: float = SATURATION) -> tuple[np.ndarray, np.ndarray]:
    """``(left, right)``, each (n,) float64: the fraction of rows of ``A (N, n)`` with
    a < -threshold and with a > threshold (paper's Fig. 5; threshold 0.99 for tanh units)."""
    A = np.asarray(A)
    return (A < -threshold).mean(axis=0), (A > threshold).mean(axis=0)


def analyze(A: np.ndarray, labels: dict[str, np.ndarray], probe: bool = True) -> dict:
    """For each feature, the unit of ``A (N, n)`` that predicts it best, and the probe's score.

    ``labels``: ``{name: (N,)}`` as :func:`text_features` returns (kinds from :data:`FEATURES`;
    a name not listed there counts as 0/1 when its values are only 0 and 1). Returns
    ``{"features": [row, ...], "saturation": {"threshold", "left", "right"}, "N", "n"}``; a row is
    ``{"feature", "kind", "metric", "applicable", "positive_fraction" | "mean", "unit", "sign",
    "score", "unit_auc" | "unit_r", "probe_score"}`` with score = max(AUC, 1 - AUC) or |r|;
    a feature with a constant label has ``applicable`` False and None for the unit and scores.
    Raises ``ValueError`` when a label array's length is not N.
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2:
        raise ValueError(f"activations must have shape (N, n), got {A.shape}")
    rows = []
    for name, y in labels.items():
        y = np.asarray(y)
        if len(y) != A.shape[0]:
            raise ValueError(f"feature {name!r} has {len(y)} labels for {A.shape[0]} characters")
        kind = FEATURES[name][0] if name in FEATURES else \
            "binary" if np.isin(y, (0, 1)).all() else "numeric"
        binary = kind == "binary"
        row = {"feature": name, "kind": kind, "metric": "AUC" if binary else "|r|",
               "applicable": bool(len(y) > 1 and y.min() != y.max()),
               "unit": None, "sign": None, "score": None, "probe_score": None}
        row["positive_fraction" if binary else "mean"] = float(y.mean()) if len(y) else None
        if row["applicable"]:
            raw = auc_per_unit(A, y) if binary else pearson_per_unit(A, y)
            strength = np.abs(raw - 0.5) if binary else np.abs(raw)
            j = int(np.argmax(strength))
            row.update(unit=j, sign=1 if raw[j] >= (0.5 if binary else 0.0) else -1,
                       score=float(max(raw[j], 1 - raw[j]) if binary else abs(raw[j])))
            row["unit_auc" if binary else "unit_r"] = float(raw[j])
            if probe:
                row["probe_score"] = probe_score(A, y, binary)
        rows.append(row)
    left, right = saturation(A)
    return {"N": int(A.shape[0]), "n": int(A.shape[1]), "features": rows,
            "saturation": {"threshold": SATURATION, "left": left.tolist(), "right": right.tolist()}}


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


def unit_report(model, text: str, split: str = "holdout", n_chunks: int = 20,
                n_passages: int = 3, passage_length: int = 600) -> dict:
    """Everything ``charrnn units`` shows, JSON-able: the table, saturation and passages.

    ``model`` a :class:`charrnn.checkpoint.Model`; ``text`` the whole text (str; every character
    in the model's vocabulary). ``split="holdout"`` analyses the last 1/``n_chunks`` of the text (where
    :func:`charrnn.orders.split_chunks` puts the held-out chunk), ``"all"`` all of it; the model
    runs from h = 0 at the part's start; features are computed from the start of the line the
    part starts in. Adds ``"split", "start", "end", "m"`` and ``"passages"``: for the best
    ``n_passages`` distinct units (by their score), ``{"unit", "feature", "score", "sign",
    "start", "text", "activations"}`` with a ``passage_length``-character passage (chosen by
    :func:`pick_passage` for the unit's feature) and the unit's h_t (rounded to 4 decimals) for
    each of its characters. Memory: H is N x m float64 (the book's holdout part with m = 100:
    44 MB; ``"all"``: 0.9 GB). Raises ``ValueError`` for an unknown split, a character the model
    does not know (named) or a part shorter than 2 characters.
    """
    from .checks import check_positive_int
    from .orders import split_chunks

    if split not in ("holdout", "all"):
        raise ValueError(f"split must be 'holdout' or 'all', got {split!r}")
    check_positive_int("n_chunks", n_chunks)
    start = 0 if split == "all" else int(split_chunks(len(text), n_chunks)[-2])
    if len(text) - start < 2:
        raise ValueError(f"the part to analyse has {len(text) - start} characters; need 2")
    part = text[start:]
    indices = model.vocab.encode(part)  # names the characters the model does not know
    line_start = text.rfind("\n", 0, start) + 1
    labels = {k: v[start - line_start :] for k, v in text_features(text[line_start:]).items()}
    H = hidden_states(model.params, indices)  # (N, m)
    result = analyze(H, labels)
    result.update(split=split, start=start, end=len(text), m=model.m)
    ranked = sorted((r for r in result["features"] if r["applicable"]),
                    key=lambda r: -r["score"])
    passages, seen = [], set()
    for r in ranked:
        if r["unit"] in seen or len(passages) == n_passages:
            continue
        seen.add(r["unit"])
        s = pick_passage(part, labels[r["feature"]], passage_length)
        passages.append({"unit": r["unit"], "feature": r["feature"], "score": r["score"],
                         "sign": r["sign"], "start": start + s, "text": part[s : s + passage_length],
                         "activations": np.round(H[s : s + passage_length, r["unit"]], 4).tolist()})
    result["passages"] = passages
    return result


def format_table(result: dict) -> str:
    """The table of :func:`analyze` / :func:`unit_report` as aligned plain text (one line per
    feature: feature, best unit with its sign, score and metric, probe score), plus one line on
    saturation."""
    lines = [f"{'feature':15} {'unit':>6} {'score':>7} {'metric':6} {'probe':>7}  meaning"]
    for r in result["features"]:
        meaning = FEATURES.get(r["feature"], ("", ""))[1]
        if not r["applicable"]:
            lines.append(f"{r['feature']:15} {'n/a':>6} {'':>7} {r['metric']:6} {'':>7}  "
                         f"{meaning} (constant in this text)")
            continue
        unit = f"{'+' if r['sign'] > 0 else '-'}{r['unit']}"
        probe = "n/a" if r["probe_score"] is None else f"{r['probe_score']:.3f}"
        lines.append(f"{r['feature']:15} {unit:>6} {r['score']:7.3f} {r['metric']:6} {probe:>7}  "
                     f"{meaning}")
    sat = result["saturation"]
    left, right = np.asarray(sat["left"]), np.asarray(sat["right"])
    lines.append(f"saturation (|h| > {sat['threshold']}): {int(((left + right) > 0.5).sum())} of "
                 f"{result['n']} units saturated more than half the time; median fraction "
                 f"{float(np.median(left + right)):.3f}")
    lines.append("unit: the best single unit (+: high activation means the feature, -: low); "
                 "probe: linear read-out of all units, fitted on the first half, scored on the "
                 "second")
    return "\n".join(lines)


def _colour(a: float) -> str:
    """Background for activation a in [-1, 1]: blue (negative) through white to red, light
    enough at |a| = 1 (rgb 255, 65, 65) for black text to stay readable."""
    a = float(np.clip(a, -1.0, 1.0))
    fade = int(round(255 - 190 * abs(a)))
    return f"rgb(255,{fade},{fade})" if a >= 0 else f"rgb({fade},{fade},255)"


def heatmap_html(text: str, activations, title: str | None = None) -> str:
    """The paper's text heat map: each character of ``text`` on a background coloured by one
    unit's activation, ``activations`` (len(text),) float in [-1, 1] (blue -1, white 0, red +1).

    An HTML ``<div>`` of inline-styled ``<span>`` s (monospace, wrapped; a newline shows as ↵ and
    breaks the line, a tab as two spaces; each span's tooltip gives its value). Sets
    ``print-color-adjust: exact`` so Chromium keeps the colours in a PDF. Raises ``ValueError``
    when the lengths differ.
    """
    a = np.asarray(activations, dtype=np.float64)
    if a.shape != (len(text),):
        raise ValueError(f"{len(text)} characters but activations of shape {a.shape}")
    spans = []
    for ch, v in zip(text, a):
        shown = "↵" if ch == "\n" else "  " if ch == "\t" else ch
        spans.append(f'<span style="background:{_colour(v)}" title="{v:+.3f}">'
                     f"{html.escape(shown)}</span>" + ("<br>" if ch == "\n" else ""))
    head = f"<p><b>{html.escape(title)}</b></p>" if title else ""
    return (f'{head}<div class="unit-heatmap" style="font-family:\'DejaVu Sans Mono\',monospace;'
            "font-size:0.85em;line-height:1.6;white-space:pre-wrap;word-break:break-all;"
            '-webkit-print-color-adjust:exact;print-color-adjust:exact">'
            f'{"".join(spans)}</div>')
