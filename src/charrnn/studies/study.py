"""The sampling study (bonus B-N3): the best model sampled at low, medium and high temperature T
and nucleus mass p, and decoded by beam search, each text measured against the training text.

A setting (label, T, p) samples ``n`` characters from ``softmax(o_t / T)`` restricted to the
smallest set of characters whose probability reaches p (:func:`charrnn.model.sampling.synthesize`),
starting from the best model's hprev and x0, ``n_samples`` times (S, default
:data:`N_SAMPLES`): the known-word fraction of one 2,000-character sample moves by a few points
from one sample to the next, so each measure gets a mean and a 95 % t-interval over the S samples
(:func:`charrnn.studies.stats.mean_interval`). A beam setting (label, beam) decodes the same ``n``
characters from the same start by beam search (:func:`charrnn.model.sampling.beam_search`: the
likeliest continuation it finds, which for a character model tends to loop on a few words): one
decode, deterministic, no interval. The book row (:func:`book_passages`) measures S passages of
``n`` characters of real text from the test chunk, evenly spaced, the same way: what unseen text of
the book scores.
:func:`charrnn.studies.textmetrics.summarize` measures each
text (known-word fraction, distinct-n, longest repeat). :func:`study_runs` does this for the
best of a set of handout runs (one per seed) and returns the JSON that ``python -m charrnn study``
writes for the report, with the test loss against the temperature T
(:func:`charrnn.studies.temperature.temperature_curve`) of a model trained with the held-out
chunk removed (:func:`temperature_of_run`): is T = 1 the best-calibrated?
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..model.data import Vocabulary, read_text
from ..model.sampling import beam_search, synthesize
from ..training.checkpoint import check_vocab, load_model
from ..training.config import TrainConfig
from ..training.runs import check_seeds
from ..training.train import split_heldout, split_text
from ..util.checks import check_nonneg_int, check_positive_int
from ..util.paths import resolve
from .stats import CONFIDENCE
from .temperature import temperature_curve
from .textmetrics import summarize as text_summary
from .textmetrics import training_words

__all__ = ["SAMPLING_SETTINGS", "BEAM_SETTINGS", "N_SAMPLES", "MEASURES", "sampling_study",
           "sample_seed", "book_passages", "best_run_dir", "test_start", "best_heldout_dir",
           "temperature_of_run", "study_runs"]

#: (label, temperature, top_p) of the sampling study: low, medium and high T and p.
SAMPLING_SETTINGS = [("plain (T = 1, p = 1)", 1.0, 1.0),
                     ("T = 0.5", 0.5, 1.0), ("T = 0.8", 0.8, 1.0), ("T = 1.3", 1.3, 1.0),
                     ("top-p 0.5", 1.0, 0.5), ("top-p 0.8", 1.0, 0.8), ("top-p 0.95", 1.0, 0.95)]

#: (label, beam width) of the study's beam search: beside the sampled settings, the likeliest text.
BEAM_SETTINGS = [("beam 8", 8)]

#: Samples per sampled setting (and book passages): S.
N_SAMPLES = 5

#: The measures a row keeps per sample (``samples``), for the means and intervals of the table.
MEASURES = ("known_word_fraction", "distinct_2_words", "distinct_4_chars", "longest_repeat_len")



def sample_seed(seed: int, setting: int, sample: int) -> list[int]:
    """The entropy of ``numpy.random.default_rng`` for sample ``sample`` (0-based) of setting
    ``setting`` (0-based) of a study with sampling seed ``seed``: ``[seed, setting]`` for the
    first sample (the one the report shows, drawn as before several samples were taken) and
    ``[seed, setting, sample]`` for the others. Each is its own ``SeedSequence``: the same seed
    gives the same samples to the bit, and no two samples share a stream."""
    return [seed, setting] if sample == 0 else [seed, setting, sample]


def _measured(texts: list[str], words) -> dict:
    """The first text's measures (as one sample was measured) and ``samples``: each of
    :data:`MEASURES` for every text, in order."""
    summaries = [text_summary(t, words) for t in texts]
    return {**summaries[0], "samples": {k: [s[k] for s in summaries] for k in MEASURES}}


def book_passages(text: str, start: int, n: int, n_samples: int = N_SAMPLES) -> list[list[int]]:
    """``[start, end)`` of ``n_samples`` passages of ``n`` characters of ``text[start:]`` (the
    test chunk), evenly spaced: the first starts at ``start``, the last ends at ``len(text)``
    (they overlap when the chunk is shorter than ``n_samples * n``). Raises ``ValueError`` when
    the chunk is shorter than ``n`` characters."""
    room = len(text) - start - n
    if room < 0:
        raise ValueError(f"the test chunk has {len(text) - start:,} characters, fewer than the "
                         f"{n:,} of one passage")
    firsts = [start + (room * j) // max(n_samples - 1, 1) for j in range(n_samples)]
    return [[a, a + n] for a in firsts]


def sampling_study(model, train_text: str, n: int = 2000, seed: int = 0,
                   settings=SAMPLING_SETTINGS, beams=BEAM_SETTINGS,
                   n_samples: int = N_SAMPLES) -> list[dict]:
    """Texts of ``n`` characters from ``model`` (a :class:`charrnn.training.checkpoint.Model`),
    sampled ``n_samples`` times for each (label, temperature, top_p) of ``settings``, then decoded
    by beam search once for each (label, beam) of ``beams``, all from the model's hprev and x0,
    each with :func:`charrnn.studies.textmetrics.summarize` measured against ``train_text``'s
    words.

    Sample j of setting i samples with ``numpy.random.default_rng(sample_seed(seed, i, j))``
    (:func:`sample_seed`), so the study is the same on every call and its first sample per setting
    is the one a study of one sample drew (beam search draws nothing). Returns one dict per
    setting, sampled ones first: ``label``, ``temperature``, ``top_p`` and ``beam`` (None for what
    does not apply: a beam row ranks by p at T = 1 without a nucleus), ``mean_log_prob`` (beam
    rows only: the text's mean log-probability per character, nats), ``text`` and the measures of
    the first sample, and (sampled rows only) ``samples``: each of :data:`MEASURES` as a list over
    the ``n_samples`` samples. Raises ``ValueError`` for an ``n_samples`` that is not a positive
    integer, and as :func:`charrnn.model.sampling.synthesize` and
    :func:`charrnn.model.sampling.beam_search` do.
    """
    n_samples = check_positive_int("samples per setting n_samples", n_samples)
    words = training_words(train_text)
    out = []
    for i, (label, T, p) in enumerate(settings):
        texts = [model.vocab.decode(synthesize(model.params, model.hprev, model.x0, n,
                                               np.random.default_rng(sample_seed(seed, i, j)), T, p))
                 for j in range(n_samples)]
        out.append({"label": label, "temperature": T, "top_p": p, "beam": None, "text": texts[0],
                    **_measured(texts, words)})
    for label, beam in beams:
        indices, score = beam_search(model.params, model.hprev, model.x0, n, beam)
        text = model.vocab.decode(indices)
        out.append({"label": label, "temperature": None, "top_p": None, "beam": beam,
                    "mean_log_prob": score, "text": text, **text_summary(text, words)})
    return out


def _read_json(path: Path, what: str) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path.parent} is not a finished run folder: {what} is missing") from None
    except ValueError as err:
        raise ValueError(f"{path} is not valid JSON ({err})") from None


def best_run_dir(run_dirs) -> tuple[Path, dict]:
    """The run folder, among ``run_dirs`` (paths of handout runs, one per seed), whose
    ``metrics.json`` has the lowest ``best_smooth_loss`` (ties: the first), with its metrics.

    Raises ``ValueError`` when ``run_dirs`` is empty, when the folders are not seeds of one run
    (:func:`charrnn.training.runs.check_seeds`: another text or other settings), or when a folder lacks
    ``config.json``, ``metrics.json``, its ``best_smooth_loss`` or ``seed``.
    """
    found = _metrics(run_dirs, ("best_smooth_loss", "seed"), "no run folders given: the study "
                     "needs at least one (one per seed)", "a training run")
    check_seeds({d: _read_json(d / "config.json", "config.json") for d, _ in found})
    return min(found, key=lambda dm: dm[1]["best_smooth_loss"])


def _metrics(run_dirs, need, empty: str, what: str) -> list[tuple[Path, dict]]:
    """``(folder, its metrics.json)`` for each of ``run_dirs``. Raises ``ValueError``: ``empty``
    when there are none; naming the keys of ``need`` that a folder's ``metrics.json`` lacks (or
    holds as null), as "not ``what``"; or for a missing or broken ``metrics.json``."""
    dirs = [Path(d) for d in run_dirs]
    if not dirs:
        raise ValueError(empty)
    found = []
    for d in dirs:
        metrics = _read_json(d / "metrics.json", "metrics.json")
        missing = [k for k in need if metrics.get(k) is None]
        if missing:
            raise ValueError(f"{d / 'metrics.json'} lacks {', '.join(missing)}: not {what}")
        found.append((d, metrics))
    return found


def test_start(config: dict, n_chars: int) -> int:
    """Where the test text of a run with ``config`` (its ``config.json``) starts in a text of
    ``n_chars`` characters, as training splits it (:func:`charrnn.training.train.split_text`,
    :func:`~charrnn.training.train.split_heldout`): the last ``test_fraction`` of the last
    ``holdout`` of ``n_chunks`` chunks. A run trained on the whole text (holdout 0) or without a
    test text (test_fraction 0) gets the split of a run with one chunk held out and half of it
    the test text, the experiments' split: that run trained on this text (holdout 0) or chose its
    model on it (test_fraction 0)."""
    names = set(TrainConfig.__dataclass_fields__)
    cfg = TrainConfig(**{k: v for k, v in config.items() if k in names})
    if not cfg.holdout or not cfg.test_fraction:
        cfg = TrainConfig(n_chunks=cfg.n_chunks, holdout=1, test_fraction=0.5)
    n_train, _ = split_text(n_chars, cfg)
    return split_heldout(n_chars, n_train, cfg.test_fraction)


def best_heldout_dir(run_dirs) -> Path:
    """The run folder, among ``run_dirs`` (runs trained with a held-out chunk, one per seed),
    with the lowest ``best_val_loss`` in its ``metrics.json`` (chosen on the validation text;
    ties: the first). Raises ``ValueError`` when ``run_dirs`` is empty or a folder lacks
    ``metrics.json`` or its ``best_val_loss``."""
    found = _metrics(run_dirs, ("best_val_loss",), "no held-out run folders given",
                     "a run with a held-out chunk")
    return min(found, key=lambda dm: dm[1]["best_val_loss"])[0]


def temperature_of_run(run_dir, text: str | None = None) -> dict:
    """The test loss against T of the run in ``run_dir`` (its ``best.npz`` on the test text of
    its own split, :func:`test_start`): :func:`charrnn.studies.temperature.temperature_curve`
    plus ``run`` (the folder, absolute), ``name``, ``trained_holdout`` (its ``holdout``: 0 means
    it trained on the test text too) and ``test`` ([start, end) in characters). ``text``: the
    run's text (default: read from its ``config.json`` "data"). Raises ``ValueError`` for a
    folder that is not a finished run or a text whose vocabulary is not the model's."""
    run_dir = Path(run_dir)
    config = _read_json(run_dir / "config.json", "config.json")
    if not (run_dir / "best.npz").is_file():
        raise ValueError(f"{run_dir} is not a finished run folder: best.npz is missing")
    if text is None:
        if not config.get("data"):
            raise ValueError(f"{run_dir / 'config.json'} does not say which text the run used "
                             "('data')")
        text = read_text(resolve(config["data"]))
    model = load_model(run_dir / "best.npz")
    check_vocab(model.vocab, Vocabulary.from_text(text), what=f"model {run_dir / 'best.npz'}")
    start = test_start(config, len(text))
    curve = temperature_curve(model.params, model.vocab.encode(text[start:]))
    return {"run": os.fspath(run_dir.resolve()), "name": run_dir.name,
            "trained_holdout": config.get("holdout", 0), "test": [start, len(text)], **curve}


def study_runs(run_dirs, n: int = 2000, seed: int = 0, settings=SAMPLING_SETTINGS,
               beams=BEAM_SETTINGS, heldout_dirs=None, n_samples: int = N_SAMPLES) -> dict:
    """The sampling study of the best run among ``run_dirs`` (see :func:`best_run_dir`): its
    ``best.npz`` sampled ``n`` characters ``n_samples`` times per setting, and ``n_samples``
    passages of the book's test chunk, measured against the words of the text before that chunk.

    The text is the path in the run's ``config.json`` "data" (a relative path is taken from the
    project root); the test chunk is :func:`test_start`'s (the held-out runs' split). Every row's
    known-word fraction counts words of ``text[:test start]``, so that the book's passages are
    text the word list has not seen (the sampled model may have: it trained on the whole text).

    Returns a JSON-able dict: ``run`` (the folder, absolute), ``name``, ``seed`` (the run's
    training seed), ``best_smooth_loss``, ``best_update``, ``data``, ``n`` [characters],
    ``sampling_seed``, ``n_samples``, ``confidence`` (of the t-intervals,
    :func:`charrnn.studies.stats.mean_interval`),
    ``vocabulary`` ([0, test start): the characters whose words count as known), ``rows``
    (:func:`sampling_study`), ``book`` (the book row: ``label``, ``passages`` ([start, end) of
    each, :func:`book_passages`; the text itself is not stored), the first passage's measures and
    ``samples`` as a sampled row has them; None when the test chunk is shorter than ``n``) and
    ``temperature`` (:func:`temperature_of_run`) of the run among ``heldout_dirs`` (the same runs
    trained with the held-out chunk removed) with the lowest validation loss, or, without them, of
    the sampled run itself (then its ``trained_holdout`` says whether it saw the test text).
    Raises ``ValueError`` with one sentence naming the folder when it is not a finished run
    (``metrics.json``, ``config.json`` or its "data", ``best.npz`` missing or broken), when the
    text is missing or its vocabulary differs from the model's, or when ``n`` or ``n_samples`` is
    not a positive integer or ``seed`` a negative one; all before sampling.
    """
    n = check_positive_int("sample length n", n)
    n_samples = check_positive_int("samples per setting n_samples", n_samples)
    seed = check_nonneg_int("sampling seed", seed)
    run_dir, metrics = best_run_dir(run_dirs)
    config = _read_json(run_dir / "config.json", "config.json")
    if not config.get("data"):
        raise ValueError(f"{run_dir / 'config.json'} does not say which text the run used ('data')")
    if not (run_dir / "best.npz").is_file():
        raise ValueError(f"{run_dir} is not a finished run folder: best.npz is missing")
    model = load_model(run_dir / "best.npz")
    data = resolve(config["data"])
    text = read_text(data)
    check_vocab(model.vocab, Vocabulary.from_text(text), what=f"model {run_dir / 'best.npz'}")
    calibrated = best_heldout_dir(heldout_dirs) if heldout_dirs else run_dir
    temperature = temperature_of_run(calibrated, text if calibrated == run_dir else None)
    start = test_start(config, len(text))
    seen = text[:start]  # the words known: everything before the test chunk
    book = None
    if len(text) - start >= n:
        passages = book_passages(text, start, n, n_samples)
        book = {"label": "book text (test chunk)", "passages": passages,
                **_measured([text[a:b] for a, b in passages], training_words(seen))}
    return {"run": os.fspath(run_dir.resolve()), "name": run_dir.name, "seed": metrics["seed"],
            "best_smooth_loss": metrics["best_smooth_loss"],
            "best_update": metrics.get("best_update"), "data": os.fspath(data), "n": n,
            "sampling_seed": seed, "n_samples": n_samples, "confidence": CONFIDENCE,
            "vocabulary": [0, start],
            "rows": sampling_study(model, seen, n, seed, settings, beams, n_samples),
            "book": book, "temperature": temperature}
