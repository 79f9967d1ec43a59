"""Which code produced a result: the package modules that a command runs, and a hash of them.

The training code is every module that :mod:`charrnn.training.train` imports, directly or through other
charrnn modules (found by reading their ``import`` statements, so the list never has to be kept
by hand). A result cached under :func:`code_hash` is stale as soon as any of those files changes.
This module itself is not counted: it decides which files a result depends on, never the result.

``make`` takes the prerequisites of every rule that runs package code from here
(:data:`MAKE_LISTS`): each list holds the modules reachable from the roots of what the rule runs, a
``python -m charrnn COMMAND``, a notebook or a script, so an edit of a module redoes exactly the
results that run it.

    python -m charrnn.training.provenance          # the training files, one per line
    python -m charrnn.training.provenance --hash   # their hash
    python -m charrnn.training.provenance --make   # make's lists: one "NAME_SRC := FILES" line each

A root is a module's dotted name below charrnn (``"training.train"``: the module and everything any
of its statements imports, also inside functions, where imports are made lazily),
``"MODULE:FUNCTION"`` (the module, its module-level imports and those of that one function) or a
file of the project (``notebooks/03_report.ipynb``, ``benchmarks/bench.py``: the charrnn modules it
imports; the file itself is not listed). Modules in :data:`DISPATCH` import what each of their
functions needs inside the function: reached by an import, only their module-level imports are followed.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import sys
from pathlib import Path

__all__ = ["training_files", "code_hash", "module_files", "module_imports", "make_lists", "MAKE_LISTS"]

PACKAGE = Path(__file__).resolve().parents[1]
#: Where training starts: the loop, its compiled engine (imported lazily) and the run-folder writer.
ROOTS = ("training.train", "training.engine", "training.runs")
#: One function per command, each importing its own modules (``python -m charrnn``'s commands).
DISPATCH = ("commands",)
#: Bookkeeping that decides no result (it only names the code): never listed, so neither the hash
#: nor make's lists change when the lists here are edited.
UNLISTED = ("training.provenance",)


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
    "GRID_SRC": _cli("cmd_experiment", "_experiment_sweep", "_run_sweep"),
    "UNITS_SRC": _cli("cmd_units"),
    "UNITS_BASELINE_SRC": _cli("cmd_units", "_units_of_baseline"),
    "GRADCHECK_SRC": _notebook("01_gradient_check.ipynb"),
    "STUDY_SRC": _cli("cmd_study"),
    "CALIBRATE_SRC": _cli("cmd_calibrate"),
    "CONTEXT_SRC": _cli("cmd_context", "_study_models", "_named", "_label"),
    "DYNAMIC_SRC": _cli("cmd_dynamic", "_study_models", "_named", "_label"),
    "GRADIENTS_SRC": _cli("cmd_gradients", "_study_models", "_named", "_label"),
    "SCALING_SRC": _cli("cmd_sweep", "_check_runner_flags", "_run_sweep"),
    "BENCH_SRC": ("benchmarks/bench.py",),
    "REPORT_SRC": _notebook("03_report.ipynb"),
    "PDF_SRC": _cli("cmd_pdf"),
}


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
#: What holds statements (imports are statements): statements, except clauses, match cases.
_BLOCKS = (ast.stmt, ast.excepthandler, ast.match_case)


def _module_path(name: str) -> Path:
    """The source file of module ``name`` (dotted, below charrnn: ``"model.rnn"``)."""
    return PACKAGE.joinpath(*name.split(".")).with_suffix(".py")


def _charrnn_modules(node: ast.AST, package: str) -> list[str]:
    """The charrnn modules (dotted, below charrnn) that one import statement names: relative to
    ``package`` (the importing module's package, dotted below charrnn, "" for the top) in the
    package, absolute (``charrnn.X.Y``) elsewhere. ``from . import x`` of a function names the
    module it is in; a subpackage's ``__init__`` (a docstring) is never named."""
    if isinstance(node, ast.Import):
        return [a.name.partition(".")[2] for a in node.names if a.name.startswith("charrnn.")]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = package.split(".") if package else []
        base = base[:len(base) - (node.level - 1)]
    elif (node.module or "").split(".")[0] == "charrnn":
        base, node_module = [], node.module.partition(".")[2]
        return _from(node_module, [a.name for a in node.names])
    else:
        return []
    return _from(".".join([*base, *filter(None, [node.module])]), [a.name for a in node.names])


def _from(module: str, names: list[str]) -> list[str]:
    """``from charrnn.<module> import <names>``: the modules it names."""
    if module and _module_path(module).is_file():
        return [module]
    return [f"{module}.{n}" if module else n for n in names]


def _names(tree: ast.AST, package: str, functions: bool = True) -> set[str]:
    """The charrnn modules imported in ``tree`` (a module of ``package``); without the bodies
    of functions unless ``functions``."""
    found, todo = set(), [tree]
    while todo:
        node = todo.pop()
        found.update(_charrnn_modules(node, package))
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


def _package(name: str) -> str:
    """The package of module ``name`` (dotted below charrnn; "" for the top)."""
    return name.rpartition(".")[0]


def module_imports(name: str, functions: bool = True) -> set[str]:
    """The charrnn modules that module ``name`` imports (with ``functions``, also inside its
    functions)."""
    return _names(_tree(_module_path(name)), _package(name), functions)


def _function_imports(name: str, function: str) -> set[str]:
    """The charrnn modules imported at module level of module ``name`` and inside ``function``."""
    tree = _tree(_module_path(name))
    found = [n for n in tree.body if isinstance(n, _FUNCTIONS) and n.name == function]
    if not found:
        raise ValueError(f"charrnn.{name} has no function {function}")
    return _names(tree, _package(name), functions=False) | _names(found[0], _package(name))


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
    return {name for cell in _code_cells(path) for name in _names(ast.parse(cell), "")}


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
            if not _module_path(name).is_file():
                raise ValueError(f"no module charrnn.{name}")
            seen.add(name)
            todo.extend(_function_imports(name, function))
        elif _module_path(root).is_file():
            todo.append(root)
        else:
            raise ValueError(f"no module charrnn.{root}")
    done = set()
    while todo:
        name = todo.pop()
        if name in done or name in UNLISTED or not _module_path(name).is_file():
            continue
        done.add(name)
        todo.extend(module_imports(name, functions=name not in DISPATCH))
    return sorted(_module_path(name) for name in (seen | done) - set(UNLISTED))


def training_files(roots=ROOTS) -> list[Path]:
    """The source files of the modules reachable from ``roots`` by imports, sorted."""
    return module_files(roots)


def code_hash(roots=ROOTS) -> str:
    """md5 (hex) over the paths (below the package) and contents of :func:`training_files`."""
    h = hashlib.md5()
    for path in training_files(roots):
        h.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
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
