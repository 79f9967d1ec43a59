"""Tests of charrnn.studies.textmetrics: word tokens, known-word fraction, distinct-n, longest repeat."""

import math

import numpy as np
import pytest

from charrnn.studies.textmetrics import (
    distinct_n,
    known_word_fraction,
    longest_repeated_substring,
    summarize,
    training_words,
    words,
)


def brute_longest_repeat(text):
    """O(L^3) reference: longest substring occurring twice (overlaps allowed), earliest first."""
    for length in range(len(text) - 1, 0, -1):
        for i in range(len(text) - length + 1):
            if text.find(text[i:i + length], i + 1) != -1:
                return text[i:i + length]
    return ""


# ---------------------------------------------------------------- words


def test_words_tricky_string():
    text = "'Didn't,' said Harry's owl2x -- twenty-four o''clock\tx_y; 'Quidditch!' rock 'n' roll"
    assert words(text) == ["Didn't", "said", "Harry's", "owl", "x", "twenty", "four", "o",
                           "clock", "x", "y", "Quidditch", "rock", "n", "roll"]


def test_words_unicode_letters_and_typographic_apostrophe():
    # é, ï are letters; ² is numeric (matched by \w but not str.isalpha) and separates words.
    assert words("café naïve x²y it’s ’tis") == ["café", "naïve", "x", "y", "it’s", "tis"]


def test_words_are_substrings_in_order():
    text = "He said: \"Don't!\"  Then 3 owls flew."
    pos = 0
    for w in words(text):
        pos = text.index(w, pos) + len(w)
    assert words(text) == ["He", "said", "Don't", "Then", "owls", "flew"]


def test_words_empty_and_no_letters():
    assert words("") == []
    assert words("123 -- ''' !?") == []


def test_words_rejects_non_str():
    with pytest.raises(TypeError, match="text must be a str"):
        words(b"bytes")


# ---------------------------------------------------------------- known-word fraction


def test_training_words_lowercased_set():
    assert training_words("The cat sat. the CAT's hat, didn’t") == frozenset(
        {"the", "cat", "sat", "cat's", "hat", "didn't"})


def test_known_word_fraction_hand_case():
    train = training_words("Harry didn't see the owl.")
    sample = "The owl didn’t SEE Hermione's... no, Hermione owls the"
    # known (lowercased, ’ read as '): The owl didn’t SEE the -> 5 of 9 tokens
    assert words(sample) == ["The", "owl", "didn’t", "SEE", "Hermione's", "no", "Hermione",
                             "owls", "the"]
    assert known_word_fraction(sample, train) == pytest.approx(5 / 9, abs=1e-15)


def test_known_word_fraction_counts_tokens_not_types():
    train = frozenset({"a"})
    assert known_word_fraction("a a a b", train) == 0.75


def test_known_word_fraction_no_words_is_zero_not_nan():
    value = known_word_fraction("  123 !!", frozenset({"a"}))
    assert value == 0.0 and not math.isnan(value)


def test_known_word_fraction_rejects_text_as_train_words():
    with pytest.raises(TypeError, match="train_words must be a set"):
        known_word_fraction("the cat", "the cat sat")
    with pytest.raises(TypeError, match="sample must be a str"):
        known_word_fraction(["the"], frozenset({"the"}))


# ---------------------------------------------------------------- distinct-n


def test_distinct_n_words_hand_case():
    toks = words("a a a b")
    assert distinct_n(toks, 1) == 2 / 4
    assert distinct_n(toks, 2) == 2 / 3  # (a,a) (a,a) (a,b)
    assert distinct_n(toks, 3) == 2 / 2  # (a,a,a) (a,a,b)
    assert distinct_n(toks, 4) == 1.0
    assert distinct_n(toks, 5) == 0.0  # no 5-grams


def test_distinct_n_characters():
    # "abababa": 2-grams ab ba ab ba ab ba -> 2 distinct of 6; 3-grams aba bab aba bab aba -> 2/5
    assert distinct_n("abababa", 1) == 2 / 7
    assert distinct_n("abababa", 2) == 2 / 6
    assert distinct_n("abababa", 3) == 2 / 5
    assert distinct_n("abcdef", 4) == 1.0
    assert distinct_n("", 1) == 0.0


def test_distinct_n_str_equals_list_of_characters():
    rng = np.random.default_rng(1)
    text = "".join(rng.choice(list("ab c"), size=300))
    for n in (1, 2, 3, 4, 7):
        assert distinct_n(text, n) == distinct_n(list(text), n) == distinct_n(tuple(text), n)


@pytest.mark.parametrize("n", [0, -1, 1.0, True, "2", None])
def test_distinct_n_rejects_bad_n(n):
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        distinct_n(["a", "b"], n)


def test_distinct_n_rejects_non_sequence():
    with pytest.raises(TypeError, match="tokens must be a sequence"):
        distinct_n({"a", "b"}, 1)


# ---------------------------------------------------------------- longest repeated substring


@pytest.mark.parametrize("text, expected", [
    ("banana", "ana"),
    ("abcd", ""),
    ("aaaa", "aaa"),
    ("", ""),
    ("a", ""),
    ("aa", "a"),
    ("mississippi", "issi"),
    ("abcXabcYbcd", "abc"),  # "bc" occurs three times, but "abc" (twice) is longer
    ("xyzQabQxyzab", "xyz"),  # "ab" also repeats, shorter
    ("cdab__abcd", "cd"),  # tie of length 2: "cd" (first at 0) before "ab" (first at 2)
    ("abababa", "ababa"),  # overlapping occurrences at 0 and 2
])
def test_longest_repeat_known_cases(text, expected):
    assert longest_repeated_substring(text) == expected
    assert longest_repeated_substring(text) == brute_longest_repeat(text)


def test_longest_repeat_longer_than_the_sort_prefix_matches_brute_force():
    # repeats of 64 characters and more: the suffixes are sorted by a longer prefix, again
    rng = np.random.default_rng(7)
    for trial in range(12):
        core = "".join(rng.choice(list("ab"), size=int(rng.integers(60, 140))))
        text = ("x" * trial + core + "".join(rng.choice(list("abc"), size=20)) + core)[:260]
        want = brute_longest_repeat(text)
        assert len(want) >= 60 and longest_repeated_substring(text) == want, text
    # three suffixes share 70 characters; the first and last share 100: sorted by 64 characters
    # alone they stay in start order, and neighbours would give 70
    rng = np.random.default_rng(8)
    S, T = ("".join(rng.choice(list("abcd"), size=n)) for n in (70, 30))
    text = S + T + "1|" + S + "e" + T + "2|" + S + T + "3"
    assert longest_repeated_substring(text) == brute_longest_repeat(text) == S + T


def test_longest_repeat_matches_brute_force_on_random_strings():
    rng = np.random.default_rng(2424)
    ties = 0
    for trial in range(3000):
        alphabet = ["ab", "abc", "ab ", "abcd", "a"][trial % 5] if trial < 200 else ["ab", "abc"][trial % 2]
        length = int(rng.integers(0, 61 if trial < 200 else 25))
        text = "".join(rng.choice(list(alphabet), size=length))
        got = longest_repeated_substring(text)
        want = brute_longest_repeat(text)
        assert got == want, f"text={text!r}: got {got!r}, brute force {want!r}"
        repeats = {text[i:i + len(want)] for i in range(len(text) - len(want) + 1)
                   if text.find(text[i:i + len(want)], i + 1) != -1}
        ties += len(want) > 0 and len(repeats) > 1
    assert ties > 500  # many strings where several substrings share the longest length


def test_longest_repeat_unicode():
    text = "ünï—ünï x ünï"
    assert longest_repeated_substring(text) == brute_longest_repeat(text) == "ünï"


def test_longest_repeat_runs_on_5000_characters():
    # Completes (no timed assertion: speed lives in benchmarks). Periodic text with a known answer:
    # "abcde" * 1000 repeats its whole self minus one period.
    text = "abcde" * 1000
    assert longest_repeated_substring(text) == text[:-5]
    rng = np.random.default_rng(0)
    noise = "".join(rng.choice(list("abcdefghij "), size=5000))
    planted = noise[:2000] + noise[100:400] + noise[2000:4700]  # 300 chars repeated
    got = longest_repeated_substring(planted)
    assert len(got) >= 300
    assert planted.find(got, planted.find(got) + 1) != -1  # occurs twice
    longer = [planted[i:i + len(got) + 1] for i in range(len(planted) - len(got))]
    assert len(set(longer)) == len(longer)  # no longer substring repeats
    assert len(longest_repeated_substring("a" * 5000)) == 4999


def test_longest_repeat_rejects_non_str():
    with pytest.raises(TypeError, match="text must be a str"):
        longest_repeated_substring(["a", "a"])


# ---------------------------------------------------------------- summarize


def test_summarize_hand_case():
    train = training_words("the cat sat on the mat")
    sample = "the cat the cat the dog"
    got = summarize(sample, train)
    assert list(got) == ["n_chars", "n_words", "known_word_fraction", "distinct_1_words",
                         "distinct_2_words", "distinct_4_chars", "longest_repeat_len",
                         "longest_repeat"]
    assert got["n_chars"] == 23
    assert got["n_words"] == 6
    assert got["known_word_fraction"] == 5 / 6
    assert got["distinct_1_words"] == 3 / 6  # the, cat, dog
    assert got["distinct_2_words"] == 3 / 5  # (the cat) (cat the) (the dog)
    # 20 character 4-grams; sample[:20] = "the cat the cat the " has period 8, so the grams
    # starting at 0..7 are distinct and those at 8..16 repeat them; "he d", "e do", " dog" are new.
    assert got["distinct_4_chars"] == 11 / 20
    assert got["longest_repeat"] == "the cat the " and got["longest_repeat_len"] == 12


@pytest.mark.book
def test_summarize_on_the_book(book_path):
    book_data = book_path.read_text(encoding="utf-8")
    train = training_words(book_data)
    assert {"harry", "didn't", "hermione", "the"} <= train
    # A passage cut at word boundaries consists of known words only.
    start = book_data.index(" ", 100000) + 1
    end = book_data.rindex(" ", 0, 105000)
    got = summarize(book_data[start:end], train)
    assert got["known_word_fraction"] == 1.0
    assert 0 < got["distinct_1_words"] < 1 and 0 < got["distinct_4_chars"] < 1
    assert got["longest_repeat_len"] == len(got["longest_repeat"]) > 0
