"""Atomic file writes: write to a temporary name in the same folder, then rename into place.

``os.replace`` is atomic on POSIX, so a reader (or a crash, even ``kill -9``) sees either the
previous complete file or the new complete file, never a truncated one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile

__all__ = ["atomic_open", "write_text", "write_json"]


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs):
    """Open a temporary file next to ``path``; on success fsync and rename it to ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched.
    ``mode`` is "w" (text, UTF-8 unless ``encoding`` is given) or "wb".
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` (UTF-8) atomically."""
    with atomic_open(path, "w") as f:
        f.write(text)


def write_json(path, obj) -> None:
    """Write ``obj`` as indented JSON (UTF-8, non-ASCII kept) to ``path`` atomically."""
    with atomic_open(path, "w") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")
