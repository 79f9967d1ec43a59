"""A sweep's jobs on Dask distributed: the job on a worker, and the client that writes the runs.

Engine: an in-process ``LocalCluster`` (worker processes, one thread each, BLAS limited to one
thread: ``OMP_NUM_THREADS`` and friends before the worker starts, threadpoolctl around the job), or
an existing scheduler (``dask scheduler`` and ``dask worker``, or dask-jobqueue's SLURMCluster).
Dask re-runs a job whose worker died (``distributed.scheduler.allowed-failures``, 3 by default);
since the seed fixes everything, the re-run gives the same run to the bit.

Workers need not share the client's files: the text travels once to the cluster (one task that
holds it; jobs depend on it, so a worker fetches it from another worker), a job trains in a
temporary folder of its worker (:func:`run_job`) and returns the run's files as bytes, and the
client alone writes the run folder ``OUT/NAME/`` (:func:`charrnn.studies.sweep_results.install`: a
temporary folder renamed into place) holding ``OUT/.lock`` (one sweep per folder). A finished run of
the same settings, text md5 and training code is reused (:func:`~charrnn.studies.sweep_results.finished`):
a sweep run again trains only what is missing. A worker whose training code hash differs refuses
the job. Ctrl-C is the client's: local workers ignore it (:func:`dask_setup`), the client stops them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import platform
import signal
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import dask
from distributed import Client, LocalCluster, get_worker, wait
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from ..training.config import TrainConfig, changed_settings
from ..training.runs import acquire, check_folder, run_config, save_run, start_run
from ..training.train import Trainer, TrainingDiverged
from ..util.checks import check_positive_int
from .sweep import Job
from .sweep_results import finished, install, remove_temporaries, result_row, write_results

__all__ = ["SweepInterrupted", "SweepOutcome", "run_job", "dask_setup", "open_client", "run_sweep"]

#: Environment of local worker processes, set before they start (BLAS reads it once).
BLAS_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
CONNECT_TIMEOUT = 5  # seconds to reach a scheduler


class SweepInterrupted(Exception):
    """Ctrl-C of the client: ``done`` runs of ``total`` are in the folder, the others stopped."""

    def __init__(self, out, done: int, total: int):
        self.done, self.total = done, total
        super().__init__(f"sweep interrupted: {done} of {total} runs finished and kept in {out}; "
                         "the same command trains the rest")


@dataclass
class SweepOutcome:
    """What :func:`run_sweep` did: ``rows`` (results rows of the finished runs, in the spec's
    order), ``failed`` (``(name, folder, reason)``), runs ``trained`` and ``reused``."""

    rows: list[dict]
    failed: list[tuple[str, Path, str]] = field(default_factory=list)
    trained: int = 0
    reused: int = 0


# ---------------------------------------------------------------------- on a worker
def _same_run(have: dict, want: dict, worker_code: str | None) -> None:
    """Refuse (``ValueError``) unless the worker's ``config.json`` ``have`` is the client's ``want``."""
    mine = worker_code or have.get("code")
    if mine != want.get("code"):
        raise ValueError(f"the charrnn on worker {platform.node()} differs from the client's: "
                         f"training code hash {mine} on the worker, {want.get('code')} on the "
                         "client; install the same charrnn on every worker")
    have, want = json.loads(json.dumps(have)), json.loads(json.dumps(want))
    diff = changed_settings(want, have, may_change=(), has="the client has",
                            names=[k for k in dict.fromkeys([*want, *have]) if k != "data"])
    if diff:
        raise ValueError("the worker makes another run of these settings: " + ", ".join(diff))


def _train_vanilla(payload: dict, text: str, folder: Path, worker_code) -> None:
    cfg, want = TrainConfig(**payload["settings"]), payload["want"]
    trainer = Trainer(text, cfg)
    have = run_config(cfg, want["data"], trainer.text_md5, len(text))
    _same_run(have, want, worker_code)
    with start_run(folder, have, force=True) as start:
        result = trainer.run(checkpoint=start.checkpoint, checkpoint_every=cfg.n_updates)
        save_run(result, folder, want["data"])


def _train_gated(payload: dict, text: str, folder: Path, worker_code) -> None:
    from .baselines import BaselineConfig, BaselineDiverged, train_baseline  # noqa: PLC0415 (torch)
    from .baselines_io import BASELINE_RESULTS, save_baseline  # noqa: PLC0415

    settings = BaselineConfig(**payload["settings"])
    have = settings.to_dict(text)
    _same_run(have, payload["want"], worker_code)
    with start_run(folder, have, force=True, results=BASELINE_RESULTS):
        try:
            result = train_baseline(text, settings, threads=1)
        except BaselineDiverged as err:
            raise ValueError(str(err)) from None
        save_baseline(result, folder)


def run_job(payload: dict, text: str, worker_code: str | None = None) -> dict:
    """Train one job (``Job.payload()``) on ``text`` (str) in a temporary folder of this worker;
    return ``{"name", "files": {file name: bytes}}``, or ``{"name", "error": reason}`` when the
    run cannot be made (a bad value, a diverged run, another charrnn: ``worker_code``, for
    tests, is the training code hash this worker claims instead of its own)."""
    try:
        scratch = get_worker().local_directory  # Dask removes it when the worker goes
    except ValueError:  # not on a worker
        scratch = None
    with tempfile.TemporaryDirectory(prefix="charrnn-job-", dir=scratch) as tmp, \
            threadpool_limits(limits=1, user_api="blas"):
        folder = Path(tmp) / payload["name"]
        try:
            train = _train_vanilla if payload["kind"] == "vanilla" else _train_gated
            train(payload, text, folder, worker_code)
        except (ValueError, TrainingDiverged) as err:
            return {"name": payload["name"], "error": str(err)}
        files = {p.name: p.read_bytes() for p in sorted(folder.iterdir())
                 if p.is_file() and not p.name.startswith(".")}
    return {"name": payload["name"], "files": files}


def _hold(text: str) -> str:  # the task that holds the text on the cluster
    return text


def dask_setup(worker) -> None:
    """Dask preload of the local workers: a terminal's Ctrl-C reaches them too, but stopping is
    the client's (it cancels the jobs and closes the cluster)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# ---------------------------------------------------------------------- on the client
@contextlib.contextmanager
def open_client(workers: int | None = None, scheduler: str | None = None, note=None):
    """A Dask ``Client``: of the scheduler at ``scheduler`` (``tcp://HOST:PORT``), else of a
    ``LocalCluster`` started here with ``workers`` processes (default: one per core) of one
    thread each. ``note(line)`` gets the dashboard's address when bokeh is importable. Raises
    ``ValueError`` for a bad ``workers`` or address, or a scheduler not reached within
    :data:`CONNECT_TIMEOUT` seconds."""
    dashboard = importlib.util.find_spec("bokeh") is not None
    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT}s")
        except (OSError, TimeoutError):
            raise ValueError(f"cannot reach the Dask scheduler at {scheduler} within "
                             f"{CONNECT_TIMEOUT} s; start it (dask scheduler), or leave out "
                             "--scheduler to use this machine's cores") from None
        except (ValueError, TypeError) as err:
            raise ValueError(f"--scheduler {scheduler!r} is not a scheduler address such as "
                             f"tcp://HOST:8786 ({err})") from None
    else:
        n = len(os.sched_getaffinity(0)) if workers is None else check_positive_int("--workers",
                                                                                   workers)
        # Dask's default environment also sets MALLOC_TRIM_THRESHOLD_=65536, which makes the
        # validation's large temporary arrays about 40 % slower; its profiler samples every 10 ms
        with dask.config.set({"distributed.nanny.pre-spawn-environ": BLAS_ENV,
                              "distributed.worker.profile.enabled": False}):
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                   dashboard_address=":0",  # any free port
                                   silence_logs=logging.CRITICAL, preload=[__name__])
        client = Client(cluster)
    try:
        if dashboard and note is not None:
            note(f"Dask dashboard: {client.dashboard_link}")
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _outcome(fut, out: Path, job: Job) -> str | None:
    """Install a finished job's run; its failure's reason, or None."""
    if fut.status == "error":
        err = fut.exception()
        return f"{type(err).__name__}: {err}"
    if fut.status != "finished":
        return f"the job was {fut.status} by the scheduler"
    result = fut.result()
    if result.get("error"):
        return result["error"]
    try:
        with acquire(out / job.name):  # a run folder has one writer: a local run may hold it
            install(out, job.name, result["files"])
    except ValueError as err:
        return str(err)
    return None


def _counts(client, pending) -> tuple[int, int]:
    """``(running, workers)``: jobs of ``pending`` that run (one per worker thread), workers."""
    with contextlib.suppress(OSError, TimeoutError):
        threads = client.nthreads()
        return min(len(pending), sum(threads.values())), len(threads)
    return 0, 0


def _submit_and_collect(client, todo: list[Job], texts: dict, out: Path, total: int,
                        progress: bool, worker_code) -> list[tuple[str, Path, str]]:
    held = {nl: client.submit(_hold, t, key=f"charrnn-text-{nl}-{uuid.uuid4().hex}")
            for nl, t in texts.items()}
    futures = {client.submit(run_job, j.payload(), held[j.settings.get("newline", "keep")],
                             worker_code, key=f"charrnn-{j.name}-{uuid.uuid4().hex[:8]}"): j
               for j in todo}
    pending, failed, stop = set(futures), [], []
    bar = tqdm(total=total, initial=total - len(todo), unit="run", desc="sweep",
               disable=not progress)

    def interrupt(signum, frame):  # Ctrl-C: stop between two waits; a second one at once
        stop.append(signum)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    with contextlib.suppress(ValueError):  # not in the main thread: KeyboardInterrupt as usual
        previous = signal.signal(signal.SIGINT, interrupt)
    try:
        while pending and not stop:
            try:
                done = wait(pending, timeout=1, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                done = set()
            for fut in done:
                pending.discard(fut)
                job = futures.pop(fut)
                reason = _outcome(fut, out, job)
                fut.release()
                if reason:
                    failed.append((job.name, out / job.name, reason))
                    if progress:
                        bar.write(f"charrnn: {job.name} failed: {reason}")
                bar.update(1)
            running, workers = _counts(client, pending)
            bar.set_postfix(running=running, failed=len(failed), workers=workers)
        if stop:
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        client.cancel(list(pending), force=True)
        raise SweepInterrupted(out, total - len(pending) - len(failed), total) from None
    finally:
        bar.close()
        if signal.getsignal(signal.SIGINT) is interrupt:
            signal.signal(signal.SIGINT, previous)
    return failed


def run_sweep(jobs: list[Job], texts: dict, out, workers: int | None = None,
              scheduler: str | None = None, client=None, progress: bool = False, note=None,
              worker_code: str | None = None) -> SweepOutcome:
    """Train the ``jobs`` of :func:`charrnn.studies.sweep.plan` (on ``texts``) into ``out/NAME/``
    on Dask (``client``, else :func:`open_client` of ``workers`` or ``scheduler``, started only
    when some run is missing), reusing finished runs; then write ``out/results.csv`` and
    ``results.json`` (:mod:`charrnn.studies.sweep_results`). ``progress``: a tqdm bar over the
    jobs. A failed job does not stop the others (see :class:`SweepOutcome`). Raises
    ``ValueError`` when ``out`` is not a folder or another process holds it, or as
    :func:`open_client`; :class:`SweepInterrupted` on Ctrl-C, after stopping the jobs."""
    out = check_folder(out)
    with acquire(out):
        remove_temporaries(out)
        todo = [j for j in jobs if not finished(out / j.name, j.want)]
        failed = []
        if todo:
            with contextlib.nullcontext(client) if client is not None \
                    else open_client(workers, scheduler, note) as c:
                failed = _submit_and_collect(c, todo, texts, out, len(jobs), progress,
                                             worker_code)
        rows = [result_row(j, out / j.name) for j in jobs if finished(out / j.name, j.want)]
        write_results(out, rows)
    return SweepOutcome(rows, failed, len(todo) - len(failed), len(jobs) - len(todo))
