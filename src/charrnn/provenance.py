"""Which code produced a result: the package modules that training runs, and a hash of them.

The training code is every module that :mod:`charrnn.train` imports, directly or through other
charrnn modules (found by reading their ``import`` statements, so the list never has to be kept
by hand). A result cached under :func:`code_hash` is stale as soon as any of those files changes;
``make`` uses :func:`training_files` as the prerequisites of every training target.

    python -m charrnn.provenance          # the files, one per line (for make)
    python -m charrnn.provenance --hash   # their hash
"""

from __future__ import annotations

import ast
import hashlib
import sys
from pathlib import Path

__all__ = ["training_files", "code_hash"]

PACKAGE = Path(__file__).resolve().parent
#: Where training starts: the loop, its compiled engine (imported lazily) and the run-folder writer.
ROOTS = ("train", "engine", "runs")


def _imports(path: Path) -> set[str]:
    """Names of the charrnn modules that the module at ``path`` imports (relative imports)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def training_files(roots=ROOTS) -> list[Path]:
    """The source files of the modules reachable from ``roots`` by imports, sorted."""
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        path = PACKAGE / f"{name}.py"
        if name in seen or not path.is_file():
            continue
        seen.add(name)
        todo.extend(_imports(path))
    return sorted(PACKAGE / f"{name}.py" for name in seen)


def code_hash(roots=ROOTS) -> str:
    """md5 (hex) over the names and contents of :func:`training_files`."""
    h = hashlib.md5()
    for path in training_files(roots):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


if __name__ == "__main__":
    if sys.argv[1:] == ["--hash"]:
        print(code_hash())
    else:
        print("\n".join(str(p.relative_to(PACKAGE.parents[1])) for p in training_files()))
