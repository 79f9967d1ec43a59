"""Markdown and HTML snippets for the notebooks and the report (no computation here)."""

from __future__ import annotations

import html
from pathlib import PurePath

from ..studies.stats import mean_interval, mean_std
from ..studies.units import FEATURES

__all__ = ["gradcheck_html", "sample_html", "seeds_markdown", "bench_markdown", "bench_note", "fmt",
           "settings_markdown", "HANDOUT_SMOOTH_LOSS", "handout_reference", "checkpoints_markdown",
           "sampling_markdown", "sampling_caption", "signed_unit", "units_html", "units_controls_html",
           "features_legend", "baselines_markdown", "welch_markdown", "p_text", "caption", "heldout_markdown"]


def fmt(x: float, digits: int = 1) -> str:
    """A small number in short scientific notation, e.g. ``3.1e‑14``, with a non-breaking
    hyphen (U+2011) so that a line break never splits it."""
    return "0" if x == 0 else f"{x:.{digits}e}".replace("-", "\u2011")


def gradcheck_html(block: dict) -> str:
    """An HTML table of one :func:`charrnn.model.gradcheck.check_gradients` result: one row per
    parameter, the PyTorch and the centered-difference comparisons side by side, each with its
    max abs diff, normwise error (which decides "passed"; "–" in a row from an older
    gradcheck.json, which has none) and max entrywise relative error (the mean stays in the
    JSON: the table must fit an A4 page)."""
    against = [a for a in ("torch", "numeric") if a in block]
    names = {"torch": "vs PyTorch float64 autograd", "numeric": "vs centered differences"}
    top = "".join(f'<th colspan="3" style="text-align:center">{names[a]}</th>' for a in against)
    sub = "<th>max abs diff</th><th>normwise err</th><th>max rel err</th>" * len(against)
    rows = []
    for name in block[against[0]]:
        r = [block[a][name] for a in against]
        cells = "".join(f"<td>{fmt(x['max_abs_diff'])}</td>"
                        f"<td>{fmt(x['norm_rel_err']) if 'norm_rel_err' in x else '–'}</td>"
                        f"<td>{fmt(x['max_rel_err'])}</td>"
                        for x in r)
        ok = "yes" if all(x["passed"] for x in r) else "<b>no</b>"
        rows.append(f"<tr><td><i>{name}</i></td><td>{'×'.join(map(str, r[0]['shape']))}</td>"
                    f"{cells}<td>{ok}</td></tr>")
    return ('<table class="gradcheck"><thead><tr><th rowspan="2">parameter</th>'
            f'<th rowspan="2">shape</th>{top}<th rowspan="2">passed</th></tr><tr>{sub}</tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table>')


def sample_html(text: str, title: str | None = None) -> str:
    """A sample as an escaped, wrapped ``<pre>`` block (MathJax and Markdown leave it alone)."""
    head = f"<p><b>{html.escape(title)}</b></p>" if title else ""
    return f'{head}<pre class="sample">{html.escape(text)}</pre>'


def seeds_markdown(runs: list[dict]) -> str:
    """Best and final smooth loss per seed, with mean and (sample) std over seeds."""
    lines = ["| seed | best smooth loss | at update | final smooth loss | updates/s |",
             "|---:|---:|---:|---:|---:|"]
    for r in runs:
        m = r["metrics"]
        lines.append(f"| {m['seed']} | {m['best_smooth_loss']:.4f} | {m['best_update']:,} | "
                     f"{m['final_smooth_loss']:.4f} | {m['updates_per_s']:,.0f} |")
    if len(runs) > 1:
        best, final = (mean_std(r["metrics"][k] for r in runs)
                       for k in ("best_smooth_loss", "final_smooth_loss"))
        lines.append(f"| mean\u00a0±\u00a0std | {best[0]:.4f} ± {best[1]:.4f} | | "
                     f"{final[0]:.4f} ± {final[1]:.4f} | |")
    return "\n".join(lines)


def heldout_markdown(runs: list[dict]) -> str:
    """The handout runs trained with the held-out chunk removed, one line per seed
    (:func:`charrnn.training.runs.load_run` dicts whose ``metrics`` have ``test_loss``): the best
    smooth loss on the training text and its update, the best validation loss and its update
    (the model kept), and that model's test loss, all in nats/char; mean ± std over the seeds."""
    lines = ["| seed | best smooth loss | at update | best validation loss | at update | "
             "test loss |", "|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        m = r["metrics"]
        lines.append(f"| {m['seed']} | {m['best_smooth_loss']:.4f} | {m['best_update']:,} | "
                     f"{m['best_val_loss']:.4f} | {m['best_val_update']:,} | {m['test_loss']:.4f} |")
    if len(runs) > 1:
        a, b, c = ("{:.4f}\u00a0±\u00a0{:.4f}".format(*mean_std(r["metrics"][k] for r in runs))
                   for k in ("best_smooth_loss", "best_val_loss", "test_loss"))
        lines.append(f"| mean\u00a0±\u00a0std | {a} | | {b} | | {c} |")
    return "\n".join(lines)


def settings_markdown(runs: list[dict], best: dict) -> str:
    """The data-and-settings table of the handout runs: ``runs`` (one per seed, dicts from
    :func:`charrnn.training.runs.load_run`, which differ only in the seed) and ``best``, the one with the
    lowest smooth loss, whose ``config`` and ``metrics`` fill the table."""
    cfg, met = best["config"], best["metrics"]
    epochs = met["n_updates"] / met["updates_per_epoch"]
    clip = cfg["grad_clip"] if cfg["grad_clip"] is not None else "none"
    opt = (f"Adam, η = {cfg['eta']}, β₁ = {cfg['beta1']}, β₂ = {cfg['beta2']}, ε = {cfg['eps']}"
           if cfg["optimizer"] == "adam" else f"AdaGrad, η = {cfg['eta']}, ε = {cfg['eps']}")
    seeds = ("seed " if len(runs) == 1 else "seeds ") + ", ".join(str(r["metrics"]["seed"]) for r in runs)
    if len(runs) > 1:
        seeds += f"; sections (ii) to (iv) show seed {met['seed']}, the best"
    return "\n".join([
        "| | |", "|---|---|",
        f"| text | `{PurePath(cfg['data']).name}`: {met['n_chars']:,} characters (read as UTF-8) |",
        f"| vocabulary | K = {met['K']} distinct characters, sorted |",
        f"| preset | `{cfg['preset']}`: {opt}; loss = {cfg['loss']} over the sequence; gradient "
        f"clipping: {clip} |",
        f"| model | m = {cfg['m']} hidden units, seq_length = {cfg['seq_length']}, init `{cfg['init']}` |",
        f"| training | {met['n_updates']:,} updates = {epochs:.2f} epochs of "
        f"{met['updates_per_epoch']:,} updates; {seeds} |"])


#: The handout's smooth loss (Adam preset, mean loss, the book) at a few updates: update -> nats/char.
HANDOUT_SMOOTH_LOSS = {1: 4.6049, 1000: 3.3806, 4000: 2.2598, 30000: 1.7861, 150000: 1.5344}


def handout_reference(run: dict) -> dict | None:
    """:data:`HANDOUT_SMOOTH_LOSS` when it applies to ``run`` (a :func:`charrnn.training.runs.load_run`
    dict): the mean loss on the book (1,107,542 characters, K = 80); else None."""
    met = run["metrics"]
    is_book = met["n_chars"] == 1107542 and met["K"] == 80
    return HANDOUT_SMOOTH_LOSS if run["config"]["loss"] == "mean" and is_book else None


def checkpoints_markdown(run: dict, reference: dict | None = None) -> str:
    """The smooth loss of ``run`` (its ``history``) at the handout's checkpoints (the updates of
    :data:`HANDOUT_SMOOTH_LOSS` that it logged), beside ``reference`` (update -> loss; "–" where
    None, e.g. from :func:`handout_reference`)."""
    h = run["history"]
    at = {int(u): s for u, s in zip(h["update"], h["smooth_loss"])}
    rows = [f"| {u:,} | {at[u]:.4f} | {reference[u] if reference else '–'} |"
            for u in HANDOUT_SMOOTH_LOSS if u in at]
    return "\n".join(["| update | this run | handout |", "|---:|---:|---:|", *rows])


#: The sampling table's measures: (key, column, format of the mean, unit after the number).
_SAMPLING_COLUMNS = (("known_word_fraction", "known words", ".1%", ""),
                     ("distinct_2_words", "distinct-2 words", ".3f", ""),
                     ("distinct_4_chars", "distinct-4 chars", ".3f", ""),
                     ("longest_repeat_len", "longest repeat (characters)", "", ""))


def _sampling_cell(row: dict, key: str, spec: str, unit: str) -> str:
    """``mean ± half`` (:func:`charrnn.studies.stats.mean_interval` of ``row["samples"][key]``;
    a percentage's half in points) for a row with several samples; the one value otherwise."""
    values = row.get("samples", {}).get(key)
    if not values or len(values) < 2:
        value = row[key]
        return f"{value:{spec or ','}}{unit}"
    mean, half = mean_interval(values)
    if spec.endswith("%"):
        return f"{mean:{spec}} ± {100 * half:.1f}{unit}"
    return f"{mean:{spec or '.1f'}} ± {half:{spec or '.1f'}}{unit}"


def sampling_markdown(rows: list[dict], book: dict | None = None) -> str:
    """The sampling-study table: one line per row of :func:`charrnn.studies.study.sampling_study`
    (``label``, ``known_word_fraction``, ``distinct_2_words``, ``distinct_4_chars``,
    ``longest_repeat_len``, and ``samples``: each measure per sample), then ``book`` (the study's
    book row, its passages as samples) when given. A row with two or more samples shows each
    measure's mean ± the half-width of its 95 % t-interval (the known words' in percentage
    points); a row with one sample (a beam search, or a study from before several samples were
    taken) shows its value."""
    lines = ["| setting | " + " | ".join(c for _, c, _, _ in _SAMPLING_COLUMNS) + " |",
             "|---|---:|---:|---:|---:|"]
    for r in [*rows, *([book] if book else [])]:
        cells = [_sampling_cell(r, key, spec, unit) for key, _, spec, unit in _SAMPLING_COLUMNS]
        lines.append(f"| {r['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sampling_caption(study: dict) -> str:
    """What the sampling table shows, from ``study`` (``charrnn study --json``): the length,
    the number of samples per setting and the interval, the beam row, the book row and the words
    counted as known. A study from before several samples were taken (no ``n_samples``) says
    it has one text per setting."""
    n, s = study.get("n", 2000), study.get("n_samples", 1)
    text = f"Texts of {n:,} characters from the best model"
    if s < 2:
        return text + (", one per setting (sampled, or decoded by beam search), and what they "
                       "measure: one sample each, so no intervals.")
    conf = study.get("confidence", 0.95)
    text += (f", {s} samples per sampled setting: mean ± half-width of the {conf:.0%} "
             f"t-interval over the {s} samples (for the known words in percentage points). "
             "Beam search is deterministic: one decode, no "
             "interval")
    if study.get("book"):
        text += (f". Book text: {s} evenly spaced passages of {n:,} characters of the test "
                 "chunk (the last part of the text, as the held-out runs split it), measured "
                 "alike")
    end = (study.get("vocabulary") or [0, 0])[1]
    if end:
        text += (f". A word is known when it occurs in the first {end:,} characters of the "
                 "text (everything before the test chunk)")
    return text + "."


BENCH_NAMES = {"classic": "classic per-step loop",
               "numpy": "NumPy reference",
               "numba": "numba engine (default)",
               "torch64": "PyTorch nn.RNN, float64",
               "torch32": "PyTorch nn.RNN, float32"}


def bench_markdown(bench: dict) -> str:
    """The benchmark table of :func:`charrnn.bench.run_benchmark` as Markdown (its machine and
    settings: :func:`bench_note`)."""
    lines = ["| implementation | updates/s | chars/s | × classic | 150k updates (projected) | 1,000 chars "
             "sampled | loss diff vs NumPy |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in bench["results"].items():
        ratio = f"{r['ratio_to_classic']:.1f}" if r.get("ratio_to_classic") else "–"
        diff = r.get("max_abs_loss_diff_vs_numpy")
        agree = (fmt(diff) if diff is not None else "–") + ("" if r["agrees"] else " (**no**)")
        lines.append(f"| {BENCH_NAMES.get(name, name)} | {r['updates_per_s']:,.0f} | "
                     f"{r['chars_per_s']:,.0f} | {ratio} | {r['projected_150k_s']:,.0f} s | "
                     f"{r['sample_1000_s'] * 1e3:.0f} ms | {agree} |")
    return "\n".join(lines)


def bench_note(bench: dict) -> str:
    """The machine and settings of a :func:`charrnn.bench.run_benchmark` result, one paragraph
    for the benchmark table's caption (above the table, so that no page break parts them)."""
    m, st = bench["machine"], bench["settings"]
    comp = bench["results"].get("numba", {}).get("compile_s")
    return (f"Machine: {m['cpu']}, {m['cores']} cores; {m['threads']}. m = {st['m']}, "
            f"seq_length = {st['seq_length']}" + (f", K = {st['K']}" if "K" in st else "")
            + f", float64 unless stated. Median of {st['reps']} repetitions of "
            f"{st['n_updates']:,} updates; the last column is the largest difference of the "
            f"first {st['n_check']} losses from the NumPy reference's, checked before timing."
            + (f" numba compilation (or loading its disk cache) took {comp:.1f} s, outside "
               "the timings." if comp is not None else ""))


def signed_unit(row: dict) -> str:
    """``"+17"`` or ``"−17"`` (a minus sign): the best unit of a :func:`charrnn.studies.units.analyze` row,
    + when high activations mean the feature; ``"–"`` when the feature does not apply."""
    if not row.get("applicable"):
        return "–"
    return ("+" if row["sign"] > 0 else "\u2212") + str(row["unit"])


def units_html(reports: dict[str, dict]) -> str:
    """The hidden-unit table: one row per feature, one group of columns per model (best unit
    with its sign, its score, the probe's score). ``reports`` maps a column title (e.g. "handout
    model") to a report of :func:`charrnn.studies.units.analyze` (its ``features`` rows, in the same
    order for every report); a feature that is constant in the text shows "not in the text", one
    that is constant in one half of it (no unit can be chosen on one half and scored on the other)
    "not in both halves"."""
    titles = list(reports)
    top = "".join(f'<th colspan="3" style="text-align:center">{html.escape(t)}</th>' for t in titles)
    sub = "<th>unit</th><th>score</th><th>probe</th>" * len(titles)
    rows = []
    for i, first in enumerate(reports[titles[0]]["features"]):
        cells = []
        for t in titles:
            r = reports[t]["features"][i]
            if not r["applicable"]:
                absent = "not in the text" if r.get("constant", True) else "not in both halves"
                cells.append(f'<td colspan="3" style="text-align:center"><i>{absent}</i></td>')
                continue
            probe = "–" if r["probe_score"] is None else f"{r['probe_score']:.3f}"
            cells.append(f"<td>{signed_unit(r)}</td><td>{r['score']:.3f}</td><td>{probe}</td>")
        rows.append(f"<tr><td><code>{html.escape(first['feature'])}</code></td>"
                    f"<td>{html.escape(first['metric'])}</td>{''.join(cells)}</tr>")
    return ('<table class="units"><thead><tr><th rowspan="2">feature</th><th rowspan="2">metric'
            f"</th>{top}</tr><tr>{sub}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def units_controls_html(report: dict) -> str:
    """The controls table of one vanilla model's ``charrnn units --json`` result ``report``: one
    row per feature; the trained network's best unit (with its sign), its score and the probe's;
    the same for the untrained network (``controls.untrained``: the parameters training started
    from; "–" where the JSON has none); the probe on the one-hot input alone
    (``controls.input_only``). ``""`` for a report without ``controls`` (an older JSON)."""
    controls = report.get("controls")
    if not controls:
        return ""
    untrained = {r["feature"]: r for r in (controls.get("untrained") or {}).get("features", [])}
    inputs = {r["feature"]: r for r in controls["input_only"]["features"]}
    show = lambda x: "–" if x is None else f"{x:.3f}"  # noqa: E731
    rows = []
    for r in report["features"]:
        cells = []
        for row in (r, untrained.get(r["feature"])):
            if row is None or not row["applicable"]:
                cells.append("<td>–</td><td>–</td><td>–</td>")
            else:
                cells.append(f"<td>{signed_unit(row)}</td><td>{show(row['score'])}</td>"
                             f"<td>{show(row['probe_score'])}</td>")
        cells.append(f"<td>{show(inputs.get(r['feature'], {}).get('probe_score'))}</td>")
        rows.append(f"<tr><td><code>{html.escape(r['feature'])}</code></td>"
                    f"<td>{html.escape(r['metric'])}</td>{''.join(cells)}</tr>")
    top = "".join(f'<th colspan="{n}" style="text-align:center">{t}</th>'
                  for t, n in (("trained", 3), ("untrained", 3), ("input only", 1)))
    sub = "<th>unit</th><th>score</th><th>probe</th>" * 2 + "<th>probe</th>"
    return ('<table class="units"><thead><tr><th rowspan="2">feature</th><th rowspan="2">metric'
            f"</th>{top}</tr><tr>{sub}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def features_legend() -> str:
    """One Markdown line naming what each feature of :data:`charrnn.studies.units.FEATURES` means."""
    return "; ".join(f"`{name}`: {meaning}" for name, (_, meaning) in FEATURES.items()) + "."


def baselines_markdown(rows: list[dict]) -> str:
    """The gated baselines beside the vanilla RNN of the same size: one line per row (``model``,
    ``n_params``, ``seeds``, ``loss`` [nats/char] ± ``loss_std`` over the seeds and
    ``bits_per_char`` of its ``measure``, "test" or "validation" (the best validation loss;
    marked "val." when the rows mix them), ``chars`` [training characters], ``wall_time_s`` [s,
    mean per run], ``chars_per_s``)."""
    measures = {r.get("measure", "validation") for r in rows}
    name = {"test": "test loss", "validation": "best validation loss"}[measures.pop()] \
        if len(measures) == 1 else "test loss (val.: best validation loss)"
    lines = [f"| model | parameters | seeds | {name} (nats/char) | bits/char | budget (chars) | "
             "time | chars/s |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    mixed = name.startswith("test loss (")
    nb = "\u00a0"  # no-break spaces: each cell on one line
    for r in rows:
        val = " (val.)" if mixed and r.get("measure", "validation") != "test" else ""
        n = len(r.get("seeds") or [1])
        spread = f"{nb}±{nb}{r['loss_std']:.4f}" if n > 1 else ""
        lines.append(f"| {r['model'].replace(' ', nb)} | {r['n_params']:,} | {n} | "
                     f"{r['loss']:.4f}{spread}{val} | "
                     f"{r['bits_per_char']:.3f} | {r['chars'] / 1e6:.2f}{nb}M | "
                     f"{r['wall_time_s']:.0f}{nb}s | {r['chars_per_s']:,.0f} |")
    return "\n".join(lines)


def caption(kind: str, text: str) -> str:
    """A numbered caption as Markdown: ``kind`` is ``"figure"`` (placed below the figure) or
    ``"table"`` (above the table), ``text`` says what is shown and on which data. The print
    template (``templates/print``) numbers figures and tables apart, in the order they appear
    ("Figure 3.", "Table 5."), with CSS counters, so no part of the report keeps count. Raises
    ``ValueError`` for another kind."""
    if kind not in ("figure", "table"):
        raise ValueError(f"a caption is of a figure or a table, not {kind!r}")
    return f'<span class="caption caption-{kind}"></span>{text}'


def p_text(p: float) -> str:
    """A p-value as the report prints it: ``"< 0.001"`` or two significant digits (``"0.013"``)."""
    return "< 0.001" if p < 0.001 else f"{p:.2g}"


def welch_markdown(tests: list[dict]) -> str:
    """Welch's t-tests of :func:`charrnn.studies.experiments.comparisons` as a table, one pair per
    line: the lower and the higher mean loss, the settings that differ between them
    (``changes``, ``"-"`` without), their difference [nats/char] with its 95 % confidence
    interval, and p (two-sided), in bold when below alpha (the caption gives the units and the
    prose the seeds). ``""`` without tests."""
    tests = [t for t in tests if t]
    if not tests:
        return ""
    lines = ["| lower | higher | what differs | difference | 95 % interval | p |",
             "|---|---|---|---:|---:|---:|"]
    nb = "\u00a0"  # no-break spaces: each cell on one line (the changes one per line)
    for t in tests:
        changes = "<br>".join(c.replace("vanilla ", "").replace(" ", nb)
                              for c in t.get("changes") or []) or "-"
        p = p_text(t["p"]).replace(" ", nb)
        lines.append(f"| {t['a']} | {t['b']} | {changes} | {-t['diff']:.4f} | "
                     f"{-t['ci_high']:.4f}{nb}to{nb}{-t['ci_low']:.4f} | "
                     + (f"**{p}**" if t["significant"] else p) + " |")
    return "\n".join(lines)


def temperature_markdown(curve: dict) -> str:
    """The test loss against the temperature, one row per T (a column would not fit the page):
    the ``temperatures`` T and their ``losses`` [nats/char] of a
    :func:`charrnn.studies.study.temperature_of_run` record, T = 1 in bold, and a last row with
    the best T (3 decimals) and its ``best_loss``."""
    bold = lambda T, x: f"**{x}**" if T == 1 else x  # noqa: E731
    rows = [f"| {bold(T, f'{T:g}')} | {bold(T, f'{x:.4f}')} |"
            for T, x in zip(curve["temperatures"], curve["losses"])]
    return "\n".join(["| T | test loss (nats/char) |", "|---:|---:|", *rows,
                      f"| best: {curve['best_temperature']:.3f} | {curve['best_loss']:.4f} |"])
