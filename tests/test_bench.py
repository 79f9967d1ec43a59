"""The benchmark harness: every implementation computes the same losses before it is timed.
(No timing is asserted: speed is reported by `make bench`, not tested.)"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench import format_table, run_benchmark  # noqa: E402  (benchmarks/ is outside the package)

from charrnn.report.tables import bench_markdown, bench_note  # noqa: E402

pytestmark = pytest.mark.slow  # five benchmark subprocesses, torch among them

TEXT = "It is our choices, Harry, that show what we truly are, far more than our abilities.\n" * 30


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    p = tmp_path_factory.mktemp("bench") / "t.txt"
    p.write_text(TEXT, encoding="utf-8")
    return run_benchmark(p, n_updates=20, reps=2, n_check=10)


def test_all_implementations_agree_with_the_numpy_reference(bench):
    r = bench["results"]
    assert set(r) == {"classic", "numpy", "numba", "torch64", "torch32"}
    for name in ("classic", "numba", "torch64"):
        assert r[name]["max_abs_loss_diff_vs_numpy"] <= 1e-9, name
    assert 0 < r["torch32"]["max_abs_loss_diff_vs_numpy"] <= 1e-3  # float32 differs, slightly
    assert all(x["agrees"] for x in r.values())


def test_ratios_and_projections_are_consistent(bench):
    r = bench["results"]
    assert r["classic"]["ratio_to_classic"] == 1.0
    for x in r.values():
        assert x["ratio_to_classic"] == pytest.approx(x["updates_per_s"]
                                                      / r["classic"]["updates_per_s"])
        assert x["projected_150k_s"] == pytest.approx(150_000 / x["updates_per_s"])
        assert x["chars_per_s"] == pytest.approx(25 * x["updates_per_s"])
        assert x["sample_1000_s"] > 0
    assert "OPENBLAS_NUM_THREADS=1" in bench["machine"]["threads"]
    table = format_table(bench)
    assert all(name in table for name in r)
    assert "numba compile" in table
    assert bench_markdown(bench).count("\n| ") == len(r)  # one row per implementation
    # the machine and settings go to the caption (above the table), once, not after the table
    note = bench_note(bench)
    assert bench["machine"]["cpu"] in note and f"{bench['settings']['n_updates']:,} updates" in note
    assert "Machine:" not in bench_markdown(bench)


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="n_updates must be a positive integer"):
        run_benchmark(tmp_path / "x.txt", n_updates=0)
    with pytest.raises(ValueError, match="not found"):
        run_benchmark(tmp_path / "x.txt")
