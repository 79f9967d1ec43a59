"""What the hidden units learned, shown: the plain-text table of ``charrnn units`` and the
text heat map of one unit (after Karpathy, Johnson & Fei-Fei 2015, Fig. 2), from the results of
:mod:`charrnn.studies.units`. Nothing is computed here but layout and colours."""

from __future__ import annotations

import html

import numpy as np

from ..studies.units import FEATURES

__all__ = ["format_table", "format_controls", "heatmap_html", "colour_bar_html"]


def format_table(result: dict) -> str:
    """The table of :func:`charrnn.studies.units.analyze` (or one state's report) as aligned plain text:
    one line per feature (feature, best unit with its sign, score and metric, probe score), plus
    one line on saturation."""
    lines = [f"{'feature':15} {'unit':>6} {'score':>7} {'metric':6} {'probe':>7}  meaning"]
    for r in result["features"]:
        meaning = FEATURES.get(r["feature"], ("", ""))[1]
        if not r["applicable"]:
            why = "constant in this text" if r.get("constant", True) else "not in both halves"
            lines.append(f"{r['feature']:15} {'n/a':>6} {'':>7} {r['metric']:6} {'':>7}  "
                         f"{meaning} ({why})")
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
    lines.append("unit: the best single unit (+: high activation means the feature, -: low), "
                 "chosen on the first half of the characters, scored on the second; probe: linear "
                 "read-out of all units, fitted on the first half, scored on the second")
    return "\n".join(lines)


def format_controls(result: dict) -> str:
    """The controls of :func:`charrnn.studies.units.unit_report` (``result["controls"]``) beside
    the trained network, as aligned plain text: per feature the best unit's score and the probe's
    for the trained and the untrained network, and the input-only probe; ``""`` for a result
    without controls (an older JSON)."""
    controls = result.get("controls")
    if not controls:
        return ""
    untrained = {r["feature"]: r for r in (controls.get("untrained") or {}).get("features", [])}
    inputs = {r["feature"]: r for r in controls["input_only"]["features"]}
    show = lambda x: "n/a" if x is None else f"{x:.3f}"  # noqa: E731
    lines = [f"{'feature':15} {'metric':6} {'trained':>15} {'untrained':>15} {'input only':>10}",
             f"{'':15} {'':6} {'unit':>7} {'probe':>7} {'unit':>7} {'probe':>7} {'probe':>10}"]
    for r in result["features"]:
        u = untrained.get(r["feature"], {})
        lines.append(f"{r['feature']:15} {r['metric']:6} {show(r['score']):>7} "
                     f"{show(r['probe_score']):>7} {show(u.get('score')):>7} "
                     f"{show(u.get('probe_score')):>7} "
                     f"{show(inputs.get(r['feature'], {}).get('probe_score')):>10}")
    u = controls.get("untrained")
    lines.append("untrained: the parameters training started from"
                 + (f" (seed {u['seed']}, init {u['init']})" if u else
                    ": n/a, the checkpoint does not give its seed and init")
                 + "; input only: a probe on the one-hot x_t alone (no memory); every unit "
                 "chosen and probe fitted on the first half, scored on the second")
    return "\n".join(lines)


def _colour(a: float) -> str:
    """Background for activation a in [-1, 1]: blue (negative) through white to red, light
    enough at |a| = 1 (rgb 255, 65, 65) for black text to stay readable."""
    a = float(np.clip(a, -1.0, 1.0))
    fade = int(round(255 - 190 * abs(a)))
    return f"rgb(255,{fade},{fade})" if a >= 0 else f"rgb({fade},{fade},255)"


def colour_bar_html() -> str:
    """The heat maps' colour bar: nine cells from h = -1 to +1 (steps of 0.25) in
    :func:`heatmap_html`'s colours, labelled at the ends (an HTML ``<div>``, colours kept in print)."""
    cells = "".join(f'<span style="display:inline-block;width:2.2em;height:1em;'
                    f'background:{_colour(v)}" title="{v:+.2f}"></span>'
                    for v in np.linspace(-1.0, 1.0, 9))
    return ('<div class="unit-colour-bar" style="font-size:0.85em;-webkit-print-color-adjust:'
            'exact;print-color-adjust:exact">h = −1 ' + cells + " +1 (white: 0)</div>")


def heatmap_html(text: str, activations, title: str | None = None, breaks: bool = True) -> str:
    """The paper's text heat map: each character of ``text`` on a background coloured by one
    unit's activation, ``activations`` (len(text),) float in [-1, 1] (blue -1, white 0, red +1).

    An HTML ``<div>`` of inline-styled ``<span>`` s (monospace, wrapped; a newline shows as ↵ and,
    when ``breaks``, also breaks the line; a tab shows as two spaces; each span's tooltip gives its
    value). ``breaks=False`` keeps a text of short lines (verse) compact. Sets
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
                     f"{html.escape(shown)}</span>" + ("<br>" if ch == "\n" and breaks else ""))
    head = f"<p><b>{html.escape(title)}</b></p>" if title else ""
    return (f'{head}<div class="unit-heatmap" style="font-family:\'DejaVu Sans Mono\',monospace;'
            "font-size:0.85em;line-height:1.6;white-space:pre-wrap;word-break:break-all;"
            '-webkit-print-color-adjust:exact;print-color-adjust:exact">'
            f'{"".join(spans)}</div>')
