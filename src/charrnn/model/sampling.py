"""Text synthesis from the RNN (HANDOUT req. 6 and bonus B-N3), and beam search.

At each step the model computes p_t (eqs. 1-4) from the previous character, optionally sharpened
or flattened by a temperature T (p = softmax(o_t / T)) and truncated by nucleus / top-p sampling
(Holtzman et al., "The Curious Case of Neural Text Degeneration", ICLR 2020: keep the smallest set
of characters whose total probability reaches p, renormalise). The next index is drawn by inverse
CDF: one uniform u in [0, 1), the first index whose cumulative probability exceeds u.
Defaults T = 1 and top_p = 1 give the handout's plain sampling.

Beam search (:func:`beam_search`) decodes instead of sampling: it keeps the ``beam`` likeliest
prefixes (by total log-probability, sum_t log p_t[x_t] at T = 1) and extends each by every
character, step by step, for a fixed number of characters; ``beam`` = 1 is greedy decoding (the
argmax at each step) and ``beam`` >= K^(n-1) is exhaustive search over all K^n continuations.

Memory: sampling n characters and decoding them to a str peaks at about
``SAMPLE_BYTES_PER_CHAR`` = 20 bytes per character (measured with tracemalloc: the int64 indices,
8 bytes; the list of characters ``str.join`` builds, 8; the str itself, 1, 2 or 4), which
:func:`check_sample_memory` compares with the memory available before any sampling.
"""

from __future__ import annotations

import numpy as np

from ..util.checks import check_memory, check_positive_float, check_positive_int, is_number
from .rnn import input_term, softmax, stateful_pass, step

__all__ = ["check_sampling_args", "top_p_filter", "synthesize", "probabilities", "prime",
           "SAMPLE_BYTES_PER_CHAR", "check_sample_memory", "BEAM_BYTES_PER_CHAR_PER_BEAM",
           "check_beam_memory", "beam_search"]

#: Peak bytes per sampled character of :func:`synthesize` then ``Vocabulary.decode``: int64
#: index (8) + the pointer in the list ``str.join`` builds (8) + the character in the str (<= 4).
SAMPLE_BYTES_PER_CHAR = 20

#: Bytes per character and per hypothesis that :func:`beam_search` keeps to trace the best
#: sequence back: the parent hypothesis and the character of each step, int32 each.
BEAM_BYTES_PER_CHAR_PER_BEAM = 8


def check_sampling_args(temperature: float, top_p: float) -> None:
    """Raise ``ValueError`` unless temperature is a finite number > 0 and top_p a number in
    (0, 1] (inf and nan are refused with the value named)."""
    check_positive_float("temperature", temperature)
    if not is_number(top_p) or not np.isfinite(top_p) or not 0 < top_p <= 1:
        raise ValueError(f"top_p must be a number in (0, 1], got {top_p!r}")


def check_sample_memory(n: int, name: str = "-n", available: int | None = None) -> int:
    """Raise ``ValueError`` naming ``name`` when sampling ``n`` characters (``n`` x
    :data:`SAMPLE_BYTES_PER_CHAR` bytes) needs more than ``available`` bytes (by default
    MemAvailable, see :func:`charrnn.util.checks.check_memory`); return those bytes. Allocates nothing."""
    n = check_positive_int(name, n)
    return check_memory([(f"the sampled indices and text ({SAMPLE_BYTES_PER_CHAR} bytes per "
                          "character)", SAMPLE_BYTES_PER_CHAR * n, (name,))],
                        subject=f"{name} = {n:,} characters", available=available)


def check_beam_memory(n: int, beam: int, name: str = "-n", beam_name: str = "--beam",
                      available: int | None = None) -> int:
    """Raise ``ValueError`` naming ``name`` and ``beam_name`` when beam search over ``n``
    characters with ``beam`` hypotheses (``n`` x ``beam`` x :data:`BEAM_BYTES_PER_CHAR_PER_BEAM`
    bytes of back-pointers, plus the decoded text as :func:`check_sample_memory` counts it) needs
    more than ``available`` bytes (default MemAvailable); return those bytes. Allocates nothing."""
    n = check_positive_int(name, n)
    beam = check_positive_int(beam_name, beam)
    return check_memory(
        [(f"the back-pointers of {beam:,} hypotheses ({BEAM_BYTES_PER_CHAR_PER_BEAM} bytes per "
          "character each)", BEAM_BYTES_PER_CHAR_PER_BEAM * n * beam, (name, beam_name)),
         (f"the decoded indices and text ({SAMPLE_BYTES_PER_CHAR} bytes per character)",
          SAMPLE_BYTES_PER_CHAR * n, (name,))],
        subject=f"{name} = {n:,} characters with {beam_name} = {beam:,}", available=available)


def probabilities(o: np.ndarray, temperature: float = 1.0, top_p: float = 1.0) -> np.ndarray:
    """Sampling distribution (K,) float64 from scores ``o`` (K,): softmax(o / T), then top-p."""
    z = o / temperature
    z = np.exp(z - z.max())
    p = z / z.sum()
    return top_p_filter(p, top_p) if top_p < 1.0 else p


def top_p_filter(p: np.ndarray, top_p: float) -> np.ndarray:
    """Nucleus filter: keep the smallest set of entries whose mass reaches ``top_p``.

    ``p`` (K,) is a probability vector. Entries are taken in decreasing probability (ties by
    lower index) until their sum is >= top_p (up to 1e-12 for rounding); the rest are set to zero
    and the kept ones renormalised. Example: p = [0.5, 0.3, 0.2], top_p = 0.8 gives
    [0.625, 0.375, 0]. Returns a new (K,) float64 array.
    """
    order = np.argsort(-p, kind="stable")
    cum = np.cumsum(p[order])
    k = int(np.searchsorted(cum, top_p - 1e-12, side="left")) + 1
    keep = order[: min(k, len(p))]
    q = np.zeros_like(p, dtype=np.float64)
    q[keep] = p[keep]
    return q / q.sum()


def synthesize(params, h0, x0: int, n: int, rng: np.random.Generator,
               temperature: float = 1.0, top_p: float = 1.0) -> np.ndarray:
    """Sample ``n`` character indices, starting from hidden state ``h0`` (m,) and input ``x0``.

    ``x0`` is the first input index (a "dummy" like a full stop, or the current sequence's first
    character, HANDOUT req. 15). Returns an int64 array of shape (n,). Uses one ``rng.random()``
    draw per character. Raises ``ValueError`` for n <= 0, x0 outside 0..K-1, temperature <= 0
    or top_p outside (0, 1].
    """
    n = check_positive_int("sample length n", n)
    check_sampling_args(temperature, top_p)
    c, V = params["c"], params["V"]
    h = np.array(h0, dtype=np.float64)
    x = int(x0)
    if not 0 <= x < len(c):
        raise ValueError(f"x0 = {x0} is not a character index in 0..{len(c) - 1}")
    out = np.empty(n, dtype=np.int64)
    for t in range(n):
        h = step(params, h, input_term(params, x))  # eqs. 1-2
        p = probabilities(V @ h + c, temperature, top_p)  # eqs. 3-4
        cp = np.cumsum(p)
        x = min(int(np.searchsorted(cp, rng.random() * cp[-1], side="right")), len(p) - 1)
        out[t] = x
    return out


def prime(params, indices) -> tuple[np.ndarray, int]:
    """Run the model over ``indices`` (int, at least one) from h = 0, to continue after them.

    Returns ``(h, x0)``: the hidden state (m,) after all but the last index, and the last index,
    which :func:`synthesize` takes as its first input. Raises ``ValueError`` for no indices.
    """
    indices = np.asarray(indices)
    if len(indices) == 0:
        raise ValueError("the prime text must not be empty")
    h = np.zeros(len(params["b"]))
    for _, H in stateful_pass(params, indices[:-1]):
        h = H[-1]
    return h, int(indices[-1])


def beam_search(params, h0, x0: int, n: int, beam: int) -> tuple[np.ndarray, float]:
    """The likeliest ``n`` characters that beam search finds after hidden state ``h0`` (m,) and
    input ``x0`` (a character index in 0..K-1, as for :func:`synthesize`).

    Standard beam search (e.g. Graves, "Sequence Transduction with Recurrent Neural Networks",
    2012, and its use in machine translation): a hypothesis is a prefix x_1 .. x_t with its state
    h_t and score sum_s log p_s[x_s] (eqs. 1-4 at temperature 1, via :func:`~charrnn.model.rnn.step`
    and the log of :func:`~charrnn.model.rnn.softmax`). At each step every kept hypothesis is
    extended by each of the K characters at once (``(B, K)`` scores, ``B`` <= ``beam``) and the
    ``beam`` best of the B K candidates are kept. Ties are broken by a stable sort of the
    candidates in the order (rank of the parent hypothesis, character index): the better-ranked
    parent first, then the lower character index. ``beam`` = 1 is greedy decoding; ``beam`` >=
    K^(n-1) keeps every prefix, so the result is the exhaustive argmax over all K^n sequences. A
    wider beam is not guaranteed to score higher than a narrower one (it can drop, at some step,
    the prefix the narrower beam later completes best).

    Every hypothesis has exactly ``n`` characters (there is no end symbol), so dividing by n
    (length normalisation) changes the reported score, not the ranking.

    Returns ``(indices, score)``: int64 (n,), the best sequence; and its mean log-probability
    per character (float, nats, <= 0). ``h0`` and ``params`` are not modified. Memory: the int32
    back-pointers, ``n`` x ``beam`` x 8 bytes (:func:`check_beam_memory`). Raises ``ValueError``
    for n or beam not a positive integer, or x0 outside 0..K-1, before any work.
    """
    n = check_positive_int("sample length n", n)
    beam = check_positive_int("beam width", beam)
    c, V = params["c"], params["V"]
    K = len(c)
    if isinstance(x0, bool) or not isinstance(x0, (int, np.integer)) or not 0 <= x0 < K:
        raise ValueError(f"x0 = {x0!r} is not a character index in 0..{K - 1}")
    H = np.array(h0, dtype=np.float64)[None, :]  # (B, m): B = 1 hypothesis, the empty prefix
    X = np.array([int(x0)])  # (B,): the last character of each hypothesis
    scores = np.zeros(1)  # (B,): total log-probability of each hypothesis [nats]
    parents = np.empty((n, beam), dtype=np.int32)  # the hypothesis each one extended, per step
    chars = np.empty((n, beam), dtype=np.int32)  # the character it added
    with np.errstate(divide="ignore"):  # a probability that underflows to 0 scores -inf
        for t in range(n):
            H = step(params, H, input_term(params, X))  # (B, m), eqs. 1-2
            logp = np.log(softmax(H @ V.T + c))  # (B, K), eqs. 3-4
            cand = (scores[:, None] + logp).ravel()  # (B K,): candidate j = parent j // K, char j % K
            keep = np.argsort(-cand, kind="stable")[:beam]  # best first; ties: lower j first
            parent, X, scores = keep // K, keep % K, cand[keep]
            H = H[parent]
            parents[t, : len(keep)], chars[t, : len(keep)] = parent, X
    out = np.empty(n, dtype=np.int64)
    i = 0  # the best hypothesis is first
    for t in range(n - 1, -1, -1):
        out[t] = chars[t, i]
        i = parents[t, i]
    return out, float(scores[0] / n)
