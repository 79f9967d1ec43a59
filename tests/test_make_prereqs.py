"""make's prerequisite lists come from charrnn.training.provenance (issue 15, item 3): every rule that runs
package code depends on the modules its command, notebook or script imports, so an edit of a module
redoes the results that run it and nothing else.

The make tests work in a copy of the project (Makefile, pyproject.toml, src/, notebooks/,
benchmarks/, .ci/) whose .venv links to the real one's parts and whose src/ comes first on
PYTHONPATH; every target is a file made by hand with a fixed date (no training), so ``make -n``
(with ``--debug=v``, which names the prerequisites newer than each target) says which results an
edit (a module dated later) makes stale. The copy's make starts Python only for its parse-time
checks and for .venv/prereqs.mk: a few seconds in all.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import charrnn.training.provenance as prov

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"

#: Variables of the Makefile (and make's own) that the caller's environment must not set here.
CLEAN_ENV = ("MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKELEVEL", "DATA", "PRESET", "SEEDS",
             "N_UPDATES", "SAMPLE_EVERY", "EXPERIMENT_CHARS", "EXPERIMENTS", "RUNS", "REPORTS",
             "BENCH_UPDATES", "BENCH_REPS", "JOBS", "CHECK_FOR", "VENV", "PYTHONPATH")
SETTINGS = ("RUNS=runs", "REPORTS=reports", "DATA=data/text.txt", "SEEDS=1",
            "EXPERIMENTS=sequential", "JOBS=1")
#: Always remade (FORCE, phony): make -q and -n take them as old and leave them alone.
ALWAYS = ("reports/.settings", "reports/.bench-settings", "system-deps")


def names(paths) -> set[str]:
    return {Path(p).stem for p in paths}


# --- charrnn.training.provenance ---------------------------------------------------------------------

@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A package of a few modules in tmp_path/src/pkg, with a notebook and a script beside it."""
    pkg = tmp_path / "src" / "pkg"
    pkg.mkdir(parents=True)
    files = {
        "a.py": "from .b import x\n\ndef f():\n    from . import c\n",
        "b.py": "x = 1\n",
        "c.py": "from .d import y\n",
        "d.py": "y = 2\n",
        "e.py": "import os\n",
        "g.py": "z = 3\n",
        "tools/__init__.py": "",
        "tools/provenance.py": "",
        # a subpackage: relative imports one and two levels up
        "sub/__init__.py": "",
        "sub/s.py": "from ..b import x\nfrom . import t\nfrom .. import d\n",
        "sub/t.py": "",
        # one function per command, each importing its own modules
        "commands.py": ("from .b import x\n\ndef cmd_one():\n    from .c import y\n\n"
                        "def cmd_two():\n    from . import e\n\nclass K:\n    def m(self):\n"
                        "        from . import g\n"),
        "main.py": "from . import commands\nfrom .tools import provenance\n",
    }
    for name, text in files.items():
        (pkg / name).parent.mkdir(exist_ok=True)
        (pkg / name).write_text(text, encoding="utf-8")
    cells = [{"cell_type": "code", "source": ["%config X = 1\n", "from charrnn.a import f\n"]},
             {"cell_type": "markdown", "source": ["from charrnn import e\n"]},
             {"cell_type": "code", "source": ["!ls\n", "import charrnn.g\n", "from charrnn import b"]}]
    (tmp_path / "nb.ipynb").write_text(json.dumps({"cells": cells}), encoding="utf-8")
    (tmp_path / "script.py").write_text("def main():\n    from charrnn.e import q\n",
                                        encoding="utf-8")
    monkeypatch.setattr(prov, "PACKAGE", pkg)
    monkeypatch.setattr(prov, "UNLISTED", ("tools.provenance",))
    return pkg


def test_imports_inside_functions_are_followed(fake_package):
    assert names(prov.module_files(["a"])) == {"a", "b", "c", "d"}
    assert names(prov.module_files(["c", "e"])) == {"c", "d", "e"}


def test_a_dispatch_module_adds_only_the_named_functions_imports(fake_package):
    assert names(prov.module_files(["commands:cmd_one"])) == {"commands", "b", "c", "d"}
    assert names(prov.module_files(["commands:cmd_two"])) == {"commands", "b", "e"}
    # reached by an import, only its module-level imports (not a method's)
    assert names(prov.module_files(["main"])) == {"main", "commands", "b"}
    assert names(prov.module_files(["main", "commands:cmd_two"])) == {"main", "commands", "b", "e"}


def test_subpackages_relative_imports_are_resolved(fake_package):
    # sub.s imports ..b, .t and the module d of the top (a package __init__ is never listed)
    assert names(prov.module_files(["sub.s"])) == {"s", "t", "b", "d"}
    assert prov.module_files(["sub.t"]) == [fake_package / "sub" / "t.py"]


def test_notebooks_and_scripts_are_roots(fake_package):
    # code cells only, magics dropped; the notebook itself is not listed
    assert names(prov.module_files(["nb.ipynb"])) == {"a", "b", "c", "d", "g"}
    assert names(prov.module_files(["script.py"])) == {"e"}


def test_provenance_itself_is_never_listed(fake_package):
    assert "provenance" not in names(prov.module_files(["main", "tools.provenance"]))


@pytest.mark.parametrize("root", ["nosuch", "commands:cmd_nosuch", "nosuch:f", "nosuch.ipynb"])
def test_a_missing_root_is_an_error(fake_package, root):
    with pytest.raises(ValueError):
        prov.module_files([root])


def test_make_lists_are_assignments_of_project_paths(fake_package):
    out = prov.make_lists({"ONE_SRC": ("commands:cmd_one",), "TWO_SRC": ("e",)})
    assert out == ("ONE_SRC := src/pkg/b.py src/pkg/c.py src/pkg/commands.py src/pkg/d.py\n"
                   "TWO_SRC := src/pkg/e.py\n")


def test_the_real_lists():
    lists = {var: names(prov.module_files(roots)) for var, roots in prov.MAKE_LISTS.items()}
    assert lists["TRAIN_SRC"] == names(prov.training_files())
    # what the old hand-kept lists missed
    assert {"baselines", "baselines_io", "gated", "config", "train", "evaluate", "orders",
            "data"} <= lists["BASELINE_SRC"]
    assert {"units", "probes", "unitviz", "checkpoint", "rnn", "orders", "data"} <= lists["UNITS_SRC"]
    assert not {"baselines", "baselines_io", "train"} & lists["UNITS_SRC"]  # --checkpoint only
    assert {"baselines_io", "baselines", "gated"} <= lists["UNITS_BASELINE_SRC"]
    assert {"gradcheck", "reference", "rnn"} <= lists["GRADCHECK_SRC"]
    assert {"study", "textmetrics", "sampling", "checkpoint"} <= lists["STUDY_SRC"]
    assert {"experiments", "train", "engine", "runs"} <= lists["EXPERIMENT_SRC"]
    assert {"pdf"} <= lists["PDF_SRC"]
    assert {"plots", "tables", "prose", "findings", "sections", "unitviz", "experiments",
            "baselines_io", "nbrun"} <= lists["REPORT_SRC"]
    # report-only modules are the report's alone; provenance is nobody's
    for var, mods in lists.items():
        assert "provenance" not in mods
        if var != "REPORT_SRC":
            assert not {"prose", "sections", "findings"} & mods, var
    # only the pdf command runs the printing code
    assert [var for var, mods in lists.items() if "pdf" in mods] == ["PDF_SRC"]


def test_the_makefile_keeps_no_list_by_hand():
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert not re.findall(r"\$\(PKG\)/[\w/]+\.py", text)
    declared = re.search(r"^PREREQ_LISTS := (.*?[^\\])$", text, re.M | re.S).group(1)
    assert declared.replace("\\", " ").split() == list(prov.MAKE_LISTS)


# --- make, in a copy of the project -------------------------------------------------------

class Project:
    """A copy of the project where every target of ``make reports/report.pdf`` is up to date."""

    def __init__(self, path: Path):
        self.path = path
        for name in ("Makefile", "pyproject.toml", "requirements.txt"):
            shutil.copy(ROOT / name, path / name)
        for name in ("src", "notebooks", "benchmarks", ".ci", "sweeps"):
            shutil.copytree(ROOT / name, path / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        # .venv: the real one's parts, but a prereqs.mk and .installed of its own
        (path / ".venv").mkdir()
        for child in VENV.iterdir():
            if child.name not in ("prereqs.mk", ".installed"):
                (path / ".venv" / child.name).symlink_to(child)
        (path / "data").mkdir()
        (path / "data" / "text.txt").write_text("hello world\n" * 50, encoding="utf-8")
        self.env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
        self.env["PYTHONPATH"] = str(path / "src")  # this copy's charrnn, not the editable one
        self.env["LC_ALL"] = "C"  # make's messages in English
        now = time.time()
        self.t_sources, self.t_targets, self.t_edit = now - 3000, now - 2000, now - 1000
        for f in [path, *path.rglob("*")]:
            if ".venv" not in f.relative_to(path).parts:
                os.utime(f, (self.t_sources, self.t_sources))
        (path / ".venv" / ".installed").touch()
        os.utime(path / ".venv" / ".installed", (self.t_sources, self.t_sources))
        self.make("reports/.settings", "reports/.bench-settings")
        inputs, runs = self.var("REPORT_INPUTS", "EXPERIMENT_RUNS")
        self.targets = [*inputs, *runs, "reports/bench.json", "reports/report.ipynb",
                        "reports/report.pdf"]
        # the inputs (the summary, 2 gated kinds x 3 seeds, the gradient check, a handout run and
        # its held-out twin, the sampling study, 3 units, calibrate, context, dynamic, gradients,
        # the scaling sweep), the runs of the experiment variants, the benchmark, the notebook and
        # the PDF
        assert len(self.targets) == len(set(self.targets)) == 25, self.targets
        for t in self.targets:
            (path / t).parent.mkdir(parents=True, exist_ok=True)
            (path / t).touch()
        self.settle()

    def make(self, *args):
        """``make ARGS`` in the copy (exit status 0 or 1, for -q; 2 is an error)."""
        out = subprocess.run(["make", "--no-print-directory", *SETTINGS, *args], cwd=self.path,
                             env=self.env, capture_output=True, text=True, timeout=120)
        assert out.returncode in (0, 1), out.stderr
        assert "Error" not in out.stderr and "Traceback" not in out.stderr, out.stderr
        return out

    def var(self, *names) -> list[list[str]]:
        """Make variables' values (each a list of words), as make sees them."""
        echo = "; ".join(f"echo '$({name})'" for name in names)
        out = self.make(f"--eval=print-vars: ; @{echo}", "print-vars")
        lines = out.stdout.splitlines()
        assert len(lines) == len(names), out.stdout
        return [line.split() for line in lines]

    def settle(self):
        """Sources old, targets newer: nothing to do."""
        for f in (self.path / "src" / "charrnn").rglob("*.py"):
            os.utime(f, (self.t_sources, self.t_sources))
        for t in [*self.targets, *ALWAYS[:2]]:
            os.utime(self.path / t, (self.t_targets, self.t_targets))

    def edit(self, *modules):
        for module in modules:
            os.utime(self.path / "src" / "charrnn" / module, (self.t_edit, self.t_edit))

    def plan(self):
        """What ``make -n reports/report.pdf`` would do (the FORCE'd settings and system-deps
        left alone): the targets it would make, for each the package modules that are newer than
        it (its own prerequisites), and the commands it would run."""
        out = self.make("-n", "--debug=v", *[f"--old-file={t}" for t in ALWAYS],
                        "reports/report.pdf")
        remade = set(re.findall(r"^ *Must remake target '(.*)'\.$", out.stdout, re.M))
        newer = {}
        for module, target in re.findall(r"^ *Prerequisite 'src/charrnn/(?:\w+/)?(\w+)\.py' is newer "
                                         r"than target '(.*)'\.$", out.stdout, re.M):
            newer.setdefault(target, set()).add(module)
        run = [line for line in out.stdout.splitlines() if line.startswith(".venv/bin/python")]
        return remade, newer, run


@pytest.fixture(scope="module")
def shared_project(tmp_path_factory):
    if shutil.which("make") is None:
        pytest.skip("needs GNU make")
    if not (VENV / ".installed").exists():
        pytest.skip("needs .venv (make setup)")
    return Project(tmp_path_factory.mktemp("project"))


@pytest.fixture
def project(shared_project):
    """The shared copy, with nothing to do."""
    shared_project.settle()
    return shared_project


def test_the_copy_uses_the_lists_and_has_nothing_to_do(project):
    assert (project.path / ".venv" / "prereqs.mk").is_file()
    [units] = project.var("UNITS_SRC")
    assert names(units) == names(prov.module_files(prov.MAKE_LISTS["UNITS_SRC"]))
    assert project.plan() == (set(), {}, [])
    assert project.make("-q", *[f"--old-file={t}" for t in ALWAYS], "reports/report.pdf").returncode == 0


@pytest.mark.parametrize("module", ["training/orders.py", "model/data.py", "training/config.py"])
def test_a_module_of_the_baselines_and_units_redoes_them(project, module):
    project.edit(module)
    remade, newer, run = project.plan()
    units = {"reports/units.json", "reports/units-holdout.json", "reports/units-lstm.json"}
    baselines = {t for t in project.targets if re.search(r"/(lstm|gru)-seed\d/metrics\.json$", t)}
    assert len(baselines) == 6
    # each of them for the module itself (its list holds it), not only through the runs it reads
    assert {t for t, mods in newer.items() if Path(module).stem in mods} >= units | baselines
    assert remade >= units | baselines
    run = " ".join(run)
    for what in ("baseline --kind lstm", "baseline --kind gru", "units --checkpoint runs/",
                 "units --baseline"):
        assert what in run, what


@pytest.mark.parametrize("module", ["report/prose.py", "report/sections.py", "report/findings.py"])
def test_a_report_module_redoes_only_the_report(project, module):
    project.edit(module)
    remade, newer, run = project.plan()
    assert remade == {"reports/report.ipynb", "reports/report.pdf"}
    assert newer == {"reports/report.ipynb": {Path(module).stem}}
    assert len(run) == 2, run
    assert "notebooks/03_report.ipynb reports/report.ipynb" in run[0]
    assert run[1].endswith("-m charrnn pdf reports/report.ipynb reports/report.pdf")
    assert project.make("-q", *[f"--old-file={t}" for t in ALWAYS], "reports/report.pdf").returncode == 1


def test_the_printing_code_redoes_only_the_pdf(project):
    project.edit("report/pdf.py")
    remade, newer, _ = project.plan()
    assert remade == {"reports/report.pdf"}
    assert newer == {"reports/report.pdf": {"pdf"}}


def test_the_sampling_study_code_redoes_the_study_and_the_report(project):
    project.edit("studies/textmetrics.py")
    remade, newer, _ = project.plan()
    assert remade == {"reports/sampling_study.json", "reports/report.ipynb", "reports/report.pdf"}
    assert set(newer) == {"reports/sampling_study.json"}


def test_a_new_import_is_followed(tmp_path):
    if shutil.which("make") is None or not (VENV / ".installed").exists():
        pytest.skip("needs GNU make and .venv")
    project = Project(tmp_path)
    [units] = project.var("UNITS_SRC")
    assert "src/charrnn/studies/textmetrics.py" not in units
    prereqs = project.path / ".venv" / "prereqs.mk"
    os.utime(prereqs, (project.t_targets, project.t_targets))
    unitviz = project.path / "src" / "charrnn" / "report" / "unitviz.py"
    unitviz.write_text(unitviz.read_text(encoding="utf-8") + "\nfrom ..studies import textmetrics  # noqa\n",
                       encoding="utf-8")  # dated now: newer than prereqs.mk, which is made again
    [units] = project.var("UNITS_SRC")
    assert "src/charrnn/studies/textmetrics.py" in units
    project.settle()
    project.edit("studies/textmetrics.py")
    _, newer, _ = project.plan()
    assert {"reports/units.json", "reports/units-holdout.json"} <= set(newer)
    # before make setup has installed the package: every module
    (project.path / ".venv" / ".installed").unlink()
    every = sorted(str(p.relative_to(project.path))
                   for p in [*(project.path / "src" / "charrnn").glob("*.py"),
                             *(project.path / "src" / "charrnn").glob("*/*.py")])
    for var, value in zip(prov.MAKE_LISTS, project.var(*prov.MAKE_LISTS)):
        assert sorted(value) == every, var


def test_make_and_the_notebook_name_a_run_folder_alike(project):
    # one naming of run folders: the Makefile's RUN_DIRS and runs.run_name (notebook 02's default)
    from charrnn.training.runs import run_name

    [dirs] = project.var("RUN_DIRS")
    assert dirs == ["runs/" + run_name(project.path / "data" / "text.txt", "adam", 150000, 1)]
    text = (project.path / "data" / "text.txt").read_bytes()
    assert dirs[0].split("/")[1].startswith("text-" + hashlib.md5(text).hexdigest()[:8] + "-")
