"""Validation losses (charrnn.model.evaluate) against rnn.forward run by brute force, and the
`evaluate` command against those functions."""

import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from charrnn.model.evaluate import BITS_PER_NAT, stateful_loss, windowed_loss
from charrnn.model.rnn import forward, init_params, new_params
from charrnn.training.checkpoint import load_model

K, M = 9, 7


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(3)
    _, params = init_params(K, M, rng, "scaled")
    params["b"][...] = rng.normal(0, 0.2, M)
    params["c"][...] = rng.normal(0, 0.2, K)
    data = rng.integers(0, K, size=203)
    return params, data


def plain_stateful(params, data):
    """One character at a time, h carried, from h = 0: mean of -log p_t[y_t]."""
    b, c, U, W, V = (params[k] for k in ("b", "c", "U", "W", "V"))
    h, total = np.zeros(len(b)), 0.0
    for x, y in zip(data[:-1], data[1:]):
        h = np.tanh(W @ h + U[:, x] + b)
        o = V @ h + c
        total += np.log(np.exp(o - o.max()).sum()) + o.max() - o[y]
    return total / (len(data) - 1)


@pytest.mark.parametrize("block", [1, 2, 7, 64, 202, 203, 4096])
def test_stateful_is_one_forward_pass_from_zero(model, block):
    params, data = model
    ref, _ = forward(params, data[:-1], data[1:], np.zeros(M), "mean")
    got = stateful_loss(params, data, block=block)
    assert isinstance(got, float)
    assert abs(got - float(ref)) <= 1e-12 * float(ref)
    assert abs(got - plain_stateful(params, data)) <= 1e-12 * float(ref)


def test_stateful_two_characters(model):
    params, data = model
    ref, _ = forward(params, data[:1], data[1:2], np.zeros(M), "mean")
    assert stateful_loss(params, data[:2]) == pytest.approx(float(ref), rel=1e-14)


@pytest.mark.parametrize("seq_length, n", [(25, 203), (10, 203), (10, 201), (10, 11), (1, 7),
                                           (50, 151)])
def test_windowed_is_the_mean_over_non_overlapping_windows(model, seq_length, n):
    params, data = model
    data = data[:n]
    losses = []
    start = 0
    while start + seq_length + 1 <= len(data):  # every window that fits, h0 = 0 each
        x = data[start : start + seq_length]
        y = data[start + 1 : start + seq_length + 1]
        losses.append(float(forward(params, x, y, np.zeros(M), "mean")[0]))
        start += seq_length
    assert len(losses) == (n - 1) // seq_length
    got = windowed_loss(params, data, seq_length)
    assert abs(got - np.mean(losses)) <= 1e-12 * np.mean(losses)


def test_windowed_of_one_window_is_stateful(model):
    params, data = model
    got = windowed_loss(params, data[:26], 25)
    assert got == pytest.approx(stateful_loss(params, data[:26]), rel=1e-13)


def test_windowed_differs_from_stateful_on_longer_text(model):
    params, data = model
    assert abs(windowed_loss(params, data, 5) - stateful_loss(params, data)) > 1e-6


@pytest.mark.parametrize("n", [0, 1])
def test_stateful_needs_two_characters(model, n):
    params, data = model
    with pytest.raises(ValueError, match="at least 2"):
        stateful_loss(params, data[:n])


@pytest.mark.parametrize("n", [0, 1, 10, 25])
def test_windowed_needs_seq_length_plus_one(model, n):
    params, data = model
    with pytest.raises(ValueError, match="seq_length \\+ 1 = 26"):
        windowed_loss(params, data[:n], 25)


def test_bits_per_nat():
    assert BITS_PER_NAT == pytest.approx(1 / math.log(2), rel=1e-15)
    assert 2.0 * math.log(2) * BITS_PER_NAT == pytest.approx(2.0, rel=1e-15)
    # a model with all-zero parameters predicts uniformly: ln K nats = log2 K bits per character
    _, zero = new_params(8, 4)
    data = np.arange(40) % 8
    nats = stateful_loss(zero, data)
    assert nats == pytest.approx(math.log(8), rel=1e-14)
    assert nats * BITS_PER_NAT == pytest.approx(3.0, rel=1e-14)
    assert windowed_loss(zero, data, 5) * BITS_PER_NAT == pytest.approx(3.0, rel=1e-14)


# ---------------------------------------------------------------- the `evaluate` command

TEXT = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n" * 12
LINE = re.compile(r"^(stateful|windowed): (\d+\.\d{4}) nats/char = (\d+\.\d{4}) bits/char on "
                  r"([\d,]+) characters \((.*)\)$")


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "charrnn", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, "TQDM_DISABLE": "1"})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("evaluate")
    (d / "small.txt").write_text(TEXT, encoding="utf-8")
    r = cli("train", "--data", d / "small.txt", "--n-updates", 50, "--m", 8, "--out", d / "run")
    assert r.returncode == 0, r.stderr
    model = load_model(d / "run" / "best.npz")
    return d, model, model.vocab.encode(TEXT)


def parse(stdout):
    rows = []
    for line in stdout.strip().splitlines():
        match = LINE.match(line)
        assert match, f"unexpected output line: {line!r}"
        mode, nats, bits, n, what = match.groups()
        rows.append((mode, float(nats), float(bits), int(n.replace(",", "")), what))
    return rows


def check_printed(row, loss, n):
    """The printed nats and bits agree with ``loss`` to the printed 4 decimals."""
    _, nats, bits, count, _ = row
    assert abs(nats - loss) <= 0.5e-4 + 1e-12, (nats, loss)
    assert abs(bits - loss / math.log(2)) <= 0.5e-4 + 1e-12, (bits, loss / math.log(2))
    assert count == n


def test_evaluate_default_is_stateful_on_the_last_twentieth(trained):
    d, model, book = trained
    r = cli("evaluate", "--checkpoint", d / "run" / "best.npz", "--data", d / "small.txt")
    assert r.returncode == 0, r.stderr
    (row,) = parse(r.stdout)
    start = round(len(book) * 19 / 20)  # 969 of 1020
    part = book[start:]
    assert row[0] == "stateful" and row[4] == "the last 1/20 of the text"
    check_printed(row, stateful_loss(model.params, part), len(part))
    assert len(part) == 51


def test_evaluate_whole_text_both_modes(trained):
    d, model, book = trained
    r = cli("evaluate", "--checkpoint", d / "run" / "best.npz", "--data", d / "small.txt",
            "--split", "all", "--mode", "both", "--seq-length", 10)
    assert r.returncode == 0, r.stderr
    stateful, windowed = parse(r.stdout)
    assert stateful[0] == "stateful" and windowed[0] == "windowed"
    assert stateful[4] == windowed[4] == "the whole text"
    check_printed(stateful, stateful_loss(model.params, book), len(book))
    check_printed(windowed, windowed_loss(model.params, book, 10), len(book))


def test_evaluate_windowed_with_other_chunks(trained):
    d, model, book = trained
    r = cli("evaluate", "--checkpoint", d / "run" / "best.npz", "--data", d / "small.txt",
            "--mode", "windowed", "--n-chunks", 4)
    assert r.returncode == 0, r.stderr
    (row,) = parse(r.stdout)
    part = book[round(len(book) * 3 / 4):]
    assert row[0] == "windowed" and row[4] == "the last 1/4 of the text"
    check_printed(row, windowed_loss(model.params, part, 25), len(part))


def test_evaluate_validation_and_test_are_the_model_s_own_split(trained):
    d = trained[0]
    r = cli("train", "--data", d / "small.txt", "--n-updates", 40, "--m", 8, "--seq-length", 10,
            "--holdout", 1, "--test-fraction", 0.5, "--eval-every", 20, "--out", d / "split")
    assert r.returncode == 0, r.stderr
    metrics = json.loads((d / "split" / "metrics.json").read_text())
    rows = {}
    for split in ("validation", "test"):
        r = cli("evaluate", "--checkpoint", d / "split" / "best.npz", "--data", d / "small.txt",
                "--split", split)
        assert r.returncode == 0, r.stderr
        (rows[split],) = parse(r.stdout)
    # best.npz is the model validation chose: its validation loss, and the test loss the run reports
    check_printed(rows["validation"], metrics["best_val_loss"], metrics["n_val_chars"])
    check_printed(rows["test"], metrics["test_loss"], metrics["n_test_chars"])
    start = metrics["test_start"]
    assert rows["test"][4] == f"the test text, characters {start:,} to {len(TEXT):,}"
    assert rows["validation"][4].endswith(f"to {start:,}")
    # settings that cannot be honoured
    r = cli("evaluate", "--checkpoint", d / "split" / "best.npz", "--data", d / "small.txt",
            "--split", "test", "--n-chunks", 4)
    one_line_error(r, "--n-chunks 4", "the model's own split (1 of 20 chunks held out)")
    r = cli("evaluate", "--checkpoint", d / "run" / "best.npz", "--data", d / "small.txt",
            "--split", "test")  # trained on the whole text
    one_line_error(r, "--split test", "without a validation and a test part (holdout 0")


def one_line_error(r, *fragments):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("charrnn: error: "), r.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_evaluate_names_the_characters_the_model_does_not_know(trained):
    d = trained[0]
    other = d / "other.txt"
    other.write_text(TEXT.replace("q", "Q") + "Zebra\n", encoding="utf-8")  # + Q, Z; - q
    first_q = other.read_text(encoding="utf-8").index("Q")
    r = cli("evaluate", "--checkpoint", d / "run" / "best.npz", "--data", other)
    one_line_error(r, "2 character(s) not in the vocabulary: 'Q', 'Z'",
                   f"the first, 'Q', at character {first_q:,}")


def test_evaluate_takes_a_text_with_fewer_characters_than_the_model(trained):
    d, model, _ = trained
    fewer = d / "fewer.txt"
    fewer.write_text(TEXT.replace("q", "e") * 2, encoding="utf-8")  # lacks "q": still evaluable
    assert "q" in model.vocab.chars
    r = cli("evaluate", "--checkpoint", d / "run" / "best.npz", "--data", fewer, "--split", "all")
    assert r.returncode == 0, r.stderr
    (row,) = parse(r.stdout)
    check_printed(row, stateful_loss(model.params, model.vocab.encode(fewer.read_text())),
                  len(fewer.read_text()))


def test_evaluate_and_sample_accept_the_training_checkpoint(trained):
    d, model, book = trained
    ckpt = d / "run" / "checkpoint.npz"
    current = load_model(ckpt)  # the parameters at the end of training, not the best ones
    assert current.vocab == model.vocab and current.m == model.m
    r = cli("evaluate", "--checkpoint", ckpt, "--data", d / "small.txt", "--split", "all")
    assert r.returncode == 0, r.stderr
    (row,) = parse(r.stdout)
    check_printed(row, stateful_loss(current.params, book), len(book))
    r = cli("sample", "--checkpoint", ckpt, "-n", 30)
    assert r.returncode == 0 and len(r.stdout) == 31, r.stderr


def test_evaluate_refuses_a_corrupt_checkpoint(trained):
    d = trained[0]
    good = (d / "run" / "best.npz").read_bytes()
    (d / "truncated.npz").write_bytes(good[: len(good) // 2])
    (d / "garbage.npz").write_bytes(b"this is not a zip file at all\n" * 10)
    for name in ("truncated.npz", "garbage.npz"):
        r = cli("evaluate", "--checkpoint", d / name, "--data", d / "small.txt")
        one_line_error(r, name, "not a readable charrnn checkpoint")
    r = cli("evaluate", "--checkpoint", d / "missing.npz", "--data", d / "small.txt")
    one_line_error(r, "checkpoint not found")


def test_evaluate_refuses_bad_numbers_and_short_parts(trained):
    d = trained[0]
    ckpt = d / "run" / "best.npz"
    one_line_error(cli("evaluate", "--checkpoint", ckpt, "--data", d / "small.txt",
                       "--n-chunks", 0), "--n-chunks")
    one_line_error(cli("evaluate", "--checkpoint", ckpt, "--data", d / "small.txt",
                       "--seq-length", 0), "--seq-length")
    # the last 1/100 holds 10 characters: enough for stateful, too few for windows of 25
    r = cli("evaluate", "--checkpoint", ckpt, "--data", d / "small.txt", "--n-chunks", 100,
            "--mode", "windowed")
    one_line_error(r, "seq_length + 1 = 26")
