"""Quantitative measures of generated text, for the sampling-strategies table (bonus B-N3).

Each measure is computed on one sample (a ``str`` produced by ``sampling.synthesize``); the
training vocabulary is computed once with :func:`training_words` and passed in.

Symbols and definitions
-----------------------
- Word tokens w_1 .. w_N (:func:`words`): maximal runs of letters (characters ``c`` with
  ``c.isalpha()``, so any Unicode letter), where an apostrophe (``'`` or ``’``) with a letter on both
  sides joins the runs ("didn't", "Harry's" are one token each; the quotes in 'Harry' are not part
  of the token). Digits, ``_`` and hyphens separate tokens ("twenty-four" is two tokens).
- Known-word fraction: ``|{t : key(w_t) in train_words}| / N`` where ``key`` lowercases
  (``str.lower``) and maps ``’`` to ``'``, so "The" at the start of a sentence counts as the known
  word "the". 0.0 when the sample has no words (N = 0), to keep tables free of NaN.
- distinct-n (Li et al. 2016, "A Diversity-Promoting Objective Function for Neural Conversation
  Models", NAACL): number of distinct n-grams / number of n-grams, for a token sequence of length L
  there are L - n + 1 n-grams. Li et al. divide by the number of tokens instead; dividing by the
  number of n-grams makes distinct-n = 1 for a text with no repeated n-gram. 0.0 when L < n.
  Over words it measures lexical diversity; over characters (n = 4) it catches short loops
  ("the the the") that low temperatures and small top-p produce (Holtzman et al., "The Curious
  Case of Neural Text Degeneration", ICLR 2020).
- Longest repeated substring: the longest substring that occurs at least twice in the sample
  (occurrences may overlap: in "aaaa" it is "aaa"), ties broken by the earliest first occurrence.
  Computed exactly from the sorted suffixes: the longest common prefix of two neighbours.

Units: counts are characters or word tokens; fractions are in [0, 1].
"""

from __future__ import annotations

import re
from collections.abc import Sequence, Set

import numpy as np

__all__ = [
    "words",
    "training_words",
    "known_word_fraction",
    "distinct_n",
    "longest_repeated_substring",
    "summarize",
]

#: Apostrophes that may join two runs of letters inside one word.
APOSTROPHES = "'\u2019"

# ``[^\W\d_]`` is "word character that is not a decimal digit or underscore": every str.isalpha()
# character, plus a few numeric ones ("²", "½") that words() splits off afterwards.
_WORD_RE = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*")


def _check_str(value: object, name: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")


def words(text: str) -> list[str]:
    """Word tokens of ``text``, in order, case preserved (see the module docstring).

    A token is a maximal run of letters (``str.isalpha``), where an apostrophe (``'`` or ``’``)
    between two letters is part of the token: ``words("'Didn't,' said Harry's owl2x")`` is
    ``["Didn't", "said", "Harry's", "owl", "x"]``. Each token is a substring of ``text``.

    Raises ``TypeError`` if ``text`` is not a ``str``.
    """
    _check_str(text, "text")
    out: list[str] = []
    for tok in _WORD_RE.findall(text):
        if tok.replace("'", "").replace("\u2019", "").isalpha():
            out.append(tok)
        else:  # rare: numeric characters such as "²" matched [^\W\d_]; treat them as separators
            cleaned = "".join(c if c.isalpha() or c in APOSTROPHES else " " for c in tok)
            out.extend(_WORD_RE.findall(cleaned))
    return out


def _key(word: str) -> str:
    """The form used for the known-word check: lowercased, typographic apostrophe as ``'``."""
    return word.lower().replace("\u2019", "'")


def training_words(text: str) -> frozenset[str]:
    """The set of lowercased word tokens of the training text (``book_data``).

    Compute it once per training text (about 0.2 s for the 1.1M-character book) and pass it to
    :func:`known_word_fraction` or :func:`summarize`. Raises ``TypeError`` if ``text`` is not a
    ``str``.
    """
    return frozenset(map(_key, words(text)))


def known_word_fraction(sample: str, train_words: Set[str]) -> float:
    """Fraction of the word tokens of ``sample`` whose lowercased form is in ``train_words``.

    Counts tokens, not types: a known word generated five times counts five times. Returns 0.0
    when ``sample`` has no word tokens (not NaN, so that tables stay numeric).

    ``train_words`` is the set from :func:`training_words` (lowercased words). Raises
    ``TypeError`` if ``sample`` is not a ``str`` or ``train_words`` is a ``str`` (a common
    mistake: ``in`` on a str is a substring test) or not a set.
    """
    _check_str(sample, "sample")
    if isinstance(train_words, str) or not isinstance(train_words, Set):
        raise TypeError(
            "train_words must be a set of lowercased words (use training_words(text)), "
            f"got {type(train_words).__name__}")
    toks = words(sample)
    if not toks:
        return 0.0
    return sum(_key(w) in train_words for w in toks) / len(toks)


def distinct_n(tokens: Sequence, n: int) -> float:
    """distinct-n: number of distinct n-grams / number of n-grams of ``tokens`` (Li et al. 2016).

    ``tokens`` is any sequence of hashable items: a ``str`` gives character n-grams, a list of
    words (from :func:`words`) gives word n-grams. A sequence of length L has L - n + 1 n-grams;
    returns 0.0 when L < n. Example: words "a a a b" have distinct-1 = 2/4 and distinct-2 = 2/3.

    Raises ``ValueError`` if ``n`` is not an integer >= 1, ``TypeError`` if ``tokens`` is not a
    sequence.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not isinstance(tokens, (Sequence, np.ndarray)):
        raise TypeError(f"tokens must be a sequence (str, list, tuple), got {type(tokens).__name__}")
    n = int(n)
    count = len(tokens) - n + 1
    if count <= 0:
        return 0.0
    if isinstance(tokens, str):
        grams = {tokens[i:i + n] for i in range(count)}
    else:
        items = list(tokens)
        grams = {tuple(items[i:i + n]) for i in range(count)}
    return len(grams) / count


def longest_repeated_substring(text: str) -> str:
    """The longest substring of ``text`` that occurs at least twice (occurrences may overlap).

    Exact: sort the suffixes (the suffix array); every repeated substring is a common prefix of
    two suffixes that are neighbours in that order, so the answer's length is the largest common
    prefix of neighbours. Among several substrings of that length, returns the one whose first
    occurrence starts earliest. Returns "" when no character repeats (or ``text`` is empty).
    Examples: "banana" -> "ana", "aaaa" -> "aaa", "abcd" -> "". The suffixes are sorted by their
    first P characters (P = 64, doubled while the answer reaches P), which orders every group of
    suffixes sharing a prefix shorter than P as the full sort does: memory O(L P), not O(L^2).
    Raises ``TypeError`` if ``text`` is not a ``str``.
    """
    _check_str(text, "text")
    L, P = len(text), 64
    while True:
        # (L,) suffix starts sorted by their first P code points (stable: equal prefixes by start)
        order = sorted(range(L), key=lambda i: text[i:i + P])
        best, start = 0, 0
        for i, j in zip(order, order[1:]):
            if not text.startswith(text[j:j + best], i):  # shares fewer than best characters
                continue
            k = best  # extend the common prefix: O(L) steps in all, since best only grows
            while i + k < L and j + k < L and text[i + k] == text[j + k]:
                k += 1
            if k > best:
                best, start = k, min(i, j)
            elif k == best:
                start = min(start, i, j)
        if best < P or P >= L:
            return text[start:start + best]
        P *= 2


def summarize(sample: str, train_words: Set[str]) -> dict:
    """Measures of one generated ``sample`` for the sampling-strategies table.

    Returns a dict, in this order:
    ``n_chars`` (int, characters), ``n_words`` (int, word tokens),
    ``known_word_fraction`` (float in [0, 1]), ``distinct_1_words``, ``distinct_2_words``,
    ``distinct_4_chars`` (floats in [0, 1], see :func:`distinct_n`),
    ``longest_repeat_len`` (int, characters) and ``longest_repeat`` (str).

    ``train_words`` comes from :func:`training_words`. Raises ``TypeError`` as
    :func:`known_word_fraction` does.
    """
    _check_str(sample, "sample")
    toks = words(sample)
    repeat = longest_repeated_substring(sample)
    return {
        "n_chars": len(sample),
        "n_words": len(toks),
        "known_word_fraction": known_word_fraction(sample, train_words),
        "distinct_1_words": distinct_n(toks, 1),
        "distinct_2_words": distinct_n(toks, 2),
        "distinct_4_chars": distinct_n(sample, 4),
        "longest_repeat_len": len(repeat),
        "longest_repeat": repeat,
    }
