"""How the models scale: a sweep's rows grouped by kind and size, and the sentence held to them."""

import pytest

from charrnn.report import shortfall


def _row(kind, n, bits, seed=1, time_s=10.0, test=True):
    return {"name": f"{kind}-{n}-seed{seed}", "kind": kind, "seed": seed, "n_params": n,
            "chars": 500000, "best_val_bits_per_char": bits + 0.01,
            "test_bits_per_char": bits if test else None, "wall_time_s": time_s}


def test_points_are_grouped_over_seeds_by_kind_and_size():
    rows = [_row("vanilla", 100, 2.0, 1), _row("vanilla", 25, 2.4), _row("vanilla", 100, 2.2, 2),
            _row("gru", 25, 2.3, time_s=30.0)]
    points = shortfall.scaling_points(rows)
    assert [(p["kind"], p["n_params"]) for p in points] == [("vanilla", 25), ("vanilla", 100),
                                                            ("gru", 25)]
    big = points[1]
    assert big["bits"] == pytest.approx(2.1) and big["std"] == pytest.approx(0.1414213, rel=1e-5)
    assert big["seeds"] == 2 and points[0]["std"] is None and points[2]["time_s"] == 30.0
    # a row without a test loss: the group falls back to validation, and says so
    val = shortfall.scaling_points([_row("lstm", 25, 2.0, test=False)])[0]
    assert val["measure"] == "validation" and val["bits"] == pytest.approx(2.01)


def test_the_paragraph_says_what_the_numbers_show():
    rows = [_row("vanilla", 25_000, 2.40), _row("vanilla", 400_000, 2.30),
            _row("gru", 25_000, 2.35), _row("gru", 400_000, 1.90),
            _row("lstm", 25_000, 2.50), _row("lstm", 400_000, 2.00)]
    text = shortfall.scaling_paragraph(shortfall.scaling_points(rows))
    assert "vanilla from 2.400 to 2.300 bits/char (25k to 400k parameters)" in text
    assert "The largest gain is lstm's (0.500 bits/char), the smallest vanilla's (0.100)." in text
    assert "At about 25k parameters: gru (2.350), then vanilla (2.400), then lstm (2.500)." in text
    assert "At about 400k parameters: gru (1.900), then lstm (2.000), then vanilla (2.300)." in text
    assert "One seed per point" in text
    # a tie as printed, several seeds (nothing said about single runs), one size
    tie = [_row("vanilla", 25_000, 2.0001, s) for s in (1, 2)] + [_row("gru", 25_000, 2.0, s)
                                                                   for s in (1, 2)]
    text = shortfall.scaling_paragraph(shortfall.scaling_points(tie))
    assert "At about 25k parameters: vanilla (2.000), level with gru (2.000)." in text
    assert "One seed" not in text and "With more parameters" not in text
    # a kind best at a middle size says so; one best at an end does not
    middle = rows + [_row("vanilla", 100_000, 2.2), _row("gru", 100_000, 2.0),
                     _row("lstm", 100_000, 2.2)]
    text = shortfall.scaling_paragraph(shortfall.scaling_points(middle))
    assert "Of the sizes tried, vanilla does best at 100k parameters (2.200): at this budget its " \
        "largest model is not its best." in text
    assert "gru does best" not in text and "lstm does best" not in text
    # a kind that gets worse with size is reported as it is
    worse = [_row("vanilla", 25_000, 2.0), _row("vanilla", 100_000, 2.1)]
    assert "vanilla from 2.000 to 2.100" in shortfall.scaling_paragraph(shortfall.scaling_points(worse))
    assert shortfall.scaling_paragraph([]) == ""


def test_the_section_waits_for_the_sweep_and_names_it():
    assert "Not yet: no scaling sweep" in shortfall.scaling(None)[0][1]
    rows = [_row("vanilla", 25_000, 2.4), _row("vanilla", 100_000, 2.3)]
    parts = shortfall.scaling(rows, "runs/sweep-scaling-report-x/results.json")
    kinds = [k for k, _ in parts]
    assert kinds[0] == "figure" and "(sweep sweep-scaling-report-x)" in parts[1][1]
    assert "| vanilla | 100,000 | 2.300 | 1 | 10 |" in parts[3][1]


def test_each_section_of_the_shortfall_renders_its_artifact():
    """Every section on a small artifact of its command: a figure where it has one, its table
    rows, its sentence (a section that fails here would fail only in make report)."""
    context = {"positions": 10, "models": [{"name": "a", "kind": "vanilla m 4", "ks": [1, 2, 4],
                                            "losses": [3.0, 2.0, 1.9], "inf": 1.895, "within": 4}]}
    dynamic = {"validation": [4, 9], "test": [10, 20], "segment": 25, "rates": [0.0, 0.01],
               "models": [{"name": "a", "kind": "vanilla m 4", "static": 1.5, "dynamic": 1.4,
                           "eta": 0.01, "rates": [0.0, 0.01], "validation": [1.5, 1.45]}]}
    gradients = {"positions": 10, "models": [{"name": "a", "kind": "vanilla m 4", "ks": [1, 4, 16],
                                              "norms": [1.0, 0.1, 1e-4], "sigma_max": 2.0,
                                              "spectral_radius": 1.5, "singular_values": [2.0]}]}
    for parts, row in ((shortfall.context(context), "| a (vanilla m 4) | 3.000 | 1.900 | 1.895 | 4 |"),
                       (shortfall.dynamic(dynamic), "| a (vanilla m 4) | 2.164 | 2.020 | -0.144 | 0.01 |"),
                       (shortfall.gradients(gradients),
                        "| a (vanilla m 4) | 1.0e+00 | 1.0e-01 | 1.0e-04 | 2.00 | 1.50 |")):
        text = "\n".join(p for k, p in parts if k == "markdown")
        assert row in text, text
        assert all(p for _, p in parts)
    assert "validation text, characters 4 to 9)" in shortfall.dynamic(dynamic)[0][1]
    assert [k for k, _ in shortfall.context(context)][0] == "figure"
    assert [k for k, _ in shortfall.gradients(gradients)][0] == "figure"
    for section in (shortfall.context, shortfall.dynamic, shortfall.gradients):
        assert "Not yet" in section(None)[0][1]


def test_a_kind_that_gets_worse_with_size_is_not_said_to_gain():
    rows = [_row("vanilla", 25_000, 3.439), _row("vanilla", 400_000, 3.451),
            _row("gru", 25_000, 3.427), _row("gru", 400_000, 2.666),
            _row("lstm", 25_000, 2.874), _row("lstm", 400_000, 2.874)]
    text = shortfall.scaling_paragraph(shortfall.scaling_points(rows))
    assert ("The largest gain is gru's (0.761 bits/char), while vanilla's largest model is 0.012 "
            "bits/char worse than its smallest.") in text and "-0.012" not in text
    flat = shortfall.scaling_paragraph(shortfall.scaling_points(rows[2:]))
    assert "while lstm's largest model scores as its smallest." in flat
