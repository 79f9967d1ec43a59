"""The run folder of a gated baseline (``charrnn baseline --out DIR``), written and read.

Files, each written atomically: ``config.json`` (what
:meth:`charrnn.studies.baselines.BaselineConfig.to_dict` returns, written before training),
``validation.csv`` (update, chars, train_time_s [s], val_loss [nats/char]), ``model.pt`` (the
state_dict, CPU tensors) and, last (it marks a complete run), ``metrics.json``.
:func:`read_baseline` reads all but the model and needs no torch (the report uses it);
:func:`load_baseline` loads the model too.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..model.data import Vocabulary
from ..util.files import atomic_open, write_json, write_text

__all__ = ["RUN_FILES", "BASELINE_RESULTS", "save_baseline", "read_baseline", "load_baseline"]
RUN_FILES = ("config.json", "validation.csv", "model.pt", "metrics.json")


#: The result files of a baseline run (a new run removes them: :func:`charrnn.training.runs.start_run`).
BASELINE_RESULTS = ("metrics.json", "model.pt", "validation.csv")


def save_baseline(result, out_dir) -> Path:
    """Write ``result`` (a :class:`charrnn.studies.baselines.BaselineResult`) to ``out_dir/``:
    ``model.pt`` (the state_dict, CPU tensors, ``torch.save``), ``validation.csv``,
    ``config.json`` and, last, ``metrics.json``; each file atomically."""
    import torch  # noqa: PLC0415 (torch: reading the metrics needs none)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_open(out / "model.pt", "wb") as f:
        torch.save({k: v.detach().cpu() for k, v in result.model.state_dict().items()}, f)
    lines = ["update,chars,train_time_s,val_loss"]
    lines += [f"{r['update']},{r['chars']},{r['train_time_s']!r},{r['val_loss']!r}"
              for r in result.validation]
    write_text(out / "validation.csv", "\n".join(lines) + "\n")
    write_json(out / "config.json", result.config)
    write_json(out / "metrics.json", result.metrics)
    return out


def _check_complete(d: Path, names) -> None:
    missing = [n for n in names if not (d / n).is_file()]
    if missing:
        raise ValueError(f"{d} is not a complete baseline run folder: missing {', '.join(missing)}")


def read_baseline(run_dir) -> dict:
    """The results of a baseline run folder without its model (no torch needed):
    ``{"dir", "config", "metrics", "validation"}``, ``validation`` a list of dicts (update,
    chars, train_time_s [s], val_loss [nats/char]), one per evaluation. Raises ``ValueError`` if
    config.json, metrics.json or validation.csv is missing."""
    d = Path(run_dir)
    _check_complete(d, ("config.json", "validation.csv", "metrics.json"))
    rows = (d / "validation.csv").read_text(encoding="utf-8").splitlines()[1:]
    return {"dir": d, "config": json.loads((d / "config.json").read_text(encoding="utf-8")),
            "metrics": json.loads((d / "metrics.json").read_text(encoding="utf-8")),
            "validation": [{"update": int(u), "chars": int(c), "train_time_s": float(t),
                            "val_loss": float(v)} for u, c, t, v in (r.split(",") for r in rows)]}


def load_baseline(run_dir, device: str = "cpu"):
    """A run folder written by :func:`save_baseline` as a
    :class:`charrnn.studies.baselines.BaselineResult` (model on ``device``, validation rows as dicts).
    Raises ``ValueError`` if a file is missing."""
    import torch  # noqa: PLC0415 (torch: reading the metrics needs none)

    from .baselines import BaselineResult  # noqa: PLC0415 (they import torch)
    from .gated import CharGated  # noqa: PLC0415 (they import torch)

    d = Path(run_dir)
    _check_complete(d, RUN_FILES)
    run = read_baseline(d)
    config = run["config"]
    vocab = Vocabulary(tuple(config["vocab"]))
    model = CharGated(config["kind"], vocab.K, config["hidden"])
    model.load_state_dict(torch.load(d / "model.pt", map_location="cpu", weights_only=True))
    return BaselineResult(model.to(device), vocab, config, run["metrics"], run["validation"])
