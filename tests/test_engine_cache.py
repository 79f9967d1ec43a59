"""The numba engine where numba finds no writable folder for its cache (issue 14).

numba raises ``RuntimeError: cannot cache function ...: no locator available`` when a function
decorated with ``cache=True`` has no writable cache folder (the source's ``__pycache__``, the
user's cache folder, ``NUMBA_CACHE_DIR``). The tests run as root, where permissions do not bite, so
a subprocess makes numba's locators refuse before charrnn.training.engine is imported, then trains a tiny
run with ``charrnn train``.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

TEXT = ("It was a bright cold day in April, and the clocks were striking thirteen. "
        "Harry looked at the clock; the clock looked at Harry.\n") * 30

#: Run in a subprocess: numba's locators refuse as for a read-only source folder and home folder
#: (``temp``: NUMBA_CACHE_DIR, which charrnn sets for its fallback, still works; ``none``: it refuses
#: too), then ``charrnn train`` with the arguments in sys.argv[2:].
SCRIPT = """
import sys
import numba.core.caching as caching

class Refuses(caching.InTreeCacheLocator):
    @classmethod
    def from_function(cls, py_func, py_file):
        return None

kind = sys.argv[1]
if kind != "normal":
    keep = [caching.UserProvidedCacheLocator] if kind == "temp" else []
    caching.CacheImpl._locator_classes = keep + [Refuses]
from charrnn.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _train(kind, tmp_path):
    """``(completed process, run folder)`` of a 300-update run with numba's locators ``kind``."""
    text = tmp_path / "t.txt"
    if not text.exists():
        text.write_text(TEXT, encoding="utf-8")
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    run = tmp_path / f"run-{kind}"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(TMPDIR=str(tmp), TQDM_DISABLE="1")
    args = ["train", "--data", str(text), "--n-updates", "300", "--m", "8", "--log-every", "1",
            "--sample-every", "100", "--engine", "numba", "--seed", "3", "--out", str(run)]
    out = subprocess.run([sys.executable, "-c", SCRIPT, kind, *args], capture_output=True,
                         text=True, env=env, timeout=600)
    return out, run


def _same_numbers(run, ref):
    """Every loss (update by update) and every parameter of the best model are equal, bit for bit."""
    assert (run / "history.csv").read_text() == (ref / "history.csv").read_text()
    with np.load(run / "best.npz") as a, np.load(ref / "best.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            assert np.array_equal(a[k], b[k]), k


def _notes(stderr):
    return [line for line in stderr.splitlines() if line.startswith("charrnn: note: numba")]


@pytest.mark.slow
def test_no_cache_folder_falls_back_to_the_temporary_folder(tmp_path):
    out, run = _train("temp", tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    folder = tmp_path / "tmp" / f"charrnn-numba-cache-{os.getuid()}"
    notes = _notes(out.stderr)
    assert len(notes) == 1, out.stderr
    assert str(folder) in notes[0] and "NUMBA_CACHE_DIR" in notes[0]
    # the kernels were cached there: a second process loads them
    assert len(list(folder.rglob("engine._advance-*.nbi"))) == 1
    assert list(folder.rglob("engine._advance-*.nbc"))
    ref_out, ref = _train("normal", tmp_path)
    assert ref_out.returncode == 0, ref_out.stderr
    assert not _notes(ref_out.stderr)
    _same_numbers(run, ref)


@pytest.mark.slow
def test_no_writable_folder_at_all_compiles_without_a_cache(tmp_path):
    out, run = _train("none", tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    notes = _notes(out.stderr)
    assert len(notes) == 1 and "compiled anew" in notes[0] and "NUMBA_CACHE_DIR" in notes[0], \
        out.stderr
    assert not list((tmp_path / "tmp").rglob("*.nbi"))
    ref_out, ref = _train("normal", tmp_path)
    assert ref_out.returncode == 0, ref_out.stderr
    _same_numbers(run, ref)
