"""Project paths: the project root, relative paths taken from it, the default text.

Notebooks run with the kernel's working directory wherever Jupyter or papermill was started, so
relative paths in their parameters are taken from the project root, not from the cwd.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["project_root", "resolve", "default_data_path", "default_text"]


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The project folder: the nearest folder at or above ``start`` (default: the cwd), else
    above this package's source (an editable install), holding ``pyproject.toml`` and
    ``notebooks/``; falls back to the cwd. Lets notebooks run from any working directory."""
    here = Path(start or os.getcwd()).resolve()
    for base in (here, Path(__file__).resolve().parent):
        for folder in (base, *base.parents):
            if (folder / "pyproject.toml").is_file() and (folder / "notebooks").is_dir():
                return folder
    return here


def resolve(path: str | os.PathLike, root: Path | None = None) -> Path:
    """``path`` if absolute, else relative to the project root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (root or project_root()) / p


def default_data_path(root: Path | None = None) -> Path:
    """``data/goblet_book.txt`` if present, else ``data/shakespeare.txt`` (which ``make data``
    builds with ``data/prepare_shakespeare.py``; charrnn itself never downloads)."""
    root = root or project_root()
    book = root / "data" / "goblet_book.txt"
    return book if book.is_file() else root / "data" / "shakespeare.txt"


def default_text(root: Path | None = None) -> Path:
    """The default training text, :func:`default_data_path`, which must exist. Raises
    ``ValueError`` saying what to do when neither the book nor the default corpus is there."""
    path = default_data_path(root)
    if not path.is_file():
        raise ValueError(f"no text to train on: neither data/goblet_book.txt nor {path} exists; run "
                         "`make data` to build the default corpus (it downloads a public-domain "
                         "Shakespeare), give --data PATH (in a notebook: data_path), or put the book "
                         "in data/goblet_book.txt")
    return path
