"""The command line: real subprocesses, exit codes and one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

TEXT = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n" * 20
#: This checkout's package, whatever checkout the environment's editable install points at.
SRC = Path(__file__).resolve().parents[1] / "src"


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "charrnn", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env={"TQDM_DISABLE": "1", "PATH": "/usr/bin:/bin",
                                                   "PYTHONPATH": str(SRC)})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    text = d / "t.txt"
    text.write_text(TEXT, encoding="utf-8")
    r = cli("train", "--data", text, "--n-updates", 300, "--m", 16, "--sample-every", 100,
            "--out", d / "run")
    assert r.returncode == 0, r.stderr
    return d, text, r


def test_train_writes_a_run(trained):
    d, _, r = trained
    assert "K = " in r.stdout and "best smooth loss" in r.stdout
    for name in ("config.json", "history.csv", "samples.json", "metrics.json", "best.npz",
                 "best_sample.json"):
        assert (d / "run" / name).is_file(), name
    m = json.loads((d / "run" / "metrics.json").read_text())
    assert m["n_updates"] == 300 and m["best_smooth_loss"] < m["K"] ** 0 * 4.5


def test_sample_is_deterministic_and_primed(trained):
    d = trained[0]
    a = cli("sample", "--checkpoint", d / "run" / "best.npz", "-n", 80, "--seed", 5)
    b = cli("sample", "--checkpoint", d / "run" / "best.npz", "-n", 80, "--seed", 5)
    assert a.returncode == 0 and a.stdout == b.stdout and len(a.stdout) == 81
    p = cli("sample", "--checkpoint", d / "run" / "best.npz", "-n", 20, "--prime", "To be",
            "--temperature", 0.5, "--top-p", 0.9)
    assert p.returncode == 0 and p.stdout.startswith("To be") and len(p.stdout) == 26


@pytest.mark.parametrize("args, message", [
    (["sample", "-n", 0], "must be a positive integer"),
    (["sample", "--temperature", 0], "temperature must be a finite number > 0"),
    (["sample", "--top-p", 1.5], "top_p must be a number in (0, 1]"),
    (["sample", "--prime", "Tobe€"], "not in the vocabulary: '€'"),
])
def test_bad_sample_arguments(trained, args, message):
    d = trained[0]
    r = cli(*args[:1], "--checkpoint", d / "run" / "best.npz", *args[1:])
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_sample_beam_is_the_beam_search_of_the_saved_model(trained):
    import numpy as np

    from charrnn.model.sampling import beam_search, prime
    from charrnn.training.checkpoint import load_model

    d = trained[0]
    model = load_model(d / "run" / "best.npz")
    r = cli("sample", "--checkpoint", d / "run" / "best.npz", "-n", 60, "--beam", 4)
    assert r.returncode == 0, r.stderr
    seq, score = beam_search(model.params, model.hprev, model.x0, 60, 4)
    assert r.stdout == model.vocab.decode(seq) + "\n"
    assert r.stderr == f"charrnn: beam 4: mean log-probability {score:.4f} nats per character " \
                       f"({score / np.log(2):.4f} bits)\n"
    p = cli("sample", "--checkpoint", d / "run" / "best.npz", "-n", 30, "--beam", 1,
            "--prime", "Whether")
    h, x0 = prime(model.params, model.vocab.encode("Whether"))
    assert p.stdout == "Whether" + model.vocab.decode(beam_search(model.params, h, x0, 30, 1)[0]) + "\n"


def test_prime_file_is_the_same_as_prime(trained, tmp_path):
    d = trained[0]
    f = tmp_path / "prime.txt"
    f.write_text("To be,\nor", encoding="utf-8")  # a newline inside, none at the end
    for extra in ([], ["--seed", 3, "--temperature", 0.7], ["--beam", 3]):
        a = cli("sample", "--checkpoint", d / "run" / "best.npz", "-n", 40, "--prime-file", f, *extra)
        b = cli("sample", "--checkpoint", d / "run" / "best.npz", "-n", 40, "--prime", "To be,\nor",
                *extra)
        assert a.returncode == 0 and a.stdout == b.stdout and a.stdout.startswith("To be,\nor"), extra
        assert len(a.stdout) == len("To be,\nor") + 40 + 1


@pytest.mark.slow  # runs the command line once per bad input (about 10 s)
def test_bad_beam_and_prime_file_arguments_fail_before_any_work(trained, tmp_path):
    d = trained[0]
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    bom = tmp_path / "bom.txt"
    bom.write_text("\ufeff", encoding="utf-8")
    euro = tmp_path / "euro.txt"
    euro.write_text("Tobe€", encoding="utf-8")
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("To bü".encode("latin-1"))
    cases = [
        (["--beam", 0], "--beam must be a positive integer (>= 1), got 0"),
        (["--beam", 3, "--temperature", 1], "--temperature cannot be used with --beam"),
        (["--beam", 3, "--top-p", 0.9, "--seed", 0], "--top-p and --seed cannot be used with --beam"),
        (["--beam", 10**6, "-n", 10**9], "lower -n or --beam"),
        (["--prime", "To", "--prime-file", euro], "argument --prime-file: not allowed with argument --prime"),
        (["--prime-file", tmp_path / "nope.txt"], f"--prime-file not found: {tmp_path / 'nope.txt'}"),
        (["--prime-file", tmp_path], f"expected a --prime-file but {tmp_path} is a directory"),
        (["--prime-file", empty], f"--prime-file: text file is empty: {empty}"),
        (["--prime-file", bom], f"--prime-file: {bom} holds no text"),
        (["--prime-file", latin], "is not valid UTF-8: byte 0xfc at byte offset 4"),
        (["--prime-file", euro], "not in the vocabulary: '€'"),  # as --prime says it
    ]
    for args, message in cases:
        # a missing checkpoint: the argument's own error shows that it was checked first
        checkpoint = tmp_path / "none.npz" if "vocabulary" not in message else d / "run" / "best.npz"
        r = cli("sample", "--checkpoint", checkpoint, *args)
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and not r.stdout, (args, r.stderr)


@pytest.mark.slow  # runs the command line once per bad input (about 9 s)
def test_bad_training_input_fails_before_any_work(tmp_path, trained):
    d, text, _ = trained
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("Oü est Madame Maxime".encode("latin-1"))
    short = tmp_path / "short.txt"
    short.write_text("abc", encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    cases = [
        (["--data", tmp_path / "nope.txt"], "not found"),
        (["--data", tmp_path], "is a directory"),
        (["--data", empty], "empty"),
        (["--data", latin], "byte offset 1"),
        (["--data", short], "at least 26 are needed"),
        (["--data", text, "--m", 0], "m must be a positive integer"),
        (["--data", text, "--seq-length", -3], "seq_length must be a positive integer"),
        (["--data", text, "--eta", 0], "eta must be a finite number > 0"),
        (["--data", text, "--n-updates", 0], "n_updates must be a positive integer"),
    ]
    for args, message in cases:
        out = tmp_path / "out"
        r = cli("train", *args, "--out", out)
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
        assert not out.exists(), args  # nothing written
    # a folder that holds another run is refused unless --resume or --force
    r = cli("train", "--data", text, "--n-updates", 10, "--seed", 9, "--out", d / "run")
    assert r.returncode == 2 and "holds a different run (m 100 (the folder has 16)" in r.stderr
    assert "--force" in r.stderr
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text('{"seed": 123}')
    (other / "metrics.json").write_text('{}')  # a finished run
    r = cli("train", "--data", text, "--n-updates", 10, "--out", other)
    assert r.returncode == 2 and "holds a different run" in r.stderr
    unfinished = tmp_path / "unfinished"  # a run that never finished an update: reused
    unfinished.mkdir()
    (unfinished / "config.json").write_text('{"seed": 123}')
    r = cli("train", "--data", text, "--n-updates", 10, "--out", unfinished)
    assert r.returncode == 0, r.stderr


def test_gradcheck_json(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text(TEXT, encoding="utf-8")
    r = cli("gradcheck", "--data", text, "--json", tmp_path / "g.json", "--no-numeric")
    assert r.returncode == 0, r.stderr
    g = json.loads((tmp_path / "g.json").read_text())
    for preset in ("adam", "adagrad"):
        for name in ("b", "c", "U", "W", "V"):
            row = g[preset]["torch"][name]
            assert set(row) >= {"shape", "max_abs_diff", "max_rel_err", "mean_rel_err"}
            assert row["max_rel_err"] <= 1e-10
    assert g["adam"]["torch"]["U"]["shape"] == [10, len(set(TEXT))]


def test_help():
    for cmd in ("train", "sample", "gradcheck", "evaluate", "pdf"):
        r = cli(cmd, "--help")
        assert r.returncode == 0 and "usage" in r.stdout


def test_dynamic_reads_the_first_chars_of_each_text_when_told(trained):
    d, text = trained[0], trained[1]
    ck = d / "run" / "best.npz"
    full = cli("dynamic", "--checkpoint", f"tiny={ck}", "--data", text, "--json", d / "dyn.json")
    assert full.returncode == 0, full.stderr
    part = cli("dynamic", "--checkpoint", f"tiny={ck}", "--data", text, "--chars", 10,
               "--json", d / "dyn10.json")
    assert part.returncode == 0, part.stderr
    a, b = json.loads((d / "dyn.json").read_text()), json.loads((d / "dyn10.json").read_text())
    assert a["validation"][1] == a["test"][0] and a["test"][1] == len(TEXT)  # all of each
    assert b["validation"] == [a["validation"][0], a["validation"][0] + 10]
    assert b["test"] == [a["test"][0], a["test"][0] + 10]
    assert b["models"][0]["static"] != a["models"][0]["static"]  # another text was scored
    bad = cli("dynamic", "--checkpoint", ck, "--data", text, "--chars", 0)
    assert bad.returncode != 0 and "--chars" in bad.stderr and "Traceback" not in bad.stderr
    # --select-chars: the rate is chosen on the first N validation characters, the test text is
    # read whole (the same static loss); --chars limits both further
    sel = cli("dynamic", "--checkpoint", f"tiny={ck}", "--data", text, "--select-chars", 7,
              "--json", d / "dyn7.json")
    assert sel.returncode == 0, sel.stderr
    c = json.loads((d / "dyn7.json").read_text())
    assert c["validation"] == [a["validation"][0], a["validation"][0] + 7]
    assert c["test"] == a["test"] and c["models"][0]["static"] == a["models"][0]["static"]
    both = cli("dynamic", "--checkpoint", f"tiny={ck}", "--data", text, "--select-chars", 7,
               "--chars", 5, "--json", d / "dyn75.json")
    assert both.returncode == 0, both.stderr
    assert json.loads((d / "dyn75.json").read_text())["validation"][1] == a["validation"][0] + 5
    bad = cli("dynamic", "--checkpoint", ck, "--data", text, "--select-chars", 0)
    assert bad.returncode != 0 and "--select-chars" in bad.stderr and "Traceback" not in bad.stderr
