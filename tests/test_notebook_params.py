"""Notebook parameters mean what they say, and the README's papermill commands work as printed
(issue 14, items 2 to 5). papermill passes `-p force false` as the string "false"."""

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from charrnn.params import check_parameters, convert

ROOT = Path(__file__).resolve().parents[1]
TEXT = ("'Harry -- did you put your name in the goblet?' asked Hermione.\n"
        "'No,' said Harry. 'I didn't.'\n") * 40
PAPERMILL = [sys.executable, "-m", "papermill", "-k", "python3", "--no-progress-bar",
             "--log-level", "WARNING"]


# ------------------------------------------------------------------ the conversion (fast)

@pytest.mark.parametrize("value, kind, expected", [
    ("false", bool, False), ("False", bool, False), ("TRUE", bool, True), (True, bool, True),
    (3, float, 3.0), (None, float | None, None), (0.5, "Optional[float]", 0.5), (7, str, "7"),
    (12, int, 12)])
def test_papermill_values_are_converted_by_the_declared_type(value, kind, expected):
    got = convert("p", value, kind)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("value, kind, message", [
    ("yes", bool, "p must be True or False, got 'yes'"), (1, bool, "True or False, got 1"),
    ("abc", int, "p must be an integer, got 'abc'"), (2.5, int, "an integer, got 2.5"),
    (True, int, "an integer, got True"), ("x", float | None, "a number (or None), got 'x'"),
    (None, str, "a string, got None")])
def test_a_value_of_the_wrong_type_is_refused_naming_it(value, kind, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        convert("p", value, kind)


def test_notebook_04_defaults_are_the_experiment_command_s():
    # make trains the variants with `charrnn experiment`, then notebook 04 reuses them: with other
    # defaults it would train them again
    from charrnn.cli import build_parser
    from charrnn.studies.experiments import N_EVALS

    nb = json.loads((ROOT / "notebooks" / "04_experiments.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    defaults = dict(re.findall(r"^(\w+): \w+ = (\S+)", "".join(cell["source"]), re.M))
    args = build_parser().parse_args(["experiment", "B8"])
    assert args.n_evals is None and int(defaults["n_evals"]) == N_EVALS  # None: N_EVALS
    assert int(defaults["chars"]) == args.chars


def test_check_parameters_converts_every_annotated_name_in_place():
    ns = {"__annotations__": {"force": bool, "m": int}, "force": "false", "m": 5, "other": "x"}
    assert check_parameters(ns) == {"force": False, "m": 5}
    assert ns["force"] is False and ns["other"] == "x"


# ------------------------------------------------------------------ the notebooks (papermill)

def papermill(cwd, notebook, out, *params):
    args = [str(a) for p in params for a in ("-p", *p)]
    return subprocess.run([*PAPERMILL, "--cwd", str(cwd), str(notebook), str(out), *args],
                          capture_output=True, text=True, cwd=cwd)


def error_of(r):
    """The exception line papermill shows for a failed notebook."""
    return "\n".join(line for line in (r.stdout + r.stderr).splitlines()
                     if "Error:" in line or "error:" in line)


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    p = tmp_path_factory.mktemp("nbp") / "text.txt"
    p.write_text(TEXT, encoding="utf-8")
    return p


@pytest.mark.slow
@pytest.mark.e2e  # several notebook runs: make test-e2e
def test_force_false_never_overwrites_and_resume_false_does_not_resume(tmp_path, text):
    nb, out = ROOT / "notebooks" / "02_train.ipynb", tmp_path / "run"
    small = [("data_path", text), ("n_updates", 100), ("sample_every", 50), ("run_dir", out)]
    r = papermill(tmp_path, nb, tmp_path / "a.ipynb", *small, ("m", 12))
    assert r.returncode == 0, r.stderr
    before = (out / "metrics.json").read_bytes()
    r = papermill(tmp_path, nb, tmp_path / "b.ipynb", *small, ("m", 6), ("force", "false"))
    assert r.returncode != 0 and "holds a different run (m 6 (the folder has 12)" in error_of(r)
    assert (out / "metrics.json").read_bytes() == before  # the finished run is untouched
    r = papermill(tmp_path, nb, tmp_path / "c.ipynb", *small, ("m", 12), ("resume", "false"))
    assert r.returncode == 0, r.stderr  # the same settings, not resumed: reused
    assert "reused, nothing to train" in (tmp_path / "c.ipynb").read_text()
    assert (out / "metrics.json").read_bytes() == before
    r = papermill(tmp_path, nb, tmp_path / "d.ipynb", *small, ("m", 6), ("force", "maybe"))
    assert r.returncode != 0 and "force must be True or False, got 'maybe'" in error_of(r)
    r = papermill(tmp_path, nb, tmp_path / "e.ipynb", ("run_dir", tmp_path / "none"),
                  ("resume", "true"))
    assert r.returncode != 0 and "nothing to resume" in error_of(r)
    assert "FileNotFoundError" not in r.stdout + r.stderr


@pytest.mark.slow
def test_a_string_where_a_number_belongs_is_named_before_any_work(tmp_path, text):
    r = papermill(tmp_path, ROOT / "notebooks" / "01_gradient_check.ipynb", tmp_path / "01.ipynb",
                  ("data_path", text), ("seq_length", "abc"))
    assert r.returncode != 0 and "seq_length must be an integer, got 'abc'" in error_of(r)
    assert "TypeError" not in r.stdout + r.stderr
    out = tmp_path / "exp"
    r = papermill(tmp_path, ROOT / "notebooks" / "04_experiments.ipynb", tmp_path / "04.ipynb",
                  ("data_path", text), ("chars", -5), ("out_dir", out))
    assert r.returncode != 0 and "chars must be a positive integer (>= 1), got -5" in error_of(r)
    assert not out.exists()  # nothing trained


@pytest.mark.slow
@pytest.mark.e2e  # several notebook runs: make test-e2e
def test_the_report_shows_held_out_runs_and_refuses_runs_on_two_texts(tmp_path, text):
    nb2 = ROOT / "notebooks" / "02_train.ipynb"
    other = tmp_path / "other.txt"
    other.write_text(TEXT.upper(), encoding="utf-8")
    held_out = [("n_updates", 120), ("sample_every", 60), ("m", 8), ("holdout", 1),
                ("eval_every", 60)]
    for name, data in (("a", text), ("b", text), ("c", other)):
        r = papermill(tmp_path, nb2, tmp_path / f"{name}.ipynb", ("data_path", data),
                      ("run_dir", tmp_path / name), ("seed", ord(name)), *held_out)
        assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "charrnn", "gradcheck", "--data", str(text),
                        "--m", "3", "--no-numeric", "--json", str(tmp_path / "g.json")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    nb3 = ROOT / "notebooks" / "03_report.ipynb"
    common = [("gradcheck_json", tmp_path / "g.json"), ("experiments_dir", tmp_path / "none")]
    r = papermill(tmp_path, nb3, tmp_path / "r.ipynb",
                  ("run_dirs", f"{tmp_path / 'a'} {tmp_path / 'b'}"), *common)
    assert r.returncode == 0, r.stdout + r.stderr  # was: NoneType.__format__
    assert "from the model with the lowest validation loss" in (tmp_path / "r.ipynb").read_text()
    r = papermill(tmp_path, nb3, tmp_path / "r2.ipynb",
                  ("run_dirs", f"{tmp_path / 'a'} {tmp_path / 'c'}"), *common)
    assert r.returncode != 0 and "not seeds of one run" in error_of(r)
    assert "different texts" in error_of(r)


def readme_papermill_commands():
    """The papermill commands of the README's notebook section, as printed."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return [line for line in readme.splitlines()
            if "papermill notebooks/02_train.ipynb runs/" in line and not line.startswith("#")]


def test_the_readme_shows_the_papermill_commands():
    assert len(readme_papermill_commands()) == 3


@pytest.mark.slow
@pytest.mark.e2e  # several notebook runs: make test-e2e
def test_the_readme_papermill_commands_work_as_printed_on_a_fresh_clone(tmp_path, text):
    """In a copy of the project without runs/ (a fresh clone), each command as printed, with
    only a small text and a short run added at the end."""
    project = tmp_path / "clone"
    project.mkdir()
    shutil.copy(ROOT / "pyproject.toml", project)
    shutil.copytree(ROOT / "notebooks", project / "notebooks")
    (project / ".venv").symlink_to(Path(sys.executable).parents[1])
    small = f" -p data_path {text} -p sample_every 100 -p m 8"
    for line in readme_papermill_commands():
        n = 300 if "resume" not in line else 400
        r = subprocess.run(line + small + f" -p n_updates {n}", shell=True, cwd=project,
                           capture_output=True, text=True)
        assert r.returncode == 0, (line, r.stdout[-2000:], r.stderr[-2000:])
        run_dir = shlex.split(line)[shlex.split(line).index("run_dir") + 1]
        assert json.loads((project / run_dir / "metrics.json").read_text())["n_updates"] == n


@pytest.mark.slow
def test_make_runs_notebooks_whose_refusals_are_one_line(tmp_path):
    """charrnn.nbrun (papermill as make runs it) prints a ValueError's sentence in one line."""
    r = subprocess.run([sys.executable, "-m", "charrnn.nbrun", "-k", "python3", "--cwd", str(ROOT),
                        "--log-level", "WARNING", "--no-progress-bar", "--stderr-file", "-",
                        str(ROOT / "notebooks" / "01_gradient_check.ipynb"),
                        str(tmp_path / "01.ipynb"), "-p", "seq_length", "abc"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 1
    lines = (r.stdout + r.stderr).strip().splitlines()
    assert len(lines) == 1 and "seq_length must be an integer, got 'abc'" in lines[0], lines
    assert (tmp_path / "01.ipynb").is_file()  # the executed copy, named in that line
