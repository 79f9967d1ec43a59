"""Training order: which window of the text each update reads (HANDOUT req. 12-13, bonus B-N1).

A :class:`Reader` hands the training loop, for the next ``n`` updates, the start position of each
of the B sequences of every update (``starts (n, B)`` int64), whether that sequence starts from a
zero hidden state (``resets (n, B)`` bool) and the epoch of every update (``epochs (n,)`` int64).
The update then reads inputs ``book[start : start + seq_length]`` and targets shifted by one.

Orders (one class each; :class:`Reader` picks one and delegates to it):

* ``"sequential"`` (the handout's, :class:`_Sequential`): the training text is cut into B
  contiguous segments of equal length, one per stream (B = 1: the whole text). Each stream reads
  its segment from the start, ``seq_length`` characters per update, carrying its hidden state;
  when ``e > segment_end - seq_length - 1`` it goes back to its start with a zero hidden state,
  and (for stream 0) an epoch ends. With B = 1 this is exactly the handout's loop (44,301 updates
  per epoch of the book).
* ``"random"`` (:class:`_Random`): every update, every sequence starts at a uniformly random
  position in ``[0, n_train - seq_length - 1]``, from a zero hidden state. Epochs count
  characters: epoch k + 1 starts after k x n_train of them.
* ``"chunks"`` (:class:`_Chunks`): the training text is cut into training chunks (``bounds``);
  each epoch visits them in a new random order; each stream reads one chunk sequentially
  (carrying its hidden state, reset at the chunk's start) and then takes the next chunk of the
  epoch's order.

Randomness comes from ``numpy.random.default_rng([seed, 2])``; the same seed gives the same
order. :meth:`Reader.state` / :meth:`Reader.load_state` save and restore everything (epoch,
positions, chunk queue, generator state) as JSON-able values; the dict's layout is the checkpoint
format (:meth:`_Order._state`).
"""

from __future__ import annotations

import copy

import numpy as np

from ..model.data import updates_per_epoch
from ..util.checks import check_positive_int

__all__ = ["ORDERS", "Reader", "split_chunks"]


def split_chunks(n_chars: int, n_chunks: int) -> np.ndarray:
    """Boundaries (n_chunks + 1,) int64 of ``n_chunks`` contiguous chunks of nearly equal size."""
    return np.linspace(0, n_chars, n_chunks + 1).round().astype(np.int64)


class _Order:
    """What every order shares: sizes ``s`` (seq_length) and ``B``, the generator, the epoch
    counter and the saved layout. A subclass sets ``name`` and defines ``next(n)`` and ``state()``
    (see :class:`Reader`)."""

    name = ""

    def __init__(self, s: int, B: int, rng: np.random.Generator, lo, hi):
        lengths = np.asarray(hi) - np.asarray(lo)  # the segments or chunks windows must fit in
        if (lengths < s + 1).any():
            raise ValueError(f"the training text is too short for order {self.name!r}: a segment of "
                             f"{int(lengths.min())} characters is shorter than "
                             f"seq_length + 1 = {s + 1}")
        self.s, self.B, self.rng = s, B, rng
        self.epoch = 1
        # updates in one epoch: the text's windows over the B streams (the sequential order: its
        # shortest segment under the handout's reset rule)
        self.per_epoch = max(1, int(np.sum(lengths)) // (s * B))

    def _state(self, pos, end, fresh, **own) -> dict:
        """The checkpoint layout, keys in this order: order, epoch, pos, end, fresh, rng, then the
        order's own entries."""
        return {"order": self.name, "epoch": int(self.epoch), "pos": pos.tolist(),
                "end": end.tolist(), "fresh": fresh.tolist(), "rng": self.rng.bit_generator.state,
                **own}

    def load_state(self, d: dict) -> None:
        if d["order"] != self.name or len(d["pos"]) != self.B:
            raise ValueError("the saved training order does not match this configuration")
        self.epoch = int(d["epoch"])
        self.rng.bit_generator.state = d["rng"]


class _Streams(_Order):
    """B streams, stream i reading ``[pos[i], end[i])`` ``s`` characters per update with the
    handout's rule; a subclass's ``_refill(i)`` says where stream i goes when its window is used
    up (it then starts from h = 0)."""

    def __init__(self, s, B, rng, lo, hi):
        super().__init__(s, B, rng, lo, hi)
        self.pos = np.empty(B, dtype=np.int64)  # (B,) next window start of each stream
        self.end = np.empty(B, dtype=np.int64)  # (B,) end of the text the stream is reading
        self.fresh = np.ones(B, dtype=bool)  # (B,) the next window starts from h = 0

    def next(self, n: int):
        starts = np.empty((n, self.B), dtype=np.int64)
        resets = np.empty((n, self.B), dtype=bool)
        epochs = np.empty(n, dtype=np.int64)
        s = self.s
        for u in range(n):
            for i in range(self.B):
                if self.pos[i] > self.end[i] - s - 1:  # the handout's epoch-end rule
                    self._refill(i)
                    self.fresh[i] = True
                starts[u, i] = self.pos[i]
                resets[u, i] = self.fresh[i]
                self.fresh[i] = False
                self.pos[i] += s
            epochs[u] = self.epoch
        return starts, resets, epochs

    def state(self) -> dict:
        return self._state(self.pos, self.end, self.fresh)

    def load_state(self, d: dict) -> None:
        super().load_state(d)
        self.pos = np.array(d["pos"], dtype=np.int64)
        self.end = np.array(d["end"], dtype=np.int64)
        self.fresh = np.array(d["fresh"], dtype=bool)


class _Sequential(_Streams):
    """Stream i reads segment i of ``seg`` (B + 1,) int64 and wraps to its start; stream 0's wrap
    ends an epoch."""

    name = "sequential"

    def __init__(self, n_train, s, B, rng, bounds=None):
        seg = split_chunks(n_train, B)
        super().__init__(s, B, rng, seg[:-1], seg[1:])
        self.seg = seg
        self.pos, self.end = seg[:-1].copy(), seg[1:].copy()
        self.per_epoch = updates_per_epoch(int(np.diff(seg).min()), s)

    def _refill(self, i):
        self.pos[i] = self.seg[i]
        if i == 0:
            self.epoch += 1


class _Chunks(_Streams):
    """Streams take chunks of ``bounds`` (n_chunks + 1,) int64 from ``queue``, a permutation of
    the chunks drawn anew (and the epoch advanced) when all ``qi`` of it are taken."""

    name = "chunks"

    def __init__(self, n_train, s, B, rng, bounds=None):
        bounds = np.asarray(bounds if bounds is not None else [0, n_train], dtype=np.int64)
        super().__init__(s, B, rng, bounds[:-1], bounds[1:])
        self.bounds = bounds
        self.queue = self.rng.permutation(len(bounds) - 1)
        self.qi = 0
        for i in range(B):
            self._refill(i)

    def _refill(self, i):
        if self.qi >= len(self.queue):
            self.queue = self.rng.permutation(len(self.bounds) - 1)
            self.qi = 0
            self.epoch += 1
        k = self.queue[self.qi]
        self.qi += 1
        self.pos[i], self.end[i] = self.bounds[k], self.bounds[k + 1]

    def state(self) -> dict:
        return self._state(self.pos, self.end, self.fresh, queue=self.queue.tolist(), qi=int(self.qi))

    def load_state(self, d: dict) -> None:
        super().load_state(d)
        self.queue = np.array(d["queue"], dtype=np.int64)
        self.qi = int(d["qi"])


class _Random(_Order):
    """Uniform starts, always from h = 0; ``chars`` read so far set the epoch. The saved layout
    keeps the streams' entries as constants (pos = end = 0, fresh = True)."""

    name = "random"

    def __init__(self, n_train, s, B, rng, bounds=None):
        super().__init__(s, B, rng, [0], [n_train])
        self.n_train = n_train
        self.chars = 0

    def next(self, n: int):
        s, B = self.s, self.B
        starts = self.rng.integers(0, self.n_train - s, size=(n, B))  # (n, B) int64
        resets = np.ones((n, B), dtype=bool)
        epochs = (self.chars + np.arange(n, dtype=np.int64) * (s * B)) // self.n_train + 1  # (n,)
        self.chars += n * s * B
        self.epoch = self.chars // self.n_train + 1
        return starts, resets, epochs

    def state(self) -> dict:
        return self._state(np.zeros(self.B, dtype=np.int64), np.zeros(self.B, dtype=np.int64),
                           np.ones(self.B, dtype=bool), chars=int(self.chars))

    def load_state(self, d: dict) -> None:
        super().load_state(d)
        self.chars = int(d["chars"])


_ORDER_CLASSES = {cls.name: cls for cls in (_Sequential, _Random, _Chunks)}
ORDERS = tuple(_ORDER_CLASSES)  # ("sequential", "random", "chunks")


class Reader:
    """Start positions and hidden-state resets for each update, in one of :data:`ORDERS`; see the
    module docstring.

    ``n_train`` is the length of the training text, ``bounds`` the training chunks' boundaries
    (n_chunks + 1,) (used by the "chunks" order; default: one chunk). Raises ``ValueError`` for an
    unknown order, a ``seq_length`` or ``batch_size`` that is not a positive integer, or a segment
    or chunk shorter than ``seq_length + 1`` characters.
    """

    def __init__(self, n_train: int, seq_length: int, batch_size: int = 1,
                 order: str = "sequential", bounds=None, seed: int = 0):
        if order not in ORDERS:
            raise ValueError(f"unknown order {order!r}; expected one of {ORDERS}")
        self.s = check_positive_int("seq_length", seq_length)
        self.B = check_positive_int("batch_size", batch_size)
        self.n_train, self.order = int(n_train), order
        self._order = _ORDER_CLASSES[order](self.n_train, self.s, self.B,
                                            np.random.default_rng([seed, 2]), bounds)

    @property
    def epoch(self) -> int:
        """The epoch of the last update read (1 before any)."""
        return self._order.epoch

    @property
    def updates_per_epoch(self) -> int:
        """Updates in one epoch (an estimate for the random order, which has no epochs of its
        own): for "sequential" the handout's count over the shortest stream segment
        (:func:`charrnn.model.data.updates_per_epoch`), else the training windows over B."""
        return self._order.per_epoch

    def next(self, n: int):
        """``(starts (n, B) int64, resets (n, B) bool, epochs (n,) int64)`` for ``n`` updates."""
        return self._order.next(n)

    def peek(self):
        """``(start, reset)`` of stream 0's next window, without advancing (for sampling)."""
        starts, resets, _ = copy.deepcopy(self._order).next(1)
        return int(starts[0, 0]), bool(resets[0, 0])

    def state(self) -> dict:
        """Everything needed to continue the same order, as JSON-able values (the checkpoint's
        ``reader`` entry)."""
        return self._order.state()

    def load_state(self, d: dict) -> None:
        """Restore a :meth:`state`. Raises ``ValueError`` if it belongs to another order or
        batch size."""
        self._order.load_state(d)
