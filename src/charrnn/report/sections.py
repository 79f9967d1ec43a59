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
from ..studies.baselines_io import read_baseline
from ..studies.experiments import job_name, load_variant, summarize
from . import findings, prose, tables
from .plots import plot_saturation, plot_validation
from .unitviz import colour_bar_html, heatmap_html

__all__ = ["BASELINE_NAMES", "gated_runs", "experiments", "baselines", "hidden_units"]

#: The baselines' folders in the experiments folder, and their names in the report.
BASELINE_NAMES = {"lstm": "LSTM", "gru": "GRU"}


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # noqa: PLC0415 (matplotlib: only when a figure is drawn)

    return Figure(figsize=(width, height), layout="constrained")


def _not_yet(what: str, target: str) -> tuple[str, str]:
    return ("markdown", f"*Not yet: {what}; run `{target}`.*")


def _shown(parts: list) -> list:
    """``parts`` without empty Markdown (a sentence generator with nothing to say)."""
    return [p for p in parts if not (isinstance(p[1], str) and not p[1])]


def gated_runs(exp_dir) -> list[dict]:
    """The finished baseline runs in ``exp_dir`` (``lstm/``, ``gru/``), each as
    :func:`charrnn.studies.baselines_io.read_baseline` returns it plus ``"model"``, e.g. "LSTM h 120"."""
    runs = []
    for kind, name in BASELINE_NAMES.items():
        if (Path(exp_dir) / kind / "metrics.json").is_file():
            run = read_baseline(Path(exp_dir) / kind)
            run["model"] = f"{name} h {run['config']['hidden']}"
            runs.append(run)
    return runs


def _curve(run: dict) -> dict:
    """A baseline run as :func:`charrnn.report.plots.plot_validation` draws a variant."""
    v = run["validation"]
    return {"variant": run["model"].split()[0], "name": run["config"]["kind"],
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
    curves = variants + [_curve(r) for r in gated_runs(exp_dir)]
    fig = _figure(11, 4)
    axes = fig.subplots(1, 2, sharey=True)
    plot_validation(curves, "chars", axes[0])
    plot_validation(curves, "train_time_s", axes[1])
    axes[1].get_legend().remove()
    return _shown([("markdown", prose.experiments_intro(summary, len(variants[0]["validation"]["update"]))),
                   ("figure", fig), ("markdown", summary["markdown"]),
                   ("markdown", tables.welch_markdown(summary.get("comparisons") or [])),
                   ("markdown", prose.winner_sentence(summary)),
                   ("markdown", prose.why_sentences(summary))])


_ROW_KEYS = ("chars", "wall_time_s", "chars_per_s", "seq_length", "lr_schedule")


def _scored(metrics: dict) -> dict:
    """The reported loss of a gated run: its test loss when it has one, else its best
    validation loss (``loss``, ``bits_per_char``, ``measure``)."""
    test = "test_loss" in metrics
    loss = metrics["test_loss"] if test else metrics["best_val_loss"]
    return {"loss": loss, "bits_per_char": loss * BITS_PER_NAT,
            "measure": "test" if test else "validation"}


def baselines(exp_dir) -> list:
    """The gated baselines beside the vanilla m256 variant (same split, budget and size): the
    table (parameters, nats and bits per character, training characters and time) and what it
    shows, with the literature."""
    exp_dir = Path(exp_dir)
    runs = gated_runs(exp_dir)
    if not runs:
        return [_not_yet(f"no LSTM or GRU run in `{exp_dir}`", "make baselines")]
    gated = [{"model": r["model"], "n_params": r["metrics"]["n_params"], **_scored(r["metrics"]),
              **{k: {**r["metrics"], **r["config"]}[k] for k in _ROW_KEYS}} for r in runs]
    _, summary = _variants(exp_dir)
    by = {r["variant"]: r for r in (summary or {"rows": []})["rows"]}
    vanilla = None
    if "m256" in by:  # the summary row of one seed: its numbers, not a mean
        vanilla = {"model": "vanilla m256",
                   "n_params": runs[0]["config"]["vanilla_n_params"],
                   **{k: by["m256"][k] for k in (*_ROW_KEYS, "loss", "bits_per_char", "measure")}}
    spread = max((r["loss_std"] for r in by.values() if len(r["seeds"]) > 1), default=None)
    return [("markdown", tables.baselines_markdown(([vanilla] if vanilla else []) + gated)),
            ("markdown", findings.baselines_paragraph(vanilla, gated, by.get("best"), spread)),
            ("markdown", findings.LITERATURE)]


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
    return parts


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
    and c_t side by side, the paragraph on what they show, the heat maps of the first model's best
    units and the saturation of the vanilla models. Each missing JSON gives a "not yet" line."""
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
        parts += [("html", tables.units_html(vanilla)), ("markdown", tables.features_legend())]
    if lstm:
        states = {f"LSTM {k}_t": v for k, v in lstm["states"].items()}
        parts += [("markdown", f"The LSTM (h = {lstm['hidden']}): its hidden state $h_t$ and its "
                   "cell state $c_t$, the same features and scores:"),
                  ("html", tables.units_html(states))]
    parts.append(("markdown", findings.units_paragraph(vanilla, lstm)))
    if vanilla:
        label, first = next(iter(vanilla.items()))
        parts += _heatmaps(label, first) + [("figure", _saturation_figure(vanilla))]
    return _shown(parts + missing)
