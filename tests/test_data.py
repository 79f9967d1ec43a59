"""Tests of charrnn.model.data: reading text, the vocabulary and the handout's epoch arithmetic."""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from charrnn.model.data import Vocabulary, read_text, updates_per_epoch
from charrnn.util.checks import check_positive_int

TEXT = "Harry said: \"Oü est Madame Maxime?\"\t• 42\n"


def brute_force_updates(n_chars: int, seq_length: int) -> int:
    """The handout's rule (reqs. 12-13) as a plain loop: e = 0; count while e <= n - s - 1."""
    e, count = 0, 0
    while e <= n_chars - seq_length - 1:
        count += 1
        e += seq_length
    return count


# ----------------------------------------------------------------------------- vocabulary


def test_vocabulary_is_sorted_set_of_text():
    v = Vocabulary.from_text(TEXT)
    expected = sorted(set(TEXT))
    assert list(v.chars) == expected
    assert v.K == len(expected)
    for i, ch in enumerate(expected):
        assert v.char_to_ind[ch] == i
        assert v.ind_to_char[i] == ch
    assert set(v.char_to_ind) == set(TEXT)


def test_vocabulary_does_not_depend_on_character_order():
    shuffled = "".join(reversed(TEXT)) + TEXT[::3]
    assert Vocabulary.from_text(TEXT) == Vocabulary.from_text(shuffled)


def test_vocabulary_is_stable_across_hash_seeds():
    # list(set(text)) (the handout's recipe) depends on PYTHONHASHSEED; ours must not.
    code = (
        "from charrnn.model.data import Vocabulary; "
        f"print(repr(Vocabulary.from_text({TEXT!r}).chars))"
    )
    outs = []
    for seed in ("1", "2", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True)
        outs.append(res.stdout.strip())
    assert outs[0] == outs[1] == outs[2] == repr(tuple(sorted(set(TEXT))))


@pytest.mark.parametrize("chars", [("b", "a"), ("a", "a"), (), ("ab",)])
def test_vocabulary_rejects_unsorted_duplicate_empty_or_multichar(chars):
    with pytest.raises(ValueError):
        Vocabulary(chars)


def test_encode_decode_round_trip():
    v = Vocabulary.from_text(TEXT + "😀")  # includes a character outside the BMP
    text = TEXT[::-1] + "😀" + TEXT
    idx = v.encode(text)
    assert idx.dtype == np.uint8  # K <= 256: one byte per character
    assert idx.shape == (len(text),)
    assert np.array_equal(v.encode(text, block=7), idx)  # blocks do not change the result
    assert idx.tolist() == [v.char_to_ind[ch] for ch in text]
    assert v.decode(idx) == text
    assert v.decode(list(range(v.K))) == "".join(sorted(set(TEXT + "😀")))
    assert v.encode("").shape == (0,)
    wide = Vocabulary(tuple(sorted(chr(0x4E00 + i) for i in range(300))))  # K > 256
    assert wide.encode(wide.chars[299] + wide.chars[0]).tolist() == [299, 0]
    assert wide.index_dtype == np.uint16


def test_encode_names_every_unknown_character_and_the_first_position_across_blocks():
    v = Vocabulary.from_text("abc")
    with pytest.raises(ValueError, match=r"2 character\(s\) not in the vocabulary: 'x', 'y' "
                       r"\(the first, 'y', at character 9\)"):
        v.encode("abcabcabcyabcx", block=4)


@pytest.mark.parametrize("unknown", ["A", "m", "~"])  # below, between and above the vocab's codes
def test_encode_names_unknown_character(unknown):
    v = Vocabulary.from_text("bdfhz")  # 'A' < 'b', 'b' < 'm' < 'z', '~' > 'z'
    assert "A" < "b" < "m" < "z" < "~"
    with pytest.raises(ValueError, match=repr(unknown)):
        v.encode("bd" + unknown + "f")


def test_encode_lists_every_unknown_character():
    v = Vocabulary.from_text("abc")
    with pytest.raises(ValueError) as err:
        v.encode("axbyc")
    msg = str(err.value)
    assert "'x'" in msg and "'y'" in msg and "2 character" in msg


def test_difference():
    a, b = Vocabulary.from_text("abcd"), Vocabulary.from_text("cdef")
    assert a.difference(b) == (["a", "b"], ["e", "f"])


# ----------------------------------------------------------------------------- updates per epoch


def test_updates_per_epoch_matches_brute_force_loop():
    for seq_length in range(1, 13):
        for n_chars in range(seq_length + 1, 80):
            assert updates_per_epoch(n_chars, seq_length) == brute_force_updates(
                n_chars, seq_length), (n_chars, seq_length)


def test_updates_per_epoch_boundaries_by_hand():
    # n = 26, s = 25: only e = 0 (inputs 0..24, targets 1..25).
    assert updates_per_epoch(26, 25) == 1
    # n = 51: e = 0 and e = 25 (25 <= 51 - 26 = 25), the last window ends exactly at the text end.
    assert updates_per_epoch(51, 25) == 2
    assert updates_per_epoch(50, 25) == 1
    assert updates_per_epoch(2, 1) == 1


@pytest.mark.parametrize("n_chars, seq_length", [(25, 25), (1, 1), (0, 25), (26, 0), (26, 2.5)])
def test_updates_per_epoch_rejects_too_short_or_bad(n_chars, seq_length):
    with pytest.raises(ValueError):
        updates_per_epoch(n_chars, seq_length)


def test_check_positive_int():
    assert check_positive_int("m", 3) == 3
    assert check_positive_int("m", np.int64(7)) == 7
    for bad in (0, -1, 1.5, 2.0, True, "3", None):
        with pytest.raises(ValueError, match="m must be"):
            check_positive_int("m", bad)


@pytest.mark.book
def test_book_facts(book_path):
    raw = book_path.read_bytes()
    assert len(raw) == 1_107_545
    assert hashlib.md5(raw).hexdigest() == "a3d35197fa3ac7c1a19ac73fa6d189fd"
    text = read_text(book_path)
    assert len(text) == 1_107_542
    v = Vocabulary.from_text(text)
    assert v.K == 80
    assert {"\t", "\n", "ü", "•", "^", "_", "}"} <= set(v.chars)
    assert "5" not in v.chars and "8" not in v.chars
    assert updates_per_epoch(len(text), 25) == 44_301 == brute_force_updates(len(text), 25)
    assert v.decode(v.encode(text[:5000])) == text[:5000]


# ----------------------------------------------------------------------------- read_text


def test_read_text_returns_text_unchanged(tmp_path):
    text = "line one\r\nline two\tü•\n"
    p = tmp_path / "t.txt"
    p.write_bytes(text.encode("utf-8"))
    assert read_text(p) == text  # no newline translation, decoded as UTF-8
    assert read_text(str(p)) == text


def test_read_text_missing_file(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        read_text(tmp_path / "nope.txt")


def test_read_text_directory(tmp_path):
    with pytest.raises(ValueError, match="directory"):
        read_text(tmp_path)


def test_read_text_empty_file(tmp_path):
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        read_text(p)


@pytest.mark.parametrize(
    "raw, offset, byte",
    [
        (b"abc\xffdef", 3, "0xff"),
        (b"\xc3\xbcab\x80cd", 4, "0x80"),  # after a 2-byte 'ü': byte offset 4, character offset 3
        (b"\x93quoted\x94", 0, "0x93"),  # cp1252 curly quotes
    ],
)
def test_read_text_invalid_utf8_names_byte_offset(tmp_path, raw, offset, byte):
    p = tmp_path / "bad.txt"
    p.write_bytes(raw)
    with pytest.raises(ValueError, match="UTF-8") as err:
        read_text(p)
    assert f"byte offset {offset} " in str(err.value)
    assert byte in str(err.value)


def test_read_text_too_short(tmp_path):
    p = tmp_path / "short.txt"
    p.write_bytes(b"a")
    with pytest.raises(ValueError, match="holds 1 character;"):
        read_text(p)  # default min_length = 2
    p.write_bytes("üü".encode())  # 4 bytes but 2 characters
    with pytest.raises(ValueError, match="2 characters"):
        read_text(p, min_length=3)
    assert read_text(p, min_length=2) == "üü"
    p.write_bytes(b"x" * 25)
    with pytest.raises(ValueError, match="at least 26"):
        read_text(p, min_length=26)
    p.write_bytes(b"x" * 26)
    assert read_text(p, min_length=26) == "x" * 26
