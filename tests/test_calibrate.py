"""Reference points for bits/char (charrnn calibrate): the Kneser-Ney n-gram model and the
conditional code lengths of the compressors."""

import json
import math
import random
import zlib

import pytest

from charrnn.cli import main
from charrnn.studies.calibrate import calibrate, conditional_bits, split
from charrnn.studies.ngram import KneserNey


def _text(n, seed=0, alphabet="abcde \n"):
    rng = random.Random(seed)
    words = ["".join(rng.choice(alphabet[:5]) for _ in range(rng.randint(1, 6))) for _ in range(40)]
    return " ".join(rng.choice(words) for _ in range(n // 4))[:n]


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_kneser_ney_probabilities_sum_to_one_over_the_vocabulary(order):
    text = _text(5000)
    kn = KneserNey(text, set(text) | {"x", "y"}, max_order=5)  # two characters never seen
    rng = random.Random(order)
    contexts = ["", "zz", "xyxy", "abcd"] + [text[i:i + 4] for i in
                                             (rng.randrange(len(text) - 4) for _ in range(30))]
    for h in contexts:
        probs = [kn.prob(h, w, order) for w in kn.vocab]
        assert min(probs) > 0 and math.isclose(sum(probs), 1.0, rel_tol=0, abs_tol=1e-12), h


def test_kneser_ney_matches_a_hand_computed_case():
    # "aaab", K = 2, D = 0.5. Bigrams aa: 2, ab: 1, so c("a") = 3 with 2 distinct followers;
    # continuation unigrams N1+(. a) = N1+(. b) = 1, so P1(a) = (1 - 0.5)/2 + 0.5 * 2/2 * 1/2 = 1/2.
    # P(a | a) = (2 - 0.5)/3 + 0.5 * 2/3 * P1(a) = 2/3; P(b | a) = 0.5/3 + 1/6 = 1/3.
    kn = KneserNey("aaab", "ab", max_order=2, discount=0.5)
    assert kn.prob("a", "a", 2) == pytest.approx(2 / 3, abs=1e-15)
    assert kn.prob("a", "b", 2) == pytest.approx(1 / 3, abs=1e-15)
    assert kn.prob("b", "a", 2) == pytest.approx(1 / 2, abs=1e-15)  # an unseen context backs off
    # the order-1 model of the raw counts a: 3, b: 1: (3 - 0.5)/4 + 0.5 * 2/4 * 1/2
    assert kn.prob("", "a", 1) == pytest.approx(2.5 / 4 + 0.125, abs=1e-15)
    assert kn.bits("aab", 1, 3, 2) == pytest.approx(-(math.log2(2 / 3) + math.log2(1 / 3)) / 2)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        KneserNey("abc", "ab")
    with pytest.raises(ValueError, match="order must be 1..2"):
        kn.bits("aab", 1, 3, 3)


def test_the_discount_is_estimated_from_the_counts_of_ones_and_twos():
    kn = KneserNey("abcabcabd", "abcd", max_order=2)
    # bigrams ab: 3, bc: 2, ca: 2, bd: 1: n1 = 1, n2 = 2, D = 1 / (1 + 4)
    assert kn.raw[2].D == pytest.approx(1 / 5)


def test_conditional_bits_is_the_extra_code_length_per_character():
    assert conditional_bits(lambda b: b, "abc", "défg") == pytest.approx(8 * 5 / 4)  # é: 2 bytes
    before, after = "the cat sat on the mat. " * 40, "the cat sat on the hat."
    z = (len(zlib.compress((before + after).encode(), 9)) - len(zlib.compress(before.encode(), 9)))
    assert conditional_bits(lambda b: zlib.compress(b, 9), before, after) == z * 8 / len(after)


def test_calibrate_scores_the_experiments_test_text_and_chooses_the_order_on_validation():
    text = _text(40_000, seed=3)
    r = calibrate(text, max_order=4)
    val_start, test_start = split(len(text))
    assert r["validation"] == [val_start, test_start] and r["test"] == [test_start, len(text)]
    assert 0 < val_start < test_start < len(text) and test_start - val_start <= len(text) // 40 + 1
    bits = {int(k): v for k, v in r["ngram"]["validation_bits"].items()}
    assert set(bits) == {1, 2, 3, 4} and r["ngram"]["order"] == min(bits, key=bits.get)
    names = [x["name"] for x in r["references"]]
    assert names[0] == "uniform" and r["references"][0]["bits_per_char"] == math.log2(r["K"])
    assert any(n.startswith(f"{r['ngram']['order']}-gram") for n in names)
    assert {"bzip2 -9", "xz -9e", "zstd -19", "zlib -9"} <= set(names)
    assert any(n.startswith("PPMd") for n in names)
    # the n-gram's test number is its model counted on everything before the test text
    kn = KneserNey(text[:test_start], set(text), 4)
    ngram = next(x for x in r["references"] if x["name"].startswith(f"{r['ngram']['order']}-gram"))
    assert ngram["bits_per_char"] == kn.bits(text, test_start, len(text), r["ngram"]["order"])
    zl = next(x for x in r["references"] if x["name"] == "zlib -9")
    assert zl["bits_per_char"] == conditional_bits(lambda b: zlib.compress(b, 9),
                                                   text[:test_start], text[test_start:])
    with pytest.raises(ValueError, match="too short"):
        calibrate("abc" * 5)


def test_the_command_writes_json_and_refuses_bad_input_before_any_work(tmp_path, capsys):
    data = tmp_path / "t.txt"
    data.write_text(_text(20_000, seed=5), encoding="utf-8")
    out = tmp_path / "cal.json"
    assert main(["calibrate", "--data", str(data), "--max-order", "3", "--json", str(out)]) == 0
    saved = json.loads(out.read_text())
    assert saved["ngram"]["max_order"] == 3 and saved["data"] == str(data)
    printed = capsys.readouterr().out
    assert f"characters {saved['test'][0]:,} to {saved['test'][1]:,}" in printed
    for bad, words in ((["--max-order", "0"], "--max-order must be"),
                       (["--json", str(data / "x.json")], "cannot write --json")):
        with pytest.raises(SystemExit) as stop:
            main(["calibrate", "--data", str(data), *bad])
        assert stop.value.code == 2 and words in capsys.readouterr().err
