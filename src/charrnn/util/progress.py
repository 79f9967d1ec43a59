"""Progress of long work where the user looks: a tqdm bar on a terminal of its own, or one line
every few seconds for jobs that share a terminal (``make -j2``), where bars would overwrite each
other. Both are silent when ``TQDM_DISABLE=1``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

from tqdm import tqdm

__all__ = ["ProgressLines", "progress_display", "quiet"]


def quiet() -> bool:
    """True when ``TQDM_DISABLE`` is set (to anything but "" or "0")."""
    return os.environ.get("TQDM_DISABLE", "") not in ("", "0")


class ProgressLines:
    """Progress of a training run as one line on stderr at most every ``every`` seconds (and at
    the end): ``label: 60,000/150,000 updates (40%), smooth loss 1.8231, 18 s left``. Jobs that
    share a terminal stay readable, unlike several tqdm bars. Silent when ``TQDM_DISABLE=1``.
    Offers the two tqdm methods :meth:`Trainer.run` uses."""

    def __init__(self, label: str, total: int, initial: int = 0, every: float = 15.0):
        self.label, self.total, self.n, self.every = label, total, initial, every
        self.first = initial
        self.t0 = time.perf_counter()
        self.last = self.t0 - every  # the first update prints: the job is seen to start
        self.smooth = None
        self.quiet = quiet()

    def set_postfix(self, smooth_loss=None, refresh: bool = False) -> None:
        self.smooth = smooth_loss

    def update(self, n: int) -> None:
        self.n += n
        now = time.perf_counter()
        if now - self.last >= self.every or self.n >= self.total:
            self.last = now
            self.print(now)

    def print(self, now: float) -> None:
        if self.quiet:
            return
        done = self.n - self.first
        left = (self.total - self.n) * (now - self.t0) / done if done else float("nan")
        loss = f", smooth loss {self.smooth}" if self.smooth is not None else ""
        eta = "done" if self.n >= self.total else f"{left:,.0f} s left"
        print(f"{self.label}: {self.n:,}/{self.total:,} updates ({self.n / self.total:.0%})"
              f"{loss}, {eta}", file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


@contextlib.contextmanager
def progress_display(progress, total: int, initial: int = 0):
    """A tqdm bar of ``total`` updates (``progress`` True), :class:`ProgressLines` labelled
    ``progress`` (a str), or None (``progress`` False or empty)."""
    if not progress:
        yield None
        return
    if isinstance(progress, str):
        bar = ProgressLines(progress, total, initial)
    else:

        bar = tqdm(total=total, initial=initial, unit="upd", smoothing=0.1)
    try:
        yield bar
    finally:
        bar.close()
