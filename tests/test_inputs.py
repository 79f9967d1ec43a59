"""Bad input (issue 14): one line ``charrnn: error: ...`` and exit status 2, before any work and
before any large allocation, and nothing already written lost or half-written.

1. a FIFO, a device or a socket given as a text or a model; 2. plurals in the messages;
3. inf and nan refused as "a finite number"; 4. the memory message names what needs the memory
(the sample lengths, ``sample -n``); 5. an output path that cannot be written, refused before the
work, and a failed write that names the destination, not a temporary file.
"""

import json
import os
import resource
import socket
import subprocess
import sys
import threading
import tracemalloc

import numpy as np
import pytest

from charrnn import cli
from charrnn.model.data import Vocabulary, read_text
from charrnn.model.rnn import init_params
from charrnn.model.sampling import (
    SAMPLE_BYTES_PER_CHAR,
    check_sample_memory,
    check_sampling_args,
    synthesize,
)
from charrnn.training.config import TrainConfig, check_sizes, memory_estimate, memory_parts
from charrnn.util.checks import check_memory, plural
from charrnn.util.files import atomic_open, check_regular_file, check_writable, write_json

TEXT = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n" * 20
GiB = 2**30


def small_address_space():  # a command that allocated before checking would fail differently
    resource.setrlimit(resource.RLIMIT_AS, (2 * GiB, 2 * GiB))


def cli_run(*args, timeout=60):
    """``python -m charrnn ARGS`` in a 2 GiB address space, killed after ``timeout`` s (a command
    that blocks on a FIFO fails the test instead of hanging it)."""
    return subprocess.run([sys.executable, "-m", "charrnn", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, preexec_fn=small_address_space,
                          env={"TQDM_DISABLE": "1", "PATH": "/usr/bin:/bin"})


def one_line_error(r, *fragments, absent=()):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("charrnn: error: "), r.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    for fragment in absent:
        assert fragment not in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small run folder (m = 16): (folder, its text, its best.npz)."""
    d = tmp_path_factory.mktemp("inputs")
    text = d / "t.txt"
    text.write_text(TEXT, encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "charrnn", "train", "--data", str(text),
                        "--n-updates", "200", "--m", "16", "--sample-every", "100",
                        "--out", str(d / "run")], capture_output=True, text=True,
                       env={"TQDM_DISABLE": "1", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    return d, text, d / "run" / "best.npz"


@pytest.fixture()
def fifo(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


# ------------------------------------------------------------------ 1. not a regular file

def _unblock_later(fifo):
    """A timer that, should the FIFO's reader block in open(), opens the writing end (then
    closes it: the reader sees an empty file) so that a regression fails instead of hanging."""
    def unblock():
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:  # no reader: nothing blocked
            pass
    timer = threading.Timer(5.0, unblock)
    timer.start()
    return timer


def test_read_text_names_a_fifo_a_device_a_socket_and_a_directory(tmp_path, fifo):
    cases = [(fifo, "a named pipe (FIFO)"), ("/dev/null", "a character device"),
             (tmp_path, "a directory")]
    sock_path = tmp_path / "s.sock"
    timer = _unblock_later(fifo)
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(sock_path))
            cases.append((sock_path, "a socket"))
            for path, kind in cases:
                with pytest.raises(ValueError) as err:
                    read_text(path)
                assert str(err.value) == f"expected a text file but {path} is {kind}"
        with pytest.raises(ValueError, match="text file not found"):
            read_text(tmp_path / "nope.txt")
        with pytest.raises(ValueError) as err:
            check_regular_file(fifo, "checkpoint")
        assert str(err.value) == f"expected a checkpoint but {fifo} is a named pipe (FIFO)"
    finally:
        timer.cancel()
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "real.txt")
    (tmp_path / "real.txt").write_text("abc", encoding="utf-8")
    assert read_text(link) == "abc"  # a symbolic link to a regular file is read


@pytest.mark.parametrize("command, kind", [
    (["train", "--data", "FIFO", "--out", "OUT"], "text file"),
    (["train", "--data", "/dev/zero", "--out", "OUT"], "text file"),
    (["gradcheck", "--data", "FIFO"], "text file"),
    (["evaluate", "--checkpoint", "MODEL", "--data", "FIFO"], "text file"),
    (["evaluate", "--checkpoint", "MODEL", "--data", "/dev/zero"], "text file"),
    (["evaluate", "--checkpoint", "FIFO", "--data", "TEXT"], "checkpoint"),
    (["units", "--checkpoint", "MODEL", "--data", "FIFO"], "text file"),
    (["units", "--checkpoint", "FIFO", "--data", "TEXT"], "checkpoint"),
    (["sample", "--checkpoint", "FIFO"], "checkpoint"),
    (["sample", "--checkpoint", "/dev/zero"], "checkpoint"),
])
def test_a_fifo_or_a_device_is_refused_at_once_by_every_command(trained, tmp_path, fifo,
                                                                command, kind):
    d, text, model = trained
    names = {"FIFO": fifo, "MODEL": model, "TEXT": text, "OUT": tmp_path / "out"}
    args = [names.get(a, a) for a in command]
    bad = next(a for a in args if a in (fifo, "/dev/zero"))
    what = "a named pipe (FIFO)" if bad == fifo else "a character device"
    one_line_error(cli_run(*args), f"expected a {kind} but {bad} is {what}")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ 2. plurals

def test_messages_say_1_character_and_1_chunk(tmp_path):
    one = tmp_path / "one.txt"
    one.write_text("a", encoding="utf-8")
    with pytest.raises(ValueError, match=r"holds 1 character; at least 2 are needed"):
        read_text(one)
    two = tmp_path / "two.txt"
    two.write_text("ab", encoding="utf-8")
    with pytest.raises(ValueError, match=r"holds 2 characters; at least 1,001 are needed"):
        read_text(two, min_length=1001)
    cfg = TrainConfig(order="chunks", n_chunks=1)
    with pytest.raises(ValueError, match=r"n_chunks = 1 chunk of .* the text's 10 characters"):
        check_sizes(cfg, 10, 5)
    with pytest.raises(ValueError, match=r"batch_size = 2 streams .* \(at most 1 stream\)"):
        check_sizes(TrainConfig(batch_size=2), 30, 5)
    assert plural(1, "stream") == "1 stream" and plural(0, "stream") == "0 streams"
    assert plural(1_200, "character") == "1,200 characters"


# ------------------------------------------------------------------ 3. inf and nan

@pytest.mark.parametrize("value", [float("inf"), float("nan"), 0.0, -1.0])
def test_temperature_must_be_a_finite_number(value):
    with pytest.raises(ValueError, match=rf"temperature must be a finite number > 0, got {value}"):
        check_sampling_args(value, 1.0)
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        TrainConfig(temperature=value).validate()


def test_inf_and_nan_are_named_as_not_finite_on_the_command_line(trained, tmp_path):
    d, text, model = trained
    for value in ("inf", "nan"):
        one_line_error(cli_run("sample", "--checkpoint", model, "--temperature", value),
                       f"temperature must be a finite number > 0, got {value}")
        one_line_error(cli_run("train", "--data", text, "--out", tmp_path / "o",
                               "--temperature", value),
                       f"temperature must be a finite number > 0, got {value}")
        one_line_error(cli_run("train", "--data", text, "--out", tmp_path / "o", "--eta", value),
                       f"eta must be a finite number > 0, got {value}")
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ 4. memory

def test_the_memory_message_names_the_sample_lengths_when_they_need_the_memory():
    big = 10**12
    for name in ("sample_length", "final_sample_length"):
        cfg = TrainConfig(**{name: big})
        with pytest.raises(ValueError) as err:
            check_sizes(cfg, 10_000, 80, available=GiB)
        msg = str(err.value)
        assert f"{name} = 1,000,000,000,000 characters" in msg and f"lower {name}" in msg, msg
        assert "lower m" not in msg and "batch_size" not in msg, msg
    with pytest.raises(ValueError) as err:  # m still gets the blame when m needs the memory
        check_sizes(TrainConfig(m=10**6), 10_000, 80, available=GiB)
    assert "m = 1,000,000" in str(err.value) and "lower m" in str(err.value)
    assert "sample_length" not in str(err.value).split("; lower")[1]
    cfg = TrainConfig(sample_length=big)
    assert memory_estimate(cfg, 10_000, 80) == sum(n for _, n, _ in memory_parts(cfg, 10_000, 80))
    assert memory_estimate(cfg, 10_000, 80) >= SAMPLE_BYTES_PER_CHAR * big


def test_check_memory_lists_the_largest_parts_and_passes_what_fits():
    parts = [("a", 6 * GiB, ("x",)), ("b", 3 * GiB, ("y", "x")), ("c", GiB // 100, ("z",))]
    assert check_memory(parts, available=10 * GiB) == 6 * GiB + 3 * GiB + GiB // 100
    with pytest.raises(ValueError) as err:
        check_memory(parts, available=GiB)
    assert str(err.value) == ("these sizes need about 9.0 GiB of memory, 6.0 GiB of it for a and "
                              "3.0 GiB for b, more than the 1.0 GiB available; lower x or y")


@pytest.mark.slow  # measures the peak memory of long samples (about 15 s)
def test_sample_memory_per_character_is_measured(tmp_path):
    """SAMPLE_BYTES_PER_CHAR bounds what synthesize and decode allocate per character, even for
    characters that take 4 bytes in a str."""
    vocab = Vocabulary.from_text("ab\U0001f600")
    _, params = init_params(vocab.K, 8, np.random.default_rng(0))
    n = 100_000
    tracemalloc.start()
    try:
        text = vocab.decode(synthesize(params, np.zeros(8), 0, n, np.random.default_rng(1)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(text) == n
    assert 0.8 * SAMPLE_BYTES_PER_CHAR * n < peak <= SAMPLE_BYTES_PER_CHAR * n + 2**16, peak / n
    with pytest.raises(ValueError, match=r"^-n = 1,000,000,000,000 characters need about "
                       r"18,626\.5 GiB of memory for the sampled .* lower -n$"):
        check_sample_memory(10**12, available=GiB)
    assert check_sample_memory(1000, available=GiB) == 1000 * SAMPLE_BYTES_PER_CHAR


def test_sample_n_is_checked_against_memory_before_the_model_is_read(tmp_path, trained):
    model = trained[2]
    r = cli_run("sample", "--checkpoint", model, "-n", 10**12)
    one_line_error(r, "-n = 1,000,000,000,000 characters need about", "lower -n",
                   absent=("batch_size",))
    assert r.stdout == ""
    # before the model: a missing checkpoint is not even looked at
    one_line_error(cli_run("sample", "--checkpoint", tmp_path / "nope.npz", "-n", 10**12),
                   "-n = 1,000,000,000,000 characters")


def test_study_n_is_checked_against_memory_before_any_work(trained, tmp_path):
    d = trained[0]
    out = tmp_path / "study.json"
    out.write_text('{"kept": true}\n')
    one_line_error(cli_run("study", "--runs", d / "run", "--json", out, "-n", 10**12),
                   "-n = 1,000,000,000,000 characters", absent=("batch_size",))
    assert json.loads(out.read_text()) == {"kept": True}


# ------------------------------------------------------------------ 5. unwritable outputs

def test_check_writable_names_the_path_and_why(tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ValueError, match=rf"cannot write --json {afile}/a/b.json: {afile} is a "
                       "file, not a folder"):
        check_writable(afile / "a" / "b.json", "--json")
    with pytest.raises(ValueError, match=rf"cannot write --json {tmp_path}: it is a folder"):
        check_writable(tmp_path, "--json")
    assert check_writable(tmp_path / "new" / "deeper" / "x.json") == \
        str(tmp_path / "new" / "deeper" / "x.json")
    assert not (tmp_path / "new").exists()  # the check creates nothing
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if os.fspath(p) ==
                        str(tmp_path) else real_access(p, mode, **kw))
    with pytest.raises(ValueError, match=rf"the folder {tmp_path} is not writable"):
        check_writable(tmp_path / "new" / "x.json", "--json")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(ValueError, match="is not writable"):
            check_writable(ro / "x.json", "--json")
        with pytest.raises(PermissionError, match=rf"cannot write {ro}/x.json") as err:
            write_json(ro / "x.json", {})
        assert ".tmp" not in str(err.value)
    finally:
        ro.chmod(0o755)


@pytest.mark.parametrize("command", [
    ["gradcheck", "--data", "TEXT", "--no-numeric", "--json", "DEST"],
    ["units", "--checkpoint", "MODEL", "--data", "TEXT", "--json", "DEST"],
    ["study", "--runs", "RUN", "-n", "50", "--json", "DEST"],
])
def test_an_unwritable_json_is_refused_before_any_work(trained, tmp_path, command):
    d, text, model = trained
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")
    dest = afile / "sub" / "out.json"
    names = {"TEXT": text, "MODEL": model, "RUN": d / "run", "DEST": dest}
    r = cli_run(*[names.get(a, a) for a in command])
    one_line_error(r, f"cannot write --json {dest}: {afile} is a file, not a folder")
    assert r.stdout == ""  # nothing computed, nothing printed
    assert afile.read_text() == "not a folder\n"


def test_a_read_only_json_folder_is_refused_before_any_work(trained, tmp_path, monkeypatch,
                                                            capsys):
    d, text, model = trained
    ro = tmp_path / "ro"
    ro.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if os.fspath(p) == str(ro)
                        else real_access(p, mode, **kw))
    with pytest.raises(SystemExit) as err:
        cli.main(["gradcheck", "--data", str(text), "--no-numeric", "--json", str(ro / "g.json")])
    assert err.value.code == 2
    out, errors = capsys.readouterr()
    assert out == "" and errors == (f"charrnn: error: cannot write --json {ro / 'g.json'}: the "
                                    f"folder {ro} is not writable\n")
    assert list(ro.iterdir()) == []


def test_atomic_open_names_the_destination_not_the_temporary_file(tmp_path, monkeypatch):
    import tempfile

    afile = tmp_path / "afile"
    afile.write_text("xy")
    with pytest.raises(OSError) as err:  # the folder cannot be made: a parent is a file
        write_json(afile / "sub" / "x.json", {})
    assert f"cannot write {afile / 'sub' / 'x.json'}" in str(err.value)
    dest = tmp_path / "d.json"
    dest.write_text('{"old": 1}\n')

    def refuse(prefix, suffix, dir):
        raise PermissionError(13, "Permission denied", os.path.join(dir, prefix + "abc" + suffix))

    with monkeypatch.context() as m:  # the temporary file cannot be made (a read-only folder)
        m.setattr(tempfile, "mkstemp", refuse)
        with pytest.raises(PermissionError) as err:
            write_json(dest, {"new": 2})
    assert err.value.errno == 13 and err.value.filename is None
    assert str(err.value) == f"[Errno 13] cannot write {dest}: Permission denied"
    assert dest.read_text() == '{"old": 1}\n'
    with pytest.raises(IsADirectoryError) as err:  # the rename fails: the destination is a folder
        with atomic_open(tmp_path, "w") as f:
            f.write("x")
    assert f"cannot write {tmp_path}:" in str(err.value) and ".tmp" not in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "d.json"]  # no temporary
    text = tmp_path / "t.txt"
    text.write_text(TEXT, encoding="utf-8")
    r = subprocess.run([sys.executable, "-c", "from charrnn import cli; import tempfile, sys\n"
                        "def refuse(prefix, suffix, dir):\n"
                        "    raise PermissionError(13, 'Permission denied', dir + '/.x.tmp')\n"
                        "tempfile.mkstemp = refuse\n"
                        f"sys.exit(cli.main(['gradcheck', '--data', {str(text)!r}, '--m', '4',"
                        f" '--no-numeric', '--json', {str(dest)!r}]))"],
                       capture_output=True, text=True, env={"TQDM_DISABLE": "1"})
    one_line_error(r, f"cannot write {dest}: Permission denied", absent=(".tmp",))
    assert dest.read_text() == '{"old": 1}\n'
