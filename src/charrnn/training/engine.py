"""The fast training engine: the compiled copy of the training loop of :mod:`charrnn.training.train`.

This is the one labelled copy of the model's math (eqs. 1-5 and backprop through time of
:mod:`charrnn.model.rnn`, the optimizers of :mod:`charrnn.model.optim`, the update step of
:func:`charrnn.training.train.advance_numpy`), for one sequence per update, compiled with numba. Same
equations, same order of updates and the same semantics as the readable NumPy loop; tests check
that both agree to 1e-12 in loss and gradients and to 1e-9 in parameters after 1,000 Adam
updates. What makes it fast (HANDOUT bonus B-N4):

* the loop over updates runs inside compiled code: no Python overhead per update or per step;
* only the recurrence W h_{t-1} is a per-step mat-vec; U x_t is a column gather; the output layer
  O = H V^T + c, the softmax, dV = G^T H, dH = G V and dW = dA^T H_prev are single BLAS products
  over all T steps (``np.dot`` in numba calls SciPy's BLAS);
* dU is accumulated by index; the optimizer is one fused loop over the flat parameter buffer;
* all work arrays are allocated once per chunk of updates, and the parameters rotate through
  three buffers so that remembering the best model costs no copy per improvement.

Compilation (about 10 s) is cached on disk (``cache=True``), and :func:`compile_engine` lets
callers compile before they start a timer. numba keeps its cache beside this file or in the user's
cache folder; where neither is writable, the kernels are cached in a folder of the user's own under
the temporary folder (one note on stderr), or compiled without a cache when even that is not
possible. The compiled code, and so every number, is the same either way.
"""

from __future__ import annotations

import math
import os
import stat
import sys
import tempfile
import time
from types import SimpleNamespace

import numpy as np

from ..model.optim import make_optimizer
from ..model.rnn import PARAM_NAMES, param_views
from .state import SMOOTH_DECAY, SMOOTH_WEIGHT

__all__ = ["available", "require", "compile_engine", "advance", "loss_and_grads"]

try:  # numba is a pinned dependency; the NumPy engine works without it
    from numba import njit
except ImportError:  # pragma: no cover - exercised only where numba is missing
    njit = None


def available() -> bool:
    """True when numba can be imported."""
    return njit is not None


def require() -> None:
    """Raise ``ValueError`` saying how to get numba when it cannot be imported."""
    if njit is None:
        raise ValueError("engine 'numba' needs the numba package (pip install numba==0.68.1); "
                         "or use engine='numpy'")


#: numba's error when none of its cache locators finds a writable folder (raised by ``njit(cache=True)``)
_NO_LOCATOR = "no locator available"
#: ``{"dir": folder}`` once numba found no cache folder of its own: the fallback folder, or None
_fallback: dict = {}


def _temp_cache_dir() -> str | None:
    """A cache folder of this user's own under the temporary folder; None when there is none.

    The folder is created with mode 0700; one that exists but belongs to someone else, or that
    others can write to, is not used (numba loads its files as compiled code).
    """
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    try:
        path = os.path.join(tempfile.gettempdir(), f"charrnn-numba-cache-{user}")
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return None
    if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o022):
        return None
    return path


def _njit_in(folder: str | None, func, options: dict):
    """``njit(cache=True)`` with numba's cache in ``folder`` (its ``NUMBA_CACHE_DIR`` setting,
    for this function only); without a cache when ``folder`` is None or not usable."""
    if folder is not None:
        from numba.core import config  # noqa: PLC0415 (numba: optional, imported by the numba engine only)

        saved = config.CACHE_DIR
        config.CACHE_DIR = folder  # read once, when the function's cache is set up
        try:
            return njit(cache=True, **options)(func)
        except RuntimeError as err:
            if _NO_LOCATOR not in str(err):
                raise
            _fallback["dir"] = None
        finally:
            config.CACHE_DIR = saved
    return njit(**options)(func)


def _cached_njit(**options):
    """``numba.njit(cache=True, **options)``, falling back to another cache folder, or none.

    numba raises ``RuntimeError: cannot cache function ...: no locator available`` when the
    function is decorated, if neither ``NUMBA_CACHE_DIR``, the source's ``__pycache__`` nor the
    user's cache folder is writable. Then the kernels are cached in :func:`_temp_cache_dir`, or
    compiled anew in each process; one ``charrnn: note:`` line on stderr says which.
    """

    def decorate(func):
        if "dir" in _fallback:
            return _njit_in(_fallback["dir"], func, options)
        try:
            return njit(cache=True, **options)(func)
        except RuntimeError as err:
            if _NO_LOCATOR not in str(err):
                raise
        folder = _fallback["dir"] = _temp_cache_dir()
        dispatcher = _njit_in(folder, func, options)
        if _fallback["dir"] is not None:
            print(f"charrnn: note: numba cannot write its cache beside charrnn's source or in your "
                  f"home folder; the compiled engine is cached in {folder} (set NUMBA_CACHE_DIR "
                  f"to a writable folder to choose another)", file=sys.stderr)
        else:
            print("charrnn: note: numba finds no writable folder for its cache (not even in the "
                  "temporary folder); the engine is compiled anew in each process (about 10 s): "
                  "set NUMBA_CACHE_DIR to a writable folder to keep it", file=sys.stderr)
        return dispatcher

    return decorate


if njit is not None:

    @_cached_njit(error_model="numpy")
    def _seq_loss_grads(x, y, hprev, b, c, U, W, V, mean, gb, gc, gU, gW, gV, H, Hp, G, dA,
                        hlast):
        """Forward + backward of one sequence; writes gradients into gb..gV (zeroed here).

        x, y (T,) int64; hprev (m,); H, Hp, dA (T, m) and G (T, K) are work arrays.
        Returns the loss; hlast (m,) receives h_T.
        """
        T = x.shape[0]
        m = b.shape[0]
        K = c.shape[0]
        # forward recurrence: a_t = W h_{t-1} + U[:, x_t] + b, h_t = tanh(a_t)   (eqs. 1-2)
        a = np.empty(m)
        for i in range(m):
            Hp[0, i] = hprev[i]
        for t in range(T):
            np.dot(W, Hp[t], a)
            xt = x[t]
            for i in range(m):
                v = math.tanh(a[i] + U[i, xt] + b[i])
                H[t, i] = v
                if t + 1 < T:
                    Hp[t + 1, i] = v
        # output layer for all steps at once: O = H V^T + c, softmax   (eqs. 3-4)
        O = np.empty((T, K))
        np.dot(H, V.T, O)
        loss = 0.0
        for t in range(T):
            mx = -np.inf
            for k in range(K):
                O[t, k] += c[k]
                if O[t, k] > mx:
                    mx = O[t, k]
            z = 0.0
            for k in range(K):
                e = math.exp(O[t, k] - mx)
                G[t, k] = e
                z += e
            for k in range(K):
                G[t, k] /= z
            loss -= math.log(G[t, y[t]])
            G[t, y[t]] -= 1.0  # G = dL/do_t = p_t - onehot(y_t)
        scale = 1.0 / T if mean else 1.0
        if mean:
            loss *= scale
            for t in range(T):
                for k in range(K):
                    G[t, k] *= scale
        # output-layer gradients as single products over all steps
        np.dot(G.T, H, gV)
        for k in range(K):
            s = 0.0
            for t in range(T):
                s += G[t, k]
            gc[k] = s
        dH = np.empty((T, m))
        np.dot(G, V, dH)  # (T, m)
        # backprop through time
        da = np.zeros(m)
        r = np.empty(m)
        for t in range(T - 1, -1, -1):
            if t < T - 1:
                np.dot(da, W, r)  # W^T da
                for i in range(m):
                    dH[t, i] += r[i]
            for i in range(m):
                da[i] = dH[t, i] * (1.0 - H[t, i] * H[t, i])
                dA[t, i] = da[i]
        np.dot(dA.T, Hp, gW)
        gU[:, :] = 0.0
        for i in range(m):
            s = 0.0
            for t in range(T):
                s += dA[t, i]
            gb[i] = s
        for t in range(T):
            xt = x[t]
            for i in range(m):
                gU[i, xt] += dA[t, i]
        for i in range(m):
            hlast[i] = H[T - 1, i]
        return loss

    @_cached_njit(error_model="numpy")
    def _sum_squares(g):
        """sum_j g_j^2 in eight interleaved partial sums, which the compiler can vectorize (a
        single running sum cannot be reordered, and took 6% of an update's time)."""
        n = g.shape[0]
        n8 = n - n % 8
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
        for j in range(0, n8, 8):
            s0 += g[j] * g[j]
            s1 += g[j + 1] * g[j + 1]
            s2 += g[j + 2] * g[j + 2]
            s3 += g[j + 3] * g[j + 3]
            s4 += g[j + 4] * g[j + 4]
            s5 += g[j + 5] * g[j + 5]
            s6 += g[j + 6] * g[j + 6]
            s7 += g[j + 7] * g[j + 7]
        sq = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
        for j in range(n8, n):
            sq += g[j] * g[j]
        return sq

    @_cached_njit(error_model="numpy", inline="never")
    def _optimizer_step(src, dst, g, ostate1, ostate2, opt_kind, eta, beta1, beta2, eps, t_opt):
        """One Adam (opt_kind 0) or AdaGrad (1) step: dst = src - update(g), out of place.

        A separate, non-inlined function so that LLVM sees simple loops and vectorizes them.
        Adam's bias corrections are folded into two scalars: one division and one sqrt per entry.
        """
        nparam = src.shape[0]
        if opt_kind == 0:
            step = eta / (1.0 - beta1**t_opt)
            rsqrt_c2 = 1.0 / math.sqrt(1.0 - beta2**t_opt)
            for j in range(nparam):
                gj = g[j]
                mj = beta1 * ostate1[j] + (1.0 - beta1) * gj
                vj = beta2 * ostate2[j] + (1.0 - beta2) * (gj * gj)
                ostate1[j] = mj
                ostate2[j] = vj
                dst[j] = src[j] - step * mj / (math.sqrt(vj) * rsqrt_c2 + eps)
        else:
            for j in range(nparam):
                gj = g[j]
                Gj = ostate1[j] + gj * gj
                ostate1[j] = Gj
                dst[j] = src[j] - eta * gj / math.sqrt(Gj + eps)

    @_cached_njit(error_model="numpy")
    def _advance(book, starts, resets, etas, s, update, smooth, hprev, flat, K, m,
                 g, gb, gc, gU, gW, gV, opt_kind, beta1, beta2, eps, ostate1, ostate2,
                 t_opt, clip, mean, best_smooth, best_flat, best_hprev, best_x0,
                 best_update, loss_out, smooth_out, gnorm_out):
        """``n`` updates; parameters rotate through three buffers, so that keeping the best
        model costs no copy per improvement: the optimizer writes the new parameters into a
        buffer that holds neither the current nor the best ones."""
        n = starts.shape[0]
        nparam = flat.shape[0]
        o_c, o_U = m, m + K
        o_W = o_U + m * K
        o_V = o_W + m * m
        bufs = np.empty((3, nparam))
        bufs[0, :] = flat
        cur = 0
        best = -1  # -1: the best parameters are still those in best_flat
        H = np.empty((s, m))
        Hp = np.empty((s, m))
        G = np.empty((s, K))
        dA = np.empty((s, m))
        hlast = np.empty(m)
        for it in range(n):
            e = starts[it]
            if resets[it]:  # a new epoch or chunk starts from h = 0 (HANDOUT req. 13)
                hprev[:] = 0.0
            p = bufs[cur]
            b = p[0:o_c]
            c = p[o_c:o_U]
            U = p[o_U:o_W].reshape((m, K))
            W = p[o_W:o_V].reshape((m, m))
            V = p[o_V:nparam].reshape((K, m))
            x = book[e : e + s]
            y = book[e + 1 : e + s + 1]
            loss = _seq_loss_grads(x, y, hprev, b, c, U, W, V, mean, gb, gc, gU, gW, gV,
                                   H, Hp, G, dA, hlast)
            gnorm_out[it] = math.sqrt(_sum_squares(g))  # the gradient's L2 norm, before clipping
            if clip > 0.0:
                for j in range(nparam):
                    if g[j] > clip:
                        g[j] = clip
                    elif g[j] < -clip:
                        g[j] = -clip
            if update == 0:
                smooth = loss
            else:
                smooth = SMOOTH_DECAY * smooth + SMOOTH_WEIGHT * loss
            if smooth < best_smooth:
                best_smooth = smooth
                best = cur
                best_hprev[:] = hprev
                best_x0 = x[0]
                best_update = update + 1
            nxt = 0
            while nxt == cur or nxt == best:
                nxt += 1
            t_opt += 1
            _optimizer_step(bufs[cur], bufs[nxt], g, ostate1, ostate2, opt_kind, etas[it],
                            beta1, beta2, eps, t_opt)
            cur = nxt
            hprev[:] = hlast
            update += 1
            loss_out[it] = loss
            smooth_out[it] = smooth
        flat[:] = bufs[cur]
        if best >= 0:
            best_flat[:] = bufs[best]
        return update, smooth, t_opt, best_smooth, best_x0, best_update


def _views(flat: np.ndarray, K: int, m: int):
    views = param_views(flat, K, m)
    return [views[k] for k in PARAM_NAMES]


def loss_and_grads(params, x, y, h0, reduction: str = "mean"):
    """``(loss, grads, h_last)`` of one sequence from the compiled kernel (for tests).

    Same contract as :func:`charrnn.model.rnn.loss_and_grads` for one sequence: ``x``, ``y`` (T,),
    ``h0`` (m,).
    """
    require()
    b, c, U, W, V = (np.ascontiguousarray(params[k], dtype=np.float64)
                     for k in ("b", "c", "U", "W", "V"))
    K, m = c.shape[0], b.shape[0]
    g = np.zeros(b.size + c.size + U.size + W.size + V.size)
    gb, gc, gU, gW, gV = _views(g, K, m)
    x = np.ascontiguousarray(x, dtype=np.int64)
    y = np.ascontiguousarray(y, dtype=np.int64)
    T = len(x)
    hlast = np.empty(m)
    loss = _seq_loss_grads(x, y, np.asarray(h0, dtype=np.float64), b, c, U, W, V,
                           reduction == "mean", gb, gc, gU, gW, gV, np.empty((T, m)),
                           np.empty((T, m)), np.empty((T, K)), np.empty((T, m)), hlast)
    return loss, {"b": gb, "c": gc, "U": gU, "W": gW, "V": gV}, hlast


def _run(book, starts, resets, etas, s, update, smooth, hprev, flat, K, m, opt, clip, mean,
         best, loss_out, smooth_out, gnorm_out):
    """Call the compiled loop on plain arrays; returns its scalars (see :func:`advance`)."""
    g = np.zeros_like(flat)
    gb, gc, gU, gW, gV = _views(g, K, m)
    if opt.name == "adam":
        kind, s1, s2 = 0, opt.m, opt.v
    else:
        kind, s1, s2 = 1, opt.G, np.zeros(1)
    return _advance(book, np.ascontiguousarray(np.asarray(starts).reshape(-1), dtype=np.int64),
                    np.ascontiguousarray(np.asarray(resets).reshape(-1), dtype=np.bool_),
                    np.ascontiguousarray(etas, dtype=np.float64), s, update, smooth, hprev,
                    flat, K, m, g, gb, gc, gU, gW, gV, kind, float(getattr(opt, "beta1", 0.0)),
                    float(getattr(opt, "beta2", 0.0)), float(opt.eps), s1, s2, opt.t,
                    float(clip or 0.0), mean, float(best.loss), best.flat, best.hprev,
                    best.x0, best.update, loss_out, smooth_out, gnorm_out)


def advance(state, book, cfg, starts, resets, etas, loss_out, smooth_out, gnorm_out) -> None:
    """Run ``len(starts)`` updates of ``state`` (a :class:`charrnn.training.state.TrainState`, B = 1)
    in compiled code: update i reads ``book[starts[i]:starts[i]+seq_length]``, from h = 0 when
    ``resets[i]``, with learning rate ``etas[i]`` (``starts``, ``resets`` of shape (n,) or
    (n, 1)). Same contract as :func:`charrnn.training.train.advance_numpy`.
    """
    require()
    K = state.params["c"].shape[0]
    opt, best = state.optimizer, state.best_smooth
    out = _run(book, starts, resets, etas, cfg.seq_length, state.update,
               float(state.smooth_loss) if state.update else 0.0, state.hprev[0], state.flat,
               K, cfg.m, opt, cfg.grad_clip, cfg.loss == "mean", best, loss_out, smooth_out,
               gnorm_out)
    update, smooth, t_opt, best_smooth, best_x0, best_update = out
    state.update, opt.t = int(update), int(t_opt)
    state.smooth_loss = float(smooth)
    best.loss, best.x0, best.update = float(best_smooth), int(best_x0), int(best_update)


def compile_engine() -> float:
    """Compile (or load from the on-disk cache) the kernels; return the seconds it took.

    Runs two Adam and two AdaGrad updates of a model with K = 3, m = 2 on a five-character
    text encoded as uint8 (texts with K > 256 compile their own version on first use), so
    nothing is compiled inside a timed loop.
    """


    require()
    t0 = time.perf_counter()
    book = np.array([0, 1, 2, 0, 1], dtype=np.uint8)  # Vocabulary.encode's dtype for K <= 256
    K, m, s = 3, 2, 2
    n = m + K + 2 * m * K + m * m
    for name in ("adam", "adagrad"):
        flat = np.full(n, 0.1)
        best = SimpleNamespace(flat=flat.copy(), hprev=np.zeros(m), x0=0, update=0,
                               loss=float("inf"))
        _run(book, np.array([0, 2]), np.array([True, False]), np.full(2, 1e-3), s, 0, 0.0,
             np.zeros(m), flat, K, m, make_optimizer(name, n, 1e-3), None, name == "adam", best,
             np.empty(2), np.empty(2), np.empty(2))
    return time.perf_counter() - t0
