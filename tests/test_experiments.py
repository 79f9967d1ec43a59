"""The experiment definitions: budgets, caching of finished runs, the summary."""

import numpy as np
import pytest

from charrnn.studies.experiments import (
    COMPARISONS,
    N_EVALS,
    VARIANTS,
    comparisons,
    differences,
    job_name,
    run_variant,
    summarize,
    variant_config,
    variant_seeds,
)

TEXT = ("Professor McGonagall looked sternly over her square spectacles at the class. "
        "'Transfiguration is some of the most complex magic you will learn,' she said.\n") * 25


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_variant_gets_the_same_character_budget_times_its_scale(name):
    cfg = variant_config(name, 1_000_000)
    per_update = cfg.batch_size * cfg.seq_length
    budget = int(1_000_000 * VARIANTS[name].get("scale", 1))
    assert cfg.n_updates == budget // per_update
    assert budget - per_update < cfg.n_updates * per_update <= budget
    assert cfg.dtype == ("float32" if cfg.batch_size > 1 else "float64")  # B = 1 stays float64
    assert cfg.holdout == 1 and cfg.n_chunks == 20 and cfg.eval_every == cfg.n_updates // N_EVALS
    assert cfg.warmup <= cfg.n_updates // 10


def test_small_budgets_scale_the_warmup_and_unknown_names_are_refused():
    # 187 updates: a warm-up of 200 would not fit
    cfg = variant_config("best", 300_000 / VARIANTS["best"]["scale"])
    assert cfg.n_updates == 187 and cfg.warmup == 18
    with pytest.raises(ValueError, match="unknown variant 'nope'"):
        variant_config("nope", 1000)


def test_finished_runs_are_reused_and_other_texts_retrain(tmp_path):
    kw = dict(chars=6000, n_evals=3, m=8)
    a = run_variant("sequential", TEXT, "t.txt", tmp_path, **kw)
    stamp = (tmp_path / "sequential-seed1" / "best.npz").stat().st_mtime_ns
    b = run_variant("sequential", TEXT, "elsewhere/t.txt", tmp_path, **kw)  # same text: reused
    assert (tmp_path / "sequential-seed1" / "best.npz").stat().st_mtime_ns == stamp
    assert a["metrics"] == b["metrics"]
    c = run_variant("sequential", TEXT.upper(), "t.txt", tmp_path, **kw)  # other text: retrained
    assert c["metrics"]["K"] != a["metrics"]["K"]
    assert len(c["validation"]["update"]) == 3


def test_an_edit_of_the_training_code_retrains(tmp_path, monkeypatch):
    import charrnn.training.provenance

    kw = dict(chars=6000, n_evals=3, m=8)
    run_variant("sequential", TEXT, "t.txt", tmp_path, **kw)
    stamp = (tmp_path / "sequential-seed1" / "best.npz").stat().st_mtime_ns
    run_variant("sequential", TEXT, "t.txt", tmp_path, **kw)  # nothing changed: reused
    assert (tmp_path / "sequential-seed1" / "best.npz").stat().st_mtime_ns == stamp
    monkeypatch.setattr(charrnn.training.provenance, "code_hash", lambda: "another version of train.py")
    run_variant("sequential", TEXT, "t.txt", tmp_path, **kw)
    assert (tmp_path / "sequential-seed1" / "best.npz").stat().st_mtime_ns != stamp


def test_the_code_hash_follows_the_training_modules(tmp_path, monkeypatch):
    import charrnn.training.provenance as prov

    names = {p.name for p in prov.training_files()}
    assert {"train.py", "rnn.py", "engine.py", "optim.py", "orders.py", "runs.py"} <= names
    assert not {"cli.py", "plots.py", "tables.py", "pdf.py"} & names  # presentation only
    pkg = tmp_path / "pkg"
    for p in prov.training_files():
        copy = pkg / p.relative_to(prov.PACKAGE)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(p.read_bytes())
    monkeypatch.setattr(prov, "PACKAGE", pkg)
    before = prov.code_hash()
    optim = pkg / "model" / "optim.py"
    optim.write_text(optim.read_text() + "\n# an edit\n")
    assert prov.code_hash() != before


def test_summary_rows_carry_the_seeds_mean_and_std(tmp_path):
    runs = [run_variant(n, TEXT, "t.txt", tmp_path, 5000, 2, seed=s, m=8)
            for n in ("sequential", "B8") for s in (1, 2, 3)]
    assert (tmp_path / job_name("B8", 3) / "metrics.json").is_file()
    s = summarize(runs)
    assert [r["variant"] for r in s["rows"]] == ["sequential", "B8"]
    for r in s["rows"]:
        mine = [run for run in runs if run["variant"] == r["variant"]]
        per_seed = [min(run["validation"]["val_loss"]) for run in mine]
        assert r["seeds"] == [1, 2, 3] and r["best_val_losses"] == pytest.approx(per_seed)
        assert r["best_val_loss_mean"] == pytest.approx(np.mean(per_seed))
        assert r["best_val_loss_std"] == pytest.approx(np.std(per_seed, ddof=1))
        assert r["best_val_bits_per_char"] == pytest.approx(r["best_val_loss_mean"] / np.log(2))
        tests = [run["metrics"]["test_loss"] for run in mine]  # the reported measure
        assert r["measure"] == "test" and r["losses"] == tests
        assert (r["loss"], r["loss_std"]) == pytest.approx((np.mean(tests), np.std(tests, ddof=1)))
        shown = f"{r['loss']:.4f} ± {r['loss_std']:.4f}"
        assert shown in s["markdown"].replace("**", "").replace("\u00a0", " ")
        assert f"*{r['variant']}*: {r['description']}" in s["markdown"]  # in the note
    means = {r["variant"]: r["best_val_loss_mean"] for r in s["rows"]}
    assert s["winner"] == min(means, key=means.get)
    assert s["markdown"].count("\n| ") == len(s["rows"])
    assert [t["a"] for t in s["comparisons"]] in (["sequential"], ["B8"])  # the one pair


def test_comparisons_test_every_pair_of_seeded_rows_with_the_better_one_first():
    def row(v, xs):
        return {"variant": v, "losses": xs, "loss": sum(xs) / len(xs)}

    rows = [row("s", [1.50, 1.51, 1.52]), row("r", [1.40, 1.41, 1.43]), row("one", [1.3]),
            row("b", [1.45, 1.50, 1.55])]
    tests = comparisons(rows, pairs=None)
    assert [(t["a"], t["b"]) for t in tests] == [("r", "s"), ("b", "s"), ("r", "b")]
    assert all(t["diff"] <= 0 for t in tests)
    assert [t["significant"] for t in tests] == [True, False, False]
    assert comparisons(rows) == []  # none of these is a pair of COMPARISONS


def test_the_report_tests_only_its_one_change_pairs_and_names_what_differs():
    def row(v, xs, **settings):
        return {"variant": v, "losses": xs, "loss": sum(xs) / len(xs), **settings}

    base = dict(model="vanilla m 256", batch_size=32, seq_length=25, eta=0.002,
                lr_schedule="constant", dtype="float32", chars=4_000_000)
    rows = [row("m256", [1.46, 1.47, 1.45], **base),
            row("m256s50", [1.44, 1.45, 1.46], **{**base, "seq_length": 50}),
            row("m256cos", [1.40, 1.41, 1.42], **{**base, "seq_length": 50, "lr_schedule": "cosine"}),
            row("best", [1.30], **base),  # one seed: never tested
            row("LSTM", [1.39, 1.40, 1.38], **{**base, "model": "LSTM h 120", "seq_length": 50,
                                               "lr_schedule": "cosine", "eta": 0.064})]
    tests = comparisons(rows)
    pairs = [{t["a"], t["b"]} for t in tests]
    assert pairs == [{"m256", "m256s50"}, {"m256s50", "m256cos"}, {"m256cos", "LSTM"}]
    assert {frozenset(p) for p in pairs} <= {frozenset(p) for p in COMPARISONS}
    assert [t["changes"] for t in tests] == [
        ["seq_length 25 → 50"], ["lr_schedule constant → cosine"],
        ["model vanilla m 256 → LSTM h 120", "eta 0.002 → 0.064"]]
    assert all(t["diff"] <= 0 and t["a"] == min((t["a"], t["b"]), key=lambda v: next(
        r["loss"] for r in rows if r["variant"] == v)) for t in tests)
    # the differences of two rows, in SETTINGS' order; a setting only one row has is left out
    assert differences({"chars": 2e6, "eta": 1e-3, "m": 1}, {"chars": 4e6, "eta": 1e-3}) == \
        ["chars 2 M → 4 M"]
    assert differences(rows[0], rows[0]) == []
    # every pair the report tests names variants it runs (or the gated rows)
    assert {v for p in COMPARISONS for v in p} <= set(VARIANTS) | {"LSTM", "GRU"}
    assert variant_seeds("sequential") == [1, 2, 3] and variant_seeds("best") == [1]


def test_every_comparison_is_at_one_budget():
    # a pair of rows the report tests differs in one factor, never in its training characters
    scale = {name: v.get("scale", 1) for name, v in VARIANTS.items()}
    scale.update(LSTM=1, GRU=1)  # the gated baselines train on the common budget
    for a, b in COMPARISONS:
        assert scale[a] == scale[b], (a, b)
    for chars in (1_000_000, 2_000_000):
        for a, b in COMPARISONS:
            if a in VARIANTS and b in VARIANTS:
                ca, cb = variant_config(a, chars), variant_config(b, chars)
                assert abs(ca.n_updates * ca.batch_size * ca.seq_length
                           - cb.n_updates * cb.batch_size * cb.seq_length) < 1600, (a, b)
