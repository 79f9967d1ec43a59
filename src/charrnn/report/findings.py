"""The report's sentences on what the extra models show: which hidden units track which
features of the text (after Karpathy, Johnson & Fei-Fei 2015) and where the vanilla RNN stands
against gated models of its size, written from the artifacts (dicts in, Markdown out).

Pure functions, as in :mod:`charrnn.report.prose`: they take what ``charrnn units --json`` and the run
folders hold and return Markdown; none prints or reads a file. Losses in bits per character.
"""

from __future__ import annotations

from ..model.evaluate import BITS_PER_NAT
from ..training.state import SMOOTH_DECAY, SMOOTH_WEIGHT
from ..util.checks import join_and
from .prose import change, order, significance_sentences
from .tables import signed_unit

__all__ = ["KARPATHY_2015", "STRONG", "units_intro", "units_paragraph", "controls_paragraph",
           "baselines_paragraph",
           "LITERATURE", "best_model_paragraph", "heldout_paragraph", "calibration_paragraph",
           "temperature_paragraph"]


KARPATHY_2015 = ('Karpathy, Johnson & Fei-Fei, "Visualizing and Understanding Recurrent Networks", '
                 "arXiv 1506.02078, 2015")

#: The score from which a single unit, or the probe, counts as tracking a feature: ROC AUC for the
#: yes/no features (0.5 is chance), |r| for the position in the line.
STRONG = {"AUC": 0.9, "|r|": 0.8}
_MEMORY = {"quote": "quotation", "line_position": "line-position", "paren": "parenthesis"}


def _describe_model(label: str, units: dict) -> str:
    """``"**handout model** (m = 100, trained on the whole text, this part included)"``."""
    size = f"m = {units['m']}" if units.get("m") is not None else f"h = {units['hidden']}"
    seen = ("trained on the whole text, this part included" if units.get("trained_holdout") == 0
            else "trained with this part held out: it never saw it")
    return f"**{label}** ({size}, {seen})"


def units_intro(reports: dict[str, dict]) -> str:
    """How the hidden units were read, after :data:`KARPATHY_2015`: ``reports`` maps a model's
    name to what ``charrnn units --json`` wrote for it (``N``, ``n_chunks``, ``m`` or ``hidden``,
    ``trained_holdout``; the same part of the same text for every model)."""
    first = next(iter(reports.values()))
    models = join_and([_describe_model(label, r) for label, r in reports.items()])
    return (f"After {KARPATHY_2015}: each model read the last 1/{first.get('n_chunks', 20)} of the "
            f"text ({first['N']:,} characters) from a zero state, carrying its state from character "
            "to character, and every character was labelled with properties of the text up to it. "
            "For each feature the table gives the single unit whose activation $h_t$ predicts it "
            "best (+: high activation means the feature, −: low), its score (ROC AUC for the yes/no "
            "features, where 0.5 is chance and 1 perfect; $|r|$ for the position in the line), and "
            "the probe: a linear read-out of all units (logistic regression, or least squares for "
            "the position) fitted on the first half of the characters and scored on the second. "
            f"Models: {models}.")


def _rows(report: dict) -> dict:
    return {r["feature"]: r for r in report["features"]}


def _feature_sentence(feature: str, rows: dict[str, dict]) -> str:
    """Which models have a single unit for ``feature`` (score >= :data:`STRONG`), which only a
    probe that finds it, and which neither; ``rows`` maps a model's name to its row."""
    name = _MEMORY[feature]
    unit, probe_only, neither = [], [], []
    for label, r in rows.items():
        probe = r["probe_score"]
        if r["score"] >= STRONG[r["metric"]]:
            unit.append(f"the {label} ({signed_unit(r)}, {r['score']:.2f})")
        elif probe is not None and probe >= STRONG[r["metric"]]:
            probe_only.append(f"the {label} (probe {probe:.2f}, best unit {r['score']:.2f})")
        else:
            neither.append(f"the {label} (best unit {r['score']:.2f}, probe "
                           f"{'–' if probe is None else f'{probe:.2f}'})")
    metric = next(iter(rows.values()))["metric"]
    clauses = []
    if unit:
        clauses.append(f"a single {name} unit in {join_and(unit)}")
    if probe_only:
        clauses.append(f"no single unit but a linear read-out of all units in {join_and(probe_only)}: "
                       "the information is there, spread over many units")
    if neither:
        clauses.append(f"neither a single unit nor the probe tracks it in {join_and(neither)}")
    return (f"**`{feature}`** ({metric}; strong from {STRONG[metric]}): " + "; ".join(clauses)
            + ".")


def _saturated(report: dict) -> tuple[int, int, float]:
    """(units saturated on more than half of the characters, units, the median unit's fraction)."""
    sat = report["saturation"]
    both = sorted(a + b for a, b in zip(sat["left"], sat["right"]))
    return sum(f > 0.5 for f in both), len(both), both[len(both) // 2]


def units_paragraph(reports: dict[str, dict], lstm: dict | None = None) -> str:
    """What the hidden-unit tables show: ``reports`` maps a vanilla model's name to its
    ``charrnn units --json`` result, ``lstm`` is ``charrnn units --baseline --json``'s (its
    ``states`` h and c) or None. Per memory feature (quote, line_position, paren) which models
    have a single unit for it (score >= :data:`STRONG`), which only a probe that reads it, and
    which neither; why the probe of a feature of the current character (in_word) is trivially
    high; the saturation; whether the LSTM grew the cells of Karpathy et al."""
    rows = {label: _rows(r) for label, r in reports.items()}
    states = {f"LSTM's ${k}_t$": _rows(v) for k, v in (lstm or {}).get("states", {}).items()}
    every = {**rows, **states}
    out, absent = [], []
    for feature in _MEMORY:
        present = {label: r[feature] for label, r in every.items()
                   if feature in r and r[feature]["applicable"]}
        if present:
            out.append(_feature_sentence(feature, present))
        else:
            absent.append(f"`{feature}`")
    if absent:
        out.append(f"{join_and(absent)} {'does' if len(absent) == 1 else 'do'} not occur in this part "
                   "of the text, so no model can show a unit for it.")
    word = [r["in_word"]["probe_score"] for r in every.values()
            if r.get("in_word", {}).get("probe_score") is not None]
    if word:
        high = all(order(STRONG["AUC"], w, ".2f") >= 0 for w in word)  # as printed
        out.append(f"The probes of `in_word` ({', '.join(f'{w:.2f}' for w in word)}) "
                   + ("are high for a trivial reason" if high else "say nothing about memory")
                   + ": $h_t$ has just read $x_t$, so a property of the current character is in its "
                   "input term; such scores measure the input, not memory (`sentence_start` is "
                   "partly of that kind; `next_upper` is what $h_t$ has to predict).")
    if rows:
        sat = {label: _saturated(r) for label, r in reports.items()}
        threshold = next(iter(reports.values()))["saturation"]["threshold"]
        out.append(f"Saturation ($|h| > {threshold}$; the figure below, after the paper's Fig. 5): "
                   + join_and([f"{k} of the {label}'s {n} units" for label, (k, n, _) in sat.items()])
                   + " are saturated on more than half of the characters; the median unit on "
                   + join_and([f"{med:.0%}" for _, _, med in sat.values()]) + ".")
    if states:
        cells = [f"a {_MEMORY[f]} unit in its ${k}_t$" for k, v in lstm["states"].items()
                 for f, r in _rows(v).items() if f in _MEMORY and r["applicable"]
                 and r["score"] >= STRONG[r["metric"]]]
        out.append("Karpathy et al. found LSTM cells that keep track of line lengths, quotes and "
                   f"brackets; this one-layer LSTM (h = {lstm['hidden']}) has "
                   + (join_and(cells) if cells else "no such single unit in $h_t$ or $c_t$") + ".")
    return " ".join(out)


def _moves(pairs: dict[str, tuple[float, float]], spec: str = ".3f") -> tuple[list, list, list]:
    """The features of ``pairs`` (feature -> (before, after)) whose score rises, stays (as
    printed with ``spec``) and falls, each as ``"`f` (from a to b)"`` or ``"`f` (a)"``."""
    up, same, down = [], [], []
    for f, (a, b) in pairs.items():
        d = order(a, b, spec)
        if d == 0:
            same.append(f"`{f}` ({a:{spec}})")
        else:
            (up if d > 0 else down).append(f"`{f}` (from {a:{spec}} to {b:{spec}})")
    return up, same, down


def _moves_sentence(subject: str, pairs: dict[str, tuple[float, float]], raised: str,
                    kept: str, lowered: str) -> str:
    """One sentence: ``subject`` then the clauses of :func:`_moves` that are not empty."""
    up, same, down = _moves(pairs)
    clauses = ([f"{raised} for {join_and(up)}"] if up else []) + \
        ([f"{kept} for {join_and(same)}"] if same else []) + \
        ([f"{lowered} for {join_and(down)}"] if down else [])
    return f"{subject} " + "; ".join(clauses) + "."


def controls_paragraph(label: str, report: dict) -> str:
    """What the controls of one vanilla model show: ``report`` is its ``charrnn units --json``
    result, with ``controls`` (:func:`charrnn.studies.units.unit_report`): the untrained network
    (the parameters its training started from, same seed and init) and the probe on the one-hot
    input alone. For every feature scored by both, the trained network's probe and best unit set
    against the untrained network's, and its probe against the input alone's; each direction
    ("raised", "the same", "lowered", "above", "below") is read off the numbers as the table
    prints them (3 decimals, :func:`charrnn.report.prose.order`). ``""`` without controls (an
    older JSON)."""
    controls = report.get("controls")
    if not controls:
        return ""
    rows = _rows(report)
    scored = lambda r, k: r is not None and r.get("applicable") and r.get(k) is not None  # noqa: E731
    out = [f"Controls for the {label}: "]
    untrained = controls.get("untrained")
    if untrained:
        before = _rows(untrained)
        out[0] += (f"the untrained network (the same shape, seed {untrained['seed']} and init "
                   f"`{untrained['init']}`: the parameters its training started from) read the "
                   "same characters, and a probe read the one-hot input $x_t$ alone (no memory).")
        for key, what in (("probe_score", "the probe's score"), ("score", "the best single "
                                                                       "unit's score")):
            pairs = {f: (before[f][key], r[key]) for f, r in rows.items()
                     if scored(r, key) and scored(before.get(f), key)}
            if pairs:
                out.append(_moves_sentence("Against the untrained network, training", pairs,
                                           f"raised {what}", "left it the same, as printed,",
                                           "lowered it"))
    else:
        out[0] += ("the checkpoint does not give its seed and init, so there is no untrained "
                   "network to compare with; a probe read the one-hot input $x_t$ alone (no "
                   "memory).")
    inputs = _rows(controls["input_only"])
    pairs = {f: (inputs[f]["probe_score"], r["probe_score"]) for f, r in rows.items()
             if scored(r, "probe_score") and scored(inputs.get(f), "probe_score")}
    if pairs:
        up, same, down = [], [], []
        for f, (a, b) in pairs.items():
            d = order(a, b, ".3f")
            (up if d > 0 else same if d == 0 else down).append(
                f"`{f}` ({b:.3f} against {a:.3f})")
        clauses = ([f"above it for {join_and(up)}: what the state adds to the current character"]
                   if up else []) + \
            ([f"the same, as printed, for {join_and(same)}"] if same else []) + \
            ([f"below it for {join_and(down)}"] if down else [])
        out.append("Set against the input alone, the trained network's probe is "
                   + "; ".join(clauses) + ".")
    return " ".join(out)


#: What the literature reports for comparable character models. Only what could be checked here
#: (the paper's abstract) is said; its tables' numbers could not be verified, so none is quoted.
LITERATURE = (f"For scale, {KARPATHY_2015} trained character-level vanilla RNNs, LSTMs and GRUs on "
              "Tolstoy's *War and Peace* and the Linux kernel source and found the LSTM's "
              "interpretable cells (line lengths, quotes, brackets) and its clear lead over n-gram "
              "models in what needs long-range context. Their text, vocabulary, model sizes and "
              "training lengths differ from ours, so only the ordering can carry over, not the "
              "numbers; we quote none of theirs.")


def baselines_paragraph(vanilla: dict | None, gated: list[dict], tests: list[dict] | None = None,
                        best: dict | None = None) -> str:
    """Where the vanilla RNN stands against the gated models of its size. ``vanilla``: the
    summary row of the vanilla variant they are compared with (``variant``, ``model``,
    ``bits_per_char``, ``chars``, ``seeds``, ``measure`` and the settings of
    :data:`charrnn.studies.experiments.SETTINGS`) or None when it was not run; ``gated``: the
    gated models' rows (:func:`charrnn.report.sections.gated_rows`); ``tests``: Welch's t-tests
    among these rows (:func:`charrnn.studies.experiments.comparisons`), each with ``changes``;
    ``best``: the long run's row (only named, with how many more characters it had).
    :data:`LITERATURE` is the paragraph that follows it."""
    def seeds(r):
        n = len(r.get("seeds") or [1])
        return "one seed" if n == 1 else f"mean of {n} seeds"

    them = join_and([f"{r['bits_per_char']:.3f} for the {r['model']} ({seeds(r)})" for r in gated])
    if vanilla is None:
        return ("There is no vanilla m = 256 run of this budget in these experiments (add `m256cos` "
                "to `EXPERIMENTS`), so the like-for-like comparison is missing; the gated models "
                f"reach {them} bits/char.")
    where = "test text" if {vanilla.get("measure")} | {g.get("measure") for g in gated} == {"test"} \
        else "held-out chunk"
    text = (f"On the same split, with about the same number of parameters and of training "
            f"characters ({vanilla['chars'] / 1e6:.2f} M), the vanilla RNN ({vanilla['variant']}: "
            f"{vanilla['model']}) reaches {vanilla['bits_per_char']:.3f} bits/char on the {where} "
            f"({seeds(vanilla)}), against {them}.")
    tests = [t for t in tests or [] if t]
    if tests:
        text += " " + significance_sentences(tests)
        vs = [t for t in tests if vanilla["variant"] in (t["a"], t["b"])]
        better = [t["a"] for t in vs if t["significant"] and t["b"] == vanilla["variant"]
                  and order(0, -t["diff"], ".4f") > 0]
        if vs:
            text += (f" At this budget the gates pay off: {join_and(better)} "
                     + ("is" if len(better) == 1 else "are") + " significantly better than the "
                     "vanilla RNN." if better else " At this budget no gated model is "
                     "significantly better than the vanilla RNN.")
        other = sorted({c for t in vs for c in t.get("changes", [])
                        if not c.startswith(("model ", "eta "))})
        text += (" Besides the architecture, each model has its own learning rate"
                 + (f", and the runs differ in {join_and(other)}" if other else "")
                 + "; the gated models clip the gradient's global norm at 5, the vanilla one each "
                 "entry at 5.")
    else:
        text += " No two of these rows have two or more seeds, so no difference is tested."
    if best is not None:
        times = best["chars"] / vanilla["chars"]
        text += (f" (The long run's {best['bits_per_char']:.3f} bits/char come "
                 + (f"from {times:.1f} times as many characters: not a comparison at the same "
                    "budget.)" if order(1, times, ".1f") else "from about the same budget.)"))
    return text


def best_model_paragraph(runs: list[dict]) -> str:
    """What the handout's "best model" measures, from the seeds ``runs``
    (:func:`charrnn.training.runs.load_run` dicts: ``config`` with ``order``, ``batch_size``,
    ``seq_length`` and ``data_chars``; ``metrics`` with ``best_update`` and
    ``updates_per_epoch``): the character of the text each seed's best update read, e = ((update
    - 1) mod updates per epoch) x seq_length, and whether the seeds' places lie within 1 % of the
    text of each other. ``""`` unless the runs read one sequence at a time in the handout's order."""
    places = []
    for r in runs:
        c, m = r["config"], r["metrics"]
        if c.get("order", "sequential") != "sequential" or c.get("batch_size", 1) != 1 \
                or not c.get("data_chars"):
            return ""
        places.append(((m["best_update"] - 1) % m["updates_per_epoch"]) * c["seq_length"])
    n = runs[0]["config"]["data_chars"]
    updates = join_and([f"{r['metrics']['best_update']:,}" for r in runs])
    where = join_and([f"{e:,}" for e in places])
    if len(runs) > 1 and max(places) - min(places) <= 0.01 * n:
        text = (f"In all {len(runs)} seeds the lowest smooth loss falls at the same place in the "
                f"text: the update that reads from character {where} of {n:,} (updates {updates}). "
                "The seeds read the text in the same order, so they meet the same easy passage at "
                "the same time, and their spread in the best smooth loss measures the "
                "initialisation alone.")
    else:
        text = (f"The lowest smooth loss falls at the update{'s' if len(runs) > 1 else ''} that "
                f"read{'' if len(runs) > 1 else 's'} from character {where} of {n:,} "
                f"(update{'s' if len(runs) > 1 else ''} {updates}).")
    return text + (" The smooth loss averages the loss on the training text just read (a decay "
                   f"of {SMOOTH_DECAY} per update: about the last {round(1 / SMOOTH_WEIGHT):,} "
                   "sequences), so the handout's "
                   "\"best model\" is picked by how easy that passage is as much as by the model. "
                   "The held-out losses of the experiments below measure the model.")


def heldout_paragraph(heldout: list[dict]) -> str:
    """What the handout model scores on text it never saw: ``heldout`` are the handout runs
    trained with the last 1/20 of the text held out (:func:`charrnn.training.runs.load_run` dicts;
    ``metrics`` with ``best_smooth_loss``, ``best_val_loss``, ``test_loss``, ``n_test_chars``).
    The test loss set against the best smooth loss of the same runs, each as printed (4
    decimals), the direction from those numbers. ``""`` without runs."""
    if not heldout:
        return ""
    n = len(heldout)
    mean = lambda k: sum(r["metrics"][k] for r in heldout) / n  # noqa: E731
    test, smooth = round(mean("test_loss"), 4), round(mean("best_smooth_loss"), 4)
    d = order(smooth, test, ".4f")
    seeds = "one seed" if n == 1 else f"mean of {n} seeds"
    text = (f"Trained the same way but without the last 1/20 of the text, the handout model "
            f"(the one its validation half chose) scores **{test:.4f} nats/char "
            f"({test * BITS_PER_NAT:.3f} bits/char) on the test half** "
            f"({heldout[0]['metrics']['n_test_chars']:,} characters it never saw; {seeds}), against "
            f"a best smooth loss of {smooth:.4f} on the training text")
    if d > 0:
        text += f": {test - smooth:.4f} nats/char higher."
    elif d < 0:
        text += f": {smooth - test:.4f} nats/char lower."
    else:
        text += ": the same, as printed."
    return text + (" This test loss, not the smooth loss, is the handout model's number to compare "
                   "with the experiments below.")


def calibration_paragraph(refs: list[dict], models: list[dict]) -> str:
    """Where the models stand among the reference points of ``charrnn calibrate``: ``refs`` its
    ``references`` (``name``, ``kind``, ``bits_per_char``), ``models`` the report's models on the
    same test text (``name``, ``bits_per_char``). For the best model (lowest bits/char, as
    printed with 3 decimals) and, when it is another one, the last of ``models`` (the handout's
    model when the report has it): the references it beats and those it does not, each
    comparison made on the numbers as printed (a tie beats nothing). ``""`` without models."""
    if not models or not refs:
        return ""
    shown = lambda x: round(x["bits_per_char"], 3)  # noqa: E731

    def standing(m) -> str:
        below = [r for r in refs if shown(r) > shown(m)]
        above = [r for r in refs if shown(r) <= shown(m)]
        name = lambda r: f"{r['name'].split(' (')[0]} ({shown(r):.3f})"  # noqa: E731
        text = f"{m['name']} ({shown(m):.3f} bits/char)"
        if below:
            text += f" beats {join_and([name(r) for r in below])}"
        if above:
            text += (" but not " if below else " beats none of them: not ") + \
                join_and([name(r) for r in above])
        return text

    best = min(models, key=shown)
    parts = [f"On the same test text, the best model of this report, {standing(best)}."]
    if models[-1] is not best:
        parts.append(f"The handout-size model, {standing(models[-1])}.")
    if any(r["kind"] == "compressor" and shown(r) < shown(best) for r in refs):
        parts.append("The compressors keep learning while they read the test text; the networks "
                     "and the n-gram model are fixed once trained, so a compressor that wins is "
                     "partly adapting to the test text itself.")
    return " ".join(parts)


def temperature_paragraph(curve: dict) -> str:
    """Whether T = 1 is the best-calibrated temperature, from the ``temperature`` record of
    ``charrnn study --json`` (:func:`charrnn.studies.study.temperature_of_run`: ``loss_at_1``,
    ``best_temperature``, ``best_loss`` [nats/char], ``bounds``, ``n_chars``,
    ``trained_holdout``). The best T is set against 1 as printed (2 decimals: within 0.005 of 1
    it is "T = 1"), the loss's change as printed (4 decimals, :func:`charrnn.report.prose.change`);
    a best T at a bound of the search says so; a model that trained on the test text
    (``trained_holdout`` 0) is named as one."""
    best, lo, hi = curve["best_temperature"], *curve["bounds"]
    d = order(1.0, best, ".2f")
    text = (f"On the test text ({curve['n_chars']:,} characters), the loss with the logits divided "
            f"by T is lowest at T = {best:.2f}")
    if d == 0:
        text += (", so T = 1 is the best-calibrated temperature: the model's own probabilities "
                 f"fit text it never saw as well as any rescaling of them ({curve['loss_at_1']:.4f} "
                 "nats/char at T = 1")
        text += (")." if order(curve["loss_at_1"], curve["best_loss"], ".4f") == 0 else
                 f", {curve['best_loss']:.4f} at the best T).")
    else:
        text += (", above 1: the model is over-confident, and flattening its distributions"
                 if d > 0 else
                 ", below 1: the model is under-confident, and sharpening its distributions")
        text += (" " + change(curve["loss_at_1"], curve["best_loss"], ".4f", "raises the loss",
                              "lowers the loss", " nats/char") + ".")
        text = text.replace(" stays at", " leaves the loss at")
    if min(abs(best - lo), abs(best - hi)) <= 1e-3 * best:
        text += (f" That T lies at the edge of the range searched ({lo:g} to {hi:g}): the "
                 "minimum may lie beyond it.")
    if curve.get("trained_holdout") == 0:
        text += (" This model trained on the test text too, so the curve measures how well it "
                 "fits text it has seen, not its calibration on new text.")
    return text
