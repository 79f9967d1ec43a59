"""Speed benchmark: training updates per second of several implementations, side by side.

Each implementation runs in its own subprocess with ``OMP_NUM_THREADS=1`` and
``OPENBLAS_NUM_THREADS=1`` (and ``torch.set_num_threads(1)``), on the same text, from the same
starting parameters (``init_params`` with the same seed), with the handout's settings (m = 100,
seq_length = 25, Adam, float64 unless stated). Implementations:

* ``classic``: the per-time-step loop of the well-known minimal char-RNN scripts
  (``classic.py`` beside this file, one-hot column vectors): the anchor of the ratios;
* ``numpy``: the readable vectorized reference (:mod:`charrnn.model.rnn`, :mod:`charrnn.model.optim`);
* ``numba``: the compiled training loop (:mod:`charrnn.training.engine`), compile time reported apart;
* ``torch64`` / ``torch32``: PyTorch ``nn.RNN`` + ``nn.Linear`` + ``torch.optim.Adam`` at batch 1,
  float64 and float32, the same equations (``bias_hh`` fixed at 0).

Before timing, every implementation's losses of the first ``n_check`` updates are compared with
the NumPy reference's. Timing: ``reps`` repetitions of ``n_updates`` updates each (continuing the
same run), median updates/s. Also the time to sample 1,000 characters.

    .venv/bin/python benchmarks/bench.py [--data PATH] [--n-updates 2000] [--reps 5] [--json PATH]

This script lives outside the package: charrnn itself never imports it, or torch for it.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["IMPLEMENTATIONS", "run_benchmark", "format_table", "worker"]

IMPLEMENTATIONS = ("classic", "numpy", "numba", "torch64", "torch32")
M, SEQ_LENGTH = 100, 25


def _setup(data: str, seed: int):
    from charrnn.model.data import Vocabulary, read_text
    from charrnn.model.rnn import init_params

    text = read_text(data, min_length=SEQ_LENGTH + 1)
    vocab = Vocabulary.from_text(text)
    book = vocab.encode(text)
    flat, params = init_params(vocab.K, M, np.random.default_rng(seed))
    return book, vocab.K, flat, params


def _runner_charrnn(engine: str, book, K, flat, params):
    from charrnn.model.optim import Adam
    from charrnn.training import engine as eng
    from charrnn.training.config import TrainConfig
    from charrnn.training.orders import Reader
    from charrnn.training.state import Best, TrainState
    from charrnn.training.train import advance_numpy

    cfg = TrainConfig(m=M, seq_length=SEQ_LENGTH, engine=engine)
    state = TrainState(flat=flat, params=params, optimizer=Adam(flat.size), hprev=np.zeros((1, M)),
                       best_smooth=Best(flat.copy(), np.zeros(M), "smooth_loss"))
    advance = eng.advance if engine == "numba" else advance_numpy

    reader = Reader(len(book), SEQ_LENGTH)

    def run(n):
        losses, smooth = np.empty(n), np.empty(n)
        starts, resets, _ = reader.next(n)
        advance(state, book, cfg, starts, resets, np.full(n, cfg.eta), losses, smooth,
                np.empty(n))
        return losses

    def sample():
        from charrnn.model.sampling import synthesize

        return synthesize(state.params, state.hprev[0], int(book[0]), 1000,
                          np.random.default_rng(0))

    return run, sample


def _runner_classic(book, K, flat, params):
    import classic  # classic.py beside this script (its folder is on sys.path)

    P = classic.from_charrnn(params)
    st = classic.new_state(P)
    pos = {"e": 0, "h": np.zeros(M)}

    def run(n):
        losses = np.empty(n)
        for i in range(n):
            if pos["e"] > len(book) - SEQ_LENGTH - 1:
                pos["e"], pos["h"] = 0, np.zeros(M)
            e = pos["e"]
            losses[i], pos["h"], _ = classic.classic_update(
                P, book[e : e + SEQ_LENGTH], book[e + 1 : e + SEQ_LENGTH + 1], pos["h"], st)
            pos["e"] = e + SEQ_LENGTH
        return losses

    def sample():  # the classic per-step sampler: one-hot column input, np.random.choice
        rng = np.random.default_rng(0)
        h = pos["h"].reshape(M, 1)
        x = np.zeros((K, 1))
        x[book[0]] = 1
        out = []
        for _ in range(1000):
            h = np.tanh(P["U"] @ x + P["W"] @ h + P["b"])
            o = P["V"] @ h + P["c"]
            p = np.exp(o - o.max()) / np.sum(np.exp(o - o.max()))
            ix = rng.choice(K, p=p.ravel())
            x = np.zeros((K, 1))
            x[ix] = 1
            out.append(ix)
        return out

    return run, sample


def _runner_torch(dtype_name: str, book, K, flat, params):
    import torch

    torch.set_num_threads(1)
    dtype = torch.float64 if dtype_name == "torch64" else torch.float32
    rnn = torch.nn.RNN(K, M, nonlinearity="tanh", bias=True, dtype=dtype)
    out = torch.nn.Linear(M, K, dtype=dtype)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.as_tensor(params["U"]))
        rnn.weight_hh_l0.copy_(torch.as_tensor(params["W"]))
        rnn.bias_ih_l0.copy_(torch.as_tensor(params["b"]))
        rnn.bias_hh_l0.zero_()
        out.weight.copy_(torch.as_tensor(params["V"]))
        out.bias.copy_(torch.as_tensor(params["c"]))
    rnn.bias_hh_l0.requires_grad_(False)  # one bias b, as in the handout
    trainable = [rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, out.weight, out.bias]
    opt = torch.optim.Adam(trainable, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    book_t = torch.as_tensor(book.astype(np.int64))  # indices: long, not uint8 (a mask)
    eye = torch.eye(K, dtype=dtype)
    pos = {"e": 0, "h": torch.zeros(1, 1, M, dtype=dtype)}

    def run(n):
        losses = np.empty(n)
        for i in range(n):
            if pos["e"] > len(book) - SEQ_LENGTH - 1:
                pos["e"], pos["h"] = 0, torch.zeros(1, 1, M, dtype=dtype)
            e = pos["e"]
            X = eye[book_t[e : e + SEQ_LENGTH]].unsqueeze(1)  # (T, 1, K) one-hot
            Y = book_t[e + 1 : e + SEQ_LENGTH + 1]
            H, hN = rnn(X, pos["h"])
            loss = torch.nn.functional.cross_entropy(out(H.squeeze(1)), Y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            pos["h"] = hN.detach()
            pos["e"] = e + SEQ_LENGTH
            losses[i] = loss.item()
        return losses

    def sample():
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            h = pos["h"]
            x = int(book[0])
            res = []
            for _ in range(1000):
                H, h = rnn(eye[x].view(1, 1, K), h)
                p = torch.softmax(out(H.view(1, M)), dim=1)
                x = int(torch.multinomial(p, 1, generator=gen))
                res.append(x)
        return res

    return run, sample


def worker(name: str, data: str, n_updates: int, reps: int, n_check: int, seed: int) -> dict:
    """Run one implementation in this process; return its measurements (see module doc)."""
    book, K, flat, params = _setup(data, seed)
    compile_s = 0.0
    if name in ("numpy", "numba"):
        if name == "numba":
            from charrnn.training.engine import compile_engine

            compile_s = compile_engine()
        run, sample = _runner_charrnn(name, book, K, flat, params)
    elif name == "classic":
        run, sample = _runner_classic(book, K, flat, params)
    elif name in ("torch64", "torch32"):
        run, sample = _runner_torch(name, book, K, flat, params)
    else:
        raise ValueError(f"unknown implementation {name!r}; expected one of {IMPLEMENTATIONS}")
    check_losses = run(n_check)  # also warms caches
    rates = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run(n_updates)
        rates.append(n_updates / (time.perf_counter() - t0))
    sample()  # warm
    t0 = time.perf_counter()
    sample()
    sample_s = time.perf_counter() - t0
    return {"check_losses": check_losses.tolist(), "updates_per_s": float(np.median(rates)),
            "updates_per_s_all": rates, "compile_s": compile_s, "sample_1000_s": sample_s}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_benchmark(data, n_updates: int = 2000, reps: int = 5, n_check: int = 20, seed: int = 1,
                  implementations=IMPLEMENTATIONS, progress=None) -> dict:
    """Run every implementation in its own single-threaded subprocess; return the results.

    Raises ``RuntimeError`` if a worker fails and ``ValueError`` for bad arguments.
    """
    from charrnn.model.data import read_text
    from charrnn.util.checks import check_positive_int

    for name, v in (("n_updates", n_updates), ("reps", reps), ("n_check", n_check)):
        check_positive_int(name, v)
    text = read_text(data, min_length=SEQ_LENGTH + 1)  # fail early on a bad file
    unknown = sorted(set(implementations) - set(IMPLEMENTATIONS))
    if unknown:
        raise ValueError(f"unknown implementation(s): {', '.join(unknown)}")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1", TQDM_DISABLE="1")
    results = {}
    for name in implementations:
        if progress:
            progress(name)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--data", os.fspath(data),
               "--n-updates", str(n_updates), "--reps", str(reps), "--n-check", str(n_check),
               "--seed", str(seed)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"benchmark worker {name} failed: {proc.stderr.strip()[-1500:]}")
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    ref = np.array(results["numpy"]["check_losses"]) if "numpy" in results else None
    anchor = results.get("classic", {}).get("updates_per_s")
    for name, r in results.items():
        losses = np.array(r.pop("check_losses"))
        r["max_abs_loss_diff_vs_numpy"] = float(np.max(np.abs(losses - ref))) \
            if ref is not None else None
        tol = 1e-3 if name == "torch32" else 1e-9
        r["agrees"] = bool(r["max_abs_loss_diff_vs_numpy"] is None
                           or r["max_abs_loss_diff_vs_numpy"] <= tol)
        r["agreement_tolerance"] = tol
        r["chars_per_s"] = r["updates_per_s"] * SEQ_LENGTH
        r["ratio_to_classic"] = r["updates_per_s"] / anchor if anchor else None
        r["projected_150k_s"] = 150_000 / r["updates_per_s"]
    from importlib.metadata import PackageNotFoundError, version

    machine = {"cpu": _cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
               "threads": "OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1, torch.set_num_threads(1)"}
    for package in ("numpy", "numba", "scipy", "torch"):  # read, not imported (torch: 2 s)
        try:
            machine[package] = version(package)
        except PackageNotFoundError:
            pass
    return {"machine": machine,
            "settings": {"m": M, "seq_length": SEQ_LENGTH, "K": len(set(text)),
                         "optimizer": "adam", "dtype": "float64",
                         "n_updates": n_updates, "reps": reps, "n_check": n_check, "seed": seed,
                         "data": os.fspath(data)},
            "results": results}


def format_table(bench: dict) -> str:
    """A plain-text table of :func:`run_benchmark`'s results."""
    head = (f"{'implementation':15} {'updates/s':>10} {'chars/s':>10} {'x classic':>9} "
            f"{'150k updates':>12} {'1000 chars':>10} {'agrees':>7}")
    lines = [head, "-" * len(head)]
    for name, r in bench["results"].items():
        ratio = f"{r['ratio_to_classic']:.1f}" if r["ratio_to_classic"] else "-"
        lines.append(f"{name:15} {r['updates_per_s']:10,.0f} {r['chars_per_s']:10,.0f} "
                     f"{ratio:>9} {r['projected_150k_s']:11,.1f}s "
                     f"{r['sample_1000_s'] * 1e3:8.1f}ms {'yes' if r['agrees'] else 'NO':>7}")
    m = bench["machine"]
    lines.append(f"CPU: {m['cpu']} ({m['cores']} cores); {m['threads']}")
    comp = bench["results"].get("numba", {}).get("compile_s")
    if comp is not None:
        lines.append(f"numba compile/cache load: {comp:.2f} s (not in the timings)")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Command line: time every implementation, print the table, optionally write JSON."""
    import argparse

    from charrnn.util.files import write_json
    from charrnn.util.paths import default_data_path

    p = argparse.ArgumentParser(prog="benchmarks/bench.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=None, help="text to train on (default as for train)")
    p.add_argument("--n-updates", type=int, default=2000, help="updates per repetition")
    p.add_argument("--reps", type=int, default=5, help="repetitions; the median is reported")
    p.add_argument("--n-check", type=int, default=20, help="updates whose losses are compared")
    p.add_argument("--seed", type=int, default=1, help="seed of the common starting point")
    p.add_argument("--only", help="comma-separated subset of " + ",".join(IMPLEMENTATIONS))
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument("--worker", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        print(json.dumps(worker(a.worker, a.data, a.n_updates, a.reps, a.n_check, a.seed)))
        return 0
    names = a.only.split(",") if a.only else list(IMPLEMENTATIONS)
    try:
        bench = run_benchmark(a.data or default_data_path(), n_updates=a.n_updates, reps=a.reps,
                              n_check=a.n_check, seed=a.seed, implementations=names,
                              progress=lambda name: print(f"timing {name} ...", file=sys.stderr))
    except ValueError as err:
        p.exit(2, f"bench: error: {err}\n")
    print(format_table(bench))
    if a.json:
        write_json(a.json, bench)
        print(f"wrote {a.json}")
    return 0 if all(r["agrees"] for r in bench["results"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
