"""Run folders ``runs/<name>/``: the one module that writes and reads them.

The contract of a run folder:

* **Files.** ``config.json`` (the :class:`~charrnn.config.TrainConfig` fields, plus ``data``: the
  text's absolute path, ``data_md5``: the md5 of the text as read (UTF-8), ``data_chars``: its
  length in characters), written first, when the run starts; while training,
  ``checkpoint.npz`` (:mod:`charrnn.checkpoint`, everything needed to resume); at the end
  ``best.npz`` (the best model), ``history.csv`` (update, loss, smooth_loss, epoch),
  ``validation.csv`` (with a held-out chunk), ``samples.json`` (``[{"update": u, "text": ...}]``,
  update 0 = before the first update), ``best_sample.json`` (the final passage) and, last,
  ``metrics.json``. The executed notebook goes beside them when papermill runs notebook 02.
* **Complete.** ``metrics.json`` is written last: a folder holding it is a finished run
  (:func:`load_run` and ``make`` go by it). A folder with a ``config.json`` but neither a
  checkpoint nor ``metrics.json`` has no finished update and may be reused without ``force``.
* **Atomic.** Every file is written under a temporary name ``.NAME.XXXX.tmp`` and renamed into
  place (:mod:`charrnn.files`); temporaries a killed writer left are removed by the next writer.
* **One writer.** A writer holds an exclusive ``flock`` on the folder's ``.lock`` (which holds
  its pid) from before it touches anything until it is done (:func:`acquire`); the kernel releases
  it when the process ends, even after ``kill -9``, so a lock is never stale. A second writer is
  refused with the first one's pid.
* **Paths.** The text is stored by absolute path, md5 and length, so a run folder works from any
  working directory; when the path no longer holds that text, :func:`resolve_data` says so and
  takes another path to the same text (checked by md5).
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
from pathlib import Path

import numpy as np

from .checkpoint import save_model
from .files import write_json, write_text

__all__ = ["LOCK_NAME", "RunLock", "acquire", "run_name", "run_config", "prepare_run_dir",
           "resolve_data", "remove_stale_temporaries", "save_run", "load_run"]

LOCK_NAME = ".lock"


class RunLock:
    """An exclusive lock on a run folder (see the module docstring); :meth:`release` or use as a
    context manager."""

    def __init__(self, folder: Path, fd: int):
        self.folder, self._fd = folder, fd

    def release(self) -> None:
        """Give the folder up (closing the file releases the flock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def acquire(out_dir) -> RunLock:
    """Create ``out_dir`` if needed and lock it for this process.

    Raises ``ValueError`` if ``out_dir`` is a file, or another process holds the folder (naming
    its pid), before anything in the folder is touched.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output folder {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise ValueError(f"{out} is in use by another charrnn process (pid {holder}): one "
                         "writer per run folder; wait for it to finish, or stop it") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return RunLock(out, fd)


def run_name(data_path, preset: str, n_updates: int, seed: int) -> str:
    """The conventional run folder name, e.g. ``goblet_book-adam-n150000-seed1``."""
    return f"{Path(data_path).stem}-{preset}-n{n_updates}-seed{seed}"


#: The result files of a training run: a new run in the folder removes them first.
RESULTS = ("metrics.json", "best.npz", "checkpoint.npz", "validation.csv")


def prepare_run_dir(out_dir, config: dict, force: bool = False, results=RESULTS) -> Path:
    """Make ``out_dir`` ready for a new run of ``config`` (a :func:`run_config` dict) and write
    its ``config.json``; call it holding the folder's lock (:func:`acquire`).

    Raises ``ValueError`` if ``out_dir`` is a file, holds a checkpoint (resume it, or ``force``),
    or holds a run with at least one finished update whose ``config.json`` differs from
    ``config`` (unless ``force``). Re-running the same config there is allowed, and so is a folder
    whose run never finished an update. ``results`` are the file names a new run removes (an
    older run's results must not survive); other kinds of run folder (the baselines) pass theirs.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output folder {out} exists and is not a folder")
    if (out / "checkpoint.npz").is_file() and not force:
        raise ValueError(f"{out} holds a checkpoint; continue it with --resume {out} (in a "
                         "notebook: resume = True) or start over with --force (force = True)")
    old = out / "config.json"
    started = any((out / name).is_file() for name in results if name != "checkpoint.npz")
    if old.is_file() and started and not force:
        try:
            previous = json.loads(old.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = None
        if previous != json.loads(json.dumps(config)):
            raise ValueError(f"output folder {out} holds a different run; choose another folder, "
                             "or overwrite it with --force (in a notebook: force = True)")
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)
    for name in results:
        (out / name).unlink(missing_ok=True)  # a new run: no result of an older one survives
    write_json(out / "config.json", config)
    return out


def resolve_data(saved: dict, data=None, newline: str = "keep") -> tuple[Path, str]:
    """``(path, text)`` of the text a run was trained on.

    ``saved`` is the run's ``config.json``. ``data`` (optional) points at the text anew; by
    default the stored path is used (a relative one, from charrnn 0.1, is taken from the cwd,
    then from the project root). The text is read with ``newline`` and checked against the stored
    md5. Raises ``ValueError`` naming the path and what to do when it is missing or changed.
    """
    from .data import read_text, text_md5
    from .paths import project_root

    want = saved.get("data_md5")
    if data is None:
        stored = saved.get("data")
        if stored is None:
            raise ValueError("give --data: the run folder does not say which text it used")
        path = Path(stored)
        if not path.is_absolute() and not path.is_file():
            path = project_root() / path
        if not path.is_file():
            raise ValueError(f"the run's text {stored} is not there any more; give --data PATH "
                             "(in a notebook: data_path) pointing at the same text"
                             + (f" (md5 {want})" if want else ""))
    else:
        path = Path(data)
    text = read_text(path, newline=newline)
    if want and text_md5(text) != want:
        raise ValueError(f"{path} is not the text this run was trained on (its md5 is "
                         f"{text_md5(text)}, the run's {want}); give --data PATH pointing at "
                         "the original text")
    return path.resolve(), text


def remove_stale_temporaries(folder) -> None:
    """Delete ``.NAME.XXXX.tmp`` files that a killed writer left in ``folder`` (they are never
    outputs: every output is renamed into place only once complete)."""
    for tmp in Path(folder).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def save_run(result, out_dir, data_path=None) -> Path:
    """Write a :class:`~charrnn.state.TrainResult`'s files into ``out_dir``, ``metrics.json``
    last (see the module docstring); ``config.json`` is rewritten with the final settings."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    st = result.state
    config = run_config(result.config, data_path, result.text_md5, result.metrics.get("n_chars"))
    write_json(out / "config.json", config)
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
    write_json(out / "metrics.json", result.metrics)  # last: it marks a finished run
    return out


def run_config(config, data_path=None, text_md5: str | None = None,
               n_chars: int | None = None) -> dict:
    """The dict stored as ``config.json``: the TrainConfig's fields plus ``data`` (absolute
    path), ``data_md5`` and ``data_chars`` (see the module docstring)."""
    d = config.to_dict()
    d["data"] = os.path.abspath(data_path) if data_path is not None else None
    d["data_md5"] = text_md5
    d["data_chars"] = None if n_chars is None else int(n_chars)
    return d


def load_run(run_dir) -> dict:
    """Read a run folder: ``{"name", "dir", "config", "metrics", "samples", "best_sample",
    "history"}`` with ``history`` a dict of NumPy arrays. Raises ``ValueError`` if a file is
    missing."""
    d = Path(run_dir)
    if not (d / "metrics.json").is_file():
        raise ValueError(f"{d} is not a finished run folder (no metrics.json): train it first, "
                         "or resume it")
    need = ["config.json", "samples.json", "best_sample.json", "history.csv"]
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
