"""Reference points for bits per character on the test text (``charrnn calibrate``): what the
networks' numbers mean.

The split is the experiments' (:mod:`charrnn.studies.experiments`): the last 1 of 20 chunks is
held out, its first half the validation text, its second half the test text. Every reference
is scored on the test text in bits per character, with everything before it as its training
text (the validation text included):

- uniform: log2 K, K the text's distinct characters;
- character n-grams with interpolated Kneser-Ney smoothing (:class:`charrnn.studies.ngram.KneserNey`)
  for n = 1 (a smoothed unigram) to ``max_order``; the order is chosen on the validation text
  by models counted on the text before it, and only that order is scored on the test text;
- PPMd (variant I, ``pyppmd.Ppmd8Encoder``, order :data:`PPMD_ORDER`, :data:`PPMD_MEMORY`
  bytes) and the general compressors of :data:`COMPRESSORS`, as conditional code lengths
  (C(before + test) - C(before)) x 8 bits over the test text's characters, C the compressed
  size of the UTF-8 bytes.

The compressors keep learning while they read the test text (they are adaptive); the n-gram
models and the networks do not. Nothing here is ours but the n-gram model: lzma, bz2 and zlib
are Python's, zstandard and pyppmd are pinned packages.
"""

from __future__ import annotations

import bz2
import lzma
import math
import time
import zlib

import pyppmd
import zstandard

from ..model.data import text_md5
from ..training.config import TrainConfig
from ..training.train import split_heldout, split_text
from .experiments import TEST_FRACTION
from .ngram import KneserNey

__all__ = ["COMPRESSORS", "PPMD_ORDER", "PPMD_MEMORY", "split", "conditional_bits", "calibrate"]

#: name -> compress(bytes) -> bytes, at each tool's strongest setting.
COMPRESSORS = {
    "bzip2 -9": lambda b: bz2.compress(b, 9),
    "xz -9e": lambda b: lzma.compress(b, preset=9 | lzma.PRESET_EXTREME),
    "zstd -19": lambda b: zstandard.ZstdCompressor(level=19).compress(b),
    "zlib -9": lambda b: zlib.compress(b, 9),
}
#: PPMd variant I: model order and memory [bytes] (as ``7z -m0=PPMd:o=8:mem=256m``).
PPMD_ORDER, PPMD_MEMORY = 8, 256 << 20


def _ppmd(b: bytes) -> bytes:
    enc = pyppmd.Ppmd8Encoder(PPMD_ORDER, PPMD_MEMORY, pyppmd.PPMD8_RESTORE_METHOD_RESTART)
    return enc.encode(b) + enc.flush()


def split(n_chars: int) -> tuple[int, int]:
    """``(val_start, test_start)``: the validation text is ``[val_start, test_start)``, the test
    text ``[test_start, n_chars)``, as the experiments split a text of ``n_chars`` characters."""
    val_start = split_text(n_chars, TrainConfig(holdout=1, n_chunks=20))[0]
    return val_start, split_heldout(n_chars, val_start, TEST_FRACTION)


def conditional_bits(compress, before: str, text: str) -> float:
    """The conditional code length of ``text`` after ``before`` under ``compress`` (bytes ->
    bytes): (C(before + text) - C(before)) x 8 / len(text), in bits per character."""
    a, b = before.encode("utf-8"), text.encode("utf-8")
    return (len(compress(a + b)) - len(compress(a))) * 8 / len(text)


def calibrate(text: str, max_order: int = 8, note=None) -> dict:
    """The reference points of ``text`` (str): ``{"n_chars", "K", "md5", "validation": [start,
    stop), "test": [start, stop), "ngram": {"validation_bits": {order: bits/char}, "order"},
    "references": [{"name", "bits_per_char", "kind", "note"}], "seconds"}``, references in the
    order of the module's list. ``note``: called with a line of progress. Raises
    ``ValueError`` for a text too short to split or a ``max_order`` below 1."""
    note = note or (lambda line: None)
    n = len(text)
    val_start, test_start = split(n)
    if not 0 < val_start < test_start < n:
        raise ValueError(f"the text ({n:,} characters) is too short for a validation and a test "
                         "text (the last 1/20, halved)")
    vocab = sorted(set(text))
    t0 = time.perf_counter()
    refs = [{"name": "uniform", "bits_per_char": math.log2(len(vocab)), "kind": "baseline",
             "note": f"log2 K, K = {len(vocab)}"}]
    note(f"n-grams on the text before the validation text ({val_start:,} characters)")
    kn = KneserNey(text[:val_start], vocab, max_order)
    val_bits = {k: kn.bits(text, val_start, test_start, k) for k in range(1, max_order + 1)}
    order = min(val_bits, key=val_bits.get)
    note(f"order {order} chosen on the validation text; scoring the test text")
    kn = KneserNey(text[:test_start], vocab, max_order)
    refs.append({"name": "unigram (Kneser-Ney, n = 1)", "kind": "n-gram",
                 "bits_per_char": kn.bits(text, test_start, n, 1),
                 "note": "character frequencies, discounted towards uniform"})
    refs.append({"name": f"{order}-gram, interpolated Kneser-Ney", "kind": "n-gram",
                 "bits_per_char": kn.bits(text, test_start, n, order),
                 "note": f"order {order} of 1 to {max_order}, chosen on the validation text"})
    before, test = text[:test_start], text[test_start:]
    note("PPMd and the compressors")
    refs.append({"name": f"PPMd (variant I, order {PPMD_ORDER}, {PPMD_MEMORY >> 20} MB)",
                 "kind": "compressor", "bits_per_char": conditional_bits(_ppmd, before, test),
                 "note": "adaptive: keeps learning on the test text"})
    for name, compress in COMPRESSORS.items():
        refs.append({"name": name, "kind": "compressor",
                     "bits_per_char": conditional_bits(compress, before, test),
                     "note": "adaptive: keeps learning on the test text"})
    return {"n_chars": n, "K": len(vocab), "md5": text_md5(text), "validation": [val_start, test_start],
            "test": [test_start, n], "ngram": {"validation_bits": val_bits, "order": order,
                                               "max_order": max_order},
            "references": refs, "seconds": time.perf_counter() - t0}
