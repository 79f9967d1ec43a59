"""The report's comparison of training variants (bonus B-N1, B-N2): one definition, cached runs.

Every variant trains on the same text with the last 1 of 20 chunks held out, for the same number
of characters (``chars`` = updates x batch_size x seq_length), and is evaluated on the held-out
chunk (stateful validation loss, :mod:`charrnn.evaluate`) at regular intervals. A variant's run
folder is reused when its ``config.json`` matches, so re-rendering the report does not retrain.
"""

from __future__ import annotations

import json
from pathlib import Path

from .config import TrainConfig

__all__ = ["VARIANTS", "variant_config", "run_variant", "load_variant"]

#: name -> (description, TrainConfig overrides). Learning rates: 1e-3 is the handout's for one
#: sequence per update, and a sweep over {1, 2, 3} x 1e-3 on 2 M characters (stateful validation
#: loss 1.643, 1.707, 1.857) confirmed it. Mini-batches average B gradients, so they take larger
#: steps: the same sweep over {1, 2, 3, 5} x 1e-3 gave 1.721, 1.630, 1.609, 1.651 for B = 8 and
#: 1.863, 1.728, 1.675, 1.633 (8e-3: 1.631) for B = 32, hence 3e-3 and 5e-3. The m = 256 variants
#: use 2e-3 with clipping at 5, not swept.
VARIANTS: dict[str, tuple[str, dict]] = {
    "sequential": ("handout order, B 1, m 100", dict()),
    "random": ("random positions, B 1", dict(order="random")),
    "chunks": ("shuffled chunks, B 1", dict(order="chunks")),
    "B8": ("8 streams, eta 3e-3", dict(batch_size=8, eta=3e-3)),
    "B32": ("32 streams, eta 5e-3", dict(batch_size=32, eta=5e-3)),
    "m256": ("m 256, 32 streams, eta 2e-3, clip 5",
             dict(m=256, batch_size=32, eta=2e-3, grad_clip=5.0)),
    "best": ("m 256, 32 streams, seq_length 50, cosine from 2e-3, clip 5",
             dict(m=256, batch_size=32, seq_length=50, eta=2e-3, grad_clip=5.0,
                  lr_schedule="cosine", warmup=200)),
}


def variant_config(name: str, chars: int, n_evals: int = 20, seed: int = 1,
                   **extra) -> TrainConfig:
    """The TrainConfig of variant ``name`` for a budget of ``chars`` training characters,
    with about ``n_evals`` validation evaluations. Raises ``ValueError`` for an unknown name."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; expected one of {tuple(VARIANTS)}")
    kw = {"holdout": 1, "n_chunks": 20, "seed": seed, "sample_every": 10**9, "log_every": 100,
          **VARIANTS[name][1], **extra}
    cfg = TrainConfig.from_preset("adam", **kw)
    per_update = cfg.batch_size * cfg.seq_length
    cfg.n_updates = max(1, chars // per_update)
    if cfg.warmup:  # at most a tenth of the run, so that small budgets work too
        cfg.warmup = min(cfg.warmup, cfg.n_updates // 10)
    cfg.eval_every = max(1, cfg.n_updates // n_evals)
    cfg.sample_every = cfg.n_updates
    cfg.log_every = max(1, min(100, cfg.n_updates // 200))
    return cfg.validate()


def run_variant(name: str, text: str, data_path, out_dir, chars: int, n_evals: int = 20,
                seed: int = 1, **extra) -> dict:
    """Train variant ``name`` into ``out_dir/name`` unless a finished run made by the same
    config, text and training code is there; return the loaded run (see
    :func:`charrnn.runs.load_run`).

    The cache key is the config, the text's md5 and :func:`charrnn.provenance.code_hash` (the
    modules that train), stored in the run's ``config.json`` as ``data_md5`` and ``code``: an edit
    of the training code retrains every variant, wherever the text lies."""
    from . import provenance
    from .data import text_md5
    from .files import write_json
    from .runs import acquire, prepare_run_dir, run_config, save_run
    from .train import train

    cfg = variant_config(name, chars, n_evals, seed, **extra)
    out = Path(out_dir) / name
    want = json.loads(json.dumps(run_config(cfg, data_path, text_md5(text), len(text))))
    want["code"] = provenance.code_hash()
    done = out / "config.json"
    have = json.loads(done.read_text(encoding="utf-8")) if done.is_file() else {}
    same = {k: v for k, v in have.items() if k != "data"} == \
        {k: v for k, v in want.items() if k != "data"}
    if not same:
        with acquire(out):  # one writer per run folder
            prepare_run_dir(out, want, force=True)
            save_run(train(text, cfg), out, data_path)
            cfg_file = json.loads(done.read_text(encoding="utf-8"))
            cfg_file["code"] = want["code"]
            write_json(done, cfg_file)
    return load_variant(out)


def load_variant(run_dir) -> dict:
    """A run folder with its validation table, plus ``description`` of its variant."""
    from .runs import load_run

    run = load_run(run_dir)
    run["description"] = VARIANTS.get(Path(run_dir).name, ("", {}))[0]
    return run


def summarize(runs: list[dict]) -> dict:
    """The comparison table: per variant its best validation loss (nats and bits per
    character), where it was reached, training characters, time and speed; the winner."""
    import math

    rows = []
    for r in runs:
        m, c = r["metrics"], r["config"]
        rows.append({"variant": r["name"], "description": r.get("description", ""),
                     "m": c["m"], "batch_size": c["batch_size"], "seq_length": c["seq_length"],
                     "eta": c["eta"], "order": c["order"], "lr_schedule": c["lr_schedule"],
                     "best_val_loss": m["best_val_loss"],
                     "best_val_bits_per_char": m["best_val_loss"] / math.log(2),
                     "best_val_update": m["best_val_update"],
                     "final_val_loss": m["final_val_loss"],
                     "final_val_loss_windowed": m["final_val_loss_windowed"],
                     "chars": m["n_updates"] * c["batch_size"] * c["seq_length"],
                     "wall_time_s": m["wall_time_s"], "chars_per_s": m["chars_per_s"]})
    best = min(rows, key=lambda r: r["best_val_loss"]) if rows else None
    lines = ["| variant | best validation loss (nats/char) | bits/char | windowed, final "
             "(nats/char) | training time | characters/s |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        mark = "**" if r is best else ""
        lines.append(f"| {mark}{r['variant']}{mark}: {r['description']} | "
                     f"{mark}{r['best_val_loss']:.4f}{mark} | {r['best_val_bits_per_char']:.4f} | "
                     f"{r['final_val_loss_windowed']:.4f} | {r['wall_time_s']:.0f} s | "
                     f"{r['chars_per_s']:,.0f} |")
    return {"rows": rows, "winner": best["variant"] if best else None,
            "markdown": "\n".join(lines)}

