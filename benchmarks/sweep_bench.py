"""Sweep benchmark (issue 16): twelve equal jobs on 1 and on 2 local Dask workers, side by side in
one run, and the runner's own cost per job.

The jobs are one vanilla run (m = 32, ``--chars`` training characters, two validations on the
held-out last 1/20) with seeds 1..12: equal work. ``alone`` is the same run trained in this
process by the job function itself (:func:`charrnn.studies.cluster.run_job`: train in a temporary
folder, read its files), the median of three after one run that loads the compiled engine. For
1 and 2 workers a fresh ``LocalCluster`` is started (``start``), the sweep runs (``jobs``: submit,
train, return the files, write the run folders and results) and the cluster is closed (``total``
counts all three).

* speed-up = jobs time on 1 worker / jobs time on 2 workers (target >= 1.8 on two cores);
* runner cost per job = jobs time on 1 worker / 12 - alone (target <= 1 s); with the cluster's
  start and close spread over the jobs too: total / 12 - alone.

    .venv/bin/python benchmarks/sweep_bench.py [--data PATH] [--chars 1000000] [--jobs 12] [--json PATH]

Run it on an otherwise idle machine: it measures wall time (and says how much CPU time other
processes took while the jobs ran).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def busy_cpu_s() -> float:
    """CPU seconds the whole machine spent busy since boot (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """CPU seconds of this process and its living children (the local workers)."""
    import psutil  # a dependency of distributed

    procs = [psutil.Process(), *psutil.Process().children(recursive=True)]
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system
    return total


def measure(data, chars: int, n_jobs: int, m: int = 32) -> dict:
    """The timings (seconds) described in the module docstring."""
    from charrnn.studies.cluster import open_client, run_job, run_sweep
    from charrnn.studies.sweep import load_spec, plan

    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
        spec = Path(tmp) / "bench.yaml"
        spec.write_text(json.dumps({"chars": chars, "n_evals": 2, "base": {"m": m},
                                    "seeds": list(range(1, n_jobs + 1))}))
        jobs, texts = plan(load_spec(spec), data)
        payload, text = jobs[0].payload(), texts["keep"]
        run_job(payload, text)  # loads the compiled engine
        alone = []
        for _ in range(3):
            t0 = time.perf_counter()
            run_job(payload, text)
            alone.append(time.perf_counter() - t0)
        res = {"jobs": n_jobs, "chars": chars, "m": m, "n_updates": jobs[0].want["n_updates"],
               "alone_s": sorted(alone)[1], "cpus": len(os.sched_getaffinity(0)),
               "load_avg": os.getloadavg()[0]}
        for n in (1, 2):
            print(f"sweep on {n} worker{'s' if n > 1 else ''} ...", file=sys.stderr)
            t0 = time.perf_counter()
            with open_client(workers=n) as client:
                t1, busy, own = time.perf_counter(), busy_cpu_s(), own_cpu_s()
                outcome = run_sweep(jobs, texts, Path(tmp) / f"w{n}", client=client)
                t2, others = time.perf_counter(), busy_cpu_s() - busy - (own_cpu_s() - own)
            t3 = time.perf_counter()
            if outcome.trained != n_jobs:
                raise RuntimeError(f"{n} workers trained {outcome.trained} of {n_jobs} runs: "
                                   f"{outcome.failed}")
            res[f"w{n}"] = {"start_s": t1 - t0, "jobs_s": t2 - t1, "total_s": t3 - t0,
                            "others_cpu_s": max(0.0, others)}
    w1, w2 = res["w1"], res["w2"]
    res["speedup_jobs"] = w1["jobs_s"] / w2["jobs_s"]
    res["speedup_total"] = w1["total_s"] / w2["total_s"]
    res["cost_per_job_s"] = w1["jobs_s"] / n_jobs - res["alone_s"]
    res["cost_per_job_with_start_s"] = w1["total_s"] / n_jobs - res["alone_s"]
    return res


def format_report(r: dict) -> str:
    n = r["jobs"]
    lines = [f"{n} equal jobs: vanilla m = {r['m']}, {r['chars']:,} characters "
             f"({r['n_updates']:,} updates) each; {r['cpus']} CPUs, load average "
             f"{r['load_avg']:.2f} before",
             f"  alone (run_job in this process, median of 3): {r['alone_s']:.2f} s per run"]
    for k in (1, 2):
        w = r[f"w{k}"]
        lines.append(f"  {k} worker{'s' if k > 1 else ' '}: cluster start {w['start_s']:.1f} s, "
                     f"jobs {w['jobs_s']:.1f} s ({w['jobs_s'] / n:.2f} s per job), total "
                     f"{w['total_s']:.1f} s; other processes used {w['others_cpu_s']:.1f} "
                     "CPU-s meanwhile")
    lines += [f"speed-up 2 vs 1 workers: {r['speedup_jobs']:.2f} (jobs), "
              f"{r['speedup_total']:.2f} (with start and close)   target >= 1.8",
              f"runner cost per job: {r['cost_per_job_s']:+.2f} s (jobs), "
              f"{r['cost_per_job_with_start_s']:+.2f} s (with start and close)   target <= 1 s"]
    return "\n".join(lines)


def main(argv=None) -> int:
    from charrnn.util.files import write_json
    from charrnn.util.paths import default_data_path

    p = argparse.ArgumentParser(prog="benchmarks/sweep_bench.py",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=None, help="text to train on (default as for train)")
    p.add_argument("--chars", type=int, default=1_000_000, help="training characters per job")
    p.add_argument("--jobs", type=int, default=12, help="equal jobs (seeds 1..JOBS)")
    p.add_argument("--json", metavar="PATH", help="also write the timings as JSON")
    a = p.parse_args(argv)
    try:
        r = measure(a.data or default_data_path(), a.chars, a.jobs)
    except ValueError as err:
        p.exit(2, f"sweep_bench: error: {err}\n")
    print(format_report(r))
    if a.json:
        write_json(a.json, r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
