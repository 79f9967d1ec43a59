"""A sweep's run folders and results: reuse, writing a run, one row per run, ``results.csv`` and
``results.json``, and the summary over seeds.

A job's run is reused when its folder holds a finished run of the same ``config.json`` but the
text's path (:func:`finished`). The client writes a run that a worker sent as a temporary folder,
then renames it into place (:func:`install`), so a folder is always a whole run.

A row (:func:`result_row`): name, kind, the grid's settings, seed, parameter count, updates,
training characters, best validation loss [nats/char] and [bits/char] (stateful, on the held-out
chunk's validation part; empty without one), the test loss of the model validation chose
[nats/char] and [bits/char] (empty without a test part), best smooth loss [nats/char] (vanilla
runs), training time [s] and characters/s. :func:`summarize` groups rows that differ only in the
seed: n, mean and sample standard deviation (ddof 1) of each measure;
:func:`format_summary` shows ``mean ± std``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import numpy as np

from ..model.evaluate import BITS_PER_NAT
from ..model.rnn import param_shapes
from ..training.runs import read_config
from ..util.files import write_json, write_text
from .stats import mean_std
from .sweep import Job, format_value

__all__ = ["COLUMNS", "finished", "install", "remove_temporaries", "n_params", "result_row",
           "write_results", "read_results", "summarize", "format_summary"]

COLUMNS = ("n_params", "n_updates", "chars", "best_val_loss", "best_val_bits_per_char",
           "test_loss", "test_bits_per_char", "best_smooth_loss", "wall_time_s", "chars_per_s")


def finished(folder: Path, want: dict) -> bool:
    """True when ``folder`` holds a finished run (``metrics.json``) whose ``config.json`` is
    ``want`` in everything but the text's path."""
    try:
        have = read_config(folder) if (folder / "metrics.json").is_file() else None
    except ValueError:
        return False
    strip = lambda d: {k: v for k, v in json.loads(json.dumps(d)).items() if k != "data"}
    return have is not None and strip(have) == strip(want)


def install(out: Path, name: str, files: dict[str, bytes]) -> Path:
    """Write a run's ``files`` to a temporary folder in ``out`` (``metrics.json`` last, each
    fsynced), then rename it to ``out/name``, replacing what was there. Raises ``ValueError``
    for a file name that is not a plain name."""
    bad = [f for f in files if Path(f).name != f or f.startswith(".")]
    if bad:
        raise ValueError(f"a job returned files with bad names: {', '.join(map(repr, bad))}")
    stage = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=out))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(stage, 0o777 & ~umask)
    for fname in sorted(files, key=lambda f: f == "metrics.json"):
        with open(stage / fname, "wb") as f:
            f.write(files[fname])
            f.flush()
            os.fsync(f.fileno())
    final, old = out / name, out / f".{name}.{uuid.uuid4().hex[:8]}.old.tmp"
    if final.exists() or final.is_symlink():
        os.rename(final, old)
    os.rename(stage, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def remove_temporaries(out: Path) -> None:
    """Folders and files ``.*.tmp`` that a killed client left in ``out`` (it holds the lock)."""
    for p in out.glob(".*.tmp"):
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


def n_params(config: dict, metrics: dict) -> int:
    """Parameters of a run: the vanilla RNN's U, W, V, b, c for its m and K, or the gated
    model's count in ``metrics``."""
    if "n_params" in metrics:
        return int(metrics["n_params"])
    return int(sum(np.prod(s) for s in param_shapes(metrics["K"], config["m"]).values()))


def result_row(job: Job, folder) -> dict:
    """One results row of a finished run ``folder`` of ``job``: name, kind, the grid's settings,
    seed, then :data:`COLUMNS` (losses in nats/char and bits/char, times in s)."""
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    m = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    chars = m.get("chars") or m["n_updates"] * config["batch_size"] * config["seq_length"]
    val = m.get("best_val_loss")
    return {"name": job.name, "kind": job.kind, **job.point, "seed": job.seed,
            "n_params": n_params(config, m), "n_updates": m["n_updates"], "chars": chars,
            "best_val_loss": val,
            "best_val_bits_per_char": None if val is None else val * BITS_PER_NAT,
            "test_loss": m.get("test_loss"),
            "test_bits_per_char": None if m.get("test_loss") is None else m["test_loss"] * BITS_PER_NAT,
            "best_smooth_loss": m.get("best_smooth_loss"), "wall_time_s": m["wall_time_s"],
            "chars_per_s": m["chars_per_s"]}


def write_results(out, rows: list[dict]) -> None:
    """``out/results.json`` (a list of rows) and ``out/results.csv`` (the same; columns in the
    rows' order, empty where a row has no value), each written atomically."""
    fixed = ("name", "kind", "seed", *COLUMNS)
    cols = ["name", "kind", *dict.fromkeys(k for r in rows for k in r if k not in fixed), "seed",
            *COLUMNS]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow(["" if r.get(c) is None else repr(r[c]) if isinstance(r[c], float) else r[c]
                    for c in cols])
    write_json(Path(out) / "results.json", rows)
    write_text(Path(out) / "results.csv", buf.getvalue())


def read_results(out) -> list[dict]:
    """The rows of ``out/results.json``. Raises ``ValueError`` when it is missing or broken."""
    path = Path(out) / "results.json"
    if not path.is_file():
        raise ValueError(f"{path} does not exist: run the sweep first (charrnn sweep SPEC --out "
                         f"{out})")
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{path} is broken ({err})") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"{path} is broken (not a list of rows)")
    return rows


def summarize(rows: list[dict]) -> list[dict]:
    """Rows grouped over seeds (same kind and settings, in first-seen order): ``settings``,
    ``n``, ``seeds`` and, for each of :data:`COLUMNS` from best_val_loss on that every row of the
    group has, ``{name}_mean`` and ``{name}_std`` (sample std, ddof 1; None when n = 1)."""
    fixed = {"name", "seed", *COLUMNS}
    groups: dict[str, list[dict]] = {}
    for r in rows:
        key = json.dumps([[k, v] for k, v in r.items() if k not in fixed])
        groups.setdefault(key, []).append(r)
    out = []
    for key, group in groups.items():
        g = {"settings": dict(json.loads(key)), "n": len(group), "seeds": [r["seed"] for r in group]}
        for col in COLUMNS[3:]:
            xs = [r.get(col) for r in group]
            if all(isinstance(x, (int, float)) for x in xs):
                g[f"{col}_mean"], g[f"{col}_std"] = mean_std(xs)
        out.append(g)
    return out


def _pm(g: dict, col: str, digits: int) -> str:
    if f"{col}_mean" not in g:
        return "-"
    std = g[f"{col}_std"]
    return f"{g[f'{col}_mean']:.{digits}f}" + ("" if std is None else f" ± {std:.{digits}f}")


def format_summary(groups: list[dict]) -> str:
    """:func:`summarize`'s groups as a Markdown table: settings, n, best validation loss
    [nats/char] and [bits/char], best smooth loss, training time [s], characters/s."""
    lines = ["| settings | n | best validation loss (nats/char) | bits/char | test loss (nats/char) "
             "| best smooth loss | training time (s) | characters/s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for g in groups:
        settings = " ".join(format_value(v) if k == "kind" else f"{k} {format_value(v)}"
                            for k, v in g["settings"].items() if v is not None)
        lines.append(f"| {settings} | {g['n']} | {_pm(g, 'best_val_loss', 4)} | "
                     f"{_pm(g, 'best_val_bits_per_char', 4)} | {_pm(g, 'test_loss', 4)} | "
                     f"{_pm(g, 'best_smooth_loss', 4)} | "
                     f"{_pm(g, 'wall_time_s', 1)} | {_pm(g, 'chars_per_s', 0)} |")
    return "\n".join(lines)
