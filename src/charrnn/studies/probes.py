"""Scores of activations against text labels: ROC AUC, Pearson r and linear probes.

:mod:`charrnn.studies.units` asks which single hidden unit of ``A (N, n)`` (N characters, n units of any
model) predicts a label ``y (N,)`` best, and how well all units together do:

* 0/1 labels: ROC AUC of one unit's activation as a score for the label, the Mann-Whitney
  statistic AUC = (R_1 - n_1 (n_1 + 1) / 2) / (n_1 n_0), R_1 the sum of the positives' ranks
  (ties get their average rank, ``scipy.stats.rankdata``, so a tie counts one half).
* numeric labels: Pearson r.
* probe: the best linear read-out of all n units, fitted on the first half of the characters and
  scored on the second: L2-regularised logistic regression (trust-region Newton, on units
  standardised with the first half's mean and std) scored by AUC, or least squares scored by r.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.stats import rankdata

__all__ = ["auc_per_unit", "pearson_per_unit", "fit_logistic", "probe_score"]


def auc_per_unit(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ROC AUC (n,) float64 of each column of ``A (N, n)`` as a score for 0/1 labels ``y (N,)``.

    AUC = P(a_pos > a_neg) + P(a_pos = a_neg) / 2 over all (positive, negative) pairs, computed
    from average ranks (Mann-Whitney U / (n_1 n_0)); one column at a time (memory O(N)). Raises
    ``ValueError`` unless ``y`` holds both 0 and 1 and matches A's rows.
    """
    A, y = np.asarray(A), np.asarray(y).astype(bool)
    if A.ndim != 2 or len(y) != A.shape[0]:
        raise ValueError(f"activations of shape (N, n) and N labels expected, got {A.shape} "
                         f"and {y.shape}")
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        raise ValueError("AUC needs both labels 0 and 1")
    out = np.empty(A.shape[1])
    for j in range(A.shape[1]):
        out[j] = (rankdata(A[:, j], method="average")[y].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0)
    return out


def pearson_per_unit(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r (n,) float64 between each column of ``A (N, n)`` and ``y (N,)``; 0 for a
    constant column. Raises ``ValueError`` when ``y`` is constant or does not match A's rows."""
    A, y = np.asarray(A, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if A.ndim != 2 or len(y) != A.shape[0]:
        raise ValueError(f"activations of shape (N, n) and N values expected, got {A.shape} "
                         f"and {y.shape}")
    yc = y - y.mean()
    ny = np.sqrt(yc @ yc)
    if ny == 0:
        raise ValueError("Pearson r needs a non-constant feature")
    Ac = A - A.mean(axis=0)
    na = np.sqrt(np.einsum("ij,ij->j", Ac, Ac))  # (n,)
    r = (Ac.T @ yc) / np.where(na > 0, na * ny, 1.0)
    return np.where(na > 0, r, 0.0)


def _standardize(train: np.ndarray, test: np.ndarray):
    mu, sd = train.mean(axis=0), train.std(axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    return (train - mu) / sd, (test - mu) / sd


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1e-3, max_iter: int = 100,
                 tol: float = 1e-12) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression, minimised by ``scipy.optimize.minimize``.

    Minimises f = mean_i log(1 + exp(-s_i z_i)) + l2 / 2 ||w||^2 with z = X w + b, s_i = 2 y_i - 1
    (the bias b is not penalised), with its exact gradient X^T (p - y) / N + l2 w and Hessian
    X^T diag(p (1 - p)) X / N + l2 I (bias column appended, p = sigmoid(z)) by the
    "trust-exact" trust-region Newton method, from w = 0 and b = the log-odds of the labels.
    ``X (N, n)`` float (standardised units), ``y (N,)`` 0/1. Returns ``(w (n,) float64, b)``.
    Stops when the gradient's norm falls below ``tol``, when no step decreases f any more (float64
    precision), or after ``max_iter`` steps. Raises ``ValueError`` unless ``y`` holds both labels.
    """
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if y.min() == y.max():
        raise ValueError("logistic regression needs both labels 0 and 1")
    N, n = X.shape
    Xb = np.hstack([X, np.ones((N, 1))])  # (N, n + 1): the last column is the bias
    reg = np.r_[np.full(n, l2), 0.0]  # (n + 1,)
    s = 2.0 * y - 1.0

    def f_and_grad(theta):
        z = Xb @ theta  # (N,)
        p = 0.5 * (1.0 + np.tanh(0.5 * z))  # sigmoid(z) without overflow
        return (np.logaddexp(0.0, -s * z).mean() + 0.5 * reg @ (theta * theta),
                Xb.T @ (p - y) / N + reg * theta)

    def hessian(theta):  # (n + 1, n + 1)
        p = 0.5 * (1.0 + np.tanh(0.5 * (Xb @ theta)))
        return (Xb * (p * (1.0 - p))[:, None]).T @ Xb / N + np.diag(reg)

    theta0 = np.r_[np.zeros(n), np.log(y.mean() / (1.0 - y.mean()))]
    theta = minimize(f_and_grad, theta0, jac=True, hess=hessian, method="trust-exact",
                     options={"gtol": tol, "maxiter": max_iter}).x
    return theta[:-1], float(theta[-1])


def probe_score(A: np.ndarray, y: np.ndarray, binary: bool) -> float | None:
    """The linear probe's score on the second half of the rows of ``A (N, n)``.

    Fitted on the first N // 2 rows (units standardised with their mean and std): logistic
    regression (:func:`fit_logistic`) scored by ROC AUC for 0/1 labels ``y``, least squares with
    a bias scored by Pearson r for numeric ones. ``None`` when a half's labels are constant.
    """
    A = np.asarray(A, dtype=np.float64)
    half = len(y) // 2
    y_train, y_test = np.asarray(y[:half]), np.asarray(y[half:])
    if half == 0 or y_train.min() == y_train.max() or y_test.min() == y_test.max():
        return None
    X_train, X_test = _standardize(A[:half], A[half:])
    if binary:
        w, b = fit_logistic(X_train, y_train)
        return float(auc_per_unit((X_test @ w + b)[:, None], y_test)[0])
    Xb = np.hstack([X_train, np.ones((half, 1))])
    theta = np.linalg.lstsq(Xb, y_train.astype(np.float64), rcond=None)[0]
    pred = X_test @ theta[:-1] + theta[-1]
    return float(pearson_per_unit(pred[:, None], y_test)[0])
