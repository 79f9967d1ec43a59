"""The sampling study: deterministic and measured, run on the best seed's run, written as JSON."""

import json
import math
import shutil
import statistics

import numpy as np
import pytest

from charrnn.cli import main
from charrnn.model.sampling import beam_search, synthesize
from charrnn.report.tables import sampling_markdown
from charrnn.studies.stats import mean_interval, mean_std
from charrnn.studies.study import (
    BEAM_SETTINGS,
    MEASURES,
    N_SAMPLES,
    SAMPLING_SETTINGS,
    best_run_dir,
    book_passages,
    sampling_study,
    study_runs,
)
from charrnn.studies.study import test_start as chunk_start  # not a test
from charrnn.studies.textmetrics import known_word_fraction, training_words
from charrnn.studies.textmetrics import summarize as text_summary
from charrnn.training.checkpoint import load_model
from charrnn.training.config import TrainConfig
from charrnn.training.runs import save_run
from charrnn.training.train import train

TEXT = ("Professor McGonagall looked sternly over her square spectacles at the class. "
        "'Transfiguration is some of the most complex magic you will learn,' she said.\n") * 25


def _two_seeds(tmp, prefix: str, **settings) -> list:
    """Runs of TEXT with seeds 1 and 2 (Adam preset, m = 8, the NumPy engine: no compilation
    for a tiny run) and ``settings``, saved as run folders ``tmp/PREFIXseedS``."""
    data = tmp / "text.txt"
    data.write_text(TEXT, encoding="utf-8")
    return [save_run(train(TEXT, TrainConfig.from_preset("adam", m=8, seed=seed, sample_every=100,
                                                         engine="numpy", **settings)),
                     tmp / f"{prefix}seed{seed}", data) for seed in (1, 2)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two handout-style runs of the same text (seeds 1 and 2), saved as run folders."""
    return _two_seeds(tmp_path_factory.mktemp("study"), "", n_updates=300)


def _loss(d):
    return json.loads((d / "metrics.json").read_text())["best_smooth_loss"]


def test_sampling_study_is_deterministic_and_measured(runs):
    model = load_model(runs[0] / "best.npz")
    a = sampling_study(model, TEXT, n=300)
    b = sampling_study(model, TEXT, n=300)
    assert a == b
    sampled, beams = a[:len(SAMPLING_SETTINGS)], a[len(SAMPLING_SETTINGS):]
    assert [(r["label"], r["temperature"], r["top_p"], r["beam"]) for r in sampled] == \
        [(*s, None) for s in SAMPLING_SETTINGS]
    assert [(r["label"], r["temperature"], r["top_p"], r["beam"]) for r in beams] == \
        [(label, None, None, beam) for label, beam in BEAM_SETTINGS] == [("beam 8", None, None, 8)]
    for r in a:
        assert len(r["text"]) == 300 and r["n_chars"] == 300 and 0.0 <= r["known_word_fraction"] <= 1.0
    for r in sampled:  # S samples each, the first the one shown (its text, its measures)
        assert list(r["samples"]) == list(MEASURES)
        assert all(len(v) == N_SAMPLES for v in r["samples"].values())
        assert all(r["samples"][k][0] == r[k] for k in MEASURES)
    assert all("samples" not in r for r in beams)  # beam search: one deterministic decode
    assert len({r["text"] for r in a}) == len(a)  # each setting samples with its own generator
    # the beam row is beam search from the same start, measured as the samples are
    seq, score = beam_search(model.params, model.hprev, model.x0, 300, 8)
    beam, = beams
    assert beam["text"] == model.vocab.decode(seq) and beam["mean_log_prob"] == score
    assert {k: v for k, v in beam.items() if k in text_summary(beam["text"], set())} == \
        text_summary(beam["text"], training_words(TEXT))
    assert sampling_markdown(a).splitlines()[-1].startswith("| beam 8 | ")  # the report's row
    # at a very low temperature, nearly every generated word is a word of the text
    cold = sampling_study(model, TEXT, n=300, settings=[("cold", 0.05, 1.0)])[0]
    assert cold["known_word_fraction"] >= a[0]["known_word_fraction"]


def test_the_first_sample_is_the_one_a_study_of_one_sample_drew(runs):
    """Sample 1 of setting i is synthesize with default_rng([seed, i]), as before several samples
    were taken; samples 2..S use [seed, i, j] and differ from it; a seed gives the same to the bit."""
    model = load_model(runs[0] / "best.npz")
    words = training_words(TEXT)
    for seed in (0, 7):
        rows = sampling_study(model, TEXT, n=120, seed=seed, beams=[], n_samples=3)
        one = sampling_study(model, TEXT, n=120, seed=seed, beams=[], n_samples=1)
        for i, ((_, T, p), r, r1) in enumerate(zip(SAMPLING_SETTINGS, rows, one, strict=True)):
            old = model.vocab.decode(synthesize(model.params, model.hprev, model.x0, 120,
                                                np.random.default_rng([seed, i]), T, p))
            assert r["text"] == r1["text"] == old
            assert {k: v for k, v in r.items() if k != "samples"} == \
                {k: v for k, v in r1.items() if k != "samples"}
            for j in (1, 2):  # the other samples, each from its own generator, measured alike
                other = model.vocab.decode(synthesize(model.params, model.hprev, model.x0, 120,
                                                      np.random.default_rng([seed, i, j]), T, p))
                assert other != old
                summary = text_summary(other, words)
                assert [r["samples"][k][j] for k in MEASURES] == [summary[k] for k in MEASURES]
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n_samples"):
            sampling_study(model, TEXT, n=50, n_samples=bad)


def test_the_interval_is_the_t_interval_of_the_samples():
    xs = [0.62, 0.66, 0.69, 0.63, 0.68]
    mean, half = mean_interval(xs)
    # t_{0.975, 4} = 2.776445 from a printed table (e.g. NIST/SEMATECH), not from scipy
    assert mean == pytest.approx(statistics.fmean(xs), abs=1e-15)
    assert half == pytest.approx(2.776445 * statistics.stdev(xs) / math.sqrt(5), rel=1e-6)
    assert mean_interval([3.0, 3.0]) == (3.0, 0.0)  # no spread: a point
    assert mean_interval([0.7]) == (0.7, None)  # one sample: no interval
    with pytest.raises(ValueError, match="no values"):
        mean_interval([])


def test_mean_std_is_the_mean_and_sample_standard_deviation():
    xs = [1.8658, 1.8398, 1.8742, 1.8262]
    mean, std = mean_std(x for x in xs)  # any iterable
    assert mean == pytest.approx(statistics.fmean(xs), abs=1e-15)
    assert std == pytest.approx(statistics.stdev(xs), rel=1e-12)  # ddof 1, not statistics.pstdev
    assert std != pytest.approx(statistics.pstdev(xs), rel=1e-3)
    assert mean_std([2.5, 2.5]) == (2.5, 0.0)  # no spread
    assert mean_std([0.7]) == (0.7, None)  # one value: no spread to estimate
    with pytest.raises(ValueError, match="no values"):
        mean_std([])


def test_book_passages_are_evenly_spaced_over_the_test_chunk():
    text = "x" * 1000
    assert book_passages(text, 600, 100, 5) == [[600, 700], [675, 775], [750, 850], [825, 925],
                                                 [900, 1000]]
    assert book_passages(text, 600, 400, 3) == [[600, 1000]] * 3  # no room: the chunk each time
    assert book_passages(text, 600, 100, 1) == [[600, 700]]
    with pytest.raises(ValueError, match="fewer than the 401 of one passage"):
        book_passages(text, 600, 401)


def test_the_book_row_measures_the_test_chunk_against_the_text_before_it(runs):
    best, _ = best_run_dir(runs)
    config = json.loads((best / "config.json").read_text())
    start = chunk_start(config, len(TEXT))
    s = study_runs(runs, n=40, n_samples=3)
    assert s["n_samples"] == 3 and s["confidence"] == 0.95 and s["vocabulary"] == [0, start]
    book = s["book"]
    passages = book_passages(TEXT, start, 40, 3)
    assert book["passages"] == passages and passages[-1][1] == len(TEXT)
    assert "text" not in book  # the book's text is not copied into the study
    seen = training_words(TEXT[:start])
    assert book["samples"]["known_word_fraction"] == \
        [known_word_fraction(TEXT[a:b], seen) for a, b in passages]
    assert {k: book[k] for k in MEASURES} == \
        {k: text_summary(TEXT[passages[0][0]:passages[0][1]], seen)[k] for k in MEASURES}
    # the rows count their known words against the same word list
    assert s["rows"] == sampling_study(load_model(best / "best.npz"), TEXT[:start], n=40,
                                       n_samples=3)
    assert study_runs(runs, n=len(TEXT) - start + 1, n_samples=2)["book"] is None  # too short
    with pytest.raises(ValueError, match="n_samples"):
        study_runs(runs, n=40, n_samples=0)


def test_the_study_uses_the_run_with_the_lowest_best_smooth_loss(runs):
    best = min(runs, key=_loss)
    assert _loss(runs[0]) != _loss(runs[1])  # otherwise the test could not tell them apart
    for order in (runs, runs[::-1]):
        d, metrics = best_run_dir(order)
        assert d == best and metrics["best_smooth_loss"] == _loss(best)
    s = study_runs(runs, n=200)
    assert s["run"] == str(best.resolve()) and s["name"] == best.name
    assert s["seed"] == json.loads((best / "metrics.json").read_text())["seed"]
    assert s["best_smooth_loss"] == _loss(best) and s["n"] == 200 and s["sampling_seed"] == 0
    start = chunk_start(json.loads((best / "config.json").read_text()), len(TEXT))
    assert s["rows"] == sampling_study(load_model(best / "best.npz"), TEXT[:start], n=200)


def test_the_cli_writes_json_that_round_trips(runs, tmp_path, capsys):
    out = tmp_path / "reports" / "sampling_study.json"
    assert main(["study", "--runs", *map(str, runs), "--json", str(out), "-n", "150", "--seed", "4"]) == 0
    # the CLI's default number of samples is the study's
    assert f"8 settings ({N_SAMPLES} samples each" in capsys.readouterr().out
    assert json.loads(out.read_text(encoding="utf-8")) == study_runs(runs, n=150, seed=4)
    assert not list(out.parent.glob(".*.tmp"))  # written atomically


def test_a_bad_run_folder_gives_one_clear_error(runs, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(runs[0], broken)
    (broken / "best.npz").unlink()
    if _loss(runs[0]) > _loss(runs[1]):  # make the broken copy the best run, so it is the one loaded
        m = json.loads((broken / "metrics.json").read_text())
        m["best_smooth_loss"] = _loss(runs[1]) - 1
        (broken / "metrics.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match=r"broken is not a finished run folder: best.npz is missing"):
        study_runs([runs[1], broken])
    with pytest.raises(ValueError, match=r"empty is not a finished run folder: metrics.json is missing"):
        study_runs([runs[0], tmp_path / "empty"])
    with pytest.raises(ValueError, match="no run folders given"):
        study_runs([])
    (broken / "config.json").write_text(json.dumps({"m": 8}))
    with pytest.raises(ValueError, match=r"does not say which text the run used"):
        study_runs([broken])
    out = tmp_path / "s.json"
    with pytest.raises(SystemExit) as err:
        main(["study", "--runs", str(tmp_path / "empty"), "--json", str(out)])
    assert err.value.code == 2 and not out.exists()
    assert capsys.readouterr().err.startswith("charrnn: error: ")


def test_a_changed_text_is_refused(runs, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(runs[0], moved)
    other = tmp_path / "other.txt"
    other.write_text(TEXT + "Zzz", encoding="utf-8")
    cfg = json.loads((moved / "config.json").read_text())
    cfg["data"] = str(other)
    (moved / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"vocabulary mismatch: the text has 'Z'"):
        study_runs([moved])


@pytest.fixture(scope="module")
def heldout_runs(tmp_path_factory):
    """The same text trained with its last 1/20 held out (seeds 1 and 2): validation and test."""
    return _two_seeds(tmp_path_factory.mktemp("heldout"), "holdout-", n_updates=200, holdout=1,
                      test_fraction=0.5, eval_every=50)


def test_the_temperature_curve_is_of_the_held_out_run_chosen_on_validation(runs, heldout_runs):
    metrics = [json.loads((d / "metrics.json").read_text()) for d in heldout_runs]
    assert metrics[0]["best_val_loss"] != metrics[1]["best_val_loss"]
    best = heldout_runs[0] if metrics[0]["best_val_loss"] < metrics[1]["best_val_loss"] \
        else heldout_runs[1]
    want = metrics[heldout_runs.index(best)]
    for order in (heldout_runs, heldout_runs[::-1]):
        t = study_runs(runs, n=50, heldout_dirs=order)["temperature"]
        assert t["name"] == best.name and t["trained_holdout"] == 1
        # T = 1 on the run's own test text is the test loss training wrote, to the bit
        assert t["loss_at_1"] == want["test_loss"] and t["n_chars"] == want["n_test_chars"] - 1
        assert t["test"] == [want["test_start"], len(TEXT)]
        assert t["best_loss"] <= t["loss_at_1"] and t["bounds"][0] <= t["best_temperature"]
    own = study_runs(runs, n=50)["temperature"]  # without held-out runs: the sampled run's own
    assert own["name"] == best_run_dir(runs)[0].name and own["trained_holdout"] == 0
    assert own["test"] == t["test"]  # the experiments' split: it saw this text
