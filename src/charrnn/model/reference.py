"""The same RNN in PyTorch float64, for checking gradients with autograd (HANDOUT req. 9, NEW).

Equations (1)-(5) of :mod:`charrnn.model.rnn`, written independently with torch ops; autograd gives the
gradients. torch is imported only here and only when this module is used.
"""

from __future__ import annotations

import numpy as np

__all__ = ["torch_loss_and_grads"]


def torch_loss_and_grads(params, x, y, h0, reduction: str = "mean", dh0: bool = False):
    """Loss and autograd gradients of one sequence in torch float64.

    ``params`` maps b (m,), c (K,), U (m, K), W (m, m), V (K, m) to arrays; ``x``, ``y`` (T,) int;
    ``h0`` (m,). Returns ``(loss, grads)`` with ``grads`` a dict of float64 NumPy arrays shaped as
    the parameters, and with ``dh0`` also ``"h0"`` (m,), the gradient w.r.t. ``h0``. Raises
    ``ValueError`` for an unknown reduction.
    """
    import torch  # noqa: PLC0415 (torch: imported only when the mirror runs)

    if reduction not in ("mean", "sum"):
        raise ValueError(f"unknown loss reduction {reduction!r}")
    t = {k: torch.tensor(np.asarray(v), dtype=torch.float64, requires_grad=True)
         for k, v in params.items()}
    K = t["c"].shape[0]
    X = torch.nn.functional.one_hot(torch.as_tensor(np.asarray(x, dtype=np.int64)), K)  # (T, K)
    X = X.to(torch.float64)
    h = h_start = torch.tensor(np.asarray(h0), dtype=torch.float64, requires_grad=dh0)
    outputs = []
    for xt in X:
        a = t["W"] @ h + t["U"] @ xt + t["b"]  # eq. 1
        h = torch.tanh(a)  # eq. 2
        outputs.append(t["V"] @ h + t["c"])  # eq. 3
    O = torch.stack(outputs)  # (T, K)
    logp = torch.log_softmax(O, dim=1)  # log of eq. 4
    nll = -logp[torch.arange(len(x)), torch.as_tensor(np.asarray(y, dtype=np.int64))]
    loss = nll.mean() if reduction == "mean" else nll.sum()  # eq. 5
    loss.backward()
    grads = {k: v.grad.numpy().copy() for k, v in t.items()}
    if dh0:
        grads["h0"] = h_start.grad.numpy().copy()
    return float(loss.detach()), grads
