"""Papermill smoke runs of each notebook with small parameters, as a user would run them."""

import hashlib
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # papermill starts a kernel per notebook

papermill = pytest.importorskip("papermill")

ROOT = Path(__file__).resolve().parents[1]
TEXT = ("'Harry -- did you put your name in the goblet?' asked Hermione.\n"
        "'No,' said Harry. 'I didn't.'\n") * 40


def run(name, out, **parameters):
    return papermill.execute_notebook(str(ROOT / "notebooks" / name), str(out),
                                      parameters=parameters, kernel_name="python3",
                                      cwd=str(out.parent), progress_bar=False)


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    p = tmp_path_factory.mktemp("nb") / "text.txt"
    p.write_text(TEXT, encoding="utf-8")
    return p


def test_gradient_check_notebook(tmp_path, text):
    run("01_gradient_check.ipynb", tmp_path / "01.ipynb", data_path=str(text), m=4,
        out_json=str(tmp_path / "g.json"))
    g = json.loads((tmp_path / "g.json").read_text())
    assert g["adam"]["torch"]["W"]["max_rel_err"] <= 1e-10
    assert g["adagrad"]["numeric"]["V"]["max_rel_err"] <= 1e-6
    assert set(g["adam"]["by_seq_length"]) == {"1", "2"}


@pytest.mark.parametrize("preset", ["adam", "adagrad"])
def test_train_notebook_with_a_preset_file(tmp_path, text, preset):
    import yaml

    params = yaml.safe_load((ROOT / "notebooks" / "params" / f"{preset}.yaml").read_text())
    out = tmp_path / "run"
    run("02_train.ipynb", tmp_path / "02.ipynb", data_path=str(text), seed=7, n_updates=200,
        m=16, sample_every=100, run_dir=str(out), **params)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["seed"] == 7 and cfg["optimizer"] == preset and cfg["preset"] == preset
    assert cfg["grad_clip"] == params["grad_clip"]
    samples = json.loads((out / "samples.json").read_text())
    assert [s["update"] for s in samples] == [0, 100, 200]
    nb = json.loads((tmp_path / "02.ipynb").read_text())
    assert not any(o.get("output_type") == "error" for c in nb["cells"]
                   for o in c.get("outputs", []))


def test_train_notebook_default_run_folder_and_report(tmp_path, text):
    """run_dir left empty: runs/<data>-<md5[:8]>-<preset>-n<N>-seed<S> (make's name) under the
    project root, which the notebooks find from the kernel's cwd; run in a copy of the project
    layout (pyproject.toml and notebooks/), so the project's own runs/ is never touched."""
    import shutil

    project = tmp_path / "project"
    project.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", project / "pyproject.toml")
    shutil.copytree(ROOT / "notebooks", project / "notebooks")
    digest = hashlib.md5(Path(text).read_bytes()).hexdigest()[:8]
    name = f"text-{digest}-adam-n150-seed3"  # written out: the test holds run_name to it
    target, real = project / "runs" / name, ROOT / "runs" / name
    real_before = real.exists() and real.stat().st_mtime_ns  # False: absent (the usual case)

    def run_here(nb, out, **parameters):  # the kernel's cwd is the copy's root
        return papermill.execute_notebook(str(project / "notebooks" / nb), str(out),
                                          parameters=parameters, kernel_name="python3",
                                          cwd=str(project), progress_bar=False)

    run_here("02_train.ipynb", tmp_path / "02.ipynb", data_path=str(text), seed=3, n_updates=150,
             m=8, sample_every=50)
    assert (target / "metrics.json").is_file()
    run_here("01_gradient_check.ipynb", tmp_path / "01.ipynb", data_path=str(text), m=3,
             out_json=str(tmp_path / "g.json"))
    from charrnn.studies.study import study_runs
    from charrnn.util.files import write_json

    write_json(tmp_path / "study.json", study_runs([target], n=300))
    report = run_here("03_report.ipynb", tmp_path / "03.ipynb", run_dirs=f"runs/{name}",  # from the root
                      gradcheck_json=str(tmp_path / "g.json"),
                      sampling_json=str(tmp_path / "study.json"),
                      experiments_dir=str(tmp_path / "none"), bench_json=str(tmp_path / "missing.json"),
                      units_json=str(tmp_path / "u.json"), units_holdout_json=str(tmp_path / "uh.json"),
                      units_lstm_json=str(tmp_path / "ul.json"))
    html = json.dumps(report["cells"], ensure_ascii=False).replace("\u00a0", " ")
    assert "We believe the gradients are correct" in html
    assert "and then every 50 updates" in html and "after 150 updates" in html
    assert "| seed | best smooth loss |" in html and "mean ± std" not in html  # one seed
    assert "of the words are real" in html  # the sampling study's sentence (its claims: test_prose)
    assert "top-p 0.95 (first 300 characters)" in html
    assert "No experiments yet" in html and "No benchmark yet" in html
    assert "Not yet: no LSTM or GRU run" in html and "run `make baselines`" in html
    for artifact in ("units.json", "units-holdout.json", "units-lstm.json"):  # one line each
        assert f"(`{artifact}`); run `make report`" in html, artifact
    # the project's own runs/<name> neither appeared nor changed
    assert (real.exists() and real.stat().st_mtime_ns) == real_before


@pytest.mark.parametrize("missing", ["run_dirs", "gradcheck_json"])
def test_report_notebook_refuses_to_guess_its_inputs(tmp_path, missing):
    given = {"run_dirs": "runs/some-run", "gradcheck_json": "g.json", missing: ""}
    with pytest.raises(papermill.PapermillExecutionError, match=f"ValueError: {missing} is empty"):
        run("03_report.ipynb", tmp_path / "03.ipynb", **given)


def test_report_notebook_only_shows_artifacts():
    cells = json.loads((ROOT / "notebooks" / "03_report.ipynb").read_text(encoding="utf-8"))["cells"]
    code = [line for c in cells if c["cell_type"] == "code" for line in "".join(c["source"]).splitlines()
            if line.strip() and not line.strip().startswith("#")]
    assert len(code) < 90
    source = "\n".join(code)
    for computation in ("charrnn.model.data", "gradcheck_suite", "check_gradients", "charrnn.training.train",
                        "sampling_study(", "load_model", "glob("):  # no raw text, check, training, guess
        assert computation not in source, computation
    assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code")


def test_bad_input_fails_with_the_library_message(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"abc\xff\xfedef" * 10)
    with pytest.raises(papermill.PapermillExecutionError, match="not valid UTF-8"):
        run("02_train.ipynb", tmp_path / "02.ipynb", data_path=str(bad), n_updates=10,
            run_dir=str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_train_notebook_parameters_are_the_config_fields_with_the_adam_defaults():
    import ast
    import dataclasses

    from charrnn.training.config import TrainConfig

    params = papermill.inspect_notebook(str(ROOT / "notebooks" / "02_train.ipynb"))
    run_params = {"data_path", "run_dir", "force", "resume", "checkpoint_every", "progress_label"}
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    assert set(params) == set(names) | run_params
    adam = TrainConfig.from_preset("adam")
    for name in names:
        assert ast.literal_eval(params[name]["default"]) == getattr(adam, name), name
        assert params[name]["help"], name  # every parameter says what it means
    cell = next(c for c in json.loads((ROOT / "notebooks" / "02_train.ipynb").read_text())["cells"]
                if "parameters" in c["metadata"].get("tags", []))
    assert "import" not in "".join(cell["source"])


def test_train_notebook_resume_refuses_other_settings_and_works_from_notebooks(tmp_path, text):
    out = tmp_path / "run"
    run("02_train.ipynb", tmp_path / "a.ipynb", data_path=str(text), n_updates=100, m=8,
        sample_every=50, checkpoint_every=50, run_dir=str(out))
    with pytest.raises(papermill.PapermillExecutionError, match="only n_updates may change"):
        run("02_train.ipynb", tmp_path / "b.ipynb", data_path=str(text), n_updates=150, m=8,
            sample_every=50, run_dir=str(out), resume=True, seed=9, eta=0.5)
    # resumed with the run's settings and no data_path: the stored absolute path is used
    papermill.execute_notebook(str(ROOT / "notebooks" / "02_train.ipynb"), str(tmp_path / "c.ipynb"),
                               parameters=dict(n_updates=150, m=8, sample_every=50,
                                               run_dir=str(out), resume=True),
                               kernel_name="python3", cwd=str(ROOT / "notebooks"),
                               progress_bar=False)
    assert json.loads((out / "metrics.json").read_text())["n_updates"] == 150


@pytest.mark.parametrize("decoding", ["sample", "beam"])
def test_explore_notebook_runs_on_a_tiny_run_folder(tmp_path, text, decoding):
    from charrnn.training.checkpoint import save_model
    from charrnn.training.config import TrainConfig
    from charrnn.training.train import train

    res = train(text.read_text(encoding="utf-8"),
                TrainConfig.from_preset("adam", m=8, n_updates=200, engine="numpy",
                                        sample_every=10**6, final_sample_length=10))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    save_model(run_dir / "best.npz", res.best_params, res.vocab, res.best.hprev, res.best.x0,
               meta={"update": res.best.update})
    nb = papermill.execute_notebook(str(ROOT / "notebooks" / "05_explore.ipynb"),
                                    str(tmp_path / "05.ipynb"), kernel_name="python3",
                                    parameters={"run_dir": str(run_dir), "prime_text": "Harry",
                                                "sentence": "'No,' said Harry.", "unit": 3,
                                                "length": 50, "decoding": decoding, "beam": 3},
                                    cwd=str(tmp_path), progress_bar=False, execution_timeout=120)
    outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    assert not any(o.get("output_type") == "error" for o in outputs)
    assert "m = 8 hidden units" in json.dumps(outputs)
    state = json.dumps(nb["metadata"]["widgets"])  # the widgets' initial state, outputs included
    assert 'class=\\"sample\\"' in state and "next-char" in state and "unit 3" in state
    shown = "beam search, beam 3: mean log-probability" if decoding == "beam" else "T = 0.8, top-p = 0.95"
    assert shown in state
