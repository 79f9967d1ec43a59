"""Shared fixtures: the book (skipped when it is not there)."""

from pathlib import Path

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
