"""Project files that people and CI rely on: pins, presets, notebooks."""

import json
import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from charrnn.training.config import PRESETS, TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def _requirements():
    reqs = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            r = Requirement(line)
            reqs[r.name.lower()] = str(r.specifier)
    return reqs


def test_environment_yml_lists_the_same_pins_as_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_pins = {Requirement(p).name.lower(): str(Requirement(p).specifier) for p in pip}
    assert conda_pins == _requirements()


def test_every_requirement_is_pinned_exactly_and_torch_is_the_cpu_build():
    reqs = _requirements()
    assert reqs["torch"] == "==2.13.0"
    for name, spec in reqs.items():
        assert re.fullmatch(r"==[\w.]+", spec), f"{name} is not pinned exactly: {spec!r}"
    for pkg in ("numpy", "matplotlib", "jupyter", "nbconvert", "papermill", "tqdm", "pytest",
                "numba", "pypdf"):
        assert pkg in reqs, pkg


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_files_match_the_library(name):
    data = yaml.safe_load((ROOT / "notebooks" / "params" / f"{name}.yaml").read_text())
    assert data.pop("preset") == name
    assert data == PRESETS[name]
    TrainConfig.from_preset(name).validate()


NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_committed_clean_with_a_parameters_cell(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert "parameters" in code[0]["metadata"].get("tags", [])
    # papermill must understand every parameter: one "name: type = literal  # help" per line
    import papermill

    params = papermill.inspect_notebook(str(path))
    src = "".join(code[0]["source"])
    assigned = re.findall(r"^(\w+)\s*(?::[^=]*)?=", src, flags=re.M)
    assert sorted(params) == sorted(assigned)
    assert all(p["help"] for p in params.values())
