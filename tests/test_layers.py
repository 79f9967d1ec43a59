"""The folders are the architecture (issue 15, item 1): every import, lazy ones inside functions
included, points down the layers, and no two modules import each other, directly or around a
loop. The imports are read by charrnn.training.provenance, the reader that make's prerequisite
lists and the training code's hash also use."""

import ast
from graphlib import CycleError, TopologicalSorter

import pytest

import charrnn.training.provenance as prov

#: Lowest first. A module may import its own layer and the layers before it; the modules at the
#: top of the package (cli, commands, nbrun, params, __main__) may import any layer.
LAYERS = ("util", "model", "training", "studies", "report")
PACKAGE = prov.PACKAGE


def modules() -> list[str]:
    """Every module of the package, dotted below charrnn (``"model.rnn"``), ``__init__`` left out
    (each holds a docstring only)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] != "__init__":
            found.append(".".join(parts))
    return found


def rank(module: str) -> int:
    layer = module.split(".")[0] if "." in module else None
    return LAYERS.index(layer) if layer else len(LAYERS)


def graph() -> dict[str, set[str]]:
    return {m: prov.module_imports(m) for m in modules()}


def test_every_module_lives_in_a_layer_or_is_an_entry_point():
    top = {m for m in modules() if "." not in m}
    assert top == {"__main__", "cli", "commands", "nbrun", "params"}
    assert {m.split(".")[0] for m in modules() if "." in m} == set(LAYERS)
    for layer in LAYERS:
        # a docstring that says what lives there, and nothing else
        body = ast.parse((PACKAGE / layer / "__init__.py").read_text(encoding="utf-8")).body
        assert len(body) == 1 and isinstance(body[0].value, ast.Constant), layer
        assert all(f"``{m.split('.')[1]}``" in body[0].value.value
                   for m in modules() if m.startswith(layer + ".")), layer


def test_the_imports_point_down():
    up = [f"{m} imports {d}" for m, deps in graph().items() for d in deps if rank(d) > rank(m)]
    assert not up, "a lower layer imports a higher one: " + "; ".join(sorted(up))


def test_no_import_cycle():
    deps = graph()
    try:
        tuple(TopologicalSorter(deps).static_order())
    except CycleError as e:
        pytest.fail(f"import cycle: {' -> '.join(e.args[1])}")


def test_the_reader_sees_lazy_imports_and_unknown_names_fail():
    # train imports the compiled engine inside a function: the graph must hold that edge
    assert "training.engine" in prov.module_imports("training.train")
    assert "training.engine" not in prov.module_imports("training.train", functions=False)
    # every name the reader returns is a module of the package (no package, no function)
    assert all(deps <= set(modules()) for deps in graph().values())


def test_the_library_never_downloads():
    # data preparation is data/prepare_shakespeare.py's job (make data), never the package's
    network = {"urllib", "http", "socket", "ssl", "ftplib", "requests", "pip", "urllib3"}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not {n.split(".")[0] for n in names} & network, (path, names)
            # nor does it start pip (a hint in a message may name it)
            if isinstance(node, ast.Call) and ast.unparse(node.func).startswith("subprocess."):
                assert "pip" not in ast.unparse(node), (path, ast.unparse(node))


def test_the_checks_fail_on_a_bad_edge(monkeypatch):
    # an upward import added to a model module, as the test would see it
    real = prov.module_imports
    monkeypatch.setattr(prov, "module_imports", lambda m, functions=True:
                        real(m) | ({"report.prose"} if m == "model.rnn" else set()))
    with pytest.raises(AssertionError, match="model.rnn imports report.prose"):
        test_the_imports_point_down()
    monkeypatch.setattr(prov, "module_imports", lambda m, functions=True:
                        real(m) | ({"training.train"} if m == "model.data" else set()))
    with pytest.raises(pytest.fail.Exception, match="import cycle"):
        test_no_import_cycle()
