"""The functions notebook 05 calls: finding a model, sampling, next-character tables, heat maps."""

import numpy as np
import pytest

from charrnn.model.data import Vocabulary
from charrnn.model.rnn import forward, init_params
from charrnn.model.sampling import beam_search, prime, synthesize
from charrnn.report import explore
from charrnn.training.checkpoint import Model, save_model

TEXT = "<Harry> said: 'no'\n\tand left."


@pytest.fixture
def model():
    vocab = Vocabulary.from_text(TEXT)
    _, params = init_params(vocab.K, 9, np.random.default_rng(0))
    for k in params:  # larger weights than the init, so probabilities differ clearly
        params[k] *= 3.0
    return Model(params, vocab, np.full(9, 0.1), 2, {})


def test_find_model_takes_the_first_run_by_name_or_the_given_one(tmp_path, model):
    root = tmp_path
    (root / "runs").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no trained model found.*runs"):
        explore.find_model("", root=root)
    for name in ("b-run", "a-run", "c-empty"):
        (root / "runs" / name).mkdir()
    for name in ("b-run", "a-run"):
        save_model(root / "runs" / name / "best.npz", model.params, model.vocab, model.hprev)
    assert explore.find_model("", root=root) == root / "runs" / "a-run" / "best.npz"
    assert explore.find_model("runs/b-run", root=root) == root / "runs" / "b-run" / "best.npz"
    direct = root / "runs" / "b-run" / "best.npz"
    assert explore.find_model(str(direct), root=root) == direct
    with pytest.raises(FileNotFoundError, match="no model at"):
        explore.find_model("runs/c-empty", root=root)


def test_next_char_table_gives_the_forward_pass_probabilities(model):
    rows = explore.next_char_table(model, TEXT, k=3)
    assert [r["position"] for r in rows] == list(range(1, len(TEXT)))
    assert "".join(r["char"] for r in rows) == TEXT[1:]
    x = model.vocab.encode(TEXT)
    loss, cache = forward(model.params, x[:-1], x[1:], np.zeros(model.m))
    P = cache.P[:, 0]  # (T, K)
    np.testing.assert_allclose([r["p"] for r in rows], P[np.arange(len(rows)), x[1:]], rtol=1e-12)
    assert np.mean([r["bits"] for r in rows]) * np.log(2) == pytest.approx(float(loss))
    for r, p in zip(rows, P):
        top = [c for c, _ in r["top"]]
        assert len(top) == 3 and [q for _, q in r["top"]] == sorted((q for _, q in r["top"]), reverse=True)
        assert r["top"][0][1] == pytest.approx(p.max())
        assert r["rank"] == 1 + int((p > p[model.vocab.char_to_ind[r["char"]]]).sum())
        assert (r["rank"] == 1) == (p[model.vocab.char_to_ind[r["char"]]] == p.max())
    with pytest.raises(ValueError, match="at least 2"):
        explore.next_char_table(model, "H")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        explore.next_char_table(model, "Hermione")
    with pytest.raises(ValueError, match="at most K"):
        explore.next_char_table(model, "Ha", k=model.vocab.K + 1)


def test_next_char_html_escapes_and_colours(model):
    rows = explore.next_char_table(model, TEXT)
    out = explore.next_char_html(TEXT, rows)
    assert "&lt;" in out and "<Harry>" not in out
    assert out.count("<tr>") == len(TEXT)  # header + one row per predicted character
    assert out.count('<span style="background:hsl(') == len(TEXT) - 1
    assert "↵" in out and "⇥" in out
    assert explore.next_char_html(TEXT, rows, table=False).count("<table") == 0
    with pytest.raises(ValueError, match="do not belong"):
        explore.next_char_html(TEXT[:-1] + "!", rows)


def test_sample_text_is_synthesize_after_prime(model):
    a = explore.sample_text(model, n=40, temperature=0.7, top_p=0.9, prime_text="Har", seed=3)
    h, x0 = prime(model.params, model.vocab.encode("Har"))
    want = synthesize(model.params, h, x0, 40, np.random.default_rng(3), 0.7, 0.9)
    assert a == "Har" + model.vocab.decode(want)
    b = explore.sample_text(model, n=40, seed=3)
    want = synthesize(model.params, model.hprev, model.x0, 40, np.random.default_rng(3))
    assert b == model.vocab.decode(want)
    with pytest.raises(ValueError, match="temperature"):
        explore.sample_text(model, temperature=0)


def test_beam_text_is_beam_search_after_prime(model):
    text, score = explore.beam_text(model, n=30, beam=4, prime_text="Har")
    h, x0 = prime(model.params, model.vocab.encode("Har"))
    want, want_score = beam_search(model.params, h, x0, 30, 4)
    assert text == "Har" + model.vocab.decode(want) and score == want_score
    text, score = explore.beam_text(model, n=30, beam=1)  # no prime: the saved state, greedy
    want, want_score = beam_search(model.params, model.hprev, model.x0, 30, 1)
    assert text == model.vocab.decode(want) and score == want_score
    with pytest.raises(ValueError, match="beam width must be a positive integer"):
        explore.beam_text(model, beam=0)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        explore.beam_text(model, prime_text="Harry€")


def test_unit_heatmap_colours_each_character_by_the_unit(model):
    out = explore.unit_heatmap_html(model, "said", 4)
    assert out.count("<span") == 4 and "unit 4" in out
    with pytest.raises(ValueError, match=r"0\.\.8"):
        explore.unit_heatmap_html(model, "said", 9)
    with pytest.raises(ValueError, match="type some text"):
        explore.unit_heatmap_html(model, "", 0)


def test_shown_char():
    assert [explore.shown_char(c) for c in " \n\ta"] == ["␣", "↵", "⇥", "a"]
