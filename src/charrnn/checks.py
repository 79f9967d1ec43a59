"""Argument checks shared by every module: one sentence naming the bad value, before any work.

Each check returns the value (as a Python int or float) or raises ``ValueError`` naming the
argument, the allowed range and the value it got. Bools are refused where numbers are expected.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["is_number", "check_positive_int", "check_nonneg_int", "check_positive_float",
           "check_choice"]


def is_number(value) -> bool:
    """True for Python and NumPy ints and floats (not bools)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def check_positive_int(name: str, value) -> int:
    """Return ``value`` as an int, or raise ``ValueError`` naming ``name``.

    Accepts Python and NumPy integers (and bools are refused). Raises ``ValueError`` when the
    value is not an integer or is <= 0.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer (>= 1), got {value}")
    return int(value)


def check_nonneg_int(name: str, value) -> int:
    """Return ``value`` as an int, or raise ``ValueError`` naming ``name`` unless it is an
    integer >= 0 (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def check_positive_float(name: str, value) -> float:
    """Return ``value`` as a float, or raise ``ValueError`` unless it is a finite number > 0."""
    if not is_number(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_choice(name: str, value, choices) -> str:
    """Return ``value``, or raise ``ValueError`` unless it is one of ``choices``."""
    if value not in tuple(choices):
        raise ValueError(f"unknown {name} {value!r}; expected one of {tuple(choices)}")
    return value
