"""The report's figures: the smooth-loss plot shows the range where the seeds differ."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from charrnn.report.plots import plot_smooth_loss  # noqa: E402


def _run(seed, losses):
    n = len(losses)
    return {"history": {"update": np.arange(1, n + 1) * 100, "smooth_loss": np.array(losses)},
            "metrics": {"seed": seed, "updates_per_epoch": 40 * 100, "n_updates": n * 100,
                        "best_smooth_loss": min(losses), "best_update": 100 * (1 + int(np.argmin(losses)))},
            "config": {"loss": "mean"}}


def test_the_y_axis_leaves_out_the_first_updates_and_says_so():
    fall = [4.38] + list(np.linspace(2.0, 1.5, 99))  # update 100 of 10,000: the first 1 %
    ax = plot_smooth_loss([_run(1, fall), _run(2, [x + 0.01 for x in fall])])
    lo, hi = ax.get_ylim()
    assert hi < 2.2 and lo < 1.5  # 2.01 is the highest value after the first 2 %
    assert any("y-axis cut" in t.get_text() and "4.39" in t.get_text() for t in ax.texts)
    assert [line.get_linestyle() for line in ax.lines[:2]] == ["-", "--"]  # seeds told apart
    flat = plot_smooth_loss([_run(1, list(np.linspace(2.0, 1.5, 100)))])
    assert not any("y-axis cut" in t.get_text() for t in flat.texts)
    assert flat.get_ylim()[1] >= 2.0


def test_the_smooth_loss_by_place_puts_each_epoch_on_the_text_it_read():
    from charrnn.report.plots import plot_smooth_by_position

    # 2.5 epochs of 4,000 updates of 25 characters, logged every 100 updates: an easy passage
    # (a dip) at the same place, 60 % into the text, in every epoch
    u = np.arange(1, 101) * 100
    place = ((u - 1) % 4000) * 25
    loss = 2.0 - 0.5 * (np.abs(place - 0.6 * 100_000) < 3000)
    run = _run(1, list(loss[:100]))
    run["config"]["seq_length"] = 25
    ax = plot_smooth_by_position(run)
    epochs = [line for line in ax.lines if line.get_label().startswith("epoch")]
    assert [line.get_label() for line in epochs] == ["epoch 1", "epoch 2", "epoch 3"]
    for line in epochs:  # x: millions of characters into the text, within the text's length
        x, y = line.get_xdata(), line.get_ydata()
        assert 0 <= x.min() and x.max() < 0.1
        assert np.allclose(x[y == 1.5], 0.06, atol=0.003)  # the dip at the same place
    assert epochs[0].get_xdata().min() > 0.005 * 0.9  # epoch 1 without its first 5 %
    best, = [line for line in ax.lines if line.get_label().startswith("best")]
    assert np.isclose(best.get_xdata()[0], ((run["metrics"]["best_update"] - 1) % 4000) * 25 / 1e6)
