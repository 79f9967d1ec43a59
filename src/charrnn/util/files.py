"""Files by path: atomic writes, and the checks made before any work on what is read and written.

Writes go to a temporary name in the same folder, then are renamed into place: ``os.replace``
is atomic on POSIX, so a reader (or a crash, even ``kill -9``) sees either the previous complete
file or the new complete file, never a truncated one. :func:`check_regular_file` refuses what is
not a regular file before it is opened (opening a FIFO blocks; ``/dev/zero`` never ends), and
:func:`check_writable` a destination that cannot be written, before the work that fills it.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile

__all__ = ["atomic_open", "write_text", "write_json", "check_regular_file", "check_writable"]

#: What ``os.stat`` says a path is, for the file types that are not regular files.
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def check_regular_file(path: str | os.PathLike, what: str = "text file") -> str:
    """Return ``path`` (str) when it is a regular file (after symbolic links), without opening it.

    Raises ``ValueError`` with one sentence: "{what} not found: PATH", or "expected a {what} but
    PATH is a named pipe (FIFO)" (a directory, a character device such as ``/dev/zero``, a block
    device, a socket).
    """
    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ValueError(f"{what} not found: {path}") from None
    except OSError as err:
        raise ValueError(f"cannot read {what} {path}: {err.strerror}") from None
    if not stat.S_ISREG(mode):
        kind = next((k for test, k in _KINDS if test(mode)), "not a regular file")
        raise ValueError(f"expected a {what} but {path} is {kind}")
    return path


def check_writable(path: str | os.PathLike, what: str = "output") -> str:
    """Return ``path`` (str) when a file can be written there by :func:`atomic_open`: it is not a
    folder, and its nearest existing parent is a folder we may write to (the missing ones are
    made when writing). Creates nothing.

    Raises ``ValueError`` naming ``what`` (e.g. "--json") and ``path``, and why not: it is a
    folder, a parent is a file, or a folder is not writable.
    """
    path = os.fspath(path)
    if not path:
        raise ValueError(f"{what}: the path is empty")
    if os.path.isdir(path):
        raise ValueError(f"cannot write {what} {path}: it is a folder; give a file name")
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ValueError(f"cannot write {what} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {what} {path}: the folder {parent} is not writable")
    return path


def _naming(err: OSError, path: str, show_filename: bool = False) -> OSError:
    """``err`` as the same kind of OSError (same errno) whose message names ``path``, the
    destination, rather than a temporary file (``show_filename``: and ``err``'s own file)."""
    where = f" ({err.filename})" if show_filename and err.filename else ""
    return type(err)(err.errno, f"cannot write {path}: {err.strerror or err}{where}")


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs):
    """Open a temporary file next to ``path``; on success fsync and rename it to ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched.
    ``mode`` is "w" (text, UTF-8 unless ``encoding`` is given) or "wb". When the folder or the
    temporary file cannot be made, or the rename fails, the ``OSError`` (same type and errno)
    names ``path``, never the temporary name.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:  # a parent is a file, or a folder is not writable
        raise _naming(err, path, show_filename=True) from None
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                                   dir=folder)
    except OSError as err:  # the folder is not writable, the disk is full, ...
        raise _naming(err, path) from None
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        f = os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        try:
            os.replace(tmp, path)
        except OSError as err:  # path is a folder, ...
            raise _naming(err, path) from None
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

