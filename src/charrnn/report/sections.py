"""The report's sections that take more than a line of the notebook: artifacts in, parts out.

Each function returns the parts of one section of ``03_report.ipynb`` in display order, each
``("markdown", str)``, ``("html", str)`` or ``("figure", Figure)``; a figure is a
:class:`matplotlib.figure.Figure` made without pyplot, so a notebook shows it once, where it
displays it. The words come from :mod:`charrnn.report.prose`, the tables from
:mod:`charrnn.report.tables`, the figures from :mod:`charrnn.report.plots`: this module reads the
artifacts and puts them in order. A missing artifact gives one line saying which ``make`` target
builds it. Nothing is printed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..model.evaluate import BITS_PER_NAT
from ..model.gradcheck import LOSS_DEFINITIONS
from ..studies.baselines_io import read_baseline
from ..studies.experiments import GATED_SEEDS, comparisons, job_name, load_variant, summarize
from ..studies.stats import mean_std
from ..util.checks import join_and
from . import findings, prose, tables
from .parts import figure as _figure
from .parts import not_yet as _not_yet
from .parts import shown as _shown
from .plots import (
    plot_saturation,
    plot_smooth_by_position,
    plot_smooth_loss,
    plot_validation,
)
from .tables import caption
from .unitviz import colour_bar_html, heatmap_html

__all__ = ["BASELINE_NAMES", "GATED_PEERS", "gated_runs", "gated_rows", "experiments", "baselines",
           "smooth_loss", "seeds", "calibration", "hidden_units", "gradcheck", "samples",
           "sampling", "sampling_findings", "temperature"]

#: The baselines' folders in the experiments folder, and their names in the report.
BASELINE_NAMES = {"lstm": "LSTM", "gru": "GRU"}


def gradcheck(result: dict) -> list:
    """The gradient check (``gradcheck.json``, ``result``: one entry per loss definition of
    :data:`charrnn.model.gradcheck.LOSS_DEFINITIONS`): per definition a captioned table of the
    relative errors and what the shorter sequences show, then the verdict."""
    parts = []
    for preset in LOSS_DEFINITIONS:
        parts += [("markdown", caption("table", prose.gradcheck_caption(preset, result[preset]))),
                  ("html", tables.gradcheck_html(result[preset])),
                  ("markdown", prose.shorter_sequences(preset, result[preset]))]
    return _shown([*parts, ("markdown", prose.gradcheck_verdict(result))])


def samples(run: dict, up_to: int) -> list:
    """The 200-character samples of ``run`` (:func:`charrnn.training.runs.load_run`) taken up to
    update ``up_to``, each in a box titled with its update, after the sentence that introduces
    them."""
    boxes = [("html", tables.sample_html(s["text"], prose.sample_title(s["update"])))
             for s in run["samples"] if s["update"] <= up_to]
    return _shown([("markdown", prose.samples_intro(run)), *boxes])


def gated_runs(exp_dir) -> list[dict]:
    """The finished baseline runs in ``exp_dir`` (``lstm-seedS/``, ``gru-seedS/`` for S = 1, ...,
    :data:`~charrnn.studies.experiments.GATED_SEEDS`), each as
    :func:`charrnn.studies.baselines_io.read_baseline` returns it plus ``"model"`` (e.g. "LSTM h
    120"), ``"variant"`` ("LSTM") and ``"seed"``."""
    runs = []
    for kind, name in BASELINE_NAMES.items():
        for seed in range(1, GATED_SEEDS + 1):
            folder = Path(exp_dir) / job_name(kind, seed)
            if (folder / "metrics.json").is_file():
                run = read_baseline(folder)
                run.update(model=f"{name} h {run['config']['hidden']}", variant=name, seed=seed)
                runs.append(run)
    return runs


def gated_rows(runs: list[dict]) -> list[dict]:
    """One row per gated model over its seeds (:func:`gated_runs`), with the keys of
    :func:`charrnn.studies.experiments.summarize`'s rows that the tables, :func:`comparisons
    <charrnn.studies.experiments.comparisons>` and the findings read: ``variant``, ``model``,
    ``n_params``, ``seeds``, ``losses``, ``loss`` and ``loss_std`` [nats/char] of the reported
    measure (``measure``: "test", or "validation" when a run has no test loss),
    ``bits_per_char``, the settings of :data:`~charrnn.studies.experiments.SETTINGS`, and the
    means of ``wall_time_s`` and ``chars_per_s``."""
    by: dict[str, list[dict]] = {}
    for r in runs:
        by.setdefault(r["variant"], []).append(r)
    rows = []
    for name, group in by.items():
        test = all("test_loss" in r["metrics"] for r in group)
        losses = [r["metrics"]["test_loss" if test else "best_val_loss"] for r in group]
        loss, loss_std = mean_std(losses)
        c, m = group[0]["config"], group[0]["metrics"]
        rows.append({"variant": name, "model": group[0]["model"], "n_params": m["n_params"],
                     "seeds": [r["seed"] for r in group], "losses": losses, "loss": loss,
                     "loss_std": 0.0 if loss_std is None else loss_std,
                     "bits_per_char": loss * BITS_PER_NAT, "measure": "test" if test else "validation",
                     "order": "sequential", "batch_size": c["batch_size"],
                     "seq_length": c["seq_length"], "eta": c["eta"],
                     "lr_schedule": c["lr_schedule"], "dtype": "float32", "chars": m["chars"],
                     "vanilla_n_params": c["vanilla_n_params"],
                     "wall_time_s": mean_std(r["metrics"]["wall_time_s"] for r in group)[0],
                     "chars_per_s": mean_std(r["metrics"]["chars_per_s"] for r in group)[0]})
    return rows


def _curve(run: dict) -> dict:
    """A baseline run as :func:`charrnn.report.plots.plot_validation` draws a variant."""
    v = run["validation"]
    return {"variant": run["variant"], "name": run["config"]["kind"],
            "description": f"h {run['config']['hidden']}, PyTorch",
            "validation": {k: np.array([r[k] for r in v]) for k in ("chars", "train_time_s",
                                                                   "val_loss", "update")}}


def _variants(exp_dir: Path):
    """The experiments' runs (one per variant and seed) and their summary, or (None, None)."""
    listed = exp_dir / "summary.json"
    if not listed.is_file():
        return None, None
    rows = json.loads(listed.read_text(encoding="utf-8"))["rows"]
    variants = [load_variant(exp_dir / job_name(r["variant"], seed)) for r in rows for seed in r["seeds"]]
    return variants, summarize(variants)  # recomputed from the variants' run folders


def experiments(exp_dir) -> list:
    """The experiments section: how the variants were trained, their validation curves (with
    the gated baselines' when they exist) against characters and seconds, the table, the winner
    and why."""
    exp_dir = Path(exp_dir)
    variants, summary = _variants(exp_dir)
    if variants is None:
        return [("markdown", "*No experiments yet: run `make experiments` and `make report` again.*")]
    small = [v for v in variants if v["config"]["m"] == 100]
    large = [v for v in variants if v["config"]["m"] != 100] + [_curve(r) for r in gated_runs(exp_dir)]
    groups = [g for g in (small, large) if g]
    fig = _figure(11, 3.6 * len(groups))
    axes = np.atleast_2d(fig.subplots(len(groups), 2, sharey="row"))
    for row, group in zip(axes, groups):  # small multiples: m = 100, then m = 256 and gated
        plot_validation(group, "chars", row[0])
        plot_validation(group, "train_time_s", row[1])
        row[1].get_legend().remove()
    measure = "test" if summary["rows"][0].get("measure") == "test" else "best validation"
    tests = summary.get("comparisons") or []
    rows = ("top: the m = 100 variants; bottom: the m = 256 variants and the gated baselines. "
            if len(groups) > 1 else "")
    return _shown([("markdown", prose.experiments_intro(summary, len(variants[0]["validation"]["update"]))),
                   ("figure", fig),
                   ("markdown", caption("figure", "Validation loss (stateful, nats/char, on the "
                                        "validation text) against training characters (left) "
                                        "and seconds of training (right); " + rows + "Several "
                                        "seeds: their mean, with a band of ± one standard "
                                        "deviation.")),
                   ("markdown", caption("table", f"The variants' {measure} loss (mean ± standard "
                                        "deviation over the seeds), training budget, time and "
                                        "speed per run; bold: the lowest loss.")),
                   ("markdown", summary["markdown"]),
                   ("markdown", caption("table", "Welch's t-test over the seeds for each pair of "
                                        "variants the report compares: the settings that differ, "
                                        f"the difference of the mean {measure} losses (nats/char) "
                                        "with its 95 % interval, p (two-sided; bold: below "
                                        "0.05).")
                    if tests else ""),
                   ("markdown", tables.welch_markdown(tests)),
                   ("markdown", prose.winner_sentence(summary)),
                   ("markdown", prose.why_sentences(summary))])


#: The vanilla variants the gated baselines are compared with, first found first: m256cos has
#: their recipe (32 streams of 50 characters, cosine schedule); m256 is the older comparison.
GATED_PEERS = ("m256cos", "m256")


def baselines(exp_dir) -> list:
    """The gated baselines beside the vanilla RNN of their size, recipe, split and budget
    (:data:`GATED_PEERS`): the table (parameters, seeds, nats and bits per character, training
    characters and time), Welch's t-tests between them, what they show, and the literature."""
    exp_dir = Path(exp_dir)
    runs = gated_runs(exp_dir)
    gated = gated_rows(runs)
    if not gated:
        return [_not_yet(f"no LSTM or GRU run in `{exp_dir}`", "make baselines")]
    _, summary = _variants(exp_dir)
    by = {r["variant"]: r for r in (summary or {"rows": []})["rows"]}
    vanilla = next((by[v] for v in GATED_PEERS if v in by), None)
    if vanilla is not None:
        vanilla = {**vanilla, "n_params": gated[0]["vanilla_n_params"]}
    rows = ([vanilla] if vanilla else []) + gated
    names = {r["variant"] for r in gated}
    tests = [t for t in comparisons(rows) if {t["a"], t["b"]} & names]
    # one PyTorch and one CPU instruction set for every run (older runs do not record them)
    caps = {(r["metrics"].get("torch_version"), r["metrics"].get("cpu_capability")) for r in runs}
    ((version, cap),) = caps if len(caps) == 1 else {(None, None)}
    kernels = (f" PyTorch {version}, {cap} CPU kernels (chosen by the CPU's instruction set: "
               "another machine's numbers can differ)." if version and cap else "")
    return _shown([("markdown", caption("table", "The gated baselines beside the vanilla RNN of "
                                        "their size, trained on the same split and budget "
                                        "(mean ± standard deviation over the seeds)." + kernels)),
                   ("markdown", tables.baselines_markdown(rows)),
                   ("markdown", caption("table", "Welch's t-test between the gated baselines and "
                                        "the vanilla RNN, as in the experiments' table.")
                    if tests else ""),
                   ("markdown", tables.welch_markdown(tests)),
                   ("markdown", findings.baselines_paragraph(vanilla, gated, tests, by.get("best"))),
                   ("markdown", findings.LITERATURE)])


def smooth_loss(runs: list[dict], run: dict) -> list:
    """Section (ii): the smooth loss of the seeds ``runs`` against the update (with the
    handout's values where the settings are the handout's), what it shows for ``run`` (the best
    seed), and its smooth loss at the handout's checkpoints."""
    met, reference = run["metrics"], tables.handout_reference(run)
    fig = _figure(8, 3.8)
    ax = fig.subplots()
    plot_smooth_loss(runs, ax=ax, reference=reference)
    ax.set_title(f"smooth loss over {met['n_updates']:,} updates"
                 + ("; dashed lines: epoch boundaries" if met["n_updates"] > met["updates_per_epoch"]
                    else ""))
    seeds_ = f"{len(runs)} seed{'s' * (len(runs) > 1)}"
    return [("figure", fig),
            ("markdown", caption("figure", f"Smooth loss on the training text against the update, "
                                 f"{seeds_}, one line style each"
                                 + (", with the handout's reference values" if reference else "")
                                 + ".")),
            ("markdown", prose.smooth_loss_paragraph(run)),
            ("markdown", caption("table", "The smooth loss of the best seed at the handout's "
                                 "checkpoints" + (", beside the handout's values." if reference
                                                  else "."))),
            ("markdown", tables.checkpoints_markdown(run, reference))]


def seeds(runs: list[dict], heldout: list[dict]) -> list:
    """The handout runs over their seeds (:func:`charrnn.training.runs.load_run` dicts): the
    table with what the handout's "best model" measures, the same runs trained without the
    held-out chunk (``heldout``; their test loss), and the best seed's smooth loss against the
    place in the text (when the runs read it in the handout's order)."""
    where = findings.best_model_paragraph(runs)  # "" unless the handout's order
    parts = [("markdown", caption("table", "Each seed's run: its best and final smooth loss, and "
                                  "where the best one lies.")),
             ("markdown", tables.seeds_markdown(runs) + "\n\n" + where)]
    if heldout:
        parts += [("markdown", caption("table", "The handout runs trained without the last 1/20 "
                                       "of the text: the validation half chose each model, the "
                                       "test half scored it (nats/char).")),
                  ("markdown", tables.heldout_markdown(heldout) + "\n\n"
                   + findings.heldout_paragraph(heldout))]
    if where:
        fig = _figure(8, 3.2)
        plot_smooth_by_position(min(runs, key=lambda r: r["metrics"]["best_smooth_loss"]),
                                fig.subplots())
        parts += [("figure", fig),
                  ("markdown", caption("figure", "The best seed's smooth loss against the place in "
                                       "the text its update read, one line per epoch: a passage "
                                       "that is easy for the model shows at the same place in "
                                       "every epoch."))]
    return parts


def calibration(cal: dict | None, exp_dir, heldout: list[dict] | None = None) -> list:
    """Reference points (``charrnn calibrate --json``, ``cal``) beside the report's models on the
    same test text: the experiments' variants and gated baselines of ``exp_dir`` (their mean
    test loss) and the handout model trained with the held-out chunk removed (``heldout``, its
    seeds' runs), one table sorted by bits/char, and where the models stand. A missing JSON
    gives a "not yet" line; runs on another text than ``cal``'s are left out, with a note."""
    handout = None
    if heldout:
        handout = {"name": "handout m 100, held out", "seeds": len(heldout),
                   "bits_per_char": sum(r["metrics"]["test_bits_per_char"] for r in heldout)
                   / len(heldout)}
    if cal is None:
        return [_not_yet("no reference points (`calibrate.json`)", "make report")]
    exp_dir = Path(exp_dir)
    variants, summary = _variants(exp_dir)
    models, note = [], ""
    if variants and variants[0]["config"].get("data_md5") not in (None, cal["md5"]):
        note = "*The experiments ran on another text than these reference points: left out.*"
    elif summary:
        rows = [r for r in summary["rows"] + gated_rows(gated_runs(exp_dir))
                if r.get("measure") == "test"]
        models = [{"name": f"{r['variant']} ({r.get('model', '')})".replace(" ()", ""),
                   "bits_per_char": r["bits_per_char"], "seeds": len(r["seeds"])} for r in rows]
    if handout:
        models.append(handout)
    refs = cal["references"]
    lines = ["| bits/char | model or reference | kind | note |", "|---:|---|---|---|"]
    table = sorted([(r["bits_per_char"], r["name"], r["kind"], r["note"]) for r in refs]
                   + [(m["bits_per_char"], f"**{m['name']}**", "this report",
                       f"mean of {m['seeds']} seeds" if m.get("seeds", 1) > 1 else "one seed")
                      for m in models])
    lines += [f"| {b:.3f} | {name} | {kind} | {what} |" for b, name, kind, what in table]
    a, b = cal["test"]
    return _shown([
        ("markdown", caption("table", f"Bits per character on the test text (characters {a:,} to "
                             f"{b:,} of {cal['n_chars']:,}): reference points, each with "
                             "everything before the test text as its training text, and this "
                             "report's models (bold).")),
        ("markdown", "\n".join(lines)), ("markdown", note),
        ("markdown", findings.calibration_paragraph(refs, models))])


def _heatmaps(label: str, report: dict) -> list:
    passages = report.get("passages", [])
    if not passages:
        return []
    parts = [("markdown", f"The {label}'s {len(passages)} best units (by score), each on the "
              f"{len(passages[0]['text'])}-character passage where its feature varies most; "
              "background: blue $h = -1$, white 0, red $+1$ (a − unit is blue where its feature "
              "holds); ↵ marks a newline:"), ("html", colour_bar_html())]
    metric = {r["feature"]: r["metric"] for r in report["features"]}
    for p in passages:
        unit = tables.signed_unit({"applicable": True, "sign": p["sign"], "unit": p["unit"]})
        title = (f"unit {unit}: {p['feature']} ({metric[p['feature']]} {p['score']:.3f}), from "
                 f"character {p['start']:,}")
        parts.append(("html", heatmap_html(p["text"], p["activations"], title, breaks=False)))
    return parts + [("markdown", caption("figure", f"The {label}'s best units on the passages "
                                         "where their features vary most, in the last 1/20 "
                                         "of the text."))]


def _saturation_figure(reports: dict[str, dict]):
    fig = _figure(4.3 * len(reports), 4.3)
    axes = np.atleast_1d(fig.subplots(1, len(reports)))
    for ax, (label, r) in zip(axes, reports.items()):
        labels = {p["unit"]: p["feature"] for p in r.get("passages", [])}
        plot_saturation(r["saturation"]["left"], r["saturation"]["right"], ax=ax, labels=labels,
                        title=f"{label} (m = {r['m']})")
    return fig


def hidden_units(handout: dict | None, holdout: dict | None, lstm: dict | None) -> list:
    """What the hidden units learned: the ``charrnn units --json`` results of the handout model
    and of the holdout model (the experiments' sequential variant) side by side, the LSTM's h_t
    and c_t side by side, the paragraph on what they show, each vanilla model's controls (the
    untrained network and the input-only probe: table and paragraph; a "not yet" line for a JSON
    from an older ``charrnn units``), the heat maps of the first model's best units and the
    saturation of the vanilla models. Each missing JSON gives a "not yet" line."""
    vanilla = {k: v for k, v in (("handout model", handout), ("holdout model", holdout)) if v}
    missing = [_not_yet(f"no {what} (`{name}`)", "make report")
               for what, name, r in (("units of the handout model", "units.json", handout),
                                     ("units of the holdout model (the `sequential` variant "
                                      "of the experiments)", "units-holdout.json", holdout),
                                     ("units of the LSTM", "units-lstm.json", lstm)) if r is None]
    if not vanilla and lstm is None:
        return missing
    parts = [("markdown", findings.units_intro({**vanilla, **({"LSTM": lstm} if lstm else {})}))]
    if vanilla:
        parts += [("markdown", caption("table", "The best single unit and the linear probe for "
                                       "each feature, per vanilla model, on the last 1/20 of "
                                       "the text.")),
                  ("html", tables.units_html(vanilla)), ("markdown", tables.features_legend())]
    if lstm:
        states = {f"LSTM {k}_t": v for k, v in lstm["states"].items()}
        parts += [("markdown", caption("table", f"The LSTM (h = {lstm['hidden']}): its hidden "
                                       "state $h_t$ and its cell state $c_t$, the same features "
                                       "and scores.")),
                  ("html", tables.units_html(states))]
    parts.append(("markdown", findings.units_paragraph(vanilla, lstm)))
    for label, r in vanilla.items():
        if r.get("controls"):
            parts += [("markdown", caption("table", f"Controls for the {label}: the trained "
                                           "network beside the untrained one (the parameters its "
                                           "training started from, the same seed and init) on "
                                           "the same characters, and a probe on the one-hot input "
                                           "alone; every unit chosen and probe fitted on the first "
                                           "half of the characters, scored on the second.")),
                      ("html", tables.units_controls_html(r)),
                      ("markdown", findings.controls_paragraph(label, r))]
        else:
            parts.append(_not_yet(f"no controls for the {label} (its units JSON is from an older "
                                  "`charrnn units`)", "make report"))
    if vanilla:
        label, first = next(iter(vanilla.items()))
        parts += _heatmaps(label, first) + [
            ("figure", _saturation_figure(vanilla)),
            ("markdown", caption("figure", "Saturation of the hidden units of "
                                 f"{join_and(list(vanilla))}: the fraction of characters "
                                 "each unit spends near −1 (x) and near +1 (y)."))]
    return _shown(parts + missing)


def temperature(study: dict | None) -> list:
    """The test loss against the sampling temperature (``charrnn study --json``'s
    ``temperature`` record, in ``study``): the table, T = 1 marked, the best T, and whether T = 1
    is the best-calibrated. A study without the record (an older ``charrnn study``) gives a
    "not yet" line."""
    curve = (study or {}).get("temperature")
    if not curve:
        return [_not_yet("no test loss against the temperature in the sampling study (an older "
                         "`charrnn study`)", "make report")]
    seen = "" if curve.get("trained_holdout") else " (a model that trained on it)"
    return _shown([
        ("markdown", caption("table", f"Test loss (nats/char) of {curve['name']}{seen} on the "
                             f"test text, characters {curve['test'][0]:,} to "
                             f"{curve['test'][1]:,}, with every logit divided by T (T = 1, in "
                             "bold, is the model as trained), and the T that minimises it.")),
        ("markdown", tables.temperature_markdown(curve)),
        ("markdown", findings.temperature_paragraph(curve))])


def sampling(study: dict | None, run_dir, path: str = "the sampling study") -> list:
    """The sampling study's part of the report: ``study`` (``charrnn study --json``, read from
    ``path``; None when missing) of the run in ``run_dir`` (the best seed's): the caption and the
    table (:func:`charrnn.report.tables.sampling_caption`, :func:`~charrnn.report.tables.sampling_markdown`:
    mean ± 95 % t-interval per setting, beam search, the book row), what they show
    (:func:`sampling_findings`) and the first 300 characters of the first sample of each setting
    after plain sampling. A "no study yet" line when it is missing, and one naming the other run
    when it is of another run."""
    if study is None:
        return [("markdown", "*No sampling study yet: run `make report` again (or `python -m "
                             "charrnn study`).*")]
    if Path(study["run"]).resolve() != Path(run_dir).resolve():
        return [("markdown", f"*The sampling study in `{path}` is of another run "
                             f"({study['name']}): run `make report` again.*")]
    return ([("markdown", caption("table", tables.sampling_caption(study))),
             ("markdown", tables.sampling_markdown(study["rows"], study.get("book")))]
            + sampling_findings(study)
            + [("html", tables.sample_html(r["text"][:300], r["label"] + " (first 300 characters)"))
               for r in study["rows"][1:]])


def sampling_findings(study: dict) -> list:
    """What the sampling study shows, after its table: the sentence on the rows and the book row
    (:func:`charrnn.report.prose.sampling_summary`; a study without ``book``, from before it was
    measured, has the sentence on the rows alone) and the test loss against the temperature
    (:func:`temperature`; a "not yet" line for a study without it)."""
    return (_shown([("markdown", prose.sampling_summary(study["rows"], study.get("book")))])
            + temperature(study))
