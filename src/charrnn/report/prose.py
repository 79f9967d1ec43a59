"""The report's sentences and paragraphs, written from the artifacts (dicts in, Markdown out).

Every function is pure: it takes what a run folder or another artifact holds (a run from
:func:`charrnn.training.runs.load_run`, a gradient-check suite, the rows of the sampling study, the summary of
the experiments) and returns a Markdown string; none prints or reads a file. Tables and HTML
snippets live in :mod:`charrnn.report.tables`; the sentences on the hidden units and the gated baselines
in :mod:`charrnn.report.findings`. Losses are in nats per character (the mean loss) unless a
run sums its loss over the sequence.

A sentence that states a direction ("falls", "grows", "faster", "beats") takes the word from the
numbers it prints, compared as printed (:func:`order`): a tie at the printed precision is said as
one ("stays at 10"), never as a change.
"""

from __future__ import annotations

from ..model.gradcheck import LOSS_DEFINITIONS, all_passed, worst_rel_err
from ..studies.experiments import ALPHA, comparisons
from ..studies.stats import mean_interval
from ..util.checks import join_and
from .tables import fmt, p_text

__all__ = ["gradcheck_caption", "shorter_sequences", "gradcheck_verdict", "smooth_loss_paragraph",
           "samples_intro", "sample_title", "best_passage", "sampling_summary", "experiments_intro",
           "winner_sentence", "why_sentences", "significance_sentences", "p_value", "order",
           "change", "apart"]

_AGAINST = {"torch": "vs PyTorch", "numeric": "vs centered differences"}
#: How close float32 training comes to float64 (nats/char), as tests/test_train_extensions.py checks.
FLOAT32_TOLERANCE = 0.005


def _as_printed(x: float, spec: str) -> float:
    """``x`` rounded as ``format(x, spec)`` prints it (``"55%"`` -> 55.0, ``"1,234"`` -> 1234.0)."""
    return float(format(x, spec).rstrip("%").replace(",", ""))


def order(a: float, b: float, spec: str) -> int:
    """+1 when ``b`` is larger than ``a`` as both are printed with the format ``spec`` (e.g.
    ``".2f"``, ``".0%"``), -1 when smaller, 0 when they print the same."""
    pa, pb = _as_printed(a, spec), _as_printed(b, spec)
    return (pb > pa) - (pb < pa)


def change(a: float, b: float, spec: str, up: str, down: str, unit: str = "") -> str:
    """``"falls from 0.90 to 0.85"``, ``"grows from 10 to 11 characters"`` or ``"stays at 10
    characters"``: the verb (``up`` or ``down``) from :func:`order`, never from the caller."""
    d = order(a, b, spec)
    if d == 0:
        return f"stays at {a:{spec}}{unit}"
    return f"{up if d > 0 else down} from {a:{spec}} to {b:{spec}}{unit}"


def _worst(preset: str, block: dict, against: str) -> float:
    """The worst normwise error of one table (``block`` without its shorter sequences), the
    measure that decides whether a parameter passes (:func:`charrnn.model.gradcheck.decisive_error`)."""
    return worst_rel_err({preset: {**block, "by_seq_length": {}}}, against)


def gradcheck_caption(preset: str, block: dict) -> str:
    """The line above one gradient-check table. ``block`` is ``suite[preset]`` of a
    :func:`charrnn.model.gradcheck.gradcheck_suite` result (it has ``config`` and ``loss``)."""
    c = block["config"]
    return (f"**Loss {c['reduction']}** over {c['seq_length']} characters ({preset} preset, init "
            f"`{c['init']}`), loss {block['loss']:.4f}:")


def shorter_sequences(preset: str, block: dict) -> str:
    """One sentence with the worst errors at the shorter sequence lengths of ``block``
    (``suite[preset]``, its ``by_seq_length``); ``""`` when there are none."""
    short = [f"seq_length {T}: worst {fmt(_worst(preset, b, 'torch'))} vs PyTorch, "
             f"{fmt(_worst(preset, b, 'numeric'))} vs differences"
             for T, b in block.get("by_seq_length", {}).items()]
    if not short:
        return ""
    return ("Shorter sequences (a missing recurrent term would pass at 1 but not at 2): "
            + "; ".join(short) + ".")


def _failures(suite: dict) -> list[str]:
    """``"W (adam preset, seq_length 25, vs PyTorch)"`` for every row of ``suite`` that failed."""
    out = []
    for preset in LOSS_DEFINITIONS:
        if preset not in suite:
            continue
        r = suite[preset]
        blocks = {r["config"]["seq_length"]: r, **{int(T): b for T, b in r.get("by_seq_length", {}).items()}}
        for T, block in blocks.items():
            for against, label in _AGAINST.items():
                out += [f"{name} ({preset} preset, seq_length {T}, {label})"
                        for name, row in block.get(against, {}).items() if not row["passed"]]
    return out


def gradcheck_verdict(suite: dict) -> str:
    """The verdict on a whole gradient check: ``suite`` is the JSON that
    ``01_gradient_check.ipynb`` or ``charrnn gradcheck --json`` writes (a
    :func:`charrnn.model.gradcheck.gradcheck_suite` result plus ``tolerances``: torch, numeric).
    A failed check names every failing parameter; the worst errors are given either way."""
    tol = suite["tolerances"]
    presets = [p for p in LOSS_DEFINITIONS if p in suite]
    worst_torch, worst_num = worst_rel_err(suite, "torch"), worst_rel_err(suite, "numeric")
    numeric = worst_num == worst_num  # NaN when the centered differences were skipped
    if not all_passed(suite):
        return ("**The gradient check FAILED**: at least one parameter exceeds its tolerance: "
                + "; ".join(_failures(suite)) + f". Worst relative error {fmt(worst_torch)} vs PyTorch "
                f"(tolerance {fmt(tol['torch'], 0)})"
                + (f", {fmt(worst_num)} vs centered differences (tolerance {fmt(tol['numeric'], 0)})"
                   if numeric else "") + ".")
    lengths = sorted({int(T) for p in presets for T in suite[p].get("by_seq_length", {})}
                     | {suite[p]["config"]["seq_length"] for p in presets})
    losses = "both loss definitions" if len(presets) == 2 else \
        f"the {suite[presets[0]]['config']['reduction']} loss"
    return ("We believe the gradients are correct: every parameter agrees with PyTorch to "
            f"{fmt(worst_torch)} or better (tolerance {fmt(tol['torch'], 0)})"
            + (f" and with centered differences to {fmt(worst_num)} or better (tolerance "
               f"{fmt(tol['numeric'], 0)})" if numeric else " (centered differences were not computed)")
            + f", for {losses} and at sequence {'length' if len(lengths) == 1 else 'lengths'} "
            f"{join_and(lengths)}.")


def smooth_loss_paragraph(run: dict) -> str:
    """Where the best smooth loss of ``run`` (a :func:`charrnn.training.runs.load_run` dict; its
    ``metrics``) was reached, in which epoch, and the final one; it ends by introducing the
    table of :func:`charrnn.report.tables.checkpoints_markdown`."""
    met = run["metrics"]
    per_epoch = met["updates_per_epoch"]
    ep = (met["best_update"] - 1) // per_epoch + 1
    return (f"Best smooth loss **{met['best_smooth_loss']:.4f}** at update {met['best_update']:,}, in "
            f"epoch {ep} (which ends at update {ep * per_epoch:,}); final "
            f"{met['final_smooth_loss']:.4f}. The smooth loss at the handout's checkpoints "
            f"(seed {met['seed']}):")


def samples_intro(run: dict) -> str:
    """How the samples of ``run`` (a :func:`charrnn.training.runs.load_run` dict: its ``config`` and
    ``samples``) were taken: length, when, from which state, temperature and top-p."""
    cfg = run["config"]
    return (f"{cfg['sample_length']} characters sampled before the first update"
            + (f" and then every {cfg['sample_every']:,} updates" if len(run["samples"]) > 1 else "")
            + ", each starting from the hidden state and first input character of the next update "
            f"(inverse-CDF sampling, temperature {cfg['temperature']}"
            + (f", top-p {cfg['top_p']}" if cfg["top_p"] < 1 else "") + ").")


def sample_title(update: int) -> str:
    """The title of the sample taken when ``update`` updates were done (0: before the first)."""
    return "before the first update" if update == 0 else f"after {update:,} updates"


def best_passage(best_sample: dict) -> str:
    """The sentence before the passage from the best model: ``best_sample`` is a run's
    ``best_sample.json`` (``text``, ``update``, ``criterion``, ``smooth_loss``, ``loss``): the
    lowest smooth loss, or, for a run with a held-out chunk (``criterion`` "val_loss", whose
    ``smooth_loss`` is null), the lowest validation loss."""
    if best_sample.get("criterion") == "val_loss":
        which = f"validation loss ({best_sample['loss']:.4f} nats/char"
    else:
        which = f"smooth loss ({best_sample['smooth_loss']:.4f}"
    return (f"{len(best_sample['text']):,} characters from the model with the lowest {which}, "
            f"update {best_sample['update']:,}), starting from the hidden state and input of "
            "that update.")


def _span(row: dict, key: str) -> tuple[float, float] | None:
    """The 95 % t-interval of ``row``'s measure ``key`` over its ``samples``
    (:func:`charrnn.studies.stats.mean_interval`); ``(v, v)`` for a beam-search row (one
    deterministic decode); None for a sampled row with one sample (no spread to judge by)."""
    values = row.get("samples", {}).get(key)
    if values and len(values) > 1:
        mean, half = mean_interval(values)
        return mean - half, mean + half
    if row.get("beam") is not None:
        return row[key], row[key]
    return None


def _mean(row: dict, key: str) -> float:
    """``row``'s measure ``key``: the mean over its samples, or its one value."""
    values = row.get("samples", {}).get(key)
    return mean_interval(values)[0] if values else row[key]


def apart(a: dict, b: dict, key: str, spec: str) -> int | None:
    """+1 when ``b``'s measure ``key`` is larger than ``a``'s, -1 when smaller, 0 when their
    95 % t-intervals (:func:`_span`) overlap or the means print the same with ``spec``
    (:func:`order`), None when either row has one sample (then nothing can be claimed)."""
    sa, sb = _span(a, key), _span(b, key)
    if sa is None or sb is None:
        return None
    d = (sb[0] > sa[1]) - (sb[1] < sa[0])
    return d if d == order(_mean(a, key), _mean(b, key), spec) else 0


def _shift(a: dict, b: dict, key: str, spec: str, up: str, down: str, unit: str = "") -> str:
    """``"falls from 0.98 to 0.82"`` when :func:`apart` finds a difference, ``"is 0.98 against
    0.97 (within the intervals)"`` when it does not, ``"... (one sample: no interval)"`` when
    it cannot tell."""
    d = apart(a, b, key, spec)
    x, y = _mean(a, key), _mean(b, key)
    if d:
        return f"{up if d > 0 else down} from {x:{spec}} to {y:{spec}}{unit}"
    why = "one sample: no interval" if d is None else "within the intervals"
    return f"is {x:{spec}} against {y:{spec}}{unit} ({why})"


def sampling_summary(rows: list[dict], book: dict | None = None) -> str:
    """What sharper sampling does, from the rows of :func:`charrnn.studies.study.sampling_study`
    (``temperature``, ``top_p``, ``known_word_fraction``, ``distinct_2_words``,
    ``longest_repeat_len``, and ``samples``: each per sample): plain sampling against the lowest
    and the highest temperature and the smallest top-p, each measure as its mean over the
    samples. A difference is claimed only when the two 95 % t-intervals do not overlap
    (:func:`apart`; a beam row is one point; a row of one sample, as an older study has, claims
    none), and the sentence says so: "trades diversity for correctness" only when the low
    temperature has more real words and a lower distinct-2, "alike" only when top-p moves both
    the same way, "only" when the high temperature has fewer real words. A beam-search row
    (``beam`` not None) adds a clause on its real words, distinct-2 and longest repeat against
    plain sampling's; ``book`` (the study's book row) a clause on the real text's known words,
    the ceiling, against plain sampling's and the best setting's. ``""`` when the rows lack plain
    sampling or a lower temperature."""
    beams = [r for r in rows if r.get("beam") is not None]
    rows = [r for r in rows if r.get("beam") is None]
    plain = next((r for r in rows if r["temperature"] == 1 and r["top_p"] == 1), None)
    temps = [r for r in rows if r["top_p"] == 1 and r["temperature"] != 1]
    nuclei = [r for r in rows if r["temperature"] == 1 and r["top_p"] < 1]
    if plain is None or not temps or min(r["temperature"] for r in temps) > 1:
        return ""
    cold = min(temps, key=lambda r: r["temperature"])
    hot = max(temps, key=lambda r: r["temperature"])
    known = lambda r: _mean(r, "known_word_fraction")  # noqa: E731

    def moves(r: dict) -> tuple:  # real words and distinct-2 of r against plain sampling
        return (apart(plain, r, "known_word_fraction", ".0%"),
                apart(plain, r, "distinct_2_words", ".2f"))

    trade = moves(cold) == (1, -1)  # more real words, less diversity
    text = (f"at T = {cold['temperature']} {known(cold):.0%} of the words are real "
            f"(plain sampling: {known(plain):.0%}), " + ("but " if trade else "")
            + "distinct-2 " + _shift(plain, cold, "distinct_2_words", ".2f", "rises", "falls")
            + " and the longest repeat " + _shift(plain, cold, "longest_repeat_len", ",.0f",
                                                  "grows", "shrinks", " characters"))
    text = ("Sharper sampling trades diversity for correctness: " + text if trade
            else text[0].upper() + text[1:])
    if nuclei:
        nucleus = min(nuclei, key=lambda r: r["top_p"])
        judged = None not in moves(cold) + moves(nucleus)  # both with intervals
        said = (f"{known(nucleus):.0%} real words, distinct-2 "
                f"{_mean(nucleus, 'distinct_2_words'):.2f}")
        text += (f"; top-p {nucleus['top_p']} behaves "
                 f"{'alike' if moves(nucleus) == moves(cold) else 'differently'} ({said})"
                 if judged else f"; top-p {nucleus['top_p']}: {said}")
    if hot["temperature"] > 1:
        only = "only " if moves(hot)[0] == -1 else ""
        text += f"; at T = {hot['temperature']} {only}{known(hot):.0%} of the words are real"
    text += "."
    for b in beams:  # the likeliest text the search finds, against plain sampling
        text += (f" Beam search (beam {b['beam']}): {b['known_word_fraction']:.0%} of the words are "
                 "real, distinct-2 " + _shift(plain, b, "distinct_2_words", ".2f", "rises", "falls")
                 + " and the longest repeat " + _shift(plain, b, "longest_repeat_len", ",.0f",
                                                       "grows", "shrinks", " characters") + ".")
    if book:  # the ceiling: real text of the book the word list has not seen
        best = max(rows, key=known)
        reach = apart(book, best, "known_word_fraction", ".0%")
        verdict = {None: "one sample: no interval to compare", 0: "within the book's interval",
                   -1: "below the book's", 1: "above the book's"}[reach]
        text += (f" Real text of the book (the test chunk): {known(book):.0%} of its words are "
                 f"known, against {known(plain):.0%} for plain sampling and {known(best):.0%} at "
                 f"the best setting ({best['label']}: {verdict}).")
    n = max(len(r.get("samples", {}).get("known_word_fraction", [0])) for r in rows)
    text += (f" A difference is claimed where the 95% t-intervals over the {n} samples do not "
             "overlap, and nowhere else; beam search is one decode." if n > 1 else
             " One sample per setting: no intervals, so no difference is claimed.")
    return text


def experiments_intro(summary: dict, n_evals: int) -> str:
    """How the variants were trained and evaluated: ``summary`` is
    :func:`charrnn.studies.experiments.summarize`'s result (its rows' ``chars``, ``seeds`` and
    ``dtype``), ``n_evals`` the number of validation evaluations of a variant."""
    rows = summary["rows"]
    budgets: dict[str, list[str]] = {}  # "2" (M characters, as printed) -> its variants, in order
    for r in rows:
        budgets.setdefault(f"{r['chars'] / 1e6:.3g}", []).append(r["variant"])
    budgets = dict(sorted(budgets.items(), key=lambda kv: float(kv[0])))
    seeded = [r["variant"] for r in rows if len(r["seeds"]) > 1]
    f32 = [r["variant"] for r in rows if r.get("dtype") == "float32"]
    text = ("Every variant trained on the text without its last 1/20 (held out) "
            + (f"for about {next(iter(budgets))} M characters" if len(budgets) == 1 else
               "for a budget of training characters chosen per comparison, shared by the rows "
               "that are compared (" + "; ".join(f"{join_and(vs)}: {c} M" for c, vs in
                                                  budgets.items()) + ")")
            + (f". The held-out chunk's first {1 - rows[0]['test_fraction']:.0%} is the "
               f"validation text: evaluated {n_evals} times, it chose each run's model (the one "
               f"at its lowest validation loss); the last {rows[0]['test_fraction']:.0%} is the "
               "test text, which scored that model once, and the tables give that test loss"
               if rows[0].get("measure") == "test" else
               f" and was evaluated on the held-out chunk {n_evals} times")
            + " (stateful loss: the hidden state carried from $h = 0$ through the whole text).")
    if seeded:
        ns = sorted({len(r["seeds"]) for r in rows if len(r["seeds"]) > 1})
        n = ns[0] if len(ns) == 1 else f"{ns[0]} to {ns[-1]}"
        text += (f" The variants {join_and(seeded)} ran with {n} seeds each (each seed changes the "
                 "initialisation and, where the order is random, the order): the table gives the "
                 "mean ± standard deviation over the seeds and the plot a band of ± one standard "
                 "deviation; two variants are compared with Welch's t-test over their seeds.")
    if f32:
        text += (f" {join_and(f32)} computed in float32 (a test checks that float32 reaches the "
                 f"float64 validation loss within {FLOAT32_TOLERANCE} nats/char); the others in "
                 "float64.")
        tests = [t for t in summary.get("comparisons") or [] if t]
        mixed = [t for t in tests if {t["a"], t["b"]} & set(f32)
                 and not {t["a"], t["b"]} <= set(f32)]
        if mixed:  # the pairs whose difference could hold a float32 effect
            d = sorted(-t["diff"] for t in mixed)
            span = f"{d[0]:.4f}" if len(d) == 1 else f"{d[0]:.4f} to {d[-1]:.4f}"
            text += (f" The differences between a float32 and a float64 variant here are {span} "
                     f"nats/char, so a float32 effect of up to {FLOAT32_TOLERANCE} could "
                     + ("account for the smallest of them." if d[0] <= FLOAT32_TOLERANCE else
                        "not account for any of them."))
    return text + (" Learning rates were chosen once, the same way for every vanilla variant "
                   "and gated baseline, on the validation text of the book (`make lr`: each "
                   "model's rate times 0.5, 1, 2 and 4, seed 1, 1 M training characters; the "
                   "text the tables score plays no part); `charrnn.studies.experiments.VARIANTS` "
                   "records the results.")


def _duration(seconds: float) -> str:
    """``"5.4 minutes"`` from 2 minutes on, ``"45 seconds"``, ``"0.3 seconds"`` under 10 s."""
    if seconds >= 120:
        return f"{seconds / 60:.1f} minutes"
    return f"{seconds:.0f} seconds" if seconds >= 10 else f"{seconds:.1f} seconds"


def winner_sentence(summary: dict) -> str:
    """The winner of :func:`charrnn.studies.experiments.summarize`'s ``summary`` (its ``winner`` and
    ``rows``): its description, best validation loss and training time, and how many times the
    training characters of any other variant it had when that is more (as printed, one
    decimal; budgets are chosen per comparison, so there is no one common budget)."""
    rows = summary["rows"]
    w = next(r for r in rows if r["variant"] == summary["winner"])
    others = [r["chars"] for r in rows if r is not w]
    times = w["chars"] / max(others) if others else 1.0
    more = (f", with {times:.1f} times the training characters of any other variant"
            if order(1, times, ".1f") > 0 else "")
    measure = "test loss" if w.get("measure") == "test" else "best validation loss"
    return (f"**Lowest loss: {w['variant']}** ({w['description']}), {measure} "
            f"{w['loss']:.4f} nats/char ({w['bits_per_char']:.3f} bits/char) after "
            f"{_duration(w['wall_time_s'])} of training{more}.")


def p_value(p: float) -> str:
    """``"p < 0.001"`` or ``"p = 0.013"`` (:func:`charrnn.report.tables.p_text`)."""
    t = p_text(p)
    return f"p {t}" if t.startswith("<") else f"p = {t}"


def significance_sentences(tests: list[dict]) -> str:
    """Every significant difference of :func:`charrnn.studies.experiments.comparisons`' ``tests``
    (Welch's t-test over seeds; ``a`` has the lower mean loss), with its size, 95 % interval and
    p-value, and how many are not significant. A pair whose means print the same (4 decimals) is
    never said to differ. ``""`` without tests."""
    tests = [t for t in tests if t]
    if not tests:
        return ""
    ns = sorted({t["n_a"] for t in tests} | {t["n_b"] for t in tests})
    n = f"{ns[0]}" if len(ns) == 1 else f"{ns[0]} to {ns[-1]}"
    sig = [t for t in tests if t["significant"] and order(0, -t["diff"], ".4f") > 0]
    rest = [t for t in tests if t not in sig]
    head = (f"Welch's t-test over the seeds ({n} per variant, α = {ALPHA:g}) finds "
            f"{len(sig)} of the {len(tests)} differences significant")
    closest = min(rest, key=lambda t: t["p"]) if rest else None
    near = (f"the closest: {closest['a']} against {closest['b']}, {p_value(closest['p'])}"
            if closest else "")
    if sig:
        said = [f"{t['a']} beats {t['b']} by {-t['diff']:.4f} nats/char (95 % interval "
                f"{-t['ci_high']:.4f} to {-t['ci_low']:.4f}, {p_value(t['p'])})" for t in sig]
        text = head + ": " + "; ".join(said) + "."
        if rest:
            text += (" The remaining one is not" if len(rest) == 1 else
                     f" The other {len(rest)} are not") + f" ({near})."
    else:
        text = head + f" ({near})."
    if rest:
        text += (f" With {n} seeds only large differences can be told apart: not significant "
                 "does not mean equal.")
    return text


#: The variants between m256 and the long run, one change each (:data:`charrnn.studies.experiments.VARIANTS`).
STEPS = ("m256", "m256s50", "m256cos")


def why_sentences(summary: dict) -> str:
    """Why the winner wins, from :func:`charrnn.studies.experiments.summarize`'s ``summary["rows"]``:
    how close the m = 100 variants are (those at the first one's budget), how much faster B = 32
    is than the handout's loop, and
    what m = 256 and the longer, cosine-scheduled "best" variant add. Each sentence appears only
    when its variants are in the rows (and, for m = 256, when its loss, as printed, is below the
    m = 100 variants'); "faster" or "slower" is the ratio of the printed speeds (characters/s).
    ``""`` when none applies."""
    rows = summary["rows"]
    by = {r["variant"]: r for r in rows}
    why = []
    small = [r for r in rows if r["m"] == 100]
    if small:  # those at the first one's budget: a spread across budgets would mix two effects
        small = [r for r in small if r.get("chars") == small[0].get("chars")]
    if len(small) == 1:
        b = small[0]
        why.append(f"With m = 100 only {b['variant']} ran ({b['loss']:.4f}).")
    elif small:
        # the budget they share, named: other m = 100 rows (B32) may have trained on more
        at = f" and {small[0]['chars']:,} training characters" if small[0].get("chars") else ""
        b = min(small, key=lambda r: r["loss"])
        spread = max(r["loss"] for r in small) - b["loss"]
        why.append(f"With m = 100{at} the variants end within {spread:.3f} nats of each other "
                   f"(best: {b['variant']}, {b['loss']:.4f}).")
    tests = summary.get("comparisons")
    if tests is None and all("losses" in r for r in rows):
        tests = comparisons(rows)
    significance = significance_sentences(tests or [])
    if significance:
        why.append(significance)
    faster = False
    if "sequential" in by and "B32" in by:
        a, c = by["sequential"], by["B32"]
        ratio = c["chars_per_s"] / a["chars_per_s"]  # the ratio of the two speeds printed with it
        speeds = f"({c['chars_per_s']:,.0f} against {a['chars_per_s']:,.0f} characters/s)"
        same = "the same characters" if a.get("chars") == c.get("chars") else "characters"
        faster, slower = order(1, ratio, ".1f") > 0, order(1, 1 / ratio, ".1f") > 0
        mixed = (f" The ratio mixes batching with the float width (B = 32 in "
                 f"{c.get('dtype', 'float64')}, the loop in {a.get('dtype', 'float64')}); the two "
                 "are not measured apart here." if c.get("dtype", "float64") != a.get("dtype", "float64")
                 else "")
        if faster:
            why.append(f"Mini-batches change the time it takes: B = 32 processed {same} "
                       f"{ratio:.1f} times faster than the handout's loop {speeds}: one "
                       "matrix-matrix product replaces 32 matrix-vector ones." + mixed)
        elif slower:
            why.append(f"B = 32 processed {same} {1 / ratio:.1f} times slower than the handout's "
                       f"loop {speeds}.")
        else:
            why.append(f"B = 32 processed {same} about as fast as the handout's loop {speeds}.")
    m256, best = by.get("m256"), by.get("best")
    vs_b32 = next((t for t in tests or [] if t and {t["a"], t["b"]} == {"m256", "B32"}), None)
    if m256 and vs_b32 is not None and not (vs_b32["significant"] and vs_b32["a"] == "m256"):
        why.append(f"m = 256 with 32 streams reaches {m256['loss']:.4f}; against B32 (m = 100) "
                   f"the t-test finds no significant lead ({p_value(vs_b32['p'])}).")
    elif m256 and small and b.get("chars") == m256.get("chars") \
            and order(b["loss"], m256["loss"], ".4f") < 0:
        why.append(f"{'That speed buys capacity' if faster else 'Capacity pays'}: m = 256 with 32 "
                   f"streams reaches {m256['loss']:.4f}.")
    steps = [by[v] for v in STEPS if v in by]
    if len(steps) > 1:
        read = " → ".join(f"{r['variant']} {r['loss']:.4f}" for r in steps)
        why.append(f"The steps towards the long run, one change each at the same budget, read "
                   f"{read} nats/char; the t-tests say which step is larger than the seeds' "
                   "spread.")
    if best and (steps or m256):
        base = steps[-1] if steps else m256
        times = best["chars"] / base["chars"]
        more = order(1, times, ".1f") != 0
        why.append(f"The long run is {base['variant']}'s recipe"
                   + (f" with {times:.1f} times the training characters" if more else "")
                   + f": {best['loss']:.4f} after {_duration(best['wall_time_s'])} of training"
                   + (" (one seed, so it is not tested against the others)."
                      if len(best.get("seeds") or [1]) < 2 else "."))
    return " ".join(why)

