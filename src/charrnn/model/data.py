"""Text, vocabulary and the handout's sequence arithmetic.

The book is read as UTF-8 (HANDOUT req. 1 and "Data facts": ``goblet_book.txt`` gives
1,107,542 characters and K = 80; read as bytes or latin-1 it wrongly gives K = 83).
The vocabulary is ``sorted(set(text))``: the handout's ``list(set(book_data))`` changes
order between Python processes (string-hash randomisation), so a saved model could not
be reloaded. Indices run 0..K-1 (``char_to_ind``, ``ind_to_char``).

Training positions (HANDOUT reqs. 12-13): the update at position ``e`` reads inputs
``book_data[e : e + seq_length]`` and targets ``book_data[e + 1 : e + seq_length + 1]``;
``e`` advances by ``seq_length`` and an epoch ends when ``e > n - seq_length - 1``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import numpy as np

from ..util.checks import check_positive_int, plural
from ..util.files import check_regular_file

__all__ = [
    "Vocabulary",
    "read_text",
    "updates_per_epoch",
    "text_md5",
    "NEWLINES",
]

#: How line endings are read: "keep" them as they are, or "lf": read "\r\n" as "\n".
NEWLINES = ("keep", "lf")


def text_md5(text: str) -> str:
    """md5 (hex) of ``text`` encoded as UTF-8: how run folders and checkpoints name a text."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def read_text(path: str | os.PathLike, min_length: int = 2, newline: str = "keep") -> str:
    """Read a text file as UTF-8 and return it (str), unchanged with ``newline="keep"``; with
    ``newline="lf"`` every Windows line ending ``\r\n`` becomes ``\n``.

    Raises ``ValueError`` with one sentence naming the problem, before any other work: the file
    is missing, is not a regular file (a directory, a named pipe, a device such as ``/dev/zero``,
    a socket: refused before it is opened, see :func:`charrnn.util.files.check_regular_file`), is
    empty, is not valid UTF-8 (with the byte offset of the first bad byte), or holds fewer than
    ``min_length`` characters (training needs ``seq_length + 1``). A leading byte-order mark
    (U+FEFF) is dropped.
    """
    path = os.fspath(path)
    if newline not in NEWLINES:
        raise ValueError(f"unknown newline {newline!r}; expected one of {NEWLINES}")
    check_regular_file(path, "text file")
    with open(path, "rb") as f:
        raw = f.read()
    if not raw:
        raise ValueError(f"text file is empty: {path}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{path} is not valid UTF-8: byte 0x{raw[err.start]:02x} at byte offset {err.start} "
            f"({err.reason}); convert it first, e.g. `iconv -f latin1 -t utf-8 IN > OUT`"
        ) from None
    if text.startswith("\ufeff"):  # a byte-order mark is not part of the text
        text = text[1:]
    if newline == "lf":
        text = text.replace("\r\n", "\n")
    if len(text) < min_length:
        raise ValueError(
            f"{path} holds {plural(len(text), 'character')}; at least {min_length:,} "
            f"{'is' if min_length == 1 else 'are'} needed (seq_length + 1)"
        )
    return text


@dataclass(frozen=True)
class Vocabulary:
    """The K distinct characters of a text in sorted (code point) order.

    ``chars`` is a tuple of K one-character strings; ``char_to_ind`` and ``ind_to_char`` are the
    handout's maps (HANDOUT req. 1) with indices 0..K-1.
    """

    chars: tuple[str, ...]
    char_to_ind: dict[str, int] = field(init=False, repr=False, compare=False)
    _codes: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        chars = tuple(self.chars)
        if not chars:
            raise ValueError("a vocabulary needs at least one character")
        if any(not isinstance(ch, str) or len(ch) != 1 for ch in chars):
            raise ValueError("every vocabulary entry must be a single character")
        if list(chars) != sorted(set(chars)):
            raise ValueError("vocabulary characters must be distinct and sorted")
        object.__setattr__(self, "chars", chars)
        object.__setattr__(self, "char_to_ind", {ch: i for i, ch in enumerate(chars)})
        object.__setattr__(self, "_codes", np.array([ord(ch) for ch in chars], dtype=np.uint32))

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        """The vocabulary ``sorted(set(text))`` of ``text``."""
        return cls(tuple(sorted(set(text))))

    @property
    def K(self) -> int:
        """Vocabulary size K."""
        return len(self.chars)

    @property
    def ind_to_char(self) -> dict[int, str]:
        """Index -> character map."""
        return dict(enumerate(self.chars))

    @property
    def index_dtype(self) -> np.dtype:
        """The smallest unsigned integer dtype that holds 0..K-1: uint8 for K <= 256."""
        return np.dtype(np.uint8 if self.K <= 256 else np.uint16 if self.K <= 65536 else np.uint32)

    def encode(self, text: str, block: int = 1 << 20) -> np.ndarray:
        """Indices of ``text``'s characters, shape (len(text),), of :attr:`index_dtype` (uint8
        for K <= 256): one byte per character for the book.

        Encoded ``block`` characters at a time through their code points (no Python object per
        character), so the memory beyond the result is a few ``block``-sized arrays. Raises
        ``ValueError`` naming the characters that are not in the vocabulary and where the first
        one is.
        """
        out = np.empty(len(text), dtype=self.index_dtype)
        missing, first = set(), None
        for start in range(0, len(text), block):
            codes = np.frombuffer(text[start : start + block].encode("utf-32-le"), dtype=np.uint32)
            idx = np.minimum(np.searchsorted(self._codes, codes), self.K - 1)
            bad = self._codes[idx] != codes
            if bad.any():
                missing.update(chr(c) for c in np.unique(codes[bad]))
                if first is None:
                    first = start + int(np.argmax(bad))
            out[start : start + len(codes)] = idx
        if missing:
            raise ValueError(
                f"{len(missing)} character(s) not in the vocabulary: "
                + ", ".join(repr(ch) for ch in sorted(missing))
                + f" (the first, {text[first]!r}, at character {first:,})"
            )
        return out

    def decode(self, indices) -> str:
        """The string of the characters at ``indices`` (ints in 0..K-1)."""
        return "".join(self.chars[int(i)] for i in indices)

    def difference(self, other: Vocabulary) -> tuple[list[str], list[str]]:
        """(characters only in self, characters only in other), each sorted."""
        a, b = set(self.chars), set(other.chars)
        return sorted(a - b), sorted(b - a)


def updates_per_epoch(n_chars: int, seq_length: int) -> int:
    """Number of updates in one epoch under the handout's reset rule (HANDOUT req. 13).

    Positions e = 0, seq_length, 2 seq_length, ... while e <= n_chars - seq_length - 1.
    For the book (n_chars = 1,107,542) and seq_length 25 this is 44,301.
    Raises ``ValueError`` if the text is shorter than seq_length + 1.
    """
    n_chars = check_positive_int("n_chars", n_chars)
    seq_length = check_positive_int("seq_length", seq_length)
    if n_chars < seq_length + 1:
        raise ValueError(
            f"text of {n_chars} characters is shorter than seq_length + 1 = {seq_length + 1}"
        )
    return (n_chars - seq_length - 1) // seq_length + 1
