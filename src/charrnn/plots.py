"""Figures for the report (matplotlib). Each function draws on an Axes and returns it."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_smooth_loss"]


def plot_smooth_loss(runs: list[dict], ax=None, reference: dict | None = None):
    """Smooth loss against updates for one or more runs, with epoch boundaries marked.

    ``runs`` are dicts from :func:`charrnn.runs.load_run`. Epoch boundaries are dashed vertical
    lines at multiples of ``updates_per_epoch``; a run with a validation table also shows its
    validation loss. ``reference`` maps update -> loss values to show as markers (e.g. the
    handout's numbers). Returns the Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    for run in runs:
        h = run["history"]
        label = f"seed {run['metrics']['seed']}" if len(runs) > 1 else "smooth loss"
        line, = ax.plot(h["update"], h["smooth_loss"], lw=1.2, label=label)
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
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", bbox_to_anchor=(1, 0.9), fontsize=8)
    return ax


def plot_validation(runs: list[dict], x: str = "chars", ax=None):
    """Validation loss (stateful, nats per character) of several runs against ``x``:
    ``"chars"`` (training characters processed) or ``"train_time_s"`` (seconds of training).

    ``runs`` are dicts from :func:`charrnn.experiments.load_variant`. Returns the Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    for run in runs:
        v = run["validation"]
        if v is None:
            continue
        xs = v[x] / (1e6 if x == "chars" else 1.0)
        ax.plot(xs, v["val_loss"], lw=1.3, marker=".", ms=3,
                label=f"{run['name']}: {run.get('description', '')}")
    ax.set_xlabel("training characters (millions)" if x == "chars" else "training time (s)")
    ax.set_ylabel("validation loss (nats per character)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax
