"""Training order: which window of the text each update reads (HANDOUT req. 12-13, bonus B-N1).

A :class:`Reader` hands the training loop, for the next ``n`` updates, the start position of each
of the B sequences of every update (``starts (n, B)``), whether that sequence starts from a zero
hidden state (``resets (n, B)``) and the epoch of every update (``epochs (n,)``). The update then
reads inputs ``book[start : start + seq_length]`` and targets shifted by one.

Orders:

* ``"sequential"`` (the handout's): the training text is cut into B contiguous segments of equal
  length, one per stream (B = 1: the whole text). Each stream reads its segment from the start,
  ``seq_length`` characters per update, carrying its hidden state; when ``e > segment_end -
  seq_length - 1`` it goes back to its start with a zero hidden state, and an epoch ends. With
  B = 1 this is exactly the handout's loop (44,301 updates per epoch of the book).
* ``"random"``: every update, every sequence starts at a uniformly random position, from a zero
  hidden state. Epochs count characters: epoch k + 1 starts after k x len(train) of them.
* ``"chunks"``: the training text is cut into training chunks (``bounds``); each epoch visits
  them in a new random order; each stream reads one chunk sequentially (carrying its hidden
  state, reset at the chunk's start) and then takes the next chunk of the epoch's order.

Randomness comes from ``numpy.random.default_rng([seed, 2])``; the same seed gives the same
order. :meth:`Reader.state` / :meth:`Reader.load_state` save and restore everything (positions,
chunk queue, generator state) as JSON-able values.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ORDERS", "Reader", "split_chunks"]

ORDERS = ("sequential", "random", "chunks")


def split_chunks(n_chars: int, n_chunks: int) -> np.ndarray:
    """Boundaries (n_chunks + 1,) int64 of ``n_chunks`` contiguous chunks of nearly equal size."""
    return np.linspace(0, n_chars, n_chunks + 1).round().astype(np.int64)


class Reader:
    """Start positions and hidden-state resets for each update; see the module docstring.

    ``n_train`` is the length of the training text, ``bounds`` the training chunks' boundaries
    (used by the "chunks" order). Raises ``ValueError`` if a segment or chunk is shorter than
    ``seq_length + 1`` characters.
    """

    def __init__(self, n_train: int, seq_length: int, batch_size: int = 1,
                 order: str = "sequential", bounds=None, seed: int = 0):
        from ..util.checks import check_positive_int

        if order not in ORDERS:
            raise ValueError(f"unknown order {order!r}; expected one of {ORDERS}")
        check_positive_int("seq_length", seq_length)
        check_positive_int("batch_size", batch_size)
        self.n_train, self.s, self.B, self.order = int(n_train), int(seq_length), int(batch_size), order
        self.rng = np.random.default_rng([seed, 2])
        self.epoch = 1
        if order == "sequential":
            self.seg = split_chunks(self.n_train, self.B)
            starts, ends = self.seg[:-1], self.seg[1:]
        elif order == "chunks":
            self.bounds = np.asarray(bounds if bounds is not None else [0, self.n_train],
                                     dtype=np.int64)
            starts, ends = self.bounds[:-1], self.bounds[1:]
        else:
            starts, ends = np.array([0]), np.array([self.n_train])
        short = (ends - starts) < self.s + 1
        if short.any():
            raise ValueError(f"the training text is too short for order {order!r}: a segment of "
                             f"{int((ends - starts).min())} characters is shorter than "
                             f"seq_length + 1 = {self.s + 1}")
        if order == "sequential":
            self.pos = self.seg[:-1].copy()
            self.end = self.seg[1:].copy()
        elif order == "chunks":
            self.queue = self.rng.permutation(len(self.bounds) - 1)
            self.qi = 0
            self.pos = np.empty(self.B, dtype=np.int64)
            self.end = np.empty(self.B, dtype=np.int64)
            for i in range(self.B):
                self._next_chunk(i)
        else:
            self.chars = 0
            self.pos = np.zeros(self.B, dtype=np.int64)
            self.end = np.zeros(self.B, dtype=np.int64)
        self.fresh = np.ones(self.B, dtype=bool)  # the next window starts from h = 0

    def _next_chunk(self, i: int) -> None:
        if self.qi >= len(self.queue):
            self.queue = self.rng.permutation(len(self.bounds) - 1)
            self.qi = 0
            self.epoch += 1
        k = self.queue[self.qi]
        self.qi += 1
        self.pos[i], self.end[i] = self.bounds[k], self.bounds[k + 1]

    def next(self, n: int):
        """``(starts (n, B) int64, resets (n, B) bool, epochs (n,) int64)`` for ``n`` updates."""
        starts = np.empty((n, self.B), dtype=np.int64)
        resets = np.empty((n, self.B), dtype=bool)
        epochs = np.empty(n, dtype=np.int64)
        s = self.s
        if self.order == "random":
            starts[...] = self.rng.integers(0, self.n_train - s, size=(n, self.B))
            resets[...] = True
            for u in range(n):
                epochs[u] = self.chars // self.n_train + 1
                self.chars += s * self.B
            self.epoch = self.chars // self.n_train + 1
            return starts, resets, epochs
        for u in range(n):
            for i in range(self.B):
                if self.pos[i] > self.end[i] - s - 1:  # the handout's epoch-end rule
                    if self.order == "sequential":
                        self.pos[i] = self.seg[i]
                        if i == 0:
                            self.epoch += 1
                    else:
                        self._next_chunk(i)
                    self.fresh[i] = True
                starts[u, i] = self.pos[i]
                resets[u, i] = self.fresh[i]
                self.fresh[i] = False
                self.pos[i] += s
            epochs[u] = self.epoch
        return starts, resets, epochs

    def peek(self):
        """``(start, reset)`` of stream 0's next window, without advancing (for sampling)."""
        import copy

        starts, resets, _ = copy.deepcopy(self).next(1)
        return int(starts[0, 0]), bool(resets[0, 0])

    def state(self) -> dict:
        """Everything needed to continue the same order, as JSON-able values."""
        d = {"order": self.order, "epoch": int(self.epoch), "pos": self.pos.tolist(),
             "end": self.end.tolist(), "fresh": self.fresh.tolist(),
             "rng": self.rng.bit_generator.state}
        if self.order == "chunks":
            d.update(queue=self.queue.tolist(), qi=int(self.qi))
        if self.order == "random":
            d["chars"] = int(self.chars)
        return d

    def load_state(self, d: dict) -> None:
        """Restore a :meth:`state`. Raises ``ValueError`` if it belongs to another order."""
        if d["order"] != self.order or len(d["pos"]) != self.B:
            raise ValueError("the saved training order does not match this configuration")
        self.epoch = int(d["epoch"])
        self.pos = np.array(d["pos"], dtype=np.int64)
        self.end = np.array(d["end"], dtype=np.int64)
        self.fresh = np.array(d["fresh"], dtype=bool)
        self.rng.bit_generator.state = d["rng"]
        if self.order == "chunks":
            self.queue = np.array(d["queue"], dtype=np.int64)
            self.qi = int(d["qi"])
        if self.order == "random":
            self.chars = int(d["chars"])
