"""The report's tables: settings, handout checkpoints, seeds, sampling study, hidden units,
gated baselines."""

import numpy as np

from charrnn.report.tables import (
    HANDOUT_SMOOTH_LOSS,
    baselines_markdown,
    checkpoints_markdown,
    features_legend,
    handout_reference,
    sampling_markdown,
    seeds_markdown,
    settings_markdown,
    signed_unit,
    units_html,
)


def _run(seed, best, final, n_chars=1107542, K=80, loss="mean", optimizer="adam"):
    cfg = {"data": "/somewhere/data/goblet_book.txt", "preset": optimizer, "optimizer": optimizer,
           "eta": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "loss": loss, "grad_clip": None,
           "m": 100, "seq_length": 25, "init": "scaled"}
    met = {"seed": seed, "n_chars": n_chars, "K": K, "n_updates": 150000, "updates_per_epoch": 44301,
           "best_smooth_loss": best, "best_update": 130874, "final_smooth_loss": final,
           "updates_per_s": 5400.0}
    u = np.array([1, 1000, 2000, 4000, 30000, 150000])
    return {"config": cfg, "metrics": met,
            "history": {"update": u, "smooth_loss": 4.5 - np.arange(len(u)) / 2}}


def test_settings_one_seed_or_several():
    one = settings_markdown([_run(1, 1.48, 1.53)], _run(1, 1.48, 1.53))
    assert "| text | `goblet_book.txt`: 1,107,542 characters (read as UTF-8) |" in one
    assert "Adam, η = 0.001, β₁ = 0.9, β₂ = 0.999, ε = 1e-08; loss = mean over the sequence; " \
           "gradient clipping: none" in one
    assert "| training | 150,000 updates = 3.39 epochs of 44,301 updates; seed 1 |" in one
    runs = [_run(1, 1.50, 1.53), _run(2, 1.47, 1.52)]
    several = settings_markdown(runs, runs[1])
    assert "seeds 1, 2; sections (ii) to (iv) show seed 2, the best |" in several
    ada = _run(1, 1.5, 1.5, optimizer="adagrad")
    assert "AdaGrad, η = 0.001, ε = 1e-08;" in settings_markdown([ada], ada)


def test_the_handout_reference_applies_to_the_mean_loss_on_the_book_only():
    assert handout_reference(_run(1, 1.5, 1.5)) is HANDOUT_SMOOTH_LOSS
    assert handout_reference(_run(1, 1.5, 1.5, n_chars=5000)) is None
    assert handout_reference(_run(1, 1.5, 1.5, loss="sum")) is None


def test_checkpoints_table_shows_the_logged_checkpoints():
    run = _run(1, 1.5, 1.5)
    table = checkpoints_markdown(run, HANDOUT_SMOOTH_LOSS)
    assert "| 4,000 | 3.0000 | 2.2598 |" in table and "| 1 | 4.5000 | 4.6049 |" in table
    assert "2,000" not in table  # not one of the handout's checkpoints
    assert "| 30,000 | 2.5000 | – |" in checkpoints_markdown(run, None)
    run["history"] = {k: v[:2] for k, v in run["history"].items()}  # a short run logs fewer
    assert checkpoints_markdown(run).count("\n") == 3


def test_seeds_table_has_mean_and_std_for_several_seeds():
    assert "mean ± std" not in seeds_markdown([_run(1, 1.5, 1.6)])
    table = seeds_markdown([_run(1, 1.50, 1.60), _run(2, 1.48, 1.56)])
    assert "| mean ± std | 1.4900 ± 0.0141 | | 1.5800 ± 0.0283 | |" in table


def test_sampling_table():
    row = {"label": "T = 0.5", "known_word_fraction": 0.9512, "distinct_2_words": 0.61234,
           "distinct_4_chars": 0.4, "longest_repeat_len": 57}
    assert sampling_markdown([row]).splitlines()[-1] == "| T = 0.5 | 95.1% | 0.612 | 0.400 | 57 characters |"


def _unit_row(feature, unit, sign, score, probe, metric="AUC", applicable=True):
    return {"feature": feature, "metric": metric, "applicable": applicable, "unit": unit,
            "sign": sign, "score": score, "probe_score": probe}


def test_units_table_puts_the_models_side_by_side():
    a = {"features": [_unit_row("quote", 17, -1, 0.91234, 0.95),
                      _unit_row("paren", None, None, None, None, applicable=False)]}
    b = {"features": [_unit_row("quote", 0, 1, 0.7, None),
                      _unit_row("paren", 3, 1, 0.8, 0.85)]}
    table = units_html({"handout model": a, "holdout <1>": b})
    assert '<th colspan="3" style="text-align:center">holdout &lt;1&gt;</th>' in table
    assert "<td>\u221217</td><td>0.912</td><td>0.950</td>" in table  # a minus sign, not a hyphen
    assert "<td>+0</td><td>0.700</td><td>–</td>" in table  # no probe score
    assert table.count("not in the text") == 1 and "<td>+3</td><td>0.800</td><td>0.850</td>" in table
    assert signed_unit({"applicable": False}) == "–"


def test_features_legend_names_every_feature():
    from charrnn.studies.units import FEATURES

    legend = features_legend()
    assert all(f"`{name}`: {meaning}" in legend for name, (_, meaning) in FEATURES.items())


def test_baselines_table():
    row = {"model": "LSTM h 120", "n_params": 106640, "best_val_loss": 1.31763,
           "best_val_bits_per_char": 1.90094, "chars": 4_000_000, "wall_time_s": 137.7,
           "chars_per_s": 29039.9}
    assert baselines_markdown([row]).splitlines()[-1] == \
        "| LSTM h 120 | 106,640 | 1.3176 | 1.901 | 4.00 M | 138 s | 29,040 |"
