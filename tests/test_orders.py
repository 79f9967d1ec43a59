"""Training orders (charrnn.training.orders): each order against a plain loop (positions, resets,
epochs and the saved state in the checkpoint layout) and a brute-force property check."""

import json

import numpy as np
import pytest

from charrnn.training.orders import Reader, split_chunks


def read_in_pieces(reader, sizes):
    """Concatenate reader.next(n) for n in sizes: (starts (N, B), resets (N, B), epochs (N,))."""
    parts = [reader.next(n) for n in sizes]
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))


def handout_loop(n, s, n_updates):
    """The handout's rule written out: e = 0, s, 2s, ...; back to 0 (hprev = 0) when e > n - s - 1."""
    starts, resets, epochs = [], [], []
    e, epoch, reset = 0, 1, True
    for _ in range(n_updates):
        if e > n - s - 1:
            e, epoch, reset = 0, epoch + 1, True
        starts.append(e)
        resets.append(reset)
        epochs.append(epoch)
        reset = False
        e += s
    return np.array(starts), np.array(resets), np.array(epochs)


def stream_loop(lo, hi, s, n_updates):
    """One stream wrapping inside its segment [lo, hi) with the handout's rule."""
    starts, resets, epochs = handout_loop(hi - lo, s, n_updates)
    return starts + lo, resets, epochs


# ---------------------------------------------------------------- every order against a plain loop
# Each generator is one order written out as a plain loop with its own generator default_rng([seed, 2]);
# per update it yields (the saved state before the update in the checkpoint layout, starts (B,),
# resets (B,), epoch). The layout (keys in this order) is what old checkpoints hold.


def sequential_ref(n, s, B, seed):
    rng = np.random.default_rng([seed, 2])  # never drawn from, but saved
    seg = [round(i * n / B) for i in range(B + 1)]
    pos, end, fresh, epoch = seg[:-1], seg[1:], [True] * B, 1
    while True:
        state = {"order": "sequential", "epoch": epoch, "pos": list(pos), "end": list(end),
                 "fresh": list(fresh), "rng": rng.bit_generator.state}
        for i in range(B):
            if pos[i] > end[i] - s - 1:  # back to the segment's start; stream 0 ends an epoch
                pos[i], fresh[i], epoch = seg[i], True, epoch + (i == 0)
        yield state, list(pos), list(fresh), epoch
        pos, fresh = [p + s for p in pos], [False] * B


def chunks_ref(bounds, s, B, seed):
    rng = np.random.default_rng([seed, 2])
    bounds = [int(b) for b in bounds]
    queue, qi, epoch = rng.permutation(len(bounds) - 1).tolist(), 0, 1

    def take():  # the queue's next chunk; a new permutation (and epoch) once it is used up
        nonlocal queue, qi, epoch
        if qi == len(queue):
            queue, qi, epoch = rng.permutation(len(bounds) - 1).tolist(), 0, epoch + 1
        k, qi = queue[qi], qi + 1
        return bounds[k], bounds[k + 1]

    pos, end = (list(x) for x in zip(*[take() for _ in range(B)]))
    fresh = [True] * B
    while True:
        state = {"order": "chunks", "epoch": epoch, "pos": list(pos), "end": list(end),
                 "fresh": list(fresh), "rng": rng.bit_generator.state, "queue": list(queue), "qi": qi}
        for i in range(B):
            if pos[i] > end[i] - s - 1:  # the chunk is read: take the next one
                (pos[i], end[i]), fresh[i] = take(), True
        yield state, list(pos), list(fresh), epoch
        pos, fresh = [p + s for p in pos], [False] * B


def random_ref(n, s, B, seed):
    rng = np.random.default_rng([seed, 2])
    chars = 0
    while True:
        state = {"order": "random", "epoch": chars // n + 1, "pos": [0] * B, "end": [0] * B,
                 "fresh": [True] * B, "rng": rng.bit_generator.state, "chars": chars}
        yield state, rng.integers(0, n - s, size=B).tolist(), [True] * B, chars // n + 1
        chars += s * B


def run_ref(ref, n_updates):
    """``n_updates + 1`` states and (starts (N, B), resets (N, B), epochs (N,)) from a reference."""
    rows = [next(ref) for _ in range(n_updates + 1)]
    states = [r[0] for r in rows]
    return states, tuple(np.array([r[k] for r in rows[:-1]]) for k in (1, 2, 3))


REF_CASES = [  # (Reader's keyword arguments, reference)
    (dict(n_train=97, seq_length=5), lambda seed: sequential_ref(97, 5, 1, seed)),
    (dict(n_train=100, seq_length=4, batch_size=3), lambda seed: sequential_ref(100, 4, 3, seed)),
    # segments of 34 and 33: stream 0 wraps every 11 updates, stream 1 every 10; epochs follow stream 0
    (dict(n_train=67, seq_length=3, batch_size=2), lambda seed: sequential_ref(67, 3, 2, seed)),
    (dict(n_train=97, seq_length=4, order="random"), lambda seed: random_ref(97, 4, 1, seed)),
    (dict(n_train=40, seq_length=7, batch_size=5, order="random"),
     lambda seed: random_ref(40, 7, 5, seed)),
    (dict(n_train=300, seq_length=6, order="chunks", bounds=split_chunks(300, 7)),
     lambda seed: chunks_ref(split_chunks(300, 7), 6, 1, seed)),
    (dict(n_train=300, seq_length=6, batch_size=4, order="chunks", bounds=split_chunks(300, 7)),
     lambda seed: chunks_ref(split_chunks(300, 7), 6, 4, seed)),
    (dict(n_train=95, seq_length=4, batch_size=2, order="chunks", bounds=[0, 11, 30, 42, 80, 95]),
     lambda seed: chunks_ref([0, 11, 30, 42, 80, 95], 4, 2, seed)),
    (dict(n_train=120, seq_length=5, batch_size=2, order="chunks"),  # default bounds: one chunk
     lambda seed: chunks_ref([0, 120], 5, 2, seed)),
]
REF_IDS = [f"{kw.get('order', 'sequential')}-B{kw.get('batch_size', 1)}-{kw['n_train']}"
           for kw, _ in REF_CASES]


@pytest.mark.parametrize("kwargs, ref", REF_CASES, ids=REF_IDS)
@pytest.mark.parametrize("seed", [0, 7])
def test_each_order_is_its_plain_loop(kwargs, ref, seed):
    sizes = [0, 1, 7, 3, 13, 1, 25, 50]  # several epochs, read in uneven pieces
    states, (ref_starts, ref_resets, ref_epochs) = run_ref(ref(seed), sum(sizes))
    reader = Reader(**kwargs, seed=seed)
    done = 0
    for n in sizes:
        saved = reader.state()
        assert json.dumps(saved) == json.dumps(states[done]), f"state after {done} updates"
        starts, resets, epochs = reader.next(n)
        assert starts.dtype == np.int64 and resets.dtype == bool and epochs.dtype == np.int64
        assert starts.shape == resets.shape == (n, kwargs.get("batch_size", 1)) and epochs.shape == (n,)
        rows = slice(done, done + n)
        np.testing.assert_array_equal(starts, ref_starts[rows], err_msg=f"starts of updates {rows}")
        np.testing.assert_array_equal(resets, ref_resets[rows], err_msg=f"resets of updates {rows}")
        np.testing.assert_array_equal(epochs, ref_epochs[rows], err_msg=f"epochs of updates {rows}")
        done += n
        assert reader.epoch == states[done]["epoch"]
    assert json.dumps(reader.state()) == json.dumps(states[-1])
    assert ref_epochs[-1] >= 3  # the comparison really spans several epochs


@pytest.mark.parametrize("kwargs, ref", REF_CASES, ids=REF_IDS)
def test_a_saved_state_from_the_plain_loop_resumes_identically(kwargs, ref):
    # a state written by the plain loop (as an old checkpoint holds it) continues that loop exactly
    states, (ref_starts, ref_resets, ref_epochs) = run_ref(ref(3), 100)
    middles = [u for u in range(2, 100) if ref_epochs[u - 1] == ref_epochs[u] >= 2]  # mid-epoch
    for u in middles[:: max(1, len(middles) // 4)]:
        reader = Reader(**kwargs, seed=11)  # another seed: everything must come from the state
        reader.next(5)
        reader.load_state(json.loads(json.dumps(states[u])))
        assert reader.epoch == ref_epochs[u - 1]
        starts, resets, epochs = reader.next(100 - u)
        np.testing.assert_array_equal(starts, ref_starts[u:], err_msg=f"starts after {u}")
        np.testing.assert_array_equal(resets, ref_resets[u:], err_msg=f"resets after {u}")
        np.testing.assert_array_equal(epochs, ref_epochs[u:], err_msg=f"epochs after {u}")
    assert middles


# ---------------------------------------------------------------- sequential


@pytest.mark.parametrize("n, s", [(103, 10), (100, 9), (26, 25), (57, 7), (11, 10)])
def test_sequential_b1_is_the_handout_loop(n, s):
    sizes = [1, 7, 3, 13, 1, 25, 50]  # several epochs, read in uneven pieces
    starts, resets, epochs = read_in_pieces(Reader(n, s), sizes)
    ref_starts, ref_resets, ref_epochs = handout_loop(n, s, sum(sizes))
    assert starts.shape == (sum(sizes), 1)
    np.testing.assert_array_equal(starts[:, 0], ref_starts)
    np.testing.assert_array_equal(resets[:, 0], ref_resets)
    np.testing.assert_array_equal(epochs, ref_epochs)
    assert ref_epochs[-1] >= 3  # the comparison really spans several epochs


def test_sequential_b1_hand_computed_case():
    # n = 23, s = 5: e = 0, 5, 10, 15 (15 <= 23 - 6 = 17), then 20 > 17 -> back to 0
    starts, resets, epochs = Reader(23, 5).next(9)
    assert starts[:, 0].tolist() == [0, 5, 10, 15, 0, 5, 10, 15, 0]
    assert resets[:, 0].tolist() == [True, False, False, False, True, False, False, False, True]
    assert epochs.tolist() == [1, 1, 1, 1, 2, 2, 2, 2, 3]


@pytest.mark.parametrize("n, s, B", [(100, 4, 3), (97, 5, 4), (60, 9, 6), (41, 3, 2)])
def test_sequential_batch_streams_wrap_within_their_segments(n, s, B):
    reader = Reader(n, s, batch_size=B)
    bounds = [round(i * n / B) for i in range(B + 1)]  # B evenly spaced segments
    np.testing.assert_array_equal(split_chunks(n, B), bounds)
    lengths = np.diff(bounds)
    assert lengths.sum() == n and lengths.max() - lengths.min() <= 1
    n_updates = 60
    starts, resets, epochs = read_in_pieces(reader, [5, 1, 30, 24])
    for i in range(B):
        ref_starts, ref_resets, ref_epochs = stream_loop(bounds[i], bounds[i + 1], s, n_updates)
        np.testing.assert_array_equal(starts[:, i], ref_starts, err_msg=f"stream {i}")
        np.testing.assert_array_equal(resets[:, i], ref_resets, err_msg=f"stream {i}")
        if i == 0:
            np.testing.assert_array_equal(epochs, ref_epochs)  # epochs follow stream 0
    # every window of stream i stays inside segment i
    assert np.all(starts >= np.array(bounds[:-1]))
    assert np.all(starts + s + 1 <= np.array(bounds[1:]))


# ---------------------------------------------------------------- chunks


def check_chunk_reads(starts, resets, epochs, bounds, s):
    """Brute-force checks of the "chunks" order; returns the chunk visits in queue order."""
    n_upd, B = starts.shape
    n_chunks = len(bounds) - 1
    chunk_of = np.searchsorted(bounds, starts, side="right") - 1  # (n_upd, B)
    lo, hi = bounds[chunk_of], bounds[chunk_of + 1]
    assert np.all(starts >= lo)
    assert np.all(starts + s + 1 <= hi), "a window crosses a chunk boundary"
    # a stream starts from h = 0 exactly when it begins a chunk
    np.testing.assert_array_equal(resets, starts == lo)
    visits = []  # (update, stream, chunk) for every chunk begun, in queue order
    for i in range(B):
        for u in range(n_upd):
            if resets[u, i]:
                visits.append((u, i, int(chunk_of[u, i])))
                # the stream reads this chunk sequentially to its end (or to the last update)
                p, v = starts[u, i], u
                while v < n_upd and p <= hi[u, i] - s - 1:
                    assert starts[v, i] == p and chunk_of[v, i] == chunk_of[u, i]
                    assert resets[v, i] == (v == u)
                    p, v = p + s, v + 1
                if v < n_upd:
                    assert resets[v, i], "the stream did not move on after the chunk's end"
    visits.sort()  # queue order: by update, then by stream
    order = [c for _, _, c in visits]
    n_full = len(order) // n_chunks
    assert n_full >= 2, "the test should span at least two epochs"
    for k in range(n_full):
        assert sorted(order[k * n_chunks : (k + 1) * n_chunks]) == list(range(n_chunks)), \
            f"epoch {k + 1} is not a permutation of the chunks: {order}"
    # epoch of an update = epoch of the last chunk taken from the queue so far
    pops = np.zeros(n_upd, dtype=int)
    for u, _, _ in visits:
        pops[u] += 1
    np.testing.assert_array_equal(epochs, (np.cumsum(pops) - 1) // n_chunks + 1)
    return order


@pytest.mark.parametrize("B", [1, 3])
def test_chunks_visit_each_chunk_once_per_epoch(B):
    n, s = 300, 6
    bounds = split_chunks(n, 7)  # chunk lengths 42-43
    reader = Reader(n, s, batch_size=B, order="chunks", bounds=bounds, seed=3)
    starts, resets, epochs = read_in_pieces(reader, [1, 9, 40, 50, 60])
    order = check_chunk_reads(starts, resets, epochs, bounds, s)
    # the permutation changes from one epoch to the next (probability 1/7! of equality)
    assert order[:7] != order[7:14]


def test_chunks_with_uneven_bounds():
    bounds = np.array([0, 11, 30, 31 + 11, 80, 95])  # lengths 11, 19, 12, 38, 15
    s = 4
    reader = Reader(95, s, order="chunks", bounds=bounds, seed=0)
    starts, resets, epochs = reader.next(120)
    check_chunk_reads(starts, resets, epochs, bounds, s)


def test_chunks_seed_fixes_the_order():
    bounds = split_chunks(400, 10)
    run = lambda seed: Reader(400, 5, order="chunks", bounds=bounds, seed=seed).next(100)
    a, b, c = run(1), run(1), run(2)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


# ---------------------------------------------------------------- random


def test_random_starts_are_uniform_and_always_reset():
    n, s, B = 40, 7, 5
    starts, resets, epochs = read_in_pieces(Reader(n, s, batch_size=B, order="random", seed=4),
                                            [1, 999, 2000])
    assert resets.all()
    assert starts.min() == 0 and starts.max() == n - s - 1  # the whole range [0, n - s - 1]
    counts = np.bincount(starts.ravel(), minlength=n - s)
    assert len(counts) == n - s  # nothing beyond n - s - 1
    expected = starts.size / (n - s)  # 15000 / 33, about 455 each
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 70, f"chi-square {chi2:.1f} with 32 degrees of freedom"  # p about 2e-4
    # epoch k + 1 starts after k * n characters (s B characters per update)
    u = np.arange(len(epochs))
    np.testing.assert_array_equal(epochs, (u * s * B) // n + 1)


# ---------------------------------------------------------------- state, errors, peek

CONFIGS = [
    dict(n_train=97, seq_length=5, batch_size=1, order="sequential"),
    dict(n_train=97, seq_length=5, batch_size=3, order="sequential"),
    dict(n_train=97, seq_length=4, batch_size=1, order="random"),
    dict(n_train=97, seq_length=4, batch_size=2, order="random"),
    dict(n_train=200, seq_length=6, batch_size=1, order="chunks", bounds=split_chunks(200, 6)),
    dict(n_train=200, seq_length=6, batch_size=2, order="chunks", bounds=split_chunks(200, 6)),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c['order']}-B{c['batch_size']}")
@pytest.mark.parametrize("done", [0, 1, 13, 41])
def test_state_round_trip_continues_identically(cfg, done):
    a = Reader(**cfg, seed=5)
    a.next(done) if done else None
    saved = json.loads(json.dumps(a.state()))  # must survive JSON
    expected = read_in_pieces(a, [3, 30])
    b = Reader(**cfg, seed=99)  # another seed: everything must come from the saved state
    b.next(7)
    b.load_state(saved)
    got = read_in_pieces(b, [1, 32])
    for x, y, name in zip(got, expected, ("starts", "resets", "epochs")):
        np.testing.assert_array_equal(x, y, err_msg=name)
    assert b.epoch == a.epoch


def test_load_state_of_another_order_is_refused():
    saved = Reader(50, 5, order="random").state()
    with pytest.raises(ValueError, match="does not match"):
        Reader(50, 5, order="sequential").load_state(saved)
    with pytest.raises(ValueError, match="does not match"):
        Reader(50, 5, batch_size=2).load_state(Reader(50, 5).state())


@pytest.mark.parametrize("kwargs", [
    dict(n_train=10, seq_length=10),  # B = 1: 10 < s + 1
    dict(n_train=5, seq_length=10),
    dict(n_train=32, seq_length=10, batch_size=3),  # segments of 11, 10, 11
    dict(n_train=10, seq_length=10, order="random"),
    dict(n_train=40, seq_length=5, order="chunks", bounds=[0, 20, 25, 40]),  # a chunk of 5
])
def test_too_short_segments_are_refused(kwargs):
    with pytest.raises(ValueError, match="too short"):
        Reader(**kwargs)


def test_shortest_allowed_segments_work():
    starts, resets, _ = Reader(11, 10).next(3)  # one window per epoch
    assert starts[:, 0].tolist() == [0, 0, 0] and resets.all()
    starts, _, _ = Reader(33, 10, batch_size=3).next(2)  # segments of exactly s + 1
    assert starts.tolist() == [[0, 11, 22], [0, 11, 22]]
    starts, _, _ = Reader(11, 10, order="random").next(5)
    assert (starts == 0).all()


def test_unknown_order_is_refused():
    with pytest.raises(ValueError, match="unknown order"):
        Reader(100, 5, order="shuffled")


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c['order']}-B{c['batch_size']}")
def test_peek_is_the_next_window_and_does_not_advance(cfg):
    peeking, plain = Reader(**cfg, seed=8), Reader(**cfg, seed=8)
    for _ in range(40):
        first = peeking.peek()
        assert peeking.peek() == first
        starts, resets, epochs = peeking.next(1)
        assert first == (int(starts[0, 0]), bool(resets[0, 0]))
        ref = plain.next(1)
        np.testing.assert_array_equal(starts, ref[0])
        np.testing.assert_array_equal(resets, ref[1])
        np.testing.assert_array_equal(epochs, ref[2])
