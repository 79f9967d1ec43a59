"""Test loss against the temperature T: L(1) is the stateful loss to the bit, and on text the
model itself generated the best T undoes a known scaling of its logits."""

import numpy as np
import pytest

from charrnn.model.evaluate import stateful_loss
from charrnn.model.rnn import init_params
from charrnn.model.sampling import synthesize
from charrnn.studies import temperature


@pytest.fixture(scope="module")
def model_and_text():
    """A random model (K = 6, m = 10, peaked outputs) and 40,000 characters sampled from it at
    T = 1 from h = 0: on its own samples the model is calibrated, so its best T is about 1."""
    _, p = init_params(6, 10, np.random.default_rng(0))
    p["V"] *= 6.0  # (K, m): outputs far from uniform, so the loss depends strongly on T
    p["W"] *= 3.0
    x0 = 2
    data = np.r_[x0, synthesize(p, np.zeros(10), x0, 40_000, np.random.default_rng(1))]
    return p, data


@pytest.mark.parametrize("block", [4096, 7, 10**6])
def test_the_loss_at_t_1_is_the_stateful_loss_to_the_bit(model_and_text, block):
    p, data = model_and_text
    data = data[:5000]
    blocks = temperature.output_blocks(p, data, block)
    assert temperature.loss_at(blocks, 1.0) == stateful_loss(p, data, block)  # bit for bit
    curve = temperature.temperature_curve(p, data, block=block)
    assert curve["loss_at_1"] == stateful_loss(p, data, block)
    assert curve["losses"][curve["temperatures"].index(1.0)] == curve["loss_at_1"]
    assert curve["n_chars"] == len(data) - 1


@pytest.mark.parametrize("scale", [2.0, 1.0, 0.5])
def test_the_best_t_undoes_a_scaling_of_the_logits(model_and_text, scale):
    p, data = model_and_text
    scaled = {**p, "V": p["V"] * scale, "c": p["c"] * scale}  # o_t = scale x the model's logits
    curve = temperature.temperature_curve(scaled, data)
    assert curve["best_temperature"] == pytest.approx(scale, rel=0.05), curve
    assert curve["best_loss"] <= min(curve["losses"]) + 1e-12  # no grid point beats the optimum
    i = int(np.argmin(curve["losses"]))  # the grid's best lies next to the optimum
    assert abs(np.log(curve["temperatures"][i]) - np.log(scale)) < 0.25
    # a direct check of the optimum: L is higher a little either side of it
    blocks = temperature.output_blocks(scaled, data)
    T = curve["best_temperature"]
    assert temperature.loss_at(blocks, T) <= min(temperature.loss_at(blocks, T * 0.97),
                                                 temperature.loss_at(blocks, T / 0.97))


def test_bad_inputs():
    _, p = init_params(3, 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match="at least 2"):
        temperature.output_blocks(p, np.array([1]))
    with pytest.raises(ValueError, match="positive"):
        temperature.loss_at([], 0.0)
    with pytest.raises(ValueError, match="bounds"):
        temperature.temperature_curve(p, np.array([0, 1, 2]), bounds=(2.0, 1.0))
