"""Optimizers on one flat float64 parameter buffer (HANDOUT req. 11), and gradient clipping.

Adam (NEW handout; Kingma & Ba, 2015, Algorithm 1), for step t = 1, 2, ...::

    m_t = beta1 m_{t-1} + (1 - beta1) g
    v_t = beta2 v_{t-1} + (1 - beta2) g^2
    theta <- theta - eta * (m_t / (1 - beta1^t)) / (sqrt(v_t / (1 - beta2^t)) + eps)

AdaGrad (OLD handout)::

    G <- G + g^2
    theta <- theta - eta * g / sqrt(G + eps)

Each ``step`` updates ``theta`` in place; the state arrays have theta's shape (n,).
"""

from __future__ import annotations

import numpy as np

__all__ = ["Adam", "AdaGrad", "make_optimizer", "clip_", "OPTIMIZERS"]

OPTIMIZERS = ("adam", "adagrad")


class Adam:
    """Bias-corrected Adam. State: ``m``, ``v`` (n,) float64 and the step count ``t``."""

    name = "adam"

    def __init__(self, n: int, eta: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, dtype=np.float64):
        self.eta, self.beta1, self.beta2, self.eps = eta, beta1, beta2, eps
        self.m = np.zeros(n, dtype)
        self.v = np.zeros(n, dtype)
        self.t = 0

    def step(self, theta: np.ndarray, g: np.ndarray) -> None:
        """One Adam update of ``theta`` (n,) in place with gradient ``g`` (n,)."""
        self.t += 1
        self.m *= self.beta1
        self.m += (1.0 - self.beta1) * g
        self.v *= self.beta2
        self.v += (1.0 - self.beta2) * (g * g)
        mhat = self.m / (1.0 - self.beta1**self.t)
        vhat = self.v / (1.0 - self.beta2**self.t)
        theta -= self.eta * mhat / (np.sqrt(vhat) + self.eps)

    def state(self) -> dict[str, np.ndarray]:
        return {"m": self.m, "v": self.v, "t": np.int64(self.t)}

    def load_state(self, state) -> None:
        self.m[...] = state["m"]
        self.v[...] = state["v"]
        self.t = int(state["t"])


class AdaGrad:
    """AdaGrad with accumulator ``G`` (n,) float64 (the handout's m_theta)."""

    name = "adagrad"

    def __init__(self, n: int, eta: float = 0.1, eps: float = 1e-8, dtype=np.float64):
        self.eta, self.eps = eta, eps
        self.G = np.zeros(n, dtype)
        self.t = 0

    def step(self, theta: np.ndarray, g: np.ndarray) -> None:
        """One AdaGrad update of ``theta`` (n,) in place with gradient ``g`` (n,)."""
        self.t += 1
        self.G += g * g
        theta -= self.eta * g / np.sqrt(self.G + self.eps)

    def state(self) -> dict[str, np.ndarray]:
        return {"G": self.G, "t": np.int64(self.t)}

    def load_state(self, state) -> None:
        self.G[...] = state["G"]
        self.t = int(state["t"])


def make_optimizer(name: str, n: int, eta: float, beta1: float = 0.9, beta2: float = 0.999,
                   eps: float = 1e-8, dtype=np.float64):
    """An :class:`Adam` or :class:`AdaGrad` for ``n`` parameters of ``dtype`` (its state arrays
    have that dtype); ``ValueError`` if the name is unknown."""
    if name == "adam":
        return Adam(n, eta, beta1, beta2, eps, dtype)
    if name == "adagrad":
        return AdaGrad(n, eta, eps, dtype)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {OPTIMIZERS}")


def clip_(g: np.ndarray, grad_clip: float | None) -> np.ndarray:
    """Clip ``g`` element-wise to [-grad_clip, grad_clip] in place (HANDOUT req. 10); None = off."""
    if grad_clip is not None:
        np.clip(g, -grad_clip, grad_clip, out=g)
    return g
