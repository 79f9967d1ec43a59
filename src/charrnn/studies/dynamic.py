"""Dynamic evaluation (``charrnn dynamic``): the model keeps learning while it reads the test text,
as an adaptive compressor does (Krause et al., "Dynamic Evaluation of Neural Sequence Models",
ICML 2018; Mikolov et al., 2010).

The text is cut into segments of :data:`SEGMENT` characters, read in order with the state carried
from each to the next. Each segment is first predicted (its loss counted), then the model takes one
plain SGD step, theta <- theta - eta dL/dtheta, on that segment's mean loss (backprop through time
over the segment, the state before it a constant), and carries on. eta = 0 is the static model:
its loss is :func:`charrnn.model.evaluate.stateful_loss` with ``block = SEGMENT``, to the bit (the
same passes, blocks and sums). The rate is chosen among :data:`RATES` on the first
:data:`SELECT_CHARS` characters of the validation text (:func:`choose`), the model starting afresh
there and again on the test text, which is read whole.

The vanilla RNN uses the package's own functions (:func:`charrnn.model.rnn.stateful_pass` for the
prediction, :func:`charrnn.model.rnn.loss_and_grads` for the step); the gated models the same
procedure in PyTorch (:class:`charrnn.studies.gated.CharGated`, autograd).
"""

from __future__ import annotations

import copy

import numpy as np

from ..model.rnn import PARAM_NAMES, loss_and_grads, param_views, softmax, stateful_pass

__all__ = ["SEGMENT", "RATES", "SELECT_CHARS", "vanilla_loss", "gated_loss", "choose"]

#: Characters per segment: one prediction pass, then one step [characters] (the handout's
#: seq_length).
SEGMENT = 25
#: The SGD learning rates tried on the validation text; 0 is the static model.
RATES = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1)
#: Validation characters the rate is chosen on (``charrnn dynamic --select-chars``): six passes
#: over them, against two over the test text, so this bounds the study's time (make report's
#: budget). On the book, each of make report's four models got the rate that the whole
#: validation text (27,689 characters) had chosen.
SELECT_CHARS = 10_000


def vanilla_loss(params, data: np.ndarray, eta: float, segment: int = SEGMENT) -> float:
    """Mean loss [nats/char] of the vanilla RNN ``params`` (b, c, U, W, V; not modified) predicting
    ``data[1:]`` (int (N,), N >= 2) from ``data[:-1]`` from h = 0, with an SGD step of rate ``eta``
    after each ``segment`` characters. ``inf`` when the loss overflows (a rate too large)."""
    data = np.asarray(data)
    if len(data) < 2:
        raise ValueError("dynamic evaluation needs at least 2 characters")
    K, m = params["V"].shape
    flat = np.concatenate([np.asarray(params[n]).ravel() for n in PARAM_NAMES])  # a copy
    p = param_views(flat, K, m)
    x, y = data[:-1], data[1:]
    h, total = np.zeros(m), 0.0
    with np.errstate(all="ignore"):
        for start in range(0, len(x), segment):
            xs, ys = x[start : start + segment], y[start : start + segment]
            (_, H), = stateful_pass(p, xs, h0=h, block=segment)  # eqs. 1-2, one block
            P = softmax(H @ p["V"].T + p["c"])  # eqs. 3-4
            total -= np.log(P[np.arange(len(xs)), ys]).sum()
            if eta:
                _, grads, _ = loss_and_grads(p, xs, ys, h)
                flat -= eta * np.concatenate([grads[n].ravel() for n in PARAM_NAMES])
            h = H[-1]
    loss = float(total / len(x))
    return loss if np.isfinite(loss) else float("inf")


def gated_loss(model, data: np.ndarray, eta: float, segment: int = SEGMENT) -> float:
    """The same as :func:`vanilla_loss` for a :class:`charrnn.studies.gated.CharGated` model (a
    copy takes the steps; ``model`` is not modified); the losses are summed in float64."""
    import torch  # noqa: PLC0415 (torch: only for gated models)

    data = np.asarray(data, dtype=np.int64)
    if len(data) < 2:
        raise ValueError("dynamic evaluation needs at least 2 characters")
    model = copy.deepcopy(model).train(False)
    x, y = torch.from_numpy(data[:-1]), torch.from_numpy(data[1:])
    state, total = model.zero_state(1), 0.0
    for start in range(0, len(x), segment):
        xs, ys = x[start : start + segment].view(-1, 1), y[start : start + segment]
        with torch.set_grad_enabled(bool(eta)):
            logits, _, new = model(xs, state)
            nll = torch.nn.functional.cross_entropy(logits[:, 0], ys, reduction="none")
        total += float(nll.detach().double().sum())
        if eta:
            model.zero_grad()
            nll.mean().backward()
            with torch.no_grad():
                for q in model.parameters():
                    q -= eta * q.grad
        state = tuple(s.detach() for s in new) if isinstance(new, tuple) else new.detach()
    loss = total / len(x)
    return loss if np.isfinite(loss) else float("inf")


def choose(loss_at, val: np.ndarray, test: np.ndarray, rates=RATES, note=None) -> dict:
    """Dynamic evaluation of one model: ``loss_at(data, eta)`` [nats/char] on the validation text
    ``val`` at each of ``rates``, the rate with the lowest (ties: the smaller rate), then the test
    text ``test`` statically (eta = 0) and at that rate. Returns ``{"rates", "validation",
    "eta", "static", "dynamic"}`` (losses in nats/char). ``note``: called with a line of
    progress."""
    note = note or (lambda line: None)
    val_losses = []
    for eta in rates:
        val_losses.append(loss_at(val, eta))
        note(f"  validation, eta {eta:g}: {val_losses[-1]:.4f}")
    best = rates[int(np.argmin(val_losses))]
    static = loss_at(test, 0.0)
    dynamic = loss_at(test, best) if best else static
    return {"rates": list(rates), "validation": val_losses, "eta": best, "static": static,
            "dynamic": dynamic}
