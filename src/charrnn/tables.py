"""Markdown and HTML snippets for the notebooks and the report (no computation here)."""

from __future__ import annotations

import html

import numpy as np

__all__ = ["gradcheck_html", "sample_html", "seeds_markdown", "bench_markdown", "fmt"]


def fmt(x: float, digits: int = 1) -> str:
    """A small number in short scientific notation, e.g. ``3.1e‑14``, with a non-breaking
    hyphen (U+2011) so that a line break never splits it."""
    return "0" if x == 0 else f"{x:.{digits}e}".replace("-", "\u2011")


def gradcheck_html(block: dict) -> str:
    """An HTML table of one :func:`charrnn.gradcheck.check_gradients` result: one row per
    parameter, the PyTorch and the centered-difference comparisons side by side."""
    against = [a for a in ("torch", "numeric") if a in block]
    names = {"torch": "vs PyTorch float64 autograd", "numeric": "vs centered differences"}
    top = "".join(f'<th colspan="3" style="text-align:center">{names[a]}</th>' for a in against)
    sub = "<th>max abs diff</th><th>max rel err</th><th>mean rel err</th>" * len(against)
    rows = []
    for name in block[against[0]]:
        r = [block[a][name] for a in against]
        cells = "".join(f"<td>{fmt(x['max_abs_diff'])}</td><td>{fmt(x['max_rel_err'])}</td>"
                        f"<td>{fmt(x['mean_rel_err'])}</td>" for x in r)
        ok = "yes" if all(x["passed"] for x in r) else "<b>no</b>"
        rows.append(f"<tr><td><i>{name}</i></td><td>{'×'.join(map(str, r[0]['shape']))}</td>"
                    f"{cells}<td>{ok}</td></tr>")
    return ('<table class="gradcheck"><thead><tr><th rowspan="2">parameter</th>'
            f'<th rowspan="2">shape</th>{top}<th rowspan="2">passed</th></tr><tr>{sub}</tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table>')


def sample_html(text: str, title: str | None = None) -> str:
    """A sample as an escaped, wrapped ``<pre>`` block (MathJax and Markdown leave it alone)."""
    head = f"<p><b>{html.escape(title)}</b></p>" if title else ""
    return f'{head}<pre class="sample">{html.escape(text)}</pre>'


def seeds_markdown(runs: list[dict]) -> str:
    """Best and final smooth loss per seed, with mean and (sample) std over seeds."""
    lines = ["| seed | best smooth loss | at update | final smooth loss | updates/s |",
             "|---:|---:|---:|---:|---:|"]
    for r in runs:
        m = r["metrics"]
        lines.append(f"| {m['seed']} | {m['best_smooth_loss']:.4f} | {m['best_update']:,} | "
                     f"{m['final_smooth_loss']:.4f} | {m['updates_per_s']:,.0f} |")
    if len(runs) > 1:
        best = np.array([r["metrics"]["best_smooth_loss"] for r in runs])
        final = np.array([r["metrics"]["final_smooth_loss"] for r in runs])
        lines.append(f"| mean ± std | {best.mean():.4f} ± {best.std(ddof=1):.4f} | | "
                     f"{final.mean():.4f} ± {final.std(ddof=1):.4f} | |")
    return "\n".join(lines)


BENCH_NAMES = {"classic": "classic per-step loop",
               "numpy": "NumPy reference",
               "numba": "numba engine (default)",
               "torch64": "PyTorch nn.RNN, float64",
               "torch32": "PyTorch nn.RNN, float32"}


def bench_markdown(bench: dict) -> str:
    """The benchmark table of :func:`charrnn.bench.run_benchmark` as Markdown, with the machine."""
    lines = ["| implementation | updates/s | chars/s | × classic | 150k updates | 1,000 chars "
             "sampled | loss diff vs NumPy |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in bench["results"].items():
        ratio = f"{r['ratio_to_classic']:.1f}" if r.get("ratio_to_classic") else "–"
        diff = r.get("max_abs_loss_diff_vs_numpy")
        agree = (fmt(diff) if diff is not None else "–") + ("" if r["agrees"] else " (**no**)")
        lines.append(f"| {BENCH_NAMES.get(name, name)} | {r['updates_per_s']:,.0f} | "
                     f"{r['chars_per_s']:,.0f} | {ratio} | {r['projected_150k_s']:,.0f} s | "
                     f"{r['sample_1000_s'] * 1e3:.0f} ms | {agree} |")
    m, st = bench["machine"], bench["settings"]
    comp = bench["results"].get("numba", {}).get("compile_s")
    lines.append("")
    lines.append(f"Machine: {m['cpu']}, {m['cores']} cores; {m['threads']}. m = {st['m']}, "
                 f"seq_length = {st['seq_length']}" + (f", K = {st['K']}" if "K" in st else "")
                 + f", float64 unless stated. Median of {st['reps']} repetitions of "
                 f"{st['n_updates']:,} updates; the last column is the largest difference of the "
                 f"first {st['n_check']} losses from the NumPy reference's, checked before timing."
                 + (f" numba compilation (or loading its disk cache) took {comp:.1f} s, outside "
                    "the timings." if comp is not None else ""))
    return "\n".join(lines)
