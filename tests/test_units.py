"""What the hidden units learned: features from hand-computed labels, AUC against brute-force
pair counting, probes, saturation, and a tiny trained model that must grow a parenthesis unit."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from charrnn.model.rnn import forward, init_params
from charrnn.report import unitviz
from charrnn.studies import probes, units


def brute_auc(scores, labels):
    """Mann-Whitney U / (n1 n0) by counting every (positive, negative) pair; a tie counts 1/2."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


def digits(labels):
    return "".join(str(min(int(v), 9)) for v in labels)


def test_features_of_a_hand_written_string():
    text = 'He said "Hi (yo). Go!" Mr. X\n"No?" she (a(b)c) z'
    f = units.text_features(text)
    assert list(f) == list(units.FEATURES)
    # column by column: H e _ s a i d _ " H i _ ( y o ) . _ G o ! " _ M r . _ X \n " N o ? " ...
    assert digits(f["quote"]) == "000000001111111111111000000001111000000000000000"
    assert digits(f["in_word"]) == "110111100110011000110001100100110001110010101001"
    assert digits(f["sentence_start"]) == "100000000000000000100000000100100000000000000000"
    assert digits(f["next_upper"]) == "000000001000000001000010001001000000000000000000"
    assert digits(f["paren"]) == "000000000000111000000000000000000000000111111000"
    assert f["line_position"][:3].tolist() == [1, 2, 3]
    assert f["line_position"][28] == 0 and f["line_position"][29] == 1  # the newline, then 1
    assert f["line_position"][-1] == len(text) - 29
    assert f["quote"].dtype == np.int8 and f["line_position"].dtype == np.int64


def test_a_speech_running_on_reopens_in_the_next_paragraph_and_parens_never_go_negative():
    f = units.text_features('"a\n"b" c) (d\ne')  # 14 characters
    assert digits(f["quote"]) == "11011000000000"
    assert digits(f["paren"]) == "00000000001100"
    assert digits(f["sentence_start"]) == "01001000000001"


def test_auc_uses_average_ranks_and_equals_brute_force_pair_counting():
    rng = np.random.default_rng(0)
    A = np.round(rng.normal(size=(300, 6)), 1)  # many ties
    y = (A[:, 2] + rng.normal(size=300) > 0.3).astype(int)
    got = probes.auc_per_unit(A, y)
    want = np.array([brute_auc(A[:, j], y) for j in range(6)])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    tied = np.array([[3.0], [1.0], [3.0], [2.0]])  # a positive tied with a negative counts 1/2
    assert probes.auc_per_unit(tied, np.array([1, 0, 0, 0]))[0] == pytest.approx((2 + 0.5) / 3)
    row = units.analyze(A, {"f": y}, probe=False)["features"][0]
    first = np.array([brute_auc(A[:150, j], y[:150]) for j in range(6)])  # chosen on rows 0-149
    best = int(np.argmax(np.abs(first - 0.5)))
    held = brute_auc(A[150:, best], y[150:])  # scored on rows 150-299
    assert row["unit"] == best and row["sign"] == (1 if first[best] >= 0.5 else -1)
    assert row["score"] == pytest.approx(held if row["sign"] > 0 else 1 - held, abs=1e-12)
    assert row["fit_score"] == pytest.approx(max(first[best], 1 - first[best]), abs=1e-12)
    flipped = units.analyze(-A, {"f": y}, probe=False)["features"][0]
    assert flipped["unit"] == best and flipped["sign"] == -row["sign"]
    assert flipped["score"] == pytest.approx(row["score"])


def test_the_best_unit_is_chosen_on_the_first_half_and_scored_on_the_second():
    rng = np.random.default_rng(8)
    N = 2000
    y = rng.integers(0, 2, N)
    A = rng.normal(size=(N, 3))
    A[: N // 2, 0] += 3 * y[: N // 2]  # unit 0: strong on the first half, noise on the second
    A[:, 1] += 1.2 * y  # unit 1: moderate everywhere, the best over all N characters
    A[N // 2 :, 2] -= 4 * y[N // 2 :]  # unit 2: the best on the second half alone, negative
    whole = probes.auc_per_unit(A, y)
    assert int(np.argmax(np.abs(whole - 0.5))) == 1  # so choosing on all of A would give 1
    for name, yy, AA in (("b", y, A), ("v", y.astype(float) + 0.01 * rng.normal(size=N), A)):
        row = units.analyze(AA, {name: yy}, probe=False)["features"][0]
        assert row["unit"] == 0 and row["sign"] == 1, row
        assert row["fit_score"] > 0.8 and row["score"] < 0.6  # the choice does not carry over
    held = brute_auc(A[N // 2 :, 0], y[N // 2 :])
    row = units.analyze(A, {"b": y}, probe=False)["features"][0]
    assert row["score"] == pytest.approx(held, abs=1e-12) and row["unit_auc"] == row["score"]


def test_pearson_per_unit_matches_numpy_and_a_constant_unit_scores_zero():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(200, 3))
    A[:, 1] = 2.0
    y = A[:, 0] * 3 + rng.normal(size=200)
    r = probes.pearson_per_unit(A, y)
    assert r[0] == pytest.approx(np.corrcoef(A[:, 0], y)[0, 1]) and r[1] == 0.0
    with pytest.raises(ValueError, match="non-constant"):
        probes.pearson_per_unit(A, np.ones(200))


def test_logistic_regression_reaches_a_zero_gradient_of_its_objective():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(500, 4))
    y = (X @ [1.0, -2.0, 0.5, 0.0] + rng.logistic(size=500) > 0).astype(float)
    w, b = probes.fit_logistic(X, y, l2=0.01)
    p = 1 / (1 + np.exp(-(X @ w + b)))
    np.testing.assert_allclose(X.T @ (p - y) / 500 + 0.01 * w, 0, atol=1e-8)
    assert abs((p - y).mean()) < 1e-8  # the bias is not penalised
    assert np.sign(w[:3]).tolist() == [1, -1, 1]
    # separable labels: only the L2 penalty keeps w finite; the unpenalised bias still balances p
    Xs = np.r_[-1 - rng.random((50, 1)), 1 + rng.random((50, 1))]  # (100, 1)
    ys = np.r_[np.zeros(50), np.ones(50)]
    w, b = probes.fit_logistic(Xs, ys)
    p = 1 / (1 + np.exp(-(Xs @ w + b)))
    np.testing.assert_allclose(Xs.T @ (p - ys) / 100 + 1e-3 * w, 0, atol=1e-8)
    assert abs((p - ys).mean()) < 1e-8 and w[0] > 1


def test_the_probe_beats_every_single_unit_on_a_linearly_encoded_feature():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(4000, 8))
    w = np.array([1, -1, 1, -1, 1, -1, 1, -1.0])
    binary = (A @ w + 0.3 * rng.normal(size=4000) > 0).astype(int)
    numeric = A @ w + 0.3 * rng.normal(size=4000)
    rows = units.analyze(A, {"b": binary, "v": numeric})["features"]
    assert rows[0]["metric"] == "AUC" and rows[1]["metric"] == "|r|"
    assert rows[0]["probe_score"] > 0.97 and rows[0]["score"] < 0.75
    assert rows[1]["probe_score"] > 0.98 and rows[1]["score"] < 0.5


def test_saturation_fractions_of_a_hand_made_array():
    A = np.array([[-1.0, 0.995, 0.0],
                  [-0.999, 0.5, 0.99],
                  [0.9999, -0.995, -0.99],
                  [-0.2, 1.0, 1.0]])
    left, right = units.saturation(A)
    assert left.tolist() == [0.5, 0.25, 0.0]
    assert right.tolist() == [0.25, 0.5, 0.25]  # 0.99 itself is not saturated


def test_a_constant_feature_is_reported_not_applicable():
    A = np.random.default_rng(4).normal(size=(50, 3))
    text = "no parentheses here at all. None!\n" + "x" * 16
    result = units.analyze(A, units.text_features(text))
    paren = next(r for r in result["features"] if r["feature"] == "paren")
    assert not paren["applicable"] and paren["unit"] is None and paren["score"] is None
    assert "n/a" in unitviz.format_table(result)
    json.dumps(result)


def test_the_part_starts_at_the_held_out_chunk_with_labels_from_its_line():
    from charrnn.training.orders import split_chunks

    text = 'x "ab\ncd "efgh\n' * 30
    start, part, labels = units.analysis_part(text)
    assert start == int(split_chunks(len(text), 20)[-2]) and part == text[start:]
    whole = units.text_features(text)  # the part's labels are the whole text's from its start
    for name, y in labels.items():
        np.testing.assert_array_equal(y, whole[name][start:], err_msg=name)
    assert units.analysis_part(text, "all")[0] == 0
    with pytest.raises(ValueError, match="split must be"):
        units.analysis_part(text, "train")


def test_hidden_states_are_the_forward_pass_states_in_any_block_size():
    _, p = init_params(5, 7, np.random.default_rng(5))
    x = np.random.default_rng(6).integers(0, 5, size=50)
    _, cache = forward(p, x, x, np.zeros(7))
    np.testing.assert_allclose(units.hidden_states(p, x), cache.H[:, 0], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(units.hidden_states(p, x, block=7), units.hidden_states(p, x))


def test_heatmap_and_passage():
    out = unitviz.heatmap_html("a<\nb", [1.0, -1.0, 0.0, 0.5])
    assert out.count("<span") == 4 and "&lt;" in out and "↵" in out
    assert "rgb(255,65,65)" in out and "rgb(65,65,255)" in out and "print-color-adjust" in out
    with pytest.raises(ValueError, match="activations"):
        unitviz.heatmap_html("ab", [0.0])
    compact = unitviz.heatmap_html("a\nb", [0.0, 0.0, 0.0], breaks=False)  # verse stays short
    assert "<br>" not in compact and "↵" in compact and "<br>" in unitviz.heatmap_html("a\nb", [0.0] * 3)
    text = "aaaa\nabab\nbbbb\n"
    labels = np.array([c == "a" for c in text], dtype=int)
    assert units.pick_passage(text, labels, length=4) == 5


def paren_text(n, seed):
    rng = np.random.default_rng(seed)
    word = lambda: "".join(rng.choice(list("ab"), rng.integers(1, 6)))  # noqa: E731
    return "".join(word() + "(" + word() + ")" for _ in range(n))


@pytest.fixture(scope="module")
def paren_model(tmp_path_factory):
    from charrnn.training.checkpoint import load_model, save_model
    from charrnn.training.config import TrainConfig
    from charrnn.training.train import train

    text = paren_text(800, 0)  # inside and outside use the same letters: only memory tells
    cfg = TrainConfig.from_preset("adam", m=12, n_updates=3000, eta=0.01, engine="numpy",
                                  sample_every=10**6, final_sample_length=10, seed=1)
    res = train(text, cfg)
    d = tmp_path_factory.mktemp("units")
    save_model(d / "best.npz", res.best_params, res.vocab, res.best.hprev, res.best.x0,
               meta={"config": {"holdout": 0}})
    (d / "text.txt").write_text(text, encoding="utf-8")
    return load_model(d / "best.npz"), text, d


@pytest.mark.slow
def test_a_tiny_model_grows_a_parenthesis_unit(paren_model):
    model, text, _ = paren_model
    H = units.hidden_states(model.params, model.vocab.encode(text))
    labels = units.text_features(text)
    paren = next(r for r in units.analyze(H, labels)["features"] if r["feature"] == "paren")
    assert paren["score"] > 0.95 and paren["probe_score"] > 0.95
    # the reported unit and score on a small sample, against brute-force pair counting: the
    # unit chosen on the sample's first 150 characters, scored on its last 150
    idx = np.random.default_rng(7).choice(len(text), 300, replace=False)
    y = labels["paren"][idx]
    row = next(r for r in units.analyze(H[idx], {"paren": y})["features"])
    brute = np.array([brute_auc(H[idx[:150], j], y[:150]) for j in range(model.m)])
    assert row["unit"] == int(np.argmax(np.abs(brute - 0.5)))
    held = brute_auc(H[idx[150:], row["unit"]], y[150:])
    assert row["unit_auc"] == pytest.approx(held, abs=1e-12)
    assert row["score"] == pytest.approx(held if row["sign"] > 0 else 1 - held, abs=1e-12)


@pytest.mark.slow
def test_unit_report_and_the_cli(paren_model):
    from charrnn.training.orders import split_chunks

    model, text, d = paren_model
    report = units.unit_report(model, text, n_passages=3, passage_length=100)
    assert report["start"] == int(split_chunks(len(text), 20)[-2])
    assert report["N"] == len(text) - report["start"]
    assert 1 <= len(report["passages"]) <= 3
    assert len({p["unit"] for p in report["passages"]}) == len(report["passages"])
    first = report["passages"][0]
    assert len(first["text"]) == len(first["activations"]) == 100
    assert first["text"] == text[first["start"] : first["start"] + 100]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        units.unit_report(model, text + "z")

    r = subprocess.run([sys.executable, "-m", "charrnn", "units", "--checkpoint", d / "best.npz",
                        "--data", d / "text.txt", "--json", d / "units.json"],
                       capture_output=True, text=True, env={"TQDM_DISABLE": "1", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert "paren" in r.stdout and "probe" in r.stdout and "holdout 0" in r.stderr
    saved = json.loads((d / "units.json").read_text())
    assert [f["feature"] for f in saved["features"]] == list(units.FEATURES)
    assert len(saved["saturation"]["left"]) == model.m and saved["passages"]
    bad = subprocess.run([sys.executable, "-m", "charrnn", "units", "--checkpoint", d / "best.npz",
                          "--data", d / "text.txt", "--n-chunks", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("charrnn: error: --n-chunks")


def test_the_colour_bar_runs_from_blue_through_white_to_red_in_the_heat_map_colours():
    bar = unitviz.colour_bar_html()
    colours = re.findall(r"background:(rgb\([^)]*\))", bar)
    assert colours == [unitviz._colour(v) for v in np.linspace(-1, 1, 9)]
    assert colours[0] == "rgb(65,65,255)" and colours[4] == "rgb(255,255,255)" \
        and colours[-1] == "rgb(255,65,65)"
    assert "print-color-adjust:exact" in bar and "h = −1" in bar and "+1" in bar


def quote_text(n, seed):
    """Words of the letters a, b, c, some spoken: inside and outside a quotation look alike."""
    rng = np.random.default_rng(seed)
    word = lambda: "".join(rng.choice(list("abc"), rng.integers(1, 6)))  # noqa: E731
    lines = []
    for _ in range(n):
        said = " ".join(word() for _ in range(rng.integers(1, 6)))
        lines.append(f"{word()} {word()} \"{said}\" {word()}." if rng.random() < 0.7 else word() + ".")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def untrained_case(tmp_path_factory):
    """A model saved with its run's config (as write_run does) and the training code's own
    initial parameters for that config: Trainer's state before any update."""
    from charrnn.training.checkpoint import load_model, save_model
    from charrnn.training.config import TrainConfig
    from charrnn.training.train import Trainer

    text = quote_text(400, 1)
    cfg = TrainConfig.from_preset("adam", m=9, n_updates=10, seed=7, engine="numpy")
    trainer = Trainer(text, cfg)
    first = {k: v.copy() for k, v in trainer.state.params.items()}  # before any update
    trained = {k: v + 0.1 for k, v in first.items()}  # any other parameters
    d = tmp_path_factory.mktemp("controls")
    save_model(d / "best.npz", trained, trainer.vocab, np.zeros(9), 0,
               meta={"config": {**cfg.to_dict(), "data": "x.txt", "data_md5": "0"}})
    return load_model(d / "best.npz"), text, first, cfg


def test_the_untrained_control_is_bit_for_bit_where_training_starts(untrained_case):
    from charrnn.training.config import TrainConfig

    model, text, first, cfg = untrained_case
    got = units.untrained_params(model.meta["config"], model.vocab.K)  # through the JSON meta
    assert set(got) == set(first)
    for k in first:
        assert got[k].dtype == first[k].dtype and np.array_equal(got[k], first[k]), k
    other = units.untrained_params({**model.meta["config"], "seed": 8}, model.vocab.K)
    assert not np.array_equal(other["U"], first["U"])  # the seed matters
    small = units.untrained_params({**model.meta["config"], "init": "small"}, model.vocab.K)
    assert np.std(small["W"]) < 0.02 < np.std(first["W"])  # so does the init
    assert units.untrained_params({"holdout": 0}, model.vocab.K) is None
    assert TrainConfig(**{k: v for k, v in model.meta["config"].items()
                          if k in TrainConfig.__dataclass_fields__}) == cfg


def test_unit_report_carries_both_controls(untrained_case):
    model, text, first, _ = untrained_case
    report = units.unit_report(model, text, split="all", n_passages=1, passage_length=50)
    controls = report["controls"]
    assert set(controls) == {"untrained", "input_only"}
    u = controls["untrained"]
    assert {"seed", "init", "features", "saturation"} <= set(u) and u["seed"] == 7
    _, part, labels = units.analysis_part(text, "all")
    want = units.analyze(units.hidden_states(first, model.vocab.encode(part)), labels)["features"]
    assert u["features"] == want  # the same analysis of the network training started from
    assert u["features"] != report["features"]
    names = [r["feature"] for r in controls["input_only"]["features"]]
    assert names == list(units.FEATURES)
    for r in report["features"] + u["features"]:
        assert {"unit", "sign", "fit_score", "score", "probe_score"} <= set(r) or not r["applicable"]
    json.dumps(report)


def test_the_input_only_probe_reads_the_current_character_and_nothing_before_it():
    text = quote_text(600, 2)
    _, part, labels = units.analysis_part(text, "all")
    vocab = sorted(set(part))
    indices = np.array([vocab.index(c) for c in part])
    rows = {r["feature"]: r for r in units.input_only(indices, len(vocab), labels)["features"]}
    assert rows["in_word"]["probe_score"] > 0.99  # a function of x_t
    assert rows["quote"]["probe_score"] < 0.75  # needs memory: the letters look alike inside
    assert rows["line_position"]["probe_score"] < 0.5
    assert not rows["paren"]["applicable"] and rows["paren"]["probe_score"] is None
    X = units.one_hot(indices, len(vocab))
    assert X.shape == (len(part), len(vocab)) and (X.sum(axis=1) == 1).all()
    assert rows["quote"]["probe_score"] == probes.probe_score(X, labels["quote"], True)
