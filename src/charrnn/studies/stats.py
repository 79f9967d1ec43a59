"""Statistics of a handful of numbers (samples, seeds): the mean with its t-interval.

Light on purpose (scipy is imported only when an interval is computed), so that the report's tables
and sentences can use it without importing the studies that produce the numbers.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["CONFIDENCE", "mean_interval", "mean_std"]

#: Confidence level of :func:`mean_interval`'s t-interval.
CONFIDENCE = 0.95


def mean_std(values) -> tuple[float, float | None]:
    """``(mean, std)`` of ``values`` (S floats, e.g. one loss per seed): the mean and the sample
    standard deviation (ddof 1), summed in order in Python floats; ``std`` is None for one value
    (no spread to estimate). Raises ``ValueError`` for no values."""
    xs = [float(x) for x in values]
    if not xs:
        raise ValueError("no values to average")
    mean = sum(xs) / len(xs)
    if len(xs) < 2:
        return mean, None
    return mean, math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))


def mean_interval(values) -> tuple[float, float | None]:
    """``(mean, half)``: the mean of ``values`` (S numbers) and the half-width of its
    :data:`CONFIDENCE` t-interval, ``t_{(1 + CONFIDENCE)/2, S - 1} * s / sqrt(S)`` with ``s`` the
    sample standard deviation (ddof 1; ``scipy.stats.t``). ``half`` is None for one value (no
    spread to estimate) and 0.0 when every value is equal. Raises ``ValueError`` for no values."""
    from scipy import stats  # noqa: PLC0415 (scipy: only for the interval)

    x = np.asarray(list(values), dtype=float)  # (S,)
    if x.size == 0:
        raise ValueError("no values to average")
    mean = float(x.mean())
    if x.size == 1:
        return mean, None
    sd = float(x.std(ddof=1))
    t = float(stats.t.ppf((1 + CONFIDENCE) / 2, x.size - 1))
    return mean, t * sd / float(np.sqrt(x.size))
