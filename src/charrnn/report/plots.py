"""Figures for the report (matplotlib). Each function draws on an Axes and returns it."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_smooth_loss", "plot_smooth_by_position", "plot_validation", "plot_context",
           "plot_gradients", "plot_grad_norms", "plot_scaling", "plot_saturation"]

#: The line styles the figures cycle through (i % 4), so that lines on top of one another, and
#: lines printed in grey, stay apart.
LINE_STYLES = ("-", "--", ":", "-.")


def plot_smooth_loss(runs: list[dict], ax=None, reference: dict | None = None):
    """Smooth loss against updates for one or more runs, with epoch boundaries marked.

    ``runs`` are dicts from :func:`charrnn.training.runs.load_run`. Epoch boundaries are dashed vertical
    lines at multiples of ``updates_per_epoch``; a run with a validation table also shows its
    validation loss. ``reference`` maps update -> loss values to show as markers (e.g. the
    handout's numbers). Returns the Axes.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 (matplotlib: only when a figure is drawn)

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    styles = LINE_STYLES  # seeds that lie on top of each other stay apart
    for k, run in enumerate(runs):
        h = run["history"]
        label = f"seed {run['metrics']['seed']}" if len(runs) > 1 else "smooth loss"
        line, = ax.plot(h["update"], h["smooth_loss"], lw=1.2, label=label,
                        ls=styles[k % len(styles)])
        v = run.get("validation")
        if v is not None and run["config"].get("loss", "mean") == "mean":
            ax.plot(v["update"], v["val_loss"], "s--", ms=3, lw=0.8, color=line.get_color(),
                    label="validation loss (held-out chunk, stateful)"
                    + (f", seed {run['metrics']['seed']}" if len(runs) > 1 else ""))
    first = runs[0]["metrics"]
    per_epoch, n = first["updates_per_epoch"], first["n_updates"]
    n_lines = int(n // per_epoch)
    label_every = max(1, -(-n_lines // 6))  # at most about 6 labels
    for k in range(1, n_lines + 1):
        ax.axvline(k * per_epoch, color="0.5", ls="--", lw=0.8 if n_lines < 20 else 0.4)
        if k % label_every == 0 or n_lines <= 6:
            ax.text(k * per_epoch, 0.98, f" epoch {k + 1}", transform=ax.get_xaxis_transform(),
                    va="top", ha="left", fontsize=8, color="0.35")
    if reference:
        u = np.array([k for k in sorted(reference) if k <= n])
        if len(u):
            ax.plot(u, [reference[k] for k in u], "kx", ms=6, label="handout's values")
    best = min(runs, key=lambda r: r["metrics"]["best_smooth_loss"])["metrics"]
    ax.plot([best["best_update"]], [best["best_smooth_loss"]], "o", color="C3", ms=5,
            label=f"best {best['best_smooth_loss']:.3f} at update {best['best_update']:,}")
    unit = "nats per character" if runs[0]["config"].get("loss", "mean") == "mean" \
        else "nats per sequence"
    ax.set_xlabel("update")
    ax.set_ylabel(f"smooth loss ({unit})")
    _cut_the_start(ax, runs, n)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", bbox_to_anchor=(1, 0.9), fontsize=8)
    return ax


def _cut_the_start(ax, runs: list[dict], n: int, skip: float = 0.02) -> None:
    """A y-range for the part after the first ``skip`` of the ``n`` updates, where the curves
    differ (the first updates fall from log K), said in a note on the axes; nothing when the
    start lies less than half the rest's range above it."""
    start = max(float(np.max(r["history"]["smooth_loss"])) for r in runs)
    rest = [np.asarray(r["history"]["smooth_loss"])[np.asarray(r["history"]["update"]) >= skip * n]
            for r in runs]
    if not all(len(x) for x in rest):
        return
    lo, hi = min(float(x.min()) for x in rest), max(float(x.max()) for x in rest)
    if hi <= lo or start - hi < 0.5 * (hi - lo):  # the start would not squeeze the rest
        return
    ax.set_ylim(lo - 0.1 * (hi - lo), hi + 0.25 * (hi - lo))
    ax.text(0.01, 0.02, f"y-axis cut: the first {skip:.0%} of the updates fall from {start:.2f}",
            transform=ax.transAxes, fontsize=7, color="0.35", va="bottom")


def plot_smooth_by_position(run: dict, ax=None):
    """The smooth loss of one run against the place in the text its update read, one line per
    epoch: the handout's order reads the text front to back each epoch, so a passage that is easy
    shows as a dip at the same place in every epoch.

    ``run``: a :func:`charrnn.training.runs.load_run` dict of a one-sequence, handout-order run
    (``history`` with ``update`` and ``smooth_loss``; ``metrics`` with ``updates_per_epoch``,
    ``best_update``; ``config`` with ``seq_length``). The place of update u is character
    ((u - 1) mod updates per epoch) x seq_length. Returns the Axes."""
    import matplotlib.pyplot as plt  # noqa: PLC0415 (matplotlib: only when a figure is drawn)

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.5))
    h, m, seq = run["history"], run["metrics"], run["config"]["seq_length"]
    u, loss = np.asarray(h["update"]), np.asarray(h["smooth_loss"])
    per = m["updates_per_epoch"]
    epoch, place = (u - 1) // per, ((u - 1) % per) * seq / 1e6
    for k in range(int(epoch.max()) + 1):
        here = epoch == k
        if k == 0:  # the first epoch starts from the untrained model: leave out its first 5 %
            here &= place > 0.05 * per * seq / 1e6
        ax.plot(place[here], loss[here], lw=1.0, label=f"epoch {k + 1}",
                ls=LINE_STYLES[k % 4])
    best = m["best_update"]
    ax.plot([((best - 1) % per) * seq / 1e6], [m["best_smooth_loss"]], "o", color="C3", ms=5,
            label=f"best, update {best:,}")
    ax.set_xlabel("place in the text read by the update (millions of characters)")
    ax.set_ylabel("smooth loss (nats per character)" if run["config"].get("loss", "mean") == "mean"
                  else "smooth loss (nats per sequence)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_validation(runs: list[dict], x: str = "chars", ax=None):
    """Validation loss (stateful, nats per character) of the experiments' runs against ``x``:
    ``"chars"`` (training characters processed) or ``"train_time_s"`` (seconds of training).

    ``runs`` are dicts from :func:`charrnn.studies.experiments.load_variant`; the seeds of one variant
    are drawn as their mean with a band of ± one standard deviation (one seed: a plain line).
    Returns the Axes.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 (matplotlib: only when a figure is drawn)

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    groups: dict[str, list[dict]] = {}
    for run in runs:
        if run["validation"] is not None:
            groups.setdefault(run.get("variant", run["name"]), []).append(run)
    groups_drawn: list[str] = []  # after ten colours, the next line style
    for name, group in groups.items():
        n = min(len(r["validation"]["val_loss"]) for r in group)
        ys = np.array([r["validation"]["val_loss"][:n] for r in group])  # (seeds, evaluations)
        xs = np.mean([r["validation"][x][:n] for r in group], axis=0) / (1e6 if x == "chars" else 1)
        seeds = f", {len(group)} seeds" if len(group) > 1 else ""
        line, = ax.plot(xs, ys.mean(axis=0), lw=1.3, marker=".", ms=3, label=f"{name}{seeds}",
                        ls=LINE_STYLES[len(groups_drawn) // 10 % 4])
        groups_drawn.append(name)
        if len(group) > 1:
            sd = ys.std(axis=0, ddof=1)
            ax.fill_between(xs, ys.mean(axis=0) - sd, ys.mean(axis=0) + sd,
                            color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xlabel("training characters (millions)" if x == "chars" else "training time (s)")
    ax.set_ylabel("validation loss (nats per character)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_context(models: list[dict], ax=None):
    """Test loss against the context a model starts from (``charrnn context --json``'s
    ``models``: ``name``, ``ks``, ``losses``, ``inf``): one line per model over k (log axis), its
    k = infinity loss as a dotted line of the same colour. Returns the Axes."""
    import matplotlib.pyplot as plt  # noqa: PLC0415 (matplotlib: only when a figure is drawn)

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    for i, m in enumerate(models):
        line, = ax.plot(m["ks"], m["losses"], marker="o", ms=3, lw=1.2,
                        ls=LINE_STYLES[i % 4], label=f"{m['name']} ({m['kind']})")
        ax.axhline(m["inf"], color=line.get_color(), lw=0.8, ls=":")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("context: characters read from a zero state (k)")
    ax.set_ylabel("test loss (nats per character)")
    lo = min(m["inf"] for m in models)
    ax.set_ylim(lo - 0.05, max(max(m["losses"][2:] or m["losses"]) for m in models) + 0.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_gradients(models: list[dict], ax=None):
    """How the gradients vanish (``charrnn gradients --json``'s ``models``: ``name``, ``kind``,
    ``ks``, ``norms``): the mean norm of dL_t/dh_(t-1-k) against k, one line per model, both axes
    logarithmic. Returns the Axes."""
    import matplotlib.pyplot as plt  # noqa: PLC0415 (matplotlib: only when a figure is drawn)

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    for i, m in enumerate(models):
        ax.plot(m["ks"], m["norms"], marker="o", ms=3, lw=1.2, ls=LINE_STYLES[i % 4],
                label=f"{m['name']} ({m['kind']})")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("characters back (k)")
    ax.set_ylabel(r"mean $\|\partial L_t / \partial h_{t-1-k}\|$")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_grad_norms(series: list[dict], ax=None):
    """The gradient norm while training (``series``: ``seed``, ``update``, ``grad_norm`` arrays of
    the logged updates of each run, :func:`charrnn.report.shortfall.grad_norm_facts`): one thin
    line per seed, a line style each, the y axis logarithmic. Returns the Axes."""
    import matplotlib.pyplot as plt  # noqa: PLC0415 (matplotlib: only when a figure is drawn)

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.2))
    for i, s in enumerate(series):
        ax.plot(s["update"], s["grad_norm"], lw=0.6, alpha=0.8, ls=LINE_STYLES[i % 4],
                label=f"seed {s['seed']}")
    ax.set_yscale("log")
    ax.set_xlabel("update")
    ax.set_ylabel(r"$\|\nabla L\|_2$ (before any clipping)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_scaling(points: list[dict], axes=None):
    """Test bits/char against parameters (left) and against training time (right), one line per
    kind, both x axes logarithmic, error bars of one sample standard deviation over seeds where
    there are several. ``points``: :func:`charrnn.report.shortfall.scaling_points` (``kind``,
    ``n_params``, ``bits``, ``std``, ``time_s``). Returns the two Axes."""
    import matplotlib.pyplot as plt  # noqa: PLC0415 (matplotlib: only when a figure is drawn)
    from matplotlib.ticker import NullFormatter  # noqa: PLC0415

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    kinds = list(dict.fromkeys(p["kind"] for p in points))
    for i, kind in enumerate(kinds):
        ps = [p for p in points if p["kind"] == kind]
        err = [p["std"] or 0.0 for p in ps]
        for ax, x in zip(axes, ("n_params", "time_s")):
            ax.errorbar([p[x] for p in ps], [p["bits"] for p in ps], yerr=err, marker="os^D"[i % 4],
                        ms=4, lw=1.2, capsize=3, ls=LINE_STYLES[i % 4], label=kind)
    for ax, label in zip(axes, ("parameters", "training time (s, one thread, this machine)")):
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # only the powers of ten: no overlapping labels
        ax.set_xlabel(label)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("test loss (bits per character)")
    axes[0].legend(fontsize=8)
    return axes


def plot_saturation(left, right, ax=None, labels: dict | None = None, title: str | None = None):
    """Saturation of the hidden units (Karpathy et al. 2015, Fig. 5): one dot per unit, x the
    fraction of characters with h < -0.99 (left-saturated), y the fraction with h > 0.99.

    ``left``, ``right`` (n,) fractions in [0, 1], as :func:`charrnn.studies.units.saturation` returns
    (or the ``"saturation"`` entry of ``charrnn units --json``). ``labels`` maps unit index ->
    text (e.g. the feature it tracks): the unit is drawn as a coloured diamond, named in the
    legend. Units near the diagonal are almost always saturated (binary switches); those near
    the origin stay in tanh's linear range. Returns the Axes.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 (matplotlib: only when a figure is drawn)

    left, right = np.asarray(left, dtype=np.float64), np.asarray(right, dtype=np.float64)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [1, 0], color="0.7", lw=0.8, ls="--", label="always saturated")
    ax.scatter(left, right, s=14, alpha=0.7, color="C0", edgecolor="none",
               label=f"{len(left)} hidden units")
    for k, (unit, text) in enumerate((labels or {}).items()):  # in the legend: dots may overlap
        ax.scatter([left[unit]], [right[unit]], s=30, marker="D", color=f"C{k + 1}",
                   edgecolor="k", lw=0.5, label=f"unit {unit}: {text}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("fraction of characters with h < -0.99")
    ax.set_ylabel("fraction of characters with h > 0.99")
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    return ax
