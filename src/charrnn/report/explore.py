"""Playing with a trained model (notebook 05): find it, sample from it or decode by beam search,
see how sure it is of each next character, and which characters make one hidden unit fire.

For a typed text x_0 .. x_{N-1} the model runs from h = 0 (as :func:`charrnn.model.sampling.prime`
does): after reading x_0 .. x_{t-1} it predicts x_t with p_t = softmax(V h_{t-1} + c) (eqs. 1-4 of
:mod:`charrnn.model.rnn`), so every character but the first gets a probability; the first is the input
that starts the run. Nothing is printed; the functions return values and HTML snippets.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from ..model.rnn import softmax
from ..model.sampling import beam_search, prime, synthesize
from ..studies.units import hidden_states
from ..util.checks import check_positive_int
from ..util.paths import project_root, resolve
from .unitviz import heatmap_html

__all__ = ["find_model", "sample_text", "beam_text", "next_char_table", "next_char_html", "unit_heatmap_html",
           "shown_char"]


def find_model(run_dir: str = "", root: Path | None = None) -> Path:
    """The ``best.npz`` to explore.

    ``run_dir``: a run folder or a model file, relative to the project root (``root``, default
    :func:`charrnn.util.paths.project_root`) unless absolute; empty picks the first ``runs/*/best.npz``
    in folder-name order. Raises ``FileNotFoundError`` with one sentence when the folder has no
    ``best.npz`` or, for an empty ``run_dir``, when ``runs/`` holds none.
    """
    root = root or project_root()
    if run_dir:
        path = resolve(run_dir, root)
        model = path / "best.npz" if path.is_dir() else path
        if not model.is_file():
            raise FileNotFoundError(f"no model at {model}: give run_dir a run folder holding "
                                    "best.npz (train one with `make report` or notebook 02)")
        return model
    found = sorted((root / "runs").glob("*/best.npz"), key=lambda p: p.parent.name)
    if not found:
        raise FileNotFoundError(f"no trained model found: {root / 'runs'} has no */best.npz; "
                                "train one (python -m charrnn train --out runs/NAME, or "
                                "notebook 02) or set run_dir")
    return found[0]


def sample_text(model, n: int = 300, temperature: float = 1.0, top_p: float = 1.0,
                prime_text: str = "", seed: int = 0) -> str:
    """``prime_text`` followed by ``n`` sampled characters (str of len(prime_text) + n).

    With a prime, the model first reads it from h = 0 (:func:`charrnn.model.sampling.prime`); without
    one, sampling starts from the model's saved ``hprev`` and ``x0``. The generator is
    ``numpy.random.default_rng(seed)``. Raises ``ValueError`` for n <= 0, temperature <= 0,
    top_p outside (0, 1] or a prime character the model does not know (named).
    """
    h, x0 = model.hprev, model.x0
    if prime_text:
        h, x0 = prime(model.params, model.vocab.encode(prime_text))
    out = synthesize(model.params, h, x0, n, np.random.default_rng(seed), temperature, top_p)
    return prime_text + model.vocab.decode(out)


def beam_text(model, n: int = 300, beam: int = 8, prime_text: str = "") -> tuple[str, float]:
    """``prime_text`` followed by the ``n`` characters that beam search with ``beam`` hypotheses
    finds (:func:`charrnn.model.sampling.beam_search`), from the same start as :func:`sample_text`,
    and their mean log-probability per character (float, nats). Nothing is drawn. Raises
    ``ValueError`` for n or beam not a positive integer, or a prime character the model does not
    know (named)."""
    h, x0 = model.hprev, model.x0
    if prime_text:
        h, x0 = prime(model.params, model.vocab.encode(prime_text))
    out, score = beam_search(model.params, h, x0, n, beam)
    return prime_text + model.vocab.decode(out), score


def shown_char(ch: str) -> str:
    """A character as it is shown in tables: space ␣, newline ↵, tab ⇥, else itself."""
    return {" ": "␣", "\n": "↵", "\t": "⇥"}.get(ch, ch)


def next_char_table(model, text: str, k: int = 3) -> list[dict]:
    """How likely the model found each next character of ``text`` (at least 2 characters).

    One row per position t = 1 .. N-1: ``{"position": t, "char": text[t], "p": p_t[x_t],
    "bits": -log2 p_t[x_t], "rank": 1 + the number of characters more likely than x_t,
    "top": [(char, p), ...]}`` with the ``k`` most likely characters (decreasing p, ties by
    vocabulary order); p_t is predicted after reading text[:t] from h = 0 (module docstring).
    Probabilities are floats in [0, 1], at temperature 1. Raises ``ValueError`` for a text
    shorter than 2, a character the model does not know (named) or k outside 1..K.
    """
    K = model.vocab.K
    if check_positive_int("k", k) > K:
        raise ValueError(f"k must be at most K = {K}, got {k}")
    if len(text) < 2:
        raise ValueError("type at least 2 characters: the first one only starts the model")
    x = model.vocab.encode(text)
    H = hidden_states(model.params, x[:-1])  # (N - 1, m): h after reading x_0 .. x_{t-1}
    P = softmax(H @ model.params["V"].T + model.params["c"])  # (N - 1, K): p_t for t = 1 .. N-1
    order = np.argsort(-P, axis=1, kind="stable")[:, :k]  # (N - 1, k)
    rows = []
    for t in range(1, len(text)):
        p = P[t - 1]
        q = float(p[x[t]])
        rows.append({"position": t, "char": text[t], "p": q, "bits": float(-np.log2(q)),
                     "rank": int((p > q).sum()) + 1,
                     "top": [(model.vocab.chars[j], float(p[j])) for j in order[t - 1]]})
    return rows


def _p_colour(p: float) -> str:
    """Light background for a probability: red (0) through yellow to green (1)."""
    return f"hsl({120 * float(np.clip(p, 0, 1)):.0f}, 75%, 82%)"


def next_char_html(text: str, rows: list[dict], table: bool = True) -> str:
    """``text`` coloured by how likely each character was (green likely, red surprising; the
    first character grey, it has no prediction), each with a tooltip of p and the top
    alternatives; with ``table`` also an HTML table (position, character, p, bits, rank, top
    alternatives). ``rows`` from :func:`next_char_table` for the same text. Raises ``ValueError``
    when they do not match."""
    if len(rows) != len(text) - 1 or any(r["char"] != text[r["position"]] for r in rows):
        raise ValueError("rows do not belong to this text (use next_char_table(model, text))")
    top = lambda r: " · ".join(f"{shown_char(c)} {q:.2f}" for c, q in r["top"])  # noqa: E731
    inline = lambda ch: "↵\n" if ch == "\n" else "⇥" if ch == "\t" else ch  # noqa: E731
    spans = ['<span style="background:#ddd" title="first character: no prediction">'
             f"{html.escape(inline(text[0]))}</span>"]
    for r in rows:
        spans.append(f'<span style="background:{_p_colour(r["p"])}" title="p = {r["p"]:.3f}; '
                     f'top: {html.escape(top(r), quote=True)}">{html.escape(inline(r["char"]))}'
                     "</span>")
    out = ('<div class="next-char" style="font-family:\'DejaVu Sans Mono\',monospace;'
           "line-height:1.7;white-space:pre-wrap;-webkit-print-color-adjust:exact;"
           f'print-color-adjust:exact">{"".join(spans)}</div>')
    if table:
        body = "".join(
            f"<tr><td>{r['position']}</td><td><code>{html.escape(shown_char(r['char']))}</code></td>"
            f'<td style="background:{_p_colour(r["p"])}">{r["p"]:.3f}</td><td>{r["bits"]:.2f}</td>'
            f"<td>{r['rank']}</td><td><code>{html.escape(top(r))}</code></td></tr>" for r in rows)
        out += ("<table><thead><tr><th>position</th><th>character</th><th>p</th><th>bits</th>"
                "<th>rank</th><th>most likely next characters</th></tr></thead>"
                f"<tbody>{body}</tbody></table>")
    return out


def unit_heatmap_html(model, text: str, unit: int) -> str:
    """The text heat map of :func:`charrnn.report.unitviz.heatmap_html` for hidden unit ``unit`` of the
    model run over ``text`` from h = 0 (each character coloured by h_t[unit] after reading it).
    Raises ``ValueError`` for an empty text, an unknown character (named) or a unit outside
    0..m-1."""
    m = model.m
    if not isinstance(unit, (int, np.integer)) or not 0 <= unit < m:
        raise ValueError(f"unit must be a hidden unit index in 0..{m - 1}, got {unit!r}")
    if not text:
        raise ValueError("type some text to run the model over")
    H = hidden_states(model.params, model.vocab.encode(text))  # (N, m)
    return heatmap_html(text, H[:, int(unit)], title=f"unit {unit}: blue h = -1, white 0, red +1")
