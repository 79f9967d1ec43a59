"""The report's comparison of training variants (bonus B-N1, B-N2): one definition, cached runs.

Every variant trains on the same text with the last 1 of 20 chunks held out, for a budget of
training characters (``chars`` = updates x batch_size x seq_length; the common budget times the
variant's ``scale``), and is evaluated on the held-out chunk (stateful validation loss,
:mod:`charrnn.model.evaluate`) about ``n_evals`` times. The variants that compare training orders and
batch sizes run with several seeds (``seeds``), so :func:`summarize` gives each a mean and a
standard deviation, and each pair of them Welch's t-test over the seeds (:func:`comparisons`).
Each (variant, seed) is its own run folder ``NAME-seedS`` and its own job (``charrnn
experiment``, so ``make -j2`` runs two at a time); a finished run is reused when its config,
text and training code are the same.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..training.config import TrainConfig
from ..training.runs import check_folder, load_run, run_config, save_run, start_run
from ..training.train import Trainer
from .stats import mean_std

__all__ = ["VARIANTS", "COMPARISONS", "SETTINGS", "GATED_SEEDS", "N_EVALS", "ALPHA", "variant_config",
           "variant_seeds", "job_name", "run_variant", "load_variant", "summarize", "welch",
           "differences", "comparisons"]

#: name -> description, TrainConfig overrides, number of seeds, budget scale. Learning rates:
#: ``make lr`` (the same rule for every variant and gated baseline: seed 1 at each model's former
#: rate times 0.5, 1, 2 and 4, 1 M training characters, the validation text's loss) gave, in
#: nats/char for the factors 0.5 / 1 / 2 / 4: sequential (1e-3) 1.8436 / 1.7738 / 1.7941 / 2.0320,
#: random 1.8202 / 1.7383 / 1.7442 / 1.9755, chunks 1.8531 / 1.7736 / 1.8034 / 2.0436, B8 (3e-3)
#: 1.7907 / 1.7172 / 1.7318 / 1.9423, B32 (5e-3) 1.8483 / 1.7446 / 1.7300 / 1.7865, m256 (2e-3)
#: 1.9049 / 1.7706 / 1.6991 / 1.8362, m256s50 (2e-3) 2.0223 / 1.8995 / 1.7628 / 1.8176, m256cos
#: (2e-3) 2.2015 / 2.0310 / 1.8815 / 1.8261 (the top of the grid: a larger rate was not tried);
#: the rates below are the winners. Mini-batch variants compute in float32 (half the time;
#: tests/test_train_extensions.py checks that float32 reaches float64's validation loss within
#: 0.005 nats/char). Budgets are chosen per comparison (:data:`COMPARISONS`) to fit make report's
#: time: the training orders and B8 against the handout's loop at a quarter of the common budget
#: (500,000 characters by default; at 400,000 and 600,000 characters the 1 M runs' validation
#: losses already put random and B8 ahead of sequential by 5 to 8 of their seeds' standard
#: deviations); B32, m256, m256s50 and m256cos, the steps from m = 100 to the long run, one change
#: each, at the common budget (2 M characters by default: at 1 M the m = 256 steps are all within
#: their seeds' noise, and at 1.5 M one of m256cos's three seeds failed to train, 2.17
#: nats/char), as the gated baselines; "best", the long run, is m256cos with 3 times the common
#: budget (6 M characters).
VARIANTS: dict[str, dict] = {
    "sequential": dict(description="handout order, B 1, m 100", overrides={}, seeds=3, scale=0.25),
    "random": dict(description="random positions, B 1", overrides=dict(order="random"), seeds=3,
                   scale=0.25),
    "chunks": dict(description="shuffled chunks, B 1", overrides=dict(order="chunks"), seeds=3,
                   scale=0.25),
    "B8": dict(description="8 streams, eta 3e-3",
               overrides=dict(batch_size=8, eta=3e-3, dtype="float32"), seeds=3, scale=0.25),
    "B32": dict(description="32 streams, eta 1e-2",
                overrides=dict(batch_size=32, eta=1e-2, dtype="float32"), seeds=3),
    "m256": dict(description="m 256, 32 streams, eta 4e-3, clip 5",
                 overrides=dict(m=256, batch_size=32, eta=4e-3, grad_clip=5.0, dtype="float32"),
                 seeds=3),
    "m256s50": dict(description="m256 with seq_length 50",
                    overrides=dict(m=256, batch_size=32, seq_length=50, eta=4e-3, grad_clip=5.0,
                                   dtype="float32"), seeds=3),
    "m256cos": dict(description="m256s50 with a cosine learning rate from 8e-3 (warm-up 200)",
                    overrides=dict(m=256, batch_size=32, seq_length=50, eta=8e-3, grad_clip=5.0,
                                   lr_schedule="cosine", warmup=200, dtype="float32"), seeds=3),
    "best": dict(description="the long run, m256cos with 3 times the budget",
                 overrides=dict(m=256, batch_size=32, seq_length=50, eta=8e-3, grad_clip=5.0,
                                lr_schedule="cosine", warmup=200, dtype="float32"),
                 seeds=1, scale=3),
}

#: The comparisons the report tests (Welch's t-test over seeds, :func:`comparisons`): pairs of
#: rows that differ in one factor at the same budget (equal ``scale``; a test checks it), or in a
#: factor and the settings that go with it (a mini-batch's larger learning rate);
#: :func:`differences` names every setting that differs. "LSTM" and "GRU" are the gated
#: baselines' rows (:mod:`charrnn.studies.baselines`), trained with m256cos's recipe.
COMPARISONS: tuple[tuple[str, str], ...] = (
    ("sequential", "random"), ("sequential", "chunks"), ("random", "chunks"),
    ("sequential", "B8"),
    ("B32", "m256"), ("m256", "m256s50"), ("m256s50", "m256cos"),
    ("m256cos", "LSTM"), ("m256cos", "GRU"), ("LSTM", "GRU"),
)

#: The settings :func:`differences` compares, in the order it names them.
SETTINGS = ("model", "order", "batch_size", "seq_length", "eta", "lr_schedule", "dtype", "chars")

#: Seeds of each gated baseline (folders ``lstm-seedS``, ``gru-seedS``), as the vanilla rows
#: they are compared with.
GATED_SEEDS = 3

#: Validation evaluations per run of every compared model, vanilla and gated alike (the chosen
#: model is the best of them on the validation text). 5, not 10: each costs a pass over the
#: validation text (a sixth of a gated run's time at 10), and make report's time is bounded.
N_EVALS = 5

#: The held-out chunk's second half is the test text: validation (the first half) chooses each
#: run's model, the test text scores it once (:class:`charrnn.training.config.TrainConfig`).
TEST_FRACTION = 0.5


def _variant(name: str) -> dict:
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; expected one of {tuple(VARIANTS)}")
    return VARIANTS[name]


def variant_seeds(name: str) -> list[int]:
    """The seeds variant ``name`` runs with: 1, ..., its ``seeds``."""
    return list(range(1, _variant(name)["seeds"] + 1))


def job_name(name: str, seed: int) -> str:
    """The run folder of one (variant, seed): ``NAME-seedS``."""
    return f"{name}-seed{seed}"


def variant_config(name: str, chars: int, n_evals: int = N_EVALS, seed: int = 1,
                   scale: float | None = None, **extra) -> TrainConfig:
    """The TrainConfig of variant ``name`` for a common budget of ``chars`` training
    characters times the variant's ``scale`` (or ``scale``: 1 trains on ``chars`` exactly, as a
    sweep's runs and the learning-rate choice do), with about ``n_evals`` validation
    evaluations. Raises ``ValueError`` for an unknown name."""
    v = _variant(name)
    kw = {"holdout": 1, "n_chunks": 20, "test_fraction": TEST_FRACTION, "seed": seed,
          "sample_every": 10**9, "log_every": 100, **v["overrides"], **extra}
    cfg = TrainConfig.from_preset("adam", **kw)
    per_update = cfg.batch_size * cfg.seq_length
    cfg.n_updates = max(1, int(chars * (v.get("scale", 1) if scale is None else scale))
                        // per_update)
    if cfg.warmup:  # at most a tenth of the run, so that small budgets work too
        cfg.warmup = min(cfg.warmup, cfg.n_updates // 10)
    cfg.eval_every = max(1, cfg.n_updates // n_evals)
    cfg.sample_every = cfg.n_updates
    cfg.log_every = max(1, min(100, cfg.n_updates // 200))
    return cfg.validate()


def run_variant(name: str, text: str, data_path, out_dir, chars: int, n_evals: int = N_EVALS,
                seed: int = 1, progress: bool | str = False, **extra) -> dict:
    """Train variant ``name`` with ``seed`` into ``out_dir/NAME-seedS`` (:func:`job_name`) and
    return the loaded run (see :func:`charrnn.training.runs.load_run`).

    The folder is taken by :func:`charrnn.training.runs.start_run` with ``force``: a finished run of the
    same config, text (md5) and training code (:func:`charrnn.training.provenance.code_hash`, stored as
    ``code``) is reused, wherever the text lies; an unfinished one resumes from its checkpoint
    (saved every 10 % of the run and on Ctrl-C or SIGTERM), so an interrupted ``make report``
    carries on where it stopped; anything else is replaced: an edit of the training code
    retrains every variant. Raises ``ValueError`` when another process holds the folder."""
    cfg = variant_config(name, chars, n_evals, seed, **extra)
    out = check_folder(out_dir) / job_name(name, seed)
    fresh = Trainer(text, cfg)  # every check before the folder is touched
    want = run_config(cfg, data_path, fresh.text_md5, len(text))
    with start_run(out, want, force=True) as start:
        if start.action != "reuse":
            trainer = start.trainer(text, fresh)
            result = trainer.run(progress=progress, checkpoint=start.checkpoint,
                                 checkpoint_every=max(1, cfg.n_updates // 10),
                                 handle_signals=True)
            save_run(result, out, data_path)
    return load_variant(out)


def load_variant(run_dir) -> dict:
    """A run folder (:func:`charrnn.training.runs.load_run`) with ``variant``, ``seed`` and the
    variant's ``description``."""
    run = load_run(run_dir)
    name, _, seed = Path(run_dir).name.rpartition("-seed")
    run["variant"] = name if name in VARIANTS else Path(run_dir).name
    run["seed"] = int(seed) if seed.isdigit() else run["metrics"].get("seed")
    run["description"] = VARIANTS.get(run["variant"], {}).get("description", "")
    return run


def _mean_std(xs: list[float]) -> tuple[float, float]:
    """:func:`charrnn.studies.stats.mean_std`, with a standard deviation of 0 for one value."""
    mean, std = mean_std(xs)
    return mean, 0.0 if std is None else std


#: Significance level of :func:`welch`.
ALPHA = 0.05


def welch(a: dict, b: dict) -> dict | None:
    """Welch's unequal-variances t-test (Welch 1947; ``scipy.stats.ttest_ind(equal_var=False)``)
    of the per-seed reported losses (``losses``, nats/char: test, or best validation) of summary
    rows ``a`` and ``b``: ``{"a", "b", "diff"`` (mean a - mean b), ``"ci_low", "ci_high"`` (its 95 %
    confidence interval), ``"t", "df"`` (None without spread), ``"p"`` (two-sided), ``"n_a",
    "n_b", "significant"`` (p < :data:`ALPHA`)``}``. None when either row has fewer than two
    seeds (no spread to test against). Rows without any spread (every seed equal) give p = 0
    when their means differ and p = 1 when they do not."""
    from scipy import stats  # noqa: PLC0415 (scipy: only for the summary)

    xa, xb = a["losses"], b["losses"]
    if len(xa) < 2 or len(xb) < 2:
        return None
    diff = sum(xa) / len(xa) - sum(xb) / len(xb)
    if max(xa) == min(xa) and max(xb) == min(xb):
        t, df, p, low, high = None, None, float(diff == 0), diff, diff
    else:
        res = stats.ttest_ind(xa, xb, equal_var=False)
        ci = res.confidence_interval(1 - ALPHA)
        t, df, p, low, high = (float(res.statistic), float(res.df), float(res.pvalue),
                               float(ci.low), float(ci.high))
    return {"a": a["variant"], "b": b["variant"], "diff": diff, "ci_low": low, "ci_high": high,
            "t": t, "df": df, "p": p, "n_a": len(xa), "n_b": len(xb), "significant": p < ALPHA}


def _setting(key: str, value) -> str:
    if key == "chars":
        return f"{value / 1e6:.3g} M"
    return f"{value:g}" if isinstance(value, float) else str(value)


def differences(a: dict, b: dict) -> list[str]:
    """The settings (:data:`SETTINGS`) in which summary rows ``a`` and ``b`` differ, as
    ``"name a -> b"`` strings (``"seq_length 25 → 50"``), in that order; a setting missing from
    either row is left out."""
    out = []
    for key in SETTINGS:
        if key in a and key in b and a[key] != b[key]:
            out.append(f"{key} {_setting(key, a[key])} → {_setting(key, b[key])}")
    return out


def comparisons(rows: list[dict], pairs=COMPARISONS) -> list[dict]:
    """:func:`welch` of each pair of ``pairs`` (variant names; ``None``: every pair of rows, in
    the rows' order) whose two rows are both in ``rows`` with two or more seeds, the lower mean
    as ``a`` (so ``diff`` <= 0: ``a`` is the better one), each with ``"changes"``, the settings
    that differ (:func:`differences`)."""
    seeded = {r["variant"]: r for r in rows if len(r["losses"]) > 1}
    if pairs is None:
        names = list(seeded)
        pairs = [(x, y) for i, x in enumerate(names) for y in names[i + 1:]]
    out = []
    for x, y in pairs:
        if x in seeded and y in seeded:
            a, b = sorted((seeded[x], seeded[y]), key=lambda r: r["loss"])
            out.append({**welch(a, b), "changes": differences(seeded[x], seeded[y])})
    return out


def summarize(runs: list[dict]) -> dict:
    """The comparison table from :func:`load_variant` runs, one row per variant over its seeds:
    ``seeds``, ``best_val_loss_mean`` and ``best_val_loss_std`` (nats per character; also
    ``best_val_loss``, the mean, and ``best_val_losses``, per seed), bits per character, the
    training characters (the budget), mean training time and speed, ``dtype``; the ``winner``
    (lowest mean) and a Markdown table with mean ± std."""
    by: dict[str, list[dict]] = {}
    for r in runs:
        by.setdefault(r.get("variant", r["name"]), []).append(r)
    rows = []
    # the reported measure: the test loss when every run has one, else the best validation loss
    measure = "test" if runs and all("test_loss" in r["metrics"] for r in runs) else "validation"
    for variant, group in by.items():
        group.sort(key=lambda r: r.get("seed") or 0)
        c = group[0]["config"]
        losses = [g["metrics"]["best_val_loss"] for g in group]
        mean, std = _mean_std(losses)
        scores = [g["metrics"]["test_loss"] for g in group] if measure == "test" else losses
        score, score_std = _mean_std(scores)
        wall = _mean_std([g["metrics"]["wall_time_s"] for g in group])[0]
        rows.append({"variant": variant, "description": group[0].get("description", ""),
                     "model": f"vanilla m {c['m']}",
                     "seeds": [g.get("seed") for g in group], "best_val_losses": losses,
                     "best_val_loss_mean": mean, "best_val_loss_std": std,
                     "best_val_loss": mean, "best_val_bits_per_char": mean / math.log(2),
                     "measure": measure, "losses": scores, "loss": score, "loss_std": score_std,
                     "bits_per_char": score / math.log(2),
                     "m": c["m"], "batch_size": c["batch_size"], "seq_length": c["seq_length"],
                     "eta": c["eta"], "order": c["order"], "lr_schedule": c["lr_schedule"],
                     "dtype": c.get("dtype", "float64"), "test_fraction": c.get("test_fraction", 0.0),
                     "final_val_loss_windowed": _mean_std(
                         [g["metrics"]["final_val_loss_windowed"] for g in group])[0],
                     "chars": group[0]["metrics"]["n_updates"] * c["batch_size"] * c["seq_length"],
                     "wall_time_s": wall,
                     "chars_per_s": _mean_std([g["metrics"]["chars_per_s"] for g in group])[0]})
    best = min(rows, key=lambda r: r["loss"]) if rows else None
    lines = [f"| variant | seeds | {'test' if measure == 'test' else 'best val.'} loss "
             "(nats/char) | bits/char | budget (chars) | time | chars/s | float |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        mark = "**" if r is best else ""
        # no break inside "1.5918 ± 0.0021" (no-break spaces)
        spread = f"\u00a0±\u00a0{r['loss_std']:.4f}" if len(r["seeds"]) > 1 else ""
        lines.append(f"| {mark}{r['variant']}{mark} | {len(r['seeds'])} | "
                     f"{mark}{r['loss']:.4f}{mark}{spread} | "
                     f"{r['bits_per_char']:.3f} | {r['chars'] / 1e6:.2f} M | "
                     f"{r['wall_time_s']:.0f}\u00a0s | {r['chars_per_s']:,.0f} | "
                     f"{r['dtype'].replace('float', '')} |")
    if rows:  # the descriptions as a note, so that the table's first column stays one word
        lines.append("\n" + "; ".join(f"*{r['variant']}*: {r['description']}" for r in rows
                                       if r["description"]) + ".")
    return {"rows": rows, "winner": best["variant"] if best else None,
            "markdown": "\n".join(lines), "comparisons": comparisons(rows)}
