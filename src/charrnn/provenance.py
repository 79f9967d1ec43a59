"""Which code produced a result: the package modules that a command runs, and a hash of them.

The training code is every module that :mod:`charrnn.train` imports, directly or through other
charrnn modules (found by reading their ``import`` statements, so the list never has to be kept
by hand). A result cached under :func:`code_hash` is stale as soon as any of those files changes.
This module itself is not counted: it decides which files a result depends on, never the result.

``make`` takes the prerequisites of every rule that runs package code from here
(:data:`MAKE_LISTS`): each list holds the modules reachable from the roots of what the rule runs, a
``python -m charrnn COMMAND``, a notebook or a script, so an edit of a module redoes exactly the
results that run it.

    python -m charrnn.provenance          # the training files, one per line
    python -m charrnn.provenance --hash   # their hash
    python -m charrnn.provenance --make   # make's lists: one "NAME_SRC := FILES" line each

A root is a module's name (``"train"``: the module and everything any of its statements imports,
also inside functions, where imports are made lazily), ``"MODULE:FUNCTION"`` (the module, its
module-level imports and those of that one function) or a file of the project (``notebooks/
03_report.ipynb``, ``benchmarks/bench.py``: the charrnn modules it imports; the file itself is not
listed). Modules in :data:`DISPATCH` import what each of their functions needs inside the
function: reached by an import, only their module-level imports are followed.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import sys
from pathlib import Path

__all__ = ["training_files", "code_hash", "module_files", "make_lists", "MAKE_LISTS"]

PACKAGE = Path(__file__).resolve().parent
#: Where training starts: the loop, its compiled engine (imported lazily) and the run-folder writer.
ROOTS = ("train", "engine", "runs")
#: One function per command, each importing its own modules (``python -m charrnn``'s commands).
DISPATCH = ("commands",)
#: Bookkeeping that decides no result (it only names the code): never listed, so neither the hash
#: nor make's lists change when the lists here are edited.
UNLISTED = ("provenance",)


def _cli(*functions: str) -> tuple[str, ...]:
    """``python -m charrnn``: its entry and parser (cli; it imports config for the training
    flags), and the named functions of :mod:`charrnn.commands`."""
    return ("__main__", *(f"commands:{f}" for f in functions))


def _notebook(name: str) -> tuple[str, ...]:
    """A notebook that make runs with ``python -m charrnn.nbrun``."""
    return ("nbrun", f"notebooks/{name}")


#: make's prerequisite lists (variable name: roots). The handout runs get the training code, what
#: :func:`code_hash` covers: notebook 02 reuses a run of the same code without rewriting its
#: metrics.json, so a module outside the hash would have make run the notebook again every time.
MAKE_LISTS: dict[str, tuple[str, ...]] = {
    "TRAIN_SRC": ROOTS,
    "EXPERIMENT_SRC": _cli("cmd_experiment"),
    "SUMMARY_SRC": _notebook("04_experiments.ipynb"),
    "BASELINE_SRC": _cli("cmd_baseline"),
    "UNITS_SRC": _cli("cmd_units"),
    "UNITS_BASELINE_SRC": _cli("cmd_units", "_units_of_baseline"),
    "GRADCHECK_SRC": _notebook("01_gradient_check.ipynb"),
    "STUDY_SRC": _cli("cmd_study"),
    "BENCH_SRC": ("benchmarks/bench.py",),
    "REPORT_SRC": _notebook("03_report.ipynb"),
    "PDF_SRC": _cli("cmd_pdf"),
}


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
#: What holds statements (imports are statements): statements, except clauses, match cases.
_BLOCKS = (ast.stmt, ast.excepthandler, ast.match_case)


def _charrnn_modules(node: ast.AST) -> list[str]:
    """The charrnn modules that one import statement names: relative in the package, absolute
    (``charrnn.X``) elsewhere. Names that are not modules (``from . import x`` of a function)
    are dropped later."""
    if isinstance(node, ast.Import):
        return [a.name.split(".")[1] for a in node.names if a.name.startswith("charrnn.")]
    if not isinstance(node, ast.ImportFrom):
        return []
    module = node.module or ""
    if node.level == 1 or (node.level == 0 and module.split(".")[0] == "charrnn"):
        parts = module.split(".")[node.level == 0:]  # the part after "charrnn."
        return [parts[0]] if parts and parts[0] else [a.name for a in node.names]
    return []


def _names(tree: ast.AST, functions: bool = True) -> set[str]:
    """The charrnn modules imported in ``tree``; without the bodies of functions unless
    ``functions``."""
    found, todo = set(), [tree]
    while todo:
        node = todo.pop()
        found.update(_charrnn_modules(node))
        todo.extend(c for c in ast.iter_child_nodes(node) if isinstance(c, _BLOCKS)
                    and (functions or not isinstance(c, _FUNCTIONS)))
    return found


@functools.cache
def _parsed(path: Path, stamp: tuple[int, int]) -> ast.Module:
    """The syntax tree of a module (cached while its mtime and size stay)."""
    return ast.parse(path.read_text(encoding="utf-8"))


def _tree(path: Path) -> ast.Module:
    st = path.stat()
    return _parsed(path, (st.st_mtime_ns, st.st_size))


def _imports(path: Path, functions: bool = True) -> set[str]:
    """Names of the charrnn modules that the module at ``path`` imports (with ``functions``, also
    inside its functions)."""
    return _names(_tree(path), functions)


def _function_imports(path: Path, function: str) -> set[str]:
    """The charrnn modules imported at module level of ``path`` and inside ``function``."""
    tree = _tree(path)
    found = [n for n in tree.body if isinstance(n, _FUNCTIONS) and n.name == function]
    if not found:
        raise ValueError(f"{path.name} has no function {function}")
    return _names(tree, functions=False) | _names(found[0])


def _code_cells(path: Path) -> list[str]:
    """A notebook's code cells (IPython's %magic and !shell lines blanked) or a script's text."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".ipynb":
        return [text]
    cells = []
    for cell in json.loads(text)["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            cells.append("\n".join("" if line.lstrip().startswith(("%", "!")) else line
                                   for line in source.splitlines()))
    return cells


def _file_imports(path: Path) -> set[str]:
    """The charrnn modules that a notebook or a script outside the package imports."""
    return {name for cell in _code_cells(path) for name in _names(ast.parse(cell))}


def module_files(roots) -> list[Path]:
    """The source files of the modules reachable from ``roots`` (see the module docstring) by
    imports, sorted, without :data:`UNLISTED`. Raises ``ValueError`` for a root that does not
    exist (a module, a function of it, a file)."""
    seen, todo = set(), []
    for root in roots:
        if "/" in root or root.endswith((".py", ".ipynb")):
            path = PACKAGE.parents[1] / root
            if not path.is_file():
                raise ValueError(f"no file {root} in {PACKAGE.parents[1]}")
            todo.extend(_file_imports(path))
        elif ":" in root:
            name, _, function = root.partition(":")
            if not (PACKAGE / f"{name}.py").is_file():
                raise ValueError(f"no module charrnn.{name}")
            seen.add(name)
            todo.extend(_function_imports(PACKAGE / f"{name}.py", function))
        elif (PACKAGE / f"{root}.py").is_file():
            todo.append(root)
        else:
            raise ValueError(f"no module charrnn.{root}")
    done = set()
    while todo:
        name = todo.pop()
        path = PACKAGE / f"{name}.py"
        if name in done or name in UNLISTED or not path.is_file():
            continue
        done.add(name)
        todo.extend(_imports(path, functions=name not in DISPATCH))
    return sorted(PACKAGE / f"{name}.py" for name in (seen | done) - set(UNLISTED))


def training_files(roots=ROOTS) -> list[Path]:
    """The source files of the modules reachable from ``roots`` by imports, sorted."""
    return module_files(roots)


def code_hash(roots=ROOTS) -> str:
    """md5 (hex) over the names and contents of :func:`training_files`."""
    h = hashlib.md5()
    for path in training_files(roots):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _relative(paths) -> str:
    return " ".join(str(p.relative_to(PACKAGE.parents[1])) for p in paths)


def make_lists(lists=None) -> str:
    """make's assignments ``NAME := src/charrnn/a.py ...``, one line per entry of ``lists``
    (default :data:`MAKE_LISTS`), paths relative to the project root."""
    lists = MAKE_LISTS if lists is None else lists
    return "".join(f"{var} := {_relative(module_files(roots))}\n" for var, roots in lists.items())


if __name__ == "__main__":
    if sys.argv[1:] == ["--hash"]:
        print(code_hash())
    elif sys.argv[1:] == ["--make"]:
        sys.stdout.write(make_lists())
    else:
        print("\n".join(str(p.relative_to(PACKAGE.parents[1])) for p in training_files()))
