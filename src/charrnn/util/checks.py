"""Argument checks shared by every module: one sentence naming the bad value, before any work.

Each check returns the value (as a Python int or float) or raises ``ValueError`` naming the
argument, the allowed range and the value it got. Bools are refused where numbers are expected.
:func:`check_memory` compares an estimate of the bytes some sizes need (its parts, each with the
settings that make it large) with the memory available, and names the largest parts.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["is_number", "check_positive_int", "check_nonneg_int", "check_positive_float",
           "check_choice", "plural", "join_and", "available_memory", "check_memory"]


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


def plural(n: int, word: str) -> str:
    """``n`` (with thousands separators) and ``word``, with an "s" unless n is 1:
    ``plural(1, "character")`` is "1 character", ``plural(1200, "stream")`` "1,200 streams"."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def available_memory() -> int | None:
    """MemAvailable of /proc/meminfo in bytes, or None where it cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def join_and(items, last: str = "and") -> str:
    """``items`` (as strings) listed in words: "a", "a and b", "a, b and c" (or ``last``, e.g.
    "or"): the one home of this phrasing, for messages and the report's sentences."""
    items = [str(i) for i in items]
    return ", ".join(items[:-1]) + f" {last} " + items[-1] if len(items) > 1 else items[0]


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:,.1f} GiB"


def check_memory(parts, subject: str = "these sizes", available: int | None = None) -> int:
    """Raise ``ValueError`` when the bytes of ``parts`` add up to more than ``available`` bytes
    (by default MemAvailable; nothing is checked where that is unknown); return the total.

    ``parts`` is a sequence of ``(what, n_bytes, settings)``: what needs the memory (e.g.
    "the samples (sample_length = 1,000,000 characters)"), its estimate in bytes, and the names of
    the settings that lower it (e.g. ``("sample_length",)``). The sentence gives the total, the
    largest parts (up to three, each at least a tenth of the total) with their GiB, and says to
    lower their settings, e.g. "these sizes need about 33.5 GiB of memory, 18.6 GiB of it for
    drawing a sample of ... and 14.9 GiB for the samples kept (...), more than the 15.2 GiB
    available; lower sample_length or sample_every"; when one part is nearly all of it, "-n =
    ... characters need about 18.6 GiB of memory for the sampled indices and text (...), ...".
    """
    parts = [(what, int(n_bytes), tuple(settings)) for what, n_bytes, settings in parts]
    need = sum(n for _, n, _ in parts)
    available = available_memory() if available is None else available
    if available is None or need <= available:
        return need
    largest = sorted(parts, key=lambda p: -p[1])
    shown = [p for p in largest[:3] if p[1] >= need / 10] or largest[:1]
    if shown[0][1] >= 0.99 * need:  # one part is (nearly) all of it
        shown, where = shown[:1], f" for {shown[0][0]}"
    else:
        each = [f"{_gib(n)}{' of it' if i == 0 else ''} for {what}"
                for i, (what, n, _) in enumerate(shown)]
        where = ", " + join_and(each)
    settings = list(dict.fromkeys(name for _, _, names in shown for name in names))
    lower = f"; lower {join_and(settings, 'or')}" if settings else ""
    raise ValueError(f"{subject} need about {_gib(need)} of memory{where}, more than the "
                     f"{_gib(available)} available{lower}")
