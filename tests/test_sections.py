"""The report's composite sections: the parts in order from hand-made artifacts, and a "not yet"
line for each missing one."""

import json

import numpy as np
import pytest

from charrnn.report import sections
from charrnn.studies import units

TEXT = ('He said "Hi (yo)." She left.\n' * 40)


def _report(n=6, seed=0, **extra):
    start, part, labels = units.analysis_part(TEXT, "all")
    A = np.tanh(np.random.default_rng(seed).normal(size=(len(part), n)) * 2)  # (N, n)
    A[:, 2] = np.where(labels["quote"] == 1, 0.9, -0.9)  # a perfect quote unit
    return {**units.states_report(A, part, labels, start, n_passages=2, passage_length=50),
            "N": len(part), "n_chunks": 20, **extra}


def test_every_missing_units_json_says_not_yet():
    parts = sections.hidden_units(None, None, None)
    assert [k for k, _ in parts] == ["markdown"] * 3
    text = "\n".join(t for _, t in parts)
    for name in ("units.json", "units-holdout.json", "units-lstm.json"):
        assert f"(`{name}`); run `make report`" in text
    assert all(t.startswith("*Not yet:") for _, t in parts)


def test_hidden_units_in_order():
    from matplotlib.figure import Figure

    handout = _report(m=6, trained_holdout=0)
    lstm = {"hidden": 6, "N": handout["N"], "n_chunks": 20, "trained_holdout": 1,
            "states": {"h": _report(seed=1), "c": _report(seed=2)}}
    parts = sections.hidden_units(handout, None, lstm)
    kinds = [k for k, _ in parts]
    assert kinds == ["markdown", "html", "markdown", "markdown", "html", "markdown", "markdown",
                     "html", "html", "figure", "markdown"]
    assert "handout model" in parts[1][1] and "holdout model" not in parts[1][1]
    assert "LSTM h_t" in parts[4][1] and "LSTM c_t" in parts[4][1]
    assert "a single quotation unit in the handout model (+2, 1.00)" in parts[5][1]
    assert 'class="unit-heatmap"' in parts[7][1] and "<br>" not in parts[7][1]  # compact
    fig = parts[9][1]
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert parts[-1][1].startswith("*Not yet: no units of the holdout model")


def test_missing_experiments_and_baselines(tmp_path):
    assert "No experiments yet" in sections.experiments(tmp_path)[0][1]
    (kind, text), = sections.baselines(tmp_path)
    assert kind == "markdown" and text == (f"*Not yet: no LSTM or GRU run in `{tmp_path}`; run "
                                           "`make baselines`.*")


def test_a_baseline_without_the_m256_variant(tmp_path):
    d = tmp_path / "lstm"
    d.mkdir()
    config = {"kind": "lstm", "hidden": 120, "vanilla_n_params": 106832, "seq_length": 50,
              "lr_schedule": "cosine", "chars": 4_000_000}
    metrics = {"n_params": 106640, "best_val_loss": 1.3176, "best_val_bits_per_char": 1.9009,
               "chars": 4_000_000, "wall_time_s": 137.7, "chars_per_s": 29040.0}
    (d / "config.json").write_text(json.dumps(config))
    (d / "metrics.json").write_text(json.dumps(metrics))
    (d / "validation.csv").write_text("update,chars,train_time_s,val_loss\n1250,2000000,60.0,1.5\n"
                                      "2500,4000000,137.7,1.3176\n")
    runs = sections.gated_runs(tmp_path)
    assert [r["model"] for r in runs] == ["LSTM h 120"]
    assert runs[0]["validation"][1]["val_loss"] == pytest.approx(1.3176)
    table, paragraph, literature = (t for _, t in sections.baselines(tmp_path))
    assert table.splitlines()[-1].startswith("| LSTM h 120 | 106,640 | 1.3176 | 1.901 | 4.00 M |")
    assert "add `m256` to `EXPERIMENTS`" in paragraph and "1.901 for the LSTM h 120" in paragraph
    assert "War and Peace" in literature
