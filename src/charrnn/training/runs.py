"""Run folders ``runs/<name>/``: the one module that writes and reads them.

The contract of a run folder:

* **Files.** ``config.json`` (the :class:`~charrnn.training.config.TrainConfig` fields, plus ``data``: the
  text's absolute path, ``data_md5``: the md5 of the text as read (UTF-8), ``data_chars``: its
  length in characters), written first, when the run starts; while training,
  ``checkpoint.npz`` (:mod:`charrnn.training.checkpoint`, everything needed to resume); at the end
  ``best.npz`` (the best model), ``history.csv`` (update, loss, smooth_loss, grad_norm, epoch),
  ``validation.csv`` (with a held-out chunk), ``samples.json`` (``[{"update": u, "text": ...}]``,
  update 0 = before the first update), ``best_sample.json`` (the final passage) and, last,
  ``metrics.json``. The executed notebook goes beside them when papermill runs notebook 02.
* **Complete.** ``metrics.json`` is written last: a folder holding it is a finished run
  (:func:`load_run` and ``make`` go by it). A folder with a ``config.json`` but neither a
  checkpoint nor ``metrics.json`` has no finished update and may be reused without ``force``.
* **One start.** :func:`start_run` decides, holding the lock, what a folder and the settings
  wanted make of a run: finished and the same (reuse it), unfinished and the same (resume its
  checkpoint, or start afresh without one), different (refuse, or replace with ``force``). The
  settings are ``config.json``'s: every TrainConfig field, the text's md5 and length, and
  ``code``, the training code's hash (:func:`charrnn.training.provenance.code_hash`), so a run made by
  other code is a different run; the text's path is not compared. A checkpoint is resumed only
  when it matches its folder's ``config.json`` (settings and text), and a resume never rewrites
  ``config.json`` but for a longer ``n_updates`` and the text's new path.
* **Atomic.** Every file is written under a temporary name ``.NAME.XXXX.tmp`` and renamed into
  place (:mod:`charrnn.util.files`); temporaries a killed writer left are removed by the next writer.
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
import hashlib
import io
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..model.data import read_text, text_md5
from ..util.files import write_json, write_text
from ..util.paths import project_root
from . import provenance
from .checkpoint import checkpoint_meta, save_model
from .config import changed_settings
from .train import Trainer

__all__ = ["LOCK_NAME", "RunLock", "check_folder", "acquire", "run_name", "run_config",
           "RunStart", "start_run", "resume_config", "read_config", "check_seeds",
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


def check_folder(out_dir) -> Path:
    """``out_dir`` (an output folder) as a Path; raises ``ValueError`` if it is empty (which
    would be the working directory) or names something that is not a folder."""
    if not os.fspath(out_dir).strip():
        raise ValueError("the output folder is empty: give a folder name (--out DIR; in a "
                         "notebook: run_dir or out_dir)")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output folder {out} exists and is not a folder")
    return out


def acquire(out_dir) -> RunLock:
    """Create ``out_dir`` if needed and lock it for this process.

    Raises ``ValueError`` if ``out_dir`` is a file, or another process holds the folder (naming
    its pid), before anything in the folder is touched.
    """
    out = check_folder(out_dir)
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
    """The run folder name that ``make`` also uses, e.g. ``goblet_book-7a8fb8e4-adam-n150000-seed1``:
    the text's file name without its suffix and the first 8 hex digits of the md5 of its bytes,
    so two different files of the same name never share a folder. Reads the file (``OSError``
    when it cannot)."""
    digest = hashlib.md5(Path(data_path).read_bytes()).hexdigest()[:8]
    return f"{Path(data_path).stem}-{digest}-{preset}-n{n_updates}-seed{seed}"


#: The result files of a training run: a new run in the folder removes them first.
RESULTS = ("metrics.json", "best.npz", "checkpoint.npz", "validation.csv")


#: The settings of ``config.json`` that do not tell two runs apart: where the text lies (its md5
#: names it).
NOT_COMPARED = ("data",)


def read_config(folder) -> dict | None:
    """The ``config.json`` of run folder ``folder`` as a dict, or None when there is none.
    Raises ``ValueError`` naming the file when it is not a JSON object."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{path} is broken ({err}): remove the folder, or replace it with "
                         "--force (in a notebook: force = True)") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path} is broken (not a JSON object): remove the folder, or replace "
                         "it with --force (in a notebook: force = True)")
    return config


def _differences(have: dict, want: dict, ignore=()) -> list[str]:
    """The settings (``config.json`` keys) in which ``want`` differs from the folder's
    ``have``, as ``"m 50 (the folder has 100)"``; :data:`NOT_COMPARED` and ``ignore`` left
    out."""
    names = [k for k in dict.fromkeys([*want, *have]) if k not in NOT_COMPARED]
    return changed_settings(have, json.loads(json.dumps(want)), may_change=ignore, names=names,
                            has="the folder has")


@dataclass
class RunStart:
    """What :func:`start_run` decided for ``folder``, holding its lock until :meth:`release`
    (or the end of a ``with`` block). ``action``: ``"reuse"`` (a finished run with these
    settings: nothing to train), ``"resume"`` (continue ``checkpoint``) or ``"new"`` (the folder
    is ready and its ``config.json`` written). ``config``: the folder's ``config.json`` now."""

    folder: Path
    action: str
    config: dict
    lock: RunLock

    @property
    def checkpoint(self) -> Path:
        """The run's ``checkpoint.npz``."""
        return self.folder / "checkpoint.npz"

    def trainer(self, text: str, fresh=None):
        """The :class:`charrnn.training.train.Trainer` to run: the checkpoint's when resuming (to the
        folder's ``n_updates``), else ``fresh`` (a new Trainer of the same settings, built
        before the start so that its checks ran before anything was written)."""
        if self.action == "resume":

            return Trainer.from_checkpoint(self.checkpoint, text, self.config["n_updates"])
        return fresh

    def release(self) -> None:
        """Give the folder up."""
        self.lock.release()

    def __enter__(self) -> RunStart:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _checkpoint_mismatch(ckpt: Path, have: dict, n_updates: int) -> list[str]:
    """How the checkpoint ``ckpt`` differs from its folder's ``config.json`` ``have`` (settings,
    text) or overruns ``n_updates``; empty when it belongs to the folder's run."""
    meta = checkpoint_meta(ckpt)
    saved = dict(meta["config"], data_md5=meta.get("text_md5"))
    names = [*meta["config"], "data_md5"]
    diff = changed_settings(have, saved, names=names, has="config.json has")
    if int(meta["update"]) > n_updates:
        diff.append(f"{int(meta['update']):,} updates done (the run is {n_updates:,} long)")
    return diff


def _not_its_checkpoint(ckpt: Path, out: Path, mismatch: list[str]) -> ValueError:
    """The refusal of a checkpoint that :func:`_checkpoint_mismatch` found foreign to ``out``."""
    return ValueError(f"{ckpt} does not belong to the run in {out}: " + ", ".join(mismatch)
                      + "; remove it, or start over with --force (in a notebook: force = True)")


def start_run(out_dir, want: dict, force: bool = False, resume: bool = False,
              results=RESULTS) -> RunStart:
    """Take run folder ``out_dir`` for the run ``want`` (a :func:`run_config` dict): lock it,
    then decide (see the module docstring) and return the :class:`RunStart`, still locked.

    * ``resume=False``: a finished run with the same settings is reused; an unfinished one is
      resumed from its checkpoint (or started afresh without one); a different run (finished,
      or with a checkpoint) is refused unless ``force``, which replaces it.
    * ``resume=True`` (the user asked to continue; ``want`` from :func:`resume_config`): the
      checkpoint is resumed; a run finished at ``want``'s length is reused; a longer
      ``n_updates`` is written to ``config.json`` and the run counts as unfinished.

    For a new run, the results of an older one (``results``, the file names of this kind of
    run) are removed and ``config.json`` is written. Raises ``ValueError``, before anything in
    the folder is touched, if ``out_dir`` is empty or a file, another process holds it (naming
    its pid), its ``config.json`` is broken, there is nothing to resume, the checkpoint does not
    match the folder's run (naming what differs), or the folder holds a different run (naming
    the differences) without ``force``.
    """
    out = check_folder(out_dir)
    if resume and not (out / "config.json").is_file():
        raise ValueError(f"nothing to resume: {out} holds no run (no config.json)")
    lock = acquire(out)
    try:
        return RunStart(out, *_decide(out, want, force, resume, results), lock)
    except BaseException:
        lock.release()
        raise


def _decide(out: Path, want: dict, force: bool, resume: bool, results) -> tuple[str, dict]:
    """``(action, config)`` of :func:`start_run`, holding the lock."""
    ckpt, finished = out / "checkpoint.npz", (out / "metrics.json").is_file()
    try:
        have = read_config(out)
    except ValueError:
        if resume or not force:
            raise
        have = None  # replaced
    if resume:
        if finished and have.get("n_updates") == want["n_updates"]:
            return "reuse", have
        if not ckpt.is_file():
            raise ValueError(f"nothing to resume: {ckpt} does not exist")
        code = _differences(have, want, ignore=("n_updates",))
        if code and code != [d for d in code if d.startswith("code ")]:
            raise ValueError(f"{out} holds another run than the one to resume: " + ", ".join(code))
        if code:
            print(f"charrnn: note: the training code changed since {out} started; resuming it "
                  "with this code", file=sys.stderr)
        mismatch = _checkpoint_mismatch(ckpt, have, want["n_updates"])
        if mismatch:
            raise _not_its_checkpoint(ckpt, out, mismatch)
        # the two things a resume may change: a longer run, and where its text now lies
        update = {k: want[k] for k in ("n_updates", "data") if k in want and want[k] != have.get(k)}
        if "n_updates" in update:  # no longer finished
            (out / "metrics.json").unlink(missing_ok=True)
        if update:
            write_json(out / "config.json", dict(have, **update))
        remove_stale_temporaries(out)
        return "resume", read_config(out)
    started = finished or ckpt.is_file() or \
        any((out / name).is_file() for name in results if name != "checkpoint.npz")
    diff = _differences(have, want) if have is not None else ["no config.json"]
    if not diff:
        if finished:
            return "reuse", have
        if ckpt.is_file():
            mismatch = _checkpoint_mismatch(ckpt, have, want["n_updates"])
            if not mismatch:
                remove_stale_temporaries(out)
                return "resume", have
            if not force:
                raise _not_its_checkpoint(ckpt, out, mismatch)
    elif started and not force:
        resumable = ckpt.is_file() and not finished and have is not None
        try:  # advise --resume only where it would work
            resumable = resumable and not _checkpoint_mismatch(ckpt, have, have["n_updates"])
        except (KeyError, ValueError):
            resumable = False
        held = f" with a checkpoint; continue it with --resume {out} (in a notebook: resume = " \
            "True)," if resumable else ";"
        raise ValueError(f"output folder {out} holds a different run ("
                         + ", ".join(diff[:4]) + (", ..." if len(diff) > 4 else "") + f"){held} "
                         "choose another folder, or replace it with --force (in a notebook: "
                         "force = True)")
    remove_stale_temporaries(out)
    for name in results:
        (out / name).unlink(missing_ok=True)  # a new run: no result of an older one survives
    write_json(out / "config.json", want)
    return "new", want


def resume_config(out_dir, given: dict, length: str = "n_updates") -> dict:
    """The settings of resuming run folder ``out_dir`` with ``given`` (TrainConfig field ->
    value, e.g. the flags given on the command line): its ``config.json`` with ``n_updates``
    from ``given``. Raises ``ValueError`` when the folder holds no run, or ``given`` changes
    another setting (naming each; ``length`` is how the caller spells n_updates)."""
    out = check_folder(out_dir)
    have = read_config(out)
    if have is None:
        raise ValueError(f"nothing to resume: {out} holds no run (no config.json)")
    changed = changed_settings(have, given)
    if changed:
        raise ValueError(f"a resumed run keeps its settings; only {length} may change: "
                         + ", ".join(changed))
    n = given.get("n_updates")
    return dict(have, n_updates=have["n_updates"] if n is None else n)


def resolve_data(saved: dict, data=None, newline: str = "keep") -> tuple[Path, str]:
    """``(path, text)`` of the text a run was trained on.

    ``saved`` is the run's ``config.json``. ``data`` (optional) points at the text anew; by
    default the stored path is used (a relative one, from charrnn 0.1, is taken from the cwd,
    then from the project root). The text is read with ``newline`` and checked against the stored
    md5. Raises ``ValueError`` naming the path and what to do when it is missing or changed.
    """
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
    """Write a :class:`~charrnn.training.state.TrainResult`'s files into ``out_dir``, ``metrics.json``
    last (see the module docstring). ``config.json`` is the start's (:func:`start_run`); it is
    written here only when the folder has none."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    st = result.state
    config = read_config(out)
    if config is None:
        config = run_config(result.config, data_path, result.text_md5,
                            result.metrics.get("n_chars"))
        write_json(out / "config.json", config)
    best = result.best
    save_model(out / "best.npz", result.best_params, result.vocab, best.hprev, best.x0,
               meta={"update": best.update, "criterion": best.criterion,
                     "loss": best.loss, "smooth_loss": st.best_smooth.loss,
                     "config": config})
    h = result.history
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["update", "loss", "smooth_loss", "grad_norm", "epoch"])
    for u, l, s, g, e in zip(h["update"], h["loss"], h["smooth_loss"], h["grad_norm"],
                             h["epoch"]):
        w.writerow([int(u), repr(float(l)), repr(float(s)), repr(float(g)), int(e)])
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
    path), ``data_md5``, ``data_chars`` and ``code`` (the training code's hash; see the module
    docstring)."""
    d = config.to_dict()
    d["data"] = os.path.abspath(data_path) if data_path is not None else None
    d["data_md5"] = text_md5
    d["data_chars"] = None if n_chars is None else int(n_chars)
    d["code"] = provenance.code_hash()
    return d


def check_seeds(configs: dict) -> None:
    """Raise ``ValueError`` unless the runs ``configs`` (run folder -> its ``config.json``) are
    seeds of one run: the same text (md5) and the same settings but the seed (the code's hash
    and the text's path may differ). The sentence names the folders and what differs."""
    items = list(configs.items())
    if not items:
        return
    (first, base), names = items[0], None
    for folder, config in items[1:]:
        names = [k for k in dict.fromkeys([*base, *config])
                 if k not in ("seed", "code", *NOT_COMPARED)]
        diff = changed_settings(base, config, may_change=(), names=names,
                                has=f"{Path(first).name} has")
        if diff:
            what = "texts" if any(d.startswith(("data_md5", "data_chars")) for d in diff) \
                else "settings"
            raise ValueError(f"these runs are not seeds of one run: {folder} and {first} have "
                             f"different {what} ({', '.join(diff[:3])}"
                             f"{', ...' if len(diff) > 3 else ''}); give run folders that "
                             "differ only in the seed")


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
    def read(name):
        try:
            return json.loads((d / name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise ValueError(f"{d / name} is broken ({err})") from None

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
