"""The report's tables: settings, handout checkpoints, seeds, sampling study, hidden units,
gated baselines. Each table is read back into cells and every cell's number compared with its
input at the printed precision; exact text is pinned only where it is the contract (a unit, a
minus sign, the mark of a missing value)."""

import re
import statistics

import numpy as np
from test_prose_facts import assert_numbers_are, numbers

from charrnn.report.tables import (
    HANDOUT_SMOOTH_LOSS,
    baselines_markdown,
    checkpoints_markdown,
    features_legend,
    handout_reference,
    sampling_caption,
    sampling_markdown,
    seeds_markdown,
    settings_markdown,
    signed_unit,
    units_html,
)


def _lines(table):
    return [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines() if line]


def _cells(table):
    """The body of a Markdown table: one dict per row, header -> cell text."""
    lines = _lines(table)
    return [dict(zip(lines[0], row)) for row in lines[2:]]


def _settings(runs, best):
    """The settings table as {first cell: second cell} (its header is empty)."""
    return dict(_lines(settings_markdown(runs, best))[2:])


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
    rows = _settings([_run(1, 1.48, 1.53)], _run(1, 1.48, 1.53))
    assert "goblet_book.txt" in rows["text"] and "/somewhere" not in rows["text"]  # the name only
    assert_numbers_are(rows["text"], [1_107_542])
    assert_numbers_are(rows["vocabulary"], [80])
    assert "Adam" in rows["preset"] and "mean" in rows["preset"] and "none" in rows["preset"]
    assert_numbers_are(rows["preset"], [0.001, 0.9, 0.999, 1e-8])
    assert_numbers_are(rows["model"], [100, 25])
    assert_numbers_are(rows["training"], [150_000, 150_000 / 44301, 44301, 1])  # updates = epochs
    runs = [_run(1, 1.50, 1.53), _run(2, 1.47, 1.52)]
    several = _settings(runs, runs[1])
    assert_numbers_are(several["training"], [150_000, 150_000 / 44301, 44301, 1, 2, 2])  # seeds; the best
    ada = _run(1, 1.5, 1.5, optimizer="adagrad")
    preset = _settings([ada], ada)["preset"]
    assert "AdaGrad" in preset and "β" not in preset  # AdaGrad has no betas
    assert_numbers_are(preset, [0.001, 1e-8])


def test_the_handout_reference_applies_to_the_mean_loss_on_the_book_only():
    assert handout_reference(_run(1, 1.5, 1.5)) is HANDOUT_SMOOTH_LOSS
    assert handout_reference(_run(1, 1.5, 1.5, n_chars=5000)) is None
    assert handout_reference(_run(1, 1.5, 1.5, loss="sum")) is None


def test_checkpoints_table_shows_the_logged_checkpoints():
    run = _run(1, 1.5, 1.5)
    logged = dict(zip(run["history"]["update"].tolist(), run["history"]["smooth_loss"].tolist()))
    rows = _cells(checkpoints_markdown(run, HANDOUT_SMOOTH_LOSS))
    assert [numbers(r["update"])[0][0] for r in rows] == [1, 1000, 4000, 30000, 150000]  # not 2,000
    for r in rows:
        u = int(numbers(r["update"])[0][0])
        assert_numbers_are(r["this run"], [logged[u]])
        assert_numbers_are(r["handout"], [HANDOUT_SMOOTH_LOSS[u]])
    assert {r["handout"] for r in _cells(checkpoints_markdown(run, None))} == {"–"}  # the mark of none
    run["history"] = {k: v[:2] for k, v in run["history"].items()}  # a short run logs fewer
    assert len(_cells(checkpoints_markdown(run))) == 2


def test_seeds_table_has_mean_and_std_for_several_seeds():
    assert len(_cells(seeds_markdown([_run(1, 1.5, 1.6)]))) == 1  # one seed: no mean ± std row
    rows = _cells(seeds_markdown([_run(1, 1.50, 1.60), _run(2, 1.48, 1.56)]))
    assert len(rows) == 3
    mean = rows[-1]  # the sample standard deviation (n - 1), computed here by statistics
    assert_numbers_are(mean["best smooth loss"], [1.49, statistics.stdev([1.50, 1.48])])
    assert_numbers_are(mean["final smooth loss"], [1.58, statistics.stdev([1.60, 1.56])])
    assert_numbers_are(rows[0]["updates/s"], [5400])


def test_sampling_table():
    row = {"label": "T = 0.5", "known_word_fraction": 0.9512, "distinct_2_words": 0.61234,
           "distinct_4_chars": 0.4, "longest_repeat_len": 57}
    cells, = _cells(sampling_markdown([row]))
    assert cells["setting"] == "T = 0.5"
    assert cells["known words"].endswith("%")  # the unit is the contract: a fraction in percent
    assert_numbers_are(cells["known words"], [95.12])
    assert_numbers_are(cells["distinct-2 words"], [0.61234])
    assert_numbers_are(cells["distinct-4 chars"], [0.4])
    assert_numbers_are(cells["longest repeat (characters)"], [57])


def test_the_sampling_table_gives_mean_and_t_interval_per_setting_beam_and_book():
    known = [0.62, 0.66, 0.69, 0.63, 0.68]
    samples = {"known_word_fraction": known, "distinct_2_words": [0.9, 0.92, 0.94, 0.96, 0.98],
               "distinct_4_chars": [0.7] * 5, "longest_repeat_len": [10, 12, 14, 16, 18]}
    row = {"label": "plain", "known_word_fraction": 0.62, "distinct_2_words": 0.9,
           "distinct_4_chars": 0.7, "longest_repeat_len": 10, "samples": samples}
    beam = {"label": "beam 8", "beam": 8, "known_word_fraction": 1.0, "distinct_2_words": 0.013,
            "distinct_4_chars": 0.013, "longest_repeat_len": 1974}
    book = {**row, "label": "book text (test chunk)"}
    plain, searched, real = _cells(sampling_markdown([row, beam], book))
    # the half-width of the 95 % t-interval: t_{0.975, 4} = 2.776445 (a printed table)
    half = lambda xs: 2.776445 * statistics.stdev(xs) / 5 ** 0.5  # noqa: E731
    assert_numbers_are(plain["known words"], [100 * statistics.fmean(known), 100 * half(known)])
    assert plain["known words"].startswith("65.6% ± ")  # percentage points after the ±
    assert_numbers_are(plain["distinct-2 words"], [0.94, half(samples["distinct_2_words"])])
    assert plain["distinct-4 chars"] == "0.700 ± 0.000"  # equal samples: a zero-width interval
    assert_numbers_are(plain["longest repeat (characters)"], [14, half(samples["longest_repeat_len"])])
    # beam search: its one decode, no interval; the book row last, as the sampled rows
    assert searched["known words"] == "100.0%" and searched["longest repeat (characters)"] == "1,974"
    assert real["setting"] == "book text (test chunk)"
    assert {k: v for k, v in real.items() if k != "setting"} == \
        {k: v for k, v in plain.items() if k != "setting"}
    old, = _cells(sampling_markdown([{k: v for k, v in row.items() if k != "samples"}]))
    assert "±" not in "".join(old.values())  # an older study: its one sample's values


def test_the_sampling_caption_says_what_the_table_shows():
    study = {"n": 2000, "n_samples": 5, "confidence": 0.95, "book": {"label": "b"},
             "vocabulary": [0, 1_079_854]}
    c = sampling_caption(study)
    assert_numbers_are(c, [2000, 5, 95, 5, 5, 2000, 1_079_854])
    assert "t-interval" in c and "Beam search is deterministic" in c and "test chunk" in c
    without_book = sampling_caption({**study, "book": None})
    assert "Book text" not in without_book and "t-interval" in without_book
    for old in ({"n": 2000}, {"n": 300, "n_samples": 1}):  # older studies: one sample each
        c = sampling_caption(old)
        assert "one per setting" in c and "no intervals" in c and "±" not in c


def _unit_row(feature, unit, sign, score, probe, metric="AUC", applicable=True):
    return {"feature": feature, "metric": metric, "applicable": applicable, "unit": unit,
            "sign": sign, "score": score, "probe_score": probe}


def test_units_table_puts_the_models_side_by_side():
    a = {"features": [_unit_row("quote", 17, -1, 0.91234, 0.95),
                      _unit_row("paren", None, None, None, None, applicable=False)]}
    b = {"features": [_unit_row("quote", 0, 1, 0.7, None),
                      _unit_row("paren", 3, 1, 0.8, 0.85)]}
    table = units_html({"handout model": a, "holdout <1>": b})
    assert '<th colspan="3" style="text-align:center">holdout &lt;1&gt;</th>' in table  # escaped
    quote, paren = ([re.sub("<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
                    for row in re.findall(r"<tr><td><code>.*?</tr>", table))
    # the units are the contract: a minus sign (not a hyphen) and a plus; "–" where there is no probe
    assert quote[2] == "\u221217" and quote[5] == "+0" and quote[7] == "–"
    assert_numbers_are(" ".join(quote[3:5] + quote[6:7]), [0.91234, 0.95, 0.7])
    assert paren[2] == "not in the text" and paren[3] == "+3"
    assert_numbers_are(" ".join(paren[4:]), [0.8, 0.85])
    assert signed_unit({"applicable": False}) == "–"


def test_a_feature_in_one_half_only_says_so():
    row = {**_unit_row("paren", None, None, None, None, applicable=False), "constant": False}
    table = units_html({"m": {"features": [row]}})
    assert "not in both halves" in table and "not in the text" not in table


def test_the_controls_table_sets_trained_untrained_and_input_side_by_side():
    from charrnn.report.tables import units_controls_html

    report = {"features": [_unit_row("quote", 17, -1, 0.91234, 0.95),
                           _unit_row("line_position", 2, 1, 0.4, 0.5, metric="|r|")],
              "controls": {"untrained": {"seed": 1, "init": "scaled",
                                         "features": [_unit_row("quote", 4, 1, 0.61, 0.72),
                                                      _unit_row("line_position", 0, -1, 0.1,
                                                                None, metric="|r|")]},
                           "input_only": {"features": [{"feature": "quote", "applicable": True,
                                                        "probe_score": 0.55},
                                                       {"feature": "line_position",
                                                        "applicable": True,
                                                        "probe_score": 0.2}]}}}
    table = units_controls_html(report)
    assert [re.sub("<[^>]+>", "", h) for h in re.findall(r"<th[^>]*>(.*?)</th>", table)][2:5] == \
        ["trained", "untrained", "input only"]
    quote, line = ([re.sub("<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
                   for row in re.findall(r"<tr><td><code>.*?</tr>", table))
    assert quote[2] == "\u221217" and quote[5] == "+4"
    assert_numbers_are(" ".join(quote[3:5] + quote[6:]), [0.91234, 0.95, 0.61, 0.72, 0.55])
    assert line[5] == "\u22120" and line[7] == "–"  # no untrained probe: a dash
    assert_numbers_are(" ".join(line[3:5] + line[6:]), [0.4, 0.5, 0.1, 0.2])
    no_net = {**report, "controls": {**report["controls"], "untrained": None}}
    assert re.sub("<[^>]+>", " ", units_controls_html(no_net)).split().count("–") == 6
    assert units_controls_html({"features": report["features"]}) == ""  # an older JSON


def test_features_legend_names_every_feature():
    from charrnn.studies.units import FEATURES

    legend = features_legend()
    assert all(f"`{name}`: {meaning}" in legend for name, (_, meaning) in FEATURES.items())


def test_baselines_table():
    row = {"model": "LSTM h 120", "n_params": 106640, "loss": 1.31763, "loss_std": 0.00412,
           "seeds": [1, 2, 3], "bits_per_char": 1.90094, "chars": 4_000_000, "wall_time_s": 137.7,
           "chars_per_s": 29039.9}
    one = {**row, "model": "GRU h 142", "seeds": [1], "loss_std": 0.0}
    cells, single = _cells(baselines_markdown([row, one]))
    assert cells["model"] == "LSTM\u00a0h\u00a0120"  # no-break spaces: one line
    expected = {"parameters": 106640, "seeds": 3, "best validation loss (nats/char)": [1.31763, 0.00412],
                "bits/char": 1.90094, "budget (chars)": 4.0, "time": 137.7, "chars/s": 29039.9}
    for header, x in expected.items():
        assert_numbers_are(cells[header], x if isinstance(x, list) else [x])
    # one seed: no spread printed
    assert_numbers_are(single["best validation loss (nats/char)"], [1.31763])
    assert single["seeds"] == "1"
    # the units are the contract: millions of characters, seconds
    assert cells["budget (chars)"].endswith("\u00a0M") and cells["time"].endswith("\u00a0s")


def test_welch_table_marks_exactly_the_significant_pairs():
    from charrnn.report.tables import welch_markdown
    from charrnn.studies.experiments import comparisons

    def row(v, xs):
        return {"variant": v, "losses": xs, "loss": sum(xs) / len(xs)}

    tests = comparisons([row("s", [1.50, 1.51, 1.52]), row("r", [1.40, 1.41, 1.43]),
                         {**row("b", [1.45, 1.50, 1.55]), "eta": 0.002}], pairs=None)
    lines = welch_markdown(tests).splitlines()[2:]
    assert len(lines) == 3
    for line, t in zip(lines, tests):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[:2] == [t["a"], t["b"]] and float(cells[3]) == round(-t["diff"], 4) >= 0
        assert cells[2] == "-"  # no setting named on both rows differs
        assert cells[-1].startswith("**") == (t["p"] < 0.05)  # significant: in bold
    changed = welch_markdown([{**tests[0], "changes": ["seq_length 25 → 50", "eta 0.002 → 0.001"]}])
    model = welch_markdown([{**tests[0], "changes": ["model vanilla m 100 → vanilla m 256"]}])
    assert "model\u00a0m\u00a0100\u00a0→\u00a0m\u00a0256" in model  # short enough for the page
    cells = [c.strip() for c in changed.splitlines()[2].strip("|").split("|")]
    assert cells[2] == "seq_length\u00a025\u00a0→\u00a050<br>eta\u00a00.002\u00a0→\u00a00.001"
    assert welch_markdown([]) == "" and welch_markdown([None]) == ""


def test_the_temperature_table_marks_t_1_and_gives_the_best_t():
    from charrnn.report.tables import temperature_markdown

    curve = {"temperatures": [0.5, 1.0, 1.25], "losses": [1.99663, 1.57191, 1.59630],
             "best_temperature": 1.03621, "best_loss": 1.57098}
    head, _, *rows = temperature_markdown(curve).splitlines()
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    assert [c.strip() for c in head.strip("|").split("|")] == ["T", "test loss (nats/char)"]
    assert [c[0] for c in cells] == ["0.5", "**1**", "1.25", "best: 1.036"]
    assert cells[1][1] == "**1.5719**"  # T = 1 in bold
    assert_numbers_are(" ".join(c[1] for c in cells), [1.99663, 1.57191, 1.59630, 1.57098])
