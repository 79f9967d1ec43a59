"""Command line: ``python -m charrnn COMMAND`` (``--help`` on each): gradcheck, train, sample,
evaluate, study, baseline, units, experiment, sweep, pdf. The commands themselves are in
:mod:`charrnn.commands`; the ``train`` flags are made from :class:`charrnn.training.config.TrainConfig`.

Bad input ends with one line ``charrnn: error: ...`` on stderr and exit status 2, before any work.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields

from . import commands
from .training.config import CHOICES, PRESET_FIELDS, TrainConfig, field_help

__all__ = ["main", "build_parser", "add_config_flags"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``charrnn: error: ...`` and exit status 2."""

    def error(self, message):
        self.exit(2, f"charrnn: error: {message} (see {self.prog} --help)\n")


def add_config_flags(group) -> None:
    """One ``--kebab-case`` flag per :class:`~charrnn.training.config.TrainConfig` field, with the
    field's comment as help; every default is None (= the preset's or the field's default)."""
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
    g.set_defaults(func=commands.cmd_gradcheck)

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
    t.set_defaults(func=commands.cmd_train)

    s = sub.add_parser("sample", help="sample text from a saved model")
    s.add_argument("--checkpoint", required=True, help="a best.npz or checkpoint.npz written by "
                   "`train`")
    s.add_argument("-n", type=int, default=1000, help="characters to sample (default 1000)")
    s.add_argument("--temperature", type=float, default=None, help="T > 0 (default 1)")
    s.add_argument("--top-p", type=float, default=None, help="nucleus mass in (0, 1] (default 1)")
    s.add_argument("--seed", type=int, default=None, help="seed of the sampling generator "
                   "(default 0)")
    s.add_argument("--beam", type=int, metavar="N", default=None, help="instead of sampling: "
                   "beam search with N hypotheses for the likeliest -n characters (N = 1 is "
                   "greedy); its mean log-probability per character goes to stderr; not with "
                   "--temperature, --top-p or --seed")
    primes = s.add_mutually_exclusive_group()
    primes.add_argument("--prime", help="text to run through the model first (from h = 0); "
                        "sampling continues after it")
    primes.add_argument("--prime-file", metavar="PATH", help="like --prime, with the whole "
                        "UTF-8 text of the file PATH (its final newline included)")
    s.set_defaults(func=commands.cmd_sample)

    ev = sub.add_parser("evaluate", help="validation loss of a saved model on held-out text")
    ev.add_argument("--checkpoint", required=True, help="a best.npz or checkpoint.npz written "
                    "by `train`")
    ev.add_argument("--data", required=True, help="the UTF-8 text (same vocabulary)")
    ev.add_argument("--split", choices=["holdout", "validation", "test", "all"], default="holdout",
                    help="holdout: the last 1/N-CHUNKS of the text (default); validation, test: "
                    "the parts of the model's own held-out text (its run's --holdout and "
                    "--test-fraction; test is what the report scores); all: all of it")
    ev.add_argument("--n-chunks", type=int, default=None, help="N for --split holdout (default 20)")
    ev.add_argument("--mode", choices=["stateful", "windowed", "both"], default="stateful",
                    help="stateful: h carried over the whole part (default); windowed: "
                    "non-overlapping windows of --seq-length from h = 0")
    ev.add_argument("--seq-length", type=int, default=25, help="window length (default 25)")
    ev.add_argument("--newline", choices=["keep", "lf"], default=None, help="line endings: keep, "
                    "or lf reads \\r\\n as \\n (default: as the model's run read its text)")
    ev.set_defaults(func=commands.cmd_evaluate)

    st = sub.add_parser("study", help="the sampling study of the best of some runs (lowest "
                        "best smooth loss): temperatures and top-p, measured, as JSON")
    st.add_argument("--runs", nargs="+", required=True, metavar="DIR",
                    help="run folders written by `train` (one per seed)")
    st.add_argument("--json", required=True, metavar="PATH", help="where to write the study")
    st.add_argument("-n", type=int, default=2000, help="characters per sample (default 2000)")
    st.add_argument("--seed", type=int, default=0, help="seed of the sampling generators")
    st.add_argument("--samples", type=int, default=5, help="samples per sampled setting, and "
                    "passages of the book's test chunk: each measure's mean and 95%% t-interval "
                    "(default 5)")
    st.add_argument("--heldout", nargs="+", default=None, metavar="DIR", help="the same runs "
                    "trained with the held-out chunk removed: the one with the lowest validation "
                    "loss gives the test loss against the temperature (default: the sampled run)")
    st.set_defaults(func=commands.cmd_study)

    bl = sub.add_parser("baseline", help="train a PyTorch LSTM or GRU of the vanilla m = 256 "
                        "RNN's size on the same split and budget (needs torch)")
    bl.add_argument("--kind", required=True, choices=["lstm", "gru"], help="lstm or gru")
    bl.add_argument("--data", required=True, help="the UTF-8 text (its last 1/20 is held out)")
    bl.add_argument("--chars", type=int, required=True, help="training characters "
                    "(updates = chars // (32 x 50))")
    bl.add_argument("--seed", type=int, default=1, help="seed of the initialisation (default 1)")
    bl.add_argument("--out", required=True, help="run folder to write, e.g. runs/NAME/lstm")
    bl.add_argument("--eta", type=float, default=None, help="peak Adam learning rate (default: "
                    "the swept one, see charrnn.studies.baselines.DEFAULT_ETA)")
    bl.add_argument("--hidden", type=int, default=None, help="hidden size (default: the one "
                    "whose parameter count is closest to the vanilla m = 256 RNN's)")
    bl.add_argument("--force", action="store_true", help="overwrite a folder holding another run")
    bl.set_defaults(func=commands.cmd_baseline)

    un = sub.add_parser("units", help="which hidden unit tracks quotes, line position, words, "
                        "sentence starts, parentheses (Karpathy et al. 2015), and linear probes")
    un.add_argument("--checkpoint", help="a best.npz written by `train`")
    un.add_argument("--baseline", metavar="DIR", help="instead of --checkpoint: an LSTM or GRU "
                    "run folder written by `baseline` (its h_t, and the LSTM's c_t)")
    un.add_argument("--data", required=True, help="the UTF-8 text (the model's characters)")
    un.add_argument("--split", choices=["holdout", "all"], default="holdout",
                    help="holdout: the last 1/N-CHUNKS of the text (default); all: all of it")
    un.add_argument("--n-chunks", type=int, default=20, help="N for --split holdout (default 20)")
    un.add_argument("--json", metavar="PATH", help="also write the table, the saturation "
                    "fractions and passages of the best 3 units as JSON")
    un.set_defaults(func=commands.cmd_units)

    ca = sub.add_parser("calibrate", help="reference points for bits/char on the experiments' "
                        "test text: uniform, Kneser-Ney n-grams, PPMd and compressors")
    ca.add_argument("--data", default=None, help="the text (default as for train)")
    ca.add_argument("--max-order", type=int, default=8, help="the longest n-gram tried "
                    "(default 8; the order is chosen on the validation text)")
    ca.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ca.set_defaults(func=commands.cmd_calibrate)

    co = sub.add_parser("context", help="how much context each model uses: the test loss from "
                        "a zero state k characters back, k = 1, 2, 4, ..., 512 and infinity")
    co.add_argument("--checkpoint", action="append", default=[], metavar="PATH",
                    help="a vanilla model (best.npz, or NAME=best.npz); may be given several times")
    co.add_argument("--baseline", action="append", default=[], metavar="DIR",
                    help="an LSTM or GRU run folder (or NAME=DIR); may be given several times")
    co.add_argument("--data", default=None, help="the text (default as for train)")
    co.add_argument("--positions", type=int, default=1000, help="test positions averaged over, "
                    "drawn with a fixed seed (default 1000)")
    co.add_argument("--json", metavar="PATH", help="also write the curves as JSON")
    co.set_defaults(func=commands.cmd_context)

    dy = sub.add_parser("dynamic", help="dynamic evaluation: the test loss when the model takes "
                        "one SGD step after each segment it has predicted (rate chosen on the "
                        "validation text), beside the static loss")
    gr = sub.add_parser("gradients", help="how the gradients vanish: mean ||dL_t/dh_(t-1-k)|| "
                        "over test positions for k = 1, 2, 4, ..., 512; W's spectrum")
    for sp, what in ((dy, "losses"), (gr, "norms")):
        sp.add_argument("--checkpoint", action="append", default=[], metavar="PATH",
                       help="a vanilla model (best.npz, or NAME=best.npz); may be given several "
                       "times")
        sp.add_argument("--baseline", action="append", default=[], metavar="DIR",
                       help="an LSTM or GRU run folder (or NAME=DIR); may be given several times")
        sp.add_argument("--data", default=None, help="the text (default as for train)")
        sp.add_argument("--json", metavar="PATH", help=f"also write the {what} as JSON")
    dy.add_argument("--chars", type=int, default=None, metavar="N", help="read only the first N "
                    "characters of the validation text and of the test text (default: all of "
                    "each; make report QUICK=1 sets it)")
    dy.add_argument("--select-chars", type=int, default=None, metavar="N", help="choose the "
                    "rate on the first N characters of the validation text (default "
                    "charrnn.studies.dynamic.SELECT_CHARS, 10,000; more than it has: all of it)")
    gr.add_argument("--positions", type=int, default=200, help="test positions averaged over, "
                    "drawn with a fixed seed (default 200)")
    dy.set_defaults(func=commands.cmd_dynamic)
    gr.set_defaults(func=commands.cmd_gradients)

    ex = sub.add_parser("experiment", help="train one (variant, seed) of the experiments "
                        "(charrnn.studies.experiments.VARIANTS) into OUT_DIR/VARIANT-seedS, or reuse it")
    ex.add_argument("variant", nargs="?", help="the variant's name, e.g. B8")
    ex.add_argument("--seed", type=int, default=1, help="seed (default 1)")
    ex.add_argument("--chars", type=int, default=2_000_000,
                    help="common budget of training characters (default 2000000)")
    ex.add_argument("--n-evals", type=int, default=None,
                    help="validation evaluations per run (default: every compared run's, "
                         "charrnn.studies.experiments.N_EVALS)")
    ex.add_argument("--data", default=None, help="the text (default as for train)")
    ex.add_argument("--out-dir", help="folder of the experiments' run folders")
    ex.add_argument("--progress-label", metavar="LABEL", default=None,
                    help="progress as labelled lines instead of a bar")
    ex.add_argument("--jobs", metavar="VARIANTS", default=None,
                    help="print the run folders of these variants' seeds, then those of "
                    "--baselines (for make), and stop")
    ex.add_argument("--all", metavar="VARIANTS", default=None, help="instead of one VARIANT: "
                    "every seed of these variants (and --baselines) as one sweep on Dask, into "
                    "OUT_DIR, with OUT_DIR/results.csv (make report SCHEDULER=...)")
    ex.add_argument("--baselines", metavar="KINDS", default="", help="with --all or --jobs: also "
                    "these gated baselines (\"lstm gru\"), as `charrnn baseline` trains them, in "
                    "OUT_DIR/KIND-seedS for each of their seeds")
    ex.add_argument("--lr-factors", metavar="FACTORS", default=None, help="with --all: the "
                    "learning-rate selection (make lr): seed 1 of each variant and baseline at "
                    "its own rate times each factor (\"0.5 1 2\"), then the rate with the lowest "
                    "validation loss, also in OUT_DIR/lr.json")
    ex.add_argument("--scheduler", metavar="ADDRESS", default=None, help="with --all: the Dask "
                    "scheduler at ADDRESS (tcp://HOST:8786) instead of local workers")
    ex.add_argument("--workers", type=int, metavar="N", default=None, help="with --all: local "
                    "worker processes (default: one per core)")
    ex.set_defaults(func=commands.cmd_experiment)

    sw = sub.add_parser("sweep", help="train every run of a sweep spec (a grid of settings x "
                        "seeds) on Dask: this machine's cores or a cluster; or summarize a sweep")
    sw.add_argument("spec", nargs="?", help="the sweep spec (YAML), e.g. sweeps/smoke.yaml")
    sw.add_argument("--out", metavar="DIR", help="folder of the sweep's run folders, results.csv "
                    "and results.json")
    sw.add_argument("--data", dest="text", metavar="PATH", help="the text (default: the spec's "
                    "text, else as for train)")
    sw.add_argument("--workers", type=int, metavar="N", help="local worker processes, one job "
                    "each (default: one per core)")
    sw.add_argument("--scheduler", metavar="ADDRESS", default=None, help="use the Dask scheduler "
                    "at ADDRESS (tcp://HOST:8786) instead of local workers")
    sw.add_argument("--summary", metavar="DIR", default=None, help="print DIR's results grouped "
                    "over seeds (n, mean ± std) and stop")
    sw.set_defaults(func=commands.cmd_sweep)

    r = sub.add_parser("pdf", help="print an executed notebook to PDF (code hidden)")
    r.add_argument("notebook")
    r.add_argument("pdf")
    r.set_defaults(func=commands.cmd_pdf)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "data", "unset") is None and args.command not in ("train", "experiment"):
            args.data = commands.text_path(args)
        return args.func(args)
    except ValueError as err:
        parser.exit(2, f"charrnn: error: {err}\n")
    except OSError as err:  # unwritable output, missing notebook, ...
        where = f": {err.filename}" if getattr(err, "filename", None) else ""
        parser.exit(2, f"charrnn: error: {err.strerror or err}{where}\n")
    except MemoryError:
        parser.exit(2, "charrnn: error: not enough memory for this command's sizes (m, batch_size, "
                       "the sample lengths, -n?): lower them\n")
    except KeyboardInterrupt:
        parser.exit(130, "charrnn: interrupted\n")


if __name__ == "__main__":
    sys.exit(main())
