"""Shared fixtures: the book (skipped when it is not there)."""

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Where the book may lie: data/ (where the README tells users to put it), then ../shared/data/.
BOOK_PLACES = (ROOT / "data" / "goblet_book.txt", ROOT.parent / "shared" / "data" / "goblet_book.txt")


def find_book() -> Path | None:
    """The first of ``BOOK_PLACES`` that exists, else None."""
    return next((p for p in BOOK_PLACES if p.is_file()), None)


@pytest.fixture(scope="session")
def book_path() -> Path:
    """Path of goblet_book.txt; skips the test when the file is missing."""
    path = find_book()
    if path is None:
        pytest.skip("book not found in data/ or ../shared/data/")
    return path


@pytest.fixture(scope="session")
def greedy_decode():
    """A greedy decoder written plainly (one-hot columns, argmax at every step), independent of
    charrnn.model.sampling: ``greedy_decode(params, h0, x0, n)`` -> the n character indices."""
    def decode(params, h0, x0, n):
        b, c, U, W, V = (params[k] for k in ("b", "c", "U", "W", "V"))
        h, x, out = np.array(h0, dtype=float), x0, []
        for _ in range(n):
            h = np.tanh(W @ h + U[:, x] + b)
            x = int(np.argmax(V @ h + c))
            out.append(x)
        return out

    return decode
