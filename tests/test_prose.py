"""The report's sentences: each generator on hand-made artifacts, with the wording and the numbers
that must (or must not) appear."""

import copy

import pytest

from charrnn.report import prose
from charrnn.studies.study import SAMPLING_SETTINGS

NBH = "\u2011"  # fmt's non-breaking hyphen


def _table(err, names=("b", "W")):
    return {n: {"shape": [3], "max_abs_diff": err, "max_rel_err": err, "mean_rel_err": err / 10,
                "passed": True} for n in names}


def _block(reduction, init, torch_err, num_err, seq_length=25):
    return {"config": {"reduction": reduction, "seq_length": seq_length, "init": init},
            "loss": 4.38201, "torch": _table(torch_err), "numeric": _table(num_err),
            "by_seq_length": {str(T): {"loss": 4.3, "torch": _table(torch_err / d),
                                       "numeric": _table(num_err / d)} for T, d in ((1, 2), (2, 4))}}


@pytest.fixture
def suite():
    return {"tolerances": {"torch": 1e-10, "numeric": 1e-6},
            "adam": _block("mean", "scaled", 3e-14, 2e-9),
            "adagrad": _block("sum", "small", 5e-14, 4e-9)}


def test_a_passing_gradient_check_gives_the_worst_errors_and_the_lengths(suite):
    v = prose.gradcheck_verdict(suite)
    assert v.startswith("We believe the gradients are correct")
    assert f"PyTorch to 5.0e{NBH}14 or better (tolerance 1e{NBH}10)" in v  # the worst of both presets
    assert f"differences to 4.0e{NBH}09 or better (tolerance 1e{NBH}06)" in v
    assert "for both loss definitions and at sequence lengths 1, 2 and 25." in v
    assert "FAILED" not in v


def test_the_lengths_come_from_the_check(suite):
    for p in ("adam", "adagrad"):
        suite[p]["config"]["seq_length"] = 10
        del suite[p]["by_seq_length"]["2"]
    assert "at sequence lengths 1 and 10." in prose.gradcheck_verdict(suite)
    del suite["adagrad"]
    assert "for the mean loss and" in prose.gradcheck_verdict(suite)


def test_a_failing_gradient_check_names_what_failed(suite):
    bad = copy.deepcopy(suite)
    bad["adam"]["by_seq_length"]["2"]["torch"]["W"].update(max_rel_err=2e-3, passed=False)
    v = prose.gradcheck_verdict(bad)
    assert v.startswith("**The gradient check FAILED**: at least one parameter exceeds its tolerance")
    assert "W (adam preset, seq_length 2, vs PyTorch)" in v and "b (" not in v
    assert f"Worst relative error 2.0e{NBH}03 vs PyTorch (tolerance 1e{NBH}10)" in v
    assert "We believe" not in v


def test_a_check_without_centered_differences_says_so(suite):
    for p in ("adam", "adagrad"):
        for block in (suite[p], *suite[p]["by_seq_length"].values()):
            del block["numeric"]
    v = prose.gradcheck_verdict(suite)
    assert "(centered differences were not computed)" in v and "nan" not in v


def test_caption_and_shorter_sequences(suite):
    assert prose.gradcheck_caption("adagrad", suite["adagrad"]) == \
        "**Loss sum** over 25 characters (adagrad preset, init `small`), loss 4.3820:"
    s = prose.shorter_sequences("adam", suite["adam"])
    assert f"seq_length 1: worst 1.5e{NBH}14 vs PyTorch, 1.0e{NBH}09 vs differences" in s
    assert f"seq_length 2: worst 7.5e{NBH}15 vs PyTorch" in s
    assert prose.shorter_sequences("adam", {**suite["adam"], "by_seq_length": {}}) == ""


def _run(best_update, per_epoch=44301, n_samples=16, top_p=1.0):
    return {"metrics": {"best_smooth_loss": 1.47871, "best_update": best_update, "final_smooth_loss": 1.5302,
                        "updates_per_epoch": per_epoch, "seed": 3},
            "config": {"sample_length": 200, "sample_every": 10000, "temperature": 1.0, "top_p": top_p},
            "samples": [{"update": 10000 * i, "text": "x"} for i in range(n_samples)]}


def test_smooth_loss_paragraph_finds_the_epoch():
    p = prose.smooth_loss_paragraph(_run(130874))
    assert p.startswith("Best smooth loss **1.4787** at update 130,874, in epoch 3 (which ends at "
                        "update 132,903); final 1.5302.")
    assert p.endswith("The smooth loss at the handout's checkpoints (seed 3):")
    assert "in epoch 1 (which ends at update 44,301)" in prose.smooth_loss_paragraph(_run(44301))
    assert "in epoch 2 (which ends at update 88,602)" in prose.smooth_loss_paragraph(_run(44302))


def test_samples_intro_one_sample_or_several():
    several = prose.samples_intro(_run(10))
    assert several.startswith("200 characters sampled before the first update and then every 10,000 "
                              "updates,")
    assert several.endswith("(inverse-CDF sampling, temperature 1.0).")
    one = prose.samples_intro(_run(10, n_samples=1, top_p=0.9))
    assert "then every" not in one and one.endswith("temperature 1.0, top-p 0.9).")
    assert prose.sample_title(0) == "before the first update"
    assert prose.sample_title(20000) == "after 20,000 updates"


def test_best_passage():
    s = prose.best_passage({"text": "a" * 1000, "update": 130874, "smooth_loss": 1.478712})
    assert s.startswith("1,000 characters from the model with the lowest smooth loss (1.4787, "
                        "update 130,874), starting from the hidden state")


def _study():
    rows = []
    for i, (label, T, p) in enumerate(SAMPLING_SETTINGS):
        rows.append({"label": label, "temperature": T, "top_p": p, "known_word_fraction": 0.5 + i / 20,
                     "distinct_2_words": 0.9 - i / 20, "longest_repeat_len": 10 + i})
    return rows


def test_sampling_summary_compares_plain_cold_hot_and_nucleus():
    rows = _study()  # i: 0 plain, 1 T 0.5, 3 T 1.3, 4 top-p 0.5
    s = prose.sampling_summary(rows)
    assert s == ("Sharper sampling trades diversity for correctness: at T = 0.5 55% of the words are "
                 "real (plain sampling: 50%), but distinct-2 falls from 0.90 to 0.85 and the longest "
                 "repeat grows from 10 to 11 characters; top-p 0.5 behaves alike (70% real words, "
                 "distinct-2 0.70); at T = 1.3 only 65% of the words are real.")
    assert prose.sampling_summary(rows[::-1]) == s  # found by setting, not by position
    assert prose.sampling_summary(rows[:1]) == ""  # nothing to compare with


def _row(variant, m, loss, wall, chars_per_s=1000.0, description="d", std=0.01, seeds=(1, 2, 3),
         chars=22_400_000, dtype="float64"):
    return {"variant": variant, "description": description, "m": m, "best_val_loss": loss,
            "best_val_loss_mean": loss, "best_val_loss_std": std, "seeds": list(seeds),
            "best_val_bits_per_char": loss / 0.6931471805599453, "wall_time_s": wall,
            "chars_per_s": chars_per_s, "chars": chars, "dtype": dtype}


def _summary(m256_loss, best_loss):
    rows = [_row("sequential", 100, 1.50, 900, 25000), _row("chunks", 100, 1.52, 880),
            _row("B32", 100, 1.55, 100, 224000), _row("m256", 256, m256_loss, 200),
            _row("best", 256, best_loss, 324, description="m 256, cosine")]
    return {"rows": rows, "winner": min(rows, key=lambda r: r["best_val_loss"])["variant"]}


def test_a_winner_with_m_256_is_explained_by_capacity():
    s = _summary(1.30, 1.2882)
    assert prose.winner_sentence(s) == ("**Winner: best** (m 256, cosine), best validation loss 1.2882 "
                                        "nats/char (1.858 bits/char) after 5.4 minutes of training.")
    why = prose.why_sentences(s)
    assert "With m = 100 the variants end within 0.050 nats of each other (best: sequential, 1.5000)" in why
    assert "B = 32 processed the same characters 9.0 times faster" in why
    assert "(224,000 against 25,000 characters/s)" in why
    assert "That speed buys capacity: m = 256 with 32 streams reaches 1.3000." in why
    assert why.endswith("bring it to 1.2882 in 5.4 minutes.")


def test_a_winner_with_m_100_is_not_credited_to_capacity():
    s = _summary(1.60, 1.58)
    assert prose.winner_sentence(s).startswith("**Winner: sequential** (d), best validation loss 1.5000")
    assert prose.winner_sentence(s).endswith("after 15.0 minutes of training.")
    why = prose.why_sentences(s)
    assert "With m = 100" in why and "buys capacity" not in why and "Longer sequences" not in why
    short = {"rows": [_row("B8", 100, 1.7, 45)], "winner": "B8"}
    assert prose.winner_sentence(short).endswith("after 45 seconds of training.")
    short["rows"][0]["wall_time_s"] = 0.34  # a tiny budget: not "0 seconds"
    assert prose.winner_sentence(short).endswith("after 0.3 seconds of training.")
    assert prose.why_sentences({"rows": [_row("m256", 256, 1.3, 45)], "winner": "m256"}) == ""


def test_experiments_intro():
    s = prose.experiments_intro(_summary(1.3, 1.2), 20)
    assert "for about 22.4 M characters and was evaluated on the held-out chunk 20 times" in s


def test_differences_are_called_real_only_beyond_the_seed_spread():
    rows = [_row("sequential", 100, 1.50, 90, std=0.01), _row("random", 100, 1.51, 90, std=0.01),
            _row("B8", 100, 1.56, 20, std=0.01)]
    why = prose.why_sentences({"rows": rows, "winner": "sequential"})
    assert "sequential beats B8 by more than the seed spread; the other differences are within it" in why
    rows[2]["best_val_loss"] = rows[2]["best_val_loss_mean"] = 1.515
    why = prose.why_sentences({"rows": rows, "winner": "sequential"})
    assert "None of these differences exceeds the seed spread" in why and "beats" not in why


def test_experiments_intro_names_budgets_seeds_and_float32():
    rows = [_row("sequential", 100, 1.5, 90, chars=4_000_000),
            _row("B8", 100, 1.55, 20, chars=4_000_000, dtype="float32"),
            _row("best", 256, 1.29, 300, chars=22_400_000, seeds=(1,), std=0.0, dtype="float32")]
    s = prose.experiments_intro({"rows": rows, "winner": "best"}, 20)
    assert "for about 4 M characters (best 22.4 M)" in s
    assert "sequential and B8 ran with 3 seeds each" in s and "mean ± standard deviation" in s
    assert "B8 and best computed in float32" in s


# ------------------------------------------------------------------ hidden units and baselines
from charrnn.report import findings  # noqa: E402


def _feature(name, score, probe, unit=3, sign=1, metric="AUC", applicable=True):
    return {"feature": name, "metric": metric, "applicable": applicable, "unit": unit,
            "sign": sign, "score": score, "probe_score": probe}


def _units(quote, line, paren=None, m=4, trained_holdout=0, left=(0.0, 0.6, 0.1, 0.0),
           right=(0.0, 0.1, 0.5, 0.2)):
    rows = [_feature("quote", *quote), _feature("line_position", *line, metric="|r|"),
            _feature("in_word", 0.97, 0.999),
            _feature("paren", *(paren or (None, None)), applicable=paren is not None)]
    return {"N": 55_377, "n_chunks": 20, "m": m, "trained_holdout": trained_holdout,
            "features": rows, "saturation": {"threshold": 0.99, "left": list(left),
                                             "right": list(right)}}


def test_units_paragraph_sorts_models_into_unit_probe_only_and_neither():
    reports = {"handout model": _units((0.93, 0.95, 17, -1), (0.41, 0.55)),
               "holdout model": _units((0.74, 0.91), (0.85, 0.9, 2, 1), trained_holdout=1)}
    lstm = {"hidden": 120, "states": {"h": _units((0.6, 0.7), (0.3, 0.5)),
                                      "c": _units((0.95, 0.97, 5, 1), (0.2, 0.3))}}
    text = findings.units_paragraph(reports, lstm)
    assert ("**`quote`** (AUC; strong from 0.9): a single quotation unit in the handout model "
            "(−17, 0.93) and the LSTM's $c_t$ (+5, 0.95); no single unit but a linear read-out of "
            "all units in the holdout model (probe 0.91, best unit 0.74): the information is "
            "there, spread over many units; neither a single unit nor the probe tracks it in the "
            "LSTM's $h_t$ (best unit 0.60, probe 0.70).") in text
    assert "a single line-position unit in the holdout model (+2, 0.85)" in text  # |r| >= 0.8
    assert "neither a single unit nor the probe tracks it in the handout model (best unit 0.41" in text
    assert "`paren` does not occur in this part of the text" in text
    assert "The probes of `in_word` (1.00, 1.00, 1.00, 1.00) are high for a trivial reason" in text
    # saturation: units 1 (0.7) and 2 (0.6) exceed one half; sorted fractions 0, 0.2, 0.6, 0.7
    assert ("2 of the handout model's 4 units and 2 of the holdout model's 4 units are saturated "
            "on more than half of the characters; the median unit on 60% and 60%.") in text
    assert "this one-layer LSTM (h = 120) has a quotation unit in its $c_t$." in text


def test_units_paragraph_without_an_lstm_or_any_unit():
    text = findings.units_paragraph({"handout model": _units((0.6, 0.7), (0.3, None))})
    assert "LSTM" not in text and "unit in" not in text and "read-out" not in text
    assert "the handout model (best unit 0.30, probe –)" in text


def test_units_intro_cites_the_paper_and_says_what_each_model_saw():
    text = findings.units_intro({"handout model": _units((0.6, 0.7), (0.3, 0.4)),
                                 "LSTM": {**_units((0.6, 0.7), (0.3, 0.4), trained_holdout=1),
                                          "m": None, "hidden": 120}})
    assert findings.KARPATHY_2015 in text and "arXiv 1506.02078, 2015" in text
    assert "the last 1/20 of the text (55,377 characters)" in text
    assert "**handout model** (m = 4, trained on the whole text, this part included)" in text


def _gated(model, bits, seq_length=50, schedule="cosine"):
    return {"model": model, "best_val_bits_per_char": bits, "chars": 4_000_000,
            "seq_length": seq_length, "lr_schedule": schedule}


def test_baselines_paragraph_compares_at_the_same_budget():
    vanilla = {**_gated("vanilla", 1.95, 25, "constant"), "chars": 4_000_000}
    gated = [_gated("LSTM h 120", 1.90), _gated("GRU h 142", 1.85)]
    best = {"best_val_bits_per_char": 1.80, "chars": 22_400_000}
    text = findings.baselines_paragraph(vanilla, gated, best, spread=0.004)
    assert ("the vanilla RNN (m = 256) reaches 1.950 bits/char on the held-out chunk, against "
            "1.900 for the LSTM h 120 and 1.850 for the GRU h 142: the GRU h 142 is 0.100 bits/char "
            "(5.1%) better.") in text
    assert "through 50 characters with a cosine learning rate, the m256 variant through 25" in text
    assert "up to 0.004 nats/char" in text and "5.6 times as many characters" in text
    worse = findings.baselines_paragraph({**vanilla, "seq_length": 50, "lr_schedule": "cosine"},
                                         [_gated("LSTM h 120", 2.05)])
    assert "the vanilla RNN is 0.100 bits/char better than the best gated model" in worse
    assert "backpropagate" not in worse and "single seed." in worse
    missing = findings.baselines_paragraph(None, gated)
    assert "add `m256` to `EXPERIMENTS`" in missing and "1.850 for the GRU h 142 bits/char" in missing


def test_the_literature_numbers_are_the_ones_checked():
    assert "War and Peace" in findings.LITERATURE and findings.KARPATHY_2015 in findings.LITERATURE
    assert not any(ch.isdigit() for ch in findings.LITERATURE.replace(findings.KARPATHY_2015, ""))
