"""Character n-gram language models with interpolated Kneser-Ney smoothing: a reference point
for the networks' bits per character (``charrnn calibrate``).

Interpolated Kneser-Ney (Kneser & Ney, ICASSP 1995; the interpolated form of Chen & Goodman,
"An Empirical Study of Smoothing Techniques for Language Modeling", 1998, eq. 17 and 18), one
absolute discount per order: for the highest order n, with c the counts of the training text,

    P(w | h) = max(c(h w) - D_n, 0) / c(h) + D_n N1+(h .) / c(h) P(w | h'),

where h' is h without its first character and N1+(h .) the number of distinct characters seen
after h. Each lower order k < n uses the same formula with continuation counts N1+(. g) (the
number of distinct characters seen before the k-gram g) in place of c, and the order-0
distribution is uniform over the K characters of the vocabulary. A context never seen backs off
to P(w | h') whole. D_k = n1 / (n1 + 2 n2), from the numbers of k-grams counted once and twice
(Ney, Essen & Kneser 1994). So every P(. | h) sums to one over the vocabulary.

Ours rather than a library's: NLTK's ``KneserNeyInterpolated`` is not pinned here and sums over
the vocabulary inside every probability, and KenLM is a C++ toolkit with a build of its own;
these are about 100 lines of dictionaries, and a million characters take seconds.
"""

from __future__ import annotations

import math
from collections import Counter

__all__ = ["KneserNey"]


def _discount(counts: Counter) -> float:
    """D = n1 / (n1 + 2 n2) of a table of counts (0.5 when it has neither ones nor twos)."""
    n1 = sum(1 for c in counts.values() if c == 1)
    n2 = sum(1 for c in counts.values() if c == 2)
    return n1 / (n1 + 2 * n2) if n1 + 2 * n2 else 0.5


class _Table:
    """One order's counts (raw or continuation) with, per context h, the total count and the
    number of distinct characters that follow it."""

    def __init__(self, counts: Counter, discount: float | None):
        self.counts = counts
        self.total: Counter = Counter()
        self.types: Counter = Counter()
        for gram, c in counts.items():
            self.total[gram[:-1]] += c
            self.types[gram[:-1]] += 1
        self.D = _discount(counts) if discount is None else discount


class KneserNey:
    """Interpolated Kneser-Ney character n-gram models of every order 1..``max_order`` on one
    training text.

    ``text``: the training text (str); ``vocab``: the characters the model predicts (K of them,
    at least those of ``text``); ``discount``: a fixed D for every order instead of the
    n1 / (n1 + 2 n2) estimate (for tests). Raises ``ValueError`` for a ``max_order`` below 1 or
    a text with a character outside ``vocab``."""

    def __init__(self, text: str, vocab, max_order: int = 8, discount: float | None = None):
        if max_order < 1:
            raise ValueError(f"max_order must be at least 1, got {max_order}")
        self.vocab = sorted(set(vocab))
        unknown = set(text) - set(self.vocab)
        if unknown:
            raise ValueError(f"the text has characters outside the vocabulary: {sorted(unknown)!r}")
        self.K, self.max_order = len(self.vocab), max_order
        raw = {k: Counter(text[i:i + k] for i in range(len(text) - k + 1))
               for k in range(1, max_order + 1)}
        self.raw = {k: _Table(c, discount) for k, c in raw.items()}
        self.cont = {}  # continuation counts N1+(. g) of the k-grams g, k < max_order
        for k in range(1, max_order):
            cont: Counter = Counter()
            for gram in raw[k + 1]:
                cont[gram[1:]] += 1
            self.cont[k] = _Table(cont, discount)

    def prob(self, history: str, w: str, order: int) -> float:
        """P(w | history) of the order-``order`` model (``history``: the text before w; its
        last order - 1 characters are the context)."""
        p = 1.0 / self.K
        for k in range(1, order + 1):  # from the uniform distribution up to the highest order
            h = history[len(history) - (k - 1):] if k > 1 else ""
            if len(h) < k - 1:  # the text is shorter than the context: stay at the lower order
                break
            table = self.raw[k] if k == order else self.cont[k]
            total = table.total.get(h, 0)
            if total:
                p = (max(table.counts.get(h + w, 0) - table.D, 0.0) / total
                     + table.D * table.types[h] / total * p)
        return p

    def bits(self, text: str, start: int, stop: int, order: int) -> float:
        """Mean -log2 P of the characters ``text[start:stop]``, each given everything before it
        (its last order - 1 characters), in bits per character."""
        if not 1 <= order <= self.max_order:
            raise ValueError(f"order must be 1..{self.max_order}, got {order}")
        total = 0.0
        for i in range(start, stop):
            total -= math.log2(self.prob(text[max(0, i - order + 1):i], text[i], order))
        return total / (stop - start)
