"""How much context each model uses (``charrnn context``): the test loss when every prediction
starts from a zero state k characters back.

For ``count`` positions t of the experiments' test text (:func:`charrnn.studies.calibrate.split`),
drawn at random with a fixed seed among those at least ``max(ks)`` characters after its start
(the k of :data:`KS` that fit in the test text: :func:`fitting`),
the model reads ``text[t - k : t]`` from a zero state and predicts ``text[t]``; the loss (nats
per character) is averaged over the positions, for each k of :data:`KS`. k = infinity is the
stateful loss at the same positions: the state carried from the start of the test text, as the
report's test loss is (with every position of the test text, the mean is exactly
:func:`charrnn.model.evaluate.stateful_loss` of the test text). A model "uses" about the k at
which its loss comes within :data:`NEAR` of its k = infinity loss.

The vanilla RNN runs on :func:`charrnn.model.rnn.step` (the package's one recurrence), a batch of
all positions at once; the gated models on PyTorch (:class:`charrnn.studies.gated.CharGated`).
"""

from __future__ import annotations

import numpy as np

from ..model.rnn import input_term, softmax, stateful_pass, step

__all__ = ["KS", "NEAR", "fitting", "positions", "vanilla_losses", "gated_losses", "within", "curve"]

#: The context lengths [characters] tried: 1, 2, 4, ..., 512.
KS = tuple(2 ** i for i in range(10))
#: How close to the stateful loss counts as "all the context it uses" [nats/char].
NEAR = 0.01


def fitting(test_start: int, n: int, ks=KS) -> tuple[int, ...]:
    """The k of ``ks`` that fit in a test text ``[test_start, n)``: at least one position lies k
    characters into it. Raises ``ValueError`` when none does."""
    out = tuple(k for k in ks if test_start + k < n)
    if not out:
        raise ValueError(f"the test text ({n - test_start:,} characters) is too short to measure "
                         "the context a model uses")
    return out


def positions(test_start: int, n: int, count: int, k_max: int = KS[-1], seed: int = 0) -> np.ndarray:
    """``count`` positions (sorted, int64) drawn without replacement from ``[test_start + k_max,
    n)``, all of them when there are no more; ``ValueError`` when there are none."""
    first = test_start + k_max
    if first >= n:
        raise ValueError(f"the test text ({n - test_start:,} characters) is not longer than the "
                         f"longest context ({k_max})")
    everything = np.arange(first, n, dtype=np.int64)
    if count >= len(everything):
        return everything
    return np.sort(np.random.default_rng(seed).choice(everything, size=count, replace=False))


def _nll(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    P = softmax(np.asarray(logits, dtype=np.float64))
    return -np.log(P[np.arange(len(targets)), targets])


def vanilla_losses(params, data: np.ndarray, pos: np.ndarray, test_start: int,
                   ks=KS) -> tuple[list[float], float]:
    """``(losses, inf)``: the vanilla RNN's mean loss [nats/char] at ``pos`` of ``data`` (int
    indices (N,)) from a zero state k characters back, one per k of ``ks``, and with the state
    carried from ``test_start`` (:func:`charrnn.model.rnn.stateful_pass`)."""
    data, pos = np.asarray(data), np.asarray(pos)
    out = []
    for k in ks:
        h = np.zeros((len(pos), len(params["b"])))
        for j in range(k):  # one step of every window at once (B = the positions)
            h = step(params, h, input_term(params, data[pos - k + j]))
        out.append(float(_nll(h @ params["V"].T + params["c"], data[pos]).mean()))
    H = np.concatenate([H for _, H in stateful_pass(params, data[test_start:-1])])
    inf = _nll(H[pos - test_start - 1] @ params["V"].T + params["c"], data[pos])
    return out, float(inf.mean())


def gated_losses(model, data: np.ndarray, pos: np.ndarray, test_start: int,
                 ks=KS) -> tuple[list[float], float]:
    """The same as :func:`vanilla_losses` for a :class:`charrnn.studies.gated.CharGated` model
    (float32; the losses are averaged in float64)."""
    import torch  # noqa: PLC0415 (torch: only for gated models)

    data, pos = np.asarray(data, dtype=np.int64), np.asarray(pos)
    out = []
    with torch.no_grad():
        for k in ks:
            x = torch.from_numpy(np.stack([data[pos - k + j] for j in range(k)]))  # (k, P)
            logits, _, _ = model(x, model.zero_state(len(pos)))
            out.append(float(_nll(logits[-1].numpy(), data[pos]).mean()))
        x = torch.from_numpy(data[test_start:-1]).view(-1, 1)
        logits, _, _ = model(x, model.zero_state(1))  # the state carried through the test text
        inf = _nll(logits[:, 0].numpy()[pos - test_start - 1], data[pos])
    return out, float(inf.mean())


def within(ks, losses, inf: float, near: float = NEAR) -> int | None:
    """The smallest k of ``ks`` whose loss is at most ``inf + near`` (None: none is)."""
    return next((k for k, x in zip(ks, losses) if x <= inf + near), None)


def curve(name: str, kind: str, ks, losses, inf: float) -> dict:
    """One model's entry of ``charrnn context --json``."""
    return {"name": name, "kind": kind, "ks": list(ks), "losses": losses, "inf": inf,
            "within": within(ks, losses, inf)}
