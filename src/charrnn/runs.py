"""Run folders ``runs/<name>/``: what they hold, how they are written and read.

A run folder holds (each file written atomically):
``config.json`` (the :class:`~charrnn.train.TrainConfig` plus the data path),
``history.csv`` (update, loss, smooth_loss, epoch), ``samples.json`` (a list of
``{"update": u, "text": ...}``; update 0 = before the first update), ``best_sample.json`` (the
final passage from the best model), ``metrics.json`` and ``best.npz`` (see
:mod:`charrnn.checkpoint`). The executed notebook goes beside them when papermill runs it.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np

from .checkpoint import save_model
from .files import write_json, write_text

__all__ = ["run_name", "run_config", "prepare_run_dir", "remove_stale_temporaries", "save_run",
           "load_run"]


def run_name(data_path, preset: str, n_updates: int, seed: int) -> str:
    """The conventional run folder name, e.g. ``goblet_book-adam-n150000-seed1``."""
    return f"{Path(data_path).stem}-{preset}-n{n_updates}-seed{seed}"


def prepare_run_dir(out_dir, config: dict, force: bool = False) -> Path:
    """Create ``out_dir`` for a run of ``config`` (a dict), before any training.

    Raises ``ValueError`` if ``out_dir`` is a file, or already holds a run whose ``config.json``
    differs from ``config`` (unless ``force``). Re-running the same config there is allowed.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output folder {out} exists and is not a folder")
    old = out / "config.json"
    if old.is_file() and not force:
        try:
            previous = json.loads(old.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = None
        if previous != json.loads(json.dumps(config)):
            raise ValueError(f"output folder {out} holds a different run; choose another folder, "
                             "or overwrite it with --force (in a notebook: force = True)")
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)
    return out


def remove_stale_temporaries(folder) -> None:
    """Delete ``.NAME.XXXX.tmp`` files that a killed writer left in ``folder`` (they are never
    outputs: every output is renamed into place only once complete)."""
    for tmp in Path(folder).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def save_run(result, out_dir, data_path=None) -> Path:
    """Write a :class:`~charrnn.train.TrainResult` into ``out_dir`` (see module docstring)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    st = result.state
    config = run_config(result.config, data_path)
    best = result.best
    save_model(out / "best.npz", result.best_params, result.vocab, best.hprev, best.x0,
               meta={"update": best.update, "criterion": best.criterion,
                     "loss": best.loss, "smooth_loss": st.best_smooth.loss,
                     "config": config})
    h = result.history
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["update", "loss", "smooth_loss", "epoch"])
    for u, l, s, e in zip(h["update"], h["loss"], h["smooth_loss"], h["epoch"]):
        w.writerow([int(u), repr(float(l)), repr(float(s)), int(e)])
    write_text(out / "history.csv", buf.getvalue())
    if result.validation:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        cols = ["update", "chars", "train_time_s", "val_loss", "val_loss_windowed"]
        w.writerow(cols)
        for row in result.validation:
            w.writerow([repr(row[c]) if isinstance(row[c], float) else row[c] for c in cols])
        write_text(out / "validation.csv", buf.getvalue())
    write_json(out / "samples.json", result.samples)
    write_json(out / "best_sample.json", {"update": best.update,
                                          "criterion": best.criterion,
                                          "smooth_loss": st.best_smooth.loss
                                          if best.criterion == "smooth_loss" else None,
                                          "loss": best.loss,
                                          "text": result.final_sample})
    write_json(out / "metrics.json", result.metrics)
    write_json(out / "config.json", config)  # last: its presence marks a complete run
    return out


def run_config(config, data_path=None) -> dict:
    """The dict stored as ``config.json``: the TrainConfig's fields plus ``data``."""
    d = config.to_dict()
    d["data"] = os.fspath(data_path) if data_path is not None else None
    return d


def load_run(run_dir) -> dict:
    """Read a run folder: ``{"name", "dir", "config", "metrics", "samples", "best_sample",
    "history"}`` with ``history`` a dict of NumPy arrays. Raises ``ValueError`` if a file is
    missing."""
    d = Path(run_dir)
    need = ["config.json", "metrics.json", "samples.json", "best_sample.json", "history.csv"]
    missing = [n for n in need if not (d / n).is_file()]
    if missing:
        raise ValueError(f"{d} is not a complete run folder: missing {', '.join(missing)}")
    read = lambda n: json.loads((d / n).read_text(encoding="utf-8"))  # noqa: E731
    rows = np.genfromtxt(d / "history.csv", delimiter=",", names=True, dtype=None,
                         encoding="utf-8")
    history = {k: np.atleast_1d(rows[k]) for k in rows.dtype.names}
    validation = None
    if (d / "validation.csv").is_file():
        v = np.genfromtxt(d / "validation.csv", delimiter=",", names=True, dtype=None,
                          encoding="utf-8")
        validation = {k: np.atleast_1d(v[k]) for k in v.dtype.names}
    return {"name": d.name, "dir": d, "config": read("config.json"),
            "metrics": read("metrics.json"), "samples": read("samples.json"),
            "best_sample": read("best_sample.json"), "history": history,
            "validation": validation}
