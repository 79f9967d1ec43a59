"""The report's sentences, checked for what they claim rather than how they say it: each generator
gets hand-made artifacts (with ties, reversals, one seed, equal values) and the test checks that
the numbers printed are the inputs at the printed precision and that every direction word agrees
with them (tests/test_prose_facts.py reads both). Exact wording is pinned only where it is the
contract, each time with the reason."""

import copy
import itertools
import math
import re

import pytest
from test_prose_facts import (
    assert_directions,
    assert_numbers_are,
    assert_printed,
    count,
    direction_errors,
    numbers,
)

from charrnn.report import findings, prose
from charrnn.studies.experiments import COMPARISONS, comparisons
from charrnn.studies.study import SAMPLING_SETTINGS


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
    # the worst of both presets and all lengths, the tolerances, the lengths; each error under its
    # tolerance ("or better (tolerance T)" is read by the direction check)
    assert_numbers_are(v, [5e-14, 1e-10, 4e-9, 1e-6, 1, 2, 25])
    assert_directions(v)
    assert "FAILED" not in v  # the verdict a reader scans for: the bold FAILED is the contract
    for p in ("adam", "adagrad"):
        suite[p]["config"]["seq_length"] = 10
        del suite[p]["by_seq_length"]["2"]
    both = prose.gradcheck_verdict(suite)
    assert_numbers_are(both, [5e-14, 1e-10, 4e-9, 1e-6, 1, 10])
    del suite["adagrad"]
    one = prose.gradcheck_verdict(suite)  # adam alone: its worst errors, its loss named
    assert_numbers_are(one, [3e-14, 1e-10, 2e-9, 1e-6, 1, 10])
    assert "mean" in one and "both" in both and "both" not in one


def test_a_failing_gradient_check_names_what_failed(suite):
    bad = copy.deepcopy(suite)
    bad["adam"]["by_seq_length"]["2"]["torch"]["W"].update(max_rel_err=2e-3, passed=False)
    v = prose.gradcheck_verdict(bad)
    assert "FAILED" in v
    # how a failure is located (parameter, preset, length, reference) is the contract: a reader
    # searches the report for it
    assert "W (adam preset, seq_length 2, vs PyTorch)" in v and "b (" not in v
    assert_numbers_are(v, [2e-3, 1e-10, 4e-9, 1e-6, 2])
    assert_directions(v)


def test_a_check_without_centered_differences_says_so(suite):
    for p in ("adam", "adagrad"):
        for block in (suite[p], *suite[p]["by_seq_length"].values()):
            del block["numeric"]
    v = prose.gradcheck_verdict(suite)
    assert "not computed" in v and "nan" not in v
    assert_numbers_are(v, [5e-14, 1e-10, 1, 2, 25])  # no tolerance of a comparison not made


def test_caption_and_shorter_sequences(suite):
    c = prose.gradcheck_caption("adagrad", suite["adagrad"])
    assert_numbers_are(c, [25, 4.38201])
    assert all(w in c for w in ("sum", "adagrad", "`small`"))
    s = prose.shorter_sequences("adam", suite["adam"])
    parts = {numbers(p)[0][0]: p for p in s.split("): ", 1)[1].split("; ")}  # each opens with its length
    for T, d in ((1, 2), (2, 4)):  # each length's own errors, vs PyTorch and vs differences
        assert_numbers_are(parts[T], [T, 3e-14 / d, 2e-9 / d])
    assert prose.shorter_sequences("adam", {**suite["adam"], "by_seq_length": {}}) == ""


def _run(best_update, per_epoch=44301, n_samples=16, temperature=0.8, top_p=1.0):
    return {"metrics": {"best_smooth_loss": 1.47871, "best_update": best_update, "final_smooth_loss": 1.5302,
                        "updates_per_epoch": per_epoch, "seed": 3},
            "config": {"sample_length": 200, "sample_every": 10000, "temperature": temperature,
                       "top_p": top_p},
            "samples": [{"update": 10000 * i, "text": "x"} for i in range(n_samples)]}


@pytest.mark.parametrize("update, epoch, ends", [(130874, 3, 132903), (44301, 1, 44301), (44302, 2, 88602)])
def test_smooth_loss_paragraph_finds_the_epoch(update, epoch, ends):
    assert_numbers_are(prose.smooth_loss_paragraph(_run(update)), [1.47871, update, epoch, ends, 1.5302, 3])


def test_samples_intro_one_sample_or_several():
    assert_numbers_are(prose.samples_intro(_run(10)), [200, 10000, 0.8])  # top-p 1: not mentioned
    one = prose.samples_intro(_run(10, n_samples=1, top_p=0.9))
    assert_numbers_are(one, [200, 0.8, 0.9])  # one sample: no interval
    assert numbers(prose.sample_title(0)) == [] and "before" in prose.sample_title(0)
    assert_numbers_are(prose.sample_title(20000), [20000])


def test_best_passage_by_smooth_or_validation_loss():
    s = prose.best_passage({"text": "a" * 1000, "update": 130874, "smooth_loss": 1.478712})
    assert_numbers_are(s, [1000, 1.478712, 130874])
    v = prose.best_passage({"text": "a" * 10, "update": 500, "criterion": "val_loss",
                            "smooth_loss": None, "loss": 1.61234})
    assert_numbers_are(v, [10, 1.61234, 500])
    assert "validation" in v


# ------------------------------------------------------------------ the sampling study

def _sampled(label, T, p, known, d2, repeat, spread=0.0, n=2):
    """A sampled row whose ``n`` samples are spread evenly, ``spread`` on either side of each
    value (0: every sample equal, so the 95 % t-intervals are points and any printed difference
    is one); the row's own values are its first sample's."""
    offsets = [spread * (2 * j / (n - 1) - 1) for j in range(n)] if n > 1 else [0.0]
    samples = {k: [v + o * (v if k == "longest_repeat_len" else 1) for o in offsets]
               for k, v in (("known_word_fraction", known), ("distinct_2_words", d2),
                            ("longest_repeat_len", repeat))}
    return {"label": label, "temperature": T, "top_p": p, "beam": None,
            **{k: v[0] for k, v in samples.items()}, "samples": samples}


def _sampling_rows(plain, cold, hot=(0.45, 0.95, 9), nucleus=(0.70, 0.70, 14), spread=0.0, n=2):
    """The study's rows, (known-word fraction, distinct-2, longest repeat) for plain sampling, the
    lowest temperature, the highest and the smallest top-p; the other settings copy plain. Each
    row has ``n`` samples, ``spread`` about its values (see :func:`_sampled`)."""
    values = {(1.0, 1.0): plain, (0.5, 1.0): cold, (1.3, 1.0): hot, (1.0, 0.5): nucleus}
    return [_sampled(label, T, p, *values.get((T, p), plain), spread=spread, n=n)
            for label, T, p in SAMPLING_SETTINGS]


def _sign(a, b, digits):  # the order of a and b as printed with that many decimals
    a, b = round(a, digits), round(b, digits)
    return (b > a) - (b < a)


#: The sampling summary's claims, each with the phrase that makes it (one place to edit).
TRADE, ALIKE, ONLY = "trades diversity for correctness", "behaves alike", "only"
#: What the summary says of a difference its intervals do not show, and of one sample.
OVERLAP, ONE = "within the intervals", "one sample: no interval"


def test_the_old_fixed_verbs_fail_the_checker_and_the_numbers_decide_now(monkeypatch):
    rows = _sampling_rows(plain=(0.50, 0.90, 19), cold=(0.55, 0.85, 18))  # the PDF's numbers

    def old_shift(a, b, key, spec, up, down, unit=""):  # the old sentence: distinct-2 always
        verb = down if up == "rises" else up              # fell, the longest repeat always grew
        return f"{verb} from {a[key]:{spec}} to {b[key]:{spec}}{unit}"

    monkeypatch.setattr(prose, "_shift", old_shift)
    assert direction_errors(prose.sampling_summary(rows)) == ["grows from 19 to 18"]
    monkeypatch.undo()
    s = prose.sampling_summary(rows)
    assert_directions(s)
    assert_printed(s, 19, 18, 0.90, 0.85)


def test_sampling_summary_claims_what_its_numbers_show():
    """With every sample equal (point intervals) a claim follows the printed numbers."""
    plain = (0.50, 0.90, 19)
    cases = itertools.product((0.55, 0.50, 0.504, 0.45),    # cold real words: up, tie, printed tie, down
                              (0.85, 0.90, 0.9049, 0.95),   # cold distinct-2
                              (18, 19, 25),                 # cold longest repeat: the PDF's, tie, up
                              (0.45, 0.50, 0.60),           # hot real words
                              ((0.70, 0.70), (0.40, 0.95)))  # nucleus: like cold, or not
    for known, d2, repeat, hot_known, (n_known, n_d2) in cases:
        rows = _sampling_rows(plain, (known, d2, repeat), (hot_known, 0.95, 9), (n_known, n_d2, 14))
        s = prose.sampling_summary(rows)
        case = f"{known, d2, repeat, hot_known, n_known, n_d2}: {s}"
        assert_directions(s)
        assert_printed(s, 0.5, 100 * known, 50, 0.90, d2, 19, repeat, 0.5, 100 * n_known, n_d2, 1.3,
                       100 * hot_known)
        cold_moves = (_sign(50, 100 * known, 0), _sign(0.90, d2, 2))
        assert (TRADE in s) == (cold_moves == (1, -1)), case
        assert (ALIKE in s) == ((_sign(50, 100 * n_known, 0), _sign(0.90, n_d2, 2)) == cold_moves), case
        assert (f"{ONLY} " in s) == (_sign(50, 100 * hot_known, 0) < 0), case
        assert (f"is 0.90 against {d2:.2f} ({OVERLAP})" in s) == (_sign(0.90, d2, 2) == 0), case
        assert ONE not in s
        assert prose.sampling_summary(rows[::-1]) == s  # found by setting, not by position
    assert prose.sampling_summary(rows[:1]) == ""  # nothing to compare with
    assert prose.sampling_summary([r for r in rows if r["temperature"] >= 1]) == ""  # no lower T


def _sampling_claims(s):
    """(trade, alike, only, the distinct-2 clause's verb) of a sampling summary."""
    verb = re.search(r"distinct-2 (rises|falls|is)", s).group(1)
    return TRADE in s, ALIKE in s, f"{ONLY} " in s, verb


@pytest.mark.parametrize("spread, n, want", [
    # clear: the intervals of 5 samples, 0.01 either side, are far apart
    (0.01, 5, (True, True, True, "falls")),
    # overlap: 0.2 either side, the intervals of real words and distinct-2 overlap plain's: no
    # trade, no "only"; top-p is as indistinguishable from plain as T = 0.5 (alike)
    (0.20, 5, (False, True, False, "is")),
    # a single sample: no interval, so nothing is claimed, whatever the numbers
    (0.0, 1, (False, False, False, "is")),
])
def test_a_difference_is_claimed_only_when_the_intervals_show_it(spread, n, want):
    rows = _sampling_rows(plain=(0.50, 0.90, 19), cold=(0.80, 0.60, 40), hot=(0.30, 0.99, 9),
                          nucleus=(0.85, 0.55, 30), spread=spread, n=n)
    s = prose.sampling_summary(rows)
    assert _sampling_claims(s) == want, s
    assert_directions(s)
    assert_printed(s, 80, 50, 0.90, 0.60, 19, 40, 30)  # the means, as the table prints them
    if n == 1:  # says why it claims nothing
        assert f"({ONE})" in s and "no difference is claimed" in s and "t-interval" not in s
    else:  # says how it decides
        assert "95% t-intervals over the 5 samples do not overlap" in s
        assert (f"({OVERLAP})" in s) == (spread > 0.1)


def test_a_reversal_is_said_as_a_reversal():
    """A lower temperature with fewer real words and more diversity (clear intervals): no trade,
    and distinct-2 rises."""
    rows = _sampling_rows(plain=(0.50, 0.90, 19), cold=(0.40, 0.97, 12), spread=0.01, n=5)
    s = prose.sampling_summary(rows)
    assert TRADE not in s and "distinct-2 rises from 0.90 to 0.97" in s
    assert "the longest repeat shrinks from 19 to 12 characters" in s
    assert_directions(s)


def test_the_means_decide_not_the_first_sample():
    """The first sample of cold says "more real words"; the mean of its samples says fewer."""
    rows = _sampling_rows(plain=(0.50, 0.90, 19), cold=(0.55, 0.85, 18))
    cold = next(r for r in rows if r["temperature"] == 0.5)
    cold["samples"]["known_word_fraction"] = [0.55, 0.30, 0.30, 0.30, 0.30]  # mean 0.35
    s = prose.sampling_summary(rows)
    assert "T = 0.5 35% of the words are real" in s and TRADE not in s


def test_sampling_summary_adds_beam_search_read_off_its_numbers():
    plain = (0.50, 0.90, 19)
    rows = _sampling_rows(plain, cold=(0.55, 0.85, 18))
    without = prose.sampling_summary(rows)
    head, tail = without.split(" A difference is claimed")
    for known, d2, repeat in ((1.0, 0.01, 1971), (0.40, 0.95, 12), (0.50, 0.90, 19)):
        beam = {"label": "beam 8", "temperature": None, "top_p": None, "beam": 8,
                "known_word_fraction": known, "distinct_2_words": d2, "longest_repeat_len": repeat}
        for ordered in (rows + [beam], [beam] + rows):  # found by its beam, not by position
            s = prose.sampling_summary(ordered)
            assert s.startswith(head + " Beam search (beam 8): "), s
            assert s.endswith(" A difference is claimed" + tail)  # the rule, once, at the end
            clause = s[len(head):-len(" A difference is claimed" + tail)]
            assert_directions(clause)
            assert_numbers_are(clause, [8, 100 * known, 0.90, 19, d2, repeat])
            assert (OVERLAP in clause) == (d2 == 0.90)  # a point against a point: a tie
    assert prose.sampling_summary(rows[:1] + [beam]) == ""  # no lower T: nothing, beam or not


@pytest.mark.parametrize("book_known, spread, verdict", [
    (0.97, 0.01, "below the book's"),           # clear: the ceiling is above the best setting
    (0.80, 0.15, "within the book's interval"),  # overlap: no claim
    (0.60, 0.01, "above the book's"),           # reversal (a made-up case): said as such
    (0.97, 0.0, "one sample: no interval to compare"),  # one passage
])
def test_the_book_row_is_the_ceiling_read_off_its_interval(book_known, spread, verdict):
    rows = _sampling_rows(plain=(0.50, 0.90, 19), cold=(0.80, 0.60, 40), nucleus=(0.85, 0.55, 30),
                          spread=0.01, n=5)
    book = {**_sampled("book text (test chunk)", None, None, book_known, 0.95, 20, spread=spread,
                       n=5 if spread else 1)}
    del book["temperature"], book["top_p"], book["beam"]
    s = prose.sampling_summary(rows, book)
    book_clause = s[s.index(" Real text of the book"):s.index(" A difference")]
    assert_numbers_are(book_clause, [100 * book_known, 50, 85, 0.5])  # 0.5: "top-p 0.5"
    assert f"(top-p 0.5: {verdict})" in book_clause, book_clause
    assert s.startswith(prose.sampling_summary(rows).split(" A difference")[0])


def _row(variant, m, loss, wall, chars_per_s=1000.0, description="d", std=0.01, seeds=(1, 2, 3),
         chars=22_400_000, dtype="float64", losses=None):
    n = len(seeds)  # per-seed losses of mean loss and sample std std (for n = 3: loss -+ std)
    losses = losses or ([loss] if n == 1 else
                        [loss + std * math.sqrt((n - 1) / 2) * x for x in [-1, 1] + [0] * (n - 2)])
    return {"variant": variant, "description": description, "m": m, "best_val_loss": loss,
            "loss": loss,
            "best_val_losses": losses, "losses": losses, "loss_std": std, "measure": "test",
            "test_fraction": 0.5,
            "bits_per_char": loss / 0.6931471805599453,
            "best_val_loss_mean": loss, "best_val_loss_std": std, "seeds": list(seeds),
            "best_val_bits_per_char": loss / 0.6931471805599453, "wall_time_s": wall,
            "chars_per_s": chars_per_s, "chars": chars, "dtype": dtype}


def _summary(m256_loss, best_loss, b32_speed=224000):
    rows = [_row("sequential", 100, 1.50, 900, 25000), _row("chunks", 100, 1.52, 880),
            _row("B32", 100, 1.55, 100, b32_speed), _row("m256", 256, m256_loss, 200, seeds=(1,)),
            _row("best", 256, best_loss, 324, description="m 256, cosine", seeds=(1,))]
    return {"rows": rows, "winner": min(rows, key=lambda r: r["best_val_loss"])["variant"]}


def test_winner_sentence():
    w = prose.winner_sentence(_summary(1.30, 1.2882))
    assert "best" in w and "m 256, cosine" in w
    assert_numbers_are(w, [256, 1.2882, 1.2882 / math.log(2), 5.4])  # its description; nats, bits, minutes
    # _duration's unit and precision are its contract (minutes from 2 on, tenths under 10 s)
    assert w.endswith("5.4 minutes of training.")
    assert "15.0 minutes" in prose.winner_sentence(_summary(1.60, 1.58))
    short = {"rows": [_row("B8", 100, 1.7, 45)], "winner": "B8"}
    assert "45 seconds" in prose.winner_sentence(short)
    # budgets per comparison: the long run's against the largest other budget (8 M against 2 M)
    mixed = {"rows": [_row("B8", 100, 1.7, 9, chars=1_000_000), _row("m256", 256, 1.5, 25,
                                                                     chars=2_000_000),
                      _row("best", 256, 1.35, 97, chars=8_000_000, seeds=(1,))], "winner": "best"}
    assert "with 4.0 times the training characters of any other variant" in \
        prose.winner_sentence(mixed)
    short["rows"][0]["wall_time_s"] = 0.34  # a tiny budget: not "0 seconds"
    assert "0.3 seconds" in prose.winner_sentence(short)


def test_why_sentences_claim_what_the_losses_and_speeds_show():
    cases = itertools.product((224000, 25000, 26000, 12500),  # B32: faster, same, 1.04 (prints 1.0), slower
                              (1.30, 1.50, 1.49996, 1.60),     # m256 against the best m = 100 (1.50)
                              (1.2882, 1.30, 1.35))            # best against m256
    for speed, m256, best in cases:
        summary = _summary(m256, best, speed)
        why = prose.why_sentences(summary)
        # the tests' sentence has a test of its own; the claims on m256 and best are the rest
        why = why.replace(prose.significance_sentences(comparisons(summary["rows"])), "")
        case = f"{speed, m256, best}: {why}"
        assert_directions(why)
        assert_printed(why, 0.05, 1.50, speed, 25000)  # the m = 100 spread and best, the speeds
        ratio = round(speed / 25000, 1)
        assert ("times faster" in why) == (ratio > 1) and ("times slower" in why) == (ratio < 1), case
        shown_m256 = _sign(1.50, m256, 4) < 0  # below the best m = 100 variant, as printed
        # each loss is printed once where it is said, and once more where it prints like another;
        # the long run's is always said (one seed: no claim that it beats anything)
        same = round(best, 4) == round(m256, 4)
        assert count(why, m256) == shown_m256 + (round(m256, 4) == 1.5) + same, case
        assert count(why, best) == 1 + (shown_m256 and same) + (round(best, 4) == 1.5), case
        assert "The long run is m256's recipe: " in why, case  # the same budget: no "1.0 times"
        assert "not tested against the others" in why and "beats" not in why, case
        assert ("speed buys" in why) == (shown_m256 and ratio > 1), case
    assert prose.why_sentences({"rows": [_row("m256", 256, 1.3, 45)], "winner": "m256"}) == ""


def test_one_m_100_variant_has_no_spread():
    why = prose.why_sentences({"rows": [_row("B8", 100, 1.5, 20)], "winner": "B8"})
    assert_numbers_are(why, [100, 1.5])  # m = 100, its loss: no "within 0.000 nats of each other"
    assert "B8" in why


def _claims(why):
    """[(winner, loser)] from every "X beats Y by" of the sentence."""
    return re.findall(r"(\S+) beats (\S+) by", why)


def test_every_significant_difference_is_said_and_no_other():
    from scipy import stats

    def case(losses):  # variant -> per-seed losses
        rows = [_row(v, 100, sum(xs) / len(xs), 90, seeds=range(len(xs)), losses=xs)
                for v, xs in losses.items()]
        return rows, prose.why_sentences({"rows": rows, "winner": rows[0]["variant"]})

    cases = [
        {"sequential": [1.59, 1.592, 1.594], "random": [1.561, 1.562, 1.564],
         "B8": [1.56, 1.566, 1.57]},                                      # two below sequential
        {"sequential": [1.50, 1.51, 1.52], "random": [1.55, 1.56, 1.57]},  # a reversal
        {"sequential": [1.50, 1.51, 1.52], "random": [1.50, 1.51, 1.52]},  # a tie
        {"sequential": [1.50, 1.53, 1.56], "random": [1.51, 1.54, 1.57]},  # within the noise
        {"sequential": [1.5, 1.5], "random": [1.6, 1.6]},                  # no spread at all
        {"sequential": [1.50, 1.51, 1.52, 1.53, 1.54], "random": [1.55, 1.56, 1.57]},  # 5 and 3
    ]
    for losses in cases:
        rows, why = case(losses)
        expected = set()
        pairs = [(a, b) for a, b in itertools.combinations(losses, 2)
                 if {a, b} in [set(c) for c in COMPARISONS]]  # the pairs the report tests
        for a, b in pairs:
            xa, xb = losses[a], losses[b]
            ma, mb = sum(xa) / len(xa), sum(xb) / len(xb)
            if min(xa) == max(xa) and min(xb) == max(xb):
                p = float(ma == mb)
            else:
                p = stats.ttest_ind(xa, xb, equal_var=False).pvalue
            if p < 0.05 and round(ma, 4) != round(mb, 4):
                expected.add((a, b) if ma < mb else (b, a))
        assert set(_claims(why)) == expected, (losses, why)
        n = len(pairs)
        assert f"finds {len(expected)} of the {n} differences significant" in why, why
        assert ("not significant does not mean equal" in why) == (len(expected) < n), why
        assert_directions(why)
    rows, why = case({"sequential": [1.5], "random": [1.6]})  # one seed each: nothing to test
    assert "Welch" not in why and "beats" not in why


def test_welch_matches_the_hand_computed_test():
    from charrnn.studies.experiments import welch

    a = {"variant": "a", "losses": [1.0, 1.1, 1.05]}
    b = {"variant": "b", "losses": [1.3, 1.2, 1.25]}
    t = welch(a, b)
    se = math.sqrt(0.0025 / 3 + 0.0025 / 3)  # both sample variances are 0.05^2
    assert t["diff"] == pytest.approx(-0.2) and t["t"] == pytest.approx(-0.2 / se)
    assert t["df"] == pytest.approx(4.0)  # Welch-Satterthwaite with equal variances and n: 2(n-1)
    assert t["p"] == pytest.approx(0.008050, abs=1e-6) and t["significant"]
    assert t["ci_low"] == pytest.approx(-0.2 - 2.776445 * se, abs=1e-5)  # t_{0.975, 4} = 2.776445
    assert welch(a, {"variant": "c", "losses": [1.0]}) is None


def test_experiments_intro_names_budgets_seeds_and_float32():
    s = prose.experiments_intro(_summary(1.3, 1.2), 20)
    assert_printed(s, 22.4, 20)
    rows = [_row("sequential", 100, 1.5, 90, chars=4_000_000),
            _row("B8", 100, 1.55, 20, chars=4_000_000, dtype="float32"),
            _row("best", 256, 1.29, 300, chars=22_400_000, seeds=(1,), std=0.0, dtype="float32")]
    s = prose.experiments_intro({"rows": rows, "winner": "best"}, 20)
    sentences = re.split(r"(?<=\.) ", s)
    first = sentences[0]
    assert_printed(first, 4, 22.4, 20)  # the common budget, best's larger one
    assert "best" in first
    named = {v: [t for t in sentences if re.search(rf"\b{v}\b", t)] for v in ("sequential", "B8", "best")}
    seeded = [t for t in sentences if "seeds" in t]
    assert len(seeded) == 1 and count(seeded[0], 3)  # three seeds each
    assert {v for v, ts in named.items() if seeded[0] in ts} == {"sequential", "B8"}
    f32 = [t for t in sentences if "float32" in t]
    assert len(f32) == 1 and {v for v, ts in named.items() if f32[0] in ts} == {"B8", "best"}
    assert "seeds" not in prose.experiments_intro({"rows": rows[2:], "winner": "best"}, 20)
    # budgets per comparison: each budget with its variants; one budget: no list
    assert "(sequential and B8: 4 M; best: 22.4 M)" in first
    # within a budget the rows keep their order, although their characters differ a little
    odd = [dict(rows[0], chars=2_000_000), dict(rows[1], chars=1_999_200), rows[2]]
    assert "(sequential and B8: 2 M; best: 22.4 M)" in prose.experiments_intro(
        {"rows": odd, "winner": "best"}, 20)
    one = prose.experiments_intro({"rows": rows[:2], "winner": "B8"}, 20)
    assert "for about 4 M characters" in one and "per comparison" not in one
    # the split as the runs made it: validation chooses, test scores; without test: validation
    assert "first 50% is the validation text" in s and "the last 50% is the test text" in s
    quarter = [dict(r, test_fraction=0.25) for r in rows]
    assert "first 75%" in prose.experiments_intro({"rows": quarter, "winner": "best"}, 20)
    val = prose.experiments_intro({"rows": [dict(r, measure="validation") for r in rows],
                                   "winner": "best"}, 20)
    assert "test text" not in val and "evaluated on the held-out chunk 20 times" in val


# ------------------------------------------------------------------ hidden units and baselines

def _feature(name, score, probe, unit=3, sign=1, metric="AUC", applicable=True):
    return {"feature": name, "metric": metric, "applicable": applicable, "unit": unit,
            "sign": sign, "score": score, "probe_score": probe}


def _units(quote, line, paren=None, m=4, trained_holdout=0, left=(0.0, 0.6, 0.1, 0.0),
           right=(0.0, 0.1, 0.5, 0.2), in_word=0.999):
    rows = [_feature("quote", *quote), _feature("line_position", *line, metric="|r|"),
            _feature("in_word", 0.97, in_word),
            _feature("paren", *(paren or (None, None)), applicable=paren is not None)]
    return {"N": 55_377, "n_chunks": 20, "m": m, "trained_holdout": trained_holdout,
            "features": rows, "saturation": {"threshold": 0.99, "left": list(left),
                                             "right": list(right)}}


#: The three places a feature sentence puts a model, by the phrase that opens each clause.
PLACES = {r"(?<!neither )a single": "unit", r"no single unit": "probe", r"neither": "neither"}


def _placed(text, feature, label):
    """(where the feature's sentence puts the model, the numbers in its parentheses)."""
    sentence = re.split(r"\.(?=\s|$)", text[text.index(f"**`{feature}`**"):])[0]
    at = sentence.index(f"the {label} (")
    where = max(PLACES, key=lambda k: max([m.start() for m in re.finditer(k, sentence[:at])], default=-1))
    return PLACES[where], sentence[at + len(f"the {label} ("):].split(")")[0]


def test_units_paragraph_puts_each_model_where_its_scores_are():
    reports = {"handout model": _units((0.93, 0.95, 17, -1), (0.41, 0.55)),
               "holdout model": _units((0.74, 0.91), (0.8, 0.9, 2, 1), trained_holdout=1)}  # |r| 0.8: strong
    lstm = {"hidden": 120, "states": {"h": _units((0.6, 0.7), (0.3, 0.5)),
                                      "c": _units((0.95, 0.97, 5, 1), (0.9, 0.3))}}
    text = findings.units_paragraph(reports, lstm)
    every = {**reports, **{f"LSTM's ${k}_t$": v for k, v in lstm["states"].items()}}
    for label, rep in every.items():
        for f in (f for f in rep["features"] if f["applicable"] and f["feature"] != "in_word"):
            where, inside = _placed(text, f["feature"], label)
            strong = {"AUC": 0.9, "|r|": 0.8}[f["metric"]]
            expected = ("unit" if f["score"] >= strong else
                        "probe" if (f["probe_score"] or 0) >= strong else "neither")
            assert where == expected, (label, f)
            assert_printed(inside, f["score"], *([f["probe_score"]] if where != "unit" else []))
            if where == "unit":  # the unit with its sign: a minus sign, as in the table
                assert inside.startswith(("+" if f["sign"] > 0 else "\u2212") + str(f["unit"])), inside
    assert "`paren`" in text and "**`paren`**" not in text  # named as absent, with no sentence of scores
    cells = set(re.findall(r"a (\S+) unit in its \$(\w)_t\$", text))  # the LSTM's single units
    assert cells == {("quotation", "c"), ("line-position", "c")}
    # saturation: units 1 (0.7) and 2 (0.6) exceed one half; the median unit is the middle one
    # of the sorted fractions 0, 0.2, 0.6, 0.7 (the upper one of an even count): 60%
    sat = re.findall(r"(\d+) of the (.+?)'s (\d+) units", text)
    assert sat == [("2", "handout model", "4"), ("2", "holdout model", "4")]
    assert count(text.split("median")[1], 60) == 2


@pytest.mark.parametrize("probes, high", [((0.999,) * 2, True), ((0.999, 0.6), False), ((0.9, 0.904), True),
                                          ((0.894, 0.999), False)])
def test_the_in_word_probes_are_called_high_only_when_they_are(probes, high):
    reports = {f"model {i}": _units((0.6, 0.7), (0.3, 0.4), in_word=p) for i, p in enumerate(probes)}
    text = findings.units_paragraph(reports)
    part = text[text.index("`in_word`"):]
    assert_printed(part, *probes)
    assert ("are high" in part) == high, part


def test_units_paragraph_without_an_lstm_or_any_unit():
    text = findings.units_paragraph({"handout model": _units((0.6, 0.7), (0.3, None))})
    assert "LSTM" not in text
    assert [_placed(text, f, "handout model")[0] for f in ("quote", "line_position")] == ["neither"] * 2
    assert _placed(text, "line_position", "handout model")[1].endswith("–")  # no probe: a dash


def test_units_intro_cites_the_paper_and_says_what_each_model_saw():
    text = findings.units_intro({"handout model": _units((0.6, 0.7), (0.3, 0.4)),
                                 "LSTM": {**_units((0.6, 0.7), (0.3, 0.4), trained_holdout=1),
                                          "m": None, "hidden": 120}})
    assert findings.KARPATHY_2015 in text  # the citation is the contract
    assert_printed(text, 20, 55_377)
    handout, lstm = (text.split(f"**{label}**")[1].split(")")[0] for label in ("handout model", "LSTM"))
    assert_numbers_are(handout, [4])
    assert_numbers_are(lstm, [120])
    assert "never saw" not in handout and "never saw" in lstm


def _with_controls(trained, untrained, inputs, seed=1):
    """A units JSON whose features have (best unit, probe) scores ``trained`` and the untrained
    network's ``untrained`` (feature -> (unit score, probe)); ``inputs``: the input-only probes."""
    def rows(scores):
        return [_feature(f, u, p, metric="|r|" if f == "line_position" else "AUC")
                for f, (u, p) in scores.items()]
    return {**_units((0.6, 0.7), (0.3, 0.4)), "features": rows(trained),
            "controls": {"untrained": untrained and {"seed": seed, "init": "scaled",
                                                     "features": rows(untrained)},
                         "input_only": {"features": [{"feature": f, "applicable": True,
                                                      "probe_score": p}
                                                     for f, p in inputs.items()]}}}


def _clause_of(sentence, feature):
    """The clause (between semicolons) of ``sentence`` that names ``feature``, and its words."""
    clause = next(c for c in sentence.split(";") if f"`{feature}`" in c)
    return clause, clause[clause.index(f"`{feature}`"):].split(")")[0]


@pytest.mark.parametrize("untrained_probe, verb", [(0.61, "raised"), (0.9034, "same"),
                                                   (0.95, "lowered"), (0.9026, "same")])
def test_the_controls_paragraph_says_which_way_training_moved_each_score(untrained_probe, verb):
    trained = {"quote": (0.93, 0.903), "line_position": (0.41, 0.55), "in_word": (0.97, 0.999)}
    untrained = {"quote": (0.71, untrained_probe), "line_position": (0.41, 0.30),
                 "in_word": (0.99, 0.9994)}
    inputs = {"quote": 0.903, "line_position": 0.62, "in_word": 0.99949}
    text = findings.controls_paragraph("handout model",
                                       _with_controls(trained, untrained, inputs, seed=3))
    assert "seed 3" in text and "`scaled`" in text
    probe, unit, against = [s for s in re.split(r"(?<=\.)\s+(?=[A-Z])", text)
                            if s.startswith(("Against", "Set against"))]
    assert "probe" in probe and "unit" in unit
    clause, quote = _clause_of(probe, "quote")
    assert verb in clause, clause  # the verb the printed numbers give, 3 decimals
    assert_numbers_are(quote, [0.903] if verb == "same" else [untrained_probe, 0.903])
    assert "raised" in _clause_of(probe, "line_position")[0]
    assert "same" in _clause_of(probe, "in_word")[0]  # 0.999 both, as printed
    assert "raised" in _clause_of(unit, "quote")[0] and "same" in _clause_of(unit, "line_position")[0]
    assert "lowered" in _clause_of(unit, "in_word")[0]
    assert_numbers_are(_clause_of(unit, "in_word")[1], [0.99, 0.97])
    # against the input alone: quote the same (0.903), line_position below, in_word the same
    assert "same" in _clause_of(against, "quote")[0]
    assert "below" in _clause_of(against, "line_position")[0]
    assert_numbers_are(_clause_of(against, "line_position")[1], [0.55, 0.62])
    assert "same" in _clause_of(against, "in_word")[0]
    assert_directions(text)


def test_the_controls_paragraph_without_an_untrained_network_or_controls():
    trained = {"quote": (0.93, 0.91)}
    text = findings.controls_paragraph("holdout model", _with_controls(trained, None, {"quote": 0.6}))
    assert "does not give its seed" in text and "untrained network," not in text
    assert "above it for `quote`" in text
    assert_numbers_are(text.split("Set against")[1], [0.91, 0.6])
    assert findings.controls_paragraph("m", _units((0.6, 0.7), (0.3, 0.4))) == ""


def _gated(variant, losses, model=None, seq_length=50, schedule="cosine", chars=4_000_000,
           eta=0.064):
    loss = sum(losses) / len(losses)
    return {"variant": variant, "model": model or f"{variant} h 120", "losses": losses,
            "loss": loss, "bits_per_char": loss / math.log(2), "seeds": list(range(len(losses))),
            "chars": chars, "seq_length": seq_length, "lr_schedule": schedule, "eta": eta,
            "measure": "test"}


@pytest.mark.parametrize("vanilla_losses", [
    [1.35, 1.36, 1.37],       # the gated models significantly better
    [1.300, 1.301, 1.302],    # level with the GRU
    [1.25, 1.26, 1.27],       # the vanilla RNN better
    [1.28, 1.33, 1.38],       # within the noise
    [1.3],                    # one seed: nothing tested
])
def test_baselines_paragraph_claims_only_what_its_tests_show(vanilla_losses):
    vanilla = _gated("m256cos", vanilla_losses, "vanilla m 256", eta=0.002)
    gated = [_gated("LSTM", [1.31, 1.315, 1.32]), _gated("GRU", [1.299, 1.301, 1.303], "GRU h 142")]
    rows = [vanilla, *gated]
    tests = comparisons(rows)
    text = findings.baselines_paragraph(vanilla, gated, tests,
                                        {"bits_per_char": 1.80, "chars": 22_400_000})
    assert_directions(text)
    assert_printed(text, vanilla["bits_per_char"], gated[0]["bits_per_char"], 4.00, 1.80, 22.4 / 4)
    # a gated model is said to be better exactly when its test says so
    better = {t["a"] for t in tests if t["significant"] and t["b"] == "m256cos"}
    assert set(_claims(text)) == {(t["a"], t["b"]) for t in tests if t["significant"]}, text
    if len(vanilla_losses) < 2:
        assert "no difference is tested" not in text and "Welch" in text  # LSTM against GRU
    assert ("the gates pay off" in text) == bool(better), text
    assert ("no gated model is significantly better" in text) == (
        not better and any("m256cos" in (t["a"], t["b"]) for t in tests)), text
    if any("m256cos" in (t["a"], t["b"]) for t in tests):
        assert "each model has its own learning rate" in text  # eta differs: said, not hidden
    assert "5.6 times as many characters" in text


def test_baselines_paragraph_one_budget_one_seed_or_no_vanilla():
    same = findings.baselines_paragraph(_gated("m256cos", [1.42], "vanilla m 256"),
                                        [_gated("LSTM", [1.42])],
                                        [], {"bits_per_char": 1.9, "chars": 4_000_000})
    assert_directions(same)
    assert not count(same, 1.0)  # the same budget: no "1.0 times as many"
    assert "no difference is tested" in same and "one seed" in same
    gated = [_gated("LSTM", [1.30, 1.31]), _gated("GRU", [1.28, 1.29], "GRU h 142")]
    missing = findings.baselines_paragraph(None, gated)
    assert "add `m256cos` to `EXPERIMENTS`" in missing  # the instruction is the contract
    assert_printed(missing, 256, gated[0]["bits_per_char"], 120, gated[1]["bits_per_char"], 142)


def test_the_literature_paragraph_quotes_no_numbers():
    assert "War and Peace" in findings.LITERATURE and findings.KARPATHY_2015 in findings.LITERATURE
    assert not numbers(findings.LITERATURE.replace(findings.KARPATHY_2015, ""))


def test_the_best_model_paragraph_says_where_each_seed_s_best_update_read():
    def run(seed, best_update, order="sequential", per_epoch=44_000):
        return {"config": {"order": order, "batch_size": 1, "seq_length": 25,
                           "data_chars": 1_100_000},
                "metrics": {"seed": seed, "best_update": best_update, "updates_per_epoch": per_epoch}}

    same = [run(1, 42_200), run(2, 86_200), run(3, 130_300)]  # 1,054,975; 1,054,975; 1,057,475
    text = findings.best_model_paragraph(same)
    assert "In all 3 seeds" in text and "1,054,975" in text and "1,057,475" in text
    apart = [run(1, 42_200), run(2, 20_000)]  # 1,054,975 and 499,975: 50 % of the text apart
    text = findings.best_model_paragraph(apart)
    assert "same place" not in text and "499,975" in text and "1,054,975" in text
    one = findings.best_model_paragraph([run(1, 42_200)])
    assert "same place" not in one and "the update that reads from character 1,054,975" in one
    assert findings.best_model_paragraph([run(1, 5, order="random")]) == ""


def test_the_speed_ratio_says_when_it_mixes_batching_with_the_float_width():
    for b32, mixed in (("float32", True), ("float64", False)):
        rows = [_row("sequential", 100, 1.50, 900, 25000),
                _row("B32", 100, 1.55, 100, 224000, dtype=b32)]
        why = prose.why_sentences({"rows": rows, "winner": "sequential"})
        assert ("mixes batching with the float width (B = 32 in float32, the loop in float64)"
                in why) == mixed, why
        assert why.count("float32") == mixed, why  # said once, where it is explained


def test_the_float32_bound_is_set_against_the_differences_it_could_hide():
    def intro(b8_losses):
        rows = [_row("sequential", 100, 1.58, 90, seeds=range(3), losses=[1.57, 1.58, 1.59]),
                _row("B8", 100, sum(b8_losses) / 3, 20, seeds=range(3), losses=b8_losses,
                     dtype="float32")]
        return prose.experiments_intro({"rows": rows, "winner": "B8",
                                        "comparisons": comparisons(rows)}, 20)

    far = intro([1.54, 1.55, 1.56])  # 0.0300 below sequential
    assert "differences between a float32 and a float64 variant here are 0.0300 nats/char" in far
    assert "could not account for any of them" in far
    near = intro([1.573, 1.577, 1.581])  # 0.0030: within the bound
    assert "are 0.0030 nats/char" in near and "could account for the smallest of them" in near
    alone = [_row("B8", 100, 1.55, 20, dtype="float32")]
    assert "differences between" not in prose.experiments_intro(
        {"rows": alone, "winner": "B8", "comparisons": []}, 20)


def _heldout(seed, smooth, test, val=None):
    return {"metrics": {"seed": seed, "best_smooth_loss": smooth, "best_update": 130_000 + seed,
                        "best_val_loss": val or test - 0.01, "best_val_update": 150_000,
                        "test_loss": test, "n_test_chars": 27_689}}


@pytest.mark.parametrize("tests", [(1.60, 1.61, 1.62), (1.40, 1.41, 1.42), (1.47, 1.48, 1.49),
                                   (1.60,)])
def test_the_handout_model_s_test_loss_is_set_against_its_smooth_loss(tests):
    from charrnn.report.tables import heldout_markdown

    runs = [_heldout(k + 1, 1.48, t) for k, t in enumerate(tests)]
    text = findings.heldout_paragraph(runs)
    test, smooth = round(sum(tests) / len(tests), 4), 1.48
    assert_directions(text)
    assert_printed(text, test, test / math.log(2), smooth, 27_689)
    said = re.search(r": (\S+) nats/char (higher|lower)", text)
    if round(test - smooth, 4) == 0:
        assert said is None and "the same" in text
    else:
        assert said.group(2) == ("higher" if test > smooth else "lower")
        assert_printed(said.group(1), abs(test - smooth))
    assert ("one seed" in text) == (len(tests) == 1)
    table = heldout_markdown(runs).replace("\u00a0", " ")
    for r in runs:
        assert f"| {r['metrics']['test_loss']:.4f} |" in table
    assert ("mean ± std" in table) == (len(runs) > 1)
    assert findings.heldout_paragraph([]) == ""


def _ref(name, bits, kind="compressor"):
    return {"name": name, "bits_per_char": bits, "kind": kind, "note": ""}


@pytest.mark.parametrize("best", [1.60, 1.631, 1.6314, 2.20, 1.90])
def test_the_calibration_paragraph_says_which_references_a_model_beats(best):
    refs = [_ref("uniform", 6.322, "baseline"), _ref("PPMd", 1.631), _ref("bzip2 -9", 2.134),
            _ref("8-gram", 1.685, "n-gram")]
    models = [{"name": "long run", "bits_per_char": best}, {"name": "handout", "bits_per_char": 2.30}]
    text = findings.calibration_paragraph(refs, models)
    assert_directions(text)
    head = text.split(". ")[0]
    beaten = {r["name"] for r in refs if round(r["bits_per_char"], 3) > round(best, 3)}
    said_beats = head.split(" beats ")[1].split(" but not ")[0] if " beats none" not in head else ""
    assert {r["name"] for r in refs if r["name"] in said_beats} == beaten, text
    assert ("but not" in head or "beats none" in head) == (len(beaten) < len(refs)), text
    assert "The handout-size model, handout (2.300 bits/char)" in text
    adapt = "The compressors keep learning" in text
    assert adapt == any(r["kind"] == "compressor" and round(r["bits_per_char"], 3) < round(best, 3)
                        for r in refs), text
    assert findings.calibration_paragraph(refs, []) == ""


def test_the_capacity_sentence_follows_its_t_test():
    def summary(m256_losses):
        rows = [_row("B32", 100, 1.65, 10, 290000, seeds=range(3), losses=[1.64, 1.65, 1.66]),
                _row("m256", 256, sum(m256_losses) / 3, 40, 50000, seeds=range(3),
                     losses=m256_losses)]
        return {"rows": rows, "winner": "m256", "comparisons": comparisons(rows)}

    far = prose.why_sentences(summary([1.50, 1.51, 1.52]))  # significant
    assert "Capacity pays: m = 256 with 32 streams reaches 1.5100" in far
    near = prose.why_sentences(summary([1.50, 1.60, 1.70]))  # the same mean gap, within the noise
    assert "buys capacity" not in near and "Capacity pays" not in near
    assert "m = 256 with 32 streams reaches 1.6000; against B32 (m = 100) the t-test finds no " \
           "significant lead (p = " in near


def _curve(best, loss_at_1=1.5719, best_loss=1.5710, trained_holdout=1, bounds=(0.2, 5.0)):
    return {"best_temperature": best, "loss_at_1": loss_at_1, "best_loss": best_loss,
            "bounds": list(bounds), "n_chars": 27_687, "trained_holdout": trained_holdout,
            "temperatures": [0.5, 1.0, 2.0], "losses": [1.9, loss_at_1, 1.8]}


@pytest.mark.parametrize("best, where", [(0.8123, "below"), (0.9951, "at"), (1.0049, "at"),
                                         (1.036, "above"), (0.994, "below"), (1.006, "above")])
def test_the_temperature_paragraph_puts_the_best_t_where_its_number_is(best, where):
    text = findings.temperature_paragraph(_curve(best))
    assert_printed(text, best, 27_687)
    said = ("below" if "below 1" in text else "above" if "above 1" in text else
            "at" if "T = 1 is the best-calibrated" in text else None)
    assert said == where, text  # decided by the T printed with 2 decimals
    assert ("over-confident" in text) == (where == "above")
    assert ("under-confident" in text) == (where == "below")
    assert_printed(text, 1.5719, 1.5710)
    if where != "at":
        assert "lowers the loss from 1.5719 to 1.5710" in text  # the direction from the numbers
    assert "edge" not in text and "trained on the test text" not in text


def test_the_temperature_paragraph_a_tie_in_the_loss_an_edge_and_a_model_that_saw_the_text():
    same = findings.temperature_paragraph(_curve(1.2, 1.57191, 1.57189))
    assert "leaves the loss at 1.5719" in same and "lowers" not in same
    assert_numbers_are(same.split("T is lowest at")[1], [1.2, 1, 1.5719])
    at_1 = findings.temperature_paragraph(_curve(1.001, 1.57191, 1.57189))
    assert_numbers_are(at_1.split("lowest at")[1], [1.00, 1, 1.5719, 1])
    edge = findings.temperature_paragraph(_curve(4.9999, bounds=(0.2, 5.0)))
    assert "edge of the range searched" in edge and "above 1" in edge
    seen = findings.temperature_paragraph(_curve(1.0, trained_holdout=0))
    assert "trained on the test text too" in seen


def test_why_sentences_compare_the_m100_variants_at_one_budget():
    rows = [_row("sequential", 100, 1.50, 90, chars=1_000_000),
            _row("chunks", 100, 1.52, 90, chars=1_000_000),
            _row("B32", 100, 1.30, 10, chars=2_000_000)]  # better, but on twice the characters
    why = prose.why_sentences({"rows": rows, "winner": "B32"})
    assert "end within 0.020 nats of each other (best: sequential, 1.5000)" in why
    assert "With m = 100 and 1,000,000 training characters the variants" in why  # not B32's
    same = [dict(r, chars=1_000_000) for r in rows]
    assert "end within 0.220 nats of each other (best: B32, 1.3000)" in prose.why_sentences(
        {"rows": same, "winner": "B32"})
