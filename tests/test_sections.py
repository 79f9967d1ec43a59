"""The report's composite sections: the parts in order from hand-made artifacts, and a "not yet"
line for each missing one (its file and the make target to run are the contract: a reader acts
on them; the sentences' wording is test_prose's business, through their numbers)."""

import json

import numpy as np
import pytest
from test_prose_facts import assert_numbers_are, assert_printed

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


def _controls(n=6):
    """The controls of a units JSON: an untrained network's analysis and the input-only probe."""
    _, part, labels = units.analysis_part(TEXT, "all")
    A = np.tanh(np.random.default_rng(9).normal(size=(len(part), n)))
    vocab = sorted(set(part))
    indices = np.array([vocab.index(c) for c in part])
    return {"untrained": {"seed": 1, "init": "scaled", **units.analyze(A, labels)},
            "input_only": units.input_only(indices, len(vocab), labels)}


def test_hidden_units_in_order():
    from matplotlib.figure import Figure

    handout = _report(m=6, trained_holdout=0, controls=_controls())
    lstm = {"hidden": 6, "N": handout["N"], "n_chunks": 20, "trained_holdout": 1,
            "states": {"h": _report(seed=1), "c": _report(seed=2)}}
    parts = sections.hidden_units(handout, None, lstm)
    kinds = [k for k, _ in parts]
    assert kinds == ["markdown", "markdown", "html", "markdown", "markdown", "html", "markdown",
                     "markdown", "html", "markdown",  # the controls: caption, table, paragraph
                     "markdown", "html", "html", "html", "markdown", "figure", "markdown", "markdown"]
    captions = [p for k, p in parts if k == "markdown" and p.startswith('<span class="caption')]
    assert [c.split('"')[1] for c in captions] == ["caption caption-table"] * 3 + \
        ["caption caption-figure"] * 2  # three tables, the heat maps, the saturation figure
    assert "Controls for the handout model" in parts[7][1]
    assert "input only" in parts[8][1] and parts[9][1].startswith("Controls for the handout model")
    parts = parts[:7] + parts[10:]  # the rest as without controls
    assert "unit-colour-bar" in parts[8][1]  # the heat maps' colour bar, before the first of them
    assert "handout model" in parts[2][1] and "holdout model" not in parts[2][1]
    assert "LSTM h_t" in parts[5][1] and "LSTM c_t" in parts[5][1]
    quote = parts[6][1].split("**`quote`**")[1].split(". ")[0]  # unit 2 is a perfect quote unit:
    before, after = quote.split("the handout model (")      # in the single-unit clause, +2, AUC 1
    assert "neither" not in before and "no single unit" not in before
    assert after.startswith("+2, ")
    assert_printed(after.split(")")[0], 1.0)
    assert 'class="unit-heatmap"' in parts[9][1] and "<br>" not in parts[9][1]  # compact
    fig = parts[12][1]
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert parts[-1][1].startswith("*Not yet: no units of the holdout model")


def test_a_units_json_without_controls_says_not_yet():
    parts = sections.hidden_units(_report(m=6, trained_holdout=0), None, None)
    text = "\n".join(t for k, t in parts if k == "markdown")
    assert "*Not yet: no controls for the handout model" in text and "`make report`" in text
    assert "Controls for the" not in text


def test_missing_experiments_and_baselines(tmp_path):
    assert "No experiments yet" in sections.experiments(tmp_path)[0][1]
    (kind, text), = sections.baselines(tmp_path)
    assert kind == "markdown" and text.startswith("*Not yet:")
    assert f"`{tmp_path}`" in text and "run `make baselines`" in text  # where it looked, what to run


def test_a_baseline_without_the_m256_variant(tmp_path):
    d = tmp_path / "lstm-seed1"
    d.mkdir()
    config = {"kind": "lstm", "hidden": 120, "vanilla_n_params": 106832, "seq_length": 50,
              "lr_schedule": "cosine", "chars": 4_000_000, "batch_size": 32, "eta": 0.064}
    metrics = {"n_params": 106640, "best_val_loss": 1.3176, "best_val_bits_per_char": 1.9009,
               "chars": 4_000_000, "wall_time_s": 137.7, "chars_per_s": 29040.0}
    (d / "config.json").write_text(json.dumps(config))
    (d / "metrics.json").write_text(json.dumps(metrics))
    (d / "validation.csv").write_text("update,chars,train_time_s,val_loss\n1250,2000000,60.0,1.5\n"
                                      "2500,4000000,137.7,1.3176\n")
    runs = sections.gated_runs(tmp_path)
    assert [r["model"] for r in runs] == ["LSTM h 120"]
    assert runs[0]["validation"][1]["val_loss"] == pytest.approx(1.3176)
    head, table, paragraph, literature = (t for _, t in sections.baselines(tmp_path))
    assert head.startswith('<span class="caption caption-table">')  # one seed: no t-test table
    model, *row = [c.strip() for c in table.splitlines()[-1].strip("|").split("|")]
    assert model == "LSTM\u00a0h\u00a0120"  # the metrics, with the training characters in millions
    assert_numbers_are(" ".join(row), [106_640, 1, 1.3176, 1.9009, 4.0, 137.7, 29040])
    assert "add `m256cos` to `EXPERIMENTS`" in paragraph  # no vanilla run: the instruction to add one
    assert_numbers_are(paragraph, [256, 1.9009, 120])
    assert [r["seed"] for r in runs] == [1] and "lstm" not in {p.name for p in tmp_path.iterdir()}
    assert "War and Peace" in literature
    assert "kernels" not in head  # an older run: its PyTorch and CPU kernels are not recorded
    metrics.update(torch_version="2.13.0", cpu_capability="AVX2")
    (d / "metrics.json").write_text(json.dumps(metrics))
    head = sections.baselines(tmp_path)[0][1]
    assert "PyTorch 2.13.0, AVX2 CPU kernels" in head


def test_the_reference_points_sit_beside_the_report_s_models_sorted(tmp_path):
    cal = {"md5": "x", "n_chars": 1000, "test": [975, 1000],
           "references": [{"name": "uniform", "bits_per_char": 6.3, "kind": "baseline", "note": "log2 K"},
                          {"name": "PPMd", "bits_per_char": 1.63, "kind": "compressor", "note": "a"},
                          {"name": "zlib -9", "bits_per_char": 2.93, "kind": "compressor", "note": "a"}]}
    assert sections.calibration(None, tmp_path)[0][1].startswith("*Not yet:")
    heldout = [{"metrics": {"test_bits_per_char": b}} for b in (2.30, 2.31, 2.32)]
    parts = sections.calibration(cal, tmp_path, heldout)
    text = "\n".join(p for _, p in parts)
    assert "characters 975 to 1,000 of 1,000" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "bits/char" not in line]
    bits = [float(r.split("|")[1]) for r in rows]
    assert bits == sorted(bits) == [1.63, 2.31, 2.93, 6.3]
    assert "**handout m 100, held out**" in rows[1] and "mean of 3 seeds" in rows[1]
    assert ("handout m 100, held out (2.310 bits/char) beats uniform (6.300) and zlib -9 "
            "(2.930) but not PPMd") in text


def test_the_temperature_section_or_not_yet():
    curve = {"name": "holdout-seed1", "trained_holdout": 1, "test": [1_079_854, 1_107_542],
             "temperatures": [0.5, 1.0, 2.0], "losses": [1.99, 1.5719, 1.86],
             "best_temperature": 1.036, "best_loss": 1.5710, "bounds": [0.2, 5.0], "loss_at_1": 1.5719,
             "n_chars": 27_687}
    parts = sections.temperature({"rows": [], "temperature": curve})
    assert [k for k, _ in parts] == ["markdown"] * 3
    assert parts[0][1].startswith('<span class="caption caption-table">')
    assert_printed(parts[0][1], 1_079_854, 1_107_542)
    assert "| **1** |" in parts[1][1] and "1.036" in parts[1][1]
    assert "a model that trained on it" in \
        sections.temperature({"temperature": {**curve, "trained_holdout": 0}})[0][1]
    for old in ({"rows": []}, None):  # a study from an older charrnn study, or none
        (kind, text), = sections.temperature(old)
        assert text.startswith("*Not yet:") and "`make report`" in text


def test_the_sampling_part_is_caption_table_findings_and_sample_boxes(tmp_path):
    from charrnn.report import prose, tables

    rows = [{"label": label, "temperature": T, "top_p": 1.0, "beam": None, "text": f"{label} text",
             "known_word_fraction": k, "distinct_2_words": 0.9, "distinct_4_chars": 0.7,
             "longest_repeat_len": 12,
             "samples": {"known_word_fraction": [k, k + 0.01], "distinct_2_words": [0.9, 0.9],
                         "distinct_4_chars": [0.7, 0.7], "longest_repeat_len": [12, 14]}}
            for label, T, k in (("plain", 1.0, 0.7), ("T = 0.5", 0.5, 0.9))]
    book = {**rows[0], "label": "book text (test chunk)", "passages": [[0, 10], [5, 15]]}
    del book["text"]
    study = {"run": str(tmp_path), "name": "r", "n": 2000, "n_samples": 2, "confidence": 0.95,
             "vocabulary": [0, 100], "rows": rows, "book": book}
    parts = sections.sampling(study, tmp_path, "s.json")
    assert parts[0] == ("markdown", tables.caption("table", tables.sampling_caption(study)))
    assert parts[1] == ("markdown", tables.sampling_markdown(rows, book))
    assert parts[2] == ("markdown", prose.sampling_summary(rows, book))
    assert parts[3][1].startswith("*Not yet: no test loss against the temperature")
    # one box per setting after plain sampling: its first sample's first 300 characters
    assert parts[4:] == [("html", tables.sample_html("T = 0.5 text", "T = 0.5 (first 300 characters)"))]
    (missing,) = sections.sampling(None, tmp_path)
    assert missing[1].startswith("*No sampling study yet")
    (other,) = sections.sampling({**study, "run": str(tmp_path / "x")}, tmp_path, "s.json")
    assert "`s.json` is of another run (r)" in other[1]


def test_the_sampling_findings_are_the_rows_sentence_then_the_temperature():
    from charrnn.report import prose

    rows = [{"label": "plain", "temperature": 1.0, "top_p": 1.0, "known_word_fraction": 0.7,
             "distinct_2_words": 0.9, "longest_repeat_len": 12},
            {"label": "T = 0.5", "temperature": 0.5, "top_p": 1.0, "known_word_fraction": 0.9,
             "distinct_2_words": 0.6, "longest_repeat_len": 40}]
    parts = sections.sampling_findings({"rows": rows})  # an older study: no temperature record
    assert parts[0] == ("markdown", prose.sampling_summary(rows))
    book = {"label": "book text (test chunk)", "known_word_fraction": 0.97,
            "distinct_2_words": 0.95, "longest_repeat_len": 20}
    with_book = sections.sampling_findings({"rows": rows, "book": book})  # the new study's
    assert with_book[0] == ("markdown", prose.sampling_summary(rows, book))
    assert "Real text of the book" in with_book[0][1] and "Real text" not in parts[0][1]
    assert parts[1][1].startswith("*Not yet: no test loss against the temperature")
