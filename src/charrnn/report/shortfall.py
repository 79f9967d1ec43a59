"""Why a vanilla RNN falls short (issue 18): the report's sections on how much context each model
uses (``charrnn context``), dynamic evaluation (``charrnn dynamic``), how the gradients vanish
(``charrnn gradients``) and how the models scale (a sweep of ``sweeps/scaling*.yaml``).

Each ``X(result, ...)`` takes what the command wrote (a dict, or None when it is missing) and returns
the notebook's parts, as :mod:`charrnn.report.sections` does: ``("markdown" | "html", text)`` or
``("figure", Figure)``; each ``X_paragraph`` is the sentence maker it says, a pure function of the
numbers, tested on synthetic ones (ties, reversals, one model).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..model.evaluate import BITS_PER_NAT
from ..model.optim import AdaGrad, Adam
from ..util.checks import join_and
from .parts import figure, not_yet
from .parts import shown as shown_parts
from .plots import plot_context, plot_grad_norms, plot_gradients, plot_scaling
from .tables import caption

__all__ = ["context", "context_paragraph", "dynamic", "dynamic_paragraph", "gradients",
           "gradients_paragraph", "grad_norm_facts", "grad_norm_history", "grad_norm_paragraph",
           "power_of_ten", "scaling_points", "scaling", "scaling_paragraph"]


#: The k (characters back) the context and gradient tables show.
SOME_KS = (1, 4, 16, 64, 256)


def _k_table(models: list[dict], key: str, spec: str, heads, cells, last: bool = False) -> list:
    """The Markdown lines of a table with one row per model: its ``key`` values (formatted with
    ``spec``) at the k of :data:`SOME_KS` among its ``ks`` (and the largest k with ``last``),
    then the columns ``heads`` with ``cells(model)``."""
    ks = models[0]["ks"]
    picked = [k for k in ks if k in SOME_KS] + ([ks[-1]] if last and ks[-1] not in SOME_KS else [])
    lines = ["| model | " + " | ".join([*(f"k = {k}" for k in picked), *heads]) + " |",
             "|---|" + "---:|" * (len(picked) + len(heads))]
    for m in models:
        by = dict(zip(m["ks"], m[key]))
        lines.append(f"| {m['name']} ({m['kind']}) | "
                     + " | ".join([*(f"{by[k]:{spec}}" for k in picked), *cells(m)]) + " |")
    return lines


def context(result: dict | None) -> list:
    """How much context each model uses (``charrnn context --json``, ``result``): the figure,
    a table of the losses at a few k, and what they show; "not yet" without it."""
    if result is None:
        return [not_yet("no context curves (`context.json`)", "make report")]
    models = result["models"]
    fig = figure(8, 3.8)
    plot_context(models, fig.subplots())
    lines = _k_table(models, "losses", ".3f", ("k = ∞", "within 0.01"),
                     lambda m: (f"{m['inf']:.3f}", str(m["within"] or "–")), last=True)
    return shown_parts([
        ("figure", fig),
        ("markdown", caption("figure", f"Test loss from a zero state k characters back, at "
                             f"{result['positions']:,} positions of the test text; dotted: each "
                             "model's stateful loss (k = ∞) at the same positions.")),
        ("markdown", caption("table", "The same losses (nats/char) at some k, and the smallest k "
                             "within 0.01 nats/char of k = ∞.")),
        ("markdown", "\n".join(lines)),
        ("markdown", context_paragraph(models))])


def context_paragraph(models: list[dict], near: float = 0.01) -> str:
    """How much context each model uses, from ``charrnn context --json``'s ``models`` (``name``,
    ``kind``, ``ks``, ``losses``, ``inf``, ``within``: the smallest k whose loss is within
    ``near`` of the k = infinity loss, or None), grouped by ``within`` from the smallest (those
    that never come within ``near`` last); ``""`` without models."""
    if not models:
        return ""
    ks = models[0]["ks"]
    groups: dict[int, list[str]] = {}
    for m in sorted(models, key=lambda m: m["within"] or 0):
        if m["within"] is not None:
            groups.setdefault(m["within"], []).append(m["name"])
    said = [f"{join_and(names)} at k = {k}" for k, names in groups.items()]
    never = [m for m in models if m["within"] is None]
    text = "Started from a zero state k characters back, "
    if said:
        text += ("the models come within " if len(models) > 1 else "the model comes within ") + \
            f"{near} nats/char of their stateful loss (k = ∞): " + join_and(said) + "."
    for m in never:
        text += (f"{' ' if said else ''}{m['name']} is still more than {near} nats/char above its "
                 f"stateful loss ({m['inf']:.3f}) at k = {ks[-1]}.")
    found = [m for m in models if m["within"] is not None]
    if len(found) > 1 and len({m["within"] for m in found}) > 1:
        few = min(found, key=lambda m: m["within"])
        many = max(found, key=lambda m: m["within"])
        text += (f" So {few['name']} makes its predictions from about the last {few['within']} "
                 f"characters, {many['name']} from about {many['within']}: what the state carries "
                 "beyond that changes its loss by less than " + f"{near} nats/char.")
    return text


def dynamic(result: dict | None, cal: dict | None = None) -> list:
    """Dynamic evaluation (``charrnn dynamic --json``, ``result``): static and dynamic test loss
    of each model side by side, with the rate chosen on validation, and what they show against
    PPMd of ``cal`` (``charrnn calibrate --json``, when it is on the same test text); "not yet"
    without it."""
    if result is None:
        return [not_yet("no dynamic evaluation (`dynamic.json`)", "make report")]
    models = result["models"]
    lines = ["| model | static | dynamic | change | rate η |", "|---|---:|---:|---:|---:|"]
    for m in models:
        s, d = m["static"] * BITS_PER_NAT, m["dynamic"] * BITS_PER_NAT
        lines.append(f"| {m['name']} ({m['kind']}) | {s:.3f} | {d:.3f} | {d - s:+.3f} | "
                     f"{m['eta']:g} |")
    ppmd = None
    if cal is not None and cal.get("test") == result["test"]:
        ppmd = next(({"name": "PPMd", "bits_per_char": r["bits_per_char"]}
                     for r in cal["references"] if r["name"].startswith("PPMd")), None)
    a, b = result["test"]
    va, vb = result["validation"]
    rates = ", ".join(f"{r:g}" for r in result["rates"])
    return shown_parts([
        ("markdown", caption("table", f"Test loss (bits/char, characters {a:,} to {b:,}) of each "
                             "model as trained (static) and with one plain SGD step after each "
                             f"{result['segment']}-character segment it has predicted (dynamic; "
                             f"rate η chosen among {rates} on the validation text, characters "
                             f"{va:,} to {vb:,}).")),
        ("markdown", "\n".join(lines)),
        ("markdown", dynamic_paragraph(models, ppmd))])


def dynamic_paragraph(models: list[dict], reference: dict | None = None,
                      small: float = 0.01) -> str:
    """What dynamic evaluation changes, from ``charrnn dynamic --json``'s ``models`` (``name``,
    ``static``, ``dynamic`` [nats/char], ``eta`` chosen on validation, ``rates``): the models it
    helps by at least ``small`` (largest gain first), by less, those it leaves alone (rate 0
    chosen) or hurts, a rate at the top
    of the grid, and where they stand against an adaptive ``reference`` (``name``,
    ``bits_per_char``: PPMd of ``charrnn calibrate``). Bits/char; ``""`` without models."""
    if not models:
        return ""
    bits = {m["name"]: (m["static"] * BITS_PER_NAT, m["dynamic"] * BITS_PER_NAT) for m in models}
    moved = sorted((m for m in models if m["eta"]), key=lambda m: bits[m["name"]][1] - bits[m["name"]][0])
    gain = {n: b[0] - b[1] for n, b in bits.items()}
    better = [m for m in moved if gain[m["name"]] >= small]
    barely = [m["name"] for m in moved if 0 < gain[m["name"]] < small]
    worse = [m for m in moved if gain[m["name"]] < 0]
    kept = [m["name"] for m in models if not m["eta"]]
    moved_by = lambda m: f"{m['name']} from {bits[m['name']][0]:.3f} to {bits[m['name']][1]:.3f}"  # noqa: E731
    text = []
    if better:
        text.append("Taking one SGD step after each segment lowers the test loss of "
                    + join_and([moved_by(m) for m in better]) + " bits/char.")
    if barely:
        text.append(f"For {join_and(barely)} the gain is below {small} bits/char.")
    if worse:
        text.append("The rate chosen on the validation text raises the test loss of "
                    + join_and([moved_by(m) for m in worse]) + " bits/char.")
    if kept:
        text.append(f"For {join_and(kept)} no rate tried helped on the validation text, so "
                    "the static model is kept.")
    top = [m["name"] for m in moved if m["eta"] == max(m["rates"])]
    if top:
        text.append(f"For {join_and(top)} the chosen rate is the largest tried: a larger one "
                    "might help more.")
    if reference is not None:
        ref = reference["bits_per_char"]
        below = [m["name"] for m in models if bits[m["name"]][1] < ref]
        before = [m["name"] for m in models if bits[m["name"]][0] < ref]
        if below:
            text.append(f"With it, {join_and(below)} {'beats' if len(below) == 1 else 'beat'} "
                        f"{reference['name']} ({ref:.3f} bits/char), which also learns while it "
                        "reads" + ("" if before else ", although no model did statically") + ".")
        else:
            text.append(f"None reaches {reference['name']} ({ref:.3f} bits/char), which also "
                        "learns while it reads.")
    return " ".join(text)


def gradients(result: dict | None, units: dict | None = None) -> list:
    """How the gradients vanish (``charrnn gradients --json``, ``result``): the figure, a table
    of the norms at some k with W's spectrum for the vanilla models, and what they show (with the
    quotation feature of ``units``, ``charrnn units --json`` of the handout model); "not yet"
    without it."""
    if result is None:
        return [not_yet("no gradient norms (`gradients.json`)", "make report")]
    models = result["models"]
    fig = figure(8, 3.8)
    plot_gradients(models, fig.subplots())
    lines = _k_table(models, "norms", ".1e", ("σ_max(W)", "ρ(W)"),
                     lambda m: (f"{m['sigma_max']:.2f}", f"{m['spectral_radius']:.2f}")
                     if "sigma_max" in m else ("–", "–"))
    quote = None
    if units is not None:
        quote = next((f.get("score") for f in units.get("features", [])
                      if f.get("feature") == "quote"), None)
    return shown_parts([
        ("figure", fig),
        ("markdown", caption("figure", "Mean norm of the gradient of the loss at one character "
                             "with respect to the state k characters before the one that "
                             f"predicts it, over {result['positions']:,} positions of the test "
                             "text (the state carried from its start; for the LSTM, h and c "
                             "together).")),
        ("markdown", caption("table", "The same norms at some k; the largest singular value and "
                             "the spectral radius of the vanilla models' W.")),
        ("markdown", "\n".join(lines)),
        ("markdown", gradients_paragraph(models, quote))])


def power_of_ten(x: float) -> str:
    """``x`` (> 0) as a rounded power of ten in MathJax, "$10^{8}$"; "1" near 1."""
    e = round(math.log10(x))
    return "1" if e == 0 else "$10^{" + str(e) + "}$"


def gradients_paragraph(models: list[dict], quote_auc: float | None = None, k_ref: int = 64) -> str:
    """How the gradients vanish, from ``charrnn gradients --json``'s ``models`` (``name``, ``ks``,
    ``norms``; vanilla ones also ``spectral_radius``): by what factor the gradient shrinks from
    k = 1 to ``k_ref`` (or the largest k below it) in each model, most first; what W's spectral
    radius says about where the shrinking comes from; and, with ``quote_auc`` (the handout
    model's best single unit on "inside a quotation", AUC; the first vanilla model of
    ``models`` is taken to be the handout model), what that means for quotations.
    ``""`` without models."""
    if not models:
        return ""
    k = max(x for x in models[0]["ks"] if x <= k_ref)
    factor = {m["name"]: m["norms"][0] / m["norms"][m["ks"].index(k)] for m in models}
    ranked = sorted(models, key=lambda m: -factor[m["name"]])
    shrink = [m["name"] for m in ranked if factor[m["name"]] > 1]
    text = [f"From k = 1 to k = {k}, the mean gradient norm "
            + ("shrinks by a factor of " + join_and([f"{power_of_ten(factor[n])} in {n}"
                                                      if factor[n] >= 100 else
                                                      f"{factor[n]:.1f} in {n}" for n in shrink])
               if shrink else "does not shrink in any model")
            + "."]
    grow = [m["name"] for m in models if factor[m["name"]] <= 1]
    if shrink and grow:
        text.append(f"In {join_and(grow)} it does not shrink.")
    rho = [m["spectral_radius"] for m in models if "spectral_radius" in m]
    vanilla = [m["name"] for m in models if "spectral_radius" in m]
    if rho and min(rho) > 1:
        text.append(("The spectral radius of W is above 1 in every vanilla model "
                     f"({min(rho):.2f} to {max(rho):.2f})" if len(rho) > 1 else
                     f"The spectral radius of W is {rho[0]:.2f}, above 1")
                    + ": W alone would make a gradient grow over many steps, so the shrinking "
                    "comes from tanh's derivative 1 − h², which is near 0 where units saturate.")
    elif rho and max(rho) < 1:
        text.append(f"The spectral radius of W is below 1 ({max(rho):.2f} at most): W alone "
                    "shrinks the gradient at every step.")
    vanilla_factor = factor[vanilla[0]] if vanilla else None  # the first: the handout model
    if quote_auc is not None and vanilla_factor is not None and vanilla_factor >= 100:
        if quote_auc < 0.6:
            text.append(f"This fits the hidden units: no unit of the handout model follows "
                        f"quotations (best unit AUC {quote_auc:.2f}; 0.5 is chance). Whether a "
                        "quotation is open depends on a quotation mark that may lie many "
                        "characters back, and from there training gets a gradient "
                        f"{power_of_ten(vanilla_factor)} times smaller than from the last "
                        "character.")
        else:
            text.append(f"Even so, a unit of the handout model follows quotations (best unit AUC "
                        f"{quote_auc:.2f}).")
    return " ".join(text)



def grad_norm_facts(runs: list[dict]) -> list[dict]:
    """The findings record of the gradient norm while training, one dict per run of ``runs``
    (:func:`charrnn.training.runs.load_run`'s dicts) that logged it: ``seed``, ``update`` and
    ``grad_norm`` (the logged updates' norms, arrays), ``logged`` (how many), ``median`` (over
    the logged updates), ``max`` and ``max_update`` (over every update, from ``metrics.json``),
    ``clip`` (the run's element-wise clip bound, None when off) and ``optimizer``."""
    facts = []
    for r in runs:
        h, m = r["history"], r["metrics"]
        if "grad_norm" not in h or "max_grad_norm" not in m:
            continue
        g = np.asarray(h["grad_norm"], dtype=float)
        facts.append({"seed": m["seed"], "update": np.asarray(h["update"]), "grad_norm": g,
                      "logged": len(g), "median": float(np.median(g)),
                      "max": float(m["max_grad_norm"]), "max_update": int(m["max_grad_norm_update"]),
                      "clip": r["config"].get("grad_clip"),
                      "optimizer": r["config"].get("optimizer", "")})
    return facts


def _sig(x: float) -> str:
    """``x`` to three significant digits, trailing zeros kept (2.80, 38.4, 0.0123, 120)."""
    return f"{x:#.3g}".rstrip(".")


def grad_norm_paragraph(facts: list[dict], clip_bound: float = 5.0) -> str:
    """What the gradient norm did while training (``facts``: :func:`grad_norm_facts`): its median
    (one seed, or the range of the seeds' medians), the largest norm of any update and how many
    times the median that is; whether that counts as a spike (10 times the median or more); and,
    when the runs trained without clipping and no norm reached ``clip_bound`` (the handout's
    element-wise bound, the AdaGrad preset's), that such a clip would never have acted, since no
    entry of a vector is larger than its norm. ``""`` without facts."""
    if not facts:
        return ""
    med = sorted(f["median"] for f in facts)
    top = max(facts, key=lambda f: f["max"])
    ratio = top["max"] / top["median"]
    n = len(facts)
    clip = {f["clip"] for f in facts}
    how = ("without clipping" if clip == {None} else
           f"with an element-wise clip at {join_and(sorted(str(c) for c in clip if c))}"
           + (" in some seeds" if None in clip else ""))
    optimizer = {o.name: o.__name__ for o in (Adam, AdaGrad)}.get(top["optimizer"],
                                                                   "its optimizer")
    whose = "that seed's" if n > 1 else "the"
    text = [f"While the handout model trained ({optimizer}, {how}), the norm of the whole "
            "gradient of a sequence's loss had a median of "
            + (f"{_sig(med[0])} over its {facts[0]['logged']:,} logged updates" if n == 1 else
               f"{_sig(med[0])} to {_sig(med[-1])} across the {n} seeds (over the logged "
               "updates)")
            + f". The largest norm of any update was {_sig(top['max'])}, at update "
            f"{top['max_update']:,}" + (f" of seed {top['seed']}" if n > 1 else "")
            + f": {ratio:.1f} times {whose} median."]
    if ratio >= 10:
        text.append("The gradient does spike, by an order of magnitude or more; Adam divides "
                    "each step by a running root mean square of the gradient, which limits how far "
                    "one spike moves the parameters." if top["optimizer"] == "adam" else
                    "The gradient does spike, by an order of magnitude or more.")
    else:
        text.append("It never reached 10 times the median: the gradients did not explode.")
    if clip == {None} and max(f["max"] for f in facts) < clip_bound:
        text.append(f"No norm reached {clip_bound:g}, so the older handout's element-wise clip "
                    f"at {clip_bound:g} would never have acted (no entry of a vector exceeds its "
                    "norm).")
    return " ".join(text)


def grad_norm_history(runs: list[dict]) -> list:
    """The gradient norm while training the handout model (``runs``, its seeds'
    :func:`charrnn.training.runs.load_run` dicts): the figure and what it shows; "not yet" when
    no run logged it."""
    from ..training.config import TrainConfig  # noqa: PLC0415 (the handout's clip bound)

    facts = grad_norm_facts(runs)
    if not facts:
        return [not_yet("no gradient norms in the handout runs' `history.csv`", "make report")]
    fig = figure(8, 3.0)
    plot_grad_norms(facts, fig.subplots())
    every = int(np.median(np.diff(facts[0]["update"]))) if facts[0]["logged"] > 2 else 1
    return shown_parts([
        ("figure", fig),
        ("markdown", caption("figure", "The L2 norm of the gradient of each logged update's "
                             f"loss (every {every:,}th update) while training the handout model, "
                             "before any clipping, one line per seed.")),
        ("markdown", grad_norm_paragraph(facts, TrainConfig.from_preset("adagrad").grad_clip))])


def scaling_points(rows: list[dict]) -> list[dict]:
    """A sweep's ``results.json`` rows grouped by kind and parameter count (in the rows' order of
    kinds, sizes ascending): ``kind``, ``n_params``, ``bits`` (mean test bits/char over the seeds;
    the validation ones where a row has no test loss, then ``measure`` says so), ``std`` (sample
    std, ddof 1; None for one seed), ``seeds``, ``chars``, ``time_s`` (mean training time)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["kind"], r["n_params"]), []).append(r)
    kinds = list(dict.fromkeys(r["kind"] for r in rows))
    out = []
    for (kind, n), group in sorted(groups.items(), key=lambda g: (kinds.index(g[0][0]), g[0][1])):
        test = all(r.get("test_bits_per_char") is not None for r in group)
        xs = [r["test_bits_per_char" if test else "best_val_bits_per_char"] for r in group]
        mean = sum(xs) / len(xs)
        std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else None
        out.append({"kind": kind, "n_params": n, "bits": mean, "std": std, "seeds": len(xs),
                    "chars": group[0]["chars"], "measure": "test" if test else "validation",
                    "time_s": sum(r["wall_time_s"] for r in group) / len(group)})
    return out


def _params(n: int) -> str:
    return f"{n / 1000:.0f}k" if n < 10**6 else f"{n / 10**6:.1f}M"


def scaling_paragraph(points: list[dict]) -> str:
    """How the kinds scale, from :func:`scaling_points`: each kind's bits/char at its smallest and
    largest size, the order of the kinds at the smallest and the largest common size (as printed,
    3 decimals; a tie is said), which kind gains most and least, and, with one seed per point,
    that nothing is tested. ``""`` without points."""
    if not points:
        return ""
    kinds = list(dict.fromkeys(p["kind"] for p in points))
    by = {k: [p for p in points if p["kind"] == k] for k in kinds}
    b = lambda p: round(p["bits"], 3)  # noqa: E731
    growth = [f"{k} from {b(ps[0]):.3f} to {b(ps[-1]):.3f} bits/char ({_params(ps[0]['n_params'])} "
              f"to {_params(ps[-1]['n_params'])} parameters)" for k, ps in by.items() if len(ps) > 1]
    text = []
    if growth:
        text.append("With more parameters, " + join_and(growth) + ".")
    inner = [(k, min(ps, key=b)) for k, ps in by.items() if len(ps) > 2
             and b(min(ps, key=b)) < min(b(ps[0]), b(ps[-1]))]
    for k, p in inner:
        text.append(f"Of the sizes tried, {k} does best at {_params(p['n_params'])} parameters "
                    f"({b(p):.3f}): at this budget its largest model is not its best.")
    gains = {k: b(ps[0]) - b(ps[-1]) for k, ps in by.items() if len(ps) > 1}
    if len(gains) > 1 and len(set(gains.values())) > 1:
        most, least = max(gains, key=gains.get), min(gains, key=gains.get)
        g = round(gains[least], 3)
        if g > 0:
            text.append(f"The largest gain is {most}'s ({gains[most]:.3f} bits/char), the "
                        f"smallest {least}'s ({g:.3f}).")
        else:  # a loss is no gain: say so, with a positive number
            rest = ("scores as its smallest" if g == 0 else
                    f"is {-g:.3f} bits/char worse than its smallest")
            text.append(f"The largest gain is {most}'s ({gains[most]:.3f} bits/char), while "
                        f"{least}'s largest model {rest}.")

    def ranking(i: int) -> str:
        at = sorted((by[k][i] for k in kinds), key=b)
        words = [f"{at[0]['kind']} ({b(at[0]):.3f})"]
        for prev, p in zip(at, at[1:]):
            words.append(("level with " if b(p) == b(prev) else "then ") + f"{p['kind']} ({b(p):.3f})")
        return ", ".join(words)

    if len(kinds) > 1 and len({len(ps) for ps in by.values()}) == 1:
        sizes = [0, -1] if len(by[kinds[0]]) > 1 else [0]
        for i in sizes:
            n = by[kinds[0]][i]["n_params"]
            text.append(f"At about {_params(n)} parameters: {ranking(i)}.")
    if all(p["seeds"] == 1 for p in points):
        text.append("One seed per point: these are single runs, and no difference among them is "
                    "tested.")
    return " ".join(text)


def scaling(rows: list[dict] | None, path: str = "") -> list:
    """How the vanilla RNN, the LSTM and the GRU scale (a sweep's ``results.json`` rows, read from
    ``path``: its folder names the sweep): the figure, a table and what they show; "not yet"
    without it."""
    name = Path(path).parent.name if path else ""
    if not rows:
        return [not_yet("no scaling sweep (`results.json` of sweeps/scaling-report.yaml)",
                        "make report")]
    points = scaling_points(rows)
    fig = figure(9, 3.6)
    plot_scaling(points, fig.subplots(1, 2, sharey=True))
    lines = ["| model | parameters | bits/char | seeds | training time (s) |",
             "|---|---:|---:|---:|---:|"]
    for p in points:
        std = "" if p["std"] is None else f" ± {p['std']:.3f}"
        lines.append(f"| {p['kind']} | {p['n_params']:,} | {p['bits']:.3f}{std} | {p['seeds']} | "
                     f"{p['time_s']:.0f} |")
    measure = "test" if all(p["measure"] == "test" for p in points) else "validation"
    chars = sorted({p["chars"] for p in points})
    budget = " and ".join(f"{c:,}" for c in chars)
    return shown_parts([
        ("figure", fig),
        ("markdown", caption("figure", f"{measure.capitalize()} loss against parameters and "
                             f"against training time, {budget} training characters per run"
                             + (f" (sweep {name})" if name else "") + "; error bars: one "
                             "standard deviation over seeds, where there are several.")),
        ("markdown", caption("table", "The same points.")),
        ("markdown", "\n".join(lines)),
        ("markdown", scaling_paragraph(points))])
