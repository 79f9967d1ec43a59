"""The commands of ``python -m charrnn`` (:mod:`charrnn.cli` builds their parser).

Each ``cmd_NAME(args)`` takes the parsed arguments, checks them before any work (raising
``ValueError`` with one sentence, which the CLI prints as ``charrnn: error: ...`` with exit status
2), does the work and returns the exit status.
"""

from __future__ import annotations

import os
import sys
from dataclasses import fields

from .util.progress import quiet


def _progress() -> bool:
    """A tqdm bar on a terminal, unless ``TQDM_DISABLE=1``."""
    return sys.stderr.isatty() and not quiet()


def cmd_gradcheck(args) -> int:
    from .model.data import Vocabulary, read_text
    from .model.gradcheck import TOL_NUMERIC, TOL_TORCH, all_passed, decisive_error, gradcheck_suite
    from .util.checks import check_nonneg_int, check_positive_int
    from .util.files import check_writable, write_json

    check_positive_int("--m", args.m)
    check_positive_int("--seq-length", args.seq_length)
    check_nonneg_int("--seed", args.seed)
    if args.json:
        check_writable(args.json, "--json")
    text = read_text(args.data, min_length=args.seq_length + 1)
    vocab = Vocabulary.from_text(text)
    book = vocab.encode(text[: args.seq_length + 1])
    results = gradcheck_suite(book, vocab.K, m=args.m, seq_length=args.seq_length,
                              seed=args.seed, numeric=not args.no_numeric)
    for preset, r in results.items():
        print(f"{preset} preset: loss {r['config']['reduction']} over {args.seq_length} steps, "
              f"m = {args.m}, K = {vocab.K}")
        print(f"  {'param':5} {'shape':>9} {'vs':8} {'max abs diff':>13} {'normwise err':>12} "
              f"{'max rel err':>12} {'mean rel err':>12}  ok")
        for against, tol in (("torch", TOL_TORCH), ("numeric", TOL_NUMERIC)):
            for name, row in r.get(against, {}).items():
                shape = "x".join(map(str, row["shape"]))
                print(f"  {name:5} {shape:>9} {against:8} {row['max_abs_diff']:13.3e} "
                      f"{row['norm_rel_err']:12.3e} {row['max_rel_err']:12.3e} {row['mean_rel_err']:12.3e}  "
                      f"{'yes' if row['passed'] else f'NO (tol {tol:.0e})'}")
        for T, block in r["by_seq_length"].items():
            worst = ", ".join(f"{max(decisive_error(row) for row in block[a].values()):.3e} vs {a}"
                              for a in ("torch", "numeric") if a in block)
            print(f"  seq_length {T}: worst normwise err {worst}")
    ok = all_passed(results)
    if args.json:
        write_json(args.json, {"tolerances": {"torch": TOL_TORCH, "numeric": TOL_NUMERIC},
                               "data": os.fspath(args.data), **results})
    print("all gradients agree" if ok else "GRADIENT CHECK FAILED")
    return 0 if ok else 1


def text_path(args) -> str:
    """``--data``, or the default text (``ValueError`` when it is missing: ``make data`` builds it)."""
    if args.data is not None:
        return args.data
    from .util.paths import default_text

    return str(default_text())


def _given_fields(args) -> dict:
    """The TrainConfig fields given on the command line, as ``{field: value}``."""
    from .training.config import TrainConfig

    return {f.name: getattr(args, f.name) for f in fields(TrainConfig)
            if getattr(args, f.name) is not None}


def _note_line_endings(text: str, newline: str, K: int) -> None:
    """One line on stderr when Windows line endings are kept as characters of the vocabulary."""
    if newline == "keep" and "\r\n" in text:
        print(f"charrnn: note: the text has Windows line endings (\\r\\n): '\\r' is one of its "
              f"K = {K} characters; --newline lf reads them as \\n", file=sys.stderr)


def cmd_train(args) -> int:
    from .model.data import read_text
    from .training.config import TrainConfig
    from .training.runs import check_folder, resolve_data, resume_config, run_config, save_run, start_run
    from .training.train import Trainer, TrainingDiverged, TrainingInterrupted
    from .util.checks import check_positive_int, plural

    every = check_positive_int("--checkpoint-every", args.checkpoint_every)
    given = _given_fields(args)
    if "grad_clip" in given:
        given["grad_clip"] = given["grad_clip"] or None  # 0 turns clipping off
    fresh = None
    if args.resume is not None:
        out = check_folder(args.resume)
        if args.out is not None and check_folder(args.out).resolve() != out.resolve():
            raise ValueError(f"--resume {out} continues that folder in place; --out {args.out} "
                             "is refused (copy the folder first to keep the original)")
        want = resume_config(out, given, "--n-updates")
        check_positive_int("--n-updates", want["n_updates"])
        data, text = resolve_data(want, args.data, want.get("newline", "keep"))
        want["data"] = str(data)  # the text may have moved (same md5)
    else:
        if args.out is None:
            raise ValueError("give --out DIR (a new run) or --resume DIR (continue one)")
        preset = given.pop("preset", "adam")
        cfg = TrainConfig.from_preset(preset, **given).validate()
        data = text_path(args)
        text = read_text(data, min_length=cfg.seq_length + 1, newline=cfg.newline)
        fresh = Trainer(text, cfg)  # checks the text against the config before any writing
        _note_line_endings(text, cfg.newline, fresh.vocab.K)
        out = check_folder(args.out)  # "" would be the working directory
        want = run_config(cfg, data, fresh.text_md5, len(text))
    with start_run(out, want, force=args.force, resume=args.resume is not None) as start:
        if start.action == "reuse":
            print(f"{out} already holds this finished run ({start.config['n_updates']:,} updates):"
                  " nothing to train (--force trains it again; --resume DIR --n-updates N "
                  "trains it longer)", file=sys.stderr)
            return 0
        trainer = start.trainer(text, fresh)
        if start.action == "resume":
            print(f"resuming {out} at update {trainer.state.update:,} of "
                  f"{trainer.cfg.n_updates:,}", file=sys.stderr)
        try:
            result = trainer.run(progress=args.progress_label or _progress(),
                                 checkpoint=start.checkpoint,
                                 checkpoint_every=every, handle_signals=True)
        except TrainingInterrupted as err:
            print(f"charrnn: {err}; continue with: charrnn train --resume {out}", file=sys.stderr)
            return 130
        except TrainingDiverged as err:
            keep = f" ({start.checkpoint})" if err.last_good is not None else ""
            print(f"charrnn: error: {err}{keep}; lower --eta or set --grad-clip", file=sys.stderr)
            return 1
        save_run(result, out, data)
    m = result.metrics
    speed = (f"{m['updates_per_s']:,.0f} updates/s" if m["wall_time_s"] >= 0.1
             else "too short to time")
    print(f"K = {m['K']}, {plural(m['n_chars'], 'character')}, "
          f"{plural(m['updates_per_epoch'], 'update')} per epoch; "
          f"{plural(m['n_updates'], 'update')} in {m['wall_time_s']:.1f} s ({speed})")
    print(f"best smooth loss {m['best_smooth_loss']:.4f} at update {m['best_update']:,}; "
          f"final {m['final_smooth_loss']:.4f}; written to {out}")
    if "best_val_loss" in m:
        print(f"best validation loss {m['best_val_loss']:.4f} nats/char "
              f"({m['best_val_bits_per_char']:.4f} bits/char) at update {m['best_val_update']:,}")
    return 0


def cmd_sample(args) -> int:
    import numpy as np

    from .model.data import read_text
    from .model.evaluate import BITS_PER_NAT
    from .model.sampling import (
        SAMPLE_BYTES_PER_CHAR,
        beam_search,
        check_beam_memory,
        check_sample_memory,
        check_sampling_args,
        prime,
        synthesize,
    )
    from .training.checkpoint import load_model
    from .util.checks import check_nonneg_int, check_positive_int
    from .util.files import check_regular_file

    n = check_positive_int("-n (sample length)", args.n)
    if args.beam is not None:  # beam search draws nothing and ranks by p at T = 1
        beam = check_positive_int("--beam", args.beam)
        given = [flag for flag, value in (("--temperature", args.temperature),
                                          ("--top-p", args.top_p), ("--seed", args.seed))
                 if value is not None]
        if given:
            raise ValueError(f"{' and '.join(given)} cannot be used with --beam: beam search "
                             "draws nothing and ranks by the model's probabilities at T = 1")
        check_beam_memory(n, beam, "-n", "--beam")  # before the model is read
    else:
        temperature = 1.0 if args.temperature is None else args.temperature
        top_p = 1.0 if args.top_p is None else args.top_p
        check_sampling_args(temperature, top_p)
        seed = check_nonneg_int("--seed", 0 if args.seed is None else args.seed)
        check_sample_memory(n, "-n")  # before the model is read or anything of n's size allocated
    prime_text = args.prime
    if args.prime_file is not None:
        check_regular_file(args.prime_file, "--prime-file")
        try:  # missing, not a regular file, empty, not UTF-8: one sentence naming it
            prime_text = read_text(args.prime_file, min_length=0)
        except ValueError as err:
            raise ValueError(f"--prime-file: {err}") from None
        if not prime_text:  # a byte-order mark alone
            raise ValueError(f"--prime-file: {args.prime_file} holds no text")
    model = load_model(check_regular_file(args.checkpoint, "checkpoint"))
    h, x0 = model.hprev, model.x0
    if prime_text is not None:
        if not prime_text:
            raise ValueError("--prime must not be empty")
        h, x0 = prime(model.params, model.vocab.encode(prime_text))  # names unknown characters
    try:  # a memory limit below MemAvailable (ulimit -v) stops it at the first allocation
        if args.beam is not None:
            indices, score = beam_search(model.params, h, x0, n, beam)
        else:
            indices = synthesize(model.params, h, x0, n, np.random.default_rng(seed),
                                 temperature, top_p)
        text = model.vocab.decode(indices)
    except MemoryError:
        raise ValueError(f"not enough memory to sample -n = {n:,} characters (about "
                         f"{SAMPLE_BYTES_PER_CHAR} bytes each"
                         + (", and the beam's back-pointers); lower -n or --beam"
                            if args.beam is not None else "); lower -n")) from None
    sys.stdout.write((prime_text or "") + text + "\n")
    if args.beam is not None:
        print(f"charrnn: beam {beam}: mean log-probability {score:.4f} nats per character "
              f"({score * BITS_PER_NAT:.4f} bits)", file=sys.stderr)
    return 0


def cmd_evaluate(args) -> int:
    from .model.data import read_text
    from .model.evaluate import BITS_PER_NAT, stateful_loss, windowed_loss
    from .training.checkpoint import load_model
    from .training.config import TrainConfig
    from .training.orders import split_chunks
    from .training.train import split_heldout, split_text
    from .util.checks import check_positive_int
    from .util.files import check_regular_file

    n_chunks = None if args.n_chunks is None else check_positive_int("--n-chunks", args.n_chunks)
    seq_length = check_positive_int("--seq-length", args.seq_length)
    check_regular_file(args.data, "text file")  # a pipe or a device, before reading the model
    model = load_model(check_regular_file(args.checkpoint, "checkpoint"))
    trained = model.meta.get("config") or {}
    own = args.split in ("validation", "test")  # the parts of the model's own held-out text
    if own:
        holdout, tf = trained.get("holdout", 0), trained.get("test_fraction", 0.0)
        own_chunks = trained.get("n_chunks", TrainConfig.n_chunks)
        if not holdout or not tf:
            raise ValueError(f"--split {args.split}: this model was trained without a validation "
                             f"and a test part (holdout {holdout}, test_fraction {tf:g}); use "
                             "--split holdout or all")
        if n_chunks is not None and n_chunks != own_chunks:
            raise ValueError(f"--n-chunks {n_chunks}: --split {args.split} follows the model's own "
                             f"split ({holdout} of {own_chunks} chunks held out); leave it out")
    text = read_text(args.data, newline=args.newline or trained.get("newline", "keep"))
    try:  # any text whose characters the model knows; a character it does not know is named
        book = model.vocab.encode(text)
    except ValueError as err:
        raise ValueError(f"{args.data}: {err}; the model cannot predict it") from None
    if args.split == "all":
        part, what = book, "the whole text"
    elif own:
        n_train = split_text(len(book), TrainConfig(holdout=holdout, n_chunks=own_chunks))[0]
        n_test = split_heldout(len(book), n_train, tf)
        lo, hi = (n_train, n_test) if args.split == "validation" else (n_test, len(book))
        part, what = book[lo:hi], f"the {args.split} text, characters {lo:,} to {hi:,}"
    else:
        n_chunks = n_chunks or TrainConfig.n_chunks  # the training split's default, 20
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
    from .model.sampling import check_sample_memory
    from .studies.study import study_runs
    from .util.files import check_writable, write_json

    check_writable(args.json, "--json")
    check_sample_memory(args.n, "-n")  # the samples alone; their measures need more
    result = study_runs(args.runs, n=args.n, seed=args.seed,  # every check before any writing
                        heldout_dirs=args.heldout, n_samples=args.samples)
    write_json(args.json, result)
    print(f"sampling study of {result['name']} (seed {result['seed']}, the best of "
          f"{len(args.runs)}): {len(result['rows'])} settings ({result['n_samples']} samples "
          f"each, beam search once"
          + (", and the book's test chunk" if result["book"] else "")
          + f") written to {args.json}")
    t = result["temperature"]
    print(f"test loss against T of {t['name']}: {t['loss_at_1']:.4f} nats/char at T = 1, "
          f"lowest {t['best_loss']:.4f} at T = {t['best_temperature']:.3f}")
    return 0


def cmd_baseline(args) -> int:
    from .model.data import read_text
    from .studies.baselines import BaselineConfig, BaselineDiverged, train_baseline
    from .studies.baselines_io import BASELINE_RESULTS, read_baseline, save_baseline
    from .training.runs import start_run

    text = read_text(args.data)
    settings = BaselineConfig(kind=args.kind, chars=args.chars, seed=args.seed, eta=args.eta,
                              hidden=args.hidden, data_path=os.path.abspath(args.data))
    config = settings.to_dict(text)  # every check before any writing
    with start_run(args.out, config, force=args.force, results=BASELINE_RESULTS) as start:
        out = start.folder
        if start.action == "reuse":
            m = read_baseline(out)["metrics"]
            print(f"{out} already holds this finished run (best validation loss "
                  f"{m['best_val_loss']:.4f} nats/char): nothing to train (--force trains it "
                  "again)")
            return 0
        print(f"{config['kind']} h = {config['hidden']} ({config['n_params']:,} parameters; "
              f"vanilla m = {config['vanilla_m']}: {config['vanilla_n_params']:,}), "
              f"{config['n_updates']:,} updates, eta {config['eta']:g}, on {config['device']}",
              file=sys.stderr)
        try:
            result = train_baseline(text, settings, progress=_progress())
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


def cmd_calibrate(args) -> int:
    from .model.data import read_text
    from .studies.calibrate import calibrate
    from .util.checks import check_positive_int
    from .util.files import check_writable, write_json

    max_order = check_positive_int("--max-order", args.max_order)
    if args.json:
        check_writable(args.json, "--json")
    args.data = text_path(args)
    result = calibrate(read_text(args.data), max_order,
                       note=lambda line: print(f"calibrate: {line}", file=sys.stderr))
    a, b = result["test"]
    print(f"test text: characters {a:,} to {b:,} of {result['n_chars']:,} (K = {result['K']}); "
          f"bits per character:")
    for r in result["references"]:
        print(f"  {r['bits_per_char']:6.3f}  {r['name']}  ({r['note']})")
    if args.json:
        write_json(args.json, {"data": os.path.abspath(args.data), **result})
    return 0


def _named(arg: str) -> tuple[str, str]:
    """``(name, path)`` of a ``charrnn context`` model: ``NAME=PATH``, or PATH named by its run
    folder (``best.npz``'s parent, or the folder itself)."""
    name, sep, path = arg.partition("=")
    if sep and name and os.sep not in name:
        return name, path
    p = os.path.abspath(arg)
    return os.path.basename(os.path.dirname(p) if os.path.isfile(p) else p), arg


def _study_models(args, command: str):
    """The models of ``charrnn context``, ``dynamic`` and ``gradients``, checked before any work:
    returns ``(text, models)``, ``models`` yielding ``(name, kind, model)`` one at a time with
    ``kind`` "vanilla" (a :class:`~charrnn.training.checkpoint.Model`) or "gated" (a
    :class:`~charrnn.studies.baselines.BaselineResult`), BLAS and torch on one thread (make runs
    two jobs at a time). Raises ``ValueError`` naming what is missing."""
    from .model.data import read_text
    from .util.files import check_regular_file, check_writable

    if not args.checkpoint and not args.baseline:
        raise ValueError("give one or more --checkpoint PATH (vanilla) or --baseline DIR (gated)")
    if args.json:
        check_writable(args.json, "--json")
    checkpoints, baselines = [_named(a) for a in args.checkpoint], [_named(a) for a in args.baseline]
    for _, path in checkpoints:
        check_regular_file(path, "checkpoint")
    args.data = text_path(args)
    text = read_text(args.data)

    def models():
        from threadpoolctl import threadpool_limits

        from .training.checkpoint import load_model

        with threadpool_limits(limits=1, user_api="blas"):
            for name, path in checkpoints:
                print(f"{command}: {name}", file=sys.stderr)
                yield name, "vanilla", load_model(path)
            if baselines:
                import torch

                from .studies.baselines_io import load_baseline

                torch.set_num_threads(1)
                for name, folder in baselines:
                    print(f"{command}: {name}", file=sys.stderr)
                    yield name, "gated", load_baseline(folder)

    return text, models()


def _label(kind: str, model) -> str:
    """A model's kind and size, as the studies' JSON names it: "vanilla m 100", "LSTM h 124"."""
    if kind == "vanilla":
        return f"vanilla m {model.m}"
    return f"{model.config['kind'].upper()} h {model.config['hidden']}"


def cmd_context(args) -> int:
    from .studies.calibrate import split
    from .studies.context import curve, fitting, gated_losses, positions, vanilla_losses
    from .util.checks import check_positive_int
    from .util.files import write_json

    count = check_positive_int("--positions", args.positions)
    text, models = _study_models(args, "context")
    test_start = split(len(text))[1]
    ks = fitting(test_start, len(text))
    pos = positions(test_start, len(text), count, k_max=ks[-1])
    out = []
    for name, kind, model in models:
        losses, inf = (vanilla_losses(model.params, model.vocab.encode(text), pos, test_start, ks)
                       if kind == "vanilla" else
                       gated_losses(model.model.eval(), model.vocab.encode(text), pos, test_start,
                                    ks))
        out.append(curve(name, _label(kind, model), ks, losses, inf))
    print(f"test loss (nats/char) from a zero state k characters back, {len(pos):,} positions "
          f"of the test text (from character {test_start:,}):")
    print("k:        " + " ".join(f"{k:>6}" for k in ks) + "      inf  within 0.01")
    for m in out:
        print(f"{m['name']}: " + " ".join(f"{x:6.3f}" for x in m["losses"])
              + f"  {m['inf']:6.3f}  {m['within'] or '-'}")
    if args.json:
        write_json(args.json, {"data": os.path.abspath(args.data), "test_start": test_start,
                               "n_chars": len(text), "positions": len(pos), "models": out})
    return 0


def cmd_dynamic(args) -> int:
    from functools import partial

    from .model.evaluate import BITS_PER_NAT
    from .studies.calibrate import split
    from .studies.dynamic import RATES, SEGMENT, SELECT_CHARS, choose, gated_loss, vanilla_loss
    from .util.checks import check_positive_int
    from .util.files import write_json

    limit = None if args.chars is None else check_positive_int("--chars", args.chars)
    select = check_positive_int("--select-chars", SELECT_CHARS if args.select_chars is None
                                else args.select_chars)
    text, models = _study_models(args, "dynamic")
    val_start, test_start = split(len(text))
    # the validation text [val_start, val_stop) the rate is chosen on, the test text
    # [test_start, test_stop)
    val_stop = min(test_start, val_start + (select if limit is None else min(select, limit)))
    test_stop = len(text) if limit is None else min(len(text), test_start + limit)
    out = []
    for name, kind, model in models:
        data = model.vocab.encode(text)
        loss_at = (partial(vanilla_loss, model.params) if kind == "vanilla"
                   else partial(gated_loss, model.model))
        r = choose(loss_at, data[val_start:val_stop], data[test_start:test_stop],
                   note=lambda line: print(line, file=sys.stderr))
        out.append({"name": name, "kind": _label(kind, model), **r})
    print(f"dynamic evaluation on the test text (characters {test_start:,} to {test_stop:,}): "
          f"one SGD step per {SEGMENT} characters, the rate chosen on the validation text")
    print("model         static  dynamic  bits/char  eta")
    for m in out:
        print(f"{m['name']:<12} {m['static']:7.4f}  {m['dynamic']:7.4f}  "
              f"{m['static'] * BITS_PER_NAT:.3f} -> {m['dynamic'] * BITS_PER_NAT:.3f}  {m['eta']:g}")
    if args.json:
        write_json(args.json, {"data": os.path.abspath(args.data), "n_chars": len(text),
                               "validation": [val_start, val_stop],
                               "test": [test_start, test_stop], "segment": SEGMENT,
                               "optimizer": "sgd", "rates": list(RATES), "models": out})
    return 0


def cmd_gradients(args) -> int:
    from .studies.calibrate import split
    from .studies.context import fitting, positions
    from .studies.gradients import gated_norms, spectrum, vanilla_norms
    from .util.checks import check_positive_int
    from .util.files import write_json

    count = check_positive_int("--positions", args.positions)
    text, models = _study_models(args, "gradients")
    test_start = split(len(text))[1]
    ks = fitting(test_start + 1, len(text))  # the state before text[t - k] must lie in the test text
    pos = positions(test_start, len(text), count, k_max=ks[-1] + 1)
    out = []
    for name, kind, model in models:
        data = model.vocab.encode(text)
        row = {"name": name, "kind": _label(kind, model), "ks": list(ks)}
        if kind == "vanilla":
            row["norms"] = vanilla_norms(model.params, data, pos, test_start, ks)
            row.update(spectrum(model.params["W"]))
        else:
            row["norms"] = gated_norms(model.model.eval(), data, pos, test_start, ks)
        out.append(row)
    print(f"mean ||dL_t/dh_(t-1-k)|| over {len(pos):,} positions of the test text (from "
          f"character {test_start:,}):")
    print("k:         " + " ".join(f"{k:>8}" for k in ks))
    for m in out:
        spec = (f"  sigma_max(W) {m['sigma_max']:.2f}, spectral radius {m['spectral_radius']:.2f}"
                if "sigma_max" in m else "")
        print(f"{m['name'] + ':':<10}" + " ".join(f"{x:8.1e}" for x in m["norms"]) + spec)
    if args.json:
        write_json(args.json, {"data": os.path.abspath(args.data), "test_start": test_start,
                               "n_chars": len(text), "positions": len(pos), "models": out})
    return 0


def cmd_units(args) -> int:
    from threadpoolctl import threadpool_limits

    from .model.data import read_text
    from .report.unitviz import format_controls, format_table
    from .util.checks import check_positive_int
    from .util.files import check_regular_file, check_writable, write_json

    check_positive_int("--n-chunks", args.n_chunks)
    if (args.checkpoint is None) == (args.baseline is None):
        raise ValueError("give either --checkpoint (a vanilla RNN) or --baseline (an LSTM or GRU "
                         "run folder)")
    if args.json:
        check_writable(args.json, "--json")
    check_regular_file(args.data, "text file")  # a pipe or a device, before reading the model
    if args.baseline is not None:
        return _units_of_baseline(args)
    from .studies.units import unit_report
    from .training.checkpoint import load_model

    model = load_model(check_regular_file(args.checkpoint, "checkpoint"))
    trained = model.meta.get("config") or {}
    newline = {"newline": trained["newline"]} if trained.get("newline") else {}
    text = read_text(args.data, **newline)
    with threadpool_limits(limits=1, user_api="blas"):  # one BLAS thread is faster here
        result = unit_report(model, text, split=args.split, n_chunks=args.n_chunks)
    what = "the whole text" if args.split == "all" else f"the last 1/{args.n_chunks} of the text"
    print(f"hidden units of {args.checkpoint} (m = {model.m}) on {result['N']:,} characters "
          f"({what}), from h = 0")
    print(format_table(result))
    print(format_controls(result))
    if args.split == "holdout" and trained.get("holdout", 1) == 0:
        print("charrnn: note: this model was trained on the whole text (holdout 0), so the "
              "last part is not held-out data", file=sys.stderr)
    if args.json:
        write_json(args.json, {"checkpoint": os.fspath(args.checkpoint),
                               "data": os.fspath(args.data), "n_chunks": args.n_chunks,
                               "trained_holdout": trained.get("holdout"), **result})
    return 0


def _units_of_baseline(args) -> int:
    """``charrnn units --baseline DIR``: the same analysis of an LSTM's h_t and c_t (a GRU's h_t)."""
    import torch
    from threadpoolctl import threadpool_limits

    from .model.data import read_text
    from .report.unitviz import format_table
    from .studies.baselines_io import RUN_FILES, load_baseline
    from .studies.units import baseline_unit_report
    from .util.files import check_regular_file, write_json

    for name in RUN_FILES:  # a pipe or a device among them is named (a missing one: by load)
        if os.path.lexists(os.path.join(args.baseline, name)):
            check_regular_file(os.path.join(args.baseline, name), "baseline run file")
    run = load_baseline(args.baseline)
    text = read_text(args.data)
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # make runs two jobs at a time
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            result = baseline_unit_report(run, text, split=args.split, n_chunks=args.n_chunks)
    finally:
        torch.set_num_threads(old)
    what = "the whole text" if args.split == "all" else f"the last 1/{args.n_chunks} of the text"
    for name, report in result["states"].items():
        print(f"{name}_t of the {result['kind']} in {args.baseline} (h = {result['hidden']}) on "
              f"{result['N']:,} characters ({what}), from a zero state")
        print(format_table(report))
    if args.json:
        write_json(args.json, {"baseline": os.fspath(args.baseline), "data": os.fspath(args.data),
                               "n_chunks": args.n_chunks,
                               "trained_holdout": run.config.get("holdout"), **result})
    return 0


def cmd_experiment(args) -> int:
    from .model.data import read_text
    from .studies.experiments import GATED_SEEDS, N_EVALS, VARIANTS, job_name, run_variant, variant_seeds
    from .training.train import TrainingInterrupted
    from .util.checks import check_choice, check_positive_int

    if args.jobs is not None:  # for make: the (variant, seed) jobs of some variants
        if args.lr_factors is not None:
            raise ValueError("--lr-factors goes with --all \"VARIANTS\", not with --jobs")
        names = args.jobs.split()
        unknown = [n for n in names if n not in VARIANTS]
        if unknown:
            raise ValueError(f"unknown variant(s) {', '.join(unknown)}; expected some of "
                             f"{', '.join(VARIANTS)}")
        # the longest jobs first, so that make -j2 does not end waiting for one of them
        names.sort(key=lambda n: -VARIANTS[n].get("scale", 1) * VARIANTS[n]["overrides"].get("m", 100))
        kinds = args.baselines.split()
        for kind in kinds:
            check_choice("baseline kind", kind, ("lstm", "gru"))
        print(" ".join([job_name(n, s) for n in names for s in variant_seeds(n)]
                       + [job_name(k, s) for k in kinds for s in range(1, GATED_SEEDS + 1)]))
        return 0
    if args.all is not None:
        return _experiment_sweep(args)
    if args.variant is None or args.out_dir is None:
        raise ValueError("give a VARIANT and --out-dir DIR (or --jobs \"VARIANTS\", or --all "
                         "\"VARIANTS\" --out-dir DIR)")
    if args.scheduler is not None or args.workers is not None or args.baselines \
            or args.lr_factors is not None:
        raise ValueError("--scheduler, --workers, --lr-factors and --baselines go with --all "
                         "\"VARIANTS\" (or --baselines with --jobs)")
    chars = check_positive_int("--chars", args.chars)
    n_evals = check_positive_int("--n-evals", N_EVALS if args.n_evals is None else args.n_evals)
    args.data = text_path(args)
    text = read_text(args.data)
    try:
        run = run_variant(args.variant, text, args.data, args.out_dir, chars, n_evals, args.seed,
                          progress=args.progress_label or _progress())
    except TrainingInterrupted as err:
        print(f"charrnn: {job_name(args.variant, args.seed)} {err}; the same command (or make "
              "report) continues it", file=sys.stderr)
        return 130
    m = run["metrics"]
    print(f"{job_name(args.variant, args.seed)}: best validation loss {m['best_val_loss']:.4f} "
          f"nats/char at update {m['best_val_update']:,}; {m['wall_time_s']:.0f} s")
    return 0


def _experiment_sweep(args) -> int:
    """``charrnn experiment --all VARIANTS [--baselines KINDS]``: the report's grid through the
    sweep runner (:func:`charrnn.studies.sweep.experiment_jobs`)."""
    from .studies.experiments import N_EVALS
    from .studies.sweep import experiment_jobs
    from .util.checks import check_positive_int

    if args.variant is not None or args.out_dir is None:
        raise ValueError("--all \"VARIANTS\" trains every variant given there into --out-dir DIR; "
                         "give no VARIANT before it")
    _check_runner_flags(args)
    factors = None
    if args.lr_factors is not None:
        try:
            factors = [float(f) for f in args.lr_factors.split()]
        except ValueError:
            raise ValueError(f"--lr-factors must be numbers > 0 separated by spaces, got "
                             f"{args.lr_factors!r}") from None
        if not factors:
            raise ValueError("--lr-factors is empty: give factors such as \"0.5 1 2\"")
    jobs, texts = experiment_jobs(args.all.split(), args.baselines.split(),
                                  check_positive_int("--chars", args.chars), text_path(args),
                                  check_positive_int("--n-evals", N_EVALS if args.n_evals is None
                                                     else args.n_evals), factors)
    rc, rows = _run_sweep(jobs, texts, args.out_dir, args)
    if factors and rows:
        from .studies.sweep import chosen_rates
        from .util.files import write_json

        chosen = chosen_rates(rows)
        for name, c in chosen.items():
            tried = ", ".join(f"{eta:g}: {loss:.4f}" for eta, loss in c["losses"].items())
            print(f"{name}: eta {c['eta']:g} (validation loss by eta: {tried})")
        write_json(os.path.join(args.out_dir, "lr.json"),
                   {"chars": args.chars, "factors": factors, "rates": {
                       k: {"eta": v["eta"], "losses": [[e, x] for e, x in v["losses"].items()]}
                       for k, v in chosen.items()}})
    return rc


def _check_runner_flags(args) -> None:
    from .util.checks import check_positive_int

    if args.workers is not None:
        check_positive_int("--workers", args.workers)
        if args.scheduler is not None:
            raise ValueError("--workers starts local workers, --scheduler uses a cluster's: give "
                             "one of them")


def _run_sweep(jobs, texts, out, args) -> tuple[int, list[dict]]:
    """Run ``jobs`` through :func:`charrnn.studies.cluster.run_sweep` into ``out`` and print what
    it did: exit 0, 1 when a run failed (each listed), 130 on Ctrl-C."""
    from .studies.cluster import SweepInterrupted, run_sweep  # dask: after the checks
    from .studies.sweep_results import format_summary, summarize

    note = lambda line: print(line, file=sys.stderr)
    try:
        outcome = run_sweep(jobs, texts, out, workers=args.workers, scheduler=args.scheduler,
                            progress=_progress(), note=note)
    except SweepInterrupted as err:
        print(f"charrnn: {err}", file=sys.stderr)
        return 130, []
    for _name, folder, reason in outcome.failed:
        print(f"charrnn: error: run {folder} failed: {reason}", file=sys.stderr)
    print(f"{len(jobs)} runs in {out}: {outcome.trained} trained, {outcome.reused} reused, "
          f"{len(outcome.failed)} failed; results in {os.path.join(out, 'results.csv')}")
    if outcome.rows:
        print(format_summary(summarize(outcome.rows)))
    return (1 if outcome.failed else 0), outcome.rows


def cmd_sweep(args) -> int:
    from .studies.sweep import load_spec, plan
    from .studies.sweep_results import format_summary, read_results, summarize

    if args.summary is not None:
        if args.spec is not None or args.out is not None:
            raise ValueError("--summary DIR reads a finished sweep; give it without SPEC and --out")
        rows = read_results(args.summary)
        print(format_summary(summarize(rows)))
        return 0
    if args.spec is None or args.out is None:
        raise ValueError("give a SPEC and --out DIR (or --summary DIR)")
    _check_runner_flags(args)
    jobs, texts = plan(load_spec(args.spec), args.text, args.spec)  # the whole spec, before any job
    return _run_sweep(jobs, texts, args.out, args)[0]


def cmd_pdf(args) -> int:
    from .report.pdf import notebook_to_pdf

    pdf = notebook_to_pdf(args.notebook, args.pdf)
    print(f"wrote {pdf}")
    return 0
