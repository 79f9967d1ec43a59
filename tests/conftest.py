"""Shared fixtures: the book (skipped when it is not there)."""

from pathlib import Path

import pytest

#: ../shared/data/goblet_book.txt relative to the repository root.
BOOK_PATH = Path(__file__).resolve().parents[2] / "shared" / "data" / "goblet_book.txt"


@pytest.fixture(scope="session")
def book_path() -> Path:
    """Path of goblet_book.txt; skips the test when the file is missing."""
    if not BOOK_PATH.is_file():
        pytest.skip(f"book not found: {BOOK_PATH}")
    return BOOK_PATH
