"""Command line: ``python -m charrnn {gradcheck,train,sample,evaluate,pdf}`` (``--help`` on each).

Bad input ends with one line ``charrnn: error: ...`` on stderr and exit status 2, before any work.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields

__all__ = ["main"]


def _progress() -> bool:
    return sys.stderr.isatty() and os.environ.get("TQDM_DISABLE", "") in ("", "0")


def cmd_gradcheck(args) -> int:
    from .checks import check_nonneg_int, check_positive_int
    from .data import Vocabulary, read_text
    from .files import write_json
    from .gradcheck import TOL_NUMERIC, TOL_TORCH, all_passed, gradcheck_suite

    check_positive_int("--m", args.m)
    check_positive_int("--seq-length", args.seq_length)
    check_nonneg_int("--seed", args.seed)
    text = read_text(args.data, min_length=args.seq_length + 1)
    vocab = Vocabulary.from_text(text)
    book = vocab.encode(text[: args.seq_length + 1])
    results = gradcheck_suite(book, vocab.K, m=args.m, seq_length=args.seq_length,
                              seed=args.seed, numeric=not args.no_numeric)
    for preset, r in results.items():
        print(f"{preset} preset: loss {r['config']['reduction']} over {args.seq_length} steps, "
              f"m = {args.m}, K = {vocab.K}")
        print(f"  {'param':5} {'shape':>9} {'vs':8} {'max abs diff':>13} {'max rel err':>12} "
              f"{'mean rel err':>12}  ok")
        for against, tol in (("torch", TOL_TORCH), ("numeric", TOL_NUMERIC)):
            for name, row in r.get(against, {}).items():
                shape = "x".join(map(str, row["shape"]))
                print(f"  {name:5} {shape:>9} {against:8} {row['max_abs_diff']:13.3e} "
                      f"{row['max_rel_err']:12.3e} {row['mean_rel_err']:12.3e}  "
                      f"{'yes' if row['passed'] else f'NO (tol {tol:.0e})'}")
        for T, block in r["by_seq_length"].items():
            worst = max(row["max_rel_err"] for a in ("torch", "numeric") for row in block.get(a, {}).values())
            print(f"  seq_length {T}: worst max rel err {worst:.3e}")
    ok = all_passed(results)
    if args.json:
        write_json(args.json, {"tolerances": {"torch": TOL_TORCH, "numeric": TOL_NUMERIC},
                               "data": os.fspath(args.data), **results})
    print("all gradients agree" if ok else "GRADIENT CHECK FAILED")
    return 0 if ok else 1


def _text_path(args) -> str:
    """``--data``, or the default text (building the Shakespeare corpus when it is missing)."""
    if args.data is not None:
        return args.data
    from .corpus import ensure_default_text

    return str(ensure_default_text())


def _given_fields(args) -> dict:
    """The TrainConfig fields given on the command line, as ``{field: value}``."""
    from .config import TrainConfig

    return {f.name: getattr(args, f.name) for f in fields(TrainConfig)
            if getattr(args, f.name) is not None}


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _note_line_endings(text: str, newline: str, K: int) -> None:
    """One line on stderr when Windows line endings are kept as characters of the vocabulary."""
    if newline == "keep" and "\r\n" in text:
        print(f"charrnn: note: the text has Windows line endings (\\r\\n): '\\r' is one of its "
              f"K = {K} characters; --newline lf reads them as \\n", file=sys.stderr)


def cmd_train(args) -> int:
    import json
    from pathlib import Path

    from .checks import check_positive_int
    from .config import TrainConfig, changed_settings
    from .data import read_text
    from .runs import acquire, prepare_run_dir, remove_stale_temporaries, resolve_data, run_config, save_run
    from .train import Trainer, TrainingDiverged, TrainingInterrupted

    every = check_positive_int("--checkpoint-every", args.checkpoint_every)
    given = _given_fields(args)
    if "grad_clip" in given:
        given["grad_clip"] = given["grad_clip"] or None  # 0 turns clipping off
    if args.resume:
        out = Path(args.resume)
        if args.out is not None and Path(args.out).resolve() != out.resolve():
            raise ValueError(f"--resume {out} continues that folder in place; --out {args.out} "
                             "is refused (copy the folder first to keep the original)")
        ckpt = out / "checkpoint.npz"
        if not ckpt.is_file():
            raise ValueError(f"nothing to resume: {ckpt} does not exist")
        saved = json.loads((out / "config.json").read_text(encoding="utf-8")) \
            if (out / "config.json").is_file() else {}
        changed = changed_settings(saved, given)
        if changed:
            raise ValueError("a resumed run keeps its settings; only --n-updates may change: "
                             + ", ".join(changed))
        data, text = resolve_data(saved, args.data, saved.get("newline", "keep"))
        trainer = Trainer.from_checkpoint(ckpt, text, given.get("n_updates"))
        config = None
    else:
        if args.out is None:
            raise ValueError("give --out DIR (a new run) or --resume DIR (continue one)")
        preset = given.pop("preset", "adam")
        cfg = TrainConfig.from_preset(preset, **given).validate()
        data = _text_path(args)
        text = read_text(data, min_length=cfg.seq_length + 1, newline=cfg.newline)
        trainer = Trainer(text, cfg)  # checks the text against the config before any writing
        _note_line_endings(text, cfg.newline, trainer.vocab.K)
        out = Path(args.out)
        config = run_config(cfg, data, trainer.text_md5, len(text))
    with acquire(out):  # one writer per run folder, from before anything in it is touched
        if config is None:
            remove_stale_temporaries(out)
            print(f"resuming {out} at update {trainer.state.update:,} of "
                  f"{trainer.cfg.n_updates:,}", file=sys.stderr)
        else:
            prepare_run_dir(out, config, force=args.force)
        try:
            result = trainer.run(progress=args.progress_label or _progress(),
                                 checkpoint=out / "checkpoint.npz",
                                 checkpoint_every=every, handle_signals=True)
        except TrainingInterrupted as err:
            print(f"charrnn: {err}; continue with: charrnn train --resume {out}", file=sys.stderr)
            return 130
        except TrainingDiverged as err:
            keep = f" ({out / 'checkpoint.npz'})" if err.last_good is not None else ""
            print(f"charrnn: error: {err}{keep}; lower --eta or set --grad-clip", file=sys.stderr)
            return 1
        save_run(result, out, data)
    m = result.metrics
    speed = (f"{m['updates_per_s']:,.0f} updates/s" if m["wall_time_s"] >= 0.1
             else "too short to time")
    print(f"K = {m['K']}, {_plural(m['n_chars'], 'character')}, "
          f"{_plural(m['updates_per_epoch'], 'update')} per epoch; "
          f"{_plural(m['n_updates'], 'update')} in {m['wall_time_s']:.1f} s ({speed})")
    print(f"best smooth loss {m['best_smooth_loss']:.4f} at update {m['best_update']:,}; "
          f"final {m['final_smooth_loss']:.4f}; written to {out}")
    if "best_val_loss" in m:
        print(f"best validation loss {m['best_val_loss']:.4f} nats/char "
              f"({m['best_val_bits_per_char']:.4f} bits/char) at update {m['best_val_update']:,}")
    return 0


def cmd_sample(args) -> int:
    import numpy as np

    from .checkpoint import load_model
    from .checks import check_nonneg_int, check_positive_int
    from .sampling import check_sampling_args, prime, synthesize

    n = check_positive_int("-n (sample length)", args.n)
    check_sampling_args(args.temperature, args.top_p)
    check_nonneg_int("--seed", args.seed)
    model = load_model(args.checkpoint)
    h, x0 = model.hprev, model.x0
    if args.prime is not None:
        if not args.prime:
            raise ValueError("--prime must not be empty")
        h, x0 = prime(model.params, model.vocab.encode(args.prime))  # names unknown characters
    rng = np.random.default_rng(args.seed)
    text = model.vocab.decode(synthesize(model.params, h, x0, n, rng, args.temperature,
                                         args.top_p))
    sys.stdout.write((args.prime or "") + text + "\n")
    return 0


def cmd_evaluate(args) -> int:
    from .checkpoint import load_model
    from .checks import check_positive_int
    from .data import read_text
    from .evaluate import BITS_PER_NAT, stateful_loss, windowed_loss
    from .orders import split_chunks

    n_chunks = check_positive_int("--n-chunks", args.n_chunks)
    seq_length = check_positive_int("--seq-length", args.seq_length)
    model = load_model(args.checkpoint)
    trained = model.meta.get("config") or {}
    text = read_text(args.data, newline=args.newline or trained.get("newline", "keep"))
    try:  # any text whose characters the model knows; a character it does not know is named
        book = model.vocab.encode(text)
    except ValueError as err:
        raise ValueError(f"{args.data}: {err}; the model cannot predict it") from None
    if args.split == "all":
        part, what = book, "the whole text"
    else:
        start = int(split_chunks(len(book), n_chunks)[-2])
        part, what = book[start:], f"the last 1/{n_chunks} of the text"
    modes = ["stateful", "windowed"] if args.mode == "both" else [args.mode]
    for mode in modes:
        loss = stateful_loss(model.params, part) if mode == "stateful" \
            else windowed_loss(model.params, part, seq_length)
        print(f"{mode}: {loss:.4f} nats/char = {loss * BITS_PER_NAT:.4f} bits/char "
              f"on {len(part):,} characters ({what})")
    if args.split == "holdout" and trained.get("holdout", 1) == 0:
        print("charrnn: note: this model was trained on the whole text (holdout 0), so the "
              "last part is not held-out data", file=sys.stderr)
    return 0


def cmd_study(args) -> int:
    from .files import write_json
    from .study import study_runs

    result = study_runs(args.runs, n=args.n, seed=args.seed)  # every check before any writing
    write_json(args.json, result)
    print(f"sampling study of {result['name']} (seed {result['seed']}, the best of "
          f"{len(args.runs)}): {len(result['rows'])} settings written to {args.json}")
    return 0


def cmd_baseline(args) -> int:
    from .baselines import (
        BaselineDiverged,
        baseline_config,
        prepare_baseline_dir,
        save_baseline,
        train_baseline,
    )
    from .data import read_text

    text = read_text(args.data)
    settings = dict(kind=args.kind, chars=args.chars, seed=args.seed, eta=args.eta,
                    hidden=args.hidden, data_path=os.path.abspath(args.data))
    config = baseline_config(text, **settings)  # every check before any writing
    out = prepare_baseline_dir(args.out, config, force=args.force)
    print(f"{config['kind']} h = {config['hidden']} ({config['n_params']:,} parameters; vanilla "
          f"m = {config['vanilla_m']}: {config['vanilla_n_params']:,}), {config['n_updates']:,} "
          f"updates, eta {config['eta']:g}, on {config['device']}", file=sys.stderr)
    try:
        result = train_baseline(text, **settings, progress=_progress())
    except BaselineDiverged as err:
        print(f"charrnn: error: {err}; lower --eta", file=sys.stderr)
        return 1
    save_baseline(result, out)
    m = result.metrics
    print(f"{m['kind']} h = {m['hidden']}, {m['n_params']:,} parameters: {m['n_updates']:,} updates "
          f"({m['chars']:,} characters) in {m['wall_time_s']:.1f} s ({m['chars_per_s']:,.0f} "
          f"characters/s, {m['device']})")
    print(f"best validation loss {m['best_val_loss']:.4f} nats/char "
          f"({m['best_val_bits_per_char']:.4f} bits/char) at update {m['best_val_update']:,}; "
          f"final {m['final_val_loss']:.4f}; written to {out}")
    return 0


def cmd_units(args) -> int:
    from threadpoolctl import threadpool_limits

    from .checkpoint import load_model
    from .checks import check_positive_int
    from .data import read_text
    from .files import write_json
    from .units import format_table, unit_report

    check_positive_int("--n-chunks", args.n_chunks)
    model = load_model(args.checkpoint)
    trained = model.meta.get("config") or {}
    newline = {"newline": trained["newline"]} if trained.get("newline") else {}
    text = read_text(args.data, **newline)
    with threadpool_limits(limits=1, user_api="blas"):  # one BLAS thread is faster here
        result = unit_report(model, text, split=args.split, n_chunks=args.n_chunks)
    what = "the whole text" if args.split == "all" else f"the last 1/{args.n_chunks} of the text"
    print(f"hidden units of {args.checkpoint} (m = {model.m}) on {result['N']:,} characters "
          f"({what}), from h = 0")
    print(format_table(result))
    if args.split == "holdout" and trained.get("holdout", 1) == 0:
        print("charrnn: note: this model was trained on the whole text (holdout 0), so the "
              "last part is not held-out data", file=sys.stderr)
    if args.json:
        write_json(args.json, {"checkpoint": os.fspath(args.checkpoint),
                               "data": os.fspath(args.data), "n_chunks": args.n_chunks,
                               "trained_holdout": trained.get("holdout"), **result})
    return 0


def cmd_experiment(args) -> int:
    from .checks import check_positive_int
    from .data import read_text
    from .experiments import VARIANTS, job_name, run_variant, variant_seeds

    if args.jobs is not None:  # for make: the (variant, seed) jobs of some variants
        names = args.jobs.split()
        unknown = [n for n in names if n not in VARIANTS]
        if unknown:
            raise ValueError(f"unknown variant(s) {', '.join(unknown)}; expected some of "
                             f"{', '.join(VARIANTS)}")
        print(" ".join(job_name(n, s) for n in names for s in variant_seeds(n)))
        return 0
    if args.variant is None or args.out_dir is None:
        raise ValueError("give a VARIANT and --out-dir DIR (or --jobs \"VARIANTS\")")
    chars = check_positive_int("--chars", args.chars)
    n_evals = check_positive_int("--n-evals", args.n_evals)
    args.data = _text_path(args)
    text = read_text(args.data)
    run = run_variant(args.variant, text, args.data, args.out_dir, chars, n_evals, args.seed,
                      progress=args.progress_label or _progress())
    m = run["metrics"]
    print(f"{job_name(args.variant, args.seed)}: best validation loss {m['best_val_loss']:.4f} "
          f"nats/char at update {m['best_val_update']:,}; {m['wall_time_s']:.0f} s")
    return 0


def cmd_pdf(args) -> int:
    from .report import notebook_to_pdf

    pdf = notebook_to_pdf(args.notebook, args.pdf)
    print(f"wrote {pdf}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``charrnn: error: ...`` and exit status 2."""

    def error(self, message):
        self.exit(2, f"charrnn: error: {message} (see {self.prog} --help)\n")


def add_config_flags(group) -> None:
    """One ``--kebab-case`` flag per :class:`~charrnn.config.TrainConfig` field, with the
    field's comment as help; every default is None (= the preset's or the field's default)."""
    from .config import CHOICES, PRESET_FIELDS, TrainConfig, field_help

    helps = field_help()
    for f in fields(TrainConfig):
        default = f.default
        kind = float if f.name == "grad_clip" else type(default)
        shown = "the preset's" if f.name in PRESET_FIELDS else f"{default:_}".replace("_", ",") \
            if isinstance(default, int) else f"{default}"
        group.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=kind, default=None,
                           choices=CHOICES.get(f.name), metavar=None if f.name in CHOICES
                           else f.name.upper(), help=f"{helps[f.name]} (default: {shown})")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="charrnn", description="Character-level vanilla RNN "
                "(KTH DD2424 Assignment 4) in NumPy.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           parser_class=_Parser)

    g = sub.add_parser("gradcheck", help="check the NumPy gradients against PyTorch float64 "
                       "autograd and centered differences, for both presets' losses")
    g.add_argument("--data", default=None, help="text whose first seq_length+1 characters are "
                   "used (default: data/goblet_book.txt if present, else data/shakespeare.txt)")
    g.add_argument("--m", type=int, default=10, help="hidden units (default 10)")
    g.add_argument("--seq-length", type=int, default=25, help="sequence length (default 25)")
    g.add_argument("--seed", type=int, default=0, help="seed of the random parameters")
    g.add_argument("--no-numeric", action="store_true", help="skip centered differences")
    g.add_argument("--json", metavar="PATH", help="also write the tables as JSON")
    g.set_defaults(func=cmd_gradcheck)

    t = sub.add_parser("train", help="train on a text and write a run folder")
    t.add_argument("--data", default=None, help="UTF-8 training text (default: "
                   "data/goblet_book.txt if present, else data/shakespeare.txt)")
    t.add_argument("--out", help="run folder to write, e.g. runs/NAME")
    t.add_argument("--force", action="store_true", help="overwrite a folder holding another run")
    t.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its "
                   "checkpoint.npz, bit-identically to an uninterrupted run, in place (--out "
                   "another folder is refused); only --n-updates may change")
    t.add_argument("--checkpoint-every", type=int, default=10_000,
                   help="updates between checkpoints in OUT/checkpoint.npz (default 10000)")
    t.add_argument("--progress-label", metavar="LABEL", default=None,
                   help="show progress as a line labelled LABEL every 15 s instead of a bar "
                   "(for jobs that share a terminal, as in make report)")
    add_config_flags(t.add_argument_group("training settings (TrainConfig fields)"))
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="sample text from a saved model")
    s.add_argument("--checkpoint", required=True, help="a best.npz or checkpoint.npz written by "
                   "`train`")
    s.add_argument("-n", type=int, default=1000, help="characters to sample (default 1000)")
    s.add_argument("--temperature", type=float, default=1.0, help="T > 0 (default 1)")
    s.add_argument("--top-p", type=float, default=1.0, help="nucleus mass in (0, 1] (default 1)")
    s.add_argument("--seed", type=int, default=0, help="seed of the sampling generator")
    s.add_argument("--prime", help="text to run through the model first (from h = 0); "
                   "sampling continues after it")
    s.set_defaults(func=cmd_sample)

    ev = sub.add_parser("evaluate", help="validation loss of a saved model on held-out text")
    ev.add_argument("--checkpoint", required=True, help="a best.npz or checkpoint.npz written "
                    "by `train`")
    ev.add_argument("--data", required=True, help="the UTF-8 text (same vocabulary)")
    ev.add_argument("--split", choices=["holdout", "all"], default="holdout",
                    help="holdout: the last 1/N-CHUNKS of the text (default); all: all of it")
    ev.add_argument("--n-chunks", type=int, default=20, help="N for --split holdout (default 20)")
    ev.add_argument("--mode", choices=["stateful", "windowed", "both"], default="stateful",
                    help="stateful: h carried over the whole part (default); windowed: "
                    "non-overlapping windows of --seq-length from h = 0")
    ev.add_argument("--seq-length", type=int, default=25, help="window length (default 25)")
    ev.add_argument("--newline", choices=["keep", "lf"], default=None, help="line endings: keep, "
                    "or lf reads \\r\\n as \\n (default: as the model's run read its text)")
    ev.set_defaults(func=cmd_evaluate)

    st = sub.add_parser("study", help="the sampling study of the best of some runs (lowest "
                        "best smooth loss): temperatures and top-p, measured, as JSON")
    st.add_argument("--runs", nargs="+", required=True, metavar="DIR",
                    help="run folders written by `train` (one per seed)")
    st.add_argument("--json", required=True, metavar="PATH", help="where to write the study")
    st.add_argument("-n", type=int, default=2000, help="characters per sample (default 2000)")
    st.add_argument("--seed", type=int, default=0, help="seed of the sampling generators")
    st.set_defaults(func=cmd_study)

    bl = sub.add_parser("baseline", help="train a PyTorch LSTM or GRU of the vanilla m = 256 "
                        "RNN's size on the same split and budget (needs torch)")
    bl.add_argument("--kind", required=True, choices=["lstm", "gru"], help="lstm or gru")
    bl.add_argument("--data", required=True, help="the UTF-8 text (its last 1/20 is held out)")
    bl.add_argument("--chars", type=int, required=True, help="training characters "
                    "(updates = chars // (32 x 50))")
    bl.add_argument("--seed", type=int, default=1, help="seed of the initialisation (default 1)")
    bl.add_argument("--out", required=True, help="run folder to write, e.g. runs/NAME/lstm")
    bl.add_argument("--eta", type=float, default=None, help="peak Adam learning rate (default: "
                    "the swept one, see charrnn.baselines.DEFAULT_ETA)")
    bl.add_argument("--hidden", type=int, default=None, help="hidden size (default: the one "
                    "whose parameter count is closest to the vanilla m = 256 RNN's)")
    bl.add_argument("--force", action="store_true", help="overwrite a folder holding another run")
    bl.set_defaults(func=cmd_baseline)

    un = sub.add_parser("units", help="which hidden unit tracks quotes, line position, words, "
                        "sentence starts, parentheses (Karpathy et al. 2015), and linear probes")
    un.add_argument("--checkpoint", required=True, help="a best.npz written by `train`")
    un.add_argument("--data", required=True, help="the UTF-8 text (the model's characters)")
    un.add_argument("--split", choices=["holdout", "all"], default="holdout",
                    help="holdout: the last 1/N-CHUNKS of the text (default); all: all of it")
    un.add_argument("--n-chunks", type=int, default=20, help="N for --split holdout (default 20)")
    un.add_argument("--json", metavar="PATH", help="also write the table, the saturation "
                    "fractions and passages of the best 3 units as JSON")
    un.set_defaults(func=cmd_units)

    ex = sub.add_parser("experiment", help="train one (variant, seed) of the experiments "
                        "(charrnn.experiments.VARIANTS) into OUT_DIR/VARIANT-seedS, or reuse it")
    ex.add_argument("variant", nargs="?", help="the variant's name, e.g. B8")
    ex.add_argument("--seed", type=int, default=1, help="seed (default 1)")
    ex.add_argument("--chars", type=int, default=4_000_000,
                    help="common budget of training characters (default 4000000)")
    ex.add_argument("--n-evals", type=int, default=20, help="validation evaluations (default 20)")
    ex.add_argument("--data", default=None, help="the text (default as for train)")
    ex.add_argument("--out-dir", help="folder of the experiments' run folders")
    ex.add_argument("--progress-label", metavar="LABEL", default=None,
                    help="progress as labelled lines instead of a bar")
    ex.add_argument("--jobs", metavar="VARIANTS", default=None,
                    help="print the run folders of these variants' seeds (for make) and stop")
    ex.set_defaults(func=cmd_experiment)

    r = sub.add_parser("pdf", help="print an executed notebook to PDF (code hidden)")
    r.add_argument("notebook")
    r.add_argument("pdf")
    r.set_defaults(func=cmd_pdf)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "data", "unset") is None and args.command not in ("train", "experiment"):
            args.data = _text_path(args)
        return args.func(args)
    except ValueError as err:
        parser.exit(2, f"charrnn: error: {err}\n")
    except OSError as err:  # unwritable output, missing notebook, ...
        where = f": {err.filename}" if getattr(err, "filename", None) else ""
        parser.exit(2, f"charrnn: error: {err.strerror or err}{where}\n")
    except MemoryError:
        parser.exit(2, "charrnn: error: not enough memory for these sizes (m, batch_size?)\n")
    except KeyboardInterrupt:
        parser.exit(130, "charrnn: interrupted\n")


if __name__ == "__main__":
    sys.exit(main())
